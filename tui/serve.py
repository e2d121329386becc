"""`syscall-lab serve`: the lab in the browser, for a class, through textual-serve.

Each browser tab is one websocket, one `python -m tui.web_session` process (one Textual app,
one guest), started with an argument list (never a shell), in its own empty directory that
is removed when the tab closes. The page's query string (`/?lesson=entry-paths`) travels to
the websocket inside its path (textual.js appends its own `?width=..&height=..` to the
websocket address, so the page's query cannot ride there) and is checked by
tui.web_session.choose when the session starts: a bad name opens the landing screen with a
one-line notice.

Limits for a shared machine: at most --max-sessions tabs at once (then a polite page),
a tab without a key for --idle minutes is closed, and each session process gets
--session-cpu minutes of CPU and --session-memory of address space (setrlimit), so a
runaway guest ends its own tab only.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
import resource
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

import aiohttp_jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from tui import web_session

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


@dataclass
class Limits:
    max_sessions: int = 40
    idle_minutes: float = 30
    cpu_minutes: float = 20
    memory: int = 4 << 30  # address space, not resident memory: Python and Unicorn reserve
    run_timeout: float = 30  # seconds one key's run may take (tui.web_session.RunLimits)
    run_max_insns: int = 100_000_000  # the guest instructions one key's run may execute


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


# -- the page's query, carried in the websocket's path -------------------------------------------
def encode_query(query_string: str) -> str:
    return base64.urlsafe_b64encode(query_string.encode()).decode().rstrip("=")


def decode_query(token: str) -> list[tuple[str, str]] | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return parse_qsl(raw, keep_blank_values=True)


def choice_of(token: str | None) -> web_session.Choice:
    if not token:
        return web_session.Choice("landing")
    query = decode_query(token)
    if query is None:
        return web_session.Choice("landing", notice="the address did not read; pick below")
    return web_session.choose(query)


def session_argv(choice: web_session.Choice, limits: Limits) -> list[str]:
    return [sys.executable, "-m", "tui.web_session", *choice.argv(),
            "--timeout", f"{limits.run_timeout:g}", "--max-insns", str(limits.run_max_insns)]


# -- one tab's process -------------------------------------------------------------------------
class SessionService(AppService):
    """textual-serve's app process, started from an argument list in the tab's directory,
    under the session limits; it remembers when the student last typed."""

    def __init__(self, argv: list[str], workdir: str, limits: Limits, **kw):
        super().__init__(" ".join(argv), **kw)  # the string is only a label here
        self.argv = argv
        self.workdir = workdir
        self.limits = limits
        self.last_input = time.monotonic()

    async def _open_app_process(self, width: int = 80, height: int = 24):
        env = self._build_environment(width=width, height=height)
        # The tab's process runs elsewhere than the server: it must still find these modules.
        here = str(Path(web_session.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
        # Its temporary files too go in the tab's directory, removed with it whatever way
        # the session ends.
        env["TMPDIR"] = self.workdir
        cpu = max(1, int(self.limits.cpu_minutes * 60))
        memory = self.limits.memory

        def limit() -> None:  # in the child, before exec
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, cwd=self.workdir, preexec_fn=limit)
        self._stdin = process.stdin
        return process

    async def send_bytes(self, data: bytes) -> bool:
        self.last_input = time.monotonic()
        return await super().send_bytes(data)

    async def run(self) -> None:
        await super().run()
        # The app ended (q, a crash, a limit): the page shows "Session ended", not a
        # frozen screen.
        await self.remote_close()

    async def stop(self) -> None:
        process = self._process
        try:
            # The app answers "quit" and exits, unless a guest holds the CPU in a free run
            # (a run ends only at Esc or a limit) or the app has not started yet.
            await asyncio.wait_for(super().stop(), 10)
            if process is not None:
                await asyncio.wait_for(process.wait(), 10)
        except (asyncio.TimeoutError, ProcessLookupError):
            pass
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()


POLITE_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>syscall-lab: the class is full</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>The lab is full right now</h1>
<p>This server runs at most {n} sessions at once, and all of them are open.
Please try again in a minute, or ask your instructor.</p>
</body></html>
"""


class LabServer(Server):
    def __init__(self, host: str, port: int, limits: Limits):
        super().__init__("syscall-lab", host=host, port=port, title="syscall-lab")
        self.limits = limits
        self.sessions: set[SessionService] = set()
        self.workroot = ""

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.router.add_get("/ws/open/{query}", self.handle_websocket)
        return app

    async def on_startup(self, app: web.Application) -> None:
        self.workroot = tempfile.mkdtemp(prefix="syscall-lab-serve-")
        lim = self.limits
        # 0.0.0.0 and :: are every address: students open the machine's name instead.
        where = socket.gethostname() if self.host in ("0.0.0.0", "::") else self.host
        where = f"[{where}]" if ":" in where else where
        self.console.print(
            f"syscall-lab serve: http://{where}:{self.port}/ (students open that page; "
            f"/?lesson=NAME, /?exercise=NAME, /?program=NAME, /?demo open one directly)\n"
            f"limits: {lim.max_sessions} sessions, idle {lim.idle_minutes:g} min, "
            f"{lim.cpu_minutes:g} min of CPU and {lim.memory >> 20} MiB of address space "
            f"per session, {lim.run_timeout:g} s and {lim.run_max_insns} instructions per "
            "run\nCtrl+C stops the server", highlight=False, markup=False, soft_wrap=True)

    async def on_shutdown(self, app: web.Application) -> None:
        for service in list(self.sessions):
            await service.stop()
        shutil.rmtree(self.workroot, ignore_errors=True)

    def full(self) -> bool:
        return len(self.sessions) >= self.limits.max_sessions

    def polite(self) -> web.Response:
        return web.Response(status=503, content_type="text/html",
                            text=POLITE_PAGE.format(n=self.limits.max_sessions),
                            headers={"Retry-After": "60"})

    async def handle_index(self, request: web.Request) -> web.Response:  # type: ignore[override]
        if self.full():
            return self.polite()
        # Addresses as the browser reached us (not the bound address: 0.0.0.0 is no
        # address a browser can open).
        scheme = "wss" if request.secure else "ws"
        base = f"{request.scheme}://{request.host}"
        ws = f"{scheme}://{request.host}/ws"
        if request.query_string:
            ws += f"/open/{encode_query(request.query_string)}"
        font_size = request.query.get("fontsize", "16")
        context = {
            "font_size": int(font_size) if font_size.isdigit() else 16,
            "app_websocket_url": ws,
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": "syscall-lab"},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        if self.full():
            raise web.HTTPServiceUnavailable(text="the lab is full right now")
        choice = choice_of(request.match_info.get("query"))
        width = _int(request.query.get("width", ""), 80)
        height = _int(request.query.get("height", ""), 24)
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        workdir = tempfile.mkdtemp(prefix="tab-", dir=self.workroot)
        service = SessionService(session_argv(choice, self.limits), workdir, self.limits,
                                 write_bytes=websocket.send_bytes,
                                 write_str=websocket.send_str, close=websocket.close,
                                 download_manager=self.download_manager)
        self.sessions.add(service)
        idle = asyncio.create_task(self._close_when_idle(service, websocket))
        try:
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            pass
        finally:
            idle.cancel()
            await service.stop()
            await websocket.close()
            self.sessions.discard(service)
            shutil.rmtree(workdir, ignore_errors=True)
        return websocket

    async def _close_when_idle(self, service: SessionService,
                               websocket: web.WebSocketResponse) -> None:
        idle = self.limits.idle_minutes * 60
        while True:
            left = service.last_input + idle - time.monotonic()
            if left <= 0:
                await websocket.close()  # the page offers "Restart"
                return
            await asyncio.sleep(left)


def _int(text: str, default: int) -> int:
    return int(text) if text.isdigit() and 0 < int(text) < 1000 else default


def cmd_serve(args) -> int:
    from tui.cli import UsageError

    if args.port > 65535:
        raise UsageError(f"--port {args.port}: a TCP port is at most 65535")
    host = args.host or "127.0.0.1"
    if args.host and not is_loopback(host):
        print(f"syscall-lab serve: warning: listening on {host}: anyone who can reach this "
              "machine can open sessions here (each runs guest code on it)", file=sys.stderr)
    limits = Limits(max_sessions=args.max_sessions, idle_minutes=args.idle,
                    cpu_minutes=args.session_cpu, memory=args.session_memory,
                    run_timeout=args.timeout, run_max_insns=args.max_insns)
    server = LabServer(host, args.port, limits)
    try:
        server.serve()
    except OSError as e:
        print(f"syscall-lab: cannot listen on {host}:{args.port}: {e.strerror or e}",
              file=sys.stderr)
        return 2
    return 0

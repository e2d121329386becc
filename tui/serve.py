"""`syscall-lab serve`: the lab in the browser, for a class, through textual-serve.

Each browser tab is one websocket, one `python -m tui.web_session` process (one Textual app,
one guest), started with an argument list (never a shell), in its own empty directory that
is removed when the tab closes. The page's query string (`/?lesson=entry-paths`) travels to
the websocket inside its path (textual.js appends its own `?width=..&height=..` to the
websocket address, so the page's query cannot ride there) and is checked by
tui.web_session.choose when the session starts: a bad name opens the landing screen with a
one-line notice.

With --workdir DIR, a student's files outlive the tab: the page sets a random cookie
(HttpOnly, SameSite=Strict), and the tabs that bring it back run in DIR/student-HASH, HASH
derived from the token (the directory's name is not the token; the token is checked to be
exactly what the server makes, never taken as a path). A reload thus reopens an exercise's
NAME.s with its edits, saved when the old tab's app quits; the new tab waits for that.
Without --workdir, or without the cookie, the tab's directory is removed with it.

Limits for a shared machine: at most --max-sessions tabs at once (then a polite page),
a tab without a key for --idle minutes is closed, and each session process gets
--session-cpu minutes of CPU and --session-memory of address space (setrlimit), so a
runaway guest ends its own tab only.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import os
import re
import resource
import secrets
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
COOKIE = "syscall-lab-student"
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32), exactly
COOKIE_DAYS = 120  # a term: the browser keeps it across restarts
CLOSING_WAIT = 30  # seconds a new tab waits for the student's last one to save and end


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


def session_argv(choice: web_session.Choice, limits: Limits, kept: bool = False) -> list[str]:
    return [sys.executable, "-m", "tui.web_session", *choice.argv(),
            "--timeout", f"{limits.run_timeout:g}", "--max-insns", str(limits.run_max_insns),
            *(["--kept"] if kept else [])]


# -- a student's directory under --workdir -------------------------------------------------------
def new_token() -> str:
    return secrets.token_urlsafe(32)


def valid_token(value: str | None) -> str | None:
    """The cookie's value if it is one the server could have made, else None."""
    return value if value is not None and TOKEN.fullmatch(value) else None


def student_dir(root: Path, token: str) -> Path:
    """The student's directory: named by a hash of the token, so neither a listing of the
    root nor a log of paths gives a token away, and no client text becomes a path."""
    if not TOKEN.fullmatch(token):  # callers pass valid_token's answer; never a path
        raise ValueError("not a student token")
    return root / ("student-" + hashlib.sha256(token.encode()).hexdigest()[:32])


# -- one tab's process -------------------------------------------------------------------------
class SessionService(AppService):
    """textual-serve's app process, started from an argument list in the tab's directory,
    under the session limits; it remembers when the student last typed."""

    def __init__(self, argv: list[str], workdir: str, limits: Limits, tmpdir: str = "",
                 **kw):
        super().__init__(" ".join(argv), **kw)  # the string is only a label here
        self.argv = argv
        self.workdir = workdir
        self.tmpdir = tmpdir or workdir
        self.limits = limits
        self.last_input = time.monotonic()

    async def _open_app_process(self, width: int = 80, height: int = 24):
        env = self._build_environment(width=width, height=height)
        # The tab's process runs elsewhere than the server: it must still find these modules.
        here = str(Path(web_session.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
        # Its temporary files go in the tab's own directory, removed with it whatever way
        # the session ends (not in a student's kept directory).
        env["TMPDIR"] = self.tmpdir
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
    def __init__(self, host: str, port: int, limits: Limits, keep: Path | None = None):
        super().__init__("syscall-lab", host=host, port=port, title="syscall-lab")
        self.limits = limits
        self.keep = keep  # --workdir: the students' directories, kept
        self.sessions: set[SessionService] = set()
        self.workroot = ""
        # a student's tabs still ending (saving): the next tab of theirs waits for them
        self.closing: dict[Path, set[asyncio.Future]] = {}

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.router.add_get("/ws/open/{query}", self.handle_websocket)
        return app

    async def on_startup(self, app: web.Application) -> None:
        self.workroot = tempfile.mkdtemp(prefix="syscall-lab-serve-")
        lim = self.limits
        kept = (f"kept in {self.keep}, one directory per browser" if self.keep
                else "not kept across reloads (--workdir DIR keeps them)")
        # 0.0.0.0 and :: are every address: students open the machine's name instead.
        where = socket.gethostname() if self.host in ("0.0.0.0", "::") else self.host
        where = f"[{where}]" if ":" in where else where
        self.console.print(
            f"syscall-lab serve: http://{where}:{self.port}/ (students open that page; "
            f"/?lesson=NAME, /?exercise=NAME, /?program=NAME, /?demo open one directly)\n"
            f"limits: {lim.max_sessions} sessions, idle {lim.idle_minutes:g} min, "
            f"{lim.cpu_minutes:g} min of CPU and {lim.memory >> 20} MiB of address space "
            f"per session, {lim.run_timeout:g} s and {lim.run_max_insns} instructions per "
            f"run\nsolutions: {kept}\nCtrl+C stops the server", highlight=False,
            markup=False, soft_wrap=True)

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
        response = aiohttp_jinja2.render_template("app_index.html", request, context)
        if self.keep is not None:
            # A new cookie only when the browser brings none that reads: a student keeps
            # theirs, and its lifetime starts again at each visit.
            token = valid_token(request.cookies.get(COOKIE)) or new_token()
            response.set_cookie(COOKIE, token, max_age=COOKIE_DAYS * 86400, path="/",
                                httponly=True, samesite="Strict", secure=request.secure)
        return response

    async def student_home(self, request: web.Request) -> Path | None:
        """The directory this tab's student keeps (made if new), once their previous tabs
        have ended; None without --workdir or without a cookie that reads."""
        if self.keep is None:
            return None
        token = valid_token(request.cookies.get(COOKIE))
        if token is None:
            return None
        home = student_dir(self.keep, token)
        home.mkdir(mode=0o700, exist_ok=True)
        # A reload closes the old tab as the new one opens: the old app saves the editor's
        # text as it quits, and the new one must read the file after that.
        ending = self.closing.get(home)
        if ending:
            await asyncio.wait(list(ending), timeout=CLOSING_WAIT)
        return home

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        if self.full():
            raise web.HTTPServiceUnavailable(text="the lab is full right now")
        choice = choice_of(request.match_info.get("query"))
        width = _int(request.query.get("width", ""), 80)
        height = _int(request.query.get("height", ""), 24)
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        home = await self.student_home(request)
        tabdir = tempfile.mkdtemp(prefix="tab-", dir=self.workroot)
        service = SessionService(session_argv(choice, self.limits, kept=home is not None),
                                 str(home or tabdir), self.limits, tmpdir=tabdir,
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
            ended = asyncio.get_running_loop().create_future()
            if home is not None:
                self.closing.setdefault(home, set()).add(ended)
            try:
                await service.stop()
                await websocket.close()
            finally:
                ended.set_result(None)
                if home is not None:
                    self.closing[home].discard(ended)
                    if not self.closing[home]:
                        del self.closing[home]
                self.sessions.discard(service)
                shutil.rmtree(tabdir, ignore_errors=True)
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
    keep = None
    if args.workdir is not None:
        keep = Path(args.workdir).resolve()
        try:
            keep.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=keep)
            probe.close()
        except OSError as e:
            raise UsageError(f"--workdir {args.workdir}: {e.strerror or e}") from None
    server = LabServer(host, args.port, limits, keep)
    try:
        server.serve()
    except OSError as e:
        print(f"syscall-lab: cannot listen on {host}:{args.port}: {e.strerror or e}",
              file=sys.stderr)
        return 2
    return 0

"""`syscall-lab bench --serve`: a class stepping the demo in the browser, without browsers.

A fresh `syscall-lab serve` on a free loopback port; N websocket clients (what textual.js
does: the page's websocket, keys sent as ["stdin", KEY]) open `/?demo` at once, each keeps
its own copy of the screen (a grid of characters by position, enough for Textual's
output), and once every session has drawn its first screen they all step at once.

What one key's latency is: from sending the key to the first screen update after which the
status line (the top row: "at counted+0xa  syscall", "syscall: phase 2/6", "exited with
status 0") reads differently than before the key and is not the "● running" line, or after
which a "● running" line has come and gone (a run that stops where the status reads the
same). The next key is sent when that is seen: a student who watches each step, without
pausing to read (a harsher load than a class). "first_update_ms" (JSON only) is the time to
the first screen bytes after the key, whatever they draw: under load these are often the
previous key's last animation frames still on their way, so it says little.

Each client presses `t` (to the next transition) K times, and after every third one that
stops at a transition, `s` `s` `S` (two phases forward, one back); at the demo's exit it
turns round with `T` (back to the previous transition) until `T` moves no more.

Memory: VmRSS (and Pss, /proc/PID/smaps_rollup: shared pages split among their users) of
the server and of its session processes (/proc/PID/task/*/children), read while every
session is open, after stepping. The same run with 1 session comes first, as the baseline.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import math
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 100, 32  # a browser tab's terminal, roughly
KEY_WAIT = 60.0  # seconds before a key counts as unanswered
START_WAIT = 120.0  # seconds for the server, then for every session's first screen
BUSY = "● running"


# -- a screen good enough to read Textual's output -----------------------------------------------
CSI = re.compile(r"\x1b\[([0-9;?<>=$]*)[ -/]*([@-~])")
OTHER_ESCAPE = re.compile(r"\x1b[PX^_].*?\x1b\\|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
                          r"|\x1b[()][0-9A-Za-z]|\x1b[=>78NMDEc]", re.S)


class Screen:
    """Characters by position: Textual draws each run of text after a cursor move (CSI
    row;col H), so colours and modes can be skipped."""

    def __init__(self, width: int, height: int):
        from rich.cells import get_character_cell_size

        self.cell = get_character_cell_size
        self.width, self.height = width, height
        self.rows = [[" "] * width for _ in range(height)]
        self.y = self.x = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.pending = ""  # an escape sequence split across two messages

    def feed(self, data: bytes) -> None:
        text = self.pending + self.decoder.decode(data)
        self.pending = ""
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c == "\x1b":
                m = CSI.match(text, i) or OTHER_ESCAPE.match(text, i)
                if m is None:
                    if n - i < 64:  # the rest of it comes with the next message
                        self.pending = text[i:]
                        return
                    i += 1  # a sequence this screen does not know: skip its ESC
                    continue
                if m.re is CSI:
                    self._csi(m.group(1), m.group(2))
                i = m.end()
                continue
            if c == "\n":
                self.y, self.x = min(self.y + 1, self.height - 1), 0
            elif c == "\r":
                self.x = 0
            elif c.isprintable():
                if self.y < self.height and self.x < self.width:
                    self.rows[self.y][self.x] = c
                self.x += self.cell(c) or 1
            i += 1

    def _csi(self, params: str, final: str) -> None:
        if final == "H":
            p = [int(v) if v.isdigit() else 1 for v in params.split(";")] if params else [1]
            self.y = max(0, min(p[0] - 1, self.height - 1))
            self.x = max(0, (p[1] if len(p) > 1 else 1) - 1)
        elif final == "J" and params in ("2", "3"):
            self.rows = [[" "] * self.width for _ in range(self.height)]

    def line(self, y: int) -> str:
        return "".join(self.rows[y]).strip()

    @property
    def status(self) -> str:
        return self.line(0)


# -- /proc ---------------------------------------------------------------------------------------
def _field_kib(path: str, name: str) -> int | None:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for task in tasks:
        try:
            out += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:
            pass
    return out


def descendants(pid: int) -> list[int]:
    out, todo = [], children(pid)
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children(p)
    return out


def is_session(pid: int) -> bool:
    try:
        return b"tui.web_session" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False


def memory(server: int, sessions: int) -> dict:
    """The server's and its descendants' memory now, in KiB (a process that went away
    between listing and reading counts as 0)."""
    def rss(p): return _field_kib(f"/proc/{p}/status", "VmRSS") or 0
    def pss(p): return _field_kib(f"/proc/{p}/smaps_rollup", "Pss") or 0

    below = descendants(server)
    session_pids = [p for p in children(server) if is_session(p)]
    others = [p for p in below if p not in session_pids]
    sessions_rss = sum(rss(p) for p in below)  # a session's own children too, if any
    sessions_pss = sum(pss(p) for p in below)
    out = {"server_rss_kib": rss(server), "server_pss_kib": pss(server),
           "session_processes": len(session_pids), "other_processes": len(others),
           "sessions_rss_kib": sessions_rss, "sessions_pss_kib": sessions_pss}
    out["total_rss_kib"] = out["server_rss_kib"] + sessions_rss
    out["total_pss_kib"] = out["server_pss_kib"] + sessions_pss
    n = max(1, sessions)
    out["rss_per_session_kib"] = sessions_rss / n
    out["pss_per_session_kib"] = sessions_pss / n
    return out


# -- one client ----------------------------------------------------------------------------------
@dataclass
class Press:
    key: str
    first_ms: float | None  # first screen bytes after the key
    done_ms: float | None  # the key's effect on the status line (None: unanswered)
    status: str = ""


@dataclass
class Client:
    index: int
    presses: list[Press] = field(default_factory=list)
    first_screen_s: float | None = None
    error: str = ""


async def _until(ws, screen: Screen, done, wait: float) -> tuple[float | None, float | None]:
    """Read messages until done(screen) holds; the times (s, from now) of the first message
    and of the one that made done() true."""
    import aiohttp

    start = time.perf_counter()
    first = None
    try:
        async with asyncio.timeout(wait):
            while True:
                message = await ws.receive()
                if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                    aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
                    raise ConnectionError("the session's websocket closed")
                if message.type != aiohttp.WSMsgType.BINARY:
                    continue
                screen.feed(message.data)
                now = time.perf_counter() - start
                first = now if first is None else first
                if done(screen):
                    return first, now
    except TimeoutError:
        return first, None


async def _press(ws, screen: Screen, key: str) -> Press:
    before = screen.status
    seen_busy = False

    def done(s: Screen) -> bool:
        nonlocal seen_busy
        status = s.status
        if status.startswith(BUSY):
            seen_busy = True
            return False
        return bool(status) and (status != before or seen_busy)

    await ws.send_json(["stdin", key])
    first, finished = await _until(ws, screen, done, KEY_WAIT)
    return Press(key, None if first is None else first * 1000,
                 None if finished is None else finished * 1000, screen.status)


def _ready(s: Screen) -> bool:
    status = s.status
    return bool(status) and not status.startswith(BUSY) and bool(s.line(s.height - 1))


class Gate:
    """Opens when `n` clients have passed it (a client that failed counts as passed)."""

    def __init__(self, n: int):
        self.left = n
        self.event = asyncio.Event()

    def passed(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.event.set()

    async def wait(self) -> None:
        await self.event.wait()


async def _client(index: int, http, base: str, keys: int, shown: Gate, stepped: Gate,
                  measured: asyncio.Event) -> Client:
    me = Client(index)
    t0 = time.perf_counter()
    gates = [shown, stepped]  # the ones this client has yet to pass
    try:
        async with http.get(base + "/?demo") as r:
            page = await r.text()
        m = re.search(r'data-session-websocket-url="([^"]+)"', page)
        if not m:
            raise ConnectionError(f"the page names no session websocket (HTTP {r.status})")
        async with http.ws_connect(f"{m.group(1)}?width={WIDTH}&height={HEIGHT}") as ws:
            screen = Screen(WIDTH, HEIGHT)
            _, drawn = await _until(ws, screen, _ready, START_WAIT)
            if drawn is None:
                raise ConnectionError("no first screen")
            me.first_screen_s = time.perf_counter() - t0
            gates.pop(0).passed()
            await shown.wait()  # all step at once
            forward, last = True, ""
            for i in range(keys):
                press = await _press(ws, screen, "t" if forward else "T")
                me.presses.append(press)
                if press.done_ms is None:
                    continue
                if forward and press.status.startswith("exited"):
                    forward = False  # turn round at the demo's exit
                elif not forward and press.status == last:
                    forward = True  # T moved no more: back at the first transition
                last = press.status
                if i % 3 == 1 and not press.status.startswith("exited"):
                    for key in "ssS":
                        me.presses.append(await _press(ws, screen, key))
            gates.pop(0).passed()
            await measured.wait()  # memory is read with every session still open
    except (OSError, ConnectionError, asyncio.TimeoutError) as e:
        me.error = str(e) or type(e).__name__
        for gate in gates:  # a client that fails holds no one back
            gate.passed()
    return me


# -- one run: a server, N clients ----------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank: a value that was measured."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(values: list[float]) -> dict:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95),
            "max": max(values) if values else None, "n": len(values)}


async def _wait_for_server(http, base: str, proc: subprocess.Popen) -> None:
    import aiohttp

    deadline = time.monotonic() + START_WAIT
    while True:
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"syscall-lab serve exited ({proc.returncode}): {err.strip()}")
        try:
            async with http.get(base + "/static/css/xterm.css") as r:
                await r.read()
                return
        except aiohttp.ClientError:
            if time.monotonic() > deadline:
                raise RuntimeError("syscall-lab serve did not answer") from None
            await asyncio.sleep(0.2)


async def _run(sessions: int, keys: int) -> dict:
    import aiohttp

    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "serve", "--port", str(port),
                             "--max-sessions", str(sessions)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        connector = aiohttp.TCPConnector(limit=0)  # every client at once
        async with aiohttp.ClientSession(connector=connector) as http:
            await _wait_for_server(http, base, proc)
            idle = memory(proc.pid, 0)["server_rss_kib"]
            shown, stepped, measured = Gate(sessions), Gate(sessions), asyncio.Event()
            t0 = time.perf_counter()
            tasks = [asyncio.create_task(_client(i, http, base, keys, shown, stepped,
                                                 measured))
                     for i in range(sessions)]
            await shown.wait()
            t1 = time.perf_counter()
            await stepped.wait()
            stepping_s = time.perf_counter() - t1
            mem = memory(proc.pid, sessions)
            mem["server_idle_rss_kib"] = idle
            measured.set()
            clients = await asyncio.gather(*tasks)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    presses = [p for c in clients for p in c.presses]
    done = [p.done_ms for p in presses if p.done_ms is not None]
    by_key = {k: summary([p.done_ms for p in presses if p.key == k and p.done_ms is not None])
              for k in sorted({p.key for p in presses})}
    return {
        "sessions": sessions, "transition_keys": keys,
        "keys": len(presses), "answered": len(done),
        "clients": [{"index": c.index, "keys": len(c.presses),
                     "answered": sum(p.done_ms is not None for p in c.presses),
                     "first_screen_s": c.first_screen_s, "error": c.error,
                     "presses": [[p.key, p.done_ms, p.status] for p in c.presses]}
                    for c in clients],
        "latency_ms": summary(done),
        "latency_by_key_ms": by_key,
        "first_update_ms": summary([p.first_ms for p in presses if p.first_ms is not None]),
        "first_screen_s": summary([c.first_screen_s for c in clients
                                   if c.first_screen_s is not None]),
        "start_s": t1 - t0, "stepping_s": stepping_s,
        "memory": mem,
    }


def run(sessions: int = 20, keys: int = 10) -> dict:
    load = os.getloadavg()[0]
    baseline = asyncio.run(_run(1, keys))
    loaded = asyncio.run(_run(sessions, keys)) if sessions > 1 else baseline
    p1, pn = baseline["latency_ms"]["p95"], loaded["latency_ms"]["p95"]
    return {"cpus": os.cpu_count(), "load_average_before": load, "screen": [WIDTH, HEIGHT],
            "runs": [baseline, loaded] if sessions > 1 else [baseline],
            "p95_ratio": pn / p1 if p1 and pn else None}


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def report(r: dict) -> str:
    lines = [f"serve load     the demo stepped over websockets at {r['screen'][0]}x"
             f"{r['screen'][1]}: a key's latency is its send to the status line showing "
             "its effect",
             f"{'':15}{'sessions':>8} {'answered':>11} {'p50 ms':>7} {'p95 ms':>7} "
             f"{'max ms':>7} {'all shown s':>11} "
             f"{'MiB/session RSS':>15} {'PSS':>5} {'server MiB':>10}"]
    for x in r["runs"]:
        lat, m = x["latency_ms"], x["memory"]
        start = x["first_screen_s"]["max"]
        lines.append(
            f"{'':15}{x['sessions']:>8} {x['answered']:>5}/{x['keys']:<5} "
            f"{_ms(lat['p50']):>7} {_ms(lat['p95']):>7} {_ms(lat['max']):>7} "
            f"{'-' if start is None else f'{start:.1f}':>11} "
            f"{m['rss_per_session_kib'] / 1024:>15.0f} {m['pss_per_session_kib'] / 1024:>5.0f} "
            f"{m['server_rss_kib'] / 1024:>10.0f}")
        for c in x["clients"]:
            if c["error"] or c["answered"] < c["keys"]:
                lines.append(f"{'':15}session {c['index']}: {c['answered']}/{c['keys']} keys "
                             f"answered{': ' + c['error'] if c['error'] else ''}")
        if m["session_processes"] != x["sessions"]:
            lines.append(f"{'':15}{m['session_processes']} session processes found for "
                         f"{x['sessions']} sessions")
    last = r["runs"][-1]
    if len(r["runs"]) > 1:
        ratio = "-" if r["p95_ratio"] is None else f"{r['p95_ratio']:.1f}x"
        lines.append(f"{'':15}p95 with {last['sessions']} sessions: {ratio} of 1 session's; "
                     f"total {last['memory']['total_rss_kib'] / 1024:.0f} MiB RSS, "
                     f"{last['memory']['total_pss_kib'] / 1024:.0f} MiB PSS; "
                     f"{r['cpus']} CPUs, load average {r['load_average_before']:.2f} before")
    lines.append(f"{'':15}(all shown: until every session drew its first screen; memory: the "
                 "session processes' VmRSS and Pss over the sessions, the server's own VmRSS)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from programs.options import OptionParser, UsageError, positive_int

    p = OptionParser(prog="python -m tui.bench_serve")
    p.add_argument("--sessions", type=positive_int, default=20)
    p.add_argument("--keys", type=positive_int, default=10,
                   help="`t` presses per session (s s S follow every third)")
    p.add_argument("--json", action="store_true")
    try:
        a = p.parse_args(argv)
    except UsageError as e:
        print(f"python -m tui.bench_serve: {e}", file=sys.stderr)
        return 2
    r = run(a.sessions, a.keys)
    print(json.dumps(r, indent=2) if a.json else report(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())

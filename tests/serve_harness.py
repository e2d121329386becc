"""Start `syscall-lab serve` on a free loopback port for a test, and read what a session
draws without a browser (its websocket stream, escape sequences taken out)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tui.bench_serve import free_port

ROOT = Path(__file__).resolve().parent.parent
START_WAIT = 60  # seconds for the server to answer at all (a slow CI machine)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@contextlib.contextmanager
def serving(*options: str):
    """The base URL of a `syscall-lab serve` started with these options; stopped after."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "serve", "--port", str(port),
                             *options], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_WAIT
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited ({proc.returncode}): "
                                     f"{proc.stderr.read() if proc.stderr else ''}")
            try:
                get(base + "/static/css/xterm.css")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("serve did not answer") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


ESCAPE = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[PX^_].*?\x1b\\|\x1b\][^\x07]*\x07",
                    re.S)


def plain(stream: bytes) -> str:
    """What a session wrote, each escape sequence a line break (Textual positions every run
    of text with one), blank runs squeezed: good for finding a phrase drawn on one line."""
    text = ESCAPE.sub(b"\n", stream).decode("utf-8", "replace")
    return re.sub(r"[ \n]*\n[ \n]*", "\n", text)


def websocket_url(page: str) -> str:
    m = re.search(r'data-session-websocket-url="([^"]+)"', page)
    assert m, "the page names no session websocket"
    return m.group(1)


async def _screen_until(url: str, needle: str, wait: float, keep_open, headers: dict,
                        size: str) -> str:
    import asyncio

    import aiohttp

    stream = b""
    async with aiohttp.ClientSession() as client:
        async with client.ws_connect(f"{url}?{size}", headers=headers) as ws:
            try:
                async with asyncio.timeout(wait):
                    async for message in ws:
                        if message.type == aiohttp.WSMsgType.BINARY:
                            stream += message.data
                            if needle in plain(stream):
                                break
            except TimeoutError:
                pass
            if keep_open is not None:
                await keep_open()
    return plain(stream)


def session_screen(url: str, needle: str, wait: float = 60, keep_open=None, *,
                   headers: dict | None = None, size: str = "width=80&height=24") -> str:
    """What the session at this websocket draws, read until `needle` shows (or `wait`
    seconds pass: the caller's assertion then says what was drawn instead). keep_open, an
    async function, runs while the session is still open; headers go with the websocket's
    request (a cookie)."""
    import asyncio

    return asyncio.run(_screen_until(url, needle, wait, keep_open, headers or {}, size))

"""`syscall-lab tui --gdb`: the TUI (driven by Textual's Pilot) and the real gdb (batch mode,
a subprocess) step one guest. gdb's batch script meets the test at two FIFOs between
rounds: the test writes the next round's commands to a file, gdb sources it and says when
it is done, so each side acts while the other is still."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from emu.program import load_program
from kernel_model.debugger.session import DebugSession
from kernel_model.system import RunOptions
from tests.conftest import cli
from tui.gdb_run import listen
from tui.gdb_shared import FLUSH, GdbSharedApp
from tui.widgets.panel import Panel

GDB = shutil.which("gdb")
needs_gdb = pytest.mark.skipif(GDB is None, reason="gdb is not installed")
SMALL = (80, 24)
ROUNDS = 8  # rounds of commands gdb's script waits for (unused ones end with gdb)
WAIT = 120  # seconds a rendezvous may take before the test gives up (a hang, not timing)

# Labels for both sides: gdb finds them in the symbol file the stub names, the TUI in the
# assembled program.
SHARED = """\
bits 64
section .data
msg:    db "shared", 10
section .text
global _start
_start:
    mov eax, 1
    mov edi, 1
    lea rsi, [rip + msg]
    mov edx, 7
    syscall
tui_mark:
    nop
    nop
gdb_mark:
    mov eax, 60
    mov edi, 3
    syscall
"""

SPIN = """\
bits 64
section .text
global _start
_start:
    inc rax
    jmp _start
"""


# Reads a line from stdin and writes it back, then exits.
ECHO = """\
bits 64
section .bss
buf:    resb 64
section .text
global _start
_start:
    xor eax, eax
    xor edi, edi
    lea rsi, [rip + buf]
    mov edx, 64
    syscall
    mov edx, eax
    mov eax, 1
    mov edi, 1
    lea rsi, [rip + buf]
    syscall
    mov eax, 60
    xor edi, edi
    syscall
"""


def pilot_test(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        asyncio.run(fn(*args, **kwargs))

    return run


def factory(path: Path):
    prog = load_program(str(path))
    return lambda: DebugSession.create(prog, [path.name], RunOptions(seed=1))


async def in_thread(fn, what: str, gdb: "Gdb"):
    """fn() on a daemon thread (a FIFO's open blocks until gdb opens the other end): a
    hung gdb fails the test instead of holding it, or the interpreter's exit, forever."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def settle(result, error):
        if not done.done():
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(result)

    def target():
        try:
            result, error = fn(), None
        except Exception as e:
            result, error = None, e
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop has closed: the test gave up already
            pass

    threading.Thread(target=target, daemon=True).start()
    try:
        return await asyncio.wait_for(done, WAIT)
    except TimeoutError:
        gdb.kill()
        raise AssertionError(f"gdb did not {what}: {gdb.output()}") from None


class Gdb:
    """gdb -batch against the served port; `run` hands it one round of commands."""

    def __init__(self, port: int, folder: Path):
        folder.mkdir(exist_ok=True)
        self.folder = folder
        self.go = folder / "go"  # the test -> gdb: the round's file is ready
        self.done = folder / "done"  # gdb -> the test: the round ran
        self.values = folder / "values"  # what `value` printed, a line each
        os.mkfifo(self.go)
        os.mkfifo(self.done)
        self.values.write_text("")
        self.round = 0
        args = [GDB, "-batch", "-nx", "-ex", f"target remote 127.0.0.1:{port}"]
        for n in range(ROUNDS):
            args += ["-ex", f"shell read line < {self.go}",
                     "-ex", f"source {folder / f'round{n}.gdb'}"]
        self.out = open(folder / "gdb.out", "w+")
        # Its own process group: killing gdb must take the `shell read` waiting on the fifo
        # with it, or that shell outlives the test.
        self.p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.out,
                                  stderr=subprocess.STDOUT, start_new_session=True)

    @staticmethod
    def value(expr: str) -> str:
        """A command writing EXPR's value (an unsigned number) to the values file: a
        separate process's write, in the file as soon as the command has run."""
        return f'eval "shell echo %lu >> {{values}}", (unsigned long)({expr})'

    def output(self) -> str:
        self.out.flush()
        self.out.seek(0)
        return self.out.read()

    def _hand(self, commands, then_done: bool) -> None:
        lines = [c.replace("{values}", str(self.values)) for c in commands]
        if then_done:
            lines.append(f"shell echo done > {self.done}")
        (self.folder / f"round{self.round}.gdb").write_text("\n".join(lines) + "\n")
        self.round += 1
        with open(self.go, "w") as f:
            f.write("go\n")

    async def run(self, *commands: str) -> list[int]:
        """Run the commands in gdb (a round); the values they printed."""
        before = len(self.values.read_text().split())

        def meet():
            self._hand(commands, True)
            with open(self.done) as f:
                f.read()

        await in_thread(meet, "finish a round", self)
        return [int(v) for v in self.values.read_text().split()[before:]]

    async def finish(self, *commands: str) -> str:
        """The last round: the commands, then `quit`; gdb's whole output."""
        await in_thread(lambda: self._hand([*commands, "quit"], False), "take its last round",
                        self)
        await in_thread(self.p.wait, "quit", self)
        return self.output()

    def kill(self) -> None:
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.p.wait(timeout=30)


def listed(app, addr: int) -> bool:
    """Whether the TUI lists a breakpoint at addr (gdb's are the first process's own:
    `ADDR pid N`)."""
    return any(spec.split()[0] == hex(addr) for spec in app.state.view.breakpoints)


def status(app) -> str:
    return str(app.screen.query_one("#status").visual)


def code(app) -> str:
    return str(app.screen.query_one("#code", Panel).visual)


async def until(pilot, condition, what: str):
    """Let the app take the server thread's messages until `condition()` holds."""
    for _ in range(2000):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"the screen never showed {what}")


async def settle(pilot, app):
    for _ in range(500):
        await pilot.pause(0.02)
        if not app.state.busy:
            break
    await pilot.pause()


def served(tmp_path: Path, source: str) -> tuple[GdbSharedApp, int]:
    path = tmp_path / "prog.s"
    path.write_text(source)
    listener = listen("127.0.0.1", 0)
    return GdbSharedApp(factory(path), listener, program=path.name), \
        listener.getsockname()[1]


@needs_gdb
@pilot_test
async def test_gdb_and_the_tui_step_one_guest(tmp_path):
    app, port = served(tmp_path, SHARED)
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: f"gdb: waiting on 127.0.0.1:{port}" in status(app),
                    "the port gdb is waited on")
        gdb = Gdb(port, tmp_path)
        try:
            # gdb steps: the TUI's view follows it
            start = app.state.view.pc
            [pc] = await gdb.run("stepi", "stepi", "stepi", gdb.value("$pc"))
            assert pc > start
            await until(pilot, lambda: app.state.view.pc == pc, "gdb's pc")
            await until(pilot, lambda: f"▶ {pc:016x}" in code(app), "the code at gdb's pc")
            assert "gdb: connected" in status(app)

            # the TUI steps: gdb keeps its cached registers until it flushes them, and
            # the status line says so
            await pilot.press("n")
            await settle(pilot, app)
            tui_pc = app.state.view.pc
            assert tui_pc != pc
            assert FLUSH in status(app)
            stale, fresh = await gdb.run(gdb.value("$pc"), FLUSH, gdb.value("$pc"))
            assert stale == pc and fresh == tui_pc
            await until(pilot, lambda: "gdb: connected" in status(app),
                        "gdb caught up")
            await pilot.press("r")  # a restart would pull the guest from under gdb
            await pilot.pause()
            assert app.state.view.pc == tui_pc
            assert any("detach it" in str(n.message) for n in app._notifications)

            # a breakpoint of gdb's is the session's: the TUI lists and marks it
            app.action_break_at("tui_mark")  # the TUI's own, out of gdb's sight
            gdb_mark = app.session.resolve("gdb_mark")
            tui_mark = app.session.resolve("tui_mark")
            assert gdb_mark is not None and tui_mark is not None
            await gdb.run("set breakpoint always-inserted on", "break gdb_mark")
            await until(pilot, lambda: listed(app, gdb_mark),
                        "gdb's breakpoint")
            assert re.search(rf"●.*{gdb_mark:016x}", code(app)), code(app)
            table = "\n".join(app.console_command("info breakpoints"))
            assert f"{gdb_mark:#018x}" in table and "tui_mark" in table, table

            # gdb continues: the TUI's breakpoint does not stop it, gdb's does; the guest's
            # output reaches the TUI's output pane
            [at] = await gdb.run("continue", gdb.value("$pc"))
            assert at == gdb_mark
            await until(pilot, lambda: app.state.view.pc == gdb_mark, "gdb's stop")
            assert "shared" in "".join(c.text for c in app.state.view.output)
            [status_code] = await gdb.run("continue", gdb.value("$_exitcode"))
            assert status_code == 3
            await until(pilot, lambda: app.state.view.exited, "the guest's exit")
            out = await gdb.finish()
        finally:
            gdb.kill()
    assert "Breakpoint 1, " in out and "gdb_mark" in out, out
    assert "exited with code 03" in out, out
    assert "SIGTRAP" not in out, out  # the TUI's breakpoint never reached gdb


@needs_gdb
@pilot_test
async def test_the_tui_waits_while_gdb_runs_the_guest(tmp_path):
    app, port = served(tmp_path, SPIN)
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: "gdb: waiting" in status(app), "the port")
        gdb = Gdb(port, tmp_path)
        try:
            running = asyncio.ensure_future(gdb.run("continue", gdb.value("$pc")))
            await until(pilot, lambda: "gdb: running" in status(app), "gdb's run")
            await pilot.press("s")  # the TUI's step waits for gdb: it says so
            await pilot.pause()
            assert "gdb: running" in status(app)
            assert any("gdb is running the guest" in str(n.message)
                       for n in app._notifications), list(app._notifications)
            await pilot.press("escape")  # stops gdb's run, as gdb's own Ctrl-C would
            [pc] = await running
            await until(pilot, lambda: "gdb: connected" in status(app), "the stop")
            assert app.state.view.pc == pc
            out = await gdb.finish()
        finally:
            gdb.kill()
    assert "Program received signal SIGINT" in out, out


def test_tui_gdb_bad_addresses():
    r = cli("tui", "--gdb", "0.0.0.0:0", "hello-syscall")
    assert r.returncode == 2
    assert r.stderr.decode().strip().splitlines() == [
        "syscall-lab: error: --gdb 0.0.0.0:0: not a loopback address; add --gdb-listen-any "
        "to listen there (anyone who can connect then controls the guest)"]
    r = cli("tui", "--gdb", "localhost:http", "hello-syscall")
    err = r.stderr.decode()
    assert r.returncode == 2 and "not [HOST:]PORT" in err
    assert len(err.strip().splitlines()) == 1


def test_tui_gdb_needs_a_terminal():
    r = cli("tui", "--gdb", "0", "hello-syscall")
    assert r.returncode == 2 and "needs a terminal" in r.stderr.decode(), r.stderr


@needs_gdb
@pilot_test
async def test_a_gdb_that_goes_away_leaves_the_guest_to_the_tui(tmp_path):
    app, port = served(tmp_path, SHARED)
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: "gdb: waiting" in status(app), "the port")
        first = Gdb(port, tmp_path / "first")
        try:
            gdb_mark = app.session.resolve("gdb_mark")
            [pc] = await first.run("stepi", "set breakpoint always-inserted on",
                                   "break gdb_mark", Gdb.value("$pc"))
            await until(pilot, lambda: listed(app, gdb_mark),
                        "gdb's breakpoint")
        finally:
            first.kill()  # gone without a word: its breakpoint goes with it
        await until(pilot, lambda: "gdb: waiting" in status(app), "gdb gone")
        await until(pilot, lambda: not listed(app, gdb_mark),
                    "gdb's breakpoint removed")
        assert app.state.view.pc == pc
        await pilot.press("c")  # nothing of gdb's stops the TUI's run now
        await settle(pilot, app)
        assert app.state.view.exited
        await pilot.press("T")  # back before the exit: the next gdb finds the guest there
        await settle(pilot, app)
        here = app.state.view.pc
        second = Gdb(port, tmp_path / "second")
        try:
            [seen] = await second.run(Gdb.value("$pc"))
            out = await second.finish()  # gdb's quit kills: the guest stays here
        finally:
            second.kill()
        assert seen == here, out
        await until(pilot, lambda: "gdb: waiting" in status(app), "gdb gone")
        assert app.state.view.pc == here
        await pilot.press("r")  # with no gdb attached the TUI restarts, and serves the new guest
        await settle(pilot, app)
        assert app.state.message == "restarted" and app.stub.s is app.session
        third = Gdb(port, tmp_path / "third")
        try:
            [start] = await third.run(Gdb.value("$pc"))
            await third.finish()
        finally:
            third.kill()
        assert start == app.state.view.pc != here


@needs_gdb
@pilot_test
async def test_gdb_continue_waits_for_the_input_typed_in_the_tui(tmp_path):
    app, port = served(tmp_path, ECHO)
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: "gdb: waiting" in status(app), "the port")
        gdb = Gdb(port, tmp_path)
        try:
            running = asyncio.ensure_future(gdb.run("continue"))
            # the guest blocks in read(0, ...), as under gdbserver: gdb's continue waits
            await until(pilot, lambda: "guest reads stdin" in status(app),
                        "the guest waiting for input")
            assert not running.done()
            await pilot.press("o")  # the output pane's input line
            await pilot.press(*"typed in the TUI")
            await pilot.press("enter")
            await running
            await until(pilot, lambda: app.state.view.exited, "the guest's exit")
            out = await gdb.finish()
        finally:
            gdb.kill()
    assert "exited normally" in out, out
    assert "SIGTRAP" not in out, out
    assert "typed in the TUI\ntyped in the TUI\n" in "".join(
        c.text for c in app.state.view.output)

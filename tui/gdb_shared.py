"""`syscall-lab tui --gdb [HOST:]PORT PROGRAM`: the TUI's DebugSession served to gdb too, so
both step one guest. The gdb server (kernel_model.debugger.gdbstub) runs on a thread of its
own; one lock serializes what either side does to the session (one guest, one position).

What each side learns of the other's moves:
- gdb resumes the guest: the screen shows "gdb: running" (the TUI's stepping keys say gdb
  has the guest; Esc stops it, and gdb then sees SIGINT) and, at the stop, the new position.
- the TUI moves the guest while gdb is at its prompt: the remote protocol in all-stop mode
  has no way to tell gdb, which keeps the registers (and the stack and code memory) it
  cached at its last stop until it resumes or is told to forget them
  (docs/kernel_facts.md §20). The stub always answers with the session's state, so
  `maint flush register-cache` (gdb 13; `flushregs` is its deprecated alias) shows the
  TUI's position; the status line says so until gdb has read the registers again.
- gdb's breakpoints are the session's (the code panel and `info breakpoints` show them),
  but gdb inserts them only while it runs the guest unless `set breakpoint always-inserted
  on`. The TUI's own breakpoints are out of gdb's sight: they do not stop a run gdb began.

Messages from the server thread reach the app by post_message, which never waits (the app
may itself be waiting for the lock a moment).
"""

from __future__ import annotations

import shutil
import sys
import threading
from dataclasses import dataclass, field
from typing import Literal

from textual.message import Message

from kernel_model.debugger.gdbstub.commands import Resume, Stub
from kernel_model.debugger.gdbstub.server import GdbServer
from kernel_model.debugger.stepping import SessionStop
from tui.app import _MOVES, SyscallLabApp, where

# How long a packet gdb sent waits while the TUI runs a command before it is answered with
# an error: gdb gives up on a reply after `remotetimeout` (2 s by default).
PACKET_WAIT = 1.5
# How long the screen waits for the lock before saying gdb has the guest.
SCREEN_WAIT = 0.5
# gdb's word for each resuming packet (the stop's message on the screen).
GDB_WORDS = {"step": "stepi", "cont": "continue", "rstep": "reverse-stepi",
             "rcont": "reverse-continue"}
FLUSH = "maint flush register-cache"
BEHIND = f"gdb: type `{FLUSH}` to see this"
# gdb shows an "E." reply's text in its error ("remote failure reply '...'").
BUSY = b"E.the TUI is running the guest: try again once it has stopped (Esc there stops it)"
Severity = Literal["information", "warning", "error"]
CHANGES = (b"G", b"P", b"M", b"X", b"Z", b"z", b"QCatchSyscalls")


class GdbChanged(Message):
    """Something about gdb changed: a stop (with its view), a run beginning, a connection,
    or a line to show."""

    def __init__(self, view=None, stop=None, what: str = "", note: str = "",
                 severity: Severity = "information", phase: str = ""):
        """phase: "running" when gdb has just resumed the guest, "stopped" at its stop
        (view None if the view could not be made), "" otherwise."""
        super().__init__()
        self.phase = phase
        self.view = view
        self.result = stop  # the SessionStop (`stop` is a Message's method)
        self.what = what
        self.note = note
        self.severity = severity


@dataclass
class GdbLink:
    """What the TUI and the server thread share, besides the session."""

    address: str  # host:port as the status line shows it
    lock: threading.RLock
    connected: bool = False
    running: str = ""  # gdb's word for the command it is running ("" when none)
    behind: bool = False  # the TUI moved the guest since gdb last read its registers
    input_fed: threading.Event = field(default_factory=threading.Event)  # the TUI typed


class SharedStub(Stub):
    """The stub, with every packet and every run under the shared lock."""

    def __init__(self, session, link: GdbLink, post, exec_path=None, log=None):
        super().__init__(session, exec_path=exec_path, log=log)
        self.link = link
        self.post = post
        self.watches: set[tuple[str, int, int]] = set()  # gdb's Z2-Z4: (kind, addr, len)
        # ptrace's signal stops only while a gdb is attached (SharedServer._client): the
        # TUI alone delivers signals as it always does.
        session.trace_signals(False)

    def handle(self, packet: bytes):
        if not self.link.lock.acquire(timeout=PACKET_WAIT):
            self.log(f"gdb's {packet[:12]!r} came while the TUI runs the guest: answered "
                     "with an error (try again when it has stopped)")
            return BUSY
        view = None
        was_behind = self.link.behind
        try:
            reply = super().handle(packet)
            if packet[:1] in (b"g", b"p"):  # gdb has the session's registers again
                self.link.behind = False
            if packet.startswith(CHANGES):
                view = self.s.view()
        finally:
            self.link.lock.release()
        if view is not None or was_behind and not self.link.behind:
            self.post(GdbChanged(view=view))
        if isinstance(reply, Resume):
            return Resume(self._shared_run(reply), reply.what)
        return reply

    def _shared_run(self, resume: Resume):
        def run():
            lock = self.link.lock
            lock.acquire()  # waits for a command the TUI is running
            stop = None
            try:
                self.link.running = GDB_WORDS.get(resume.what, resume.what)
                self.post(GdbChanged(what=resume.what, phase="running"))
                while True:
                    stop = self._run_alone(resume)
                    if getattr(stop, "reason", "") != "input":
                        break
                    # The guest blocks reading stdin, as a process under gdbserver would:
                    # gdb's command goes on once the TUI has typed a line (or closed it).
                    if not self._wait_for_input(resume.what):
                        stop = SessionStop("interrupted", "interrupted while the guest "
                                           "waited for input", getattr(stop, "pc", 0))
                        break
            finally:
                self.link.running = ""
                self.link.behind = False  # the stop reply tells gdb where it is
                try:
                    view = self.s.view()
                except Exception:
                    view = None
                lock.release()
                self.post(GdbChanged(view=view, stop=stop, what=resume.what,
                                     phase="stopped"))
            return stop

        return run

    def _run_alone(self, resume: Resume):
        """resume.run() without the TUI's breakpoints: they would stop gdb's run at an
        address gdb knows nothing of (a SIGTRAP it cannot explain)."""
        mine = {id(b) for b in self.bps.values()}
        hidden = [b for b in self.s.breakpoints if b.enabled and id(b) not in mine]
        for b in hidden:
            b.enabled = False
        try:
            return resume.run()
        finally:
            for b in hidden:
                b.enabled = True

    def _wait_for_input(self, what: str) -> bool:
        """With the lock let go, until the TUI sends the guest input (True) or the run is
        interrupted: gdb's Ctrl-C or the TUI's Esc (False)."""
        self.link.input_fed.clear()
        self.post(GdbChanged(view=self.s.view(), what=what, phase="input"))
        # session.interrupt() sets this event (DebugSession clears it when a command
        # starts): the way to see an interrupt that comes while no command runs.
        interrupted = getattr(self.s, "_interrupt", None)
        self.link.lock.release()
        try:
            while not self.link.input_fed.wait(0.05):
                if interrupted is not None and interrupted.is_set():
                    return False
            return True
        finally:
            self.link.lock.acquire()

    def _watchpoint(self, kind: str, addr: int, length: int, insert: bool) -> bytes:
        reply = super()._watchpoint(kind, addr, length, insert)
        if reply == b"OK":
            (self.watches.add if insert else self.watches.discard)((kind, addr, length))
        return reply

    def forget_client(self) -> None:
        """What a gdb that went away without removing it left in the session (it would
        stop the TUI's runs): its breakpoints, watchpoints and caught syscalls. Under the
        lock."""
        for b in self.bps.values():
            if b in self.s.breakpoints:
                self.s.remove_breakpoint(b)
        self.bps.clear()
        for kind, addr, length in list(self.watches):
            self._watchpoint(kind, addr, length, False)
        self.watches.clear()
        self.s.catch_syscalls(set())

    def stop_reply(self, what: str, stop) -> bytes:
        with self.link.lock:
            return super().stop_reply(what, stop)

    def stop_reply_here(self, *, reason: str = "", signal: int = 5) -> bytes:
        with self.link.lock:
            return super().stop_reply_here(reason=reason, signal=signal)


class SharedServer(GdbServer):
    """The server, saying when a client comes and goes, and able to drop it (the TUI
    quits)."""

    stub: SharedStub

    def __init__(self, stub: SharedStub, listener, log, link: GdbLink, post):
        super().__init__(stub, listener, log)
        self.link = link
        self.post = post
        self.conn = None
        self.closing = False  # the TUI is ending: the session is about to close

    def _client(self, conn):
        self.conn = conn
        with self.link.lock:
            self.stub.s.trace_signals(True)
        self.link.connected = True
        self.link.behind = False
        self.post(GdbChanged())
        try:
            return super()._client(conn)
        finally:
            self.conn = None
            view = None
            with self.link.lock:
                if not self.closing:
                    self.stub.forget_client()
                    self.stub.s.trace_signals(False)
                    view = self.stub.s.view()
            self.link.connected = False
            self.post(GdbChanged(view=view))

    def serve_forever(self) -> None:
        """Clients one after another until the listener closes (the TUI quits): gdb's
        detach, kill or the guest's exit end a client, not the TUI."""
        while not self.closing:
            try:
                why = self.serve()
            except OSError:
                return  # the listener closed
            except Exception as e:  # a bug of ours: said on the screen, not on its stderr
                self.post(GdbChanged(note=f"the gdb server stopped: internal error: "
                                          f"{type(e).__name__}: {e}", severity="error"))
                return
            with self.link.lock:
                self.stub.detached = self.stub.killed = self.stub.over = False
            note = {"detached": "gdb detached: the guest stays here",
                    "killed": "gdb killed the guest: here it stays as it was (r restarts "
                              "it, q quits)",
                    "exited": "gdb saw the guest exit"}.get(why, f"gdb left ({why})")
            self.post(GdbChanged(note=note))

    def close(self) -> None:
        self.closing = True
        try:
            self.listener.close()
        except OSError:
            pass
        conn = self.conn
        if conn is not None:
            try:  # gdb sees the connection close ("Remote connection closed")
                import socket

                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class GdbSharedApp(SyscallLabApp):
    """The stepping TUI with the gdb server on a thread beside it."""

    def __init__(self, factory, listener, *, program: str = "", screenshots=None,
                 warning: str = ""):
        """listener: the socket gdb connects to (tui.gdb_run.listen); warning: a line to
        show at the start (a listener beyond loopback)."""
        super().__init__(factory, program=program, screenshots=screenshots)
        bound = listener.getsockname()
        host = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self.link = GdbLink(address=f"{host}:{bound[1]}", lock=threading.RLock())
        self.listener = listener
        self.exec_tmp: str | None = None  # the symbol file's folder, removed at the end
        self.warning = warning
        self.server: SharedServer | None = None
        self.stub: SharedStub | None = None
        self._told_flush = False  # the long word on `maint flush ...`, once per client
        self._waiting = ""  # the label of a command of the TUI's waiting for the lock

    # -- start and end ------------------------------------------------------------------------
    def on_mount(self) -> None:
        # Textual calls SyscallLabApp.on_mount after this one (every class's handler runs):
        # the session exists once this message has been handled.
        self.call_next(self._start_gdb)

    def _start_gdb(self) -> None:
        from kernel_model.debugger.gdbstub.symfile import exec_file_for

        exec_path, self.exec_tmp = exec_file_for(getattr(self.session, "program", None))
        self.stub = SharedStub(self.session, self.link, self.post_message,
                               exec_path=exec_path, log=self._gdb_log)
        self.server = SharedServer(self.stub, self.listener, self._gdb_log, self.link,
                                   self.post_message)
        threading.Thread(target=self.server.serve_forever, name="gdb-server",
                         daemon=True).start()
        self.show_gdb()
        if self.warning:
            self.notify(self.warning, severity="warning", timeout=10, markup=False)

    def close_gdb(self) -> None:
        """The end: gdb's connection dropped, a run of gdb's stopped, the session closed."""
        if self.server is not None:
            self.server.close()
        session = self.session
        if session is not None:
            if self.link.running:
                session.interrupt()
            got = self.link.lock.acquire(timeout=10)
            try:
                session.close()
            finally:
                if got:
                    self.link.lock.release()
        if self.exec_tmp:
            shutil.rmtree(self.exec_tmp, ignore_errors=True)

    def _gdb_log(self, text: str) -> None:
        # the server's and the stub's lines (stderr is the screen's): a notification
        self.post_message(GdbChanged(note=text))

    # -- the status line ----------------------------------------------------------------------
    def gdb_status(self) -> str:
        link = self.link
        if link.running:
            return "gdb: running"
        if not link.connected:
            return f"gdb: waiting on {link.address}"
        return BEHIND if link.behind else "gdb: connected"

    def show_gdb(self) -> None:
        self.state.gdb = self.gdb_status()
        self.redraw()

    # -- messages from the server thread ------------------------------------------------------
    def on_gdb_changed(self, message: GdbChanged) -> None:
        s = self.state
        if message.note:
            self.notify(message.note, title="gdb", severity=message.severity, timeout=6,
                        markup=False)
        if not self.link.connected:
            self._told_flush = False
        word = GDB_WORDS.get(message.what, message.what)
        if message.phase == "running":
            s.busy = f"gdb's {word}"
        elif message.phase == "input":
            s.busy = f"gdb's {word}: guest reads stdin (o)"
        if message.view is not None:
            if where(message.view) != where(s.view):
                s.moves = next(_MOVES)
            s.view = message.view
        if message.phase == "stopped":
            s.busy = self._waiting  # a command of the TUI's may be waiting for the lock
            stop = message.result
            s.reason = getattr(stop, "reason", "") or "error"
            said = "" if s.view.exited else getattr(stop, "message", "")  # (the exit is)
            s.message = f"(gdb's {word}) {said}".rstrip()
            s.walk_ended = False
        self.show_gdb()

    # -- the TUI's commands, under the lock ---------------------------------------------------
    def run_session(self, command, *args, label: str = "") -> None:
        if self.link.running:
            self.notify(f"gdb is running the guest ({self.link.running}): Esc stops it",
                        severity="warning", markup=False)
            return
        if self.state.busy:
            self.bell()
            return
        # The quick path runs on the screen's thread: only if the lock is free right now
        # (waiting for gdb there would freeze the screen), else a worker waits for it.
        if not args and self.link.lock.acquire(blocking=False):
            try:
                if self.session.quick(command.name):
                    self._finished(*self._call(command, args))
                    return
            finally:
                self.link.lock.release()
        self.state.busy = self._waiting = label or command.label
        self.redraw()
        self._work(command, args)

    def _call(self, command, args: tuple):
        with self.link.lock:
            # The position in history is what gdb's registers come from (a walk through a
            # transition's phases moves the screen, not the registers).
            before = getattr(self.session, "pos", None)
            out = super()._call(command, args)
            if self.link.connected and getattr(self.session, "pos", None) != before:
                self.link.behind = True
            return out

    def _finished(self, stop, view, error: str, was_walking: bool) -> None:
        self._waiting = ""
        super()._finished(stop, view, error, was_walking)
        if self.link.behind and not self._told_flush:
            self._told_flush = True
            self.notify("gdb is not told of the TUI's moves: in gdb, `maint flush "
                        "register-cache` (and `maint flush dcache`) shows this position",
                        title="gdb", timeout=12, markup=False)
        self.show_gdb()

    def _locked(self) -> bool:
        if self.link.lock.acquire(timeout=SCREEN_WAIT):
            return True
        self.notify(f"gdb is running the guest ({self.link.running or 'a command'})",
                    severity="warning", markup=False)
        return False

    def action_break_at(self, spec: str | None) -> None:
        if not spec or not self._locked():
            return
        try:
            super().action_break_at(spec)
        finally:
            self.link.lock.release()

    def on_output_pane_typed(self, message) -> None:
        message.prevent_default()  # SyscallLabApp's handler: run here, under the lock
        if not self._locked():
            return
        try:
            super().on_output_pane_typed(message)
            self.link.input_fed.set()  # a run of gdb's waiting for it goes on
        finally:
            self.link.lock.release()

    def console_command(self, line: str):
        if not self.link.lock.acquire(timeout=SCREEN_WAIT):
            return ["Cannot execute this command while gdb is running the target."]
        try:
            return super().console_command(line)
        finally:
            self.link.lock.release()

    def action_restart(self) -> None:
        if self.link.connected:
            self.notify("gdb is attached: detach it (or quit it) before restarting the "
                        "guest", severity="warning", markup=False)
            return
        if not self._locked():
            return
        try:
            super().action_restart()
            assert self.stub is not None
            self.stub.s = self.session
            self.stub.bps.clear()
        finally:
            self.link.lock.release()
        self.show_gdb()


def cmd_tui_gdb(args) -> int:
    """`syscall-lab tui --gdb [HOST:]PORT [PROGRAM]`."""
    from tui.cli import require_terminal
    from tui.gdb_run import checked_address, listen
    from tui.launch import session_factory

    host, port, warning = checked_address(args)
    factory, name = session_factory(args)
    require_terminal("tui")
    listener = listen(host, port)
    app = GdbSharedApp(factory, listener, program=name, screenshots=args.screenshots,
                       warning=warning)
    try:
        app.run()
    finally:
        app.close_gdb()
    if app.return_code:
        print(f"syscall-lab: the screen closed with an error ({app.return_code})",
              file=sys.stderr)
    return app.return_code or 0

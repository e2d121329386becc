"""Recording a stepping session and replaying it (kernel_model.debugger.recording has the format).

`syscall-lab tui --record FILE PROGRAM` is the stepping TUI that also keeps every stop the
user visits; on quit it walks the same session from the start through every transition and
its phases, and saves both. `syscall-lab run --record FILE PROGRAM` records the transitions
without a screen. `syscall-lab replay FILE` opens the stepping TUI on a recording: the same
keys move between the recorded stops; no guest code runs (the program file need not exist).
"""

from __future__ import annotations

import sys
import time

from tui.app import SyscallLabApp
from tui.cli import UsageError


class ReplayApp(SyscallLabApp):
    """The stepping app over a RecordedSession: every panel draws from the recorded views."""

    def __init__(self, recording, *, path: str = ""):
        from kernel_model.debugger.recording import RecordedSession

        super().__init__(lambda: RecordedSession(recording), program=recording.program)
        self.recording = recording
        self.path = path

    def on_mount(self) -> None:
        # The app's own on_mount runs after this one and makes the session.
        self.call_later(self._announce)

    def _announce(self) -> None:
        n = len(self.recording.views)
        self.sub_title = f"replay of {self.recording.program}  ({self.path}, {n} stops)"
        self.state.reason = "replay"
        self.state.message = (f"replay: {n} recorded stops; s/S step, t/T transitions, "
                              "n over, Home/End; nothing runs")
        self.redraw()

    def _finished(self, stop, view, error: str, was_walking: bool) -> None:
        super()._finished(stop, view, error, was_walking)
        if stop is not None and stop.reason == "replay" and "replay" in stop.message:
            self.notify(stop.message, title="replay", severity="warning", markup=False)


class RecordingApp(SyscallLabApp):
    """The live stepping app, keeping the view of every stop the user lands on."""

    def __init__(self, factory, *, program: str = ""):
        super().__init__(factory, program=program)
        self.visited: list[tuple] = []  # (position, view, reason, message)

    def on_mount(self) -> None:
        self.call_later(self._keep)

    def _keep(self) -> None:
        from kernel_model.debugger.recording import position

        session, view = self.session, self.state.view
        if session is None or view is None or self.state.busy:
            return
        try:
            self.visited.append((position(session), view, self.state.reason,
                                 self.state.message))
        except Exception:  # a stop that cannot be kept must not stop the class
            pass

    def _finished(self, *args) -> None:
        super()._finished(*args)
        self._keep()

    def action_restart(self) -> None:
        super().action_restart()
        self.visited.clear()  # positions start again: keep only the new run's stops
        self._keep()


def save_tui_recording(factory, visited, path: str, *, program: str, argv) -> int:
    """Every transition of a fresh session of the same program (same seed), with the stops
    the user visited merged in. Returns the number of stops."""
    from kernel_model.debugger.recording import Recorder, record_session

    recorder = Recorder(program=program, argv=argv, source="tui")
    session = factory()
    try:
        record_session(session, recorder, deadline=time.monotonic() + 30)
    finally:
        session.close()
    recorder.merge_visited(visited)
    recorder.save(path)
    return len(recorder.stops)


def _open(path: str):
    try:
        out = open(path, "a")
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
    out.close()


def cmd_tui_record(args) -> int:
    """`syscall-lab tui --record FILE ...`"""
    import random

    from tui.cli import require_terminal
    from tui.launch import session_factory

    if args.seed is None:  # the walk at the end must see the same addresses as the user
        args.seed = random.randrange(1 << 31)
    factory, name = session_factory(args)
    require_terminal("tui --record")
    _open(args.record)
    app = RecordingApp(factory, program=name)
    app.screenshots = args.screenshots
    app.run()
    if app.session is not None:
        app.session.close()
    try:
        n = save_tui_recording(factory, app.visited, args.record, program=name,
                               argv=[name, *args.args])
    except OSError as e:
        raise UsageError(f"cannot write {args.record}: {e.strerror}") from None
    print(f"syscall-lab: recorded {n} stops to {args.record} "
          f"(syscall-lab replay {args.record})", file=sys.stderr)
    return app.return_code or 0


def cmd_replay(args) -> int:
    """`syscall-lab replay FILE`"""
    from kernel_model.debugger.recording import RecordingError, load

    try:
        recording = load(args.file)
    except RecordingError as e:
        raise UsageError(str(e)) from None
    from tui.cli import require_terminal

    require_terminal("replay")
    app = ReplayApp(recording, path=args.file)
    app.screenshots = args.screenshots
    app.run()
    return app.return_code or 0

"""`syscall-lab tui [run options] [PROGRAM [ARGS...]]`: the stepping TUI on a program (the
built-in demo when none is named). Imported only by that subcommand: `run` never loads
textual."""

from __future__ import annotations

import sys

DEMO = "time-three-ways"  # the time three ways: syscall, vDSO, vsyscall page


def session_factory(args):
    """A function making a fresh DebugSession for the parsed command line (restart calls it
    again). Raises UsageError for a bad program, at once."""
    from kernel_model.debugger.session import DebugSession
    from tui.cli import UsageError, resolve_program, run_options

    name = args.program or DEMO
    program = resolve_program(name, args.arch)
    options = run_options(args)
    argv = [name, *args.args]

    def make():
        from kernel_model.system import CannotStart
        from programs.options import CannotExecute

        try:
            return DebugSession.create(program, argv, options, budget=args.history_budget)
        except CannotStart as e:
            raise CannotExecute.of(name, e) from None
        except ValueError as e:
            raise UsageError(str(e)) from None

    make().close()  # fail here, before the screen opens, if it cannot start
    return make, name


def cmd_tui(args) -> int:
    from tui.app import make_app
    from tui.cli import require_terminal

    factory, name = session_factory(args)
    require_terminal("tui")
    app = make_app(factory, program=name, screenshots=args.screenshots)
    app.run()
    session = app.session
    if session is not None:
        session.close()
    if app.return_code:
        print(f"syscall-lab: the screen closed with an error ({app.return_code})",
              file=sys.stderr)
    return app.return_code or 0

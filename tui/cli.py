"""The `syscall-lab` command line. Every bad input gets one line on stderr and status 2.

The `run` path never imports textual (a test checks sys.modules): the TUI is imported only
by the subcommands that open it.
"""

from __future__ import annotations

import argparse
import os
import sys

from programs.options import (  # noqa: F401  (the headless parts, re-exported for callers)
    ERA_NAMES,
    CannotExecute,
    OptionParser,
    UsageError,
    add_run_command,
    add_run_options,
    points,
    positive_int,
    resolve_program,
    run_options,
    seconds,
    size,
)

EXIT_USAGE = 2


def add_screen_options(p: argparse.ArgumentParser) -> None:
    """Options of every command that opens the TUI."""
    p.add_argument("--screenshots", metavar="DIR", help="where F12 saves SVG screenshots "
                   "(default: $SYSCALL_LAB_SCREENSHOTS, else ./screenshots, made when needed)")


def require_terminal(command: str, instead: str = "") -> None:
    """The TUI draws on a terminal and reads keys from one: without it (a pipe, a CI job,
    an editor's runner) it would wait forever for keys, so say so at once (status 2)."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        return
    # SystemExit, not UsageError: it ends the process the same way whichever copy of this
    # module (tui.cli or `python -m`'s __main__) is running.
    print(f"syscall-lab: error: `syscall-lab {command}` needs a terminal; use `syscall-lab "
          f"run` to run a program without one{instead}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; given a command, only that command's parser (what parsing a
    line that names it needs: building all of them cost `run` a tenth of its start-up)."""
    parser = OptionParser(prog="syscall-lab", description="An educational x86 syscall "
                          "emulator: watch programs cross into a Python model of the Linux "
                          "kernel.")
    sub = parser.add_subparsers(dest="command", parser_class=OptionParser)
    if command in (None, "run"):
        run = sub.add_parser("run", help="run a program (an ELF, a .s file, or a bundled name)")
        add_run_command(run)
    if command in (None, "tui"):
        tui = sub.add_parser("tui", help="step through a program and watch every user/kernel "
                             "transition (the default, on a demo)")
        add_run_options(tui)
        tui.add_argument("--history-budget", type=size, default=256 << 20, metavar="SIZE",
                         help="memory for stepping backwards (default 256M); older history is "
                              "thinned beyond it")
        tui.add_argument("--record", metavar="FILE", help="save the session (every stop "
                         "visited, every transition and phase) for `syscall-lab replay FILE`")
        tui.add_argument("--gdb", metavar="[HOST:]PORT", help="also serve the session to gdb "
                         "(`target remote :PORT`): gdb and the screen step the same guest; host "
                         "127.0.0.1 unless given; port 0 picks a free one (the status line says "
                         "which)")
        tui.add_argument("--gdb-listen-any", action="store_true", help="allow --gdb on a host "
                         "other than loopback (anyone who can connect controls the guest)")
        add_screen_options(tui)
        tui.add_argument("program", nargs="?", help="an ELF, a .s file or a bundled name "
                         "(default: time-three-ways)")
        tui.add_argument("args", nargs=argparse.REMAINDER)
    if command in (None, "list"):
        listing = sub.add_parser("list", help="the bundled programs")
        listing.add_argument("--all", action="store_true", help="every build on its line")
    if command in (None, "show"):
        show = sub.add_parser("show", help="a bundled program's page: how to run it, its "
                              "expected output, the points to notice")
        show.add_argument("name")
    if command in (None, "replay"):
        replay = sub.add_parser("replay", help="step through a recording (--record FILE) in the "
                                "TUI, forward and back, without running the program")
        replay.add_argument("file")
        add_screen_options(replay)
    if command in (None, "lessons"):
        sub.add_parser("lessons", help="the guided lessons")
    if command in (None, "lesson"):
        lesson = sub.add_parser("lesson", help="a guided lesson in the stepping TUI: the "
                                "narration beside the code, -> next stop, <- back")
        lesson.add_argument("lesson", help="a bundled lesson's name or a lesson file")
        lesson.add_argument("--check", action="store_true", help="play it without the screen "
                            "and report the first stop that cannot be reached")
        lesson.add_argument("--history-budget", type=size, default=256 << 20, metavar="SIZE",
                            help="memory for stepping backwards (default 256M)")
        add_screen_options(lesson)
    if command in (None, "vdso"):
        vdso = sub.add_parser("vdso", help="the vDSO image syscall-lab builds")
        vdso_sub = vdso.add_subparsers(dest="vdso_command", parser_class=OptionParser,
                                       required=True)
        dump = vdso_sub.add_parser("dump", help="write the image to a file (readelf -a FILE)")
        dump.add_argument("--arch", choices=("x86_64", "i386"), default="x86_64")
        dump.add_argument("-o", "--output", required=True, metavar="FILE")
    if command in (None, "bench"):
        bench = sub.add_parser("bench", help="measure the emulator against bare Unicorn")
        bench.add_argument("--json", action="store_true")
        bench.add_argument("--serve", type=positive_int, nargs="?", const=20, metavar="SESSIONS",
                           help="only the load of `serve`: SESSIONS (default 20) websocket "
                           "clients stepping the demo at once (tui/bench_serve.py)")
        bench.add_argument("--peers", action="store_true",
                           help="only the comparison with qemu-user (when installed) and the "
                           "host on the same bundled binaries (tui/bench_peers.py)")
    if command in (None, "table"):
        table = sub.add_parser("table", help="the syscall table: number, name, registers, status")
        table.add_argument("--arch", choices=("x86_64", "i386"), default="x86_64")
        table.add_argument("which", nargs="?", help="a syscall name or number")
    if command in (None, "exercises"):
        exercises = sub.add_parser("exercises", help="the auto-graded assembly exercises")
        exercises.add_argument("name", nargs="?", help="show one exercise's statement")
    if command in (None, "check"):
        check = sub.add_parser("check", help="grade a solution (every check on randomized "
                               "runs), or a class's submissions in parallel")
        check.add_argument("exercise", help="a bundled exercise's name or a path to its spec")
        check.add_argument("solutions", nargs="+", metavar="SUBMISSION",
                           help="your program (a .s file or a static ELF); several files or a "
                                "directory of them grade a whole class")
        check.add_argument("--json", action="store_true", help="results and a score as JSON "
                           "(--format json)")
        check.add_argument("--format", choices=("text", "json", "csv", "gradescope"),
                           help="the report: text (default), json, csv, or Gradescope's "
                                "results.json")
        check.add_argument("-o", "--output", metavar="PATH", help="write the report there (for "
                           "gradescope: the results.json, or a folder for several submissions)")
        check.add_argument("--jobs", type=positive_int, metavar="N",
                           help="submissions graded at once (default: the CPU count)")
        check.add_argument("--points", type=points, metavar="N",
                           help="Gradescope's max_score (default: the checks' total weight)")
        check.add_argument("--seed", type=int, help="repeat the runs of an earlier check")
    if command in (None, "exercise"):
        exercise = sub.add_parser("exercise", help="an exercise in the stepping TUI: the "
                                  "statement beside your code, g grades it and reloads it")
        exercise.add_argument("exercise", help="a bundled exercise's name or a path to its spec")
        exercise.add_argument("solution", nargs="?", help="your .s file (default: NAME.s here, "
                              "copied from the starter if it does not exist)")
        exercise.add_argument("--seed", type=int, help="the grader's seed, the same at every g")
        exercise.add_argument("--history-budget", type=size, default=256 << 20, metavar="SIZE",
                              help="memory for stepping backwards (default 256M)")
        add_screen_options(exercise)
    if command in (None, "serve"):
        serve = sub.add_parser("serve", help="serve the lab to browsers: one session per tab "
                               "(for a class: see the README)")
        serve.add_argument("--host", help="the address to listen on (default 127.0.0.1; "
                           "anything else is reachable by others, and says so)")
        serve.add_argument("--port", type=positive_int, default=8000, help="default 8000")
        serve.add_argument("--max-sessions", type=positive_int, default=40, metavar="N",
                           help="tabs at once; beyond that a page asks to try later (default 40)")
        serve.add_argument("--idle", type=positive_int, default=30, metavar="MINUTES",
                           help="close a tab after this long without a key (default 30)")
        serve.add_argument("--session-cpu", type=positive_int, default=20, metavar="MINUTES",
                           help="CPU time a tab's session may use, then it ends (default 20)")
        serve.add_argument("--session-memory", type=size, default=4 << 30, metavar="SIZE",
                           help="address space of a tab's session process (default 4G)")
        serve.add_argument("--timeout", type=seconds, default=30, metavar="S",
                           help="seconds one run in a tab may take (c, t...), then it stops as "
                                "Esc stops it (default 30)")
        serve.add_argument("--max-insns", type=positive_int, default=100_000_000, metavar="N",
                           help="guest instructions one run in a tab may execute (default 1e8)")
        serve.add_argument("--workdir", metavar="DIR",
                           help="keep each student's files here (a subdirectory per browser, "
                                "found again by a cookie): a reload keeps an exercise's edits")
    if command is not None and not sub.choices:  # not a command: the parser says so
        return build_parser()
    return parser


def main(argv: list[str] | None = None) -> int:
    as_command = argv is None  # the process's own command line: it exits when main returns
    argv = sys.argv[1:] if argv is None else argv
    args = None
    try:
        if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
            argv = ["tui", *argv]  # the stepping TUI (on the built-in demo)
        args = build_parser(argv[0]).parse_args(argv)
        if args.command == "run":
            if getattr(args, "gdb", None):
                from tui.gdb_run import cmd_run_gdb  # no textual here either

                return cmd_run_gdb(args)
            if args.record:
                from tui.record_run import cmd_run_record  # no textual here either

                return cmd_run_record(args)
            status = cmd_run(args, as_command=as_command)
            if as_command:
                skip_teardown()
            return status
        if args.command == "tui" and args.gdb:
            from tui.gdb_shared import cmd_tui_gdb  # textual is loaded only here

            return cmd_tui_gdb(args)
        if args.command == "tui" and args.record:
            from tui.replay import cmd_tui_record

            return cmd_tui_record(args)
        if args.command == "replay":
            from tui.replay import cmd_replay

            return cmd_replay(args)
        if args.command == "tui":
            from tui.launch import cmd_tui  # textual is loaded only here

            return cmd_tui(args)
        if args.command == "list":
            return cmd_list(args.all)
        if args.command == "show":
            return cmd_show(args.name)
        if args.command == "lessons":
            from programs.pages import lessons_lines

            print("\n".join(lessons_lines()))
            return 0
        if args.command == "lesson":
            from tui.lesson import cmd_lesson  # textual is loaded only here

            return cmd_lesson(args)
        if args.command == "table":
            return cmd_table(args)
        if args.command == "vdso":
            return cmd_vdso_dump(args)
        if args.command == "bench":
            from tui import bench

            return bench.main(args.json, serve=args.serve, peers=args.peers)
        if args.command == "exercise":
            from tui.exercise import cmd_exercise  # textual is loaded only here

            return cmd_exercise(args)
        if args.command == "serve":
            from tui.serve import cmd_serve  # aiohttp and textual-serve are loaded only here

            return cmd_serve(args)
        if args.command in ("exercises", "check"):
            return cmd_grading(args)
        build_parser().print_help()
        return EXIT_USAGE
    except CannotExecute as e:
        print(f"syscall-lab: {e}", file=sys.stderr)
        return e.status
    except UsageError as e:
        print(f"syscall-lab: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("syscall-lab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Our own output went to a closed pipe (`syscall-lab list | head`): stop quietly,
        # with the status a process killed by SIGPIPE has.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as e:  # a bug of ours (e.g. kernel.KernelModelError): never a traceback
        debug = bool(getattr(args, "debug", False))
        if debug:
            import traceback

            traceback.print_exc()
        what = str(e) if hasattr(e, "syscall") else f"{type(e).__name__}: {e}"
        hint = " (--debug prints the traceback)" if hasattr(args, "debug") and not debug \
            else ""
        print(f"syscall-lab: internal error: {' '.join(what.split())}; this is a bug in "
              f"syscall-lab{hint}", file=sys.stderr)
        return EXIT_USAGE


def start_quietly() -> None:
    """The start of a run makes ~100,000 objects that live as long as it (modules, classes,
    the System) and almost no garbage, yet the collector, counting allocations, would scan
    them again and again (about 8 ms of every start, issue 16). Collection waits until
    the guest runs: then gc.freeze() sets what the start made aside for good and the
    collector resumes, with only what the run makes to look at. Only for the command
    itself (a caller of main(argv) keeps its collector as it was)."""
    import gc

    gc.disable()


def guest_runs_next() -> None:
    """The end of start_quietly: the start's objects frozen, collection on."""
    import gc

    gc.freeze()
    gc.enable()


def skip_teardown() -> None:
    """The process exits next: the run's objects, the emulator's among them, need not be
    taken apart one by one by the exit's garbage collections, which took about 20 ms of
    every `syscall-lab run` (issue 16). gc.freeze() moves every object out of their reach.
    Nothing is lost: the run's own files are closed already, the guest's host files are raw
    fds the OS closes, sys.stdout and sys.stderr are still flushed and atexit handlers
    still run. Only for the command itself: a caller of main(argv) lives on."""
    import gc

    gc.freeze()


def make_system(args, program, extra_argv):
    from kernel_model.system import System

    options = run_options(args)
    argv0 = args.program
    from kernel_model.system import CannotStart

    try:
        return System(program.image, program.path, [argv0, *extra_argv], options,
                      symbols=program.symbols)
    except CannotStart as e:
        raise CannotExecute.of(argv0, e) from None
    except ValueError as e:
        raise UsageError(str(e)) from None


def tracing(args) -> bool:
    """Whether the run prints strace's lines: -s or --events; -o FILE or -f alone too (as
    `strace -o FILE prog` and `strace -f prog` trace), but with -c they only shape the table
    (strace -c prints the table alone)."""
    return bool(args.strace or args.events
                or ((args.output or args.follow_forks) and not args.summary))


def cmd_run(args, as_command: bool = False) -> int:
    if as_command:
        start_quietly()
    program = resolve_program(args.program, args.arch)
    system = make_system(args, program, args.args)
    closers = []
    trace_out = sys.stderr
    try:
        if args.output:
            trace_out = open(args.output, "w")
            closers.append(trace_out)
        if args.trace_json:
            from kernel_model.trace.tracers import JsonTracer

            json_out = open(args.trace_json, "w")
            closers.append(json_out)
            system.kernel.attach(JsonTracer(json_out))
    except OSError as e:
        raise UsageError(f"cannot write {e.filename}: {e.strerror}") from None
    printer = None
    if tracing(args):
        from kernel_model.trace.tracers import StracePrinter

        printer = StracePrinter(trace_out, events=args.events, to_file=bool(args.output),
                                follow=args.follow_forks)
        system.kernel.attach(printer)
    summary = None
    if args.summary:
        from kernel_model.trace.tracers import Summary

        summary = Summary(system.arch.name)
        system.kernel.attach(summary)
    try:
        if as_command:
            guest_runs_next()
        status = system.run()
        if printer is not None:
            printer.close()  # a line still held (a call the run's end cut) comes first
        if summary is not None:  # before the files close: with -o the table goes there too
            print(summary.table(), file=trace_out, end="")
    finally:
        for f in closers:
            f.close()
    reason = getattr(system, "limit_reason", None)
    if reason:
        print(f"syscall-lab: {reason}", file=sys.stderr)
    return status


def cmd_grading(args) -> int:
    from programs.grading import command  # the grader: loaded only for these commands
    from programs.grading.spec import SpecError

    try:
        return (command.cmd_check if args.command == "check" else command.cmd_exercises)(args)
    except SpecError as e:
        raise UsageError(str(e)) from None


def cmd_vdso_dump(args) -> int:
    from kernel_model.vdso.image import build_vdso

    data = build_vdso(args.arch).data
    try:
        with open(args.output, "wb") as f:
            f.write(data)
    except OSError as e:
        raise UsageError(f"cannot write {args.output}: {e.strerror}") from None
    print(f"wrote the {args.arch} vDSO ({len(data)} bytes) to {args.output}")
    return 0


def cmd_list(every_build: bool = False) -> int:
    from programs.pages import list_lines

    print("\n".join(list_lines(every_build=every_build)))
    return 0


def cmd_show(name: str) -> int:
    from programs.pages import page_lines

    lines = page_lines(name)
    if lines is None:
        raise UsageError(f"{name}: no such bundled program (syscall-lab list names them)")
    print("\n".join(lines))
    return 0


def cmd_table(args) -> int:
    from kernel_model.entry.abi import ABIS
    from kernel_model.syscalls.registry import lookup

    abi = ABIS[args.arch]
    rows = sorted(abi.table.items())
    if args.which is not None:
        w = args.which
        rows = [(nr, n) for nr, n in rows if n == w or str(nr) == w or hex(nr) == w.lower()]
        if not rows:
            raise UsageError(f"{w}: not in the {args.arch} syscall table")
    regs = " ".join(r for r, _ in abi.arg_regs)
    print(f"# {abi.table_name} ({args.arch}): number in {abi.nr_reg[0]}, arguments in {regs}, "
          f"result in {abi.ret_reg[0]}")
    for nr, name in rows:
        sdef = lookup(abi.name, name)
        status = "implemented" if sdef else "ENOSYS"
        used = " ".join(r for r, _ in abi.arg_regs[:sdef.nargs]) if sdef else ""
        print(f"{nr:4d}  {name:28} {status:12} {used}")
    return 0


if __name__ == "__main__":
    # `python -m tui.cli`: run the imported tui.cli, whose UsageError is the one that
    # tui.launch and tui.record_run raise (this __main__ copy has a class of its own).
    from tui.cli import main as imported_main

    sys.exit(imported_main())

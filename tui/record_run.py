"""`syscall-lab run --record FILE PROGRAM`: run the program under the stepping engine and save
every transition's views (kernel_model.debugger.recording) for `syscall-lab replay FILE`.

Imported only when --record is given, so the plain `run` path stays as fast as before; like
`run`, it never loads textual.
"""

from __future__ import annotations

import sys


def cmd_run_record(args) -> int:
    from kernel_model.debugger.limits import SessionLimits
    from kernel_model.debugger.recording import Recorder, record_session
    from kernel_model.debugger.session import DebugSession
    from tui.cli import UsageError, resolve_program, run_options, tracing

    try:
        open(args.record, "a").close()
    except OSError as e:
        raise UsageError(f"cannot write {args.record}: {e.strerror}") from None
    program = resolve_program(args.program, args.arch)
    argv = [args.program, *args.args]
    from kernel_model.system import CannotStart
    from programs.options import CannotExecute

    try:
        session = DebugSession.create(program, argv, run_options(args))
    except CannotStart as e:
        raise CannotExecute.of(args.program, e) from None
    except ValueError as e:
        raise UsageError(str(e)) from None
    closers = []
    try:
        trace_out = sys.stderr
        if args.output:
            trace_out = open(args.output, "w")
            closers.append(trace_out)
        if args.trace_json:
            from kernel_model.trace.tracers import JsonTracer

            json_out = open(args.trace_json, "w")
            closers.append(json_out)
            session.kernel.attach(JsonTracer(json_out))
        if tracing(args):
            from kernel_model.trace.tracers import StracePrinter

            printer = StracePrinter(trace_out, events=args.events, to_file=bool(args.output),
                                    follow=args.follow_forks)
            session.kernel.attach(printer)
            closers.insert(0, printer)  # closed first: its last held line before the file
        data = _stdin()
        if data:
            session.feed_input(data)
        session.close_input()
        recorder = Recorder(program=args.program, argv=argv, source="run")
        with SessionLimits(session, timeout=args.timeout, max_insns=args.max_insns) as limits:
            why = record_session(session, recorder, limits=limits)
        for data, stream in ((session.io.stdout(), sys.stdout), (session.io.stderr(),
                                                                   sys.stderr)):
            if data:
                _write(stream, data)
        recorder.save(args.record)
    except OSError as e:
        raise UsageError(f"cannot write {e.filename}: {e.strerror}") from None
    finally:
        for f in closers:
            f.close()
        session.close()
    print(f"syscall-lab: recorded {len(recorder.stops)} stops to {args.record} "
          f"(syscall-lab replay {args.record})", file=sys.stderr)
    if limits.stopped:
        # As `run` ends at a limit: its line, status 2 (130 for Ctrl-C).
        print(f"syscall-lab: {limits.text}", file=sys.stderr)
        return 130 if limits.reason == "interrupt" else 2
    if why not in ("exited",):
        print(f"syscall-lab: the recording stops early ({why})", file=sys.stderr)
    p = session.system.process
    return p.status if p.exited else 1


def _stdin() -> bytes:
    """The program's input: ours, unless it is a terminal (nobody types into a recording)."""
    try:
        if sys.stdin is None or sys.stdin.isatty():
            return b""
        return sys.stdin.buffer.read()
    except (OSError, ValueError, AttributeError):
        return b""


def _write(stream, data: bytes) -> None:
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        buffer.write(data)
        buffer.flush()
    else:
        stream.write(data.decode("utf-8", "replace"))

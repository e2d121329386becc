"""`syscall-lab run --gdb [HOST:]PORT PROGRAM`: the guest under the stepping engine, stopped
at its first instruction, served to gdb's remote protocol (kernel_model.debugger.gdbstub).

Like `run`, it never loads textual. The guest's output is copied to our stdout/stderr as
it grows (stepping back never takes printed text back); the exit status is the guest's, or
2 with the limit's line when --max-insns or --timeout ended the run (gdbstub/limits.py).
Only the first process is debugged (gdbstub/procs.py); the other run options (memory,
tasks, tmpfs) bound the System as they do for `run`.
"""

from __future__ import annotations

import ipaddress
import shutil
import signal
import socket
import sys

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def parse_address(text: str) -> tuple[str, int]:
    from programs.options import UsageError

    host, sep, port_s = text.rpartition(":")
    if not sep:
        host = "127.0.0.1"
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_s, 10)
    except ValueError:
        raise UsageError(f"--gdb {text!r}: not [HOST:]PORT (e.g. 1234 or "
                         "127.0.0.1:1234)") from None
    if not 0 <= port <= 65535:
        raise UsageError(f"--gdb {text!r}: the port must be 0 to 65535")
    return host, port


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_address(args) -> tuple[str, int, str]:
    """`--gdb`'s host and port, refused beyond loopback without --gdb-listen-any (and with
    it, a warning printed and returned), and refused with --record."""
    from programs.options import UsageError

    host, port = parse_address(args.gdb)
    warning = ""
    if not is_loopback(host):
        if not args.gdb_listen_any:
            raise UsageError(f"--gdb {args.gdb}: not a loopback address; add "
                             "--gdb-listen-any to listen there (anyone who can connect "
                             "then controls the guest)")
        warning = (f"listening on {host}: anyone who can connect controls the guest (and "
                   "what it can reach through --mount)")
        print(f"syscall-lab: warning: {warning}", file=sys.stderr)
    if args.record:
        raise UsageError("--gdb and --record do not go together yet")
    return host, port, warning


def listen(host: str, port: int) -> socket.socket:
    from programs.options import UsageError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise UsageError(f"--gdb: cannot resolve {host!r}: {e.strerror}") from None
    family, _, _, _, addr = infos[0]
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(addr)
        s.listen(2)
    except OSError as e:
        s.close()
        raise UsageError(f"--gdb: cannot listen on {host}:{port}: {e.strerror}") from None
    return s


def cmd_run_gdb(args) -> int:
    from kernel_model.debugger.gdbstub.commands import Stub
    from kernel_model.debugger.gdbstub.limits import GdbLimits
    from kernel_model.debugger.gdbstub.procs import FirstProcessOnly
    from kernel_model.debugger.gdbstub.server import GdbServer
    from kernel_model.debugger.gdbstub.symfile import exec_file_for
    from kernel_model.debugger.session import DebugSession
    from kernel_model.system import CannotStart
    from programs.options import CannotExecute, UsageError
    from tui.cli import resolve_program, run_options, tracing
    from tui.record_run import _stdin, _write

    host, port, _ = checked_address(args)
    program = resolve_program(args.program, args.arch)
    argv = [args.program, *args.args]
    listener = listen(host, port)
    try:
        session = DebugSession.create(program, argv, run_options(args))
    except CannotStart as e:
        listener.close()
        raise CannotExecute.of(args.program, e) from None
    except ValueError as e:
        listener.close()
        raise UsageError(str(e)) from None
    closers = []
    if tracing(args):  # strace's lines as the guest makes its calls (a replay makes none)
        from kernel_model.debugger.gdbstub.monitor import attach_printer
        from kernel_model.trace.tracers import StracePrinter

        try:
            trace_out = open(args.output, "w") if args.output else sys.stderr
        except OSError as e:
            listener.close()
            session.close()
            raise UsageError(f"cannot write {e.filename}: {e.strerror}") from None
        printer = StracePrinter(trace_out, events=args.events, to_file=bool(args.output),
                                follow=args.follow_forks)
        attach_printer(session, printer)
        closers.append(printer)
        if args.output:
            closers.append(trace_out)
    data = _stdin()
    if data:
        session.feed_input(data)
    session.close_input()
    exec_path, tmp = exec_file_for(program)
    printed = [0, 0]

    def flush_output():
        for k, (chunk, stream) in enumerate(((session.io.stdout(), sys.stdout),
                                             (session.io.stderr(), sys.stderr))):
            if len(chunk) > printed[k]:
                _write(stream, chunk[printed[k]:])
                printed[k] = len(chunk)

    def log(text: str) -> None:
        print(f"syscall-lab: {text}", file=sys.stderr, flush=True)

    def terminated(_signo, _frame):
        raise KeyboardInterrupt  # SIGTERM (e.g. `timeout`): clean up as for Ctrl-C

    signal.signal(signal.SIGTERM, terminated)
    stub = Stub(session, exec_path=exec_path, log=log)
    # (in this order: the limits bound the whole command, with the legs procs.py adds)
    procs = FirstProcessOnly(stub, log)
    stub.resume_wrappers.append(procs.wrap)
    limits = GdbLimits(stub, max_insns=args.max_insns, timeout=args.timeout, log=log)
    stub.resume_wrappers.append(limits.wrap)
    server = GdbServer(stub, listener, log, on_stop=flush_output)
    bound = listener.getsockname()
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    print(f"syscall-lab: waiting for gdb on {shown}:{bound[1]}", file=sys.stderr, flush=True)
    try:
        why = server.serve()
        # (the session's own test: nothing can run any more)
        over = session._exited()
        if why == "exited" and not over and limits.reason is None:
            log("gdb's process exited; the others run on to their end")
        if why in ("detached", "exited") and not over and limits.reason is None:
            if why == "detached":
                log("gdb detached: the guest runs on to its end")
            stub.monitor.strace = False  # no console to print on any more
            for b in list(session.breakpoints):
                session.remove_breakpoint(b)
            session.catch_syscalls(set())
            for w in list(session.watchpoints):
                session.remove_watchpoint(w.addr, w.length, w.kind)
            for _ in range(1000):
                stop = limits.run_forward(session.cont)
                flush_output()
                if session.system.process.exited or limits.reason is not None or \
                        stop.reason in ("exited", "input"):
                    break
        flush_output()
    finally:
        for f in closers:
            f.close()
        listener.close()
        session.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    p = session.system.process
    if limits.reason is not None and not session._exited():
        # As `run` ends at a limit: its line, status 2.
        log(limits.text)
        return 2
    if why == "killed" and not p.exited:
        log("killed by gdb")
        return 137  # as a shell reports a process killed by SIGKILL
    return p.status if p.exited else 1

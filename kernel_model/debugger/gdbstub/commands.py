"""What each packet does: one Stub per guest, answering the packets gdb sends while the
guest is stopped, and turning the resuming ones (c, s, vCont, bs, bc) into session
commands run by the server (a Resume), whose stop becomes a stop reply.

Answered: qSupported, QStartNoAckMode, qXfer (features, auxv, exec-file, libraries-svr4
in libraries.py), ?, g/G, p/P, m/M/X, Z0/z0 and Z1/z1 (both the session's breakpoints),
Z2-Z4 (its watchpoints),
QCatchSyscalls, vCont?/vCont (c, C, s, S), c/C, s/S, bs, bc, k, vKill, D, H, T,
qAttached, qOffsets, qC, qfThreadInfo/qsThreadInfo, qSymbol, qRcmd (monitor.py), vFile
(the guest's files, read-only: vfile.py), QPassSignals; thread ids in the multiprocess
form (one process), exec events (the first process's execve, procs.py). Signals follow
ptrace's rules (the session's gdb mode, step_signals.py): a stop before each delivery,
the signal given on resume delivered; numbers are gdb's own (signal_numbers.py). Not yet
(answered "", which gdb reads as "unsupported"): fork events (only the first process is
debugged: procs.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from kernel_model.debugger.gdbstub import registers as regs
from kernel_model.debugger.gdbstub.entry_view import entry_registers
from kernel_model.debugger.gdbstub.libraries import NoDynamicSection, library_list_xml
from kernel_model.debugger.gdbstub.packets import MAX_PACKET, unescape
from kernel_model.debugger.gdbstub.signal_numbers import from_gdb, to_gdb
from kernel_model.debugger.gdbstub.tdesc import target_xml
from kernel_model.debugger.gdbstub.vfile import HostIo
from kernel_model.debugger.stepping import TRAP_KINDS

SIGTRAP = 5
SIGINT = 2

SUPPORTED = (f"PacketSize={MAX_PACKET:x};qXfer:features:read+;qXfer:auxv:read+;"
             "qXfer:exec-file:read+;QStartNoAckMode+;swbreak+;hwbreak+;vContSupported+;"
             "ReverseStep+;ReverseContinue+;QCatchSyscalls+;QPassSignals+;multiprocess+;"
             "qXfer:libraries-svr4:read+")
SUPPORTED += ";exec-events+"  # the first process's execve (procs.py)
# Z2/Z3/Z4 and the engine's kinds; the stop reply's word for each.
WATCH_KINDS = {"2": "write", "3": "read", "4": "access"}
WATCH_REPLY = {"write": "watch", "read": "rwatch", "access": "awatch"}


@dataclass
class Resume:
    """A command that runs the guest: `run` is called on the server's worker thread."""

    run: Callable[[], object]
    what: str  # "step", "cont", "rstep", "rcont"


class Stub:
    def __init__(self, session, exec_path: str | None = None, log=None):
        self.s = session
        self.exec_path = exec_path
        self._log = log or (lambda text: None)
        self._bad_logged = 0
        self.noack = False
        self.bps: dict[int, object] = {}  # address -> the session's Breakpoint (Z0)
        self.over = False  # the guest exited or was killed: W/X was sent
        self.detached = False
        self.killed = False
        self.hostio = HostIo(session, exec_path)
        # At a syscall-entry stop: the registers as Linux shows them there (entry_view.py)
        self.view: dict[str, int] | None = None
        self.at_entry_stop = False  # the last stop was a caught call's entry
        from kernel_model.debugger.gdbstub.monitor import Monitor

        self.monitor = Monitor(session)  # monitor commands, and console output (O packets)
        # What a resume goes through before it runs (limits.py, procs.py): each may wrap
        # its run, whose result may then be the stop reply itself (bytes).
        self.resume_wrappers: list[Callable[[Resume], Resume]] = []
        self.told_signal = False  # the last stop reply reported a signal (held or a fault)
        session.trace_signals(True)  # gdb mode: ptrace's signal-delivery-stops

    def log(self, text: str) -> None:
        self._log(text[:160])

    def log_bad(self, text: str) -> None:
        """A malformed packet: a line for each of the first few, then one saying so."""
        self._bad_logged += 1
        if self._bad_logged <= 20:
            self.log(text)
        elif self._bad_logged == 21:
            self.log("more malformed packets: no longer logged")

    # -- dispatch ---------------------------------------------------------------------------
    def handle(self, packet: bytes) -> bytes | Resume | None:
        """The reply to one packet, a Resume, or None for no reply (k)."""
        try:
            text = packet.decode("latin-1")
            out = self._dispatch(text, packet)
            if isinstance(out, Resume):
                self.view = None  # the guest moves: its next stop says what it shows
                for wrap in self.resume_wrappers:
                    out = wrap(out)
            return out
        except regs.NotWritable as e:
            self.log(f"cannot write: {e}")
            return b"E01"
        except (ValueError, IndexError, KeyError, OverflowError) as e:
            self.log_bad(f"bad packet {packet[:40]!r}: {e}")
            return b"E01"
        except Exception as e:  # a bug of ours: one line, and the stub goes on
            self.log(f"internal error on packet {packet[:40]!r}: {type(e).__name__}: {e}")
            return b"E01"

    def _dispatch(self, t: str, raw: bytes) -> bytes | Resume | None:
        s = self.s
        if not t:
            return b""
        c = t[0]
        if t.startswith("qSupported"):
            return SUPPORTED.encode()
        if t == "QStartNoAckMode":
            self.noack = True
            return b"OK"
        if t.startswith("qXfer:"):
            return self._xfer(t)
        if t == "?":
            held = self.s.signal_here()  # (gdb connecting again at a signal stop)
            self.told_signal = held is not None
            return self.stop_reply_here(signal=SIGTRAP if held is None else to_gdb(held))
        if t in ("qAttached",) or t.startswith("qAttached:"):
            return b"1"
        if t == "qOffsets":
            return b"Text=0;Data=0;Bss=0"
        if t == "qC":
            return b"QC" + self.thread_id().encode()
        if t == "qfThreadInfo":
            return b"m" + self.thread_id().encode()
        if t == "qsThreadInfo":
            return b"l"
        if t.startswith("qThreadExtraInfo"):
            return b""
        if t == "qTStatus":
            return b""
        if t.startswith("qSymbol"):
            return b"OK"
        if c == "H":
            return b"OK"  # one thread: any thread is it
        if c == "T":
            return b"OK"  # thread alive
        if c == "g":
            return regs.g_packet(s, self.view).encode()
        if c == "G":
            regs.set_all(s, bytes.fromhex(t[1:]), self.view)
            return b"OK"
        if c == "p":
            out = regs.p_packet(s, int(t[1:], 16), self.view)
            return b"E00" if out is None else out.encode()
        if c == "P":
            n, _, value = t[1:].partition("=")
            regs.set_register(s, int(n, 16), bytes.fromhex(value), self.view)
            return b"OK"
        if c == "m":
            addr, _, size = t[1:].partition(",")
            got = regs.read_memory(s, int(addr, 16), min(int(size, 16), MAX_PACKET // 2 - 8))
            return got.hex().encode() if got or int(size, 16) == 0 else b"E14"
        if c == "M":
            where, _, data = t[1:].partition(":")
            addr, _, size = where.partition(",")
            body = bytes.fromhex(data)
            if len(body) != int(size, 16):
                return b"E01"
            regs.write_memory(s, int(addr, 16), body)
            return b"OK"
        if c == "X":
            head, _, _ = raw[1:].partition(b":")
            binary = unescape(raw[1 + len(head) + 1:])
            addr, _, size = head.decode("latin-1").partition(",")
            if len(binary) != int(size, 16):
                return b"E01"
            regs.write_memory(s, int(addr, 16), binary)
            return b"OK"
        if c in "Zz":
            return self._breakpoint(t)
        if t == "vCont?":
            return b"vCont;c;C;s;S"
        if t.startswith("vCont;"):
            return self._vcont(t[6:])
        if c in "cC":
            return self._resume("cont", t)
        if c in "sS":
            return self._resume("step", t)
        if t == "bs":
            return Resume(s.reverse_step, "rstep")
        if t == "bc":
            return Resume(s.reverse_continue, "rcont")
        if c == "k" or t.startswith("vKill"):
            self.killed = True
            return None if c == "k" else b"OK"
        if c == "D":
            self.detached = True
            self.s.trace_signals(False)  # the guest runs on as if never traced
            return b"OK"
        if t.startswith("qRcmd,"):
            text = self.monitor.run(bytes.fromhex(t[6:]).decode("utf-8", "replace"))
            return text.encode().hex().encode()
        if t.startswith("QPassSignals:"):
            return self._pass_signals(t[len("QPassSignals:"):])
        if t.startswith("QCatchSyscalls:"):
            return self._catch_syscalls(t[len("QCatchSyscalls:"):])
        if t.startswith("vFile:"):
            return self.hostio.handle(t)
        return b""  # unknown packet: unsupported

    # -- resuming ---------------------------------------------------------------------------
    def _resume(self, what: str, t: str) -> Resume | bytes:
        """c/s, or C/S with the signal to deliver (gdb's number): at a held signal or a
        fault, what is delivered instead of it (none, with c/s); elsewhere one delivered
        right here, as ptrace delivers the signal a tracer resumes a task with."""
        signo = 0
        if t[:1] in "CS":
            given = from_gdb(int(t[1:3], 16))
            if given is None:
                self.log(f"signal {t[1:3]} on resume: Linux has no such signal (resumed "
                         "without it)")
                given = 0
            signo = given
        told = self.told_signal
        note = self.s.signal_history_note(signo, told)
        if note is not None:
            self.log(note)
        if what == "cont" and not signo and not told and not self.at_entry_stop:
            # Continuing from a trap instruction reached some other way (a stepi, a
            # breakpoint on it): a caught call's entry is the first stop, as PTRACE_SYSCALL
            # reports it before the kernel runs the call. (The engine's own first step
            # would run it.)
            entry = self.s._catch_entry(self.s.upcoming())
            if entry is not None:
                return Resume(lambda: entry, what)
        step = self.s.cont if what == "cont" else self.step_insn
        return Resume(lambda: self.s.resume_traced(signo, told, what, step), what)

    def _pass_signals(self, args: str) -> bytes:
        """QPassSignals:SIG;SIG...: the signals gdb passes without a stop (its `handle SIG
        nostop noprint pass`): delivered without one."""
        passed = set()
        for part in args.split(";"):
            if part:
                signo = from_gdb(int(part, 16))
                if signo:
                    passed.add(signo)
        self.s.set_pass_signals(passed)
        return b"OK"

    def _vcont(self, actions: str) -> bytes | Resume:
        first = actions.split(";")[0]
        action = first.split(":")[0]
        if not action:
            return b"E01"
        if action[0] in "cC":
            return self._resume("cont", action)
        if action[0] in "sS":
            return self._resume("step", action)
        return b""  # r (range stepping), t: unsupported, gdb falls back

    def step_insn(self):
        """gdb's stepi: one instruction, and a trap or a call into the vDSO is one step over
        (the session's `step` would walk its phases, which gdb has no notion of)."""
        s = self.s
        s.walk = None
        up = s.upcoming()
        if up is not None and (up[0] in TRAP_KINDS or up[0] == "switch"):
            return s.next()
        # One instruction, also a call into the vDSO (the session's `step` would run the
        # whole call as a walk of phases): the engine's own single step.
        return s._command(s._step_one)

    # -- breakpoints ------------------------------------------------------------------------
    def _breakpoint(self, t: str) -> bytes:
        kind, addr_s, length_s = (t[1:].split(",") + ["", ""])[:3]
        if kind in ("2", "3", "4"):
            return self._watchpoint(kind, int(addr_s, 16), int(length_s.split(";")[0], 16),
                                    t[0] == "Z")
        if kind not in ("0", "1"):
            return b""
        addr = int(addr_s, 16)
        if t[0] == "Z":
            if addr not in self.bps:
                # (the first process's only: a child runs undebugged, procs.py)
                self.bps[addr] = self.s.add_breakpoint(f"{addr:#x} pid {self.tid()}")
        else:
            b = self.bps.pop(addr, None)
            if b is not None:
                self.s.remove_breakpoint(b)
        return b"OK"

    def _watchpoint(self, kind: str, addr: int, length: int, insert: bool) -> bytes:
        """Z2/Z3/Z4 (write, read, access): the stepping engine's watchpoints, which stop
        after the access going forward and before it going backward, as hardware ones and
        gdb's record do. The stop reply names it (see stop_reply)."""
        name = WATCH_KINDS[kind]
        if insert:
            try:
                self.s.add_watchpoint(addr, length, name)
            except ValueError:
                return b"E01"
            return b"OK"
        self.s.remove_watchpoint(addr, length, name)
        return b"OK"

    def _catch_syscalls(self, args: str) -> bytes:
        """QCatchSyscalls:1[;NR...] (every call, or these numbers of the process's ABI)
        and QCatchSyscalls:0: entry and return stops, answered as `syscall_entry:NR;` and
        `syscall_return:NR;`."""
        parts = args.split(";")
        try:
            if parts[0] == "0":
                self.s.catch_syscalls(set())
            elif parts[0] == "1":
                numbers = {int(n, 16) for n in parts[1:] if n}
                self.s.catch_syscalls(numbers or None)
            else:
                return b"E01"
        except ValueError:
            return b"E01"
        return b"OK"

    # -- stop replies -----------------------------------------------------------------------
    def tid(self) -> int:
        return self.s.system.process.pid

    def thread_id(self) -> str:
        """The multiprocess form pPID.TID (one thread: TID = PID). gdb then knows the
        process's real pid, and reads /proc/PID/task/PID/maps through vFile to find the
        vDSO's range, from which it loads __kernel_vsyscall's and __vdso_*'s symbols."""
        return f"p{self.tid():x}.{self.tid():x}"

    def exit_reply(self) -> bytes | None:
        p = self.s.system.process
        if not p.exited:
            return None
        self.over = True
        if p.killed_by is not None:
            return b"X%02x;process:%x" % (to_gdb(p.killed_by & 0x7F), p.pid)
        return b"W%02x;process:%x" % (p.status & 0xFF, p.pid)

    def stop_reply_here(self, *, reason: str = "", signal: int = SIGTRAP) -> bytes:
        out = self.exit_reply()
        if out is not None:
            return out
        pc_n = 16 if self.s.bits == 64 else 8
        pc = regs.p_packet(self.s, pc_n, self.view)
        sp = regs.p_packet(self.s, 7 if self.s.bits == 64 else 4, self.view)
        text = f"T{signal:02x}thread:{self.thread_id()};{pc_n:02x}:{pc};" \
               f"{(7 if self.s.bits == 64 else 4):02x}:{sp};"
        if reason:
            text += reason
        return text.encode()

    def stop_reply(self, what: str, stop) -> bytes:
        """The reply to a resume that ended with `stop` (a SessionStop, or the reply)."""
        if isinstance(stop, bytes):
            return stop  # made by a resume wrapper (limits.py, procs.py)
        reason = getattr(stop, "reason", "")
        self.view = None
        self.at_entry_stop = reason == "syscall_entry"
        if reason == "syscall_entry" and getattr(stop, "syscall_nr", None) is not None:
            self.view = entry_registers(self.s, stop.syscall_nr) or None
        self.told_signal = reason in ("signal", "fault")
        if reason == "exited" or self.s.system.process.exited:
            out = self.exit_reply()
            if out is not None:
                return out
        if reason == "breakpoint":
            return self.stop_reply_here(reason="swbreak:;")
        if reason == "watch" and getattr(stop, "data_addr", None) is not None:
            word = WATCH_REPLY.get(getattr(stop, "watch_kind", ""), "awatch")
            return self.stop_reply_here(reason=f"{word}:{stop.data_addr:x};")
        if reason in ("syscall_entry", "syscall_return") and \
                getattr(stop, "syscall_nr", None) is not None:
            return self.stop_reply_here(reason=f"{reason}:{stop.syscall_nr:x};")
        if reason == "start" and what in ("rstep", "rcont"):
            return self.stop_reply_here(reason="replaylog:begin;")
        if reason == "interrupted":
            return self.stop_reply_here(signal=SIGINT)
        if reason == "fault":
            return self.stop_reply_here(signal=to_gdb(self._fault_signal()))
        if reason == "signal" and getattr(stop, "signo", None):
            return self.stop_reply_here(signal=to_gdb(stop.signo))
        return self.stop_reply_here()

    def _fault_signal(self) -> int:
        """The signal the fault the session stopped before will raise (SIGSEGV, ...)."""
        pending = self.s.pos[0].info.get("pending")
        signo = getattr(pending, "signo", None)
        if signo is None:
            signo = getattr(getattr(pending, "fault", None), "signo", None)
        return signo if isinstance(signo, int) else 11

    # -- qXfer ------------------------------------------------------------------------------
    def _xfer(self, t: str) -> bytes:
        parts = t.split(":")
        if len(parts) < 5 or parts[2] != "read":
            return b""
        obj, annex, span = parts[1], parts[3], parts[4]
        off_s, _, len_s = span.partition(",")
        offset, length = int(off_s, 16), int(len_s, 16)
        if obj == "features":
            if annex != "target.xml":
                return b"E00"
            data = target_xml(self.s.bits).encode()
        elif obj == "auxv":
            word = self.s.bits // 8
            data = b"".join(k.to_bytes(word, "little") + (v & ((1 << self.s.bits) - 1))
                            .to_bytes(word, "little") for k, v in self.s.system.process.auxv)
        elif obj == "exec-file":
            data = (self.exec_path or self.s.system.process.exe_path or "").encode()
        elif obj == "libraries-svr4":
            try:
                data = library_list_xml(self.s).encode()
            except NoDynamicSection:
                return b"E01"  # a static program: gdb looks no further
        else:
            return b""
        chunk = data[offset:offset + min(length, MAX_PACKET // 2)]
        return (b"l" if offset + len(chunk) >= len(data) else b"m") + chunk

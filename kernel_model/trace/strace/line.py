"""strace's line: `name(args)`, padding to column 40, "= " and the result; and the
signal and exit lines."""

from __future__ import annotations

from kernel_model.trace.strace.arity import arity
from kernel_model.trace.strace.values import BITS, abi_name, addr_text, errno_text, is_error, signed
from kernel_model.uapi import constants as C
from kernel_model.uapi.constants import chex, coct


class ArgTexts(list):
    """decode_exit's result: the argument texts, plus `ret_aux`, strace's note after the
    return value (fcntl F_GETFL's "flags O_RDONLY"), and `ret_kind` when this call's value
    is shown in another base than its declaration says (F_GETFL: hex; umask: octal).
    format_call passes both on to format_line."""

    ret_aux: str | None = None
    ret_kind: str | None = None
    # i386's ipc() is shown as the call it makes (strace's name for it), and its shmat
    # shows the address it stored as the result.
    shown_name: str | None = None
    ret_override: int | None = None
    # The decoder prints the ", " after the last argument known at entry only at exit
    # (clone's `<... clone resumed>, child_tidptr=...`): see format_unfinished.
    sep_at_exit: bool = False


class CallText(str):
    """format_call's result: `name(args)`, carrying ArgTexts' return decoration."""

    ret_aux: str | None = None
    ret_kind: str | None = None
    ret_override: int | None = None


def format_call(name: str, arg_texts) -> CallText:
    """`name(a, b, c)`; omitted arguments ("") are skipped."""
    name = getattr(arg_texts, "shown_name", None) or name  # ipc(), socketcall(): their call
    text = CallText(f"{name}({', '.join(t for t in arg_texts if t)})")
    text.ret_aux = getattr(arg_texts, "ret_aux", None)
    text.ret_kind = getattr(arg_texts, "ret_kind", None)
    text.ret_override = getattr(arg_texts, "ret_override", None)
    return text


def format_result(ret: int | None, ret_kind: str = "int", abi="x86_64",
                  aux: str | None = None) -> str:
    """What follows "= ": 3, 0x7f..., ?, -1 ENOENT (No such file or directory)."""
    if ret is None:
        return "?"
    if is_error(ret):
        return errno_text(-ret)
    bits = BITS[abi_name(abi)]
    if ret_kind == "u32_errno":  # an -errno returned as an unsigned int (modify_ldt)
        return f"{ret} " + errno_text(0x100000000 - ret).split(" ", 1)[1]
    if ret_kind == "hex":
        text = chex(ret & ((1 << bits) - 1))
    elif ret_kind == "oct":
        text = coct(ret)
    elif ret_kind == "uint":
        text = str(ret & ((1 << bits) - 1))
    else:
        text = str(ret)
    return f"{text} ({aux})" if aux else text


class LineText(str):
    """format_line's result: the line, with its two halves kept (`call`, what precedes the
    padding, and `result`, what follows "= "), so a printer can pad it again after a
    `[pid N] ` prefix."""

    call: str = ""
    result: str = ""


COLUMN = 40  # strace's default -a: where "= " goes


def pad_line(head: str, result: str) -> str:
    """strace's tabto(): the line so far, spaces up to the column, "= " and the result. The
    column counts everything on the line, a `[pid N] ` prefix included."""
    return (head + " ").ljust(COLUMN) + "= " + result


def format_line(call_text: str, ret: int | None, ret_kind: str = "int", abi="x86_64") -> str:
    """strace's line: the call, spaces to column 40, "= " and the result."""
    ret_kind = getattr(call_text, "ret_kind", None) or ret_kind
    override = getattr(call_text, "ret_override", None)
    if override is not None and ret == 0:
        ret = override
    result = format_result(ret, ret_kind, abi, getattr(call_text, "ret_aux", None))
    line = LineText(pad_line(str(call_text), result))
    line.call, line.result = str(call_text), result
    return line


def split_line(line: str) -> tuple[str, str] | None:
    """(call, result) of a syscall line; None for a line with no result (a signal's). A
    LineText says it; a plain string is cut at its last " = " (no result text contains
    one: errno names, "?", hex values and their notes do not)."""
    call = getattr(line, "call", "")
    if call:
        return call, getattr(line, "result", "")
    head, sep, result = line.rpartition(" = ")
    if not sep:
        return None
    return head.rstrip(" "), result


UNFINISHED = " <unfinished ...>"


class Unfinished(str):
    """format_unfinished's result. `head` is what strace printed at the call's entry;
    `pending` says whether arguments were left for its exit (then a call that never
    returns shows ` <unfinished ...>` in its last line)."""

    head: str = ""
    pending: bool = False


def format_unfinished(name: str | None, entry_texts) -> str:
    """strace -f's line for a call that waits while other tasks run: what strace printed at
    entry (the arguments known then, up to the first one shown only at exit, each followed
    by ", " when more are to come), then ` <unfinished ...>`: `wait4(-1,  <unfinished ...>`,
    `futex(0x4c8, FUTEX_WAIT_PRIVATE, 2, NULL <unfinished ...>`, `pause( <unfinished ...>`.
    A decoder that prints the separator at exit (clone, clone3) says so with
    `entry_texts.sep_at_exit`."""
    name = getattr(entry_texts, "shown_name", None) or name
    shown = []
    pending = False
    for text in entry_texts or ():
        if text is None:
            pending = True
            break
        if text:
            shown.append(text)
    name = getattr(entry_texts, "shown_name", None) or name
    head = f"{name}(" + ", ".join(shown)
    if pending and shown and not getattr(entry_texts, "sep_at_exit", False):
        head += ", "
    line = Unfinished(head + UNFINISHED)
    line.head, line.pending = head, pending
    return line


def unfinished_parts(unfinished: str) -> tuple[str, bool]:
    """(head, pending) of an `<unfinished ...>` line, from an Unfinished or its text alone
    (where `pending` is a guess from the spacing: a head ending in ", " or "(")."""
    head = getattr(unfinished, "head", None)
    if head is not None and isinstance(unfinished, Unfinished):
        return head, unfinished.pending
    head = unfinished.removesuffix(UNFINISHED)
    return head, head.endswith(", ")


def format_resumed(name: str | None, unfinished: str, full_line: str) -> str:
    """The `<... NAME resumed>` line: what the unfinished line had not shown yet, then the
    result, padded on its own: `<... wait4 resumed>[{WIFEXITED(s) && ...}], 0, NULL) = 5`."""
    head, _pending = unfinished_parts(unfinished)
    parts = split_line(full_line)
    if parts is None:
        return f"<... {name} resumed>"
    call, result = parts
    if call.startswith(head):
        rest = call[len(head):]
    else:  # the arguments differ from the unfinished line's: show them all again
        rest = call[len(f"{name}("):]
    line = LineText(pad_line(f"<... {name} resumed>{rest}", result))
    line.call, line.result = f"<... {name} resumed>{rest}", result
    return line


def format_vanished(name: str | None, unfinished: str, resumed: bool = True) -> LineText:
    """The last line of a call that never returned (its task was killed, or another thread
    ended the process): `<... read resumed> <unfinished ...>) = ?`, or with `resumed`
    False (nothing was printed since its entry) the whole call: `pause() = ?`."""
    head, pending = unfinished_parts(unfinished)
    start = f"<... {name} resumed>" if resumed else head
    call = start + (UNFINISHED if pending else "") + ")"
    line = LineText(pad_line(call, "?"))
    line.call, line.result = call, "?"
    return line


def format_unknown(nr: int, args) -> str:
    """A number with no name in the table: syscall_0x1f4(0x1, 0x2, 0x3, 0x4, 0x5, 0x6)."""
    return f"syscall_{chex(nr)}({', '.join(chex(a) for a in args)})"


def format_raw(name: str, args, abi="x86_64") -> str:
    """A known syscall with no decoder: its arguments in hex, as many as it takes."""
    return f"{name}({', '.join(chex(a) for a in args[:arity(name, abi)])})"


def format_signal(signo: int, code: int, addr: int, pid: int | None = None,
                  uid: int | None = None, status: int | None = None, utime: int | None = None,
                  stime: int | None = None) -> str:
    """--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10} ---"""
    name = C.signal_name(signo) or str(signo)
    fields = siginfo_fields(signo, code, addr, pid, uid, status, utime, stime)
    return f"--- {name} {{{', '.join(fields)}}} ---"


def siginfo_fields(signo: int, code: int, addr: int = 0, pid: int | None = None,
                   uid: int | None = None, status: int | None = None,
                   utime: int | None = None, stime: int | None = None) -> list[str]:
    """A siginfo's fields as strace prints them (printsiginfo), in a signal's line and in
    waitid's result."""
    name = C.signal_name(signo) or str(signo)
    code = signed(code, 32)
    fields = [f"si_signo={name}", f"si_code={C.si_code_name(signo, code)}"]
    if signo == 17 and code > 0:
        # A child's state change (kernel/signal.c do_notify_parent): who, and its status,
        # an exit code or a signal's name as strace prints it.
        if code in (2, 3, 4, 5, 6):  # CLD_KILLED, _DUMPED, _TRAPPED, _STOPPED, _CONTINUED
            shown = C.signal_name(status or 0) or str(status)
        else:
            shown = str(status or 0)
        fields += [f"si_pid={pid or 0}", f"si_uid={uid or 0}", f"si_status={shown}",
                   f"si_utime={_clock_t(utime or 0)}", f"si_stime={_clock_t(stime or 0)}"]
    elif code <= 0 or (signo not in _FAULT_SIGNALS and (pid or uid)):
        # sent by a process (kill, tgkill): who sent it, not where
        fields += [f"si_pid={pid or 0}", f"si_uid={uid or 0}"]
    elif signo in _FAULT_SIGNALS:
        fields.append(f"si_addr={addr_text(addr)}")
    return fields


def _clock_t(ticks: int) -> str:
    """A clock_t in USER_HZ ticks, with strace's note of the seconds when not zero."""
    return f"{ticks} /* {ticks // 100}.{ticks % 100:02d} s */" if ticks else "0"


_FAULT_SIGNALS = {4, 5, 7, 8, 11}  # SIGILL SIGTRAP SIGBUS SIGFPE SIGSEGV: they carry si_addr


def format_killed(signo: int, core: bool = False) -> str:
    """+++ killed by SIGSEGV +++ ("(core dumped)" only when a core was written)."""
    name = C.signal_name(signo) or str(signo)
    return f"+++ killed by {name}{' (core dumped)' if core else ''} +++"


def format_exited(code: int) -> str:
    return f"+++ exited with {code & 0xFF} +++"

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


class CallText(str):
    """format_call's result: `name(args)`, carrying ArgTexts' return decoration."""

    ret_aux: str | None = None
    ret_kind: str | None = None


def format_call(name: str, arg_texts) -> CallText:
    """`name(a, b, c)`; omitted arguments ("") are skipped."""
    text = CallText(f"{name}({', '.join(t for t in arg_texts if t)})")
    text.ret_aux = getattr(arg_texts, "ret_aux", None)
    text.ret_kind = getattr(arg_texts, "ret_kind", None)
    return text


def format_result(ret: int | None, ret_kind: str = "int", abi="x86_64",
                  aux: str | None = None) -> str:
    """What follows "= ": 3, 0x7f..., ?, -1 ENOENT (No such file or directory)."""
    if ret is None:
        return "?"
    if is_error(ret):
        return errno_text(-ret)
    bits = BITS[abi_name(abi)]
    if ret_kind == "hex":
        text = chex(ret & ((1 << bits) - 1))
    elif ret_kind == "oct":
        text = coct(ret)
    elif ret_kind == "uint":
        text = str(ret & ((1 << bits) - 1))
    else:
        text = str(ret)
    return f"{text} ({aux})" if aux else text


def format_line(call_text: str, ret: int | None, ret_kind: str = "int", abi="x86_64") -> str:
    """strace's line: the call, spaces to column 40, "= " and the result."""
    ret_kind = getattr(call_text, "ret_kind", None) or ret_kind
    result = format_result(ret, ret_kind, abi, getattr(call_text, "ret_aux", None))
    return (call_text + " ").ljust(40) + "= " + result


def format_unfinished(name: str | None, entry_texts) -> str:
    """strace -f's line for a call that waits while other tasks run: the arguments known
    at entry, up to the first one shown only at exit, then `<unfinished ...>`."""
    shown = []
    for text in entry_texts or ():
        if text is None:
            break
        if text:
            shown.append(text)
    head = f"{name}(" + "".join(t + ", " for t in shown)
    return head + "<unfinished ...>"


def format_resumed(name: str | None, unfinished: str, full_line: str) -> str:
    """The `<... NAME resumed>` line: what the unfinished line had not shown yet."""
    shown = unfinished.removesuffix("<unfinished ...>")
    if full_line.startswith(shown):
        rest = full_line[len(shown):]
    else:  # the arguments differ from the unfinished line's: show them all again
        rest = full_line[len(f"{name}("):]
    return f"<... {name} resumed>{rest}"


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
    code = signed(code, 32)
    fields = [f"si_signo={name}", f"si_code={C.si_code_name(signo, code)}"]
    if signo == 17 and code > 0:
        # A child's state change (kernel/signal.c do_notify_parent): who, and its status,
        # an exit code or a signal's name as strace prints it.
        if code in (2, 3, 4, 5):  # CLD_KILLED, CLD_DUMPED, CLD_TRAPPED, CLD_STOPPED
            shown = C.signal_name(status or 0) or str(status)
        else:
            shown = str(status or 0)
        fields += [f"si_pid={pid or 0}", f"si_uid={uid or 0}", f"si_status={shown}",
                   f"si_utime={utime or 0}", f"si_stime={stime or 0}"]
    elif code <= 0 or (signo not in _FAULT_SIGNALS and (pid or uid)):
        # sent by a process (kill, tgkill): who sent it, not where
        fields += [f"si_pid={pid or 0}", f"si_uid={uid or 0}"]
    elif signo in _FAULT_SIGNALS:
        fields.append(f"si_addr={addr_text(addr)}")
    return f"--- {name} {{{', '.join(fields)}}} ---"


_FAULT_SIGNALS = {4, 5, 7, 8, 11}  # SIGILL SIGTRAP SIGBUS SIGFPE SIGSEGV: they carry si_addr


def format_killed(signo: int, core: bool = False) -> str:
    """+++ killed by SIGSEGV +++ ("(core dumped)" only when a core was written)."""
    name = C.signal_name(signo) or str(signo)
    return f"+++ killed by {name}{' (core dumped)' if core else ''} +++"


def format_exited(code: int) -> str:
    return f"+++ exited with {code & 0xFF} +++"

"""The strace decoder: syscall arguments and results as strace 6.1 prints them.

Pure functions; the kernel model calls them around each trap:

    texts = decode_entry(sdef, abi, args, mem)          # in-args; out-args are None
    ... the handler runs ...
    texts = decode_exit(sdef, abi, args, ret, mem, texts)
    line = format_line(format_call(sdef.name, texts), ret, sdef.ret, abi)

`mem` is anything with `read(addr, size) -> bytes` and `read_cstring(addr, limit) -> bytes`
(the bytes before the first NUL, at most `limit` of them) that raise for a bad address.
`abi` is an `Abi` or its name ("x86_64" / "i386").

The rules are strace's own (src/util.c printstr_ex/string_quote, xlat.c printflags, the
per-syscall decoders), checked against strace 6.1 on Linux 6.18: see
tests/test_strace_format.py. An argument's text is "" (OMITTED) when strace leaves that
argument out for these values (openat's mode without O_CREAT, fcntl(F_GETFD)'s third).

The decoder lives in one module per idea: values (addresses, errors), quote (strings),
struct_printers, kinds (each argument kind's text), specials (strace's per-syscall cases),
decode (the two calls above), line (the line's format), summary (the -c table) and arity.
This package gathers their public names, so `strace.format_line` reads as before.
"""

from kernel_model.trace.strace.arity import ARITY, ARITY_I386, arity
from kernel_model.trace.strace.decode import decode_entry, decode_exit
from kernel_model.trace.strace.kinds import HEX_BUFFERS, CallDecoding
from kernel_model.trace.strace.line import (
    ArgTexts,
    CallText,
    LineText,
    Unfinished,
    format_call,
    format_exited,
    format_killed,
    format_line,
    format_raw,
    format_result,
    format_resumed,
    format_signal,
    format_unfinished,
    format_unknown,
    format_vanished,
    pad_line,
    siginfo_fields,
    split_line,
    unfinished_parts,
)
from kernel_model.trace.strace.quote import cstr_text, path_text, quote, str_text
from kernel_model.trace.strace.specials import SPECIAL, time_text
from kernel_model.trace.strace.struct_printers import STRUCT_TEXT, sigset_text, struct_text
from kernel_model.trace.strace.summary import summary_table
from kernel_model.trace.strace.values import (
    MAX_ERRNO,
    OMITTED,
    PATH_MAX,
    addr_text,
    errno_text,
    is_error,
)

__all__ = [
    "ARITY", "ARITY_I386", "HEX_BUFFERS", "MAX_ERRNO", "OMITTED", "PATH_MAX", "SPECIAL",
    "STRUCT_TEXT", "ArgTexts", "CallDecoding", "CallText", "LineText", "Unfinished",
    "addr_text", "arity", "cstr_text", "decode_entry", "decode_exit", "errno_text",
    "format_call", "format_exited", "format_killed", "format_line", "format_raw",
    "format_result", "format_resumed", "format_signal", "format_unfinished", "format_unknown",
    "format_vanished", "is_error", "pad_line", "path_text", "quote", "siginfo_fields",
    "sigset_text", "split_line", "str_text", "unfinished_parts",
    "struct_text", "summary_table", "time_text",
]

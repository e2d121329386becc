"""Strings as strace quotes them (src/util.c string_quote and printstr_ex)."""

from __future__ import annotations

from kernel_model.trace.strace.values import PATH_MAX, addr_text

_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\f"): "\\f", ord("\n"): "\\n",
            ord("\r"): "\\r", ord("\t"): "\\t", ord("\v"): "\\v"}


def quote(data: bytes, *, omit_trailing_nul: bool = False, force_hex: bool = False) -> str:
    """Quote bytes as strace does (no -x): printable ASCII as is, C escapes for \\t \\n etc.,
    the rest in octal (\\0, \\33, \\377; three digits when a digit 0-7 follows, so the
    text stays unambiguous); getrandom's bytes all in hex (`force_hex`)."""
    out = ['"']
    size = len(data)
    for i, c in enumerate(data):
        if force_hex:
            out.append(f"\\x{c:02x}")
        elif omit_trailing_nul and i == size - 1 and c == 0:
            break
        elif c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif 0x20 <= c <= 0x7E:
            out.append(chr(c))
        elif i + 1 < size and 0x30 <= data[i + 1] <= 0x37:
            out.append(f"\\{c:03o}")
        else:
            out.append(f"\\{c:o}")
    out.append('"')
    return "".join(out)


def str_text(mem, addr: int, length: int, limit: int, *, force_hex: bool = False,
             omit_trailing_nul: bool = False) -> str:
    """A buffer of `length` bytes at `addr` (strace's printstrn): at most `limit` of them,
    then "..." after the closing quote when there were more."""
    if addr == 0:
        return "NULL"
    try:
        data = mem.read(addr, min(limit + 1, length))
    except Exception:
        return addr_text(addr)
    text = quote(data[:limit], force_hex=force_hex, omit_trailing_nul=omit_trailing_nul)
    return text + "..." if length > limit else text


def cstr_text(mem, addr: int, limit: int) -> str:
    """A NUL-terminated string, cut at `limit` bytes with "..." (strace's printstr)."""
    if addr == 0:
        return "NULL"
    try:
        data = mem.read_cstring(addr, limit + 1)
    except Exception:
        return addr_text(addr)
    text = quote(data[:limit])
    return text + "..." if len(data) > limit else text


def path_text(mem, addr: int, n: int = PATH_MAX - 1) -> str:
    """A path: printed whole (up to PATH_MAX), never cut at the string limit."""
    return cstr_text(mem, addr, n)

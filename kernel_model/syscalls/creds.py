"""Who a process is: the uid/gid calls (kernel/sys.c: __sys_setuid, __sys_setreuid,
__sys_setresuid, __sys_setfsuid and their gid twins; kernel/groups.c: getgroups and
setgroups; kernel/uid16.c: i386's 16-bit versions).

The rules, without user namespaces: a caller with CAP_SETUID (here: euid 0, see
kernel_model/proc/creds.py) may set any id; any other caller may only move between its
real, effective and saved ids. Every change of the effective id moves the fs id with it,
so the permission checks follow. -1 means "leave it" to the calls that take several ids;
setuid(-1) is EINVAL.

i386's table has two sets: the old calls (setuid, getgroups, ...) take and return 16-bit
ids (65535 is -1, an id above 65535 reads as 65534, the overflow id), the *32 calls
32-bit ones; x86-64 has only 32-bit ids, under the old names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_model.proc.creds import NGROUPS_MAX, NO_CHANGE, OVERFLOW_ID, Credentials
from kernel_model.syscalls.argkinds import Int, OutStruct, Ptr, Uid
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


def _id32(v: int) -> int:
    return v & 0xFFFFFFFF


def _id16(v: int) -> int:
    """low2highuid(): the 16-bit -1 is the 32-bit -1."""
    v &= 0xFFFF
    return NO_CHANGE if v == 0xFFFF else v


def _to16(v: int) -> int:
    """high2lowuid(): an id that does not fit shows as the overflow id."""
    return OVERFLOW_ID if v & ~0xFFFF else v


def _creds(k: SyscallContext) -> Credentials:
    return k.process.creds


def _commit(k: SyscallContext, new: Credentials) -> int:
    k.process.creds = new
    return 0


# -- the setters, on 32-bit ids ------------------------------------------------------------
def _set_one(k: SyscallContext, value: int, kind: str) -> int:
    """setuid/setgid: all of real, effective, saved and fs with the capability; else only
    the effective (and fs) id, to the real or saved one."""
    c = _creds(k)
    if value == NO_CHANGE:
        return -errnos.EINVAL
    r, e, s, f = (f"r{kind}", f"e{kind}", f"s{kind}", f"fs{kind}")
    if c.capable:
        return _commit(k, c.with_(**{r: value, e: value, s: value, f: value}))
    if value in (getattr(c, r), getattr(c, s)):
        return _commit(k, c.with_(**{e: value, f: value}))
    return -errnos.EPERM


def _set_re(k: SyscallContext, real: int, eff: int, kind: str) -> int:
    """setreuid/setregid: the real id may become the old real or effective one, the
    effective any of the three; the saved id follows the new effective one whenever the
    real id is set or the effective one becomes other than the old real id."""
    c = _creds(k)
    r, e, s, f = (f"r{kind}", f"e{kind}", f"s{kind}", f"fs{kind}")
    old_r, old_e, old_s = getattr(c, r), getattr(c, e), getattr(c, s)
    new = {r: old_r, e: old_e, s: old_s}
    if real != NO_CHANGE:
        if not (c.capable or real in (old_r, old_e)):
            return -errnos.EPERM
        new[r] = real
    if eff != NO_CHANGE:
        if not (c.capable or eff in (old_r, old_e, old_s)):
            return -errnos.EPERM
        new[e] = eff
    if real != NO_CHANGE or (eff != NO_CHANGE and eff != old_r):
        new[s] = new[e]
    new[f] = new[e]
    return _commit(k, c.with_(**new))


def _set_res(k: SyscallContext, real: int, eff: int, saved: int, kind: str) -> int:
    """setresuid/setresgid: each given id must be one of the three old ones, unless
    capable."""
    c = _creds(k)
    r, e, s, f = (f"r{kind}", f"e{kind}", f"s{kind}", f"fs{kind}")
    old = (getattr(c, r), getattr(c, e), getattr(c, s))
    if not c.capable:
        for v in (real, eff, saved):
            if v != NO_CHANGE and v not in old:
                return -errnos.EPERM
    new = {r: old[0] if real == NO_CHANGE else real,
           e: old[1] if eff == NO_CHANGE else eff,
           s: old[2] if saved == NO_CHANGE else saved}
    new[f] = new[e]
    return _commit(k, c.with_(**new))


def _set_fs(k: SyscallContext, value: int, kind: str) -> int:
    """setfsuid/setfsgid: always return the old fs id; change it only to one of the four
    ids (or any, with the capability). Failure is silent, as in Linux."""
    c = _creds(k)
    r, e, s, f = (f"r{kind}", f"e{kind}", f"s{kind}", f"fs{kind}")
    old = getattr(c, f)
    if value != NO_CHANGE and (c.capable or value in (getattr(c, r), getattr(c, e),
                                                        getattr(c, s), old)):
        k.process.creds = c.with_(**{f: value})
    return old


def _get_res(k: SyscallContext, addrs: tuple[int, int, int], kind: str, size: int) -> int:
    c = _creds(k)
    values = (getattr(c, f"r{kind}"), getattr(c, f"e{kind}"), getattr(c, f"s{kind}"))
    for addr, v in zip(addrs, values, strict=True):
        v = _to16(v) if size == 2 else v
        k.write(addr, v.to_bytes(size, "little"))
    return 0


# -- groups --------------------------------------------------------------------------------
def _getgroups(k: SyscallContext, size: int, addr: int, width: int) -> int:
    size = size & 0xFFFFFFFF
    if size >> 31:  # a negative int
        return -errnos.EINVAL
    groups = _creds(k).groups
    if size == 0:
        return len(groups)
    if size < len(groups):
        return -errnos.EINVAL
    data = b"".join((_to16(g) if width == 2 else g).to_bytes(width, "little") for g in groups)
    if data:
        k.write(addr, data)
    return len(groups)


def _setgroups(k: SyscallContext, size: int, addr: int, width: int) -> int:
    c = _creds(k)
    if not c.capable:  # may_setgroups(): CAP_SETGID
        return -errnos.EPERM
    size = size & 0xFFFFFFFF
    if size > NGROUPS_MAX:
        return -errnos.EINVAL
    raw = k.read(addr, size * width) if size else b""
    groups = []
    for i in range(size):
        g = int.from_bytes(raw[i * width:(i + 1) * width], "little")
        g = _id16(g) if width == 2 else g
        if g == NO_CHANGE:  # not a valid gid
            return -errnos.EINVAL
        groups.append(g)
    return _commit(k, c.with_(groups=tuple(sorted(groups))))


# -- registration: one set per id width ---------------------------------------------------
def _register(suffix: str, abi: str | None, width: int) -> None:
    """The whole family under names ending in `suffix` ("" or "32"), for `abi`
    (None: every ABI), on ids of `width` bytes."""
    conv = _id16 if width == 2 else _id32
    kind = Uid(bits=8 * width)

    def getter(name: str, attr: str) -> None:
        def get(k: SyscallContext) -> int:
            v = getattr(_creds(k), attr)
            return _to16(v) if width == 2 else v
        syscall(name + suffix, abi=abi)(get)

    for who, attr in (("getuid", "ruid"), ("geteuid", "euid"), ("getgid", "rgid"),
                      ("getegid", "egid")):
        getter(who, attr)
    for ident in ("uid", "gid"):
        syscall(f"set{ident}{suffix}", kind, abi=abi)(
            lambda k, v, _i=ident: _set_one(k, conv(v), _i))
        syscall(f"setre{ident}{suffix}", kind, kind, abi=abi)(
            lambda k, r, e, _i=ident: _set_re(k, conv(r), conv(e), _i))
        syscall(f"setres{ident}{suffix}", kind, kind, kind, abi=abi)(
            lambda k, r, e, s, _i=ident: _set_res(k, conv(r), conv(e), conv(s), _i))
        syscall(f"setfs{ident}{suffix}", kind, abi=abi)(
            lambda k, v, _i=ident: _set_fs(k, conv(v), _i))
        out = OutStruct("uint" if width == 4 else "ushort")
        syscall(f"getres{ident}{suffix}", out, out, out, abi=abi)(
            lambda k, r, e, s, _i=ident: _get_res(k, (r, e, s), _i, width))
    groups = "gid_array" if width == 4 else "gid16_array"
    syscall("getgroups" + suffix, Int(), Ptr(), abi=abi)(
        lambda k, n, a: _getgroups(k, n, a, width))
    syscall("setgroups" + suffix, Int(), Ptr(), abi=abi)(
        lambda k, n, a: _setgroups(k, n, a, width))
    GROUP_ARRAYS[(abi, "getgroups" + suffix)] = GROUP_ARRAYS[(abi, "setgroups" + suffix)] \
        = groups


# How strace shows getgroups/setgroups's array: its element width by (abi, name).
GROUP_ARRAYS: dict[tuple[str | None, str], str] = {}

_register("", None, 4)  # x86-64: 32-bit ids under the plain names
_register("", "i386", 2)  # i386: the plain names are the 16-bit calls (kernel/uid16.c)
_register("32", "i386", 4)

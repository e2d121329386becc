"""How strace shows the file-operation and credential calls (its statfs.c, utimes.c,
uid.c and sendfile decoders): struct statfs with the file system's magic by name, the two
times of utimensat/utimes/utime with their dates as a comment, the groups arrays, and
sendfile's offset before and after ("[0] => [5]")."""

from __future__ import annotations

import time
from typing import Callable

from kernel_model.trace.strace.kinds import CallDecoding
from kernel_model.trace.strace.line import ArgTexts
from kernel_model.trace.strace.values import OMITTED, addr_text, signed
from kernel_model.uapi import structs as S

UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2


def _date(sec: int, frac: int, digits: int) -> str:
    """strace's sprinttime_nsec/usec: local time, the fraction only when not zero."""
    try:
        t = time.localtime(sec)
    except (OverflowError, OSError, ValueError):
        return ""
    text = time.strftime("%Y-%m-%dT%H:%M:%S", t)
    if frac:
        text += "." + str(frac).zfill(digits)
    return f" /* {text}{time.strftime('%z', t)} */"


def _time_pair(call: CallDecoding, addr: int, word: str, unit: str) -> str:
    """[{tv_sec=..., tv_nsec=...} /* date */, UTIME_OMIT] (unit "nsec" or "usec")."""
    if addr == 0:
        return "NULL"
    size = 8 if word == "q" else 4
    try:
        raw = call.mem.read(addr, 4 * size)
    except Exception:
        return addr_text(addr)
    vals = [int.from_bytes(raw[i * size:(i + 1) * size], "little", signed=True)
            for i in range(4)]
    items = []
    for sec, frac in ((vals[0], vals[1]), (vals[2], vals[3])):
        if unit == "nsec" and frac == UTIME_NOW:
            items.append("UTIME_NOW")
            continue
        if unit == "nsec" and frac == UTIME_OMIT:
            items.append("UTIME_OMIT")
            continue
        limit = 1_000_000_000 if unit == "nsec" else 1_000_000
        shown = frac & ((1 << (8 * size)) - 1)
        text = f"{{tv_sec={sec}, tv_{unit}={shown}}}"
        if 0 <= frac < limit:
            text += _date(sec, frac, 9 if unit == "nsec" else 6)
        items.append(text)
    return "[" + ", ".join(items) + "]"


def _times(index: int, unit: str, word: str | None = None):
    def fix(call: CallDecoding, texts: ArgTexts) -> None:
        if not call.exiting and index < len(texts):
            w = word or ("q" if call.bits == 64 else "i")
            texts[index] = _time_pair(call, call.arg(index), w, unit)
    return fix


def _utimbuf(call: CallDecoding, texts: ArgTexts) -> None:
    if call.exiting or len(texts) < 2:
        return
    addr = call.arg(1)
    if addr == 0:
        texts[1] = "NULL"
        return
    try:
        f = S.unpack("utimbuf", call.abi, call.mem.read(addr, S.sizeof("utimbuf", call.abi)))
    except Exception:
        texts[1] = addr_text(addr)
        return
    texts[1] = (f"{{actime={f['actime']}{_date(f['actime'], 0, 0)}, "
                f"modtime={f['modtime']}{_date(f['modtime'], 0, 0)}}}")


def _groups(at_exit: bool):
    """getgroups (shown after the call, as many as it returned) and setgroups (at entry,
    as many as given): [10, 20]; the address when it cannot be read. i386's plain
    getgroups and setgroups take 16-bit ids, their *32 forms and x86-64's 32-bit ones."""
    def fix(call: CallDecoding, texts: ArgTexts) -> None:
        if len(texts) < 2 or call.exiting != at_exit:
            return
        width = 2 if call.abi == "i386" and not call.sdef.name.endswith("32") else 4
        size, addr = call.arg(0) & 0xFFFFFFFF, call.arg(1)
        if at_exit:
            if call.failed or call.ret is None:
                texts[1] = addr_text(addr)
                return
            count = call.ret if size else 0
            if size == 0 and addr == 0:
                texts[1] = "NULL"
                return
        else:
            count = size
            if addr == 0:
                texts[1] = "NULL"
                return
        try:
            raw = call.mem.read(addr, count * width) if count else b""
        except Exception:
            texts[1] = addr_text(addr)
            return
        ids = [int.from_bytes(raw[i * width:(i + 1) * width], "little") for i in range(count)]
        shown = [str(v) if v != (1 << 8 * width) - 1 else "-1" for v in ids[:call.limit]]
        if len(ids) > call.limit:
            shown.append("...")
        texts[1] = "[" + ", ".join(shown) + "]"
    return fix


def _offset(index: int, both: bool):
    """sendfile's offset: "[0] => [5]" when the call moved it; copy_file_range shows only
    the offset it was given. i386's sendfile takes a 32-bit off_t."""
    def fix(call: CallDecoding, texts: ArgTexts) -> None:
        if index >= len(texts):
            return
        struct = "int" if call.abi == "i386" and call.sdef.name == "sendfile" else "loff_t"
        addr = call.arg(index)
        if not call.exiting:
            if addr == 0:
                texts[index] = "NULL"
            else:
                texts[index] = _scalar(call, addr, struct)
            return
        if both and addr and not call.failed and call.ret is not None:
            texts[index] = f"{texts[index]} => {_scalar(call, addr, struct)}"
    return fix


def _scalar(call: CallDecoding, addr: int, struct: str) -> str:
    try:
        v = S.unpack(struct, call.abi, call.mem.read(addr, S.sizeof(struct, call.abi)))
    except Exception:
        return addr_text(addr)
    return f"[{v['value']}]"


def _pairs(*pairs: tuple[int, int]):
    """i386's 64-bit arguments in two words (low first): strace shows one number and
    leaves the high word out (fallocate, truncate64, ftruncate64)."""
    def fix(call: CallDecoding, texts: ArgTexts) -> None:
        if call.exiting or call.abi != "i386":
            return
        for lo, hi in pairs:
            if hi < len(texts):
                texts[lo] = str(signed(call.arg(hi) << 32 | call.arg(lo), 64))
                texts[hi] = OMITTED
    return fix


def _copy_file_range(call: CallDecoding, texts: ArgTexts) -> None:
    _offset(1, False)(call, texts)
    _offset(3, False)(call, texts)


FILEOPS_SPECIALS: dict[str, Callable[[CallDecoding, ArgTexts], None]] = {
    "utimensat": _times(2, "nsec"), "utimensat_time64": _times(2, "nsec", "q"),
    "utimes": _times(1, "usec"), "futimesat": _times(2, "usec"),
    "utime": _utimbuf,
    "getgroups": _groups(True), "setgroups": _groups(False),
    "getgroups32": _groups(True), "setgroups32": _groups(False),
    "sendfile": _offset(2, True), "sendfile64": _offset(2, True),
    "copy_file_range": _copy_file_range,
    "fallocate": _pairs((2, 3), (4, 5)),
    "truncate64": _pairs((1, 2)), "ftruncate64": _pairs((1, 2)),
}

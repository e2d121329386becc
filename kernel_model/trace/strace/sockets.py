"""The socket calls as strace 6.1 prints them (src/net.c, sockaddr.c, msghdr.c, and the
xlat tables of address families, socket types, MSG_* flags, levels and options):

    socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3
    bind(3, {sa_family=AF_UNIX, sun_path="/tmp/s"}, 110) = 0
    connect(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}, 16)
    getsockname(3, {sa_family=AF_UNIX, sun_path=@"x"}, [110 => 4]) = 0
    sendmsg(3, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="hi", iov_len=2}],
                msg_iovlen=1, msg_controllen=0, msg_flags=0}, MSG_NOSIGNAL) = 2
    getsockopt(3, SOL_SOCKET, SO_PEERCRED, {pid=1, uid=0, gid=0}, [12]) = 0

A length that the call both reads and writes (socklen_t *) shows `[in => out]` when they
differ: the value read at entry is kept on the entry texts (`entry_values`). i386's
socketcall is shown as the call it carries, under that call's name (`shown_name`)."""

from __future__ import annotations

import ipaddress
import struct
from typing import Callable

from kernel_model.net import uapi as U
from kernel_model.trace.strace.kinds import CallDecoding, iovec_text
from kernel_model.trace.strace.line import ArgTexts
from kernel_model.trace.strace.quote import quote, str_text
from kernel_model.trace.strace.struct_printers import struct_text
from kernel_model.trace.strace.values import addr_text
from kernel_model.uapi.errnos import ERRNOS

FAMILIES = {0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 3: "AF_AX25", 4: "AF_IPX",
            5: "AF_APPLETALK", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET",
            31: "AF_BLUETOOTH", 38: "AF_ALG", 40: "AF_VSOCK", 44: "AF_XDP"}
TYPES = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM",
         5: "SOCK_SEQPACKET", 6: "SOCK_DCCP", 10: "SOCK_PACKET"}
IPPROTOS = {0: "IPPROTO_IP", 1: "IPPROTO_ICMP", 6: "IPPROTO_TCP", 17: "IPPROTO_UDP",
            41: "IPPROTO_IPV6", 58: "IPPROTO_ICMPV6", 132: "IPPROTO_SCTP",
            136: "IPPROTO_UDPLITE", 255: "IPPROTO_RAW"}
NETLINK_PROTOS = {0: "NETLINK_ROUTE", 4: "NETLINK_SOCK_DIAG", 15: "NETLINK_KOBJECT_UEVENT"}
MSG_FLAGS = (("MSG_OOB", 0x1), ("MSG_PEEK", 0x2), ("MSG_DONTROUTE", 0x4),
             ("MSG_CTRUNC", 0x8), ("MSG_PROXY", 0x10), ("MSG_TRUNC", 0x20),
             ("MSG_DONTWAIT", 0x40), ("MSG_EOR", 0x80), ("MSG_WAITALL", 0x100),
             ("MSG_FIN", 0x200), ("MSG_SYN", 0x400), ("MSG_CONFIRM", 0x800),
             ("MSG_RST", 0x1000), ("MSG_ERRQUEUE", 0x2000), ("MSG_NOSIGNAL", 0x4000),
             ("MSG_MORE", 0x8000), ("MSG_WAITFORONE", 0x10000), ("MSG_BATCH", 0x40000),
             ("MSG_ZEROCOPY", 0x4000000), ("MSG_FASTOPEN", 0x20000000),
             ("MSG_CMSG_CLOEXEC", 0x40000000))
LEVELS = {0: "SOL_IP", 1: "SOL_SOCKET", 6: "SOL_TCP", 17: "SOL_UDP", 41: "SOL_IPV6",
          255: "SOL_RAW"}
SOCKET_OPTIONS = {1: "SO_DEBUG", 2: "SO_REUSEADDR", 3: "SO_TYPE", 4: "SO_ERROR",
                  5: "SO_DONTROUTE", 6: "SO_BROADCAST", 7: "SO_SNDBUF", 8: "SO_RCVBUF",
                  9: "SO_KEEPALIVE", 10: "SO_OOBINLINE", 11: "SO_NO_CHECK",
                  12: "SO_PRIORITY", 13: "SO_LINGER", 14: "SO_BSDCOMPAT", 15: "SO_REUSEPORT",
                  16: "SO_PASSCRED", 17: "SO_PEERCRED", 18: "SO_RCVLOWAT", 19: "SO_SNDLOWAT",
                  20: "SO_RCVTIMEO_OLD", 21: "SO_SNDTIMEO_OLD", 30: "SO_ACCEPTCONN",
                  32: "SO_SNDBUFFORCE", 33: "SO_RCVBUFFORCE", 38: "SO_PROTOCOL",
                  39: "SO_DOMAIN"}
TCP_OPTIONS = {1: "TCP_NODELAY", 2: "TCP_MAXSEG", 3: "TCP_CORK", 4: "TCP_KEEPIDLE",
               5: "TCP_KEEPINTVL", 6: "TCP_KEEPCNT", 7: "TCP_SYNCNT", 8: "TCP_LINGER2",
               9: "TCP_DEFER_ACCEPT", 10: "TCP_WINDOW_CLAMP", 11: "TCP_INFO",
               12: "TCP_QUICKACK", 13: "TCP_CONGESTION"}
IP_OPTIONS = {1: "IP_TOS", 2: "IP_TTL"}
IPV6_OPTIONS = {26: "IPV6_V6ONLY"}
OPTIONS_BY_LEVEL = {1: (SOCKET_OPTIONS, "SO_???"), 6: (TCP_OPTIONS, "TCP_???"),
                    0: (IP_OPTIONS, "IP_???"), 41: (IPV6_OPTIONS, "IPV6_???")}
SHUT_HOW = {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}
SCM_TYPES = {1: "SCM_RIGHTS", 2: "SCM_CREDENTIALS", 3: "SCM_SECURITY"}


def _xval(table: dict[int, str], value: int, unknown: str) -> str:
    name = table.get(value)
    return name if name is not None else f"{value:#x} /* {unknown} */"


def msg_flags_text(value: int) -> str:
    value &= 0xFFFFFFFF
    parts = []
    for name, bit in MSG_FLAGS:
        if value & bit:
            parts.append(name)
            value &= ~bit
    if value:
        parts.append(f"{value:#x}")
    return "|".join(parts) or "0"


def type_text(value: int) -> str:
    value &= 0xFFFFFFFF
    parts = [_xval(TYPES, value & 0xF, "SOCK_???")]
    rest = value & ~0xF
    for name, bit in (("SOCK_CLOEXEC", U.SOCK_CLOEXEC), ("SOCK_NONBLOCK", U.SOCK_NONBLOCK)):
        if rest & bit:
            parts.append(name)
            rest &= ~bit
    if rest:
        parts.append(f"{rest:#x}")
    return "|".join(parts)


def protocol_text(family: int, proto: int) -> str:
    if family in (U.AF_INET, U.AF_INET6):
        return _xval(IPPROTOS, proto, "IPPROTO_???")
    if family == U.AF_NETLINK:
        return _xval(NETLINK_PROTOS, proto, "NETLINK_???")
    return str(proto)


# -- struct sockaddr -------------------------------------------------------------------------
def sockaddr_text(raw: bytes) -> str:
    """strace's print_sockaddr for the bytes the kernel read or wrote."""
    if len(raw) < 2:
        return "{sa_family=AF_UNSPEC}" if not raw else addr_text(0)
    family = int.from_bytes(raw[:2], "little")
    head = "{sa_family=" + _xval(FAMILIES, family, "AF_???")
    body = raw[2:]
    if family == U.AF_UNIX:
        if not body:
            return head + "}"
        if body[0] == 0:
            return f"{head}, sun_path=@{quote(body[1:])}}}"
        path = body.split(b"\0", 1)[0]
        return f"{head}, sun_path={quote(path)}}}"
    if family == U.AF_INET and len(raw) >= 16:
        port = struct.unpack(">H", raw[2:4])[0]
        ip = ipaddress.IPv4Address(raw[4:8])
        return f'{head}, sin_port=htons({port}), sin_addr=inet_addr("{ip}")}}'
    if family == U.AF_INET6 and len(raw) >= 24:
        port = struct.unpack(">H", raw[2:4])[0]
        flow = struct.unpack(">I", raw[4:8])[0]
        ip6 = ipaddress.IPv6Address(raw[8:24])
        text = (f"{head}, sin6_port=htons({port}), sin6_flowinfo=htonl({flow}), "
                f'inet_pton(AF_INET6, "{ip6}", &sin6_addr)')
        if len(raw) >= 28:
            text += f", sin6_scope_id={struct.unpack('<I', raw[24:28])[0]}"
        return text + "}"
    return f"{head}, sa_data={quote(body)}}}"


def _sockaddr_at(call: CallDecoding, addr: int, length: int) -> str:
    if addr == 0:
        return "NULL"
    if length <= 0:
        return addr_text(addr)
    try:
        return sockaddr_text(call.mem.read(addr, min(length, U.SOCKADDR_STORAGE)))
    except Exception:
        return addr_text(addr)


def _int_at(call: CallDecoding, addr: int) -> int | None:
    try:
        return struct.unpack("<i", call.mem.read(addr, 4))[0]
    except Exception:
        return None


def _entry_values(texts: ArgTexts) -> dict:
    values = getattr(texts, "entry_values", None)
    if values is None:
        values = {}
        texts.entry_values = values  # type: ignore[attr-defined]
    return values


def _inout_len(call: CallDecoding, texts: ArgTexts, index: int) -> str:
    """[110 => 11], or [16] when the call left it as it was (or failed)."""
    addr = call.arg(index)
    if addr == 0:
        return "NULL"
    before = _entry_values(texts).get(index)
    after = _int_at(call, addr)
    if before is None or after is None:
        return addr_text(addr)
    if call.failed or after == before:
        return f"[{before}]"
    return f"[{before} => {after}]"


def _remember_len(call: CallDecoding, texts: ArgTexts, index: int) -> None:
    addr = call.arg(index)
    if addr:
        _entry_values(texts)[index] = _int_at(call, addr)


# -- the calls -------------------------------------------------------------------------------
def _socket(call: CallDecoding, texts: ArgTexts) -> None:
    if call.exiting:
        return
    family = call.int_arg(0)
    texts[0] = _xval(FAMILIES, family, "AF_???")
    texts[1] = type_text(call.arg(1))
    texts[2] = protocol_text(family, call.int_arg(2))


def _socketpair(call: CallDecoding, texts: ArgTexts) -> None:
    if not call.exiting:
        _socket(call, texts)
        texts[3] = None
        return
    addr = call.arg(3)
    if call.failed:
        texts[3] = addr_text(addr)
        return
    try:
        a, b = struct.unpack("<ii", call.mem.read(addr, 8))
        texts[3] = f"[{a}, {b}]"
    except Exception:
        texts[3] = addr_text(addr)


def _addr_in(call: CallDecoding, texts: ArgTexts) -> None:
    """bind, connect: (fd, const struct sockaddr *, socklen_t)."""
    if not call.exiting:
        texts[1] = _sockaddr_at(call, call.arg(1), call.int_arg(2))


def _addr_out(addr_i: int, len_i: int):
    """getsockname, getpeername, accept: the address and length the call wrote."""
    def fix(call: CallDecoding, texts: ArgTexts) -> None:
        if not call.exiting:
            _remember_len(call, texts, len_i)
            texts[addr_i] = None
            texts[len_i] = None
            return
        addr = call.arg(addr_i)
        written = _int_at(call, call.arg(len_i)) if call.arg(len_i) else None
        before = _entry_values(texts).get(len_i)
        if call.failed or written is None:
            texts[addr_i] = addr_text(addr)
        else:
            texts[addr_i] = _sockaddr_at(call, addr, min(written, before or 0))
        texts[len_i] = _inout_len(call, texts, len_i)
    return fix


def _accept4(call: CallDecoding, texts: ArgTexts) -> None:
    _addr_out(1, 2)(call, texts)
    if not call.exiting and len(texts) > 3:
        texts[3] = _accept_flags(call.arg(3))


def _accept_flags(value: int) -> str:
    parts = []
    for name, bit in (("SOCK_CLOEXEC", U.SOCK_CLOEXEC), ("SOCK_NONBLOCK", U.SOCK_NONBLOCK)):
        if value & bit:
            parts.append(name)
            value &= ~bit
    if value:
        parts.append(f"{value:#x}")
    return "|".join(parts) or "0"


def _sendto(call: CallDecoding, texts: ArgTexts) -> None:
    if call.exiting:
        return
    texts[3] = msg_flags_text(call.arg(3))
    if len(texts) > 5:
        texts[4] = _sockaddr_at(call, call.arg(4), call.int_arg(5))


def _recvfrom(call: CallDecoding, texts: ArgTexts) -> None:
    if not call.exiting:
        texts[3] = msg_flags_text(call.arg(3))
        if len(texts) > 5:
            _remember_len(call, texts, 5)
            texts[4] = texts[5] = None
        return
    if not call.failed and call.ret is not None:  # what fits the buffer (MSG_TRUNC)
        texts[1] = str_text(call.mem, call.arg(1), min(call.ret, call.arg(2)), call.limit)
    if len(texts) > 5:
        src, lenp = call.arg(4), call.arg(5)
        written = _int_at(call, lenp) if lenp else None
        before = _entry_values(texts).get(5)
        if call.failed or not written or src == 0:
            texts[4] = addr_text(src)
        else:
            texts[4] = _sockaddr_at(call, src, min(written, before or 0))
        texts[5] = _inout_len(call, texts, 5)


def _shutdown(call: CallDecoding, texts: ArgTexts) -> None:
    if not call.exiting:
        texts[1] = _xval(SHUT_HOW, call.int_arg(1), "SHUT_???")


# -- socket options --------------------------------------------------------------------------
def _option_names(level: int, name: int) -> tuple[str, str]:
    table, unknown = OPTIONS_BY_LEVEL.get(level, ({}, "???"))
    return _xval(LEVELS, level, "SOL_??"), _xval(table, name, unknown)


def _option_value(call: CallDecoding, level: int, name: int, addr: int, length: int) -> str:
    """An option's value as strace shows it: [int], a struct, or the raw bytes."""
    if addr == 0:
        return "NULL"
    try:
        data = call.mem.read(addr, max(length, 0))
    except Exception:
        return addr_text(addr)
    if level == U.SOL_SOCKET and name == U.SO_PEERCRED and length >= 12:
        pid, uid, gid = struct.unpack_from("<iII", data)
        return f"{{pid={pid}, uid={uid}, gid={gid}}}"
    if level == U.SOL_SOCKET and name == U.SO_LINGER and length >= 8:
        onoff, linger = struct.unpack_from("<ii", data)
        return f"{{l_onoff={onoff}, l_linger={linger}}}"
    if level == U.SOL_SOCKET and name == U.SO_ERROR and length == 4:
        err = struct.unpack("<i", data)[0]
        return f"[{ERRNOS[err][0]}]" if err in ERRNOS else f"[{err}]"
    if length == 4 and not (level == U.SOL_SOCKET and name in (U.SO_RCVTIMEO_OLD,
                                                                U.SO_SNDTIMEO_OLD)):
        return f"[{struct.unpack('<i', data)[0]}]"
    return quote(data[:call.limit]) + ("..." if length > call.limit else "")


def _setsockopt(call: CallDecoding, texts: ArgTexts) -> None:
    if call.exiting:
        return
    level, name = call.int_arg(1), call.int_arg(2)
    texts[1], texts[2] = _option_names(level, name)
    texts[3] = _option_value(call, level, name, call.arg(3), call.int_arg(4))


def _getsockopt(call: CallDecoding, texts: ArgTexts) -> None:
    level, name = call.int_arg(1), call.int_arg(2)
    if not call.exiting:
        texts[1], texts[2] = _option_names(level, name)
        _remember_len(call, texts, 4)
        texts[3] = texts[4] = None
        return
    written = _int_at(call, call.arg(4)) if call.arg(4) else None
    if call.failed or written is None:
        texts[3] = addr_text(call.arg(3))
    else:
        texts[3] = _option_value(call, level, name, call.arg(3), written)
    texts[4] = _inout_len(call, texts, 4)


# -- struct msghdr ---------------------------------------------------------------------------
def _msghdr_fields(call: CallDecoding, addr: int) -> tuple | None:
    fmt, size = ("<QIxxxxQQQQIxxxx", 56) if call.bits == 64 else ("<7I", 28)
    try:
        return struct.unpack(fmt, call.mem.read(addr, size))
    except Exception:
        return None


def _cmsgs_text(call: CallDecoding, addr: int, length: int) -> str:
    hdr, align = (16, 8) if call.bits == 64 else (12, 4)
    try:
        raw = call.mem.read(addr, length)
    except Exception:
        return addr_text(addr)
    items = []
    pos = 0
    while pos + hdr <= len(raw):
        fmt = "<Qii" if hdr == 16 else "<Iii"
        clen, level, kind = struct.unpack_from(fmt, raw, pos)
        data = raw[pos + hdr:pos + min(clen, len(raw) - pos)]
        level_text = _xval(LEVELS, level, "SOL_??")
        if level == U.SOL_SOCKET:
            kind_text = _xval(SCM_TYPES, kind, "SCM_???")
        else:
            kind_text = f"{kind:#x}"
        if level == U.SOL_SOCKET and kind == U.SCM_RIGHTS:
            fds = struct.unpack(f"<{len(data) // 4}i", data[:len(data) // 4 * 4])
            body = "[" + ", ".join(map(str, fds)) + "]"
        elif level == U.SOL_SOCKET and kind == U.SCM_CREDENTIALS and len(data) >= 12:
            pid, uid, gid = struct.unpack_from("<iII", data)
            body = f"{{pid={pid}, uid={uid}, gid={gid}}}"
        else:
            body = quote(data)
        items.append(f"{{cmsg_len={clen}, cmsg_level={level_text}, cmsg_type={kind_text}, "
                     f"cmsg_data={body}}}")
        if clen < hdr:
            break
        pos += (clen + align - 1) & ~(align - 1)
    return "[" + ", ".join(items) + "]"


def msghdr_text(call: CallDecoding, addr: int, data_size: int | None,
                namelen_before: int | None = None) -> str:
    fields = _msghdr_fields(call, addr)
    if fields is None:
        return addr_text(addr)
    name, namelen, iov, iovlen, control, controllen, flags = fields
    if name == 0:
        name_text = "NULL"
    elif namelen == 0:
        name_text = addr_text(name)
    else:
        shown = namelen if namelen_before is None else min(namelen, namelen_before)
        name_text = _sockaddr_at(call, name, shown)
    namelen_text = str(namelen) if namelen_before is None or namelen_before == namelen \
        else f"{namelen_before} => {namelen}"
    parts = [f"msg_name={name_text}", f"msg_namelen={namelen_text}",
             f"msg_iov={iovec_text(call, iov, iovlen, data_size=data_size)}",
             f"msg_iovlen={iovlen}"]
    if controllen:
        parts.append(f"msg_control={_cmsgs_text(call, control, controllen)}")
    parts += [f"msg_controllen={controllen}", f"msg_flags={msg_flags_text(flags)}"]
    return "{" + ", ".join(parts) + "}"


def _sendmsg(call: CallDecoding, texts: ArgTexts) -> None:
    if not call.exiting:
        texts[1] = msghdr_text(call, call.arg(1), None)
        texts[2] = msg_flags_text(call.arg(2))


def _recvmsg(call: CallDecoding, texts: ArgTexts) -> None:
    if not call.exiting:
        fields = _msghdr_fields(call, call.arg(1))
        _entry_values(texts)[1] = fields[1] if fields else None
        texts[1] = None
        texts[2] = msg_flags_text(call.arg(2))
        return
    if call.failed or call.ret is None:
        texts[1] = addr_text(call.arg(1))
        return
    texts[1] = msghdr_text(call, call.arg(1), call.ret, _entry_values(texts).get(1))


def _mmsg(receiving: bool):
    """sendmmsg, recvmmsg: the array of {msg_hdr, msg_len} the call went through (as many
    entries as it returned), shown after the call."""
    def fix(call: CallDecoding, texts: ArgTexts) -> None:
        if not call.exiting:
            texts[3] = msg_flags_text(call.arg(3))
            texts[1] = None
            if receiving and len(texts) > 4:
                texts[4] = struct_text("timespec", call.abi, call.mem, call.arg(4))
            return
        if call.failed or call.ret is None:
            texts[1] = addr_text(call.arg(1))
            return
        size = 64 if call.bits == 64 else 32
        items = []
        for i in range(min(call.ret, call.limit)):
            at = call.arg(1) + i * size
            try:
                raw = call.mem.read(at + size - (8 if size == 64 else 4), 4)
            except Exception:
                break
            length = struct.unpack("<I", raw)[0]
            hdr = msghdr_text(call, at, length if receiving else None)
            items.append(f"{{msg_hdr={hdr}, msg_len={length}}}")
        if call.ret > call.limit:
            items.append("...")
        texts[1] = "[" + ", ".join(items) + "]"
    return fix


# -- i386 socketcall -------------------------------------------------------------------------
class _SubCall:
    """What the decoder needs of the call socketcall carries."""

    def __init__(self, name: str, args) -> None:
        self.name = name
        self.args = args


def _subcall(call: CallDecoding):
    from kernel_model.syscalls.argkinds import Fd, InBuf, Int, OutBuf, UInt
    from kernel_model.syscalls.registry import lookup
    from kernel_model.syscalls.socketcall import SUBCALLS

    sub = SUBCALLS.get(call.arg(0))
    if sub is None:
        return None
    name, n = sub
    try:
        words = struct.unpack(f"<{n}I", call.mem.read(call.arg(1), 4 * n))
    except Exception:
        return None
    if name in ("send", "recv"):
        buf = InBuf(2) if name == "send" else OutBuf(2)
        sdef = _SubCall(name, (Fd(), buf, UInt(), Int()))
    else:
        found = lookup("i386", name)
        if found is None:
            return None
        sdef = _SubCall(name, found.args)
    return sdef, words


def _socketcall(call: CallDecoding, texts: ArgTexts) -> None:
    from kernel_model.trace.strace.decode import decode_entry, decode_exit

    found = _subcall(call)
    if found is None:
        return
    sdef, words = found
    if not call.exiting:
        sub = decode_entry(sdef, call.abi, words, call.mem, call.limit)
        _entry_values(texts)["sub"] = sub
    else:
        before = _entry_values(texts).get("sub")
        sub = decode_exit(sdef, call.abi, words, call.ret, call.mem, before, call.limit)
    texts[:] = list(sub)
    texts.shown_name = sdef.name  # type: ignore[attr-defined]


def _send(call: CallDecoding, texts: ArgTexts) -> None:
    if not call.exiting and len(texts) > 3:
        texts[3] = msg_flags_text(call.arg(3))


def _recv(call: CallDecoding, texts: ArgTexts) -> None:
    if not call.exiting and len(texts) > 3:
        texts[3] = msg_flags_text(call.arg(3))


SOCKET_SPECIALS: dict[str, Callable[[CallDecoding, ArgTexts], None]] = {
    "socket": _socket, "socketpair": _socketpair,
    "bind": _addr_in, "connect": _addr_in,
    "accept": _addr_out(1, 2), "accept4": _accept4,
    "getsockname": _addr_out(1, 2), "getpeername": _addr_out(1, 2),
    "sendto": _sendto, "recvfrom": _recvfrom, "send": _send, "recv": _recv,
    "sendmsg": _sendmsg, "recvmsg": _recvmsg,
    "sendmmsg": _mmsg(False), "recvmmsg": _mmsg(True), "recvmmsg_time64": _mmsg(True),
    "shutdown": _shutdown,
    "setsockopt": _setsockopt, "getsockopt": _getsockopt,
    "socketcall": _socketcall,
}

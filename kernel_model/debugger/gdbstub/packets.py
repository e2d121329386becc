"""The remote protocol's framing: `$payload#cs` packets, `+`/`-` acknowledgements, the
0x7d escape, run-length encoding, and the 0x03 interrupt byte.

The reader never raises on what a client sends: garbage between packets is skipped, a
packet with a bad checksum is answered with `-` (gdb then sends it again), an overlong
one is dropped.
"""

from __future__ import annotations

INTERRUPT = b"\x03"
ESCAPE = 0x7D
MAX_PACKET = 64 * 1024  # what qSupported announces as PacketSize (hex 10000)


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def frame(payload: bytes) -> bytes:
    """`$payload#cs`, with `$ # } *` escaped (gdb decodes escapes in every reply)."""
    out = bytearray()
    for b in payload:
        if b in (0x23, 0x24, ESCAPE, 0x2A):
            out += bytes((ESCAPE, b ^ 0x20))
        else:
            out.append(b)
    return b"$" + bytes(out) + b"#%02x" % checksum(bytes(out))


def unescape(data: bytes) -> bytes:
    """Undo the 0x7d escapes of binary data (X, vFile); a trailing lone escape is dropped."""
    out = bytearray()
    i = 0
    while i < len(data):
        b = data[i]
        if b == ESCAPE:
            if i + 1 < len(data):
                out.append(data[i + 1] ^ 0x20)
            i += 2
            continue
        out.append(b)
        i += 1
    return bytes(out)


def expand_rle(data: bytes) -> bytes:
    """Run-length decoding (`X*n`: X repeated n-29 more times). gdb does not compress what
    it sends, but a hand-written client might."""
    if b"*" not in data:
        return data
    out = bytearray()
    i = 0
    while i < len(data):
        b = data[i]
        if b == 0x2A and out and i + 1 < len(data):
            out += bytes((out[-1],)) * max(0, data[i + 1] - 29)
            i += 2
            continue
        out.append(b)
        i += 1
    return bytes(out)


class PacketReader:
    """Splits a byte stream into events: ("packet", payload), ("interrupt", None),
    ("ack", b"+"|b"-"), ("bad", reason) for a checksum error (to be nacked)."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[str, bytes | None]]:
        self.buf += data
        events: list[tuple[str, bytes | None]] = []
        while self.buf:
            b = self.buf[0]
            if b == 0x24:  # '$'
                end = self.buf.find(b"#")
                if end < 0:
                    if len(self.buf) > MAX_PACKET * 2:
                        del self.buf[:]
                        events.append(("bad", b"packet too long"))
                    break
                if len(self.buf) < end + 3:
                    break  # the checksum has not arrived yet
                restart = self.buf.rfind(b"$", 1, end)
                if restart > 0:  # an unfinished packet before this one: dropped
                    del self.buf[:restart]
                    continue
                body = bytes(self.buf[1:end])
                cs = bytes(self.buf[end + 1:end + 3])
                del self.buf[:end + 3]
                try:
                    want = int(cs, 16)
                except ValueError:
                    want = -1
                if want != checksum(body):
                    events.append(("bad", b"checksum"))
                    continue
                events.append(("packet", expand_rle(body)))
            elif b == 0x03:
                del self.buf[:1]
                events.append(("interrupt", None))
            elif b in (0x2B, 0x2D):  # '+' '-'
                del self.buf[:1]
                events.append(("ack", bytes((b,))))
            else:
                del self.buf[:1]  # noise between packets
        return events

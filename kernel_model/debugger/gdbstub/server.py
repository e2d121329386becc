"""The TCP side: one gdb at a time on a listening socket. Packets are answered on this
thread; a command that runs the guest runs on a worker thread while this one watches the
socket for gdb's interrupt (0x03) and for the client going away (the guest then stops
where it is, and the next `target remote` finds it there).
"""

from __future__ import annotations

import select
import socket
import threading

from kernel_model.debugger.gdbstub.commands import Resume, Stub
from kernel_model.debugger.gdbstub.packets import MAX_PACKET, PacketReader, frame

REFUSED = b"syscall-lab: another gdb is already attached (one client at a time)\n"


class Gone(Exception):
    """The client closed the connection."""


class GdbServer:
    def __init__(self, stub: Stub, listener: socket.socket, log, on_stop=None):
        self.stub = stub
        self.listener = listener
        self.log = log
        self.on_stop = on_stop or (lambda: None)
        self.last: bytes = b""

    def serve(self) -> str:
        """Serve clients until the guest's run is over for gdb: "exited", "killed" or
        "detached"."""
        while True:
            conn, peer = self.listener.accept()
            try:  # many small packets each way: no waiting to coalesce them (Nagle)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            self.log(f"gdb connected from {peer[0]}:{peer[1]}")
            self.stub.noack = False
            try:
                why = self._client(conn)
            except (Gone, OSError):
                why = None
            finally:
                try:
                    conn.close()
                except OSError:
                    pass
            if why is not None:
                return why
            if self.stub.over:
                return "exited"
            self.log("gdb disconnected; the guest stays stopped, waiting for gdb again")

    def _refuse(self, conn: socket.socket | None = None) -> None:
        """A second connection: refused with a line, unless the first client has in fact
        gone (its close and the new connection arrived together): then it is its turn."""
        if conn is not None and select.select([conn], [], [], 0)[0]:
            try:
                closed = conn.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                closed = True
            if closed:
                raise Gone()
        try:
            other, peer = self.listener.accept()
        except OSError:
            return
        self.log(f"refused a second connection from {peer[0]}:{peer[1]}: one gdb at a time")
        try:
            other.sendall(REFUSED)
            other.close()
        except OSError:
            pass

    def _send(self, conn: socket.socket, payload: bytes) -> None:
        self.last = frame(payload)
        conn.sendall(self.last)

    def _recv(self, conn: socket.socket) -> bytes:
        data = conn.recv(65536)
        if not data:
            raise Gone()
        return data

    def _client(self, conn: socket.socket) -> str | None:
        reader = PacketReader()
        while True:
            ready, _, _ = select.select([conn, self.listener], [], [])
            if conn not in ready:
                # (what the current client sent is read first: it may be its goodbye)
                self._refuse(conn)
                continue
            for kind, body in reader.feed(self._recv(conn)):
                if kind == "bad":
                    if not self.stub.noack:
                        conn.sendall(b"-")
                    continue
                if kind == "ack":
                    if body == b"-" and self.last and not self.stub.noack:
                        conn.sendall(self.last)
                    continue
                if kind == "interrupt":
                    continue  # the guest is stopped already
                assert body is not None, "a packet has a payload"
                if not self.stub.noack:
                    conn.sendall(b"+")
                reply = self.stub.handle(body)
                if reply is None:
                    return "killed"
                if isinstance(reply, Resume):
                    reply = self._run(conn, reader, reply)
                self._send(conn, reply)
                if self.stub.detached:
                    return "detached"
                if self.stub.killed:
                    return "killed"
                if self.stub.over:
                    self._linger(conn)
                    return "exited"

    def _run(self, conn: socket.socket, reader: PacketReader, resume: Resume) -> bytes:
        """Run one resuming command; gdb's 0x03 interrupts it, a disconnect too."""
        result: dict = {}

        def work():
            try:
                result["stop"] = resume.run()
            except Exception as e:  # a bug of ours: one line, and the guest stays stopped
                result["error"] = e

        self.stub.monitor.resuming(resume.what)
        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        gone = False
        while worker.is_alive():
            if not gone:
                self._console(conn)
            if gone:  # a new client waits in the backlog until the guest has stopped
                worker.join(0.05)
                continue
            ready, _, _ = select.select([conn, self.listener], [], [], 0.05)
            if self.listener in ready and conn not in ready:
                self._refuse()
            if conn in ready:
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    gone = True
                    self.stub.s.interrupt()
                    continue
                for kind, _ in reader.feed(data):
                    if kind == "interrupt":
                        self.stub.s.interrupt()
        worker.join()
        self.on_stop()
        if not gone:
            self._console(conn)
        if "error" in result:
            e = result["error"]
            self.log(f"internal error while running the guest: {type(e).__name__}: {e}")
        if gone:
            raise Gone()
        if "error" in result:
            return self.stub.stop_reply_here()
        return self.stub.stop_reply(resume.what, result.get("stop"))

    def _console(self, conn: socket.socket) -> None:
        """Text for gdb's console (monitor strace's lines) as O packets, which gdb prints
        while it waits for the stop reply."""
        text = self.stub.monitor.take_output().encode()
        try:
            for i in range(0, len(text), MAX_PACKET // 2 - 8):
                conn.sendall(frame(b"O" + text[i:i + MAX_PACKET // 2 - 8].hex().encode()))
        except OSError:
            pass  # the client is gone: the reading side finds out and stops the guest

    def _linger(self, conn: socket.socket) -> None:
        """After the exit reply: answer what gdb still asks (it may kill or detach) until
        it closes, for at most a couple of seconds."""
        conn.settimeout(2.0)
        reader = PacketReader()
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                for kind, body in reader.feed(data):
                    if kind == "packet" and body is not None:
                        if not self.stub.noack:
                            conn.sendall(b"+")
                        if body[:1] in (b"k",):
                            return
                        self._send(conn, b"OK" if body[:1] in (b"D",) or
                                   body.startswith(b"vKill") else b"")
        except OSError:
            return

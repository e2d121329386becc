"""The guest's standard streams under a debugging session: three files the session owns.

The guest's fds 0, 1 and 2 are regular host files (as after `< in > out 2> err`), never the
terminal the screen is drawn on. Files, not pipes, because a file never blocks the guest
(a pipe would fill up with nobody draining it) and because its host state is just an
offset: stepping backwards puts it back (state.restore_io), and the screen shows each
output file up to the size recorded at the current point.

Input: what the user types is appended to the stdin file. A guest read at its end would see
end-of-file, so the session asks for input before letting such a read run (`waiting`).
"""

from __future__ import annotations

import os
import tempfile
import weakref


class GuestIo:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="syscall-lab-session-")
        self.stdin_fd = self._open("stdin")
        self.stdout_fd = self._open("stdout")
        self.stderr_fd = self._open("stderr")
        self.eof = False  # the user closed the input (Ctrl-D)
        # Closed and removed when the session is dropped or Python exits, even if nobody
        # calls close(): a long-lived process (a class server, a test run, a grader) would
        # otherwise leak three fds and a directory per session.
        self._cleanup = weakref.finalize(self, _remove, self.dir, self.fds)

    def _open(self, name: str) -> int:
        return os.open(os.path.join(self.dir, name), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)

    @property
    def fds(self) -> tuple[int, int, int]:
        return self.stdin_fd, self.stdout_fd, self.stderr_fd

    # -- input -----------------------------------------------------------------------------
    def feed(self, text: str | bytes) -> None:
        """Append to what the guest will read on fd 0 (at the end, whatever the guest's
        current offset: typed-ahead input waits its turn)."""
        data = text.encode() if isinstance(text, str) else text
        os.pwrite(self.stdin_fd, data, os.fstat(self.stdin_fd).st_size)

    def close_input(self) -> None:
        self.eof = True

    def input_pending(self) -> int:
        """Bytes typed and not yet read by the guest."""
        return os.fstat(self.stdin_fd).st_size - os.lseek(self.stdin_fd, 0, os.SEEK_CUR)

    def input_text(self) -> bytes:
        return os.pread(self.stdin_fd, os.fstat(self.stdin_fd).st_size, 0)

    # -- output ----------------------------------------------------------------------------
    def read_output(self, fd: int) -> bytes:
        """Everything ever written to one output file (the recorded future included)."""
        size = os.fstat(fd).st_size
        return os.pread(fd, size, 0) if size else b""

    def stdout(self) -> bytes:
        return self.read_output(self.stdout_fd)

    def stderr(self) -> bytes:
        return self.read_output(self.stderr_fd)

    def close(self) -> None:
        self._cleanup()


def _remove(directory: str, fds: tuple[int, ...]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
    for name in ("stdin", "stdout", "stderr"):
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass
    try:
        os.rmdir(directory)
    except OSError:
        pass

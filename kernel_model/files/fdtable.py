"""The fd table (struct files_struct): small integers naming open file descriptions, with
the per-fd close-on-exec bit. New fds take the lowest free number (POSIX); the soft
RLIMIT_NOFILE (1024 unless the guest lowers it) caps them, giving EMFILE."""

from __future__ import annotations

from kernel_model.files.file import OpenFile
from kernel_model.files.inode import FsError
from kernel_model.files.streams import HostStream
from kernel_model.files.uapi import NR_OPEN_DEFAULT, O_CLOEXEC
from kernel_model.uapi import errnos


class FdTable:
    def __init__(self):
        self._files: dict[int, OpenFile] = {}
        self._cloexec: set[int] = set()
        self.users = 1  # processes sharing the table (clone with CLONE_FILES)

    @classmethod
    def standard(cls, stdin_fd: int = 0, stdout_fd: int = 1, stderr_fd: int = 2) -> FdTable:
        """Guest fds 0, 1, 2 borrow the given host fds; a host fd that is not open leaves
        the guest's closed, as a shell's `>&-` would."""
        table = cls()
        host_files: dict = {}  # the model's inode numbers for redirected host files
        for guest_fd, host_fd in enumerate((stdin_fd, stdout_fd, stderr_fd)):
            stream = HostStream.borrow(host_fd, guest_fd, host_files)
            if stream is not None:
                table.install_at(guest_fd, stream)
        return table

    # -- lookup --------------------------------------------------------------------
    def __getitem__(self, fd: int) -> OpenFile:
        """The description `fd` names, or EBADF (fs/file.c: fdget)."""
        f = self._files.get(fd)
        if f is None:
            raise FsError(errnos.EBADF)
        return f

    def get(self, fd: int) -> OpenFile | None:
        return self._files.get(fd)

    def __contains__(self, fd: int) -> bool:
        return fd in self._files

    def fds(self) -> list[int]:
        return sorted(self._files)

    def get_cloexec(self, fd: int) -> bool:
        self[fd]
        return fd in self._cloexec

    def set_cloexec(self, fd: int, on: bool) -> None:
        self[fd]
        if on:
            self._cloexec.add(fd)
        else:
            self._cloexec.discard(fd)

    # -- allocation -------------------------------------------------------------
    def install(self, file: OpenFile, *, cloexec: bool = False, lowest: int = 0,
                limit: int = NR_OPEN_DEFAULT) -> int:
        """The lowest free fd >= `lowest` (fs/file.c: alloc_fd), or EMFILE."""
        fd = lowest
        while fd in self._files:
            fd += 1
        if fd >= limit:
            raise FsError(errnos.EMFILE)
        self.install_at(fd, file, cloexec=cloexec)
        return fd

    def install_at(self, fd: int, file: OpenFile, *, cloexec: bool = False) -> None:
        """Point `fd` at `file`, closing whatever it named before (as dup2 does)."""
        old = self._files.get(fd)
        file.refs += 1
        self._files[fd] = file
        if cloexec:
            self._cloexec.add(fd)
        else:
            self._cloexec.discard(fd)
        if old is not None:
            self._drop(old)

    def close(self, fd: int) -> None:
        f = self[fd]
        del self._files[fd]
        self._cloexec.discard(fd)
        self._drop(f)

    @staticmethod
    def _drop(f: OpenFile) -> None:
        f.refs -= 1
        if f.refs == 0:
            f.release()

    # -- dup family (fs/file.c) ----------------------------------------------------
    def dup(self, oldfd: int, *, lowest: int = 0, cloexec: bool = False,
            limit: int = NR_OPEN_DEFAULT) -> int:
        """dup() and fcntl(F_DUPFD[_CLOEXEC]): a new fd sharing the description."""
        f = self[oldfd]
        if lowest >= limit:
            raise FsError(errnos.EINVAL)  # F_DUPFD past RLIMIT_NOFILE
        return self.install(f, cloexec=cloexec, lowest=lowest, limit=limit)

    def dup2(self, oldfd: int, newfd: int, *, limit: int = NR_OPEN_DEFAULT) -> int:
        f = self[oldfd]
        if oldfd == newfd:
            return newfd  # dup2 of an fd onto itself does nothing, even to FD_CLOEXEC
        if newfd >= limit:
            raise FsError(errnos.EBADF)
        self.install_at(newfd, f)
        return newfd

    def dup3(self, oldfd: int, newfd: int, flags: int, *, limit: int = NR_OPEN_DEFAULT) -> int:
        if flags & ~O_CLOEXEC:
            raise FsError(errnos.EINVAL)
        if oldfd == newfd:
            raise FsError(errnos.EINVAL)
        if newfd >= limit:
            raise FsError(errnos.EBADF)
        f = self[oldfd]
        self.install_at(newfd, f, cloexec=bool(flags & O_CLOEXEC))
        return newfd

    # -- process lifetime -----------------------------------------------------------
    def close_on_exec(self) -> None:
        for fd in sorted(self._cloexec):
            self.close(fd)

    def close_all(self) -> None:
        for fd in list(self._files):
            self.close(fd)

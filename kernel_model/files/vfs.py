"""The guest's file tree and the path walk (fs/namei.c).

The tree is made up here, never borrowed from the host:

    /              read-only: proc, dev, etc, tmp and the mount points, nothing else
                   (and /usr/local/bin/NAME, the program, when no mount holds it)
    /etc           etc_files.py: passwd, group, hostname, hosts, nsswitch.conf
    /proc          procfs.py: every process's state; self is the caller
    /dev           devices.py: null, zero, full, random, urandom, tty, std* links
    /dev/shm       tmpfs.py: writable, in memory (shm_open, sem_open)
    /tmp           tmpfs.py: writable, in memory
    /<mount>       hostfs.py: a host directory the user shared (--mount), ro unless :rw
    /lib, /usr/lib, /lib64...   sysroot.py: the library directories of the host (or of
                   --sysroot), read-only mounts or the same symlinks; /etc/ld.so.cache
    /usr/lib/syscall-lab/bin    the bundled programs, read-only

mount_table() lists them for /proc/mounts (mounts.py).

Paths are walked one component at a time on guest inodes. ".." is taken lexically on the
canonical guest path walked so far (at a mount's root it leads to the mount point's
parent, never to the host's), symlinks are expanded as Linux does (at most 40), and a host
path is only ever built inside a mount (see hostfs.py for the symlink rule).
"""

from __future__ import annotations

import os
import posixpath
import time
from dataclasses import dataclass
from typing import Callable

from kernel_model.files.devices import make_dev, random_source
from kernel_model.files.etc_files import make_etc
from kernel_model.files.file import DirFile, OpenFile, PathFile
from kernel_model.files.hostfs import HostMount
from kernel_model.files.inode import Cred, DirEntry, FsError, Inode
from kernel_model.files.mounts import Mount
from kernel_model.files.pipes import Pipe
from kernel_model.files.procfs import ProcFs
from kernel_model.files.synthetic import (
    DEVTMPFS_DEV,
    PROC_DEV,
    ROOT_DEV,
    SHM_DEV,
    InodeNumbers,
    StaticDir,
    Symlink,
)
from kernel_model.files.sysroot import Sysroot
from kernel_model.files.tmpfs import TmpBudget, TmpFs
from kernel_model.files.uapi import (
    DT_DIR,
    DT_LNK,
    KEPT_AT_OPEN,
    MAXSYMLINKS,
    NAME_MAX,
    O_ACCMODE,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECTORY,
    O_EXCL,
    O_NOFOLLOW,
    O_PATH,
    O_RDONLY,
    O_RDWR,
    O_TMPFILE,
    O_TRUNC,
    O_WRONLY,
    R_OK,
    S_IFREG,
    S_ISGID,
    S_ISVTX,
    W_OK,
    X_OK,
)
from kernel_model.uapi import errnos

# Guest directories a mount may not cover: their contents are the kernel model's truth.
RESERVED = ("/proc", "/dev")
# Where the bundled programs appear in the guest, read-only, for execve to find.
BUNDLED_DIR = "/usr/lib/syscall-lab/bin"


def bundled_host_dir() -> str:
    """The bundled programs' binaries (programs/bin), which ship beside the kernel model in
    the same distribution: files the guest may run, not code the kernel model imports."""
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "programs", "bin")
    return here if os.path.isdir(here) else ""


@dataclass
class Lookup:
    """The end of a path walk. `node` is None when only the last component is missing
    (what O_CREAT, mkdir need): `parent` is then the directory it would go in."""

    path: str  # canonical guest path
    node: Inode | None
    parent: Inode | None
    name: str
    trailing_slash: bool = False

    def existing(self) -> Inode:
        if self.node is None:
            raise FsError(errnos.ENOENT)
        return self.node

    def new_entry_dir(self) -> Inode:
        """The directory the missing last component would go in."""
        assert self.parent is not None, "only / has no parent, and / always exists"
        return self.parent


def normalize_mount_point(guest: str) -> str:
    if not guest.startswith("/"):
        raise ValueError(f"mount point {guest!r}: must be an absolute guest path")
    path = posixpath.normpath(guest)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    if path == "/":
        raise ValueError("mount point '/': the guest's root is syscall-lab's own")
    for reserved in RESERVED:
        if path == reserved or path.startswith(reserved + "/"):
            raise ValueError(f"mount point {path!r}: {reserved} belongs to the kernel model")
    return path


def shared_cwd(mounts, host_cwd: str | None = None) -> str | None:
    """The guest path of the host's current directory when a mount shares it (the deepest
    such mount wins), so `--mount .` starts the guest where the student is; else None."""
    if not mounts:
        return None
    try:
        here = os.path.realpath(host_cwd or os.getcwd())
    except OSError:  # the host's cwd was removed
        return None
    best = None
    for m in mounts:
        host = os.path.realpath(m.host)
        if here == host or here.startswith(host.rstrip("/") + "/"):
            if best is None or len(host) > len(best[0]):
                best = (host, posixpath.join(posixpath.normpath(m.guest),
                                             os.path.relpath(here, host)))
    return posixpath.normpath(best[1]) if best else None


def new_owner(parent: Inode, mode: int, cred: Cred, *,
              directory: bool) -> tuple[int, int, int]:
    """fs/inode.c inode_init_owner: (mode, uid, gid) of a new file. It belongs to the fsuid;
    in a setgid directory it takes the directory's group (and a new directory keeps the
    setgid bit), else the fsgid; a file that would be setgid in a group its maker is not in
    loses the bit, unless CAP_FSETID."""
    gid = cred.fsgid
    if parent.mode & S_ISGID:
        gid = parent.owner_ids()[1]
        if directory:
            mode |= S_ISGID
    if not directory and mode & S_ISGID and mode & 0o010 and not cred.in_group_p(gid) \
            and not cred.fs_capable:
        mode &= ~S_ISGID
    return mode, cred.fsuid, gid


def check_sticky(directory: Inode, node: Inode, cred: Cred) -> None:
    """fs/namei.c check_sticky: in a sticky directory (/tmp) only the file's owner, the
    directory's owner or CAP_FOWNER may remove or rename a name: EPERM."""
    if not directory.mode & S_ISVTX or cred.fs_capable:
        return
    if cred.fsuid not in (node.owner_ids()[0], directory.owner_ids()[0]):
        raise FsError(errnos.EPERM)


def last_is_dot(path: str) -> bool:
    """The path's last component is "." or ".." (Linux's LAST_DOT, LAST_DOTDOT): the walk
    here takes them lexically, so the caller asks before resolving."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last in (".", "..") or path.rstrip("/") == "" and path != ""


def join(parent: str, name: str) -> str:
    return ("" if parent == "/" else parent) + "/" + name


def tmpfs_budget(tmpfs_limit: int | None, mm) -> TmpBudget:
    """/tmp's pages against --tmpfs-limit (default: the memory cap) and the memory cap."""
    limit = tmpfs_limit
    if limit is None and mm is not None:
        limit = mm.limit
    return TmpBudget(limit, mm)


def through_links(path: str, links: dict[str, str]) -> str:
    """A canonical path with each leading component that is one of `links` (guest path ->
    link text, on the read-only root) replaced by where the link leads."""
    for _ in range(MAXSYMLINKS):
        for link, text in links.items():
            if path.startswith(link + "/"):
                target = text if text.startswith("/") else \
                    posixpath.join(posixpath.dirname(link), text)
                path = posixpath.normpath("/" + target.lstrip("/")) + path[len(link):]
                break
        else:
            break
    return path


def _fixed(text: str) -> Callable[[], str]:
    return lambda: text


MOUNT_DEV_FIRST = 40  # the shared directories' devices: 0:40, 0:41...


class Vfs:
    def __init__(self, mounts, *, processes, clock=None, rng=None,
                 tmp_budget: TmpBudget | None = None, bundled: str | None = "",
                 libs: Sysroot | None = None):
        """`processes.current_process()` answers "who asks?" (/proc/self, the program's own
        inode): the kernel's ProcessTable. An object, not a bound method, so that a copy of
        the kernel's state (the debugger's history) keeps pointing at its own table.
        `libs`: where the library directories and /etc/ld.so.cache come from (None: none
        shown)."""
        self.processes = processes
        now = clock.files_ns if clock is not None else time.time_ns  # not realtime_ns
        self.boot_ns = now()
        self.proc = ProcFs(processes, self.boot_ns)
        self.proc.vfs = self
        self.proc.random_bytes = random_source(rng)
        self.proc.clock = clock
        self.tmp = TmpFs(now, tmp_budget or TmpBudget(None, None))
        # /dev/shm, where shm_open and sem_open keep their files: a tmpfs of its own, with
        # the same limits as /tmp (pages written to either count against the memory cap).
        budget = self.tmp.budget
        self.shm = TmpFs(now, TmpBudget(budget.limit, budget.mm), dev=SHM_DEV)
        self.dev = make_dev(rng, self.boot_ns, {"shm": self.shm.root})
        self._numbers = InodeNumbers(first=3)
        self.etc = make_etc(processes, self.boot_ns, self._numbers,
                            libs.etc_files if libs is not None else None)
        self._pipe_numbers = InodeNumbers(first=100000)
        self._now = now
        # The library directories (sysroot.py): a user's mount at or above one hides it.
        found = libs.library_dirs() if libs is not None else []
        points = [normalize_mount_point(m.guest) for m in mounts]
        found = [(guest, kind, what) for guest, kind, what in found
                 if not any(guest == p or guest.startswith(p + "/") for p in points)]
        links = {guest: what for guest, kind, what in found if kind == "link"}
        user: dict[str, HostMount] = {}
        for m, point in zip(mounts, points, strict=True):
            # mount(2) resolves its mount point: --mount DIR:/lib/extra with /lib -> usr/lib
            # mounts on /usr/lib/extra.
            guest = normalize_mount_point(through_links(point, links))
            if guest in user:
                raise ValueError(f"two mounts at {guest}")
            # Each mount its own anonymous device, after the made-up file systems' (0:33)
            user[guest] = HostMount(m.host, guest, bool(m.writable),
                                    dev=(0, MOUNT_DEV_FIRST + len(user)))
        # Mounted before the user's (listed first in /proc/mounts, as a boot mounts them)
        # but numbered after them (the user's mounts' devices stay 0:40...).
        self.libraries: dict[str, HostMount] = {}
        self._links: dict[str, Inode] = {}  # /lib -> usr/lib on a merged-/usr root
        for guest, kind, what in found:
            if kind == "link":
                self._links[guest] = Symlink(ROOT_DEV, self._numbers(), _fixed(what),
                                             created_ns=self.boot_ns)
            else:
                self.libraries[guest] = HostMount(
                    what, guest, False, guest_links=True,
                    dev=(0, MOUNT_DEV_FIRST + len(user) + len(self.libraries)))
        self.mounts: dict[str, HostMount] = {**self.libraries, **user}
        # The bundled programs, read-only, after the user's mounts (whose device numbers
        # stay 0:40...); a mount of the user's at the same place wins. None: their own
        # directory; "": not shown.
        if bundled is None:
            bundled = bundled_host_dir()
        self.bundled: HostMount | None = None
        if bundled and BUNDLED_DIR not in self.mounts:
            self.bundled = HostMount(bundled, BUNDLED_DIR, False,
                                     dev=(0, MOUNT_DEV_FIRST + len(self.mounts)))
            self.mounts[BUNDLED_DIR] = self.bundled
        # Directories that exist only to lead to a mount point (/mnt for /mnt/data).
        self._between: dict[str, StaticDir] = {}
        for guest in [*self.mounts, *self._links]:
            parent = posixpath.dirname(guest)
            while parent != "/":
                if parent not in self.mounts and parent not in self._between:
                    self._between[parent] = StaticDir(
                        ROOT_DEV, self._numbers(), dict, mode=0o755, created_ns=self.boot_ns,
                        read_only_fs=True)
                parent = posixpath.dirname(parent)
        self.root = StaticDir(ROOT_DEV, 2, self._root_children, mode=0o755,
                              created_ns=self.boot_ns, read_only_fs=True)
        self._usr: StaticDir | None = None  # /usr/local/bin, holding the program

    def _root_children(self) -> dict[str, Inode]:
        children = {"proc": self.proc.root, "dev": self.dev, "tmp": self.tmp.root,
                    "etc": self.etc}
        if self._usr is not None:
            children["usr"] = self._usr
        return children

    def mount_table(self) -> list[Mount]:
        """The mounts in the order a boot makes them: what /proc/mounts lists."""
        # tmpfs shows its size= (here --tmpfs-limit, by default the memory cap); devtmpfs
        # shows Linux's default, half the RAM (the memory cap), in 4 KiB inodes.
        budget = self.tmp.budget
        ram = budget.mm.limit if budget.mm is not None else budget.limit or 0
        size = f",size={budget.limit // 1024}k" if budget.limit else ""
        dev_opts = "mode=755"
        if ram:
            dev_opts = f"size={ram // 2048}k,nr_inodes={ram // 8192},mode=755"
        table = [
            Mount("rootfs", "/", "rootfs", "ro", ROOT_DEV, "ro"),
            Mount("proc", "/proc", "proc", "rw,nosuid,nodev,noexec,relatime", PROC_DEV),
            Mount("devtmpfs", "/dev", "devtmpfs", "rw,nosuid,relatime," + dev_opts,
                  DEVTMPFS_DEV, "rw," + dev_opts),
            Mount("tmpfs", "/dev/shm", "tmpfs", "rw,nosuid,nodev,relatime" + size,
                  self.shm.dev, "rw" + size),
            Mount("tmpfs", "/tmp", "tmpfs", "rw,nosuid,nodev,relatime" + size, self.tmp.dev,
                  "rw" + size),
        ]
        for guest, m in self.mounts.items():
            mode = "rw" if m.writable else "ro"
            table.append(Mount("none", guest, "hostfs", mode + ",relatime", m.dev, mode))
        return table

    def place_program(self, host_path: str) -> tuple[str, tuple[int, int], int]:
        """Where the program appears in the guest, and its device and inode numbers there:
        inside a shared directory, at its guest path (the mount's numbers); otherwise at
        /usr/local/bin/NAME on the read-only root, made for it (`ls`, `stat` and `open`
        find it there, as /proc/self/exe says)."""
        real = os.path.realpath(host_path)
        # The library directories too are left out: a program run from them still
        # appears at /usr/local/bin, as it did before they were shared.
        shared = [m for g, m in self.mounts.items()
                  if m is not self.bundled and g not in self.libraries]
        for mount in sorted(shared, key=lambda m: -len(m.host_root)):
            if mount.contains(real):
                try:
                    return mount.guest_path_of(real), mount.dev, mount.ino_of(os.stat(real))
                except OSError:
                    break
        name = os.path.basename(real) or "program"
        guest = f"/usr/local/bin/{name}"
        hiding = [g for g, m in self.mounts.items() if m is not self.bundled and
                  g not in self.libraries and (guest == g or guest.startswith(g + "/"))]
        if hiding:  # the guest would find the mount's files there, not the program
            raise ValueError(f"--mount at {hiding[0]} covers {guest}, where the program "
                             "appears in the guest; mount it elsewhere, or share the "
                             "program's own directory")
        ino = self._numbers()
        from types import SimpleNamespace

        from kernel_model.files.procfs import ExeInode

        # The file is the program the run started with, whichever process looks and
        # whatever it has exec'd since.
        first = self.processes.first
        started = SimpleNamespace(exe_path=first.exe_path, exe_bytes=first.exe_bytes,
                                  exe_dev=ROOT_DEV, exe_ino=ino)

        def program() -> dict[str, Inode]:
            return {name: ExeInode(started, self.boot_ns)}

        def directory(children) -> StaticDir:
            return StaticDir(ROOT_DEV, self._numbers(), children, mode=0o755,
                             created_ns=self.boot_ns, read_only_fs=True)

        bin_dir = directory(program)
        local = directory(lambda: {"bin": bin_dir})
        self._usr = directory(lambda: {"local": local})
        return guest, ROOT_DEV, ino

    def working_directory(self, path: str) -> str:
        """The canonical guest path of a starting working directory; ValueError (one line
        for the user) when the guest has no such directory."""
        try:
            lk = self.resolve(path)
            node = lk.existing()
            if not node.is_dir:
                raise FsError(errnos.ENOTDIR)
        except FsError as e:
            raise ValueError(f"working directory {path}: {os.strerror(e.errno)} in the "
                             "guest (it sees /proc, /dev, /tmp and the --mount "
                             "directories)") from None
        return lk.path

    # -- the walk ------------------------------------------------------------------
    def _child(self, node: Inode, path: str, name: str) -> Inode | None:
        child_path = join(path, name)
        mount = self.mounts.get(child_path)
        if mount is not None:
            try:
                return mount.root()
            except OSError:
                return None  # the host directory went away
        link = self._links.get(child_path)
        if link is not None:
            return link
        child = node.lookup(name)
        if child is None:
            child = self._between.get(child_path)
        return child

    def _who(self) -> Cred:
        return self.processes.current_process().creds

    def resolve(self, path: str, *, base: str = "/", follow: bool = True,
                cred: Cred | None = None) -> Lookup:
        """Walk `path` (relative ones from the canonical directory `base`). Raises
        ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG, EACCES as Linux's path walk would: each
        directory walked through needs search (x) permission for `cred` (default: the
        calling process's), which root always has (may_lookup)."""
        if path == "":
            raise FsError(errnos.ENOENT)
        if cred is None:
            cred = self._who()
        searching = not cred.fs_capable
        trailing = path.endswith("/") and path.strip("/") != ""
        todo = [c for c in path.split("/") if c]
        if not path.startswith("/"):
            start = [c for c in base.split("/") if c]
            todo = start + todo
            # The walk starts at `base` (the cwd, a dirfd): the directories above it are
            # not searched again, as Linux starts from the dentry it holds.
            unchecked = len(start)
        else:
            unchecked = 0
        parts: list[str] = []
        nodes: list[Inode] = [self.root]
        links = 0
        while todo:
            name = todo.pop(0)
            unchecked -= 1
            last = not todo
            cur = nodes[-1]
            if not cur.is_dir:
                raise FsError(errnos.ENOTDIR)
            if searching and unchecked < 0:  # may_lookup: "." and ".." too
                cur.permission(cred, X_OK)
            if name == ".":
                continue
            if name == "..":
                if parts:
                    parts.pop()
                    nodes.pop()
                continue
            if len(os.fsencode(name)) > NAME_MAX:
                raise FsError(errnos.ENAMETOOLONG)
            cur_path = "/" + "/".join(parts)
            child = self._child(cur, cur_path, name)
            if child is None:
                if last:
                    return Lookup(join(cur_path, name), None, cur, name, trailing)
                raise FsError(errnos.ENOENT)
            if child.is_symlink and (not last or follow or trailing):
                links += 1
                if links > MAXSYMLINKS:
                    raise FsError(errnos.ELOOP)
                target = child.follow()
                if isinstance(target, tuple):  # a /proc magic link: straight to the inode
                    node, shown = target
                    if last:
                        if trailing and not node.is_dir:
                            raise FsError(errnos.ENOTDIR)
                        return Lookup(shown, node, cur, name, trailing)
                    if not node.is_dir or not shown.startswith("/"):
                        raise FsError(errnos.ENOTDIR)
                    target = shown
                if target == "":
                    raise FsError(errnos.ENOENT)
                if target.startswith("/"):
                    parts, nodes = [], [self.root]
                todo = [c for c in target.split("/") if c] + todo
                if not todo:  # a link to "/"
                    break
                continue
            parts.append(name)
            nodes.append(child)
        node = nodes[-1]
        if trailing and not node.is_dir:
            raise FsError(errnos.ENOTDIR)
        parent = nodes[-2] if len(nodes) > 1 else None
        return Lookup("/" + "/".join(parts), node, parent, parts[-1] if parts else "/",
                      trailing)

    # -- listing -------------------------------------------------------------------
    def list_dir(self, path: str, node: Inode) -> list[DirEntry]:
        """What getdents64 returns for a directory: ".", "..", its entries, and the mount
        points (or the directories leading to them) directly below it."""
        parent_path = posixpath.dirname(path) if path != "/" else "/"
        try:
            parent_ino = self.resolve(parent_path).existing().ino
        except FsError:
            parent_ino = node.ino
        entries = {e.name: e for e in node.entries()}
        for guest, link in self._links.items():
            if posixpath.dirname(guest) == path:
                entries[posixpath.basename(guest)] = DirEntry(posixpath.basename(guest),
                                                              link.ino, DT_LNK)
        for guest in list(self.mounts) + list(self._between):
            if posixpath.dirname(guest) == path:
                name = posixpath.basename(guest)
                try:
                    child = self._child(node, path, name)
                except FsError:
                    continue
                if child is not None:
                    entries[name] = DirEntry(name, child.ino, DT_DIR)
        return [DirEntry(".", node.ino, DT_DIR), DirEntry("..", parent_ino, DT_DIR),
                *entries.values()]

    # -- opening -------------------------------------------------------------------
    def open(self, path: str, flags: int, mode: int, *, base: str, cred: Cred,
             umask: int = 0o022) -> OpenFile:
        """fs/namei.c: do_filp_open. Returns a description with f_flags as Linux keeps
        them (O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC and O_CLOEXEC dropped)."""
        if flags & O_TMPFILE == O_TMPFILE:
            raise FsError(errnos.EOPNOTSUPP, "O_TMPFILE is not modelled")
        if flags & O_PATH:
            flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        creating = bool(flags & O_CREAT)
        exclusive = creating and bool(flags & O_EXCL)
        follow = not (flags & O_NOFOLLOW) and not exclusive
        lk = self.resolve(path, base=base, follow=follow)
        node = lk.node
        access = flags & O_ACCMODE
        created = False
        if node is None:
            if not creating:
                raise FsError(errnos.ENOENT)
            if lk.trailing_slash:
                raise FsError(errnos.EISDIR)
            parent = lk.new_entry_dir()
            parent.permission(cred, W_OK | X_OK)
            node = parent.create(lk.name, *new_owner(parent, mode & ~umask & 0o7777, cred,
                                                     directory=False))
            created = True
        else:
            if exclusive:
                raise FsError(errnos.EEXIST)
            if node.is_symlink:  # the last component was not followed
                if flags & O_PATH:
                    return self._finish(PathFile(node, lk.path, flags))
                raise FsError(errnos.ELOOP)
            if node.is_dir and creating:
                raise FsError(errnos.EISDIR)
            if flags & O_DIRECTORY and not node.is_dir:
                raise FsError(errnos.ENOTDIR)
        if flags & O_PATH:
            return self._finish(PathFile(node, lk.path, flags))
        if not created:
            want = 0
            if access in (O_RDONLY, O_RDWR, O_ACCMODE):
                want |= R_OK
            if access in (O_WRONLY, O_RDWR, O_ACCMODE) or flags & O_TRUNC:
                want |= W_OK
            if node.is_dir and want & W_OK:
                raise FsError(errnos.EISDIR)
            node.permission(cred, want)
        if node.is_dir:
            return self._finish(DirFile(node, lk.path, flags,
                                        lambda: self.list_dir(lk.path, node)))
        if flags & O_TRUNC and not created and node.kind == S_IFREG:
            node.truncate(0)
        return self._finish(node.open(flags, lk.path, cred))

    @staticmethod
    def _finish(f: OpenFile) -> OpenFile:
        f.flags &= KEPT_AT_OPEN
        return f

    def new_pipe(self, uid: int, gid: int) -> Pipe:
        return Pipe(self._pipe_numbers(), uid, gid, self._now())

    # -- other path operations -----------------------------------------------------
    def mkdir(self, path: str, mode: int, *, base: str, cred: Cred, umask: int = 0o022):
        lk = self.resolve(path, base=base, follow=False)
        if lk.node is not None:
            raise FsError(errnos.EEXIST)
        parent = lk.new_entry_dir()
        parent.permission(cred, W_OK | X_OK)
        parent.mkdir(lk.name, *new_owner(parent, mode & ~umask & 0o7777, cred,
                                         directory=True))

    def unlink(self, path: str, *, base: str, cred: Cred, directory: bool) -> None:
        lk = self.resolve(path, base=base, follow=False)
        node = lk.existing()
        if lk.parent is None or lk.path in self.mounts or lk.path in self._between:
            raise FsError(errnos.EBUSY)
        if directory and lk.name in (".", ".."):
            raise FsError(errnos.EINVAL)
        if lk.trailing_slash and not directory and not node.is_dir:
            raise FsError(errnos.ENOTDIR)
        lk.parent.permission(cred, W_OK | X_OK)
        check_sticky(lk.parent, node, cred)
        lk.parent.unlink(lk.name, directory=directory)

    def _mountpoint(self, lk: Lookup) -> bool:
        return lk.path in self.mounts or lk.path in self._between or lk.parent is None

    def symlink(self, target: str, path: str, *, base: str, cred: Cred) -> None:
        """fs/namei.c do_symlinkat: the target is stored as given (ENOENT if empty)."""
        if target == "":
            raise FsError(errnos.ENOENT)
        if last_is_dot(path):
            raise FsError(errnos.EEXIST)
        lk = self.resolve(path, base=base, follow=False, cred=cred)
        if lk.node is not None:
            raise FsError(errnos.EEXIST)
        if lk.trailing_slash:
            raise FsError(errnos.ENOENT)
        parent = lk.new_entry_dir()
        parent.permission(cred, W_OK | X_OK)
        parent.symlink(lk.name, target, cred.fsuid, cred.fsgid)

    def link(self, old: str, new: str, *, old_base: str, new_base: str, cred: Cred,
             follow: bool, node: Inode | None = None) -> None:
        """fs/namei.c do_linkat: a new name for an existing non-directory, on the same
        mount (EXDEV), with protected_hardlinks (may_linkat) for a file not one's own.
        `node`: the file itself (AT_EMPTY_PATH), instead of `old`."""
        if node is None:
            olk = self.resolve(old, base=old_base, follow=follow, cred=cred)
            node = olk.existing()
        if last_is_dot(new):
            raise FsError(errnos.EEXIST)
        nlk = self.resolve(new, base=new_base, follow=False, cred=cred)
        if nlk.node is not None:
            raise FsError(errnos.EEXIST)
        if nlk.trailing_slash and not node.is_dir:
            raise FsError(errnos.ENOENT)
        parent = nlk.new_entry_dir()
        if parent.dev != node.dev:
            raise FsError(errnos.EXDEV)
        if parent.read_only_fs:
            raise FsError(errnos.EROFS)
        self._may_linkat(node, cred)
        parent.permission(cred, W_OK | X_OK)
        if node.is_dir:
            raise FsError(errnos.EPERM)
        parent.link(nlk.name, node)

    @staticmethod
    def _may_linkat(node: Inode, cred: Cred) -> None:
        """fs.protected_hardlinks=1 (Debian's default): a file one does not own may be
        linked only if it is a regular file one may read and write, not setuid, and not
        setgid-executable; otherwise EPERM (CAP_FOWNER passes)."""
        if cred.fs_capable or cred.fsuid == node.owner_ids()[0]:
            return
        mode = node.mode
        if node.kind != S_IFREG or mode & 0o4000 or (mode & 0o2010) == 0o2010:
            raise FsError(errnos.EPERM)
        try:
            node.permission(cred, R_OK | W_OK)
        except FsError:
            raise FsError(errnos.EPERM) from None

    def rename(self, old: str, new: str, *, old_base: str, new_base: str, cred: Cred,
               noreplace: bool = False, exchange: bool = False,
               whiteout: bool = False) -> None:
        """fs/namei.c do_renameat2 and vfs_rename, in Linux's order of checks."""
        olk = self.resolve(old, base=old_base, follow=False, cred=cred) \
            if not last_is_dot(old) else None
        nlk = self.resolve(new, base=new_base, follow=False, cred=cred) \
            if not last_is_dot(new) else None
        if olk is None:
            raise FsError(errnos.EBUSY)
        if nlk is None:
            raise FsError(errnos.EEXIST if noreplace else errnos.EBUSY)
        old_dir = olk.parent
        new_dir = nlk.parent
        if old_dir is None or new_dir is None:
            raise FsError(errnos.EBUSY)
        if old_dir.dev != new_dir.dev:
            raise FsError(errnos.EXDEV)
        if old_dir.read_only_fs:
            raise FsError(errnos.EROFS)
        node = olk.existing()
        victim = nlk.node
        if exchange and victim is None:
            raise FsError(errnos.ENOENT)
        if noreplace and victim is not None:
            raise FsError(errnos.EEXIST)
        if not exchange and not node.is_dir and (olk.trailing_slash or nlk.trailing_slash):
            raise FsError(errnos.ENOTDIR)
        if exchange and ((olk.trailing_slash and not node.is_dir) or
                         (nlk.trailing_slash and victim is not None and not victim.is_dir)):
            raise FsError(errnos.ENOTDIR)
        # lock_rename's trap: a directory moved below itself, or over one of its ancestors.
        if nlk.path.startswith(olk.path + "/"):
            raise FsError(errnos.EINVAL)
        if olk.path.startswith(nlk.path + "/"):
            raise FsError(errnos.EINVAL if exchange else errnos.ENOTEMPTY)
        if victim is not None and victim is node:  # the same inode (hard links): nothing
            return
        if victim is not None and node.ino == victim.ino and node.dev == victim.dev:
            return
        # may_delete on the old name; may_delete or may_create on the new one.
        old_dir.permission(cred, W_OK | X_OK)
        check_sticky(old_dir, node, cred)
        if self._mountpoint(olk):
            raise FsError(errnos.EBUSY)
        if victim is not None:
            if not exchange:
                if node.is_dir and not victim.is_dir:
                    raise FsError(errnos.ENOTDIR)
                if not node.is_dir and victim.is_dir:
                    raise FsError(errnos.EISDIR)
            new_dir.permission(cred, W_OK | X_OK)
            check_sticky(new_dir, victim, cred)
            if self._mountpoint(nlk):
                raise FsError(errnos.EBUSY)
        else:
            new_dir.permission(cred, W_OK | X_OK)
        # A directory moved to another parent rewrites its "..": it needs write permission.
        if new_dir is not old_dir and new_dir.ino != old_dir.ino:
            if node.is_dir:
                node.permission(cred, W_OK)
            if exchange and victim is not None and victim.is_dir:
                victim.permission(cred, W_OK)
        old_dir.rename(olk.name, new_dir, nlk.name, exchange=exchange, whiteout=whiteout,
                       noreplace=noreplace)

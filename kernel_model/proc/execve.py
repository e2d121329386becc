"""execve (fs/exec.c): find the program, let each binary format try it (fs/binfmt_script.c,
fs/binfmt_elf.c), and past the point of no return give the process its new image.

In Linux's order:
1. The file: the path walk, then a regular file with execute permission (ENOENT, ENOTDIR,
   ELOOP, EACCES for a directory, a device or a file without an x bit).
2. The strings: argv and envp copied from the caller (EFAULT), within the limits
   (E2BIG: kernel_model.proc.exec.check_arg_limits). An empty argv gets "" as argv[0].
3. The formats, up to 5 interpreters deep (ELOOP beyond): `#!` names an interpreter and
   one optional argument, and the interpreter runs with argv [interpreter, argument?,
   the path as given, argv[1:]...]; an ELF of either architecture (a 64-bit kernel runs
   both) is built on a new CPU (kernel_model.proc.load); anything else is ENOEXEC. A
   dynamically linked ELF names its loader in PT_INTERP: that file is opened as the
   program was (ENOENT, EACCES...) and must be an ELF for the same machine (ELIBBAD).
4. The point of no return (begin_new_exec): the other threads die, a vfork parent goes on,
   the old address space goes (its CPU is stopped: the trap that runs this is its last),
   close-on-exec files close, handled signals return to SIG_DFL (ignored ones stay
   ignored; the mask and pending signals stay), the alternate stack, TLS, robust list and
   rseq registrations go. pid, fds, cwd, umask, credentials and limits stay.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from emu.elf import BadProgram, ElfImage, read_elf
from kernel_model.files.inode import Cred, FsError, Inode
from kernel_model.files.uapi import O_RDONLY, S_IFREG, X_OK
from kernel_model.proc import exec as binfmt
from kernel_model.proc.load import ExeFile, Interpreter, NewImage
from kernel_model.proc.task import SS_DISABLE
from kernel_model.uapi import errnos

SIGSEGV = 11
BINPRM_BUF_SIZE = 256  # what binfmt_script sees of the first line
MAX_INTERPRETERS = 5  # exec_binprm: a sixth level of interpreter is ELOOP


class ExecFailed(Exception):
    """execve returns -errno (before the point of no return); `why` is for the trace."""

    def __init__(self, errno: int, why: str = ""):
        super().__init__(why or errnos.errno_name(errno))
        self.errno = errno
        self.why = why


@dataclass
class ExecFile:
    """An opened program: the guest's view of it and its bytes."""

    path: str  # canonical guest path
    node: Inode
    data: bytes

    def exe(self) -> ExeFile:
        return ExeFile(self.path, self.node.dev, self.node.ino,
                       getattr(self.node, "host_path", "") or "")


def open_exec(vfs, path: str, *, base: str, cred: Cred, follow: bool = True) -> ExecFile:
    """do_open_execat: the path walk, a regular file, MAY_EXEC, then its contents."""
    lk = vfs.resolve(path, base=base, follow=follow)
    node = lk.existing()
    if node.is_symlink:  # AT_SYMLINK_NOFOLLOW on a link
        raise FsError(errnos.ELOOP)
    return _read_exec(node, lk.path, cred)


def open_exec_inode(node: Inode, path: str, cred: Cred) -> ExecFile:
    """execveat(fd, "", AT_EMPTY_PATH): the fd's own file."""
    return _read_exec(node, path, cred)


def _read_exec(node: Inode, path: str, cred: Cred) -> ExecFile:
    if node.kind != S_IFREG:  # a directory, a device, a fifo: EACCES (may_open, S_ISREG)
        raise FsError(errnos.EACCES)
    node.permission(cred, X_OK)
    f = node.open(O_RDONLY, path, cred)
    try:
        contents = f.mmap_bytes()
        data = bytes(contents[0:len(contents)]) if contents is not None else \
            f.pread(None, 0, f.size())
    finally:
        f.release()
    return ExecFile(path, node, data)


@dataclass
class Program:
    """What the formats found: the ELF to run, the file it came from, and the argv it
    gets (changed by each `#!` on the way)."""

    image: ElfImage
    file: ExecFile
    argv: list[bytes]
    interp: Interpreter | None  # PT_INTERP's loader, opened: dynamically linked


def find_program(vfs, first: ExecFile, filename: str, argv: list[bytes], *, cwd: str,
                 cred: Cred, path_inaccessible: bool = False) -> Program:
    """search_binary_handler, interpreter after interpreter. `path_inaccessible`: the
    file came from a close-on-exec fd, so the /dev/fd/N path a script's interpreter would
    open is gone by then: ENOENT (BINPRM_FLAGS_PATH_INACCESSIBLE)."""
    current, name_in_argv = first, filename
    for _depth in range(MAX_INTERPRETERS + 1):
        data = current.data
        if data[:2] == b"#!":
            if path_inaccessible:
                raise ExecFailed(errnos.ENOENT, f"a script from a close-on-exec fd: "
                                 f"{filename} is closed before its interpreter can open it")
            interp, arg = parse_shebang(data)
            # remove_arg_zero, then the path, the argument and the interpreter go in front.
            argv = [interp, *([arg] if arg is not None else []),
                    os.fsencode(name_in_argv), *argv[1:]]
            name_in_argv = os.fsdecode(interp)
            try:
                current = open_exec(vfs, name_in_argv, base=cwd, cred=cred)
            except FsError as e:
                raise ExecFailed(e.errno, f"the interpreter {name_in_argv}: "
                                 f"{os.strerror(e.errno)}") from None
            continue
        if data[:4] != b"\x7fELF":
            raise ExecFailed(errnos.ENOEXEC, "neither an ELF nor a #! script")
        try:
            image = read_elf(data, current.path)
        except BadProgram as e:
            errno = errnos.EIO if "EIO" in str(e) else errnos.ENOEXEC
            raise ExecFailed(errno, str(e)) from None
        return Program(image, current, argv, open_interpreter(vfs, image, cred))
    raise ExecFailed(errnos.ELOOP, f"more than {MAX_INTERPRETERS} levels of #! interpreters")


def parse_shebang(data: bytes) -> tuple[bytes, bytes | None]:
    """binfmt_script's reading of the first line: the interpreter after `#!` and blanks,
    and at most one argument (the rest of the line, blanks around it trimmed: one
    argument even with spaces inside). ENOEXEC when there is no name, or when the line
    runs past the 256 bytes read and the name itself may be cut."""
    buf = data[:BINPRM_BUF_SIZE].ljust(BINPRM_BUF_SIZE, b"\0")
    end = buf.find(b"\n")
    if end < 0:
        # No newline in the buffer: only a name followed by a blank or NUL is whole.
        end = BINPRM_BUF_SIZE - 1
        rest = buf[2:end].lstrip(b" \t")
        if not rest:
            raise ExecFailed(errnos.ENOEXEC, "#! with nothing but blanks")
        if not any(c in b" \t\0" for c in rest):
            raise ExecFailed(errnos.ENOEXEC, "the #! line is longer than 256 bytes and "
                                             "cuts the interpreter's name")
    line = buf[2:end].rstrip(b" \t").lstrip(b" \t")
    if not line or line[0] == 0:
        raise ExecFailed(errnos.ENOEXEC, "#! names no interpreter")
    cut = min((i for i in (line.find(b" "), line.find(b"\t"), line.find(b"\0")) if i >= 0),
              default=len(line))
    name, rest = line[:cut], line[cut:]
    arg = None
    if rest and rest[0] != 0:
        arg = rest.lstrip(b" \t").split(b"\0", 1)[0]
        if not arg:
            arg = None
    return name, arg


def open_interpreter(vfs, image: ElfImage, cred: Cred) -> Interpreter | None:
    """load_elf_binary before the point of no return: open_exec of PT_INTERP's path in the
    guest's tree (its errors are execve's: ENOENT when the loader is missing), then an ELF
    header for the program's own machine, else ELIBBAD. None for a static program."""
    if image.interp is None:
        return None
    try:
        f = open_exec(vfs, image.interp, base="/", cred=cred)
    except FsError as e:
        raise ExecFailed(e.errno, f"the program's interpreter {image.interp}: "
                         f"{os.strerror(e.errno)}") from None
    try:
        loader = read_elf(f.data, f.path)
    except BadProgram as e:
        raise ExecFailed(errnos.ELIBBAD, f"the interpreter {image.interp}: {e}") from None
    if loader.arch is not image.arch:
        raise ExecFailed(errnos.ELIBBAD, f"the interpreter {image.interp} is for "
                         f"{loader.arch.name}, the program for {image.arch.name}")
    return Interpreter(loader, f.exe())


# -- the point of no return ------------------------------------------------------------------
def begin_new_exec(k, new: NewImage, program: Program, *, argv: list[str],
                   envp: list[str]) -> None:
    """Replace the calling process's image with `new` (fs/exec.c begin_new_exec and
    setup_new_exec). Runs inside the old CPU's trap: that CPU stops when the hook returns
    and is dropped once its run has ended (nothing else uses it)."""
    from kernel_model.proc.exit import _release_thread, _vfork_release

    task = k.current
    process = task.process
    _de_thread(k, task)
    old = k.machine
    # exec_mm_release: CLONE_CHILD_CLEARTID's word in the old memory (a vfork child
    # shares it with its parent) and the vfork parent's wait end here.
    _release_thread(k, task)
    task.clear_child_tid = 0
    _vfork_release(k, process)
    process.mm_users[0] -= 1
    old_users = process.mm_users[0]
    process.mm_users = [1]
    old_mm, old_gdt = process.mm, process.gdt
    if old_users <= 0:
        # Its mappings go with it; the /tmp pages it counts are the run's, still counted.
        k.ipc.detach_all(old_mm, process.pid, k.clock.realtime_ns())  # SysV attachments
        old_mm.vmas = []
        if not old_mm.outside:
            old_mm.release()
    space = new.space
    process.machine, process.mm, process.gdt = space.machine, space.mm, space.gdt
    process.arch = space.arch.name
    process.sysenter_pad = new.sysenter_pad
    process.vdso_symbols = dict(new.vdso_symbols)
    process.auxv = new.auxv
    process.argv, process.envp = list(argv), list(envp)
    exe = program.file.exe()
    process.exe_path = exe.host_path or exe.guest_path
    process.exe_bytes = program.file.data
    process.guest_exe, process.exe_dev, process.exe_ino = exe.guest_path, exe.dev, exe.ino
    process.symbols = new.symbols
    process.exec_done = True
    # The saved and fs ids become the effective ones (fs/exec.c, begin_new_exec via
    # bprm->cred: suid = fsuid = euid; no setuid bit is honoured, every mount is nosuid).
    c = process.creds
    process.creds = c.with_(suid=c.euid, fsuid=c.euid, sgid=c.egid, fsgid=c.egid)
    # unshare_files, then close-on-exec.
    fds = process.fds
    if fds is not None:
        if fds.users > 1:
            from kernel_model.proc.fork import _copy_fds

            fds.users -= 1
            fds = process.fds = _copy_fds(fds)
        if fds is not None:
            fds.close_on_exec()
    # unshare_sighand, then flush_signal_handlers: handlers back to SIG_DFL, SIG_IGN kept,
    # flags, restorer and masks cleared.
    process.sigactions = {n: replace(a, handler=0 if a.handler != 1 else 1, flags=0,
                                     restorer=0, mask=0)
                          for n, a in process.sigactions.items()}
    task.altstack = (0, SS_DISABLE, 0)
    task.fs_base = task.gs_base = 0
    task.tls = [0, 0, 0]
    task.robust_list = (0, 0)
    task.rseq = (0, 0, 0)
    task.context = None
    # The new CPU: the kernel's trap hooks and the System's (faults, clock, counter).
    k.equip(space.machine)
    if k.on_new_machine is not None:
        k.on_new_machine(space.machine)
    old.stop()
    k._switch_to(task)
    k.gdt = space.gdt
    k.sysenter_landing_pad = new.sysenter_pad

    # What the callback still has to do, dropped once done: the callback stays in the old
    # CPU's list, and must not keep the new CPU (and the next, and the next) alive.
    pending: list = [old, space.machine]

    def after_old_run() -> None:
        # The old CPU's run has ended (its counter settled there): now follow the new one,
        # and let the old one go unless a vfork parent still runs on it.
        if not pending:
            return
        was, now = pending
        pending.clear()
        if k.on_switch is not None and k.machine is now:
            k.on_switch(now)
        if old_users <= 0:
            k.forget_machine(was, old_gdt)

    old.after_run.append(after_old_run)
    if new.failure is not None:
        # Past the point of no return: bprm_execve kills the process with SIGSEGV.
        k.emit_note(f"execve failed past the point of no return: {new.failure}; Linux kills "
                    "the process with SIGSEGV")
        k.kill_process(process, SIGSEGV)


def _de_thread(k, task) -> None:
    """The other threads of the process die; the caller becomes the thread-group leader,
    with the process's pid as its tid."""
    process = task.process
    for t in list(process.threads):
        if t is task or t.state in ("Z", "X"):
            continue
        t.blocked = None
        k.sched.remove(t, "X")
    process.threads[:] = [task]
    task.tid = process.pid


# -- the call ---------------------------------------------------------------------------------
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH = 0x100, 0x1000


def do_execveat(k, dirfd: int, path_addr: int, argv_addr: int, envp_addr: int,
                flags: int) -> int | None:
    """execve and execveat: -errno, or 0 once the new image is in place (the old one's
    registers get the 0, and are never seen again), or None when the new image failed past
    the point of no return (the process is dead: no result, as strace shows `= ?`)."""
    from kernel_model.kernel import GuestFault, NameTooLong

    flags &= 0xFFFFFFFF
    if flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW):
        return -errnos.EINVAL
    process = k.process
    cred = process.creds
    dirfd = _i32(dirfd)
    try:
        path = "" if path_addr == 0 and flags & AT_EMPTY_PATH else \
            os.fsdecode(k.read_cstring(path_addr))
        # do_open_execat: the file comes before the strings.
        if path == "" and flags & AT_EMPTY_PATH:
            if dirfd == AT_FDCWD:
                lk = k.vfs.resolve(process.cwd)
                first = open_exec_inode(lk.existing(), lk.path, cred)
            else:
                f = process.fds[dirfd]
                if f.inode is None:
                    raise FsError(errnos.EACCES)
                first = open_exec_inode(f.inode, f.path, cred)
            filename = "/dev/fd/%d" % dirfd if dirfd != AT_FDCWD else process.cwd
            inaccessible = dirfd != AT_FDCWD and process.fds.get_cloexec(dirfd)
        else:
            base = "/"
            if not path.startswith("/"):
                if dirfd == AT_FDCWD:
                    base = process.cwd
                else:
                    d = process.fds[dirfd]
                    if not d.is_dir:
                        raise FsError(errnos.ENOTDIR)
                    base = d.path
            first = open_exec(k.vfs, path, base=base, cred=cred,
                              follow=not flags & AT_SYMLINK_NOFOLLOW)
            filename = path if path.startswith("/") or dirfd == AT_FDCWD else \
                f"/dev/fd/{dirfd}/{path}"
            inaccessible = filename.startswith("/dev/fd/") and process.fds.get_cloexec(dirfd)
    except FsError as e:
        if e.note:
            k.note(e.note)
        return -e.errno
    try:
        argv = _strings(k, argv_addr, "argv")
        envp = _strings(k, envp_addr, "envp")
    except NameTooLong:
        k.note(f"a string is longer than MAX_ARG_STRLEN ({binfmt.MAX_ARG_STRLEN} bytes)")
        return -errnos.E2BIG
    except GuestFault:
        return -errnos.EFAULT
    except binfmt.ArgListTooLong as e:
        k.note(str(e))
        return -errnos.E2BIG
    if not argv:
        # Linux 5.18+: never a process without argv[0] (and a warning in the log).
        k.note("argv is empty: Linux adds \"\" as argv[0]")
        argv = [b""]
    try:
        _check_limits(filename, argv, envp)
        program = find_program(k.vfs, first, filename, argv, cwd=process.cwd, cred=cred,
                               path_inaccessible=bool(inaccessible))
        _check_limits(filename, program.argv, envp)
    except binfmt.ArgListTooLong as e:
        k.note(str(e))
        return -errnos.E2BIG
    except ExecFailed as e:
        if e.why:
            k.note(e.why)
        return -e.errno
    loader = k.loader
    if loader is None:
        k.note("no loader for a new image")
        return -errnos.ENOEXEC
    argv_s = [os.fsdecode(a) for a in program.argv]
    envp_s = [os.fsdecode(e) for e in envp]
    try:
        new = loader.build(program.image, program.file.exe(), argv=argv_s, envp=envp_s,
                           execfn=filename, uid=process.uid, gid=process.gid,
                           euid=process.creds.euid, egid=process.creds.egid,
                           name=filename, interp=program.interp, pool=process.mm.pool)
    except binfmt.ArgListTooLong as e:
        k.note(str(e))
        return -errnos.E2BIG
    except binfmt.CannotLoad as e:
        k.note(str(e))
        return -errnos.ENOMEM
    begin_new_exec(k, new, program, argv=argv_s, envp=envp_s)
    if k.listeners:
        from kernel_model.trace.events import ProcessStarted

        p = k.process
        k.emit_after_trap(ProcessStarted(p.arch, p.exe_path, tuple(p.argv), tuple(p.envp),
                                         tuple(p.auxv), new.entry, new.sp, p.pid))
    return None if new.failure is not None else 0


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _strings(k, addr: int, what: str) -> list[bytes]:
    """A NULL-terminated array of string pointers in the caller's ABI (copy_strings):
    EFAULT for a bad pointer, E2BIG past the limits; NULL is an empty array."""
    out: list[bytes] = []
    if addr == 0:
        return out
    word = k.abi.word
    total = 0
    # However small the strings, this many pointers alone pass the limit (bprm_stack_limits).
    most = binfmt.STK_LIM // 4 * 3 // binfmt.KERNEL_POINTER
    while True:
        ptr = k.read_word(addr + len(out) * word)
        if ptr == 0:
            return out
        if len(out) >= most:
            raise binfmt.ArgListTooLong(f"more {what} strings than the stack limit allows")
        s = k.read_cstring(ptr, binfmt.MAX_ARG_STRLEN)
        total += len(s) + 1
        if total > binfmt.STK_LIM:
            raise binfmt.ArgListTooLong(f"the {what} strings pass the stack limit")
        out.append(s)


def _check_limits(filename: str, argv: list[bytes], envp: list[bytes]) -> None:
    strings = [os.fsencode(filename) + b"\0", *(e + b"\0" for e in envp),
               *(a + b"\0" for a in argv)]
    binfmt.check_arg_limits(os.fsdecode(argv[0]) if argv else filename, strings, len(argv),
                            len(envp))

"""What `syscall-lab run` takes, headless: its options parsed into RunOptions and its
program argument found (a path or a bundled program's name) and loaded. The command line
(tui/cli.py) builds its parser from these; lessons parse their `run` lines with them.
"""

from __future__ import annotations

import argparse
import os

ERA_NAMES = ("2.6.18", "2.6.33", "3.2", "5.3", "6.18")  # vdso.eras, not imported


class UsageError(Exception):
    pass


class CannotExecute(UsageError):
    """execve of the first program failed (e.g. its interpreter is missing): the line and
    the status a shell gives, 127 for ENOENT and 126 otherwise (bash's shell_execve)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status

    @classmethod
    def of(cls, program: str, failure) -> CannotExecute:
        import os

        why = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                      for c in str(failure))  # a PT_INTERP path may hold a newline
        if failure.errno == 2:  # ENOENT
            return cls(f"{program}: cannot execute: required file not found ({why})", 127)
        return cls(f"{program}: cannot execute: {os.strerror(failure.errno)} ({why})", 126)


class OptionParser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2, like every other bad input
        raise UsageError(message)


def positive_int(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def user(text: str) -> tuple[int, int]:
    """--user UID:GID: two numeric ids (the guest has no user names to look up)."""
    uid, sep, gid = text.partition(":")
    try:
        ids = int(uid), int(gid if sep else uid)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not UID:GID: {text!r} (e.g. 1000:1000)") from None
    if not all(0 <= i < 0xFFFFFFFF for i in ids):
        raise argparse.ArgumentTypeError(f"ids must be 0 to 4294967294: {text!r}")
    return ids


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def points(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().rstrip("ib")
    mult = units.get(t[-1:], 1)
    try:
        value = int(float(t[:-1] if t[-1:] in units else t) * mult)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 512M, 1G)") from None
    if value < (1 << 20):
        raise argparse.ArgumentTypeError(f"too small: {text!r} (at least 1M)")
    return value


def mount(text: str):
    from kernel_model.system import Mount

    parts = text.split(":")
    writable = False
    if len(parts) > 1 and parts[-1] in ("rw", "ro"):
        writable = parts.pop() == "rw"
    if len(parts) > 2 or not parts[0]:
        raise argparse.ArgumentTypeError(f"bad --mount {text!r}: use HOST[:GUEST][:rw]")
    host = os.path.abspath(parts[0])
    guest = parts[1] if len(parts) == 2 else host
    if not os.path.isdir(host):
        raise argparse.ArgumentTypeError(f"bad --mount {text!r}: {host} is not a directory")
    if not guest.startswith("/"):
        raise argparse.ArgumentTypeError(f"bad --mount {text!r}: the guest path must be "
                                         "absolute")
    return Mount(host, os.path.normpath(guest), writable)


def sysroot(text: str) -> str:
    path = os.path.abspath(text)
    if not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{text!r} is not a directory")
    return path


def add_run_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("trace")
    g.add_argument("-s", "--strace", action="store_true", help="print strace lines on stderr")
    g.add_argument("-f", "--follow-forks", action="store_true",
                   help="accepted for strace's -f, which changes nothing here: every process "
                        "and thread is always traced, and once there are several tasks each "
                        "line starts with [pid N], as strace -f's. Like strace -f PROG, it "
                        "turns the trace on; with -o FILE it puts the pid on every line of "
                        "the file, as strace -f -o does")
    g.add_argument("-o", "--output", metavar="FILE", help="write the trace (or -c's table) "
                   "to FILE; with several tasks each line starts with its pid, as strace -o's")
    g.add_argument("-c", "--summary", action="store_true",
                   help="print strace -c's table (every task's calls in one, as strace -f -c)")
    g.add_argument("--events", action="store_true",
                   help="trace with each call's entry mechanism ([syscall], [int 0x80], ...)")
    g.add_argument("--trace-json", metavar="FILE", help="write every event as JSON Lines "
                   "(each with the pid and tid of its task)")
    g.add_argument("--string-limit", type=positive_int, default=32, metavar="N",
                   help="bytes of each string shown in the trace (default 32)")
    m = p.add_argument_group("machine")
    m.add_argument("--seed", type=int, help="fix ASLR and randomness for a reproducible run")
    m.add_argument("--clock", default="real", metavar="real|virtual[:EPOCH]|frozen:EPOCH",
                   help="the guest's clock: the host's (run's default), a virtual one that "
                        "moves only with the guest's instructions and crossings (the "
                        "stepping TUI's, where real means virtual), or a frozen one")
    m.add_argument("--mount", action="append", type=mount, default=[],
                   metavar="HOST[:GUEST][:rw]", help="share a host directory (read-only "
                   "unless :rw)")
    libs = m.add_mutually_exclusive_group()
    libs.add_argument("--sysroot", type=sysroot, metavar="DIR",
                      help="take the library directories (/lib, /lib64, /usr/lib...) and "
                           "/etc/ld.so.cache the guest sees, read-only, from DIR instead of "
                           "the host's / (e.g. an unpacked i386 libc, a musl sysroot)")
    libs.add_argument("--no-host-libs", dest="host_libs", action="store_false",
                      help="show the guest no library directories and no /etc/ld.so.cache "
                           "(a dynamically linked program then finds no interpreter)")
    m.add_argument("--cwd", metavar="GUESTDIR", help="the guest's working directory "
                   "(default: the current directory if --mount shares it, else /)")
    m.add_argument("--max-insns", type=positive_int, metavar="N",
                   help="stop the guest after N instructions")
    m.add_argument("--timeout", type=seconds, metavar="S", help="stop the guest after S s")
    m.add_argument("--memory-limit", type=size, default=1 << 30, metavar="SIZE",
                   help="cap on guest memory (default 1G): mmap fails with ENOMEM beyond it")
    m.add_argument("--max-tasks", type=positive_int, default=256, metavar="N",
                   help="cap on live tasks (processes and threads) across the run, like "
                        "RLIMIT_NPROC: fork and clone fail with EAGAIN beyond it "
                        "(default 256)")
    m.add_argument("--timeslice", type=positive_int, metavar="N",
                   help="instructions a task runs before the next runnable one gets the "
                        "CPU (default 100000); the schedule is the same on every run")
    m.add_argument("--tmpfs-limit", type=size, metavar="SIZE",
                   help="cap on the file data in the in-memory /tmp (default: the memory "
                        "limit, which counts it too): writes fail with ENOSPC beyond it")
    m.add_argument("--user", type=user, metavar="UID:GID",
                   help="start the guest as this user and group, with no supplementary "
                        "groups (default 0:0, root)")
    m.add_argument("--arch", choices=("x86_64", "i386"),
                   help="for assembly files without a `bits` line (default x86_64)")
    m.add_argument("-E", "--env", action="append", default=None, metavar="VAR=VALUE",
                   help="the guest's environment (repeatable; default: a small clean one)")
    k = p.add_argument_group("kernel")
    k.add_argument("--kernel", default="6.18", metavar="ERA", choices=ERA_NAMES,
                   help=f"a kernel era's vsyscall/vDSO layout ({', '.join(ERA_NAMES)}; "
                        "default 6.18)")
    k.add_argument("--vsyscall", choices=("native", "emulate", "xonly", "none"),
                   help="the vsyscall page's mode (default: the era's; today xonly)")
    k.add_argument("--no-vdso", dest="vdso", action="store_false", default=None,
                   help="no vDSO, like the vdso=0 boot parameter")
    k.add_argument("--debug", action="store_true",
                   help="on an internal error of syscall-lab, print its Python traceback")


def add_run_command(p: argparse.ArgumentParser) -> None:
    """`run`'s options, then the program and its arguments."""
    add_run_options(p)
    p.add_argument("--record", metavar="FILE", help="also save every transition's views "
                   "for `syscall-lab replay FILE` (runs under the stepping engine)")
    p.add_argument("--gdb", metavar="[HOST:]PORT", help="wait for gdb (`target remote "
                   ":PORT`) with the guest stopped at its first instruction; host "
                   "127.0.0.1 unless given; port 0 picks a free one and prints it")
    p.add_argument("--gdb-listen-any", action="store_true", help="allow --gdb on a host "
                   "other than loopback (anyone who can connect controls the guest)")
    p.add_argument("program")
    p.add_argument("args", nargs=argparse.REMAINDER)


def parse_run_line(words: list[str]) -> argparse.Namespace:
    """`syscall-lab run WORDS...` parsed as the command line parses it (UsageError)."""
    p = OptionParser(prog="syscall-lab run")
    add_run_command(p)
    return p.parse_args(words)


def resolve_program(name: str, arch: str | None):
    """A path, or a bundled program's name. Returns emu.program.Program."""
    import programs
    from emu.elf import BadProgram
    from emu.program import load_program

    path = name
    if not os.path.exists(name):
        bundled = programs.find(name)
        if bundled is None:
            names = ", ".join(sorted(programs.catalog()))
            raise UsageError(f"{name}: no such file or bundled program (bundled: {names})")
        path = str(bundled.path)
    try:
        return load_program(path, 32 if arch == "i386" else 64)
    except BadProgram as e:
        raise UsageError(str(e)) from None


def run_options(args):
    """RunOptions from the run options on the command line (run and tui share them)."""
    from kernel_model.files.vfs import shared_cwd
    from kernel_model.system import RunOptions

    cwd = args.cwd or shared_cwd(args.mount) or "/"
    return RunOptions(seed=args.seed, clock=args.clock, mounts=args.mount, cwd=cwd,
                      max_insns=args.max_insns, timeout=args.timeout,
                      memory_limit=args.memory_limit, string_limit=args.string_limit,
                      env=args.env, kernel=args.kernel, vsyscall=args.vsyscall,
                      vdso=args.vdso, tmpfs_limit=getattr(args, "tmpfs_limit", None),
                      max_tasks=getattr(args, "max_tasks", 256),
                      user=getattr(args, "user", None),
                      timeslice=getattr(args, "timeslice", None) or 0,
                      host_libs=getattr(args, "host_libs", True),
                      sysroot=getattr(args, "sysroot", None))

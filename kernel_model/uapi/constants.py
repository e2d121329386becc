"""Linux's constants on x86, named the way strace 6.1 names them.

Flag sets and enum sets are looked up by the names used in argkinds `Flags(set)` and
`Enum(set)`. The values are the kernel's uapi ones (include/uapi/asm-generic/*, arch/x86/
include/uapi/asm/*); the order of each flag table is strace's xlat order (src/xlat/*.in),
because strace prints the names it finds in that order. Where the i386 ABI differs from
x86_64 a set can carry per-ABI overrides (`FLAG_SETS_BY_ABI`); for the sets here the
values happen to be the same on both.

Checked against strace 6.1 on Linux 6.18 (see tests/test_strace_format.py).
"""

from __future__ import annotations

from dataclasses import dataclass


# -- set types -------------------------------------------------------------------------
@dataclass(frozen=True)
class EnumSet:
    """One value out of a table. Unknown values print as strace's printxval does:
    `0x63 /* CLOCK_??? */` (hex) or, for `decimal` sets, `99 /* ... */`."""

    values: dict[int, str]
    default: str  # the comment for an unknown value, e.g. "CLOCK_???"
    decimal: bool = False
    bits: int = 32  # the C type's width: the value is cut to it (an `int` argument)


@dataclass(frozen=True)
class FlagSet:
    """Bits named from a table, strace's printflags: names in table order joined by "|",
    leftover bits as "|0x...". A value of 0 prints the table's 0-valued name if it has one,
    else "0" (or nothing at all when strace passes no default: its termios quirk)."""

    flags: tuple[tuple[str, int], ...]
    default: str | None  # comment for a value with no known bit at all ("PROT_???")
    # A multi-bit field printed first as one value (open's access mode, mmap's type).
    field_mask: int = 0
    field: EnumSet | None = None
    # A trailing "N<<NAME" number field (mmap's MAP_HUGE_SHIFT): (shift, mask, name).
    shift_field: tuple[int, int, str] | None = None
    bits: int = 32


# -- signals -----------------------------------------------------------------------------
# arch/x86/include/uapi/asm/signal.h; strace's signalent names (SIGIO, not SIGPOLL).
SIGNALS: dict[int, str] = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
    7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
    13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD",
    18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG",
    24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO",
    30: "SIGPWR", 31: "SIGSYS", 32: "SIGRTMIN",
}
SIGNAL_NUMBERS: dict[str, int] = {name: n for n, name in SIGNALS.items()}
SIGNAL_NUMBERS.update({"SIGIOT": 6, "SIGPOLL": 29, "SIGUNUSED": 31})
SIGRTMIN = 32  # the kernel's; glibc reserves 32 and 33 and calls 34 SIGRTMIN
SIGRTMAX = 64
NSIG_BYTES = 8  # the kernel's sigset_t on x86


def signal_name(signo: int) -> str | None:
    """strace's signame(): SIGSEGV, SIGRTMIN, SIGRT_2 ... SIGRT_32; None if not a signal."""
    if signo in SIGNALS:
        return SIGNALS[signo]
    if SIGRTMIN < signo <= SIGRTMAX:
        return f"SIGRT_{signo - SIGRTMIN}"
    return None


def signal_text(signo: int) -> str:
    """A signal argument as strace prints it: its name, or the number."""
    signo = _to_signed(signo, 32)
    return signal_name(signo) or str(signo)


# -- si_code -----------------------------------------------------------------------------
# strace looks a code up in the generic table first, then in the signal's own table.
SI_CODES: dict[int, str] = {
    0: "SI_USER", 0x80: "SI_KERNEL", -1: "SI_QUEUE", -2: "SI_TIMER", -3: "SI_MESGQ",
    -4: "SI_ASYNCIO", -5: "SI_SIGIO", -6: "SI_TKILL", -7: "SI_DETHREAD", -60: "SI_ASYNCNL",
}
SI_CODES_BY_SIGNAL: dict[int, dict[int, str]] = {
    4: {1: "ILL_ILLOPC", 2: "ILL_ILLOPN", 3: "ILL_ILLADR", 4: "ILL_ILLTRP", 5: "ILL_PRVOPC",
        6: "ILL_PRVREG", 7: "ILL_COPROC", 8: "ILL_BADSTK"},
    5: {1: "TRAP_BRKPT", 2: "TRAP_TRACE", 3: "TRAP_BRANCH", 4: "TRAP_HWBKPT", 5: "TRAP_UNK",
        6: "TRAP_PERF"},
    7: {1: "BUS_ADRALN", 2: "BUS_ADRERR", 3: "BUS_OBJERR", 4: "BUS_MCEERR_AR",
        5: "BUS_MCEERR_AO"},
    8: {1: "FPE_INTDIV", 2: "FPE_INTOVF", 3: "FPE_FLTDIV", 4: "FPE_FLTOVF", 5: "FPE_FLTUND",
        6: "FPE_FLTRES", 7: "FPE_FLTINV", 8: "FPE_FLTSUB", 14: "FPE_FLTUNK", 15: "FPE_CONDTRAP"},
    11: {1: "SEGV_MAPERR", 2: "SEGV_ACCERR", 3: "SEGV_BNDERR", 4: "SEGV_PKUERR",
         10: "SEGV_CPERR"},
    17: {1: "CLD_EXITED", 2: "CLD_KILLED", 3: "CLD_DUMPED", 4: "CLD_TRAPPED", 5: "CLD_STOPPED",
         6: "CLD_CONTINUED"},
    29: {1: "POLL_IN", 2: "POLL_OUT", 3: "POLL_MSG", 4: "POLL_ERR", 5: "POLL_PRI", 6: "POLL_HUP"},
    31: {1: "SYS_SECCOMP", 2: "SYS_USER_DISPATCH"},
}
SI_CODE_NUMBERS: dict[str, int] = {
    **{name: code for code, name in SI_CODES.items()},
    **{name: code for table in SI_CODES_BY_SIGNAL.values() for code, name in table.items()},
}


def si_code_name(signo: int, code: int) -> str:
    """SEGV_MAPERR, SI_KERNEL, ...; an unknown code as strace prints it (hex)."""
    code = _to_signed(code, 32)
    name = SI_CODES.get(code) or SI_CODES_BY_SIGNAL.get(signo, {}).get(code)
    return name or f"{code & 0xFFFFFFFF:#x}"


# -- enum sets ---------------------------------------------------------------------------
def _enum(default: str, *names: str, start: int = 0, **kw) -> EnumSet:
    """An enum whose values are consecutive from `start` (strace's #value_indexed tables)."""
    return EnumSet({start + i: n for i, n in enumerate(names) if n}, default, **kw)


IOCTLS: dict[int, str] = {
    # asm-generic/ioctls.h; strace prints the sound-timer aliases it cannot tell apart.
    0x5401: "TCGETS", 0x5402: "SNDCTL_TMR_START or TCSETS",
    0x5403: "SNDCTL_TMR_STOP or TCSETSW", 0x5404: "SNDCTL_TMR_CONTINUE or TCSETSF",
    0x5405: "TCGETA", 0x5406: "TCSETA", 0x5407: "TCSETAW", 0x5408: "TCSETAF",
    0x5409: "TCSBRK", 0x540A: "TCXONC", 0x540B: "TCFLSH", 0x540C: "TIOCEXCL",
    0x540D: "TIOCNXCL", 0x540E: "TIOCSCTTY", 0x540F: "TIOCGPGRP", 0x5410: "TIOCSPGRP",
    0x5411: "TIOCOUTQ", 0x5412: "TIOCSTI", 0x5413: "TIOCGWINSZ", 0x5414: "TIOCSWINSZ",
    0x5415: "TIOCMGET", 0x5416: "TIOCMBIS", 0x5417: "TIOCMBIC", 0x5418: "TIOCMSET",
    0x5419: "TIOCGSOFTCAR", 0x541A: "TIOCSSOFTCAR", 0x541B: "FIONREAD", 0x541C: "TIOCLINUX",
    0x541D: "TIOCCONS", 0x541E: "TIOCGSERIAL", 0x541F: "TIOCSSERIAL", 0x5420: "TIOCPKT",
    0x5421: "FIONBIO", 0x5422: "TIOCNOTTY", 0x5423: "TIOCSETD", 0x5424: "TIOCGETD",
    0x5425: "TCSBRKP", 0x5427: "TIOCSBRK", 0x5428: "TIOCCBRK", 0x5429: "TIOCGSID",
    0x802C542A: "TCGETS2", 0x402C542B: "TCSETS2", 0x402C542C: "TCSETSW2",
    0x402C542D: "TCSETSF2", 0x80045430: "TIOCGPTN", 0x40045431: "TIOCSPTLCK",
    0x5450: "FIONCLEX", 0x5451: "FIOCLEX", 0x5452: "FIOASYNC", 0x5456: "TIOCGLCKTRMIOS",
    0x5457: "TIOCSLCKTRMIOS", 0x5460: "FIOQSIZE",
}
IOCTL_NUMBERS: dict[str, int] = {name.split(" or ")[-1]: n for n, name in IOCTLS.items()}

ENUM_SETS: dict[str, EnumSet] = {
    "clock": _enum(
        "CLOCK_???", "CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_PROCESS_CPUTIME_ID",
        "CLOCK_THREAD_CPUTIME_ID", "CLOCK_MONOTONIC_RAW", "CLOCK_REALTIME_COARSE",
        "CLOCK_MONOTONIC_COARSE", "CLOCK_BOOTTIME", "CLOCK_REALTIME_ALARM",
        "CLOCK_BOOTTIME_ALARM", "CLOCK_SGI_CYCLE", "CLOCK_TAI"),
    "arch_prctl": EnumSet({
        0x1001: "ARCH_SET_GS", 0x1002: "ARCH_SET_FS", 0x1003: "ARCH_GET_FS",
        0x1004: "ARCH_GET_GS", 0x1011: "ARCH_GET_CPUID", 0x1012: "ARCH_SET_CPUID",
        0x1021: "ARCH_GET_XCOMP_SUPP", 0x1022: "ARCH_GET_XCOMP_PERM",
        0x1023: "ARCH_REQ_XCOMP_PERM", 0x1024: "ARCH_GET_XCOMP_GUEST_PERM",
        0x1025: "ARCH_REQ_XCOMP_GUEST_PERM", 0x2001: "ARCH_MAP_VDSO_X32",
        0x2002: "ARCH_MAP_VDSO_32", 0x2003: "ARCH_MAP_VDSO_64", 0x4001: "ARCH_GET_UNTAG_MASK",
        0x4002: "ARCH_ENABLE_TAGGED_ADDR", 0x4003: "ARCH_GET_MAX_TAG_BITS",
        0x4004: "ARCH_FORCE_TAGGED_SVA", 0x5001: "ARCH_SHSTK_ENABLE",
        0x5002: "ARCH_SHSTK_DISABLE", 0x5003: "ARCH_SHSTK_LOCK", 0x5004: "ARCH_SHSTK_UNLOCK",
        0x5005: "ARCH_SHSTK_STATUS",
    }, "ARCH_???"),
    "whence": _enum("SEEK_???", "SEEK_SET", "SEEK_CUR", "SEEK_END", "SEEK_DATA", "SEEK_HOLE"),
    "fcntl": EnumSet({
        0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL", 5: "F_GETLK",
        6: "F_SETLK", 7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN", 10: "F_SETSIG",
        11: "F_GETSIG", 12: "F_GETLK64", 13: "F_SETLK64", 14: "F_SETLKW64", 15: "F_SETOWN_EX",
        16: "F_GETOWN_EX", 17: "F_GETOWNER_UIDS", 36: "F_OFD_GETLK", 37: "F_OFD_SETLK",
        38: "F_OFD_SETLKW", 1024: "F_SETLEASE", 1025: "F_GETLEASE", 1026: "F_NOTIFY",
        1027: "F_DUPFD_QUERY", 1028: "F_CREATED_QUERY", 1029: "F_CANCELLK",
        1030: "F_DUPFD_CLOEXEC", 1031: "F_SETPIPE_SZ", 1032: "F_GETPIPE_SZ",
        1033: "F_ADD_SEALS", 1034: "F_GET_SEALS",
    }, "F_???"),
    "ioctl": EnumSet(IOCTLS, "_IOC"),  # unknown numbers: strace's _IOC(...) form
    "rlimit": _enum(
        "RLIMIT_???", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK",
        "RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK",
        "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
        "RLIMIT_RTPRIO", "RLIMIT_RTTIME"),
    "sigprocmask_how": _enum("SIG_???", "SIG_BLOCK", "SIG_UNBLOCK", "SIG_SETMASK"),
    "madvise": EnumSet({
        0: "MADV_NORMAL", 1: "MADV_RANDOM", 2: "MADV_SEQUENTIAL", 3: "MADV_WILLNEED",
        4: "MADV_DONTNEED", 8: "MADV_FREE", 9: "MADV_REMOVE", 10: "MADV_DONTFORK",
        11: "MADV_DOFORK", 12: "MADV_MERGEABLE", 13: "MADV_UNMERGEABLE", 14: "MADV_HUGEPAGE",
        15: "MADV_NOHUGEPAGE", 16: "MADV_DONTDUMP", 17: "MADV_DODUMP", 18: "MADV_WIPEONFORK",
        19: "MADV_KEEPONFORK", 20: "MADV_COLD", 21: "MADV_PAGEOUT", 22: "MADV_POPULATE_READ",
        23: "MADV_POPULATE_WRITE", 24: "MADV_DONTNEED_LOCKED", 25: "MADV_COLLAPSE",
        100: "MADV_HWPOISON", 101: "MADV_SOFT_OFFLINE", 102: "MADV_GUARD_INSTALL",
        103: "MADV_GUARD_REMOVE",
    }, "MADV_???"),
    # Signals as an enum: unknown numbers print in decimal with no comment (signal_text).
    "signal": EnumSet({n: name for n in range(1, SIGRTMAX + 1)
                       if (name := signal_name(n)) is not None}, "", decimal=True),
    "tcxonc": _enum("TC???", "TCOOFF", "TCOON", "TCIOFF", "TCION", bits=64),
    "tcflsh": _enum("TC???", "TCIFLUSH", "TCOFLUSH", "TCIOFLUSH", bits=64),
    "sa_handler": EnumSet({0: "SIG_DFL", 1: "SIG_IGN"}, "", bits=64),
}
# The generic si_code table; per-signal codes come from si_code_name(signo, code).
ENUM_SETS["si_code"] = EnumSet(dict(SI_CODES), "SI_???")


# -- flag sets ---------------------------------------------------------------------------
def _flags(default: str | None, *pairs: tuple[str, int], **kw) -> FlagSet:
    return FlagSet(tuple(pairs), default, **kw)


# O_* (asm-generic/fcntl.h, which x86 uses unchanged), in strace's open_mode_flags order.
O_ACCMODE = 0o3
O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC, O_APPEND = 0o100, 0o200, 0o400, 0o1000, 0o2000
O_NONBLOCK, O_DSYNC, O_ASYNC, O_DIRECT, O_LARGEFILE = 0o4000, 0o10000, 0o20000, 0o40000, 0o100000
O_DIRECTORY, O_NOFOLLOW, O_NOATIME, O_CLOEXEC = 0o200000, 0o400000, 0o1000000, 0o2000000
O_SYNC, O_PATH, O_TMPFILE = 0o4010000, 0o10000000, 0o20200000
OPEN_ACCESS = EnumSet({0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR", 3: "O_ACCMODE"}, "O_???")
_OPEN_MODE_FLAGS = (
    ("O_CREAT", O_CREAT), ("O_EXCL", O_EXCL), ("O_NOCTTY", O_NOCTTY), ("O_TRUNC", O_TRUNC),
    ("O_APPEND", O_APPEND), ("O_NONBLOCK", O_NONBLOCK),
    ("O_SYNC", O_SYNC), ("O_DSYNC", O_DSYNC),  # O_SYNC contains O_DSYNC: listed first
    ("O_DIRECT", O_DIRECT),
    # strace 6.1 prints O_LARGEFILE on x86_64 too (musl passes it: open(..., O_RDONLY|
    # O_LARGEFILE)); glibc's x86_64 headers define it as 0, so glibc programs never set it.
    ("O_LARGEFILE", O_LARGEFILE),
    ("O_NOFOLLOW", O_NOFOLLOW), ("O_NOATIME", O_NOATIME), ("O_CLOEXEC", O_CLOEXEC),
    ("O_PATH", O_PATH),
    ("O_TMPFILE", O_TMPFILE), ("O_DIRECTORY", O_DIRECTORY),  # O_TMPFILE contains O_DIRECTORY
    ("FASYNC", O_ASYNC),
)

PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC = 0, 1, 2, 4
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x01, 0x02, 0x10, 0x20
MAP_TYPE = 0x0F
MAP_HUGE_SHIFT, MAP_HUGE_MASK = 26, 0x3F
MAP_FIXED_NOREPLACE = 0x100000
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, AT_SYMLINK_FOLLOW = 0x100, 0x200, 0x400
AT_NO_AUTOMOUNT, AT_EMPTY_PATH, AT_RECURSIVE = 0x800, 0x1000, 0x8000
AT_STATX_SYNC_TYPE, AT_STATX_FORCE_SYNC, AT_STATX_DONT_SYNC = 0x6000, 0x2000, 0x4000
FD_CLOEXEC = 1
TIMER_ABSTIME = 1
SA_NOCLDSTOP, SA_NOCLDWAIT, SA_SIGINFO = 0x1, 0x2, 0x4
SA_RESTORER, SA_ONSTACK, SA_RESTART = 0x04000000, 0x08000000, 0x10000000
SA_INTERRUPT, SA_NODEFER, SA_RESETHAND = 0x20000000, 0x40000000, 0x80000000
SS_ONSTACK, SS_DISABLE, SS_AUTODISARM = 1, 2, 0x80000000

_AT_FLAGS = (
    ("AT_SYMLINK_NOFOLLOW", AT_SYMLINK_NOFOLLOW), ("AT_REMOVEDIR", AT_REMOVEDIR),
    ("AT_SYMLINK_FOLLOW", AT_SYMLINK_FOLLOW), ("AT_NO_AUTOMOUNT", AT_NO_AUTOMOUNT),
    ("AT_EMPTY_PATH", AT_EMPTY_PATH), ("AT_RECURSIVE", AT_RECURSIVE),
)
_STATX_MASKS = (
    ("STATX_ALL", 0xFFF), ("STATX_BASIC_STATS", 0x7FF),  # the sums first, as strace lists them
    ("STATX_TYPE", 0x1), ("STATX_MODE", 0x2), ("STATX_NLINK", 0x4), ("STATX_UID", 0x8),
    ("STATX_GID", 0x10), ("STATX_ATIME", 0x20), ("STATX_MTIME", 0x40), ("STATX_CTIME", 0x80),
    ("STATX_INO", 0x100), ("STATX_SIZE", 0x200), ("STATX_BLOCKS", 0x400),
    ("STATX_BTIME", 0x800), ("STATX_MNT_ID", 0x1000), ("STATX_DIOALIGN", 0x2000),
    ("STATX_MNT_ID_UNIQUE", 0x4000), ("STATX_SUBVOL", 0x8000),
    ("STATX_WRITE_ATOMIC", 0x10000), ("STATX_DIO_READ_ALIGN", 0x20000),
)
STATX_BASIC_STATS, STATX_ALL = 0x7FF, 0xFFF

FLAG_SETS: dict[str, FlagSet] = {
    "open": _flags(None, *_OPEN_MODE_FLAGS, field_mask=O_ACCMODE, field=OPEN_ACCESS),
    "at": _flags("AT_???", *_AT_FLAGS,
                 ("AT_STATX_FORCE_SYNC", AT_STATX_FORCE_SYNC),
                 ("AT_STATX_DONT_SYNC", AT_STATX_DONT_SYNC)),
    # statx's flags: the sync type first, as a field (so 0 reads AT_STATX_SYNC_AS_STAT).
    "statx_flags": _flags("AT_???", *_AT_FLAGS, field_mask=AT_STATX_SYNC_TYPE, field=EnumSet({
        0: "AT_STATX_SYNC_AS_STAT", 0x2000: "AT_STATX_FORCE_SYNC",
        0x4000: "AT_STATX_DONT_SYNC", 0x6000: "AT_STATX_FORCE_SYNC|AT_STATX_DONT_SYNC",
    }, "AT_STATX_???")),
    "prot": _flags("PROT_???", ("PROT_NONE", 0), ("PROT_READ", 1), ("PROT_WRITE", 2),
                   ("PROT_EXEC", 4), ("PROT_SEM", 8), ("PROT_GROWSDOWN", 0x01000000),
                   ("PROT_GROWSUP", 0x02000000)),
    # mmap: the type field (printed even when 0: MAP_FILE), the flags, then the huge page
    # size as "N<<MAP_HUGE_SHIFT" (strace's print_mmap_flags).
    "map": _flags(None, ("MAP_FIXED", 0x10), ("MAP_ANONYMOUS", 0x20), ("MAP_32BIT", 0x40),
                  ("MAP_ABOVE4G", 0x80), ("MAP_NORESERVE", 0x4000), ("MAP_POPULATE", 0x8000),
                  ("MAP_NONBLOCK", 0x10000), ("MAP_GROWSDOWN", 0x100),
                  ("MAP_DENYWRITE", 0x800), ("MAP_EXECUTABLE", 0x1000),
                  ("MAP_LOCKED", 0x2000), ("MAP_STACK", 0x20000), ("MAP_HUGETLB", 0x40000),
                  ("MAP_SYNC", 0x80000), ("MAP_UNINITIALIZED", 0x4000000),
                  ("MAP_FIXED_NOREPLACE", 0x100000),
                  field_mask=MAP_TYPE, field=EnumSet({
                      0: "MAP_FILE", 1: "MAP_SHARED", 2: "MAP_PRIVATE",
                      3: "MAP_SHARED_VALIDATE", 8: "MAP_DROPPABLE"}, "MAP_???"),
                  shift_field=(MAP_HUGE_SHIFT, MAP_HUGE_MASK, "MAP_HUGE_SHIFT")),
    "grnd": _flags("GRND_???", ("GRND_NONBLOCK", 1), ("GRND_RANDOM", 2), ("GRND_INSECURE", 4)),
    "sa": _flags("SA_???", ("SA_RESTORER", SA_RESTORER), ("SA_ONSTACK", SA_ONSTACK),
                 ("SA_RESTART", SA_RESTART), ("SA_INTERRUPT", SA_INTERRUPT),
                 ("SA_NODEFER", SA_NODEFER), ("SA_RESETHAND", SA_RESETHAND),
                 ("SA_SIGINFO", SA_SIGINFO), ("SA_NOCLDSTOP", SA_NOCLDSTOP),
                 ("SA_NOCLDWAIT", SA_NOCLDWAIT), bits=64),
    "mremap": _flags("MREMAP_???", ("MREMAP_MAYMOVE", 1), ("MREMAP_FIXED", 2),
                     ("MREMAP_DONTUNMAP", 4)),
    # pipe2 and dup3 print their flags with the whole open_mode_flags table.
    "pipe": _flags("O_???", *_OPEN_MODE_FLAGS),
    "dup3": _flags("O_???", *_OPEN_MODE_FLAGS),
    "statx_mask": _flags("STATX_???", *_STATX_MASKS),
    "statx_attrs": _flags("STATX_ATTR_???", ("STATX_ATTR_COMPRESSED", 0x4),
                          ("STATX_ATTR_IMMUTABLE", 0x10), ("STATX_ATTR_APPEND", 0x20),
                          ("STATX_ATTR_NODUMP", 0x40), ("STATX_ATTR_ENCRYPTED", 0x800),
                          ("STATX_ATTR_AUTOMOUNT", 0x1000), ("STATX_ATTR_MOUNT_ROOT", 0x2000),
                          ("STATX_ATTR_VERITY", 0x100000), ("STATX_ATTR_DAX", 0x200000),
                          ("STATX_ATTR_WRITE_ATOMIC", 0x400000), bits=64),
    "fd_flags": _flags("FD_???", ("FD_CLOEXEC", FD_CLOEXEC)),
    "msync": _flags("MS_???", ("MS_SYNC", 4), ("MS_ASYNC", 1), ("MS_INVALIDATE", 2)),
    "mlock2": _flags("MLOCK_???", ("MLOCK_ONFAULT", 1)),
    "mlockall": _flags("MCL_???", ("MCL_CURRENT", 1), ("MCL_FUTURE", 2), ("MCL_ONFAULT", 4)),
    "rename": _flags("RENAME_???", ("RENAME_NOREPLACE", 1), ("RENAME_EXCHANGE", 2),
                     ("RENAME_WHITEOUT", 4)),
    "fallocate": _flags("FALLOC_FL_???", ("FALLOC_FL_KEEP_SIZE", 1),
                        ("FALLOC_FL_PUNCH_HOLE", 2), ("FALLOC_FL_NO_HIDE_STALE", 4),
                        ("FALLOC_FL_COLLAPSE_RANGE", 8), ("FALLOC_FL_ZERO_RANGE", 0x10),
                        ("FALLOC_FL_INSERT_RANGE", 0x20), ("FALLOC_FL_UNSHARE_RANGE", 0x40)),
    "access": _flags("?_OK", ("F_OK", 0), ("R_OK", 4), ("W_OK", 2), ("X_OK", 1)),
    "clock_flags": _flags("TIMER_???", ("TIMER_ABSTIME", TIMER_ABSTIME)),
    "ss": _flags("SS_???", ("SS_ONSTACK", SS_ONSTACK), ("SS_DISABLE", SS_DISABLE),
                 ("SS_AUTODISARM", SS_AUTODISARM)),
    # termios fields (strace's term.c prints them with no default: 0 prints as nothing).
    "termios_iflag": _flags(None, ("IGNBRK", 0o1), ("BRKINT", 0o2), ("IGNPAR", 0o4),
                            ("PARMRK", 0o10), ("INPCK", 0o20), ("ISTRIP", 0o40),
                            ("INLCR", 0o100), ("IGNCR", 0o200), ("ICRNL", 0o400),
                            ("IUCLC", 0o1000), ("IXON", 0o2000), ("IXANY", 0o4000),
                            ("IXOFF", 0o10000), ("IMAXBEL", 0o20000), ("IUTF8", 0o40000),
                            bits=64),
    "termios_oflag": _flags(None, ("OPOST", 0o1), ("OLCUC", 0o2), ("ONLCR", 0o4),
                            ("OCRNL", 0o10), ("ONOCR", 0o20), ("ONLRET", 0o40),
                            ("OFILL", 0o100), ("OFDEL", 0o200), bits=64),
    "termios_cflag": _flags(None, ("CSTOPB", 0o100), ("CREAD", 0o200), ("PARENB", 0o400),
                            ("PARODD", 0o1000), ("HUPCL", 0o2000), ("CLOCAL", 0o4000),
                            ("CMSPAR", 0o10000000000), ("CRTSCTS", 0o20000000000), bits=64),
    "termios_lflag": _flags(None, ("ISIG", 0o1), ("ICANON", 0o2), ("XCASE", 0o4),
                            ("ECHO", 0o10), ("ECHOE", 0o20), ("ECHOK", 0o40),
                            ("ECHONL", 0o100), ("NOFLSH", 0o200), ("IEXTEN", 0o100000),
                            ("ECHOCTL", 0o1000), ("ECHOPRT", 0o2000), ("ECHOKE", 0o4000),
                            ("FLUSHO", 0o10000), ("PENDIN", 0o40000), ("TOSTOP", 0o400),
                            ("EXTPROC", 0o200000), bits=64),
}

# termios multi-bit fields: (mask, names by value, default), strace's decode_oflag/cflag.
TERMIOS_OFLAG_FIELDS: tuple[tuple[int, dict[int, str], str], ...] = (
    (0o400, {0: "NL0", 0o400: "NL1"}, "NL?"),
    (0o3000, {0: "CR0", 0o1000: "CR1", 0o2000: "CR2", 0o3000: "CR3"}, "CR?"),
    (0o14000, {0: "TAB0", 0o4000: "TAB1", 0o10000: "TAB2", 0o14000: "XTABS"}, "TAB?"),
    (0o20000, {0: "BS0", 0o20000: "BS1"}, "BS?"),
    (0o40000, {0: "VT0", 0o40000: "VT1"}, "VT?"),
    (0o100000, {0: "FF0", 0o100000: "FF1"}, "FF?"),
)
BAUD_RATES: dict[int, str] = {
    0o0: "B0", 0o1: "B50", 0o2: "B75", 0o3: "B110", 0o4: "B134", 0o5: "B150", 0o6: "B200",
    0o7: "B300", 0o10: "B600", 0o11: "B1200", 0o12: "B1800", 0o13: "B2400", 0o14: "B4800",
    0o15: "B9600", 0o16: "B19200", 0o17: "B38400", 0o10000: "BOTHER", 0o10001: "B57600",
    0o10002: "B115200", 0o10003: "B230400", 0o10004: "B460800", 0o10005: "B500000",
    0o10006: "B576000", 0o10007: "B921600", 0o10010: "B1000000", 0o10011: "B1152000",
    0o10012: "B1500000", 0o10013: "B2000000", 0o10014: "B2500000", 0o10015: "B3000000",
    0o10016: "B3500000", 0o10017: "B4000000",
}
CBAUD, CIBAUD, IBSHIFT, CSIZE = 0o10017, 0o2003600000, 16, 0o60
CSIZES: dict[int, str] = {0: "CS5", 0o20: "CS6", 0o40: "CS7", 0o60: "CS8"}

# File types for st_mode (strace's print_symbolic_mode_t).
S_IFMT = 0o170000
FILE_TYPES: dict[int, str] = {
    0o140000: "S_IFSOCK", 0o120000: "S_IFLNK", 0o100000: "S_IFREG", 0o060000: "S_IFBLK",
    0o040000: "S_IFDIR", 0o020000: "S_IFCHR", 0o010000: "S_IFIFO",
}
S_ISUID, S_ISGID, S_ISVTX = 0o4000, 0o2000, 0o1000

# Per-ABI overrides of a set, for values that differ between x86_64 and i386. None today:
# the uapi values above are the same for both ABIs (x86 uses the generic fcntl.h, and
# fcntl64's F_GETLK64 12/13/14 are in the one "fcntl" table).
FLAG_SETS_BY_ABI: dict[str, dict[str, FlagSet]] = {"x86_64": {}, "i386": {}}
ENUM_SETS_BY_ABI: dict[str, dict[str, EnumSet]] = {"x86_64": {}, "i386": {}}


# -- text --------------------------------------------------------------------------------
def chex(value: int) -> str:
    """C's "%#x": 0x1f, but plain 0 for zero."""
    return f"{value:#x}" if value else "0"


def coct(value: int) -> str:
    """C's "%#03o", strace's mode format: 0644, 000, 04755."""
    return "0" + format(value, "o").zfill(2)


def _to_signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _abi_name(abi) -> str:
    return getattr(abi, "name", abi) or "x86_64"


def flag_set(name: str, abi="x86_64") -> FlagSet:
    return FLAG_SETS_BY_ABI.get(_abi_name(abi), {}).get(name) or FLAG_SETS[name]


def enum_set(name: str, abi="x86_64") -> EnumSet:
    return ENUM_SETS_BY_ABI.get(_abi_name(abi), {}).get(name) or ENUM_SETS[name]


def _names(table: tuple[tuple[str, int], ...], value: int) -> tuple[list[str], int]:
    """strace's flag loop: each name whose bits are all set, in table order; what's left."""
    names = []
    for name, bits in table:
        if not value:
            break
        if bits and value & bits == bits:
            names.append(name)
            value &= ~bits
    return names, value


def flags_text(set: str | FlagSet, value: int, abi="x86_64") -> str:  # noqa: A002
    """Flags as strace prints them: "O_RDONLY|O_CLOEXEC", "PROT_READ|0x100",
    "0x40 /* GRND_??? */" (no bit known), "PROT_NONE" / "0" for zero."""
    fs = set if isinstance(set, FlagSet) else flag_set(set, abi)
    value &= (1 << fs.bits) - 1
    parts = []
    if fs.field is not None:
        parts.append(enum_text(fs.field, value & fs.field_mask, abi))
        value &= ~fs.field_mask
    huge = 0
    huge_name = ""
    if fs.shift_field:
        shift, mask, huge_name = fs.shift_field
        huge = (value >> shift) & mask
        value &= ~(mask << shift)
    if value or fs.field is None:
        parts.append(_plain_flags(fs, value, top_level=fs.field is None))
    if huge:
        parts.append(f"{huge}<<{huge_name}")
    return "|".join(parts)


def _plain_flags(fs: FlagSet, value: int, top_level: bool) -> str:
    if value == 0:
        zero = next((name for name, bits in fs.flags if bits == 0), None)
        if zero:
            return zero
        return "0" if fs.default is not None else ""
    names, rest = _names(fs.flags, value)
    if not names:
        comment = f" /* {fs.default} */" if fs.default and top_level else ""
        return f"{rest:#x}{comment}"
    if rest:
        names.append(f"{rest:#x}")
    return "|".join(names)


def enum_text(set: str | EnumSet, value: int, abi="x86_64") -> str:  # noqa: A002
    """One value as strace prints it: its name, else `0x1234 /* ARCH_??? */`."""
    es = set if isinstance(set, EnumSet) else enum_set(set, abi)
    value &= (1 << es.bits) - 1
    if value in es.values:
        return es.values[value]
    if es.default == "_IOC":
        return ioc_text(value)
    number = str(_to_signed(value, es.bits)) if es.decimal else chex(value)
    return f"{number} /* {es.default} */" if es.default else number


_IOC_DIRS = {0: "_IOC_NONE", 1: "_IOC_WRITE", 2: "_IOC_READ", 3: "_IOC_READ|_IOC_WRITE"}


def ioc_text(cmd: int) -> str:
    """An ioctl number strace has no name for, split into its _IOC fields."""
    cmd &= 0xFFFFFFFF
    direction, size = cmd >> 30, (cmd >> 16) & 0x3FFF
    kind, nr = (cmd >> 8) & 0xFF, cmd & 0xFF
    return f"_IOC({_IOC_DIRS[direction]}, {chex(kind)}, {chex(nr)}, {chex(size)})"


def mode_text(mode: int) -> str:
    """A st_mode: "S_IFREG|0644", "S_IFDIR|S_ISVTX|0777" (print_symbolic_mode_t)."""
    kind = mode & S_IFMT
    if kind and kind not in FILE_TYPES:
        return coct(mode)
    parts = [FILE_TYPES[kind]] if kind else []
    parts += [name for bit, name in ((S_ISUID, "S_ISUID"), (S_ISGID, "S_ISGID"),
                                     (S_ISVTX, "S_ISVTX")) if mode & bit]
    parts.append(coct(mode & ~(S_IFMT | S_ISUID | S_ISGID | S_ISVTX)))
    return "|".join(parts)


def termios_oflag_text(value: int) -> str:
    parts = []
    for mask, names, default in TERMIOS_OFLAG_FIELDS:
        parts.append(names.get(value & mask, default))
        value &= ~mask
    parts.append(_plain_flags(FLAG_SETS["termios_oflag"], value, top_level=False))
    return "|".join(parts)


def termios_cflag_text(value: int) -> str:
    parts = [BAUD_RATES.get(value & CBAUD, f"{chex(value & CBAUD)} /* B??? */")]
    if value & CIBAUD:
        ibaud = (value & CIBAUD) >> IBSHIFT
        parts.append(f"{BAUD_RATES.get(ibaud, chex(ibaud))}<<IBSHIFT")
    parts.append(CSIZES[value & CSIZE])
    value &= ~(CBAUD | CIBAUD | CSIZE)
    parts.append(_plain_flags(FLAG_SETS["termios_cflag"], value, top_level=False))
    return "|".join(parts)


__all__ = [
    "EnumSet", "FlagSet", "SIGNALS", "SIGNAL_NUMBERS", "SI_CODES", "SI_CODES_BY_SIGNAL",
    "ENUM_SETS", "FLAG_SETS", "IOCTLS", "IOCTL_NUMBERS", "signal_name", "signal_text",
    "si_code_name", "flags_text", "enum_text", "flag_set", "enum_set", "ioc_text",
    "mode_text", "termios_oflag_text", "termios_cflag_text", "chex", "coct",
]

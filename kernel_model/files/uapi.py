"""The file-related numbers of Linux's x86 user ABI (include/uapi/asm-generic/fcntl.h,
include/uapi/linux/stat.h, fs/readdir.c). Identical for x86-64 and i386 processes."""

# open(2) flags (octal, as the headers write them).
O_ACCMODE = 0o3
O_RDONLY, O_WRONLY, O_RDWR = 0, 1, 2
O_CREAT = 0o100
O_EXCL = 0o200
O_NOCTTY = 0o400
O_TRUNC = 0o1000
O_APPEND = 0o2000
O_NONBLOCK = 0o4000
O_DSYNC = 0o10000
FASYNC = 0o20000
O_DIRECT = 0o40000
O_LARGEFILE = 0o100000
O_DIRECTORY = 0o200000
O_NOFOLLOW = 0o400000
O_NOATIME = 0o1000000
O_CLOEXEC = 0o2000000
O_SYNC = 0o4010000
O_PATH = 0o10000000
O_TMPFILE = 0o20200000

# The flags F_SETFL may change (fs/fcntl.c: SETFL_MASK).
SETFL_MASK = O_APPEND | O_NONBLOCK | FASYNC | O_DIRECT | O_NOATIME
# Flags open() keeps in f_flags (the rest only steer the open itself).
KEPT_AT_OPEN = ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)

# *at() flags.
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_EACCESS = 0x200
AT_REMOVEDIR = 0x200
AT_SYMLINK_FOLLOW = 0x400
AT_NO_AUTOMOUNT = 0x800
AT_EMPTY_PATH = 0x1000
AT_STATX_SYNC_TYPE = 0x6000

# fcntl commands.
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL = 0, 1, 2, 3, 4
F_GETLK, F_SETLK, F_SETLKW, F_SETOWN, F_GETOWN = 5, 6, 7, 8, 9
F_GETLK64, F_SETLK64, F_SETLKW64 = 12, 13, 14  # i386 only
F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 36, 37, 38
F_SETPIPE_SZ, F_GETPIPE_SZ = 1031, 1032
F_DUPFD_CLOEXEC = 1030
FD_CLOEXEC = 1
F_UNLCK = 2

# lseek whence.
SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE = 0, 1, 2, 3, 4

# access(2) modes.
F_OK, X_OK, W_OK, R_OK = 0, 1, 2, 4

# File types in st_mode.
S_IFMT = 0o170000
S_IFSOCK = 0o140000
S_IFLNK = 0o120000
S_IFREG = 0o100000
S_IFBLK = 0o060000
S_IFDIR = 0o040000
S_IFCHR = 0o020000
S_IFIFO = 0o010000
S_ISUID, S_ISGID, S_ISVTX = 0o4000, 0o2000, 0o1000

# renameat2's flags; utimensat's special tv_nsec values (include/uapi/linux/fs.h, stat.h).
RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT = 1, 2, 4
UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2

# d_type in linux_dirent64: the file type bits shifted down (fs_umode_to_dtype).
DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK = 0, 1, 2, 4, 6, 8, 10, 12


def dtype(mode: int) -> int:
    return (mode & S_IFMT) >> 12


# statx(2).
STATX_TYPE, STATX_MODE, STATX_NLINK, STATX_UID, STATX_GID = 0x1, 0x2, 0x4, 0x8, 0x10
STATX_ATIME, STATX_MTIME, STATX_CTIME, STATX_INO, STATX_SIZE, STATX_BLOCKS = (
    0x20, 0x40, 0x80, 0x100, 0x200, 0x400)
STATX_BASIC_STATS = 0x7FF
STATX_BTIME = 0x800
STATX_MNT_ID = 0x1000
STATX_MNT_ID_UNIQUE = 0x4000
STATX__RESERVED = 0x80000000

PATH_MAX = 4096
NAME_MAX = 255
MAXSYMLINKS = 40  # include/linux/namei.h
MAX_RW_COUNT = 0x7FFFF000  # INT_MAX & PAGE_MASK: the most one read or write moves
UIO_MAXIOV = 1024
RLIMIT_NOFILE = 7
NR_OPEN_DEFAULT = 1024  # the soft RLIMIT_NOFILE a shell hands its children
PIPE_BUF = 4096
PIPE_DEF_SIZE = 16 * 4096  # a new pipe holds 64 KiB

# ioctl requests the model answers (include/uapi/asm-generic/ioctls.h).
TCGETS = 0x5401
TIOCGWINSZ = 0x5413
FIONREAD = 0x541B
FIONBIO = 0x5421
FIOCLEX = 0x5451
FIONCLEX = 0x5450

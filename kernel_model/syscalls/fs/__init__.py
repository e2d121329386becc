"""File and file-descriptor syscalls, one module per Linux source file they follow:
read_write (fs/read_write.c), open_close (fs/open.c), stat (fs/stat.c), cwd (fs/d_path.c),
readdir (fs/readdir.c), namei (fs/namei.c), fcntl (fs/fcntl.c, fs/file.c), pipe
(fs/pipe.c), ioctl (fs/ioctl.c); plumbing holds what they share.

Handlers only decode arguments, call the VFS and the fd table (kernel_model/files), and
lay results out in the caller's ABI; every path goes through Vfs.resolve, so no handler can
reach a host file except through a --mount. Each module is imported when one of its calls
is first made (kernel_model.syscalls.deferred)."""

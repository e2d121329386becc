"""Files as the guest sees them: a tree made up by the model, with host files reachable
only through the directories the user shares.

    uapi.py       Linux's numbers (O_*, S_IF*, DT_*, F_*, AT_*)
    inode.py      the inode interface every file system implements; Stat; permissions
    file.py       open file descriptions: offset, status flags, default behaviour
    fdtable.py    fd -> description, FD_CLOEXEC, lowest-free allocation, dup family
    vfs.py        the tree and the path walk; open; the only place paths are resolved
    synthetic.py  fixed directories and symlinks for the made-up file systems
    procfs.py     /proc: /proc/<pid> and task/<tid> for every process, self, thread-self
    proc_nodes.py /proc's inode kinds: generated texts, magic links, the program file
    proc_array.py /proc/<pid>/stat and status, in Linux's format
    proc_layout.py the addresses stat reports (code, data, arguments, stack)
    devices.py    /dev/null, zero, full, random, urandom, tty, std* links
    tmpfs.py      /tmp in memory
    hostfs.py     --mount: shared host directories, contained, ro unless :rw
    pipes.py      pipe(2) inside the model
    streams.py    guest fds 0-2 borrowing the host's (or the TUI's) fds

The syscalls that use all this are in kernel_model/syscalls/fs/."""

"""Syscalls with no decoder of ours: how many arguments strace shows for each."""

from __future__ import annotations

from kernel_model.trace.strace.values import abi_name

_ARITY_GROUPS: dict[int, str] = {
    0: """fork vfork getpid getppid getuid geteuid getgid getegid gettid sched_yield pause
        sync setsid getpgrp munlockall vhangup inotify_init restart_syscall rt_sigreturn
        sigreturn getuid32 geteuid32 getgid32 getegid32 sgetmask idle""",
    1: """exit exit_group close dup chdir fchdir rmdir unlink umask brk time uname olduname
        oldolduname sysinfo times pipe alarm setuid setgid getpgid getsid personality
        set_tid_address epoll_create epoll_create1 inotify_init1 fsync fdatasync mlockall
        acct chroot swapoff iopl stime nice ssetmask setfsuid setfsgid setuid32 setgid32
        setfsuid32 setfsgid32 shmdt eventfd set_thread_area get_thread_area io_destroy
        timer_getoverrun timer_delete unshare syncfs userfaultfd sched_getscheduler
        sched_get_priority_max sched_get_priority_min memfd_secret uselib vm86old adjtimex
        sigpending
        _sysctl mq_unlink pkey_free get_kernel_syms""",
    2: """access chmod fchmod mkdir rename link symlink truncate ftruncate dup2 kill tkill
        getcwd gettimeofday settimeofday getrlimit setrlimit ugetrlimit getrusage
        clock_gettime clock_settime clock_getres nanosleep munmap mlock munlock sigaltstack
        rt_sigpending rt_sigsuspend pipe2 flock listen shutdown setpgid setreuid setregid
        setreuid32 setregid32 getgroups setgroups getgroups32 setgroups32 umount2
        arch_prctl fstat stat lstat statfs fstatfs creat utime utimes pivot_root ustat
        sethostname setdomainname capget capset timerfd_gettime timer_gettime
        sched_getparam sched_setparam sched_rr_get_interval set_robust_list memfd_create
        inotify_rm_watch eventfd2 clock_gettime64 clock_getres_time64 clock_settime64
        fstat64 stat64 lstat64 swapon ioprio_get getpriority delete_module getitimer
        timerfd_create io_setup msgget fsopen pidfd_open clone3 removexattr lremovexattr
        fremovexattr socketcall vm86 bdflush clock_adjtime clock_adjtime64 timer_gettime64
        timerfd_gettime64 sched_rr_get_interval_time64 signal umount io_uring_setup
        landlock_restrict_self
        fanotify_init mq_notify pkey_alloc setns create_module""",
    3: """read write open lseek ioctl fcntl fcntl64 mprotect madvise msync mincore readv
        writev execve chown fchown lchown chown32 fchown32 lchown32 dup3 getdents
        getdents64 readlink socket connect accept bind getsockname getpeername poll
        sigprocmask tgkill waitpid mknod getrandom mkdirat unlinkat fchmodat symlinkat
        faccessat setresuid setresgid getresuid getresgid setresuid32 setresgid32
        getresuid32 getresgid32 sched_setaffinity sched_getaffinity sched_setscheduler
        setitimer modify_ldt ioperm getcpu set_mempolicy inotify_add_watch signalfd syslog
        sigaction timer_create rt_sigqueueinfo shmat shmget shmctl semget semop recvmsg
        sendmsg ftruncate64 truncate64 readahead listxattr llistxattr flistxattr seccomp
        bpf open_tree fsmount fspick pidfd_getfd close_range lookup_dcookie futimesat
        sched_setattr ioprio_set setpriority sysfs sigsuspend landlock_create_ruleset mseal
        lsm_list_modules init_module finit_module io_cancel io_submit mq_getsetattr msgctl
        mlock2
        get_robust_list membarrier open_by_handle_at nfsservctl""",
    4: """openat newfstatat fstatat64 rt_sigaction rt_sigprocmask rt_sigtimedwait wait4
        pread64 pwrite64 sendfile sendfile64 socketpair accept4 mknodat renameat readlinkat
        prlimit64 clock_nanosleep clock_nanosleep_time64 utimensat utimensat_time64
        fadvise64 fallocate tee epoll_ctl epoll_wait timerfd_settime timer_settime
        timerfd_settime64 timer_settime64 rt_tgsigqueueinfo mq_open quotactl reboot ptrace
        request_key semctl msgsnd rseq openat2 faccessat2 fchmodat2 preadv pwritev vmsplice
        sync_file_range migrate_pages getxattr lgetxattr fgetxattr io_uring_register
        pidfd_send_signal sched_getattr rt_sigtimedwait_time64 kexec_load landlock_add_rule
        lsm_get_self_attr lsm_set_self_attr cachestat map_shadow_stack
        pkey_mprotect signalfd4 futex_wake""",
    5: """mremap select _newselect prctl mount fchownat linkat renameat2 statx waitid keyctl
        add_key setsockopt getsockopt perf_event_open clone ppoll ppoll_time64
        io_getevents move_mount fsconfig execveat name_to_handle_at kcmp get_mempolicy
        process_madvise mount_setattr setxattr lsetxattr fsetxattr msgrcv mq_timedsend
        mq_timedreceive mq_timedsend_time64 mq_timedreceive_time64 semtimedop
        semtimedop_time64 io_pgetevents kexec_file_load _llseek getpmsg putpmsg
        fanotify_mark quotactl_fd listmount statmount open_tree_attr
        remap_file_pages query_module""",
    6: """mmap mmap2 futex futex_time64 sendto recvfrom splice pselect6 pselect6_time64
        epoll_pwait epoll_pwait2 copy_file_range process_vm_readv process_vm_writev mbind
        move_pages preadv2 pwritev2 io_uring_enter ipc fadvise64_64 recvmmsg
        recvmmsg_time64 sendmmsg io_pgetevents_time64 futex_waitv set_mempolicy_home_node
        futex_wait futex_requeue process_mrelease file_getattr file_setattr getxattrat
        setxattrat listxattrat removexattrat""",
}
ARITY: dict[str, int] = {name: n for n, names in _ARITY_GROUPS.items() for name in names.split()}
# Where i386 passes more words (64-bit values split in two) or another count.
ARITY_I386: dict[str, int] = {
    "pread64": 5, "pwrite64": 5, "ftruncate64": 3, "truncate64": 3, "readahead": 4,
    "fadvise64": 5, "sync_file_range": 6, "fallocate": 6, "preadv": 5, "pwritev": 5,
    "select": 1, "mmap": 1, "lookup_dcookie": 4,
}


def arity(name: str, abi="x86_64") -> int:
    """How many arguments strace shows for `name` (6 when unknown)."""
    if abi_name(abi) == "i386" and name in ARITY_I386:
        return ARITY_I386[name]
    return ARITY.get(name, 6)

"""poll, ppoll, select, pselect6 (fs/select.c) and a minimal epoll (fs/eventpoll.c): wait
until one of several files is ready, or a timeout passes.

What each kind of file answers (its poll operation):
- a pipe end: kernel_model.files.pipes.PipeEnd.poll (data, room, the other side closed);
- a socket: kernel_model.net.socket.Socket.poll (data, room, a connection waiting, the
  peer's shutdown or close: POLLRDHUP, POLLHUP);
- a host stream (the guest's stdin/stdout when they are a host pipe or terminal): the host
  kernel's own answer, asked with a zero-timeout poll;
- an epoll instance: readable when one of its files has an event;
- anything else (regular files, /dev/null, /proc files): always readable and writable, as
  Linux answers for a file without a poll operation (DEFAULT_POLLMASK). epoll refuses those
  with EPERM, as Linux does.

A wait sleeps on the wait queues of every watched pipe at once (the scheduler's Blocked
takes a tuple of queues), with the timeout as its deadline; a write, a read or a close on
any of them wakes it, and it scans again. Level-triggered only: EPOLLET is accepted but
behaves as level-triggered (said in the trace).

A host fd cannot wake a model queue. When no other task can run, the wait happens on the
host (kernel_model.proc.wait.Waiter, as a read of host stdin does), bounded by the poll's
own timeout and by the next deadline of another task. When other tasks can run, the caller
sleeps in the model instead and looks at its host fds again every HOST_RECHECK_NS of guest
time, so the others run meanwhile; when host input arrives then depends on the host, so a
run that polls host stdin while other tasks run is as reproducible as its input's timing.

A temporary signal mask (ppoll, pselect6, epoll_pwait) is installed for the wait only: it
is put back when the call returns, or, when a signal ends the wait, after its handler, by
the frame that saved it (the task's saved_sigmask, as Linux's set_restore_sigmask)."""

from __future__ import annotations

import select as host_select
import struct
import time
import weakref
from typing import TYPE_CHECKING, Any

from kernel_model.files.file import OpenFile
from kernel_model.files.inode import FsError, Inode
from kernel_model.files.pipes import (
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLNVAL,
    POLLOUT,
    POLLPRI,
    POLLRDNORM,
    POLLWRNORM,
    PipeEnd,
)
from kernel_model.files.streams import HostStream
from kernel_model.files.uapi import O_CLOEXEC, O_RDWR
from kernel_model.net.socket import Socket
from kernel_model.proc.sched import ERESTARTNOHAND, Blocked, WaitQueue
from kernel_model.syscalls.argkinds import Flags, Int, Ptr, UInt
from kernel_model.syscalls.fs.plumbing import _fds, _i32, _nofile, _u32, fs_call
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

NSEC = 1_000_000_000
POLLRDBAND, POLLWRBAND = 0x80, 0x200
DEFAULT_POLLMASK = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM
# select's three sets, in poll's terms (fs/select.c).
POLLIN_SET = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR
POLLOUT_SET = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR
POLLEX_SET = POLLPRI
HOST_RECHECK_NS = 10_000_000  # 10 ms of guest time between looks at a host fd
EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD = 1, 2, 3
EPOLLEXCLUSIVE, EPOLLWAKEUP, EPOLLONESHOT, EPOLLET = 1 << 28, 1 << 29, 1 << 30, 1 << 31
EP_MAX_EVENTS = 0x7FFFFFFF // 12  # INT_MAX / sizeof(struct epoll_event)
ANON_INODE_DEV = (0, 14)
UNBLOCKABLE = (1 << 8) | (1 << 18)  # SIGKILL, SIGSTOP

# The end of each waiting call, fixed when it first waits: a retry (the call run again
# once woken) must not start its timeout over.
_deadlines: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

HostFd = tuple[int, bool]  # a host fd, and whether the wait is for room (else for data)


# -- what a file answers ------------------------------------------------------------------
def file_poll(f: OpenFile, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[HostFd, ...]]:
    """(the events ready now, the queues that announce a change, the host fds to watch)."""
    if isinstance(f, (PipeEnd, Socket)):
        return f.poll(), f.queues, ()
    if isinstance(f, EpollFile):
        return f.poll(), f.queues(), f.host_fds()
    if isinstance(f, HostStream):
        mask = _host_poll(f.host_fd)
        if not f.may_block:
            return mask, (), ()  # a host file or /dev/null: ready, and it stays so
        write = bool(events & POLLOUT_SET) and not events & POLLIN_SET
        return mask, (), ((f.host_fd, write),)
    return DEFAULT_POLLMASK, (), ()


def _host_poll(fd: int) -> int:
    poller = host_select.poll()
    try:
        poller.register(fd, host_select.POLLIN | host_select.POLLOUT | host_select.POLLPRI)
        done = poller.poll(0)
    except (OSError, ValueError):
        return POLLERR
    return done[0][1] if done else 0  # the host is Linux: its bits are the guest's


def _sched(k) -> Any:
    return k.sched


def _others_could_run(k) -> bool:
    return _sched(k).others_runnable(k.current)


def _next_other_deadline(k) -> int | None:
    me = k.current
    ends = [t.blocked.deadline_ns for t in k.processes.tasks() if t is not me and
            t.state == "S" and t.blocked is not None and t.blocked.deadline_ns is not None]
    return min(ends) if ends else None


def _deadline(k, timeout_ns: int | None) -> int | None:
    """The wait's end on the guest's monotonic clock (None: none), fixed at the first
    entry of the call."""
    task = k.current
    if task.blocked is not None and task in _deadlines:
        return _deadlines[task]
    end = None if timeout_ns is None else k.clock.monotonic_ns() + timeout_ns
    _deadlines[task] = end
    return end


def _wait_on_host(k, hosts: tuple[HostFd, ...], deadline: int | None) -> bool:
    """Nothing else can run: wait on the host until a host fd is ready, the deadline (this
    call's, or another task's sleep) passes, or a signal comes. False for a signal."""
    from kernel_model.proc.wait import SIGNAL, waiter_of

    ends = [d for d in (deadline, _next_other_deadline(k)) if d is not None]
    left = min(ends) - k.clock.monotonic_ns() if ends else None
    if len(hosts) > 1:  # the Waiter watches one fd: look at the others now and then
        left = min(left, HOST_RECHECK_NS) if left is not None else HOST_RECHECK_NS
    until = None if left is None else time.monotonic() + max(left, 0) / NSEC
    fd, write = hosts[0]
    outcome = waiter_of(k).wait(until=until, fd=fd, write=write)
    if outcome == SIGNAL:
        return False
    if left is not None and k.clock.kind != "real" and outcome != "ready":
        k.clock.sleep_ns(max(left, 0))  # a virtual or frozen clock: the time waited
    return True


def wait_until_ready(k, scan, deadline: int | None, what: str, restart: int = ERESTARTNOHAND):
    """Run `scan` (-> (result or None, queues, host fds)) until it finds something ready;
    None when the deadline passes first, or raise Blocked to sleep on the queues."""
    while True:
        ready, queues, hosts = scan()
        if ready is not None:
            return ready
        now = k.clock.monotonic_ns()
        if deadline is not None and now >= deadline:
            return None
        if hosts and not _others_could_run(k):
            if not _wait_on_host(k, hosts, deadline):
                # A signal came: the run loop decides, by the call's restart rule, between
                # EINTR (a handler runs) and going on (an ignored SIGCHLD, a stop): wait
                # with a deadline of now, so the loop looks at once.
                raise Blocked(tuple(dict.fromkeys(queues)) or None, what, restart=restart,
                              deadline_ns=k.clock.monotonic_ns())
            if deadline is not None and k.clock.monotonic_ns() >= deadline:
                ready, _q, _h = scan()
                return ready
            ready, _q, _h = scan()
            if ready is not None:
                return ready
        wake_at = deadline
        if hosts:
            recheck = now + HOST_RECHECK_NS
            wake_at = recheck if deadline is None else min(deadline, recheck)
        unique = tuple(dict.fromkeys(queues))
        raise Blocked(unique or None, what, restart=restart, deadline_ns=wake_at)


# -- the temporary signal mask ------------------------------------------------------------
def _install_mask(k, addr: int, size: int) -> None:
    """ppoll/pselect6/epoll_pwait: wait with this mask; the old one is put back after."""
    task = k.current
    if not addr or task.blocked is not None:
        return  # no mask, or a retry (installed at the first entry)
    if size != 8:
        raise FsError(errnos.EINVAL)
    mask = struct.unpack("<Q", k.read(addr, 8))[0] & ~UNBLOCKABLE
    task.saved_sigmask = task.sigmask
    task.sigmask = mask


def _end_mask(k, ret: int) -> int:
    """The call returns: its mask goes back now, unless the wait ended for a signal, whose
    handler's frame saves the old mask (delivery puts it back if no handler runs)."""
    task = k.current
    if task.saved_sigmask is not None and ret != -errnos.EINTR:
        task.sigmask = task.saved_sigmask
        task.saved_sigmask = None
    return ret


def _with_mask(k, addr: int, size: int, body) -> int:
    _install_mask(k, addr, size)
    task = k.current
    if task.blocked is None and task.saved_sigmask is not None and k.signals.deliverable():
        # The new mask lets a pending signal through: no wait at all (signal_pending()).
        k.stop_cpu()
        return -errnos.EINTR
    try:
        ret = body()
    except Blocked:
        raise
    except BaseException:
        _end_mask(k, 0)
        raise
    return _end_mask(k, ret)


# -- poll, ppoll ----------------------------------------------------------------------------
def _timespec_ns(k, addr: int, time64: bool) -> int | None:
    """A timeout struct timespec (None: no pointer, wait for ever); EINVAL if malformed."""
    if not addr:
        return None
    bits64 = time64 or k.abi.bits == 64
    sec, nsec = struct.unpack("<qq" if bits64 else "<ii", k.read(addr, 16 if bits64 else 8))
    if sec < 0 or not 0 <= nsec < NSEC:
        raise FsError(errnos.EINVAL)
    return sec * NSEC + nsec


def _write_left(k, addr: int, deadline: int | None, time64: bool, usec: bool = False) -> None:
    """poll_select_finish: the timeout argument is updated with the time left."""
    if not addr or deadline is None:
        return
    left = max(0, deadline - k.clock.monotonic_ns())
    sec, ns = divmod(left, NSEC)
    sub = ns // 1000 if usec else ns
    if time64 or k.abi.bits == 64:
        k.write(addr, struct.pack("<qq", sec, sub))
    else:
        k.write(addr, struct.pack("<ii", sec, sub))


def _do_poll(k, ufds: int, nfds: int, timeout_ns: int | None) -> int:
    if nfds > _nofile(k):
        raise FsError(errnos.EINVAL)
    raw = k.read(ufds, 8 * nfds)
    entries = [struct.unpack_from("<ihh", raw, 8 * i) for i in range(nfds)]
    deadline = _deadline(k, timeout_ns)
    table = _fds(k)
    revents = [0] * nfds

    def scan():
        queues: list[WaitQueue] = []
        hosts: list[HostFd] = []
        count = 0
        for i, (fd, events, _r) in enumerate(entries):
            events &= 0xFFFF
            revents[i] = 0
            if fd < 0:
                continue
            f = table.get(fd)
            if f is None:
                revents[i] = POLLNVAL
                count += 1
                continue
            mask, qs, hs = file_poll(f, events)
            revents[i] = mask & (events | POLLERR | POLLHUP)
            count += bool(revents[i])
            queues += qs
            hosts += hs
        return (count or None), tuple(queues), tuple(hosts)

    what = "any of " + ", ".join(str(e[0]) for e in entries if e[0] >= 0) if nfds else \
        "nothing: a timeout"
    ret = wait_until_ready(k, scan, deadline, f"poll: {what}")
    if ret is None:
        ret = 0
        revents[:] = [0] * nfds
    if ret >= 0:
        out = bytearray(raw)
        for i, r in enumerate(revents):
            struct.pack_into("<h", out, 8 * i + 6, _i16(r))
        k.write(ufds, bytes(out))
    return ret


def _i16(v: int) -> int:
    v &= 0xFFFF
    return v - 0x10000 if v >> 15 else v


@syscall("poll", Ptr(), UInt(), Int())
@fs_call
def sys_poll(k: SyscallContext, ufds, nfds, timeout_ms):
    ms = _i32(timeout_ms)
    # Linux restarts an interrupted poll with the time left (restart_block); the model
    # restarts it (when no handler runs) with its whole timeout again.
    return _do_poll(k, ufds, _u32(nfds), None if ms < 0 else ms * 1_000_000)


def _ppoll(k, ufds, nfds, tsp, sigmask, sigsetsize, time64):
    timeout = _timespec_ns(k, tsp, time64) if k.current.blocked is None else 0

    def body():
        ret = _do_poll(k, ufds, _u32(nfds), timeout)
        _write_left(k, tsp, _deadlines.get(k.current), time64)
        return ret

    return _with_mask(k, sigmask, sigsetsize, body)


@syscall("ppoll", Ptr(), UInt(), Ptr(), Ptr(), UInt())
@fs_call
def sys_ppoll(k: SyscallContext, ufds, nfds, tsp, sigmask, sigsetsize):
    return _ppoll(k, ufds, nfds, tsp, sigmask, sigsetsize, False)


@syscall("ppoll_time64", Ptr(), UInt(), Ptr(), Ptr(), UInt())
@fs_call
def sys_ppoll_time64(k: SyscallContext, ufds, nfds, tsp, sigmask, sigsetsize):
    return _ppoll(k, ufds, nfds, tsp, sigmask, sigsetsize, True)


# -- select, pselect6 -------------------------------------------------------------------------
def _do_select(k, nfds: int, sets: tuple[int, int, int], timeout_ns: int | None) -> int:
    n = _i32(nfds)
    if n < 0:
        raise FsError(errnos.EINVAL)
    n = min(n, _nofile(k))  # core_sys_select: no fd past the table's size
    word = k.abi.word
    nbytes = -(-n // (8 * word)) * word
    wanted = [int.from_bytes(k.read(p, nbytes), "little") if p else 0 for p in sets]
    table = _fds(k)
    every = wanted[0] | wanted[1] | wanted[2]
    fds = [fd for fd in range(n) if every >> fd & 1]
    if any(table.get(fd) is None for fd in fds):
        raise FsError(errnos.EBADF)
    deadline = _deadline(k, timeout_ns)
    result = [0, 0, 0]

    def scan():
        queues: list[WaitQueue] = []
        hosts: list[HostFd] = []
        result[:] = [0, 0, 0]
        count = 0
        for fd in fds:
            bit = 1 << fd
            f = table.get(fd)
            if f is None:
                raise FsError(errnos.EBADF)  # closed meanwhile by another thread
            events = (POLLIN_SET if wanted[0] & bit else 0) | \
                (POLLOUT_SET if wanted[1] & bit else 0) | (POLLEX_SET if wanted[2] & bit else 0)
            mask, qs, hs = file_poll(f, events)
            for i, kind in enumerate((POLLIN_SET, POLLOUT_SET, POLLEX_SET)):
                if wanted[i] & bit and mask & kind:
                    result[i] |= bit
                    count += 1
            queues += qs
            hosts += hs
        return (count or None), tuple(queues), tuple(hosts)

    what = "select: any of " + ", ".join(map(str, fds)) if fds else "select: a timeout"
    ret = wait_until_ready(k, scan, deadline, what)
    if ret is None:
        ret = 0
        result[:] = [0, 0, 0]
    if ret >= 0:
        for p, bits in zip(sets, result, strict=True):
            if p:
                k.write(p, bits.to_bytes(nbytes, "little"))
    return ret


def _timeval_ns(k, addr: int) -> int | None:
    if not addr:
        return None
    bits64 = k.abi.bits == 64
    sec, usec = struct.unpack("<qq" if bits64 else "<ii", k.read(addr, 16 if bits64 else 8))
    if sec < 0 or not 0 <= usec < 1_000_000:
        raise FsError(errnos.EINVAL)
    return sec * NSEC + usec * 1000


def _select(k, nfds, rp, wp, ep, tvp):
    timeout = _timeval_ns(k, tvp) if k.current.blocked is None else 0
    ret = _do_select(k, nfds, (rp, wp, ep), timeout)
    _write_left(k, tvp, _deadlines.get(k.current), False, usec=True)
    return ret


@syscall("select", Int(), Ptr(), Ptr(), Ptr(), Ptr())
@fs_call
def sys_select(k: SyscallContext, nfds, rp, wp, ep, tvp):
    return _select(k, nfds, rp, wp, ep, tvp)


@syscall("_newselect", Int(), Ptr(), Ptr(), Ptr(), Ptr())
@fs_call
def sys_newselect(k: SyscallContext, nfds, rp, wp, ep, tvp):
    return _select(k, nfds, rp, wp, ep, tvp)


@syscall("select", Ptr(), abi="i386")
@fs_call
def sys_old_select(k: SyscallContext, args):
    """i386's first select (sys_old_select): its five arguments in a struct in memory."""
    nfds, rp, wp, ep, tvp = struct.unpack("<5I", k.read(args, 20))
    return _select(k, nfds, rp, wp, ep, tvp)


def _pselect(k, nfds, rp, wp, ep, tsp, sig, time64):
    timeout = _timespec_ns(k, tsp, time64) if k.current.blocked is None else 0
    mask_addr = size = 0
    if sig:
        # struct { const sigset_t *ss; size_t ss_len; }
        word = k.abi.word
        raw = k.read(sig, 2 * word)
        mask_addr = int.from_bytes(raw[:word], "little")
        size = int.from_bytes(raw[word:], "little")

    def body():
        ret = _do_select(k, nfds, (rp, wp, ep), timeout)
        _write_left(k, tsp, _deadlines.get(k.current), time64)
        return ret

    return _with_mask(k, mask_addr, size, body)


@syscall("pselect6", Int(), Ptr(), Ptr(), Ptr(), Ptr(), Ptr())
@fs_call
def sys_pselect6(k: SyscallContext, nfds, rp, wp, ep, tsp, sig):
    return _pselect(k, nfds, rp, wp, ep, tsp, sig, False)


@syscall("pselect6_time64", Int(), Ptr(), Ptr(), Ptr(), Ptr(), Ptr())
@fs_call
def sys_pselect6_time64(k: SyscallContext, nfds, rp, wp, ep, tsp, sig):
    return _pselect(k, nfds, rp, wp, ep, tsp, sig, True)


# -- epoll ------------------------------------------------------------------------------------
class EventPollInode(Inode):
    """The anonymous inode every epoll instance shares (anon_inodefs)."""

    dev = ANON_INODE_DEV
    mode = 0o600
    ino = 1


_EPOLL_INODE = EventPollInode()


class EpollFile(OpenFile):
    """An epoll instance: the files it watches, each by (fd, open file) as Linux keys them,
    with the events wanted and the 64-bit word handed back with each event."""

    seekable = False

    def __init__(self, flags: int):
        super().__init__(_EPOLL_INODE, "anon_inode:[eventpoll]", flags)
        self.items: dict[tuple[int, OpenFile], list[int]] = {}  # -> [events, data]

    def link_text(self) -> str:
        return "anon_inode:[eventpoll]"

    def live_items(self):
        # A watched file is dropped once its last fd closes (eventpoll_release).
        for key in [key for key in self.items if key[1].refs <= 0]:
            del self.items[key]
        return list(self.items.items())

    def ready(self) -> list[tuple[int, int, tuple[int, OpenFile]]]:
        out = []
        for key, (events, data) in self.live_items():
            mask, _q, _h = file_poll(key[1], events)
            got = mask & (events | POLLERR | POLLHUP) & 0xFFFF
            if got and events & ~(EPOLLONESHOT | EPOLLET | EPOLLWAKEUP | EPOLLEXCLUSIVE):
                out.append((got, data, key))
        return out

    def poll(self) -> int:
        return POLLIN | POLLRDNORM if self.ready() else 0

    def queues(self) -> tuple[WaitQueue, ...]:
        out: list[WaitQueue] = []
        for key, (events, _d) in self.live_items():
            out += file_poll(key[1], events)[1]
        return tuple(out)

    def host_fds(self) -> tuple[HostFd, ...]:
        out: list[HostFd] = []
        for key, (events, _d) in self.live_items():
            out += file_poll(key[1], events)[2]
        return tuple(out)

    def read(self, k, n: int) -> bytes:
        raise FsError(errnos.EINVAL)

    def write(self, k, data: bytes) -> int:
        raise FsError(errnos.EINVAL)


def _pollable(f: OpenFile) -> bool:
    """Files with a poll operation (others: EPERM from epoll_ctl)."""
    if isinstance(f, (PipeEnd, EpollFile, Socket)):
        return True
    return isinstance(f, HostStream) and f.may_block


def _new_epoll(k, flags: int) -> int:
    f = EpollFile(O_RDWR | (flags & O_CLOEXEC))
    return _fds(k).install(f, cloexec=bool(flags & O_CLOEXEC), limit=_nofile(k))


@syscall("epoll_create", Int())
@fs_call
def sys_epoll_create(k: SyscallContext, size):
    if _i32(size) <= 0:
        raise FsError(errnos.EINVAL)
    return _new_epoll(k, 0)


@syscall("epoll_create1", Flags("open"))
@fs_call
def sys_epoll_create1(k: SyscallContext, flags):
    if _u32(flags) & ~O_CLOEXEC:
        raise FsError(errnos.EINVAL)
    return _new_epoll(k, _u32(flags))


def _epoll(k, epfd: int) -> EpollFile:
    f = _fds(k)[_u32(epfd)]
    if not isinstance(f, EpollFile):
        raise FsError(errnos.EINVAL)
    return f


@syscall("epoll_ctl", Int(), Int(), Int(), Ptr())
@fs_call
def sys_epoll_ctl(k: SyscallContext, epfd, op, fd, event):
    table = _fds(k)
    ep_file = table[_u32(epfd)]
    target = table[_u32(fd)]
    events = data = 0
    if op != EPOLL_CTL_DEL:
        events, data = struct.unpack("<IQ", k.read(event, 12))
    if not _pollable(target):
        raise FsError(errnos.EPERM)
    if not isinstance(ep_file, EpollFile) or target is ep_file:
        raise FsError(errnos.EINVAL)
    key = (_u32(fd), target)
    ep_file.live_items()
    if op == EPOLL_CTL_ADD:
        if key in ep_file.items:
            raise FsError(errnos.EEXIST)
        ep_file.items[key] = [events, data]
    elif op == EPOLL_CTL_MOD:
        if key not in ep_file.items:
            raise FsError(errnos.ENOENT)
        ep_file.items[key] = [events, data]
    elif op == EPOLL_CTL_DEL:
        if key not in ep_file.items:
            raise FsError(errnos.ENOENT)
        del ep_file.items[key]
    else:
        raise FsError(errnos.EINVAL)
    if events & EPOLLET:
        k.note("EPOLLET: syscall-lab's epoll is level-triggered only; this file is "
               "reported while it is ready, not once per change")
    return 0


def _epoll_wait(k, epfd, events, maxevents, timeout_ns: int | None) -> int:
    ep_file = _epoll(k, epfd)
    maxevents = _i32(maxevents)
    if maxevents <= 0 or maxevents > EP_MAX_EVENTS:
        raise FsError(errnos.EINVAL)
    deadline = _deadline(k, timeout_ns)

    def scan():
        ready = ep_file.ready()
        return (ready or None), ep_file.queues(), ep_file.host_fds()

    # Linux never restarts an interrupted epoll_wait (always EINTR); the model's nearest
    # rule restarts it when no handler runs (a stop and continue), EINTR otherwise.
    ready = wait_until_ready(k, scan, deadline, f"epoll_wait on {_u32(epfd)}")
    if ready is None:
        return 0
    out = bytearray()
    for got, data, key in ready[:maxevents]:
        out += struct.pack("<IQ", got, data)
        item = ep_file.items[key]
        if item[0] & EPOLLONESHOT:
            item[0] &= EPOLLONESHOT | EPOLLET  # disarmed until EPOLL_CTL_MOD
    k.write(events, bytes(out))
    return len(out) // 12


def _ms(timeout) -> int | None:
    ms = _i32(timeout)
    return None if ms < 0 else ms * 1_000_000


@syscall("epoll_wait", Int(), Ptr(), Int(), Int())
@fs_call
def sys_epoll_wait(k: SyscallContext, epfd, events, maxevents, timeout):
    return _epoll_wait(k, epfd, events, maxevents, _ms(timeout))


@syscall("epoll_pwait", Int(), Ptr(), Int(), Int(), Ptr(), UInt())
@fs_call
def sys_epoll_pwait(k: SyscallContext, epfd, events, maxevents, timeout, sigmask, size):
    return _with_mask(k, sigmask, size,
                      lambda: _epoll_wait(k, epfd, events, maxevents, _ms(timeout)))


@syscall("epoll_pwait2", Int(), Ptr(), Int(), Ptr(), Ptr(), UInt())
@fs_call
def sys_epoll_pwait2(k: SyscallContext, epfd, events, maxevents, tsp, sigmask, size):
    timeout = _timespec_ns(k, tsp, True) if k.current.blocked is None else 0
    return _with_mask(k, sigmask, size,
                      lambda: _epoll_wait(k, epfd, events, maxevents, timeout))

"""A process's credentials (include/linux/cred.h: struct cred, the ids half).

Linux keeps four user ids and four group ids per task: the real ids (who started it), the
effective ids (who it acts as: signals, the setuid checks), the saved ids (what a setuid
program may switch back to) and the file-system ids (who it is to the permission checks,
normally equal to the effective ids), plus the supplementary groups. They are inherited
by fork and kept by execve, which only sets the saved and fs ids to the effective ones
(the model honours no setuid bit on exec: every mount is nosuid).

The model has no capability sets: it derives them from the ids as Linux's
cap_emulate_setxuid() keeps them for a process that never calls capset. The fs
capabilities (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_CHOWN, CAP_FOWNER, CAP_FSETID) are
held while fsuid is 0, the others (CAP_SETUID, CAP_SETGID, CAP_KILL...) while euid is 0.

Frozen: a change makes a new object (as Linux's prepare_creds/commit_creds), so a forked
child may share its parent's until either changes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# getgroups/setgroups accept at most this many (include/uapi/linux/limits.h).
NGROUPS_MAX = 65536
# The ids that mean "leave this one unchanged" to setreuid/setresuid (and 16-bit: 0xffff).
NO_CHANGE = 0xFFFFFFFF
# What a 32-bit id that does not fit in 16 bits shows as through the 16-bit calls
# (/proc/sys/kernel/overflowuid and overflowgid).
OVERFLOW_ID = 65534


@dataclass(frozen=True)
class Credentials:
    ruid: int = 0
    euid: int = 0
    suid: int = 0
    fsuid: int = 0
    rgid: int = 0
    egid: int = 0
    sgid: int = 0
    fsgid: int = 0
    groups: tuple[int, ...] = ()  # sorted, as set_groups() keeps them

    @classmethod
    def of_user(cls, uid: int, gid: int, groups: tuple[int, ...] = ()) -> Credentials:
        """All four ids of each kind set to one user and group (a login's start)."""
        return cls(uid, uid, uid, uid, gid, gid, gid, gid, tuple(sorted(set(groups))))

    # Shorthands the rest of the model reads: "who is this process" for signals, /proc,
    # the auxv (AT_UID is the real uid, AT_EUID the effective one).
    @property
    def uid(self) -> int:
        return self.ruid

    @property
    def gid(self) -> int:
        return self.rgid

    @property
    def fs_capable(self) -> bool:
        """CAP_DAC_OVERRIDE, CAP_CHOWN, CAP_FOWNER, CAP_FSETID: follow the fsuid."""
        return self.fsuid == 0

    @property
    def capable(self) -> bool:
        """CAP_SETUID, CAP_SETGID and the rest: follow the euid."""
        return self.euid == 0

    def in_group_p(self, gid: int) -> bool:
        """kernel/groups.c in_group_p: the fsgid or a supplementary group."""
        return gid == self.fsgid or gid in self.groups

    def with_(self, **changes: int | tuple[int, ...]) -> Credentials:
        return replace(self, **changes)  # type: ignore[arg-type]

"""The alternate signal stack as frames see it: whether sp is on it, the flags sigaltstack
reports, what a frame saves in uc_stack and what sigreturn restores from it
(kernel/signal.c: on_sig_stack, sas_ss_flags, restore_altstack)."""

from __future__ import annotations

from kernel_model.signals.frame_layout import MINSIGSTKSZ, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK


def _within_altstack(task, sp: int) -> bool:
    """__on_sig_stack()."""
    ss_sp, _flags, ss_size = task.altstack
    return sp > ss_sp and sp - ss_sp <= ss_size


def on_sig_stack(task, sp: int) -> bool:
    if task.altstack[1] & SS_AUTODISARM:
        return False
    return _within_altstack(task, sp)


def sas_ss_flags(task, sp: int) -> int:
    if not task.altstack[2]:
        return SS_DISABLE
    return SS_ONSTACK if on_sig_stack(task, sp) else 0


def _saved_altstack(task) -> tuple[int, int, int]:
    """unsafe_save_altstack(): the task's raw sas_ss_sp, sas_ss_flags, sas_ss_size. A task
    that never called sigaltstack has flags 0 there (sigaltstack() itself reports
    SS_DISABLE for it, computed from the zero size); task.altstack keeps what sigaltstack
    reports, so its initial (0, SS_DISABLE, 0) is saved as Linux has it: all zero. (An
    explicit SS_DISABLE, which Linux would save as 2, looks the same here.)"""
    if task.altstack == (0, SS_DISABLE, 0):
        return (0, 0, 0)
    return task.altstack


def _reset_altstack(task) -> None:
    """SS_AUTODISARM: the alternate stack is disabled while the handler runs on it (its
    saved copy in uc_stack comes back with rt_sigreturn)."""
    if task.altstack[1] & SS_AUTODISARM:
        task.altstack = (0, SS_DISABLE, 0)


def _restore_altstack(task, sp: int, ss_sp: int, ss_flags: int, ss_size: int) -> None:
    """restore_altstack() -> do_sigaltstack(uss, NULL, sp, MINSIGSTKSZ), every error but
    EFAULT ignored: refused while running on the alternate stack, on bad flags, or when
    too small."""
    if on_sig_stack(task, sp):
        return  # -EPERM
    ss_flags &= 0xFFFFFFFF
    mode = ss_flags & ~SS_AUTODISARM
    if mode not in (0, SS_ONSTACK, SS_DISABLE):
        return  # -EINVAL
    if mode == SS_DISABLE:
        ss_sp, ss_size = 0, 0
    elif ss_size < MINSIGSTKSZ:
        return  # -ENOMEM
    task.altstack = (ss_sp, ss_flags, ss_size)

"""The kernel owns its processes and their tasks; handlers see a declared context, never the
System that assembled the run."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from conftest import run_guest

from kernel_model.kernel import Kernel
from kernel_model.proc.process import GUEST_PID, GUEST_PPID, Process
from kernel_model.proc.task import Task
from kernel_model.syscalls.context import SyscallContext

ROOT = Path(__file__).resolve().parents[1]
KERNEL_MODEL = ROOT / "kernel_model"

# Sets the fs base, blocks SIGUSR1 (bit 9), registers a tid address and a robust list,
# then exits with getpid() - gettid() (0 when the leader's tid is the pid).
GUEST = """
bits 64
section .bss
tid:    resq 1
head:   resq 3
section .text
_start:
    mov eax, 158                    ; arch_prctl(ARCH_SET_FS, 0x12345000)
    mov edi, 0x1002
    mov esi, 0x12345000
    syscall
    sub rsp, 8
    mov qword [rsp], 0x200          ; SIGUSR1
    mov eax, 14                     ; rt_sigprocmask(SIG_BLOCK, &set, NULL, 8)
    xor edi, edi
    mov rsi, rsp
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 218                    ; set_tid_address(&tid)
    lea rdi, [rel tid]
    syscall
    mov eax, 273                    ; set_robust_list(&head, 24)
    lea rdi, [rel head]
    mov esi, 24
    syscall
    mov eax, 39                     ; getpid
    syscall
    mov ebx, eax
    mov eax, 186                    ; gettid
    syscall
    sub ebx, eax
    mov edi, ebx
    mov eax, 60
    syscall
"""


def _run():
    return run_guest("guest.s", source=GUEST, bits=64)


def test_the_kernel_holds_the_first_process_in_its_table():
    run = _run()
    assert run.status == 0
    kernel = run.system.kernel
    process = run.system.process
    assert len(kernel.processes) == 1
    assert kernel.processes[GUEST_PID] is process
    assert (process.pid, process.ppid) == (GUEST_PID, GUEST_PPID)
    assert kernel.current is process.main_thread
    assert process.threads == [kernel.current]
    assert kernel.current.tid == process.pid
    assert kernel.current.process is process
    assert process.machine is kernel.machine


def test_the_task_owns_its_signal_mask_tls_and_registrations():
    run = _run()
    task = run.system.kernel.current
    assert task.fs_base == 0x12345000
    assert task.sigmask == 0x200
    assert task.clear_child_tid != 0
    assert task.robust_list[1] == 24
    for per_thread in ("sigmask", "fs_base", "gs_base", "altstack", "clear_child_tid",
                       "robust_list", "rseq", "tid"):
        assert per_thread in {f.name for f in Task.__dataclass_fields__.values()}
        assert not hasattr(run.system.process, per_thread), per_thread


def test_a_new_process_has_one_thread_whose_tid_is_its_pid():
    process = Process(arch="x86_64", mm=None, machine=None, exe_path="/p", exe_bytes=b"",
                      argv=[], envp=[], pid=7)
    assert [t.tid for t in process.threads] == [7]
    assert process.main_thread.process is process


def _modules(under: Path):
    for path in sorted(under.rglob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def test_no_handler_reaches_the_system_or_the_machine():
    offenders = []
    for path, tree in _modules(KERNEL_MODEL / "syscalls"):
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("system", "machine"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert offenders == []


def test_only_the_run_assembly_and_the_debugger_take_a_system():
    """Everything else in the kernel model is handed the narrow thing it uses."""
    offenders = []
    allowed = {KERNEL_MODEL / "system.py"}  # the run assembly; run/ drives what it assembled
    for path, tree in _modules(KERNEL_MODEL):
        if path in allowed or "debugger" in path.parts or "run" in path.parts:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names = [a.arg for a in node.args.args + node.args.kwonlyargs]
                if "system" in names:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
            if isinstance(node, ast.Attribute) and node.attr == "system":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} .system")
    assert offenders == []


def _declared_in_init(cls) -> set[str]:
    source = inspect.getsource(cls)
    tree = ast.parse(source.replace("\n    ", "\n") if source.startswith(" ") else source)
    init = next(n for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    names = set()
    for node in ast.walk(init):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and \
                isinstance(node.value, ast.Name) and node.value.id == "self":
            names.add(node.attr)
    return names


def test_the_kernel_has_only_the_attributes_its_constructor_declares():
    run = _run()  # traced: the vDSO watcher and every listener hook are in place
    declared = _declared_in_init(Kernel)
    assert set(vars(run.system.kernel)) <= declared
    assert "system" not in declared


def test_the_kernel_provides_every_member_of_the_handler_context():
    run = _run()
    kernel = run.system.kernel
    members = set(SyscallContext.__annotations__)
    members |= {name for name, value in vars(SyscallContext).items()
                if not name.startswith("_") and (callable(value) or isinstance(value, property))}
    assert {"read", "write", "process", "current", "signals", "gdt", "vfs"} <= members
    missing = [m for m in sorted(members) if not hasattr(kernel, m)]
    assert missing == []


def test_a_step_back_keeps_the_vfs_on_the_kernels_own_process_table():
    """The debugger restores copies of the kernel's state: /proc/self must then name the
    restored process, not the one the copy was taken from."""
    from emu.program import load_program
    from kernel_model.debugger.session import DebugSession
    from kernel_model.system import RunOptions

    path = ROOT / "programs" / "bin" / "hello.glibc-x86_64"
    s = DebugSession.create(load_program(str(path)), [str(path)], RunOptions(seed=1))
    s.run_to_transition()
    s.run_to_transition()
    s.reverse_step()
    kernel = s.system.kernel
    assert s.system.vfs.processes is kernel.processes
    assert kernel.processes.current_process() is kernel.process is s.system.process
    assert kernel.current in kernel.process.threads

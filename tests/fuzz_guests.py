"""Random hostile guest programs, x86-64 and i386: random syscalls with edge-case arguments
from the syscall tables, privileged and faulting instructions, far calls and jumps through
random selectors, `iret` with random frames, writes to the GDT and vsyscall pages,
rt_sigreturn on a garbage stack, random bytes as code.

Each program is machine code written as `db` lines (so the assembler's coverage is not what
is tested) and run in-process under instruction, time and memory limits. Run as a script it
runs a batch and prints one line per program; a crash of the host process (Unicorn aborting)
shows as the batch's death after a START line naming the program:

    python tests/fuzz_guests.py SEED FIRST COUNT

tests/test_fuzz_guests.py drives it; SYSCALL_LAB_FUZZ=N there runs N programs.
"""

from __future__ import annotations

import os
import random
import struct
import sys
import tempfile
import threading
import traceback

GDT = {64: 0x7FFFFFFFF000, 32: 0xFFFFE000}
VSYSCALL = 0xFFFFFFFFFF600000

# Syscalls that wait for something that never comes in a lone process (the blocking-syscall
# work is another part of issue 9), or end it before it did anything interesting.
SKIP = {"pause", "rt_sigsuspend", "sigsuspend", "nanosleep", "clock_nanosleep",
        "clock_nanosleep_time64", "select", "_newselect", "pselect6", "pselect6_time64",
        "poll", "ppoll", "ppoll_time64", "epoll_wait", "epoll_pwait", "epoll_pwait2",
        "futex", "futex_time64", "futex_waitv", "wait4", "waitid", "waitpid", "accept",
        "accept4", "recvfrom", "recvmsg", "recvmmsg", "msgrcv", "semop", "semtimedop",
        "io_getevents", "rt_sigtimedwait", "rt_sigtimedwait_time64", "sigreturn",
        "alarm", "setitimer", "timer_settime", "timerfd_settime", "vfork", "fork", "clone",
        "clone3", "execve", "execveat", "exit", "exit_group", "sched_yield", "vhangup",
        "reboot", "kexec_load"}

REGS64 = {"rax": 0, "rcx": 1, "rdx": 2, "rbx": 3, "rsp": 4, "rbp": 5, "rsi": 6, "rdi": 7,
          "r8": 8, "r9": 9, "r10": 10}
REGS32 = {"eax": 0, "ecx": 1, "edx": 2, "ebx": 3, "esp": 4, "ebp": 5, "esi": 6, "edi": 7}
ARGS = {64: ("rdi", "rsi", "rdx", "r10", "r8", "r9"), 32: ("ebx", "ecx", "edx", "esi", "edi")}

# Instructions user mode may not run, or that fault, or that Unicorn and a CPU disagree on.
PRIVILEGED = [
    "f4", "fa", "fb", "e4 60", "ec", "ee", "e6 80", "6c", "6e", "0f 33", "0f 07", "48 0f 07",
    "f1", "cc", "0f 0b", "0f 01 14 24", "0f 22 c0", "0f 20 c0", "0f 30", "0f 32", "0f 01 f8",
    "0f 35", "0f 34", "0f 01 c1", "0f 31", "0f 01 f9", "0f a2", "0f 00 c0", "0f 01 04 24",
    "0f 01 0c 24", "0f 00 c8", "0f 06", "0f 08", "0f 09", "0f 01 ca", "0f 01 cb", "0f ff",
    "0f b9", "0f 00 d8", "0f 00 d0", "0f 01 1c 24", "cf", "48 cf", "cb", "48 cb", "ca 08 00",
    "0f 01 d0", "0f 01 f8", "f3 0f ae c0", "0f 37", "0f aa", "0f 05", "cd 80", "cd 03",
    "cd 04", "cd 2e", "0f 0e", "0f 77",
]
I386_ONLY = ["ce", "62 04 24", "1f", "07", "17", "0f a1", "0f a9", "9a 00 00 00 00 33 00",
             "ea 00 00 00 00 23 00", "63 c0", "27", "d4 0a", "d5 0a"]


class Gen:
    def __init__(self, rng: random.Random, bits: int, table: dict[int, str]):
        self.rng = rng
        self.bits = bits
        self.numbers = [nr for nr, name in table.items() if name not in SKIP]
        self.code = bytearray()

    # -- encodings ------------------------------------------------------------------------
    def mov_imm(self, reg: str, value: int) -> None:
        if self.bits == 64:
            r = REGS64[reg]
            self.code += bytes([0x49 if r >= 8 else 0x48, 0xB8 + (r & 7)])
            self.code += struct.pack("<Q", value & (2**64 - 1))
        else:
            self.code += bytes([0xB8 + REGS32[reg]]) + struct.pack("<I", value & 0xFFFFFFFF)

    def mov_sp(self, reg: str) -> None:
        if self.bits == 64:
            r = REGS64[reg]
            self.code += bytes([0x49 if r >= 8 else 0x48, 0x89, 0xE0 + (r & 7)])
        else:
            self.code += bytes([0x89, 0xE0 + REGS32[reg]])

    def push_imm(self, value: int) -> None:
        self.code += b"\x68" + struct.pack("<I", value & 0xFFFFFFFF)

    def trap(self) -> None:
        if self.bits == 64:
            self.code += self.rng.choice([b"\x0f\x05"] * 5 + [b"\xcd\x80"])
        else:
            self.code += b"\xcd\x80"

    def edge(self) -> int | None:
        """An edge-case argument; None: the stack pointer."""
        r = self.rng
        top = 2**self.bits
        return r.choice([0, 1, 2, 0x1000, top - 1, top - 4096, 0x7FFFFFFF, 0x80000000,
                         0xFFFFFFFF, 2**63 - 1, 2**63, GDT[self.bits], VSYSCALL, 0x400000,
                         0x10000, r.getrandbits(self.bits), r.getrandbits(16), None, None])

    # -- snippets -------------------------------------------------------------------------
    def syscall(self) -> None:
        for reg in ARGS[self.bits][:self.rng.randint(0, 6)]:
            v = self.edge()
            if v is None:
                self.mov_sp(reg)
            else:
                self.mov_imm(reg, v)
        self.mov_imm("rax" if self.bits == 64 else "eax", self.rng.choice(self.numbers))
        self.trap()

    def privileged(self) -> None:
        choices = PRIVILEGED + (I386_ONLY if self.bits == 32 else [])
        for _ in range(self.rng.randint(0, 3)):
            self.push_imm(self.rng.choice([0, 0x23, 0x2B, 0x33, 0x10, 0x43, 0x63,
                                           self.rng.getrandbits(32)]))
        self.code += bytes.fromhex(self.rng.choice(choices))

    def far_transfer(self) -> None:
        """call/jmp far through a random selector (FF /3, FF /5), or a random segment load."""
        sel = self.rng.choice([0, 3, 0x10, 0x18, 0x23, 0x2B, 0x33, 0x43, 0x63, 0x6B, 0x73,
                               0x7B, 0xFFFF, self.rng.getrandbits(16)])
        kind = self.rng.randrange(4)
        ax = "rax" if self.bits == 64 else "eax"
        if kind < 2:
            self.mov_imm(ax, (sel << 32) | self.rng.choice([0, 0x401000, 0x1000]))
            self.code += b"\x50" + (b"\xff\x1c\x24" if kind == 0 else b"\xff\x2c\x24")
        elif kind == 2:
            self.mov_imm(ax, sel)
            self.code += bytes([0x8E, self.rng.choice([0xD8, 0xC0, 0xE0, 0xE8, 0xD0])])
        else:
            self.mov_imm(ax, sel)
            self.code += bytes.fromhex(self.rng.choice(["0f 02 c0", "0f 03 c0", "0f 00 e0",
                                                        "0f 00 e8"]))

    def kernel_pages(self) -> None:
        """Read or write the GDT page or the vsyscall page."""
        di = "rdi" if self.bits == 64 else "edi"
        base = GDT[self.bits] if self.bits == 32 or self.rng.random() < 0.7 else VSYSCALL
        self.mov_imm(di, base + self.rng.choice([0, 0x28, 0x40, 0x60, 0x800, 0xF00]))
        self.mov_imm("rax" if self.bits == 64 else "eax", self.rng.getrandbits(self.bits))
        rex = b"\x48" if self.bits == 64 else b""
        self.code += rex + self.rng.choice([b"\x89\x07", b"\x8b\x07", b"\x89\x47\x08",
                                            b"\xff\x17", b"\xff\xe7"])

    def vdso_pages(self) -> None:
        """Find the vDSO through AT_SYSINFO_EHDR (rbp/ebp keeps the entry stack pointer),
        then read, write, jump into or mprotect its pages and the vvar pages below it."""
        w = 8 if self.bits == 64 else 4
        ax, si, di, bp = (("rax", "rsi", "rdi", "rbp") if self.bits == 64 else
                          ("eax", "esi", "edi", "ebp"))
        off = self.rng.choice([0, 0x10, 0x800, 0x1000, -0x1000, -0x2000, -0x4000, -0x6000])
        action = self.rng.choice([
            f"mov {ax}, [{di}]", f"mov [{di}], {ax}", f"jmp {di}", f"call {di}",
            "mprotect", "munmap"])
        if action in ("mprotect", "munmap"):
            if self.bits == 64:
                action = (f"mov rsi, 0x2000; mov edx, 7; mov eax, "
                          f"{10 if action == 'mprotect' else 11}; syscall")
            else:
                action = (f"mov ebx, edi; mov ecx, 0x2000; mov edx, 7; mov eax, "
                          f"{125 if action == 'mprotect' else 91}; int 0x80")
        src = f"""
            mov {si}, {bp}
            mov {ax}, [{si}]
            lea {si}, [{si} + {ax}*{w} + {2 * w}]
          env: mov {ax}, [{si}]
            add {si}, {w}
            test {ax}, {ax}
            jnz env
          aux: mov {ax}, [{si}]
            cmp {ax}, 33
            je found
            add {si}, {2 * w}
            test {ax}, {ax}
            jnz aux
            jmp done
          found: mov {di}, [{si} + {w}]
            add {di}, {off}
            {action}
          done: nop
        """
        self.code += _assemble(src, self.bits)

    def sigreturn_garbage(self) -> None:
        for _ in range(self.rng.randint(0, 40)):
            self.push_imm(self.rng.choice([0, 0x33, 0x2B, 0x202, 0x40000, 0xFFFFFFFF,
                                           self.rng.getrandbits(32)]))
        if self.bits == 64:
            self.mov_imm("rax", 15)
            self.code += b"\x0f\x05"
        else:
            self.mov_imm("eax", self.rng.choice([119, 173]))
            self.code += b"\xcd\x80"

    def handler(self) -> None:
        """rt_sigaction(SIGSEGV/SIGILL/SIGTRAP/SIGBUS, a handler just after this code)."""
        # The handler's address is unknown before layout: point it at the next instruction
        # (a `call` pushes it), then jump over; the handler is the rest of the program.
        if self.bits == 64:
            self.code += b"\xe8\x00\x00\x00\x00"    # call next
            self.code += b"\x58"                    # pop rax: the handler
            self.code += b"\x48\x83\xec\x40"        # sub rsp, 64
            self.code += b"\x48\x89\x04\x24"        # mov [rsp], rax
            self.mov_imm("rax", 0x04000000 | self.rng.choice([0, 0x40000000, 0x80000000]))
            self.code += b"\x48\x89\x44\x24\x08"    # mov [rsp+8], rax: flags
            self.code += b"\x48\xc7\x44\x24\x10\x00\x00\x00\x00"  # restorer 0
            self.mov_imm("rdi", self.rng.choice([4, 5, 7, 11]))
            self.mov_sp("rsi")
            self.mov_imm("rdx", 0)
            self.mov_imm("r10", 8)
            self.mov_imm("rax", 13)
            self.code += b"\x0f\x05"
        else:
            self.code += b"\xe8\x00\x00\x00\x00\x58\x83\xec\x40\x89\x04\x24"
            self.code += b"\xc7\x44\x24\x04\x00\x00\x00\x00"
            self.mov_imm("ebx", self.rng.choice([4, 5, 7, 11]))
            self.mov_sp("ecx")
            self.mov_imm("edx", 0)
            self.mov_imm("esi", 8)
            self.mov_imm("eax", 174)
            self.code += b"\xcd\x80"

    def random_bytes(self) -> None:
        self.code += bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(1, 24)))

    def program(self) -> str:
        self.code += b"\x48\x89\xe5" if self.bits == 64 else b"\x89\xe5"  # mov rbp, rsp
        snippets = [self.syscall] * 6 + [self.privileged] * 3 + [self.far_transfer] * 2 + [
            self.kernel_pages, self.vdso_pages, self.sigreturn_garbage, self.handler,
            self.random_bytes]
        if self.rng.random() < 0.4:
            self.handler()  # the rest of the program also runs after each fault
        for _ in range(self.rng.randint(1, 12)):
            self.rng.choice(snippets)()
        if self.bits == 64:
            self.mov_imm("rdi", 0)
            self.mov_imm("rax", 60)
            self.code += b"\x0f\x05"
        else:
            self.mov_imm("ebx", 0)
            self.mov_imm("eax", 1)
            self.code += b"\xcd\x80"
        lines = [f"bits {self.bits}", "section .text", "global _start", "_start:"]
        for i in range(0, len(self.code), 16):
            lines.append("    db " + ", ".join(f"0x{b:02x}" for b in self.code[i:i + 16]))
        return "\n".join(lines) + "\n"


def _assemble(source: str, bits: int) -> bytes:
    import keystone

    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_64 if bits == 64 else
                     keystone.KS_MODE_32)
    return bytes(ks.asm(source, 0)[0])


def program(seed: int, index: int) -> tuple[str, int]:
    """The source of program `index` of a seeded series, and its bits."""
    from kernel_model.entry.abi import I386_ABI, X86_64_ABI

    rng = random.Random(seed * 1_000_003 + index)
    bits = 64 if rng.random() < 0.6 else 32
    gen = Gen(rng, bits, X86_64_ABI.table if bits == 64 else I386_ABI.table)
    return gen.program(), bits


def run_one(seed: int, index: int, workdir: str) -> tuple[str, int | None]:
    """('ok', status) or ('traceback', None) with the traceback printed."""
    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    source, bits = program(seed, index)
    path = os.path.join(workdir, f"fuzz{index}.s")
    with open(path, "w") as f:
        f.write(source)
    null = os.open(os.devnull, os.O_RDWR)
    try:
        prog = load_program(path, bits)
        options = RunOptions(seed=index, max_insns=50_000, timeout=3,
                             memory_limit=64 << 20, stdin_fd=null, stdout_fd=null,
                             stderr_fd=null, clock="frozen:1700000000")
        system = System(prog.image, prog.path, [path], options, symbols=prog.symbols)
        status = system.run()
        if index % 8 == 0:
            status = min(status, debugged(prog, path, index, null))
    except Exception:  # noqa: BLE001  (any exception is what the fuzz looks for)
        traceback.print_exc(file=sys.stdout)
        return "traceback", None
    finally:
        os.close(null)
    return "ok", status


def debugged(prog, path: str, index: int, null: int) -> int:
    """The same program under the stepping engine (its own handling of stops and faults):
    a few steps, then runs to each transition and to the end, then back to the start."""
    from kernel_model.debugger.session import DebugSession
    from kernel_model.system import RunOptions

    s = DebugSession.create(prog, [path], RunOptions(seed=index, memory_limit=64 << 20,
                                                     stdin_fd=null,
                                                     clock="frozen:1700000000"))
    try:
        commands = [s.step] * 20 + [s.run_to_transition] * 10 + [s.cont] * 3
        commands += [s.reverse_step] * 5
        for command in commands:
            if s.system.process.exited and command != s.reverse_step:
                continue
            # The session has no instruction or time limit: a looping guest is stopped
            # the way the screen's Esc does.
            timer = threading.Timer(2.0, s.interrupt)
            timer.start()
            try:
                command()
            finally:
                timer.cancel()
        return s.system.process.status if s.system.process.exited else 0
    finally:
        s.close()


def main(argv: list[str]) -> int:
    seed, first, count = (int(a) for a in argv[:3])
    bad = 0

    def thread_failed(args):  # an exception in a host thread (the kernel's timer) counts
        traceback.print_exception(args.exc_type, args.exc_value, args.exc_traceback,
                                  file=sys.stdout)
        print("TRACEBACK in a thread", flush=True)

    threading.excepthook = thread_failed
    with tempfile.TemporaryDirectory(prefix="syscall-lab-fuzz-") as workdir:
        for i in range(first, first + count):
            print(f"START {i}", flush=True)
            kind, status = run_one(seed, i, workdir)
            print(f"{kind.upper()} {i} {status}", flush=True)
            bad += kind != "ok" or not 0 <= status <= 255
            os.unlink(os.path.join(workdir, f"fuzz{i}.s"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The vDSO's data page ([vvar]) and the kernel side that keeps it current.

Layout: modelled on Linux 6.18's `struct vdso_time_data` (include/vdso/datapage.h), which sits
at the start of the [vvar] area, right below the image (arch/x86/entry/vdso/vma.c):

    struct vdso_clock {                    offset
        u32 seq;                           0    seqlock: odd while the kernel writes
        s32 clock_mode;                    4    1 = TSC, 0 = NONE ("use the syscall")
        u64 cycle_last;                    8    the TSC at the last update
        u64 max_cycles;                    16   (GENERIC_VDSO_OVERFLOW_PROTECT; our code
                                                 always multiplies in 128/96 bits instead)
        u64 mask;                          24
        u32 mult;                          32
        u32 shift;                         36
        struct { u64 sec; u64 nsec; } basetime[12];   40   per clock id; hres nsec is
                                                            stored shifted left by `shift`
    };                                     232 bytes
    struct vdso_time_data {
        struct vdso_clock clock_data[2];   0    [0] CS_HRES_COARSE, [1] CS_RAW
        struct vdso_clock aux_clock_data[8];    464  (6.17+ auxiliary clocks; unused, zero)
        s32 tz_minuteswest, tz_dsttime;    2320
        u32 hrtimer_res, __unused;         2328
    } ____cacheline_aligned;               2368 bytes
    u32 cpu, node;                         2368 syscall-lab's addition: what getcpu reports
                                                (the kernel's vgetcpu reads it from a GDT
                                                segment limit with lsl, or with rdpid)
    struct vdso_rng_data {                 2376 (Linux keeps it in its own vvar page)
        u64 generation;                    2376 bumped when the kernel's RNG reseeds
        u8 is_ready;                       2384 the RNG is seeded: vgetrandom may run
    };

`Timekeeper` plays the kernel's timekeeping core (kernel/time/timekeeping.c, update_vsyscall
in kernel/time/vsyscall.c): it calibrates the TSC that the guest's `rdtsc` reads (Unicorn
returns the host's TSC), computes mult/shift as clocks_calc_mult_shift does, and rewrites the
page under the seqlock.

With the TSC calibrated, one update at start-up is enough for the hres clocks
(CLOCK_REALTIME, MONOTONIC, BOOTTIME, TAI, MONOTONIC_RAW): the vDSO extrapolates from the base
with `rdtsc`, and its 128-bit (x86-64) / 96-bit (i386) multiply stays exact for any delta.
The coarse clocks and time() read only the base, so, as on Linux where the tick rewrites the
page every jiffy, they are only as fresh as the last update: call `maybe_update()` often (it
does the work at most once per tick, HZ=250, and it is cheap otherwise). Each update also
re-anchors the timeline and steers `mult` towards the host clock (as NTP steers the kernel's),
so a calibration error never accumulates and CLOCK_MONOTONIC never steps backwards.
A frozen clock (`--clock frozen:EPOCH`) gets mult = 0: rdtsc then adds nothing and every hres
read returns the frozen base exactly; update after the frozen clock moves (a guest sleep).
A virtual clock (kernel_model.clock) has its own TSC, the one the guest's `rdtsc` then reads,
at 1 GHz: mult = 1 << shift converts it exactly, so the page never needs steering; it is
updated when the virtual time has moved by a tick, at crossings (never from a host timer, so
the bytes depend only on the guest's progress).
"""

from __future__ import annotations

import struct
import threading
import time
from typing import TYPE_CHECKING

from kernel_model.vdso import cache

if TYPE_CHECKING:
    from emu.tsc import TscReader

NSEC_PER_SEC = 1_000_000_000
PAGE = 0x1000

# The areas below the image, 6.18 layout: [vvar] (time data, time-namespace page, RNG page,
# arch page) then [vvar_vclock] (pvclock, hvclock). The time data is at the start.
VVAR_PAGES = 4
VVAR_VCLOCK_PAGES = 2
VVAR_SIZE = (VVAR_PAGES + VVAR_VCLOCK_PAGES) * PAGE
TIME_DATA_OFFSET = 0  # from the start of the vvar area

# clock ids (include/uapi/linux/time.h)
CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID = 0, 1, 2, 3
CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME = 4, 5, 6, 7
CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM, CLOCK_SGI_CYCLE, CLOCK_TAI = 8, 9, 10, 11
VDSO_BASES = CLOCK_TAI + 1
VDSO_HRES = (1 << CLOCK_REALTIME) | (1 << CLOCK_MONOTONIC) | (1 << CLOCK_BOOTTIME) | (
    1 << CLOCK_TAI)
VDSO_COARSE = (1 << CLOCK_REALTIME_COARSE) | (1 << CLOCK_MONOTONIC_COARSE)
VDSO_RAW = 1 << CLOCK_MONOTONIC_RAW
CS_HRES_COARSE, CS_RAW, CS_BASES = 0, 1, 2
MAX_AUX_CLOCKS = 8

VDSO_CLOCKMODE_NONE = 0
VDSO_CLOCKMODE_TSC = 1  # arch/x86/include/asm/vdso/clocksource.h

HZ = 250
TICK_NS = NSEC_PER_SEC // HZ
LOW_RES_NSEC = TICK_NS  # the coarse clocks' resolution (include/linux/hrtimer.h)
HRTIMER_RES = 1  # hrtimer_resolution with high-resolution timers

# struct vdso_clock
VC_SEQ = 0
VC_CLOCK_MODE = 4
VC_CYCLE_LAST = 8
VC_MAX_CYCLES = 16
VC_MASK = 24
VC_MULT = 32
VC_SHIFT = 36
VC_BASETIME = 40
VC_TS_SIZE = 16
VC_SIZE = VC_BASETIME + VDSO_BASES * VC_TS_SIZE  # 232
_VC_HEAD = struct.Struct("<IiQQQII")

# struct vdso_time_data
VD_CLOCK_DATA = 0
VD_AUX_CLOCK_DATA = CS_BASES * VC_SIZE
VD_TZ_MINUTESWEST = VD_AUX_CLOCK_DATA + MAX_AUX_CLOCKS * VC_SIZE  # 2320
VD_TZ_DSTTIME = VD_TZ_MINUTESWEST + 4
VD_HRTIMER_RES = VD_TZ_MINUTESWEST + 8
VD_SIZE = (VD_TZ_MINUTESWEST + 16 + 63) & ~63  # ____cacheline_aligned: 2368
VD_CPU = VD_SIZE
VD_NODE = VD_SIZE + 4
VD_RNG_GENERATION = VD_NODE + 4
VD_RNG_IS_READY = VD_RNG_GENERATION + 8
VVAR_DATA_SIZE = VD_RNG_IS_READY + 1  # the bytes an update writes
# The model's kernel RNG is seeded before the first process and never reseeds: one
# generation for the run (a vgetrandom state whose generation differs fetches a new key).
RNG_GENERATION = 1
# struct vgetrandom_state (lib/vdso/getrandom.c) is 144 bytes; ours keeps the same size and
# the same places for generation and in_use, with the 32-byte ChaCha20 key in front (Linux's
# key follows a 96-byte batch of unused output, which ours does not keep).
VGR_KEY, VGR_GENERATION, VGR_IN_USE, VGR_STATE_SIZE = 0, 128, 137, 144

SEQ_OFFSETS = tuple(VD_CLOCK_DATA + i * VC_SIZE + VC_SEQ for i in range(CS_BASES))


def layout_constants() -> dict[str, int]:
    """Every offset and constant the assembly sources use, by name."""
    names = ("VC_SEQ VC_CLOCK_MODE VC_CYCLE_LAST VC_MAX_CYCLES VC_MASK VC_MULT VC_SHIFT "
             "VC_BASETIME VC_TS_SIZE VC_SIZE VD_CLOCK_DATA VD_TZ_MINUTESWEST VD_TZ_DSTTIME "
             "VD_HRTIMER_RES VD_CPU VD_NODE VDSO_HRES VDSO_COARSE VDSO_RAW VDSO_CLOCKMODE_NONE "
             "VDSO_CLOCKMODE_TSC NSEC_PER_SEC LOW_RES_NSEC CLOCK_REALTIME CLOCK_MONOTONIC "
             "CLOCK_MONOTONIC_RAW CLOCK_REALTIME_COARSE CLOCK_MONOTONIC_COARSE CLOCK_BOOTTIME "
             "CLOCK_TAI VD_RNG_GENERATION VD_RNG_IS_READY VGR_KEY VGR_GENERATION "
             "VGR_IN_USE VGR_STATE_SIZE").split()
    g = globals()
    return {n: g[n] for n in names}


# -- the TSC -------------------------------------------------------------------------------

_reader: TscReader | None = None  # emu.tsc's, made on first use
_calibration: tuple[int, int, int] | None = None  # (freq_hz, tsc, monotonic ns) at the end
_module_lock = threading.Lock()


def tsc_reader() -> TscReader:
    global _reader
    with _module_lock:
        if _reader is None:
            from emu.tsc import TscReader  # loads Unicorn: only when a clock needs the TSC

            _reader = TscReader()
        return _reader


def _sample(read, tries: int = 7, now=time.monotonic_ns) -> tuple[int, int, int]:
    """(tsc, `now()` at the same instant, uncertainty ns): the tightest of a few brackets of
    clock reads around one TSC read."""
    best: tuple[int, int, int] | None = None
    for _ in range(tries):
        t0 = now()
        c = read()
        t1 = now()
        if best is None or t1 - t0 < best[2]:
            best = (c, (t0 + t1) // 2, t1 - t0)
    assert best is not None, "tries >= 1"
    return best


def calibrate_tsc(window_ns: int = 30_000_000, read=None) -> int:
    """The guest TSC's frequency in Hz, measured once per process against the host's
    CLOCK_MONOTONIC over `window_ns` (the kernel calibrates against the PIT/HPET the same
    way, then refines). The first calibration is cached."""
    global _calibration
    if _calibration is not None and read is None:
        return _calibration[0]
    boot = cache.boot_id() if read is None else None
    known = cache.load("tsc", cache.key_of(boot)) if boot else None
    if isinstance(known, int) and known > 0:
        # The TSC's rate is fixed for a boot: measured by an earlier run (later updates
        # still refine it, as the kernel's do).
        c, t, _ = _sample(tsc_reader())
        _calibration = (known, c, t)
        return known
    read = read or tsc_reader()
    c0, t0, _ = _sample(read)
    time.sleep(window_ns / 1e9)
    c1, t1, _ = _sample(read)
    freq = (c1 - c0) * NSEC_PER_SEC // max(t1 - t0, 1)
    if freq <= 0:
        raise RuntimeError("the guest TSC does not advance: cannot calibrate")
    if read is tsc_reader():
        _calibration = (freq, c1, t1)
        if boot:
            cache.store("tsc", cache.key_of(boot), freq)
    return freq


def clocks_calc_mult_shift(from_hz: int, to_hz: int = NSEC_PER_SEC,
                           maxsec: int = 600) -> tuple[int, int]:
    """kernel/time/clocksource.c clocks_calc_mult_shift: the largest shift whose mult still
    lets `maxsec` seconds of cycles be multiplied in 64 bits. TSC: maxsec 600 (the cap),
    2.6 GHz -> shift 24, mult ~6.45e6."""
    tmp = (maxsec * from_hz) >> 32
    sftacc = 32
    while tmp:
        tmp >>= 1
        sftacc -= 1
    mult = 0
    for sft in range(32, 0, -1):
        mult = ((to_hz << sft) + from_hz // 2) // from_hz
        if (mult >> sftacc) == 0:
            break
    return mult, sft


# -- the timekeeper --------------------------------------------------------------------------

STEP_NS = 50_000_000  # a host-clock jump bigger than this is stepped (forwards only)
SLEW_NS = NSEC_PER_SEC  # smaller errors are corrected over about a second...
MAX_SLEW = 500e-6  # ...at most 500 ppm, as NTP's adjtimex limit


class Timekeeper:
    """The kernel's timekeeping for one vDSO data page.

    clock: anything with realtime_ns(), monotonic_ns(), boottime_ns() (kernel_model.clock's
    Clock); a `frozen` attribute that is true selects the frozen model (mult 0).
    clock_mode: VDSO_CLOCKMODE_TSC, or VDSO_CLOCKMODE_NONE to make every hres read fall back
    to the syscall (as on a machine whose clocksource the vDSO cannot read).
    """

    def __init__(self, clock, clock_mode: int = VDSO_CLOCKMODE_TSC, read_tsc=None,
                 freq_hz: int | None = None, cpu: int = 0, node: int = 0):
        self.clock = clock
        self.clock_mode = clock_mode
        self.frozen = bool(getattr(clock, "frozen", False))
        self.virtual = bool(getattr(clock, "virtual", False))
        self.tai_offset_ns = int(getattr(clock, "tai_offset_ns", 37 * NSEC_PER_SEC))
        self.tz_minuteswest = 0
        self.tz_dsttime = 0
        self.cpu, self.node = cpu, node
        self.seq = 0
        self.updates = 0
        self.mask = (1 << 64) - 1
        self._read_tsc = read_tsc
        self._freq = freq_hz
        self.mult = 0
        self.raw_mult = 0
        self.shift = 24
        self.cycle_last = 0
        # The timeline, in shifted nanoseconds (ns << shift, plus fraction), at cycle_last.
        self._mono_s = 0
        self._raw_s = 0
        self._wall_to_mono = 0  # realtime - monotonic
        self._boot_offset = 0  # boottime - monotonic
        self._anchor: tuple[int, int] | None = None  # (tsc, host ns) of the first update
        self._freq_window = 0
        self._last_update_ns: int | None = None
        self._last_frozen: int | None = None
        self._last_virtual: int | None = None
        if self.virtual:
            from kernel_model.clock import VIRTUAL_TSC_HZ

            self._freq = VIRTUAL_TSC_HZ
            self.raw_mult, self.shift = clocks_calc_mult_shift(self._freq)
            self.mult = self.raw_mult
        elif not self.frozen:
            self._setup_tsc()

    # -- calibration --------------------------------------------------------------------------
    def _setup_tsc(self) -> None:
        if self._read_tsc is None:
            self._read_tsc = tsc_reader()
        if self._freq is None:
            self._freq = calibrate_tsc(read=None if self._read_tsc is tsc_reader()
                                       else self._read_tsc)
        self.raw_mult, self.shift = clocks_calc_mult_shift(self._freq)
        self.mult = self.raw_mult

    @property
    def freq_hz(self) -> int | None:
        return self._freq

    # -- the timeline -------------------------------------------------------------------------
    def _extrapolate(self, base_s: int, mult: int, tsc: int) -> int:
        """What the vDSO computes at `tsc`, in shifted ns (no truncation)."""
        delta = (tsc - self.cycle_last) & self.mask
        return base_s + delta * mult

    def _advance(self) -> None:
        if self.frozen:
            self.mult = self.raw_mult = 0
            self.cycle_last = 0
            sh = self.shift
            mono = self.clock.monotonic_ns()
            self._mono_s = mono << sh
            self._raw_s = mono << sh
            self._wall_to_mono = self.clock.realtime_ns() - mono
            self._boot_offset = self.clock.boottime_ns() - mono
            return
        if self.virtual:
            # One exact timeline: the TSC and the clocks are the same count.
            sh = self.shift
            tsc = self.clock.tsc()
            mono = self.clock.monotonic_ns()
            self.cycle_last = tsc
            self._mono_s = self._raw_s = mono << sh
            self._wall_to_mono = self.clock.realtime_ns() - mono
            self._boot_offset = self.clock.boottime_ns() - mono
            return
        tsc, mono_now, _ = _sample(self._read_tsc, tries=3, now=self.clock.monotonic_ns)
        wall = self.clock.realtime_ns() - self.clock.monotonic_ns()
        boot = self.clock.boottime_ns() - self.clock.monotonic_ns()
        sh = self.shift
        if self._anchor is None:
            self._anchor = (tsc, mono_now)
            self._mono_s = mono_now << sh
            self._raw_s = mono_now << sh
            self._wall_to_mono, self._boot_offset = wall, boot
            self.cycle_last = tsc
            return
        mono_s = self._extrapolate(self._mono_s, self.mult, tsc)
        raw_s = self._extrapolate(self._raw_s, self.raw_mult, tsc)
        err = mono_now - (mono_s >> sh)
        if err > STEP_NS:
            mono_s = mono_now << sh  # forwards only: CLOCK_MONOTONIC never goes back
            err = 0
        # Refine the frequency over an ever longer window (the kernel's "refined TSC
        # calibration"); raw follows the refined nominal rate, mono is steered around it.
        window = mono_now - self._anchor[1]
        if window > 2 * max(self._freq_window, 100_000_000):
            self._freq = (tsc - self._anchor[0]) * NSEC_PER_SEC // window
            self._freq_window = window
            self.raw_mult = ((NSEC_PER_SEC << sh) + self._freq // 2) // self._freq
        slew = max(-MAX_SLEW, min(MAX_SLEW, err / SLEW_NS))
        self.mult = max(1, round(self.raw_mult * (1 + slew)))
        self._mono_s, self._raw_s = mono_s, raw_s
        self.cycle_last = tsc
        # realtime - monotonic changes only when the host clock is set: keep it stable
        # against sampling jitter, follow real steps.
        if abs(wall - self._wall_to_mono) > 1_000_000:
            self._wall_to_mono = wall
        if abs(boot - self._boot_offset) > 1_000_000:
            self._boot_offset = boot

    def now_ns(self, clock_id: int) -> int:
        """The value the vDSO would return right now for a clock it serves (for the kernel
        model and tests); raises ValueError for the others."""
        sh = self.shift
        if self.frozen:
            tsc = 0
        elif self.virtual:
            tsc = self.clock.tsc()
        else:
            tsc = self._read_tsc()
        if clock_id == CLOCK_MONOTONIC_RAW:
            return self._extrapolate(self._raw_s, self.raw_mult, tsc) >> sh
        mono = self._extrapolate(self._mono_s, self.mult, tsc) >> sh
        if clock_id in (CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE):
            mono = self._mono_s >> sh
        return mono + self._offset(clock_id)

    def _offset(self, clock_id: int) -> int:
        if clock_id in (CLOCK_REALTIME, CLOCK_REALTIME_COARSE):
            return self._wall_to_mono
        if clock_id in (CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW):
            return 0
        if clock_id == CLOCK_BOOTTIME:
            return self._boot_offset
        if clock_id == CLOCK_TAI:
            return self._wall_to_mono + self.tai_offset_ns
        raise ValueError(f"the vDSO does not serve clock {clock_id}")

    def clock_base(self, clock_id: int) -> tuple[int, int]:
        """(seconds, nanoseconds << shift) of a high-resolution clock at cycle_last, as the
        last update left them: for other readers of the same timeline (the vsyscall page)."""
        sec, rem = divmod(self._mono_s + (self._offset(clock_id) << self.shift),
                          NSEC_PER_SEC << self.shift)
        return sec, rem

    def advance(self) -> None:
        """Move the timeline's base to now (what every update does first)."""
        self._advance()

    # -- the page -----------------------------------------------------------------------------
    def _pack(self, seq: int) -> bytes:
        sh = self.shift
        out = bytearray(VVAR_DATA_SIZE)
        one_sec_s = NSEC_PER_SEC << sh

        def stamp(shifted: int) -> tuple[int, int]:
            sec, rem = divmod(shifted, one_sec_s)
            return sec, rem

        hres = bytearray(VC_SIZE)
        max_cycles = ((1 << 64) - 1) // max(self.mult, 1)
        _VC_HEAD.pack_into(hres, 0, seq, self.clock_mode, self.cycle_last, max_cycles,
                           self.mask, self.mult, sh)
        for cid in (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI):
            sec, nsec_s = stamp(self._mono_s + (self._offset(cid) << sh))
            struct.pack_into("<QQ", hres, VC_BASETIME + cid * VC_TS_SIZE, sec, nsec_s)
        for cid in (CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE):
            # Coarse bases hold plain nanoseconds (update_vdso_time_data: nsec >> shift).
            ns = (self._mono_s >> sh) + self._offset(cid)
            struct.pack_into("<QQ", hres, VC_BASETIME + cid * VC_TS_SIZE,
                             ns // NSEC_PER_SEC, ns % NSEC_PER_SEC)
        raw = bytearray(VC_SIZE)
        _VC_HEAD.pack_into(raw, 0, seq, self.clock_mode, self.cycle_last,
                           ((1 << 64) - 1) // max(self.raw_mult, 1), self.mask, self.raw_mult,
                           sh)
        sec, nsec_s = stamp(self._raw_s)
        struct.pack_into("<QQ", raw, VC_BASETIME + CLOCK_MONOTONIC_RAW * VC_TS_SIZE, sec,
                         nsec_s)
        out[VD_CLOCK_DATA:VD_CLOCK_DATA + VC_SIZE] = hres
        out[VD_CLOCK_DATA + VC_SIZE:VD_CLOCK_DATA + 2 * VC_SIZE] = raw
        struct.pack_into("<iiII", out, VD_TZ_MINUTESWEST, self.tz_minuteswest, self.tz_dsttime,
                         HRTIMER_RES, 0)
        struct.pack_into("<II", out, VD_CPU, self.cpu, self.node)
        struct.pack_into("<QB", out, VD_RNG_GENERATION, RNG_GENERATION, 1)
        return bytes(out)

    def vvar_bytes(self, seq: int | None = None) -> bytes:
        """The time data for "now" (VVAR_DATA_SIZE bytes, to be placed at the start of the
        vvar area), with the current (even) sequence number unless `seq` is given."""
        self._advance()
        return self._pack(self.seq if seq is None else seq)

    def update(self, write, vvar_addr: int) -> None:
        """Rewrite the page in guest memory under the seqlock (vdso_write_begin/end): every
        clock's seq becomes odd, the data is written, then seq becomes even again.
        `write(addr, data)` writes guest memory; vvar_addr is the start of the vvar area."""
        odd = (self.seq + 1) & 0xFFFFFFFF
        for off in SEQ_OFFSETS:
            write(vvar_addr + TIME_DATA_OFFSET + off, struct.pack("<I", odd))
        write(vvar_addr + TIME_DATA_OFFSET, self.vvar_bytes(seq=odd))
        self.seq = (odd + 1) & 0xFFFFFFFF
        for off in SEQ_OFFSETS:
            write(vvar_addr + TIME_DATA_OFFSET + off, struct.pack("<I", self.seq))
        self.updates += 1
        self._last_update_ns = time.monotonic_ns()
        if self.frozen:
            self._last_frozen = self.clock.realtime_ns()
        if self.virtual:
            self._last_virtual = self.clock.monotonic_ns()

    def due(self) -> bool:
        """Whether a tick has passed since the last update (or, frozen, the clock moved)."""
        if self._last_update_ns is None:
            return True
        if self.frozen:
            return self.clock.realtime_ns() != self._last_frozen
        if self.virtual:
            return self.clock.monotonic_ns() - self._last_virtual >= TICK_NS
        return time.monotonic_ns() - self._last_update_ns >= TICK_NS

    def maybe_update(self, write, vvar_addr: int) -> bool:
        """update() at most once per tick (HZ=250): cheap enough to call at every syscall."""
        if not self.due():
            return False
        self.update(write, vvar_addr)
        return True

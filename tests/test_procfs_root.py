"""The system-wide side of /proc and the tmpfs mounts a libc expects (issue 12, "a
believable root"): /proc/mounts and mountinfo from the model's mount table, /dev/shm as a
tmpfs of its own, meminfo against the memory cap, cpuinfo against the emulated CPU's
cpuid, /proc/sys; and what a process reads of itself: status and stat with resident
pages and signal masks, maps made afresh at each read from offset 0, mem, pagemap, smaps.

The differential tests run tests/guests/root's programs natively and under syscall-lab
(glibc x86-64 and i386, musl) and compare their output, which holds only values the same
on any Linux 6.x machine (relationships between fields, yes/no answers)."""

from __future__ import annotations

import re

import pytest
from conftest import run_guest
from guest_harness import (
    GUESTS,
    TARGETS,
    busybox_bin_dir,
    busybox_for,
    differences,
    lab_run_args,
    run_lab,
    run_native,
)

from emu.cpuid import cpuid
from kernel_model.files.proc_info import cpu_flags
from kernel_model.syscalls.registry import lookup

ROOT_BIN = GUESTS / "root" / "bin"
PROGRAMS = sorted(p.stem for p in (GUESTS / "root").glob("*.c"))


def test_every_guest_is_built_for_every_target():
    missing = [f"{name}.{target}" for name in PROGRAMS for target in TARGETS
               if not (ROOT_BIN / f"{name}.{target}").is_file()]
    assert not missing, f"run tests/guests/root/build.sh: missing {missing}"


def same_as_linux(name: str, target: str, *args: str) -> bytes:
    binary = ROOT_BIN / f"{name}.{target}"
    native = run_native([str(binary), *args])
    lab = run_lab(*lab_run_args(), str(binary), *args)
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)
    return lab.stdout


# A line of each part's output that only a correct /proc gives (beyond matching Linux).
PROC_SELF_SHOWS = {
    "status": [b"touching it adds 2048 kB to VmRSS: yes", b"SigBlk has SIGUSR1: yes",
               b"statm text is VmExe, data is VmData + VmStk: yes yes"],
    "mem": [b"pwrite into PROT_READ: 6 forced", b"answer() after: 42",
            b"pread of an unmapped page: -1 "],
    "maps": [b"same fd, from offset 0 again: listed: yes"],
    "pagemap": [b"touched page present: yes"],
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("part", sorted(PROC_SELF_SHOWS))
def test_proc_self_reads_like_linux(part, target):
    out = same_as_linux("proc_self", target, part)
    for line in PROC_SELF_SHOWS[part]:
        assert line in out, out.decode()


@pytest.mark.parametrize("target", TARGETS)
def test_system_files_read_like_linux(target):
    out = same_as_linux("proc_system", target)
    for line in (b"hostname is uname's: yes", b"boot_id is a uuid, the same twice: yes yes",
                 b"uuid is a uuid, new each read: yes yes",
                 b"getmntent: /proc is proc: yes, /dev/shm is a rw tmpfs: yes",
                 b"mountinfo: well formed: yes, one line per mount: yes, / listed: yes",
                 b"cpuinfo family and model are cpuid's: yes",
                 b"MemTotal is sysinfo's totalram: yes",
                 b"stat: btime + uptime is now: yes",
                 b"loadavg: six fields: yes, 1 <= running <= total: yes",
                 b"every mounted type is in /proc/filesystems: yes"):
        assert line in out, out.decode()


@pytest.mark.parametrize("target", TARGETS)
def test_shm_open_ftruncate_mmap_like_linux(target):
    out = same_as_linux("shm_sem", target, "shm")
    assert b"mapping sees the file: written first" in out


@pytest.mark.skipif(lookup("x86_64", "link") is None,
                    reason="sem_open links its file into /dev/shm: needs link(2), which "
                           "the file-operations branch adds")
@pytest.mark.parametrize("target", TARGETS)
def test_named_semaphores_like_linux(target):
    out = same_as_linux("shm_sem", target, "sem")
    assert b"after two waits 0" in out


# -- the mount table --------------------------------------------------------------------
def mounts_of(run) -> list[list[str]]:
    return [line.split() for line in run.decode().splitlines()]


@pytest.fixture(scope="module")
def busybox_dir(tmp_path_factory):
    busybox = busybox_for("x86_64")
    if isinstance(busybox, str):
        pytest.skip(busybox)
    return busybox_bin_dir(busybox, tmp_path_factory.mktemp("bb"))


def sh(busybox_dir, script: str, *options: str):
    return run_lab(*lab_run_args(), "--mount", f"{busybox_dir}:/bin", *options,
                   str(busybox_dir / "busybox"), "sh", "-c", script)


def test_proc_mounts_lists_every_mount_in_linux_format(busybox_dir, tmp_path):
    (tmp_path / "data").mkdir()
    run = sh(busybox_dir, "cat /proc/mounts", "--mount", f"{tmp_path / 'data'}:/data:rw",
             "--memory-limit", "256M")
    table = {fields[1]: fields for fields in mounts_of(run.stdout)}
    assert all(len(fields) == 6 and fields[4:] == ["0", "0"] for fields in table.values())
    assert table["/"][2] == "rootfs" and table["/"][3].split(",")[0] == "ro"
    assert table["/proc"][:3] == ["proc", "/proc", "proc"]
    assert table["/dev"][2] == "devtmpfs"
    for tmpfs in ("/dev/shm", "/tmp"):
        assert table[tmpfs][2] == "tmpfs"
        assert f"size={256 * 1024}k" in table[tmpfs][3].split(",")  # the memory cap
    assert table["/data"][2:4] == ["hostfs", "rw,relatime"]
    assert table["/bin"][3].startswith("ro,")  # a --mount without :rw
    assert str(tmp_path) not in run.stdout.decode()  # the host's paths stay outside


def test_mountinfo_numbers_each_mount_and_its_parent(busybox_dir):
    run = sh(busybox_dir, "cat /proc/self/mountinfo; echo; stat -c '%d %n' / /proc /dev "
                          "/dev/shm /tmp")
    info, stats = run.stdout.decode().split("\n\n")
    ids, devs = {}, {}
    for line in info.splitlines():
        head, tail = line.split(" - ")
        mount_id, parent, dev, root, point, _options = head.split()
        ids[point] = (int(mount_id), int(parent))
        devs[point] = dev
        assert root == "/" and len(tail.split()) == 3
    assert ids["/dev/shm"][1] == ids["/dev"][0]  # mounted on /dev
    assert ids["/proc"][1] == ids["/"][0]
    # major:minor is what stat says of the mount point (st_dev)
    for line in stats.splitlines():
        number, path = line.split()
        major, minor = map(int, devs[path].split(":"))
        assert int(number) == major << 8 | minor, path


def test_dev_shm_and_tmp_are_two_tmpfs(busybox_dir):
    run = sh(busybox_dir, "echo x > /dev/shm/a && echo y > /tmp/a && cat /dev/shm/a /tmp/a "
                          "&& stat -c '%d %a' /dev/shm /tmp && rm /dev/shm/a && ls /dev/shm")
    lines = run.stdout.decode().splitlines()
    assert lines[:2] == ["x", "y"]
    (shm_dev, shm_mode), (tmp_dev, tmp_mode) = (lines[2].split(), lines[3].split())
    assert shm_dev != tmp_dev
    assert shm_mode == tmp_mode == "1777"
    assert lines[4:] == []  # removed again


# -- meminfo, cpuinfo, /proc/sys ----------------------------------------------------------
def proc_file(path: str, **options) -> str:
    source = f"""bits 64
section .text
global _start
_start:
    mov eax, 2
    lea rdi, [rel path]
    xor esi, esi
    syscall
    mov edi, eax
    sub rsp, 65536
more:
    mov eax, 0
    mov rsi, rsp
    mov edx, 65536
    syscall
    test eax, eax
    jle done
    mov edx, eax
    mov eax, 1
    mov edi, 1
    syscall
    mov edi, 3
    jmp more
done:
    mov eax, 60
    xor edi, edi
    syscall
section .data
path: db "{path}", 0
"""
    run = run_guest("cat.s", source=source, **options)
    assert run.status == 0
    return run.stdout.decode()


def test_meminfo_total_is_the_memory_cap_and_free_what_mmap_can_still_get():
    text = proc_file("/proc/meminfo", memory_limit=64 << 20)
    kb = {m[1]: int(m[2]) for m in re.finditer(r"^([\w()]+):\s+(\d+) kB$", text, re.M)}
    assert kb["MemTotal"] == 64 * 1024
    assert 0 < kb["MemFree"] < kb["MemTotal"]
    assert kb["MemAvailable"] == kb["MemFree"]
    assert kb["Committed_AS"] == kb["MemTotal"] - kb["MemFree"]  # the mappings and tmpfs
    assert kb["SwapTotal"] == 0


def test_cpuinfo_says_what_the_cpus_cpuid_says():
    text = proc_file("/proc/cpuinfo")
    fields = dict(line.split("\t: ", 1) if "\t: " in line else (line, "")
                  for line in text.splitlines() if line)
    fields = {k.strip(): v for k, v in fields.items()}
    _, b, c, d = cpuid(0)
    assert fields["vendor_id"] == (b.to_bytes(4, "little") + d.to_bytes(4, "little")
                                   + c.to_bytes(4, "little")).decode()
    assert text.count("processor\t:") == 1  # the model's one CPU
    flags = fields["flags"].split()
    assert flags == cpu_flags()
    edx = cpuid(1)[3]
    assert ("sse2" in flags) == bool(edx >> 26 & 1)
    assert ("lm" in flags) == bool(cpuid(0x80000001)[3] >> 29 & 1)


def test_proc_sys_kernel_values():
    assert proc_file("/proc/sys/kernel/ostype") == "Linux\n"
    assert proc_file("/proc/sys/kernel/cap_last_cap") == "40\n"
    assert proc_file("/proc/sys/kernel/threads-max", memory_limit=256 << 20) == \
        f"{(256 << 20) // 4096 // 32}\n"
    boot = proc_file("/proc/sys/kernel/random/boot_id", seed=5)
    assert boot == proc_file("/proc/sys/kernel/random/boot_id", seed=5)  # --seed repeats
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                        r"[0-9a-f]{12}\n", boot)


def test_a_sysctl_write_is_refused(busybox_dir):
    run = sh(busybox_dir, "echo other > /proc/sys/kernel/hostname; echo $?; "
                          "cat /proc/sys/kernel/hostname")
    status, name = run.stdout.decode().split()
    assert status != "0" and name == "syscall-lab"
    assert b"Operation not permitted" in run.stderr


# -- smaps and status agree ---------------------------------------------------------------
def test_smaps_rollup_rss_is_status_vmrss(busybox_dir):
    run = sh(busybox_dir, "grep -E '^(Rss|Anonymous):' /proc/self/smaps_rollup; "
                          "grep -E '^(VmRSS|RssAnon):' /proc/self/status; "
                          "grep -c VmFlags /proc/self/smaps; grep -c . /proc/self/maps")
    values = dict(line.split(":") for line in run.stdout.decode().splitlines()[:4])
    kb = {k: int(v.split()[0]) for k, v in values.items()}
    assert kb["Rss"] > 0
    assert abs(kb["Rss"] - kb["VmRSS"]) <= 64  # two reads: grep's own pages in between
    assert kb["Anonymous"] <= kb["Rss"]
    smaps_entries, maps_lines = run.stdout.decode().splitlines()[4:]
    assert smaps_entries == maps_lines  # one smaps block per maps line, the gate area too


def test_status_shows_every_id_of_the_credentials_and_the_groups():
    """Uid/Gid: real, effective, saved, file-system; Groups each followed by a space; the
    capabilities follow the effective uid (a setuid-root program run by uid 1000)."""
    from types import SimpleNamespace

    from test_procfs_pids import Family

    ids = dict(ruid=1000, euid=0, suid=0, fsuid=0, rgid=1000, egid=1000, sgid=1000,
               fsgid=1000, groups=(4, 27))
    try:  # the model's credentials, where the file-operations branch has added them
        from kernel_model.proc.creds import Credentials
        creds = Credentials(**ids)
    except ImportError:
        creds = SimpleNamespace(**ids)
    fam = Family()
    fam.k.process.creds = creds
    status = fam.status("/proc/self/status")
    assert status["Uid"] == "1000\t0\t0\t0"
    assert status["Gid"] == "1000\t1000\t1000\t1000"
    assert status["Groups"] == "4 27 "
    assert int(status["CapEff"], 16) == (1 << 41) - 1


def test_mount_points_with_spaces_are_escaped_and_nested_mounts_have_their_parent():
    from kernel_model.files.mounts import Mount, mountinfo_text, mounts_text

    table = [Mount("rootfs", "/", "rootfs", "ro", (0, 1), "ro"),
             Mount("none", "/mnt/my data", "hostfs", "rw,relatime", (0, 40)),
             Mount("none", "/mnt/my data/inner", "hostfs", "ro,relatime", (0, 41), "ro")]
    assert mounts_text(table).splitlines()[1] == "none /mnt/my\\040data hostfs rw,relatime 0 0"
    info = [line.split() for line in mountinfo_text(table).splitlines()]
    assert info[2][:5] == ["23", "22", "0:41", "/", "/mnt/my\\040data/inner"]
    assert info[1][1] == "21" and info[0][1] == "1"

"""The libraries a dynamically linked program needs (issue 13): the host's library
directories (/lib, /lib64, /usr/lib and the i386/x32 ones) shared read-only at the same
guest paths, the merged-/usr symlinks (/lib -> usr/lib) as the same symlinks, and
/etc/ld.so.cache; --sysroot DIR takes them from DIR, --no-host-libs shows none. Nothing
else of the host appears, and a symlink is followed by the guest's own walk, so a path
ends where Linux's d_path says it does (/lib64/ld-linux-x86-64.so.2 is
/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2) or nowhere."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import PROGRAMS, run_guest
from guest_harness import busybox_bin_dir, busybox_for, lab_run_args, run_lab

from kernel_model.files.inode import FsError
from kernel_model.files.mounts import mountinfo_text, mounts_text
from kernel_model.files.synthetic import ROOT_DEV
from kernel_model.files.sysroot import LIB_DIRS
from kernel_model.files.uapi import O_CREAT, O_RDONLY, O_RDWR, O_WRONLY
from kernel_model.uapi import errnos

STATIC = PROGRAMS / "bin" / "hello.glibc-x86_64"
# Files the loaders open on an x86 Debian/Ubuntu host, by the names they open them by.
HOST_LIBRARIES = ["/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6",
                  "/usr/lib/ld-linux.so.2", "/lib/ld-linux.so.2",
                  "/lib/ld-musl-x86_64.so.1"]


def vfs_of(**options):
    """The guest's tree of a finished run of a tiny static program."""
    run = run_guest(STATIC, **options)
    assert run.status == 0
    return run.system.vfs, run.system.process.creds


def errno_of(fn) -> int:
    with pytest.raises(FsError) as e:
        fn()
    return e.value.errno


def read_all(vfs, cred, path: str) -> bytes:
    f = vfs.open(path, O_RDONLY, 0, base="/", cred=cred)
    try:
        chunks, offset = [], 0
        while chunk := f.pread(None, offset, 1 << 20):
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks)
    finally:
        f.release()


def host_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# -- the host's libraries -----------------------------------------------------------------
@pytest.mark.parametrize("path", HOST_LIBRARIES)
def test_a_library_resolves_to_its_canonical_path_with_the_hosts_bytes(path):
    if not os.path.exists(path):
        pytest.skip(f"this host has no {path}")
    vfs, cred = vfs_of()
    lk = vfs.resolve(path)
    # The guest's tree has the host's shape here, so the walk ends where the host's does.
    assert lk.path == os.path.realpath(path)
    node = lk.existing()
    real = os.stat(path)
    st = node.stat()
    assert st.size == real.st_size and st.mode == real.st_mode
    assert st.ino != real.st_ino and st.dev[0] == 0 and st.dev[1] >= 40  # the model's
    assert read_all(vfs, cred, path) == host_bytes(path)
    # readlink and lstat of the name the loader opens: the host's link text
    link = vfs.resolve(path, follow=False).existing()
    if os.path.islink(path):
        assert link.is_symlink and link.readlink() == os.readlink(path)


def test_merged_usr_links_are_the_same_links_and_listed_as_links():
    vfs, _ = vfs_of()
    root = {e.name: e for e in vfs.list_dir("/", vfs.resolve("/").existing())}
    for guest in LIB_DIRS:
        name = guest.lstrip("/")
        if "/" in name:
            continue
        if os.path.islink(guest):
            node = vfs.resolve(guest, follow=False).existing()
            assert node.is_symlink and node.readlink() == os.readlink(guest)
            assert node.dev == ROOT_DEV and root[name].dtype == 10  # DT_LNK
        elif os.path.isdir(guest):
            assert vfs.resolve(guest).existing().is_dir and root[name].dtype == 4
        else:
            assert name not in root


def test_one_file_by_two_names_is_one_inode_and_mapped_contents_are_read_once():
    path = "/lib/x86_64-linux-gnu/libc.so.6"
    if not os.path.exists(path):
        pytest.skip(f"this host has no {path}")
    vfs, cred = vfs_of()
    canonical = os.path.realpath(path)
    a, b = vfs.resolve(path).existing(), vfs.resolve(canonical).existing()
    assert (a.dev, a.ino) == (b.dev, b.ino)
    first = vfs.open(path, O_RDONLY, 0, base="/", cred=cred)
    second = vfs.open(canonical, O_RDONLY, 0, base="/", cred=cred)
    try:
        data = first.mmap_bytes()
        assert data == host_bytes(path)
        assert second.mmap_bytes() is data  # kept: the loader maps libc several times
        assert first.pread(None, 4096, 64) == data[4096:4096 + 64]
        assert second.guest_path == canonical  # what /proc/self/maps will name
    finally:
        first.release()
        second.release()


def test_writes_to_the_shared_libraries_fail_with_erofs():
    vfs, cred = vfs_of()
    libc = vfs.resolve("/lib/x86_64-linux-gnu/libc.so.6").path \
        if os.path.exists("/lib/x86_64-linux-gnu/libc.so.6") else None
    opens = [("/usr/lib/new-file", O_CREAT | O_WRONLY), ("/etc/ld.so.cache", O_RDWR)]
    if libc:
        opens.append((libc, O_WRONLY))
    for path, flags in opens:
        assert errno_of(lambda p=path, f=flags: vfs.open(p, f, 0o644, base="/",
                                                           cred=cred)) == errnos.EROFS, path
    assert errno_of(lambda: vfs.mkdir("/usr/lib/dir", 0o755, base="/",
                                      cred=cred)) == errnos.EROFS
    assert errno_of(lambda: vfs.symlink("x", "/usr/lib/link", base="/",
                                        cred=cred)) == errnos.EROFS
    if os.path.islink("/lib"):  # the merged-/usr link itself, on the read-only root
        assert errno_of(lambda: vfs.unlink("/lib", base="/", cred=cred,
                                           directory=False)) == errnos.EROFS


@pytest.mark.parametrize("path", ["/usr/bin/ls", "/usr/bin", "/bin/sh", "/sbin", "/home",
                                  "/root", "/var", "/usr/share", "/usr/include",
                                  "/etc/shadow", "/etc/os-release", "/etc/alternatives"])
def test_nothing_else_of_the_host_appears(path):
    vfs, cred = vfs_of()
    assert errno_of(lambda: vfs.open(path, O_RDONLY, 0, base="/",
                                     cred=cred)) == errnos.ENOENT


def test_a_link_from_a_library_directory_to_elsewhere_on_the_host_ends_nowhere():
    """/usr/lib/cpp -> /etc/alternatives/cpp on Debian: the guest has no such file."""
    outward = [os.path.join("/usr/lib", n) for n in sorted(os.listdir("/usr/lib"))
               if os.path.islink(os.path.join("/usr/lib", n))
               and os.readlink(os.path.join("/usr/lib", n)).startswith(("/etc/", "/usr/bin/",
                                                                         "/usr/share/"))]
    if not outward:
        pytest.skip("no link from /usr/lib to /etc, /usr/bin or /usr/share on this host")
    vfs, cred = vfs_of()
    for link in outward:
        assert vfs.resolve(link, follow=False).existing().readlink() == os.readlink(link)
        assert errno_of(lambda p=link: vfs.open(p, O_RDONLY, 0, base="/",
                                                cred=cred)) == errnos.ENOENT, link


def test_ld_so_cache_and_conf_are_the_hosts_on_the_read_only_root():
    if not os.path.isfile("/etc/ld.so.cache"):
        pytest.skip("this host has no /etc/ld.so.cache")
    vfs, cred = vfs_of()
    node = vfs.resolve("/etc/ld.so.cache").existing()
    assert node.dev == ROOT_DEV and node.size() == os.path.getsize("/etc/ld.so.cache")
    assert read_all(vfs, cred, "/etc/ld.so.cache") == host_bytes("/etc/ld.so.cache")
    f = vfs.open("/etc/ld.so.cache", O_RDONLY, 0, base="/", cred=cred)
    assert f.mmap_bytes() == host_bytes("/etc/ld.so.cache")  # ld.so maps it
    if os.path.isdir("/etc/ld.so.conf.d"):
        names = sorted(n for n in os.listdir("/etc/ld.so.conf.d")
                       if os.path.isfile(os.path.join("/etc/ld.so.conf.d", n)))
        listed = [e.name for e in vfs.list_dir(
            "/etc/ld.so.conf.d", vfs.resolve("/etc/ld.so.conf.d").existing())][2:]
        assert listed == names
        for n in names:
            assert read_all(vfs, cred, f"/etc/ld.so.conf.d/{n}") == \
                host_bytes(f"/etc/ld.so.conf.d/{n}")


def test_the_library_directories_are_read_only_hostfs_mounts_in_the_table():
    vfs, _ = vfs_of()
    table = vfs.mount_table()
    shared = [d for d in LIB_DIRS if os.path.isdir(d) and not os.path.islink(d)]
    lines = {line.split()[1]: line.split() for line in mounts_text(table).splitlines()}
    for d in shared:
        assert lines[d] == ["none", d, "hostfs", "ro,relatime", "0", "0"]
        assert vfs.resolve(d).existing().dev == next(m.dev for m in table if m.target == d)
    assert len({m.dev for m in table}) == len(table)  # each mount its own device
    # The bundled programs' mount sits on the /usr/lib mount, in mountinfo as in the walk.
    info = {fields[4]: fields for fields in (line.split()
                                             for line in mountinfo_text(table).splitlines())}
    if "/usr/lib" in info:
        assert info["/usr/lib/syscall-lab/bin"][1] == info["/usr/lib"][0]


def test_the_bundled_programs_stay_at_usr_lib_syscall_lab_bin():
    vfs, cred = vfs_of()
    assert vfs.resolve("/usr/lib/syscall-lab/bin/hello.glibc-x86_64").existing().size() \
        == STATIC.stat().st_size
    if os.path.isdir("/usr/lib") and not os.path.islink("/usr/lib"):
        names = [e.name for e in vfs.list_dir("/usr/lib", vfs.resolve("/usr/lib").existing())]
        assert "syscall-lab" in names and "x86_64-linux-gnu" in names


def test_building_the_tree_reads_nothing_below_the_library_directories(tmp_path,
                                                                       monkeypatch):
    root = fake_sysroot(tmp_path)
    seen: list[tuple[str, str]] = []
    for name in ("lstat", "stat", "scandir", "listdir", "open"):
        real = getattr(os, name)

        def spy(*a, _real=real, _name=name, **kw):
            if a and isinstance(a[0], (str, bytes, os.PathLike)):
                seen.append((_name, os.fsdecode(a[0])))
            return _real(*a, **kw)

        monkeypatch.setattr(os, name, spy)
    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    prog = load_program(str(STATIC), 64)
    System(prog.image, prog.path, ["hello"], RunOptions(seed=1, sysroot=str(root)))
    lib = str(root / "usr" / "lib")
    assert [p for _, p in seen if p.startswith(lib + "/")] == []  # nothing below
    assert [p for n, p in seen if n in ("scandir", "listdir") and p.startswith(lib)] == []
    assert ("lstat", lib) in seen  # it was looked at: the spy sees the calls


# -- --sysroot and --no-host-libs ---------------------------------------------------------
def fake_sysroot(tmp_path):
    """A tiny merged-/usr tree: a loader and a libc (made-up bytes), links in both styles,
    a cache, and links that try to reach the host."""
    root = tmp_path / "sysroot"
    multiarch = root / "usr" / "lib" / "x86_64-linux-gnu"
    multiarch.mkdir(parents=True)
    (multiarch / "ld-linux-x86-64.so.2").write_bytes(b"\x7fELF the sysroot's loader")
    (multiarch / "libc.so.6").write_bytes(b"\x7fELF the sysroot's libc")
    (root / "usr" / "lib64").mkdir()
    # Absolute: must end in the sysroot's /lib, not the host's.
    os.symlink("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
               root / "usr" / "lib64" / "ld-linux-x86-64.so.2")
    os.symlink("usr/lib", root / "lib")
    os.symlink("usr/lib64", root / "lib64")
    (root / "etc").mkdir()
    (root / "etc" / "ld.so.cache").write_bytes(b"glibc-ld.so.cache1.1 (fake)")
    secret = tmp_path / "secret"
    secret.write_text("host-only secret\n")
    os.symlink(secret, multiarch / "to-host")  # an absolute host path
    os.symlink("../../../../secret", multiarch / "up-and-out")  # out through ".."
    os.symlink("/etc/passwd", multiarch / "passwd")  # the guest's /etc, not the host's
    return root


def test_sysroot_replaces_the_hosts_libraries(tmp_path):
    root = fake_sysroot(tmp_path)
    vfs, cred = vfs_of(sysroot=str(root))
    loader = vfs.resolve("/lib64/ld-linux-x86-64.so.2")
    assert loader.path == "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    assert read_all(vfs, cred, "/lib64/ld-linux-x86-64.so.2") == \
        b"\x7fELF the sysroot's loader"
    assert read_all(vfs, cred, "/lib/x86_64-linux-gnu/libc.so.6") == \
        b"\x7fELF the sysroot's libc"
    assert read_all(vfs, cred, "/etc/ld.so.cache") == b"glibc-ld.so.cache1.1 (fake)"
    # What the sysroot lacks, the guest lacks, whatever the host has.
    for path in ("/lib32", "/usr/lib32", "/usr/libx32", "/etc/ld.so.conf",
                 "/usr/lib/x86_64-linux-gnu/libm.so.6"):
        assert errno_of(lambda p=path: vfs.open(p, O_RDONLY, 0, base="/",
                                                cred=cred)) == errnos.ENOENT, path
    assert "/usr/lib32" not in [m.target for m in vfs.mount_table()]


def test_links_in_a_sysroot_never_lead_to_the_host(tmp_path):
    root = fake_sysroot(tmp_path)
    vfs, cred = vfs_of(sysroot=str(root))
    base = "/usr/lib/x86_64-linux-gnu/"
    for name in ("to-host", "up-and-out"):
        assert errno_of(lambda p=base + name: vfs.open(p, O_RDONLY, 0, base="/",
                                                       cred=cred)) == errnos.ENOENT, name
    via_link = read_all(vfs, cred, base + "passwd")
    assert via_link == read_all(vfs, cred, "/etc/passwd")  # the model's own /etc/passwd
    assert vfs.resolve(base + "passwd").existing().dev == ROOT_DEV
    assert str(tmp_path) not in mounts_text(vfs.mount_table())


def test_no_host_libs_shows_none_of_it():
    vfs, cred = vfs_of(host_libs=False)
    for path in ("/lib", "/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib64",
                 "/lib64/ld-linux-x86-64.so.2", "/etc/ld.so.cache", "/etc/ld.so.conf.d"):
        assert errno_of(lambda p=path: vfs.open(p, O_RDONLY, 0, base="/",
                                                cred=cred)) == errnos.ENOENT, path
    assert [m.target for m in vfs.mount_table() if m.fstype == "hostfs"] == \
        ["/usr/lib/syscall-lab/bin"]
    assert vfs.resolve("/usr/lib/syscall-lab/bin/hello.glibc-x86_64").existing()


def test_command_line_options(tmp_path, capsys):
    from programs.options import parse_run_line, run_options
    from tui import cli

    root = fake_sysroot(tmp_path)
    options = run_options(parse_run_line(["--sysroot", str(root), "hello-syscall"]))
    assert (options.host_libs, options.sysroot) == (True, str(root))
    options = run_options(parse_run_line(["--no-host-libs", "hello-syscall"]))
    assert (options.host_libs, options.sysroot) == (False, None)
    options = run_options(parse_run_line(["hello-syscall"]))
    assert (options.host_libs, options.sysroot) == (True, None)
    for bad in (["--sysroot", str(tmp_path / "missing")],
                ["--sysroot", str(root / "etc" / "ld.so.cache")],
                ["--sysroot", str(root), "--no-host-libs"]):
        assert cli.main(["run", *bad, "hello-syscall"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert "--sysroot" in err


def test_a_guest_sees_the_libraries_as_the_host_does(tmp_path):
    """busybox in the guest against the host's own answers: readlink -f, md5sum, a write,
    a host directory that is not shared, and /proc/mounts."""
    busybox = busybox_for("x86_64")
    if isinstance(busybox, str):
        pytest.skip(busybox)
    lib = "/lib/x86_64-linux-gnu/libc.so.6"
    if not os.path.exists(lib):
        pytest.skip(f"this host has no {lib}")
    bin_dir = busybox_bin_dir(busybox, tmp_path / "bb")
    script = (f"readlink -f /lib64/ld-linux-x86-64.so.2; readlink -f {lib}; md5sum {lib}; "
              "echo x > /usr/lib/x; ls /usr/bin; grep ' /usr/lib ' /proc/mounts")
    run = run_lab(*lab_run_args(), "--mount", f"{bin_dir}:/bin", str(bin_dir / "busybox"),
                  "sh", "-c", script)
    out, err = run.stdout.decode().splitlines(), run.stderr.decode()
    native_md5 = subprocess.run(["md5sum", lib], capture_output=True, text=True,
                                check=True).stdout.split()[0]
    assert out[0] == os.path.realpath("/lib64/ld-linux-x86-64.so.2")
    assert out[1] == os.path.realpath(lib)
    assert out[2].split() == [native_md5, lib]
    assert "Read-only file system" in err and "/usr/bin: No such file or directory" in err
    if os.path.isdir("/usr/lib") and not os.path.islink("/usr/lib"):
        assert out[3] == "none /usr/lib hostfs ro,relatime 0 0"


def test_a_mount_below_a_merged_usr_link_lands_where_the_link_leads(tmp_path):
    """mount(2) resolves its mount point: a --mount at /lib/extra, /lib being the link
    usr/lib, is a mount on /usr/lib/extra, found by both names."""
    from kernel_model.system import Mount

    root = fake_sysroot(tmp_path)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "libextra.so").write_bytes(b"extra")
    vfs, cred = vfs_of(sysroot=str(root), mounts=[Mount(str(extra), "/lib/extra")])
    assert vfs.resolve("/lib/extra/libextra.so").path == "/usr/lib/extra/libextra.so"
    assert read_all(vfs, cred, "/lib/extra/libextra.so") == b"extra"
    table = {m.target: m for m in vfs.mount_table()}
    assert table["/usr/lib/extra"].dev == (0, 40) and "/lib/extra" not in table
    names = [e.name for e in vfs.list_dir("/usr/lib", vfs.resolve("/usr/lib").existing())]
    assert {"extra", "x86_64-linux-gnu", "syscall-lab"} <= set(names)


# -- through the real loader (once exec maps PT_INTERP: issue 13's loader path) ----------
HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello, dynamic"); return 3; }\n'


def dynamic_hello(tmp_path, compiler: list[str], name: str):
    import shutil

    if shutil.which(compiler[0]) is None:
        pytest.skip(f"no {compiler[0]}")
    (tmp_path / "hello.c").write_text(HELLO_C)
    out = tmp_path / name
    subprocess.run([*compiler, "-o", str(out), str(tmp_path / "hello.c")], check=True,
                   capture_output=True, timeout=120)
    return out


def lab(*args: str):
    run = run_lab(*lab_run_args(), *args)
    if b"rebuild it with -static" in run.stderr:
        pytest.skip("this tree's exec refuses PT_INTERP (the loader path is not merged)")
    return run


@pytest.mark.parametrize("compiler", [["gcc"], ["gcc", "-m32"], ["musl-gcc"]],
                         ids=["glibc-x86_64", "glibc-i386", "musl-x86_64"])
def test_a_dynamic_program_runs_with_the_hosts_libraries(tmp_path, compiler):
    prog = dynamic_hello(tmp_path, compiler, "hello")
    native = subprocess.run([str(prog)], capture_output=True, timeout=30)
    run = lab(str(prog))
    assert (run.status, run.stdout) == (native.returncode, native.stdout) == \
        (3, b"hello, dynamic\n"), run.stderr


def test_a_musl_sysroot_serves_its_loader_and_no_host_libs_none(tmp_path):
    prog = dynamic_hello(tmp_path, ["musl-gcc"], "hello")
    musl = "/lib/ld-musl-x86_64.so.1"
    if not os.path.exists(musl):
        pytest.skip(f"no {musl}")
    root = tmp_path / "muslroot"
    (root / "lib").mkdir(parents=True)  # a real /lib: a mount of its own
    loader = root / "lib" / "ld-musl-x86_64.so.1"
    loader.write_bytes(host_bytes(musl))
    loader.chmod(0o755)  # open_exec wants it executable (else EACCES, status 126)
    run = lab("--sysroot", str(root), str(prog))
    assert (run.status, run.stdout) == (3, b"hello, dynamic\n"), run.stderr
    # Without libraries, the shell's answer for a missing interpreter: status 127.
    run = lab("--no-host-libs", str(prog))
    assert run.status == 127 and run.stdout == b"", run.stderr
    assert musl.encode() in run.stderr and run.stderr.count(b"\n") == 1
    # The sysroot's loader only: a glibc program finds no /lib64/ld-linux-x86-64.so.2 there.
    glibc = dynamic_hello(tmp_path, ["gcc"], "hello-glibc")
    run = lab("--sysroot", str(root), str(glibc))
    assert run.status == 127 and b"/lib64/ld-linux-x86-64.so.2" in run.stderr

"""/etc, generated from the model (kernel_model/files/etc_files.py): passwd and group hold
root, the run's own user when it is not root, and nobody; hostname and hosts name the
model's uname nodename; nsswitch.conf says "files". A read-only root refuses writes.

The differential test runs tests/guests/root/etc_users (getpwuid(0), getgrgid(0),
getpwnam, gethostname against uname and /etc/hostname) natively and under syscall-lab, for
static glibc (whose nss_files reads /etc/nsswitch.conf first), i386 glibc and musl."""

from __future__ import annotations

import pytest
from guest_harness import GUESTS, TARGETS, differences, lab_run_args, run_lab, run_native
from test_files import E, FakeKernel

from kernel_model.files.etc_files import NODENAME
from kernel_model.files.uapi import O_CREAT, O_RDWR, O_WRONLY

ROOT_BIN = GUESTS / "root" / "bin"


def entries(text: bytes) -> dict[str, list[str]]:
    """name -> the colon-separated fields of each line."""
    return {line.split(":")[0]: line.split(":") for line in text.decode().splitlines()}


def test_passwd_and_group_for_a_run_as_root():
    k = FakeKernel(uid=0)
    passwd = entries(k.read_fd(k.open("/etc/passwd")))
    assert passwd["root"] == ["root", "x", "0", "0", "root", "/root", "/bin/sh"]
    assert passwd["nobody"][2:4] == ["65534", "65534"]
    assert set(passwd) == {"root", "nobody"}  # no other user: the run's user is root
    group = entries(k.read_fd(k.open("/etc/group")))
    assert group["root"] == ["root", "x", "0", ""]
    assert set(group) == {"root", "nogroup"}


def test_passwd_names_the_runs_user_when_it_is_not_root():
    k = FakeKernel(uid=1000)
    passwd = entries(k.read_fd(k.open("/etc/passwd")))
    assert passwd["student"] == ["student", "x", "1000", "1000", "student", "/home/student",
                                 "/bin/sh"]
    assert "root" in passwd
    group = entries(k.read_fd(k.open("/etc/group")))
    assert group["student"][2] == "1000"


def test_host_files_name_the_model_and_nsswitch_says_files():
    k = FakeKernel()
    assert k.read_fd(k.open("/etc/hostname")) == (NODENAME + "\n").encode()
    hosts = k.read_fd(k.open("/etc/hosts")).decode().splitlines()
    assert "127.0.0.1\tlocalhost" in hosts
    assert any(line.split()[1:] == [NODENAME] for line in hosts)
    nss = dict(line.split(":") for line in k.read_fd(k.open("/etc/nsswitch.conf"))
               .decode().splitlines())
    assert nss["passwd"].strip() == nss["group"].strip() == nss["hosts"].strip() == "files"


def test_etc_is_a_read_only_directory_of_regular_files_with_their_sizes():
    k = FakeKernel(uid=0)
    st = k.stat("/etc/passwd")
    assert st["st_size"] == len(k.read_fd(k.open("/etc/passwd")))
    assert st["st_mode"] & 0o7777 == 0o644
    # root too: EROFS comes before the permission check
    assert k.open("/etc/passwd", O_WRONLY) == E("EROFS")
    assert k.open("/etc/new", O_RDWR | O_CREAT) == E("EROFS")


@pytest.mark.parametrize("target", TARGETS)
def test_libc_user_and_host_lookups_match_linux(target):
    binary = ROOT_BIN / f"etc_users.{target}"
    native = run_native([str(binary)])
    lab = run_lab(*lab_run_args(), str(binary))
    assert b"getpwuid(0): name=root uid=0 gid=0 dir=/root" in native.stdout
    assert b"gethostbyname(localhost): 127.0.0.1" in native.stdout
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)


def test_a_run_as_another_user_finds_its_name(tmp_path):
    """--user (the file-operations branch's option): id and whoami name the run's user from
    the generated /etc/passwd and /etc/group."""
    from guest_harness import busybox_bin_dir, busybox_for

    if b"--user" not in run_lab("run", "--help").stdout:
        pytest.skip("this build has no --user option yet")
    busybox = busybox_for("x86_64")
    if isinstance(busybox, str):
        pytest.skip(busybox)
    bb = busybox_bin_dir(busybox, tmp_path / "bb")
    lab = run_lab(*lab_run_args(), "--user", "1000:1000", "--mount", f"{bb}:/bin",
                  str(bb / "busybox"), "sh", "-c", "id; whoami")
    assert lab.stdout == b"uid=1000(student) gid=1000(student)\nstudent\n", lab.stderr

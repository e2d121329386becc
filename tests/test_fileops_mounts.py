"""What the new file operations may do to a shared host directory (hostfs.py), checked on
the host's own files: a read-only mount refuses every change with EROFS; on a writable one
rename, link, symlink, chmod and utimensat act inside the shared directory only, never on
a file outside it (EXDEV across mounts, EACCES through a symlink that leads out), and
owners never change (chown is EPERM, even for root: a root-squashed share)."""

from __future__ import annotations

import os

import pytest
from test_files import E, FakeKernel

from kernel_model.files.uapi import AT_FDCWD, AT_SYMLINK_FOLLOW, O_RDONLY
from kernel_model.system import Mount


@pytest.fixture
def shared(tmp_path):
    """A shared directory with symlinks that lead out of it, beside files it must not
    reach: (the parent directory, the shared one)."""
    share = tmp_path / "share"
    (share / "sub").mkdir(parents=True)
    (share / "file.txt").write_bytes(b"shared data\n")
    (tmp_path / "secret").write_bytes(b"TOP SECRET\n")
    (tmp_path / "outside_dir").mkdir()
    (tmp_path / "outside_dir" / "x").write_bytes(b"outside\n")
    os.symlink("../secret", share / "rel_escape")
    os.symlink(str(tmp_path / "secret"), share / "abs_secret")
    os.symlink(str(tmp_path / "outside_dir"), share / "dir_escape")
    return tmp_path, share


def snapshot(root) -> dict[str, tuple]:
    """Every path under root (symlinks not followed) with its mode, owner, size, mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (st.st_mode, st.st_uid, st.st_gid, st.st_size,
                                             st.st_mtime_ns)
    return out


def test_a_read_only_mount_refuses_every_change(shared):
    tmp, share = shared
    before = snapshot(tmp)
    k = FakeKernel(mounts=[Mount(host=str(share), guest="/ro", writable=False)], uid=0)
    c = k.cstr
    times = k.alloc(bytes(32))
    fd = k.open("/ro/file.txt", O_RDONLY)
    for name, args in (
        ("rename", (c("/ro/file.txt"), c("/ro/moved"))),
        ("renameat2", (AT_FDCWD, c("/ro/file.txt"), AT_FDCWD, c("/ro/sub"), 2)),
        ("link", (c("/ro/file.txt"), c("/ro/l"))),
        ("symlink", (c("file.txt"), c("/ro/s"))),
        ("chown", (c("/ro/file.txt"), 0, 0)),
        ("fchown", (fd, 0, 0)),
        ("utimensat", (AT_FDCWD, c("/ro/file.txt"), times, 0)),
        ("utimensat", (AT_FDCWD, c("/ro/file.txt"), 0, 0)),
        ("truncate", (c("/ro/file.txt"), 0)),
    ):
        assert k.call(name, *args) == E("EROFS"), name
    assert snapshot(tmp) == before


def test_a_writable_mount_changes_only_what_it_shares(shared):
    tmp, share = shared
    k = FakeKernel(mounts=[Mount(host=str(share), guest="/rw", writable=True)], uid=0)
    c = k.cstr
    secret = snapshot(tmp / "outside_dir") | {"secret": os.lstat(tmp / "secret").st_mode}
    # within the share: the host sees the change
    assert k.call("rename", c("/rw/file.txt"), c("/rw/sub/moved.txt")) == 0
    assert (share / "sub" / "moved.txt").read_bytes() == b"shared data\n"
    assert k.call("link", c("/rw/sub/moved.txt"), c("/rw/hard")) == 0
    assert os.lstat(share / "hard").st_nlink == 2
    assert k.call("symlink", c("/etc/shadow"), c("/rw/to_shadow")) == 0
    assert os.readlink(share / "to_shadow") == "/etc/shadow"  # the target is only data
    # ... and following it stays in the guest's tree, where there is no /etc/shadow
    assert k.open("/rw/to_shadow") < 0
    # across mounts, or out through a symlink: refused, nothing moves
    assert k.call("rename", c("/rw/hard"), c("/tmp/hard")) == E("EXDEV")
    assert k.call("link", c("/rw/hard"), c("/tmp/hard")) == E("EXDEV")
    assert k.call("rename", c("/rw/dir_escape/x"), c("/rw/stolen")) == E("EACCES")
    assert k.call("rename", c("/rw/hard"), c("/rw/dir_escape/planted")) == E("EACCES")
    assert k.call("linkat", AT_FDCWD, c("/rw/abs_secret"), AT_FDCWD, c("/rw/s2"),
                  AT_SYMLINK_FOLLOW) == E("EACCES")
    assert k.call("chmod", c("/rw/dir_escape/x"), 0o777) == E("EACCES")
    assert k.call("utimensat", AT_FDCWD, c("/rw/abs_secret"), 0, 0) == E("EACCES")
    assert k.call("truncate", c("/rw/rel_escape"), 0) == E("EACCES")
    # a link to a symlink that leads out is a new name for the symlink, not its target
    assert k.call("link", c("/rw/abs_secret"), c("/rw/copy_of_link")) == 0
    assert os.path.islink(share / "copy_of_link")
    assert not (share / "stolen").exists() and not (tmp / "outside_dir" / "planted").exists()
    assert (snapshot(tmp / "outside_dir") | {"secret": os.lstat(tmp / "secret").st_mode}
            == secret)
    assert (tmp / "secret").read_bytes() == b"TOP SECRET\n"


def test_owners_never_change_on_the_host(shared):
    tmp, share = shared
    k = FakeKernel(mounts=[Mount(host=str(share), guest="/rw", writable=True)], uid=0)
    st = os.lstat(share / "file.txt")
    c = k.cstr
    assert k.call("chown", c("/rw/file.txt"), st.st_uid + 1, -1) == E("EPERM")
    assert k.call("chown", c("/rw/file.txt"), -1, st.st_gid + 1) == E("EPERM")
    assert k.notes and "root-squashed" in k.notes[-1]
    assert k.call("chown", c("/rw/file.txt"), st.st_uid, st.st_gid) == 0  # no change: fine
    assert k.call("chown", c("/rw/file.txt"), -1, -1) == 0
    after = os.lstat(share / "file.txt")
    assert (after.st_uid, after.st_gid) == (st.st_uid, st.st_gid)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs a host file owned by someone else")
def test_a_guest_user_meets_the_host_files_owner_and_bits(shared):
    """--user on a shared directory: the host file's owner and mode decide, as Linux
    would for that user (the host user running syscall-lab is root here)."""
    tmp, share = shared
    os.chmod(share / "file.txt", 0o600)
    os.chmod(share, 0o755)
    before = snapshot(share)
    k = FakeKernel(mounts=[Mount(host=str(share), guest="/rw", writable=True)], uid=1000)
    c = k.cstr
    assert k.open("/rw/file.txt") == E("EACCES")
    assert k.call("rename", c("/rw/file.txt"), c("/rw/x")) == E("EACCES")
    assert k.call("symlink", c("file.txt"), c("/rw/s")) == E("EACCES")
    assert k.call("chmod", c("/rw/file.txt"), 0o666) == E("EPERM")
    assert k.call("utimensat", AT_FDCWD, c("/rw/file.txt"), 0, 0) == E("EACCES")
    assert k.call("link", c("/rw/file.txt"), c("/rw/l")) == E("EPERM")  # protected_hardlinks
    assert snapshot(share) == before  # nothing moved, appeared or changed mode

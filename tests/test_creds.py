"""--user UID:GID and the credentials a run starts with: every id and group as asked,
root (0:0) without it; a bad value is one line and status 2."""

from __future__ import annotations

import pytest
from guest_harness import GUESTS, lab_run_args, run_lab

IDS = GUESTS / "fileops" / "bin" / "creds.glibc-x86_64"  # `creds DIR ids` prints its ids


@pytest.mark.parametrize("user, line", [
    (None, "uid 0 0 0 fsuid 0 gid 0 0 0 fsgid 0 groups"),
    ("1000:2000", "uid 1000 1000 1000 fsuid 1000 gid 2000 2000 2000 fsgid 2000 groups"),
    ("4294967294:0", "uid 4294967294 4294967294 4294967294 fsuid -2 gid 0 0 0 fsgid 0 "
                     "groups"),
])
def test_a_run_starts_as_the_user_asked(user, line):
    args = ["--user", user] if user else []
    out = run_lab(*lab_run_args(), *args, str(IDS), ".", "ids")
    assert out.status == 0, out.stderr
    assert out.stdout.decode().split(";", 1)[1].strip() == line


def test_the_auxv_carries_the_ids():
    out = run_lab(*lab_run_args(), "--user", "1000:2000", str(IDS), ".", "ids")
    assert out.stdout.decode().split(";")[0] == ("after exec: auxv uid 1000 euid 1000 "
                                                 "gid 2000 egid 2000 secure 0")


@pytest.mark.parametrize("bad", ["root", "1000:x", "-1:0", "4294967295:0", ""])
def test_a_bad_user_is_one_line_and_status_2(bad):
    out = run_lab("run", "--user", bad, str(IDS), ".", "ids")
    assert out.status == 2
    err = out.stderr.decode()
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "--user" in err

"""`syscall-lab bench --peers`: the side-by-side runs must be the same work (same output, exit
0) on every peer, or the ratios mean nothing; a peer that fails is reported, not timed as if
it had worked. No timing is asserted (the machine is shared)."""

from __future__ import annotations

import shutil

import pytest

from tui import bench_peers
from tui.bench_peers import Workload

HAVE_QEMU = shutil.which("qemu-x86_64") is not None


def test_small_workloads_agree_natively_and_under_syscall_lab():
    result = bench_peers.run(repeat=1, workloads=(
        Workload("compute", "compute_loop.glibc-x86_64", ("1000",), True),
        Workload("hello i386", "hello.glibc-i386", (), True),
    ))
    for row in result["rows"]:
        assert row["failures"] == [], row
        assert set(row["median_s"]) >= {"native", "syscall-lab"}
        assert all(t > 0 for t in row["median_s"].values())
    text = bench_peers.report(result)
    assert "compute" in text and "hello i386" in text


@pytest.mark.skipif(not HAVE_QEMU, reason="qemu-user is not installed (Debian: qemu-user)")
def test_qemu_user_is_timed_beside_syscall_lab():
    (row,) = bench_peers.run(repeat=1, workloads=(
        Workload("hello", "hello.glibc-x86_64", (), True),))["rows"]
    assert row["failures"] == []
    assert "qemu-user" in row["median_s"]
    assert row["lab_vs_qemu"] == row["median_s"]["syscall-lab"] / row["median_s"]["qemu-user"]


def test_a_failing_run_is_reported_on_every_peer():
    (row,) = bench_peers.run(repeat=1, workloads=(
        Workload("enoent", "errno_enoent.glibc-x86_64", (), True),))["rows"]
    peers = {"native", "syscall-lab"} | ({"qemu-user"} if HAVE_QEMU else set())
    assert row["failures"] == sorted(f"{p} exited 2" for p in peers)
    assert "! enoent: syscall-lab exited 2" in bench_peers.report({"rows": [row]})


def test_cli_flag_runs_only_the_peers_section(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(bench_peers, "run", lambda: calls.append(1) or {"rows": []})
    from tui import cli

    assert cli.main(["bench", "--peers"]) == 0
    assert calls == [1]
    assert capsys.readouterr().out.startswith("peers:")

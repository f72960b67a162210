"""The processes the harness starts end with the test process that started them, however it
ends, and a session that leaves one running fails (harness.spawn, tests/conftest.py)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from harness.common import REPO, wait_for
from harness.spawn import OWNER_ENV, Owner, carrying, cmdline, launch_argv, popen

#: The test runs started as pytest processes of their own.
RUNS = REPO / "tests" / "fixtures" / "harness_runs.py"

#: A variable every process of such a run inherits: what finds them in /proc.
PROBE_ENV = "HARNESS_RUN_PROBE"

#: How long the processes of a killed run may take to end: the kernel signals a child at its
#: parent's death, and the guardian kills the rest once it reads the end of its pipe.
GONE_WITHIN_S = 5.0


def _run(test: str, tmp_path: Path, **env: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    """pytest running ``test`` of :data:`RUNS` in a process of its own, in one xdist worker
    or none: (the process, its probe, the file of its output)."""
    probe = secrets.token_hex(8)
    out = tmp_path / f"{test}.out"
    with out.open("wb") as log:
        run: subprocess.Popen[bytes] = popen(
            [
                *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p"),
                *("no:xdist", "--basetemp", str(tmp_path / "run"), f"{RUNS}::{test}"),
            ],
            cwd=REPO,
            env={**os.environ, PROBE_ENV: probe, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return run, probe, out


def _describe(pids: list[int]) -> list[str]:
    return [f"{pid}: {cmdline(pid)}" for pid in pids]


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


@pytest.mark.slow
def test_a_test_run_killed_with_sigkill_leaves_none_of_its_processes(tmp_path: Path) -> None:
    """A pytest process SIGKILLed (a CI timeout, an xdist worker lost) while its test runs a
    daemon with two workers and gpsd, which makes itself the ``gpsd`` user when started by
    root (that clears the kernel's parent-death signal): none of them runs a few seconds
    later."""
    ready = tmp_path / "ready"
    run, probe, out = _run("test_started_and_waiting", tmp_path, HARNESS_RUN_READY=str(ready))
    try:
        wait_for(lambda: ready.exists() or run.poll() is not None, 120, "the run's processes")
        assert ready.exists(), out.read_text()
        running = _describe(carrying(PROBE_ENV, probe, skip=[run.pid]))
        assert sum("sensord run" in c and "--workers 2" in c for c in running) == 1, running
        assert sum("--shard" in c for c in running) == 2, running
        assert sum("gpsd" in c for c in running) == 1, running
        run.kill()
        run.wait()
        deadline = time.monotonic() + GONE_WITHIN_S
        while (left := carrying(PROBE_ENV, probe)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not left, f"still running {GONE_WITHIN_S} s after the run's end: {_describe(left)}"
    finally:
        run.kill()
        run.wait()
        _kill(carrying(PROBE_ENV, probe))


@pytest.mark.slow
def test_a_session_that_leaves_a_process_running_fails_and_names_it(tmp_path: Path) -> None:
    """A test that starts a process and never stops it: the run fails, its report names the
    process's command line and the test, and the process is killed."""
    # the session's wait for its processes to end, which ``sleep 600`` never does: a second
    run, probe, out = _run("test_leaves_a_process", tmp_path, SENSORD_TEST_LEFT_RUNNING_S="1")
    try:
        code = run.wait(120)
        report = out.read_text()
        assert code == pytest.ExitCode.TESTS_FAILED, report
        assert "1 passed, 1 error" in report, report
        assert "1 process(es) started by this session still ran at its end" in report, report
        assert "/sleep 600" in report, report
        assert "started by tests/fixtures/harness_runs.py::test_leaves_a_process" in report
        assert carrying(PROBE_ENV, probe) == []
    finally:
        run.kill()
        run.wait()
        _kill(carrying(PROBE_ENV, probe))


def test_a_process_started_from_a_thread_outlives_the_thread() -> None:
    """The kernel signals a child when the *thread* that started it ends: one started from
    a thread that ends once the program runs (the signal is set by then) runs on until it is
    stopped."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        started.append(popen(["sleep", "30"]))
        wait_for(
            lambda: os.readlink(f"/proc/{started[0].pid}/exe").endswith("/sleep"),
            10,
            "sleep to run",
            interval_s=0.01,
        )

    starter = threading.Thread(target=start)
    starter.start()
    starter.join()
    [proc] = started
    try:
        time.sleep(0.3)
        assert proc.poll() is None, f"ended with {proc.returncode} when its thread ended"
    finally:
        proc.kill()
        proc.wait()


def test_a_process_whose_parent_died_before_the_signal_was_set_runs_nothing(
    tmp_path: Path,
) -> None:
    """A test process that dies between the fork and the prctl leaves an orphan the signal
    would never reach: the launcher sees its parent is no longer the test process (here a
    pid that is not its parent) and exits 125 before the program runs."""
    made = tmp_path / "made"
    argv = launch_argv(["touch", str(made)], parent_pid=1)
    done = subprocess.run(argv, check=False)
    assert done.returncode == 125
    assert not made.exists()
    # the same launch from its true parent runs it
    subprocess.run(launch_argv(["touch", str(made)], parent_pid=os.getpid()), check=True)
    assert made.exists()


def test_a_process_just_started_is_left_over_while_it_replaces_its_program() -> None:
    """A process found by the session's end check whatever moment it is looked at: right
    after :func:`popen` returns, it may still be replacing ``setpriv`` with ``sh`` and ``sh``
    with its program, when ``/proc/PID/environ`` reads as nothing (seen on about 1 in 6
    starts here), so the check also asks each process it started whether it still runs."""
    session = os.environ[OWNER_ENV]
    owner = Owner()
    try:
        missed = 0
        for _ in range(100):
            proc = popen(["sleep", "30"])
            try:
                missed += proc.pid not in [left.pid for left in owner.leftovers()]
            finally:
                proc.kill()
                proc.wait()
        assert missed == 0
    finally:
        owner.close()
        os.environ[OWNER_ENV] = session

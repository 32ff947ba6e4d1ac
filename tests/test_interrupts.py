"""Workers leave signals to their parent, and an interrupted or failed run leaves no worker and no temporary folder."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cvkit.core import executor
from cvkit.io import _owner_tag, atomic_dir, atomic_file, clear_leftovers

pytestmark = pytest.mark.skipif(not executor.can_fork(), reason="forked workers")


def _interrupt_self_then_square(_context: None, n: int) -> tuple[int, int]:
    """A task that receives Ctrl-C itself (as a terminal sends it to the whole group) and goes on."""
    os.kill(os.getpid(), signal.SIGINT)
    return os.getpid(), n * n


def _square(_context: None, n: int) -> int:
    return n * n


def _write_file(folder: str, n: int) -> int:  # the folder is the context every task shares
    Path(folder, f"{n}.txt").write_text(str(n))
    return n


def test_a_worker_ignores_ctrl_c_and_its_result_still_arrives():
    results = list(executor.LocalProcesses(2).map(_interrupt_self_then_square, None, list(range(6))))
    assert [square for _, square in results] == [n * n for n in range(6)]
    assert {pid for pid, _ in results} != {os.getpid()}


def test_interrupting_the_consumer_stops_and_reaps_the_workers():
    pool = executor.LocalProcesses(2)
    with pytest.raises(KeyboardInterrupt):
        for result in pool.map(_square, None, list(range(10_000))):
            if result == 25:
                raise KeyboardInterrupt
    assert multiprocessing.active_children() == []


def test_a_generator_an_error_left_suspended_is_stopped_by_stop_workers():
    mark = executor.workers_mark()
    results = executor.LocalProcesses(2).map(_interrupt_self_then_square, None, list(range(10_000)))
    next(results)  # suspended here, as when the caller's own code raises between two results
    assert multiprocessing.active_children() != []
    executor.stop_workers(since=mark)
    assert multiprocessing.active_children() == []


def test_an_error_inside_an_atomic_folder_stops_its_workers_before_removing_it(tmp_path: Path):
    dst = tmp_path / "out"
    with pytest.raises(RuntimeError), atomic_dir(dst) as tmp:
        written = executor.LocalProcesses(2).map(_write_file, str(tmp), list(range(5000)))
        next(written)
        raise RuntimeError("the writer failed between two results")
    assert multiprocessing.active_children() == []
    assert sorted(os.listdir(tmp_path)) == []  # no destination, no temporary folder (the workers did not recreate it)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_next_run_clears_what_a_killed_run_left_and_keeps_a_live_runs(tmp_path: Path):
    host = _owner_tag().partition("@")[2]
    dead = _dead_pid()
    killed_tmp = tmp_path / f".out.{dead}@{host}.x1y2.tmp"
    (killed_tmp / "Annotations").mkdir(parents=True)
    live_tmp = tmp_path / f".out.{os.getpid()}@{host}.a1b2.tmp"
    live_tmp.mkdir()
    other_host = tmp_path / f".out.{dead}@another-host.c3d4.tmp"
    other_host.mkdir()
    clear_leftovers(tmp_path / "out")
    assert not killed_tmp.exists()
    assert live_tmp.exists() and other_host.exists()


def test_an_output_moved_aside_by_a_killed_run_is_moved_back(tmp_path: Path):
    host = _owner_tag().partition("@")[2]
    aside = tmp_path / f".out.old-{_dead_pid()}@{host}"
    aside.mkdir()
    (aside / "kept.txt").write_text("the previous output")
    clear_leftovers(tmp_path / "out")
    assert (tmp_path / "out" / "kept.txt").read_text() == "the previous output"


def test_a_failed_atomic_file_removes_the_folders_it_made(tmp_path: Path):
    with pytest.raises(OSError), atomic_file(tmp_path / "a" / "b" / "x.json") as handle:
        handle.write("{")
        raise OSError("disk full")
    assert os.listdir(tmp_path) == []

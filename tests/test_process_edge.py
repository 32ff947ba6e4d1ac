"""Process-wide tricks stay at the CLI edge: the library leaves the interpreter as it found it, and
``CVKIT_NO_FAST_EXIT=1`` lets a ``cvkit`` process end as any Python program does (atexit handlers run)."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import cvkit
from cvkit.cli import process
from cvkit.core.categories import Category, CategorySet
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.core.shards import PARALLEL_MIN_SAMPLES


def interpreter_state() -> dict[str, object]:
    """What a library call must not change: the collector's switch, thresholds and frozen objects, every signal
    handler, the recursion limit and the thread switch interval."""
    handlers = {
        int(number): signal.getsignal(number)
        for number in signal.valid_signals()
        if number not in (signal.SIGKILL, signal.SIGSTOP)
    }
    return {
        "gc enabled": gc.isenabled(),
        "gc thresholds": gc.get_threshold(),
        "gc frozen": gc.get_freeze_count(),
        "signals": handlers,
        "recursion limit": sys.getrecursionlimit(),
        "switch interval": sys.getswitchinterval(),
    }


def manifest_of(root: Path, samples: int) -> Path:
    """A manifest of ``samples`` one-box samples: enough of them reach the writers' worker processes."""
    categories = CategorySet([Category(1, "cat")])
    items = [
        Sample(f"images/{index:05d}.jpg", 64, 48, "train", objects=[Annotation("cat", (1.0, 2.0, 10.0, 12.0))])
        for index in range(samples)
    ]
    path = root / "data.jsonl"
    cvkit.write(Dataset(items, categories, root=root), path, format="manifest")
    return path


@pytest.mark.parametrize("samples", [3, PARALLEL_MIN_SAMPLES + 10], ids=["in-process", "on-workers"])
def test_convert_from_python_leaves_the_interpreter_as_it_found_it(tmp_path: Path, samples: int):
    source = manifest_of(tmp_path, samples)
    before = interpreter_state()
    during: list[dict[str, object]] = []

    def look(dataset: Dataset) -> Dataset:  # the state between read and write, while the conversion runs
        during.append(interpreter_state())
        return dataset

    report = cvkit.convert(
        source, tmp_path / "out.json", to_format="coco", write_options={"workers": 2}, transform=look
    )
    assert report.written.images == samples
    assert during == [before]
    assert interpreter_state() == before


def test_convert_leaves_a_disabled_collector_disabled(tmp_path: Path):
    source = manifest_of(tmp_path, 3)
    gc.disable()
    try:
        cvkit.convert(source, tmp_path / "out.json", to_format="coco")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_cli_pause_restores_the_collector_after_an_error():
    assert gc.isenabled()
    with pytest.raises(ValueError), process.paused_gc():
        assert not gc.isenabled()
        raise ValueError("boom")
    assert gc.isenabled()


def test_the_switch_turns_the_cli_pause_off(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(process.SWITCH, "1")
    with process.paused_gc():
        assert gc.isenabled()


#: a program that registers an atexit handler, then runs the ``cvkit`` command as its entry point does
EMBEDDING = """
import atexit, sys
atexit.register(lambda: print("atexit handler ran", flush=True))
from cvkit.cli import main
sys.argv = ["cvkit", "convert", "--to", "coco", sys.argv[1], sys.argv[2]]
main()
"""


@pytest.mark.parametrize(("switch", "handler_runs"), [("1", True), ("", False)], ids=["switch-set", "fast-exit"])
def test_atexit_handlers_run_when_the_switch_is_set(tmp_path: Path, switch: str, handler_runs: bool):
    source = manifest_of(tmp_path, 3)
    env = {**os.environ, process.SWITCH: switch}
    done = subprocess.run(
        [sys.executable, "-c", EMBEDDING, str(source), str(tmp_path / "out.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.json").is_file()
    assert ("atexit handler ran" in done.stdout) is handler_runs


def test_a_failing_command_keeps_its_exit_code_under_the_switch(tmp_path: Path):
    env = {**os.environ, process.SWITCH: "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cvkit",
            "convert",
            "--to",
            "coco",
            str(tmp_path / "missing"),
            str(tmp_path / "out.json"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: ")
    assert not (tmp_path / "out.json").exists()

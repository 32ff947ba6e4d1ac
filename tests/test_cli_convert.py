"""The convert / ingest / export / formats commands as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cvkit import __version__
from cvkit.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_version_and_help_with_examples():
    assert run("--version").output == f"cvkit {__version__}\n"
    for command in ("convert", "ingest", "export", "formats"):
        result = run(command, "--help")
        assert result.exit_code == 0 and "Examples" in result.output, command


def test_voc2coco_pair_writes_per_split_files_and_prints_summary(corpus, tmp_path):
    dst = tmp_path / "coco"
    result = run("convert", "voc2coco", corpus("voc", "voc_dataset1"), dst)
    assert result.exit_code == 0, result.output
    assert "voc -> coco" in result.output
    assert sorted(p.name for p in (dst / "annotations").iterdir()) == ["instances_test.json", "instances_train.json"]


def test_general_form_detects_source_and_json_summary(corpus, tmp_path):
    result = run("convert", corpus("coco", "coco_instances"), tmp_path / "voc", "--to", "voc", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["source_format"] == "coco" and summary["target_format"] == "voc"
    assert summary["read"] == {"images": 2, "objects": 3, "categories": 3, "splits": {"train": 1, "val": 1}}
    assert summary["written"]["objects"] == 3
    # the polygon and the RLE mask are written as boxes: the summary says so
    assert {item["what"] for item in summary["not_represented"]} == {"polygon", "mask"}


def test_existing_destination_is_refused_with_exit_2(tmp_path, corpus):
    dst = tmp_path / "out.json"
    dst.write_text("keep me")
    result = run("convert", "voc2coco", corpus("voc", "voc_dataset3"), dst)
    assert result.exit_code == 2
    assert result.output == f"error: {dst}: destination exists and is not empty; pass --overwrite to replace it\n"
    assert dst.read_text() == "keep me"
    assert run("convert", "voc2coco", corpus("voc", "voc_dataset3"), dst, "--overwrite").exit_code == 0
    assert json.loads(dst.read_text())["annotations"]


def test_malformed_input_exit_2_names_file_and_writes_nothing(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.xml").write_text("<annotation><filename>a.jpg</filename>\n<object><name>x</name></annotation>")
    dst = tmp_path / "dst"
    result = run("convert", "voc2coco", src, dst)
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {src / 'a.xml'}:line 2: malformed XML: ")
    assert not dst.exists() and not list(tmp_path.glob(".dst*"))


def test_skip_invalid_goes_on_and_writes_report(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "bad.xml").write_text("<annotation><object>")
    (src / "good.xml").write_text(
        "<annotation><filename>good.jpg</filename><size><width>9</width><height>9</height></size>"
        "<object><name>x</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>3</xmax><ymax>3</ymax></bndbox></object></annotation>"
    )
    dst = tmp_path / "out.json"
    result = run("convert", "voc2coco", src, dst, "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert f"warning: 1 invalid item(s) skipped; report: {dst}.skipped.jsonl" in result.output
    skipped = [json.loads(line) for line in Path(f"{dst}.skipped.jsonl").read_text().splitlines()]
    assert skipped == [{"file": str(src / "bad.xml"), "location": "line 1", "reason": skipped[0]["reason"]}]
    assert len(json.loads(dst.read_text())["annotations"]) == 1


def test_undetectable_and_unknown_format_messages(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    result = run("convert", tmp_path, tmp_path / "o.json", "--to", "coco")
    assert result.exit_code == 2
    assert result.output == f"error: {tmp_path}: could not detect the format; pass --from (see `cvkit formats`)\n"
    result = run("convert", tmp_path, tmp_path / "o.json", "--to", "nope")
    assert result.exit_code == 2 and "unknown format 'nope'; known formats: manifest, voc, coco" in result.output
    result = run("convert", "abc2xyz", tmp_path, tmp_path / "o")
    assert result.exit_code == 2 and "'abc2xyz' is not a conversion pair such as voc2coco" in result.output


def test_ingest_then_export_back_to_voc(corpus, tmp_path):
    manifest = tmp_path / "data.jsonl"
    assert run("ingest", corpus("voc", "voc_dataset1"), "-o", manifest).exit_code == 0
    # the manifest's folder is not the images': copying them out needs --allow-outside-root
    result = run("export", manifest, tmp_path / "voc", "--to", "voc", "--images", "copy")
    assert result.exit_code == 2 and "--allow-outside-root" in result.output and not (tmp_path / "voc").exists()
    result = run("export", manifest, tmp_path / "voc", "--to", "voc", "--images", "copy", "--allow-outside-root")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "voc" / "JPEGImages" / "2007_000001.jpg").is_file()
    assert (tmp_path / "voc" / "Annotations" / "2007_000001.xml").is_file()


def test_formats_json_lists_capabilities():
    result = run("formats", "--json")
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["coco"]["holds"]["masks"] and not rows["voc"]["holds"]["polygons"]
    # the -r / -w options each format takes, as the unknown-option error lists them
    assert rows["voc"]["read_options"] == ["one_based", "workers"] and rows["coco"]["write_options"] == [
        "images",
        "task",
        "workers",
    ]
    assert "names_encoding" in rows["yolo"]["read_options"] and "encoding" in rows["labelme"]["read_options"]
    assert rows["mnist"]["write_options"] == []  # read-only


def test_unknown_format_option_lists_the_known_ones(corpus, tmp_path):
    result = run("convert", "voc2coco", corpus("voc", "voc_dataset3"), tmp_path / "o.json", "-r", "one_base=false")
    assert result.exit_code == 2
    assert result.output == "error: unknown voc reader option(s) one_base; known: one_based, workers\n"
    result = run("convert", "voc2coco", corpus("voc", "voc_dataset3"), tmp_path / "o.json", "-w", "colour=red")
    assert result.output == "error: unknown coco writer option(s) colour; known: images, task, workers\n"
    assert not (tmp_path / "o.json").exists()


def test_every_command_help_shows_examples():
    from cvkit.cli import app as cli_app

    commands = [[c.name] for c in cli_app.registered_commands]
    for group in cli_app.registered_groups:
        commands += [[group.name, c.name] for c in group.typer_instance.registered_commands]
    assert len(commands) > 12
    for words in commands:
        result = run(*words, "--help")
        assert result.exit_code == 0 and "Examples" in result.output, words


def test_undetected_hierarchy_folder_points_to_hierarchy_options(corpus):
    path = corpus("imagenet", "wordnet_hierarchy")
    result = runner.invoke(app, ["ingest", str(path), "-o", "x.jsonl"])
    assert result.exit_code == 2
    assert result.output == (
        f"error: {path}: could not detect the format; pass --from (see `cvkit formats`); it looks like a class "
        "hierarchy (is_a.txt), which --hierarchy of cvkit ingest, remap and hierarchy show reads\n"
    )


def test_undetected_synset_list_folder_points_to_the_synsets_option(corpus):
    path = corpus("imagenet", "timm_synsets")  # timm's ImageNet-1k/21k class lists: names, no images
    result = runner.invoke(app, ["ingest", str(path), "-o", "x.jsonl"])
    assert result.exit_code == 2
    assert result.output == (
        f"error: {path}: could not detect the format; pass --from (see `cvkit formats`); it holds class lists "
        "(imagenet_synset_to_lemma.txt) but no images or annotations: pass it to the imagenet or labels reader "
        "as -r synsets=FILE\n"
    )


def test_undetected_folder_of_datasets_names_the_sub_folders_that_are_datasets(corpus):
    path = corpus("yolo", "datumaro_develop")  # datumaro's test assets: three YOLO layouts side by side
    result = runner.invoke(app, ["ingest", str(path), "-o", "x.jsonl"])
    assert result.exit_code == 2
    assert result.output == (
        f"error: {path}: could not detect the format; pass --from (see `cvkit formats`); its sub-folders hold datasets "
        "of their own: annotations/ (yolo), labels/ (yolo), strict/ (yolo): convert each one\n"
    )


def test_command_map_names_what_each_module_registers():
    import importlib

    import typer

    from cvkit.cli import COMMAND_MODULES, COMMANDS

    for module in COMMAND_MODULES:
        one = typer.Typer()
        importlib.import_module(module).register(one)
        names = {c.name for c in one.registered_commands} | {g.name for g in one.registered_groups}
        assert names == {command for command, owner in COMMANDS.items() if owner == module}


def test_the_cvkit_command_runs_one_command_and_ends_with_its_exit_code(corpus, tmp_path):
    """``cvkit`` (``python -m cvkit``) builds only the command it runs and ends its process at once: the summary,
    the files and the exit code must all come through that."""
    import subprocess
    import sys

    def cvkit(*args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cvkit", *map(str, args)], capture_output=True, text=True, timeout=120
        )

    source, out = corpus("voc", "voc_dataset3"), tmp_path / "out.json"
    done = cvkit("convert", "voc2coco", source, out, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["written"]["images"] == 1 and json.loads(out.read_text())["images"]
    refused = cvkit("convert", "voc2coco", source, out)
    assert refused.returncode == 2
    assert refused.stderr == f"error: {out}: destination exists and is not empty; pass --overwrite to replace it\n"
    listed = cvkit("--help")
    assert listed.returncode == 0 and all(
        command in listed.stdout for command in ("convert", "stats", "train", "hierarchy", "augment")
    )


def test_the_summary_table_is_drawn_as_rich_draws_one():
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    from cvkit.cli.common import box_table

    rows = [("", "read", "written"), ("images", "3", "20000"), ("split 训练", "12", "0"), ("categories", "1", "1")]
    table = Table()
    table.add_column("")
    table.add_column("read", justify="right")
    table.add_column("written", justify="right")
    for row in rows[1:]:
        table.add_row(*row)
    console = Console(file=StringIO(), width=200, color_system=None, legacy_windows=False)
    console.print(table)
    assert box_table(rows, (False, True, True)) + "\n" == console.file.getvalue()

"""``cvkit view``: a local browser app for a dataset, its statistics and its problems (thin over :mod:`cvkit.view`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from cvkit.cli.common import handle_errors, parse_options, quiet_progress
from cvkit.core.interrupts import forget_interruption

FILTER_HELP = "Export: filter as a query string, e.g. 'has=cat&size=small' (keys in docs/view.md)."


def view_cmd(
    dataset: Path = typer.Argument(..., help="A manifest (.jsonl) or any dataset file/folder cvkit reads."),
    format: str | None = typer.Option(None, "--format", "-f", help="Input format (detected when omitted)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (127.0.0.1: this machine only)."),
    port: int = typer.Option(0, "--port", help="Port to listen on (0: a free one, printed)."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a web browser."),
    export: Path | None = typer.Option(
        None, "--export", help="Write the pages as static files to this folder instead of serving."
    ),
    limit: int = typer.Option(1000, "--limit", help="Export: at most this many images."),
    filter_query: str = typer.Option("", "--filter", help=FILTER_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Export: replace an existing folder."),
    read_opt: list[str] | None = typer.Option(
        None, "--read-option", "-r", help="Reader option KEY=VALUE (repeatable)."
    ),
    run: Path | None = typer.Option(
        None,
        "--run",
        help="A trained classification run (folder, checkpoint .pt, or a `cvkit predict --json` file): adds its "
        "predictions, the confusion matrix and sorting by loss or confidence.",
    ),
    device: str = typer.Option("auto", "--device", help="--run without a predictions file: auto | cpu | cuda."),
    json_output: bool = typer.Option(False, "--json", help="Print the address (or the export summary) as JSON."),
) -> None:
    """Browse a dataset in a web browser: thumbnails with annotations, filters, statistics, validation problems.

    Serves on 127.0.0.1 until Ctrl+C; only the dataset's own images are served.

    Examples:

      cvkit view train.jsonl

      cvkit view VOCdevkit/VOC2012 --port 8765 --no-browser

      cvkit view annotations/instances_val2017.json --export site/ --filter 'has=person&size=small' --limit 200

      cvkit view data.jsonl --run runs/r50                  # predictions, confusion matrix, sort by loss

      cvkit view data.jsonl --run runs/r50 --export errors/ --filter 'misclassified=true&sort=loss' --limit 100
    """
    with handle_errors():
        from urllib.parse import parse_qs

        from cvkit.view.index import ViewIndex

        quiet_progress(json_output)
        index = ViewIndex.open(dataset, format, **parse_options(read_opt))
        if run is not None:
            predictions = index.attach_run(run, device)
            if not json_output:
                print(
                    f"run: {int((predictions.pred >= 0).sum())} of {index.num_images} images predicted "
                    f"({predictions.source})"
                    + (
                        f"; {predictions.unmatched} predictions name no image of the dataset"
                        if predictions.unmatched
                        else ""
                    ),
                    flush=True,
                )
        if export is not None:
            from cvkit.view.export import export_site

            result = export_site(index, export, parse_qs(filter_query), limit, overwrite)
            doc = {
                "site": str(result.path),
                "samples": result.samples,
                "matching": result.matching,
                "missing_images": result.missing_images,
            }
            print(
                json.dumps(doc)
                if json_output
                else f"wrote {result.samples} of {result.matching} matching images to {result.path}/index.html"
                + (f" ({result.missing_images} images missing)" if result.missing_images else "")
            )
            return
        from cvkit.view.server import ViewServer

        server = ViewServer(index, host, port)
        url = server.url
        print(
            json.dumps({"url": url, "images": index.num_images})
            if json_output
            else f"cvkit view: {index.num_images} images at {url} (Ctrl+C to stop)",
            flush=True,
        )
        if host not in ("127.0.0.1", "localhost", "::1"):
            print(
                f"warning: listening on {host}: other machines can see this dataset's images",
                file=sys.stderr,
                flush=True,
            )
        if not no_browser:
            import webbrowser

            webbrowser.open(url)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            forget_interruption()  # Ctrl-C is how a view ends: exit 0
        finally:
            server.server_close()


def register(app: typer.Typer) -> None:
    app.command("view", no_args_is_help=True)(view_cmd)

"""``--plot stats.png``: class histogram (log scale, head/tail marked) and box-size plots (matplotlib, Agg)."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

from cvkit.errors import CvkitError
from cvkit.io import atomic_file

GROUP_COLORS = {"frequent": "#2f6db5", "common": "#e0a030", "rare": "#c8402f", "absent": "#999999"}
GROUP_ROLES = {"frequent": "head", "common": "medium", "rare": "tail", "absent": "absent"}
MAX_NAMED_CLASSES = 60


def _bin_labels(edges: list[float | None], fmt: str = "{:.2g}") -> list[str]:
    labels = []
    for lo, hi in pairwise(edges):
        labels.append(f">={fmt.format(lo)}" if hi is None else f"{fmt.format(lo)}-{fmt.format(hi)}")
    return labels


def plot_stats(stats: dict[str, Any], path: str | Path) -> Path:
    """Draw the figure from a :func:`cvkit.stats.summary.compute_stats` document; written atomically."""
    try:
        import matplotlib
    except ImportError:
        raise CvkitError("--plot needs matplotlib: pip install 'cvkit[plot]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from cvkit.stats.imbalance import frequency_groups

    path = Path(path)
    basis = "objects" if stats["objects"] else "images"
    rows = sorted(stats["classes"], key=lambda r: -r[basis])
    names = [r["name"] for r in rows]
    counts = [max(r[basis], 0) for r in rows]
    groups_doc = (stats.get("imbalance") or {}).get("frequency_groups")
    groups = (
        groups_doc["classes"]
        if groups_doc
        else frequency_groups([r["name"] for r in rows], [r["images"] for r in rows])
    )

    fig = plt.figure(figsize=(14, 9), layout="constrained")
    grid = fig.add_gridspec(2, 3, height_ratios=[1.3, 1])
    ax = fig.add_subplot(grid[0, :])
    colors = [GROUP_COLORS[groups[n]] for n in names]
    ax.bar(range(len(names)), [max(c, 0.8) for c in counts], color=colors, width=0.85)
    ax.set_yscale("log")
    ax.set_ylim(bottom=0.8)  # bars start at 1, so their heights compare on the log scale
    ax.set_ylabel(f"{basis} (log scale)")
    title = f"{len(names)} classes, {stats['images']:,} images, {stats['objects']:,} objects"
    if stats.get("imbalance") and stats["imbalance"]["imbalance_ratio"] is not None:
        imb = stats["imbalance"]
        title += (
            f"  |  imbalance ratio {imb['imbalance_ratio']:.1f}, Gini {imb['gini']:.3f}, normalised entropy "
            f"{imb['normalized_entropy']:.3f}"
        )
    ax.set_title(title)
    if len(names) <= MAX_NAMED_CLASSES:
        many = len(names) > 8
        ax.set_xticks(
            range(len(names)),
            names,
            rotation=60 if many else 0,
            ha="right" if many else "center",
            fontsize=8 if len(names) > 25 else 10,
        )
    else:
        ax.set_xlabel("classes, most frequent first")
        ax.set_xticks([])
    ax.set_xlim(-0.6, len(names) - 0.4)
    present = [g for g in GROUP_COLORS if g in groups.values()]
    legend = [
        Patch(color=GROUP_COLORS[g], label=f"{GROUP_ROLES[g]}: {g} ({list(groups.values()).count(g)})") for g in present
    ]
    ax.legend(handles=legend, loc="upper right", title="LVIS groups (images per class)")
    ax.grid(axis="y", alpha=0.3)

    boxes = stats["boxes"]
    ax = fig.add_subplot(grid[1, 0])
    sizes = boxes["sizes"]
    ax.bar(
        ["small\n<32²", "medium\n<96²", "large"],
        [sizes["small"], sizes["medium"], sizes["large"]],
        color=["#8fb8de", "#4f8ac0", "#1f4f85"],
    )
    ax.set_title("COCO box sizes (area in px)")
    ax.set_ylabel("boxes")
    for panel, key, label in (
        (grid[1, 1], "aspect_ratio", "aspect ratio w/h"),
        (grid[1, 2], "relative_size", "relative size sqrt(box/image area)"),
    ):
        ax = fig.add_subplot(panel)
        hist = boxes[key]["histogram"]
        ax.bar(range(len(hist["counts"])), hist["counts"], color="#4f8ac0")
        ax.set_xticks(range(len(hist["counts"])), _bin_labels(hist["edges"]), rotation=45, ha="right", fontsize=8)
        ax.set_title(label)
        ax.set_ylabel("boxes")
    with atomic_file(path, "wb", encoding=None) as handle:
        fig.savefig(handle, format="png", dpi=100)
    plt.close(fig)
    return path

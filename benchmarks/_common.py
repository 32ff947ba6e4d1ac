"""Shared benchmark plumbing: a separate venv for peer tools, timing with peak memory, result tables.

Peer tools (datumaro, globox, ...) are installed in ``benchmarks/.venv-peers`` so they never
touch cvkit's own environment. Each measurement runs in a fresh process and reports wall
time and peak RSS of that process tree (``resource.getrusage(RUSAGE_CHILDREN)``).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "_work"
PEERS_VENV = HERE / ".venv-peers"
CORPUS = Path(os.environ.get("CVKIT_CORPUS", REPO.parent / "shared" / "corpus"))
#: outputs of earlier runs wait here, deleted when the script ends (see :func:`discard`)
TRASH = WORK / ".trash"
#: when :data:`TRASH` was last emptied of many files (this file's modification time)
TRASH_EMPTIED = WORK / ".trash-emptied"
#: ext4 skips inodes freed this recently (RECENTCY_MIN + RECENTCY_DIRTY in fs/ext4/ialloc.c, seconds)
RECENTLY_DELETED_S = 360
#: deleting at least this many files marks the time (fewer cost the next run nothing measurable)
MANY_FILES = 1000
#: the trash is emptied at exit once :func:`discard` has been called
_emptied_at_exit = False


def peers_python(*packages: str) -> Path | None:
    """Python of the peer-tool venv with ``packages`` installed; None (and a note) if that fails."""
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    missing = [
        p
        for p in packages
        if subprocess.run(
            [str(python), "-m", "pip", "show", "-q", re.split(r"[\[=<>]", p)[0]], capture_output=True
        ).returncode
    ]
    if missing:
        print(f"installing peer tools into {PEERS_VENV}: {' '.join(missing)}", flush=True)
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", *missing], capture_output=True, text=True)
        if done.returncode:
            print(f"could not install {missing}: {done.stderr.strip()[-400:]}")
            return None
    return python


def timed(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> dict[str, float]:
    """Run ``cmd`` in a child process (via a tiny wrapper so peak memory is that child's alone)."""
    wrapper = (
        "import resource, subprocess, sys, time, json;"
        "t=time.perf_counter(); r=subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, "
        "text=True);"
        "dt=time.perf_counter()-t; u=resource.getrusage(resource.RUSAGE_CHILDREN); m=u.ru_maxrss/1024;"
        "print(json.dumps({'seconds': dt, 'peak_mb': m, 'cpu_seconds': u.ru_utime + u.ru_stime, 'sys_seconds': "
        "u.ru_stime,"
        " 'rc': r.returncode, 'err': r.stderr[-300:]}))"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, env=env, cwd=cwd)
    return json.loads(out.stdout)


def best_of(cmd: list[str], repeat: int = 3, clean: Path | None = None, **kw) -> dict[str, float]:
    """Fastest of ``repeat`` runs (the others warm the page cache); fails loudly on a non-zero exit.

    ``clean``: the run's destination, moved out of the way before each run and outside the timing, so every
    tool writes into a fresh destination (deleting the previous run's 20,000 files is no conversion work, and
    only the tools that refuse to write over a folder would pay for it). It is moved, not deleted: see
    :func:`discard`."""
    runs = []
    for _ in range(repeat):
        if clean is not None:
            discard(clean)
        runs.append(timed(cmd, **kw))
    for run in runs:
        if run["rc"]:
            raise RuntimeError(f"{' '.join(map(str, cmd))} failed: {run['err']}")
    return min(runs, key=lambda r: r["seconds"])


def discard(path: Path) -> None:
    """Move ``path`` into :data:`TRASH`, which is emptied when the script ends.

    Not deleted now: on ext4 without a journal (this machine's disk) the kernel will not reuse an inode
    freed in the last 1-6 minutes, and ``find_inode_bit`` walks past every such inode for each file it
    creates (``recently_deleted`` in fs/ext4/ialloc.c). Deleting one run's 20,000 label files just
    before the next run made that run spend 1-4 s of system time creating its own 20,000 files, whichever
    tool it was; ``perf`` put 60-70% of such a run in ``recently_deleted``."""
    if not path.exists() and not path.is_symlink():
        return
    TRASH.mkdir(parents=True, exist_ok=True)
    path.rename(TRASH / f"{path.name}-{os.getpid()}-{time.monotonic_ns()}")
    _empty_trash_at_exit()


def _empty_trash() -> None:
    if TRASH.exists():
        many = sum(len(files) for _, _, files in os.walk(TRASH)) >= MANY_FILES
        shutil.rmtree(TRASH, ignore_errors=True)
        if many:
            TRASH_EMPTIED.touch()


def _empty_trash_at_exit() -> None:
    global _emptied_at_exit
    if not _emptied_at_exit:
        atexit.register(_empty_trash)
        _emptied_at_exit = True
        if TRASH_EMPTIED.exists() and (age := time.time() - TRASH_EMPTIED.stat().st_mtime) < RECENTLY_DELETED_S:
            print(
                f"note: an earlier run deleted many output files {age:.0f} s ago; for up to {RECENTLY_DELETED_S} s "
                "after that, creating files on ext4 without a journal can cost seconds of system time (see discard() "
                "in benchmarks/_common.py)",
                flush=True,
            )


def print_table(title: str, rows: dict[str, dict[str, float] | None], baseline: str) -> None:
    """Wall time, peak memory and each tool's time as a multiple of ``baseline`` (cvkit)."""
    print(f"\n{title}")
    print(f"{'tool':<28}{'seconds':>10}{'peak MB':>10}{'vs cvkit':>10}{'system s':>10}")
    base = rows[baseline]["seconds"] if rows.get(baseline) else None
    for name, r in rows.items():
        if r is None:
            print(f"{name:<28}{'n/a':>10}")
            continue
        ratio = f"{r['seconds'] / base:.1f}x" if base else "-"
        system = f"{r['sys_seconds']:.2f}" if "sys_seconds" in r else "-"
        print(f"{name:<28}{r['seconds']:>10.3f}{r['peak_mb']:>10.0f}{ratio:>10}{system:>10}")


def print_speedup(
    rows: dict[str, dict[str, float] | None], peers: tuple[str, ...], goal: str, baseline: str = "cvkit"
) -> None:
    """The line run_all.py repeats: the fastest of ``peers`` (those that ran) divided by ``baseline``, with the goal."""
    times = [rows[name]["seconds"] for name in peers if rows.get(name)]
    if times and rows.get(baseline):
        print(f"\ncvkit is {min(times) / rows[baseline]['seconds']:.1f}x faster than the fastest peer (goal: {goal})")


def fresh_dir(name: str) -> Path:
    """An empty ``benchmarks/_work/<name>`` for one run's outputs."""
    out = WORK / name
    discard(out)
    out.mkdir(parents=True)
    return out


def cvkit_cmd(*args: str) -> list[str]:
    """Run cvkit with the interpreter running the benchmark (cvkit's own venv).

    cvkit's sources are byte-compiled first, as pip does for the peers' installed wheels: an editable
    install under PYTHONDONTWRITEBYTECODE would otherwise compile every module in every timed run.
    """
    import compileall

    compileall.compile_dir(str(REPO / "src"), quiet=1)
    return [sys.executable, "-m", "cvkit", *args]

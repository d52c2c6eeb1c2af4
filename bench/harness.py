"""What the whole-process benchmarks share: a practice of N patients, a command timed by the
kernel's own accounting, and the tree to compare against.

Each command runs under GNU time (`/usr/bin/time`, which reaps it with wait4), so its CPU
time (user + system, its forked helpers included) and peak RSS are the kernel's figures for
that one run. The
machine is shared: every figure is printed as the range over the repeats, interleaved with
the baseline's, and CPU time is printed beside wall time because it holds on a busy machine.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CAMPAIGN = "2026-12"


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    """User + system seconds, forked children included."""
    peak_mb: float
    output: str


def run(args: list[str], *, src: Path = REPO / "src", cwd: Path | None = None) -> Run:
    """Run `python ARGS` with `src` first on the path; the kernel's figures for it.

    GNU time reaps it (wait4), not this process: a child forked from a big benchmark
    process would count the parent's pages in its peak RSS until it execs.
    """
    env = dict(os.environ, PYTHONPATH=f"{src}{os.pathsep}{REPO}")
    with tempfile.NamedTemporaryFile("r", suffix=".time") as figures:
        started = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%U %S %M", "-o", figures.name, sys.executable, *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        wall = time.perf_counter() - started
        output = done.stdout.decode("utf-8", "replace")
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{output}")
        user, system, peak_kb = figures.read().split()[-3:]
    return Run(wall, float(user) + float(system), int(peak_kb) / 1024, output)


def chairside(root: Path, *args: str, src: Path = REPO / "src") -> Run:
    return run(["-m", "chairside", "-C", str(root), *args], src=src)


def practice(folder: Path, patients: int) -> Path:
    """A copy of the demo practice whose list has `patients` fictional, consenting rows."""
    sys.path[:0] = [str(REPO), str(REPO / "bench")]
    from bench_delivery import generate
    from tests.support import copy_demo

    root = copy_demo(folder / f"practice-{patients}")
    generate(root / "audiences" / "patients.csv", patients)
    return root


def baseline_src(ref: str, folder: Path) -> Path:
    """`src/` as it is at git revision `ref`, unpacked into `folder`."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "src"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder / ref, filter="data")
    return folder / ref / "src"


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """'median (min-max)' of the repeats, or the one value."""
    if len(values) == 1:
        return fmt.format(values[0])
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{fmt.format(mid)} ({fmt.format(low)}-{fmt.format(high)})"


def scratch(where: str | None) -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="chairside-bench-", dir=where)


def load() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} cores"

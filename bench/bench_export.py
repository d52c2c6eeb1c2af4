"""Whole-process `chairside export --to mbox|eml`, beside the naive path, in one run.

    python bench/bench_export.py                                  # 20k patients, 3 repeats
    python bench/bench_export.py --sizes 20000 100000 1000000 --repeat 1
    python bench/bench_export.py --baseline d3fa821               # and an older tree
    python bench/bench_export.py --kinds mbox --dir /dev/shm      # tmpfs: without the disk

Every figure is a whole process (start-up, rendering, checks, reading N patients, writing
the files) timed by the kernel (GNU time): wall and CPU seconds, and peak RSS. The naive
path is a process that does the same with a stdlib `EmailMessage` per patient (as
bench_delivery.py builds it), each message's CRLFs turned into LFs and its ">From " lines
escaped for mbox, or written to its own .eml file with a manifest; it runs on a sample of
--naive-sample patients, and its whole-process figure for N is its process time plus the
rest of the list at its measured rate. Runs are interleaved (fast, naive, baseline, ...).

Targets (issue 14): `export --to mbox` at 20k patients ≥ 10,000 msg/s and ≥ 25× the naive
path; peak RSS under 350 MB at 1M for both kinds. A million messages are ~36 GB on disk
(deleted after each run): check the free space first.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness

TARGET_RATE = 10_000
TARGET_RATIO = 25
TARGET_RSS_MB = 350
MBOX_SEPARATOR = b"From news@example.com Sat Nov 28 12:00:00 2026\n"
_FROM = re.compile(rb"^(>*From )", re.MULTILINE)


def naive_export(kind: str, root: Path, out: Path, sample: int) -> dict:
    """The obvious export of the first `sample` patients; the loop's time and count."""
    import csv

    from bench_delivery import naive_message

    from chairside.checks import refuse_if_errors
    from chairside.delivery import prepare
    from chairside.workspace import Workspace

    workspace = Workspace(root)
    prepared = prepare(workspace, harness.CAMPAIGN)
    refuse_if_errors(workspace, prepared, force=True)
    patients = prepared.audience.patients[:sample]
    wall, cpu = time.perf_counter(), time.process_time()
    if kind == "mbox":
        with out.open("wb") as handle:
            for patient in patients:
                data = naive_message(prepared, patient).replace(b"\r\n", b"\n")
                handle.write(MBOX_SEPARATOR + _FROM.sub(rb">\1", data) + b"\n")
    else:
        out.mkdir()
        rows = [["file", "recipient", "variant"]]
        for number, patient in enumerate(patients, 1):
            (out / f"{number:06d}.eml").write_bytes(naive_message(prepared, patient))
            rows.append([f"{number:06d}.eml", patient.email, prepared.variant_id(patient)])
        with (out / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows(rows)
    return {
        "messages": len(patients),
        "loop_wall": time.perf_counter() - wall,
        "loop_cpu": time.process_time() - cpu,
    }


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def measure(args: argparse.Namespace, folder: Path) -> None:
    trees = {"chairside": harness.REPO / "src"}
    if args.baseline:
        trees[args.baseline] = harness.baseline_src(args.baseline, folder)
    print(f"{harness.load()}; {args.repeat} repeats: median (min-max)")
    for size in args.sizes:
        root = harness.practice(folder, size)
        runs: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for _ in range(args.repeat):
            for kind in args.kinds:
                out = folder / f"out.{kind}"
                for tree, src in trees.items():
                    run = harness.chairside(
                        root, "export", harness.CAMPAIGN, "--to", kind, "--out", str(out), src=src
                    )
                    remove(out)
                    runs.setdefault((kind, tree), []).append((run.wall, run.cpu, run.peak_mb))
                sample = min(size, args.naive_sample)
                command = [__file__, "--naive", kind, str(root), str(out), str(sample)]
                naive = harness.run(command)
                remove(out)
                inner = json.loads(naive.output.strip().splitlines()[-1])
                rest = (size - inner["messages"]) / inner["messages"]
                estimate = (
                    naive.wall + rest * inner["loop_wall"],
                    naive.cpu + rest * inner["loop_cpu"],
                    0.0,
                )
                runs.setdefault((kind, "naive"), []).append(estimate)
        report(size, runs)


def report(size: int, runs: dict[tuple[str, str], list[tuple[float, float, float]]]) -> None:
    for (kind, tree), figures in runs.items():
        walls = [f[0] for f in figures]
        cpus = [f[1] for f in figures]
        rates = [size / w for w in walls]
        line = (
            f"{size:>9,} {kind:<4} {tree:<10} wall {harness.spread(walls)} s "
            f"= {harness.spread(rates, '{:,.0f}')} msg/s  cpu {harness.spread(cpus)} s"
        )
        if tree == "naive":
            line += "  (extrapolated from the sample)"
        else:
            peaks = [f[2] for f in figures]
            line += f"  peak RSS {harness.spread(peaks, '{:.0f}')} MB"
            naive = runs[(kind, "naive")]
            ratio = statistics.median(n[0] for n in naive) / statistics.median(walls)
            cpu_ratio = statistics.median(n[1] for n in naive) / statistics.median(cpus)
            line += f"  {ratio:.1f}x naive (cpu {cpu_ratio:.1f}x)"
            if tree == "chairside":
                verdicts = [f"RSS < {TARGET_RSS_MB} MB: {ok(max(peaks) < TARGET_RSS_MB)}"]
                if kind == "mbox":
                    rate = size / statistics.median(walls)
                    verdicts[:0] = [
                        f">= {TARGET_RATE:,} msg/s: {ok(rate >= TARGET_RATE)}",
                        f">= {TARGET_RATIO}x: {ok(ratio >= TARGET_RATIO)}",
                    ]
                line += "  " + ", ".join(verdicts)
        print(line, flush=True)


def ok(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def main() -> None:
    if sys.argv[1:2] == ["--naive"]:
        kind, root, out, sample = sys.argv[2:6]
        print(json.dumps(naive_export(kind, Path(root), Path(out), int(sample))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000])
    parser.add_argument("--kinds", nargs="+", choices=["mbox", "eml"], default=["mbox", "eml"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--naive-sample", type=int, default=2_000)
    parser.add_argument("--baseline", metavar="REV", help="also time this git revision's src/")
    parser.add_argument("--dir", help="where the practice and the exports go (TMPDIR)")
    args = parser.parse_args()
    with harness.scratch(args.dir) as folder:
        measure(args, Path(folder))


if __name__ == "__main__":
    main()

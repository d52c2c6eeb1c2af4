"""`build` and `check` at 1,000 and 1,000,000 patients: they need no patient, so they should
cost the same.

    python bench/bench_build.py                          # 1k and 1M, 3 repeats
    python bench/bench_build.py --baseline d3fa821       # beside an older tree (git revision)
    python bench/bench_build.py --sizes 1000 100000

Each command is a whole process on a copy of the demo practice whose patients.csv has N
fictional rows (1M rows is ~60 MB). The baseline is the smallest list: target (issue 14),
at 1M patients `build` costs what it costs at 1k — PASS when the median CPU time at the
largest size is within 10% (or 0.05 s) of the smallest's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", metavar="REV", help="also time this git revision's src/")
    parser.add_argument("--dir", help="where the temporary practices go (TMPDIR)")
    args = parser.parse_args()
    with harness.scratch(args.dir) as folder:
        roots = {size: harness.practice(Path(folder), size) for size in args.sizes}
        trees = {"this tree": harness.REPO / "src"}
        if args.baseline:
            trees[args.baseline] = harness.baseline_src(args.baseline, Path(folder))
        print(f"{harness.load()}; {args.repeat} repeats: median (min-max)")
        results: dict[tuple[str, str, int], list[harness.Run]] = {}
        for _ in range(args.repeat):
            for command in ("build", "check"):
                for tree, src in trees.items():
                    for size, root in roots.items():
                        run = harness.chairside(root, command, harness.CAMPAIGN, src=src)
                        results.setdefault((command, tree, size), []).append(run)
        for (command, tree, size), runs in results.items():
            cpu = [r.cpu for r in runs]
            line = (
                f"{command:<6} {tree:<10} {size:>9,} patients  cpu {harness.spread(cpu)} s  "
                f"wall {harness.spread([r.wall for r in runs])} s  "
                f"peak RSS {harness.spread([r.peak_mb for r in runs], '{:.0f}')} MB"
            )
            smallest = min(args.sizes)
            if size != smallest:
                base = statistics.median(r.cpu for r in results[(command, tree, smallest)])
                extra = statistics.median(cpu) - base
                line += f"  vs {smallest:,}: {extra:+.2f} s"
                if tree == "this tree":
                    ok = extra <= max(0.05, 0.1 * base)
                    line += f" ({'PASS' if ok else 'MISS'})"
            print(line)


if __name__ == "__main__":
    main()

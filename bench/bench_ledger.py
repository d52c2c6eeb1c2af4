"""What one group commit costs: the ledger write that every SMTP connection waits for.

    python bench/bench_ledger.py                        # 2,000 commits, 5 repeats
    python bench/bench_ledger.py --baseline 2b7b48c     # beside an older tree (git revision)

A send with 4 connections commits once per round: each connection's last outcome (`sent`)
and its next patient's `sending`, 8 changes, as one journal record (appended and fsync'd to
the campaign's sent log) and one SQLite transaction (fsync'd). This times `commit_group`
alone, in a fresh process per measurement, on a fresh practice folder in `--dir` (TMPDIR:
put it on the disk the practices live on, since the two fsyncs are much of the cost), with
patients' addresses in no particular order, as a real list gives them. Wall and CPU time
per commit, median (min-max) over the repeats, interleaved with the baseline's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness

CONNECTIONS = 4


def measure(folder: Path, commits: int) -> dict:
    """Time `commits` group commits on a new ledger in `folder` (this process's chairside)."""
    from chairside.journal import SENDING, SENT, status_record
    from chairside.ledger import open_ledger

    os.environ["CHAIRSIDE_STATE_HOME"] = str(folder / "computer")
    root = folder / "practice"
    (root / "campaigns" / harness.CAMPAIGN).mkdir(parents=True)

    def address(round_: int, connection: int) -> str:
        digest = hashlib.blake2b(f"{round_}/{connection}".encode(), digest_size=6).hexdigest()
        return f"{digest}@example.com"

    def round_changes(round_: int) -> list[dict]:
        changes = []
        for connection in range(CONNECTIONS):
            done, key = address(round_ - 1, connection), address(round_, connection)
            changes.append(status_record(SENT, keys=[done], reply="250 2.0.0 queued"))
            changes.append(status_record(SENDING, rows=[[key, key, "v1"]], via="smtp"))
        return changes

    with open_ledger(root / ".chairside") as ledger:
        ledger.commit_group(harness.CAMPAIGN, round_changes(0))
        wall, cpu = time.perf_counter(), time.process_time()
        for round_ in range(1, commits + 1):
            ledger.commit_group(harness.CAMPAIGN, round_changes(round_))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall": wall / commits, "cpu": cpu / commits}


def one(src: Path, where: str | None, commits: int) -> dict:
    """One measurement in a fresh process with `src` first on the path."""
    with tempfile.TemporaryDirectory(prefix="chairside-bench-", dir=where) as folder:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(harness.REPO)])}
        command = [sys.executable, __file__, "--measure", folder, str(commits)]
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"the measurement failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--measure":
        print(json.dumps(measure(Path(sys.argv[2]), int(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=2_000, help="commits a run (2,000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each tree (5)")
    parser.add_argument("--baseline", metavar="REV", help="also time this git revision's src/")
    parser.add_argument("--dir", help="where the practice folders go (TMPDIR)")
    args = parser.parse_args()
    with harness.scratch(args.dir) as folder:
        trees = {"this tree": harness.REPO / "src"}
        if args.baseline:
            trees[args.baseline] = harness.baseline_src(args.baseline, Path(folder))
        results: dict[str, list[dict]] = {tree: [] for tree in trees}
        for _ in range(args.repeat):
            for tree, src in trees.items():
                results[tree].append(one(src, args.dir, args.commits))
    print(
        f"{harness.load()}; {args.commits:,} commits of {CONNECTIONS} connections' changes, "
        f"{args.repeat} runs: median (min-max) per commit"
    )
    for tree, runs in results.items():
        wall = harness.spread([r["wall"] * 1e6 for r in runs], "{:,.0f}")
        cpu = harness.spread([r["cpu"] * 1e6 for r in runs], "{:,.0f}")
        print(f"  {tree:<12} wall {wall} µs   CPU {cpu} µs")


if __name__ == "__main__":
    main()

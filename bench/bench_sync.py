"""How `chairside sync` grows with the number of suppressions a provider lists.

    python bench/bench_sync.py              # 10k and 100k
    python bench/bench_sync.py 50000        # one size

A local server answers as SendGrid's suppression API does (pages of 500, offset/limit),
with N global unsubscribes and nothing else, for a fresh copy of the demo practice; the
whole command runs in its own process. Target (issue 17): 100k in at most ten times the
time of 10k, i.e. linear (reading and rewriting suppressed.csv for every page made it
quadratic: 10k took 2.1 s, 100k 105 s).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "src")]

from bench.harness import run  # noqa: E402
from tests.support import HttpRecorder, copy_demo  # noqa: E402

EMPTY = ("bounces", "invalid_emails", "spam_reports")


def serve(count: int) -> HttpRecorder:
    from urllib.parse import parse_qs

    server = HttpRecorder()
    people = [
        {"email": f"patient{n:07d}@example.com", "created": 1764600000 + n} for n in range(count)
    ]

    def unsubscribes(request):
        query = {k: v[-1] for k, v in parse_qs(request.query).items()}
        offset, limit = int(query["offset"]), int(query["limit"])
        return 200, people[offset : offset + limit]

    server.route("GET", "/v3/suppression/unsubscribes", unsubscribes)
    for name in EMPTY:
        server.route("GET", f"/v3/suppression/{name}", lambda request: (200, []))
    return server


def measure(count: int) -> tuple[float, float]:
    server = serve(count)
    try:
        with tempfile.TemporaryDirectory() as folder:
            practice = copy_demo(Path(folder) / "practice")
            os.environ["SENDGRID_API_KEY"] = "SG.bench"
            args = ["-m", "chairside", "sync", "--from", "sendgrid", "--api-base", server.url]
            result = run(args, cwd=practice)
            lines = (practice / "audiences/suppressed.csv").read_text().count("\n")
            assert lines >= count, (lines, result.output)
    finally:
        server.close()
    print(f"{count:>8,} suppressions: {result.wall:6.2f} s wall, {result.cpu:6.2f} s CPU")
    return result.wall, result.cpu


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    times = {size: measure(size) for size in sizes}
    if 10_000 in times and 100_000 in times:
        # CPU time holds on a shared machine; wall time also waits for the disk's flushes.
        for what, index in (("wall", 0), ("CPU", 1)):
            ratio = times[100_000][index] / times[10_000][index]
            verdict = "linear enough" if ratio <= 10 else "over the target of 10x"
            print(f"100k / 10k, {what}: {ratio:.1f}x ({verdict})")


if __name__ == "__main__":
    main()

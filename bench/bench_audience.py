"""How fast `chairside audience` reads a patient list, and in how much memory.

    python bench/bench_audience.py              # 10k, 100k and 1M rows
    python bench/bench_audience.py 50000        # one size

Each size is generated into a temporary CSV (with the duplicates, bad addresses and messy
concerns real exports have) and read in a fresh process, so peak RSS is that size's alone.
Targets (issue 3): 1M rows in under 20 s and under 400 MB peak RSS, on one core.
"""

from __future__ import annotations

import csv
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIRST = ["Maria", "James", "Priya", "José", "Siobhan", "Kevin", "Aisha", "Tomás", "Mei", "Olu"]
DOMAINS = [
    "gmail.example.com",
    "yahoo.example.com",
    "outlook.example.com",
    "example.com",
    "icloud.example.com",
    "comcast.example.net",
    "port-alder.example.org",
]
CONCERNS = [
    "",
    "",
    "",
    "TMJ; Bruxism",
    "neck pain",
    "Shoulder/Neck",
    "Headaches, TMD",
    "myofascial pain",
    "Sensitivity",
    "jaw clicking",
    "grinding (night guard)",
]
CONSENT = ["Y", "Y", "Y", "yes", "1", "N", ""]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["Patient ID", "First Name", "Last Name", "Email", "Concerns", "Email Opt In"]
        )
        for i in range(rows):
            roll = rng.random()
            if roll < 0.01:
                email = ""
            elif roll < 0.02:
                email = f"patient{i}@nodot"
            elif roll < 0.04 and i:
                email = f"PATIENT{rng.randrange(i)}@{rng.choice(DOMAINS)}"  # likely duplicate
            else:
                email = f"patient{i}@{DOMAINS[i % len(DOMAINS)]}"
            writer.writerow(
                [i, rng.choice(FIRST), "Doe", email, rng.choice(CONCERNS), rng.choice(CONSENT)]
            )


def measure(path: Path) -> None:
    """Run in a child process: read the list and print rows, seconds and peak RSS."""
    sys.path.insert(0, str(REPO / "src"))
    from chairside.audience.patients import read_audience
    from chairside.audience.segments import load_segments

    segments = load_segments(REPO / "audiences" / "segments.toml")
    start = time.perf_counter()
    audience = read_audience(path, segments)
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{audience.rows:>9,} rows  {elapsed:6.2f} s  {audience.rows / elapsed:>9,.0f} rows/s  "
        f"peak RSS {peak_mb:6.1f} MB  (sendable {audience.sendable:,}, "
        f"rejected {len(audience.rejected):,}, duplicates {audience.duplicates:,})"
    )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        measure(Path(sys.argv[2]))
        return
    sizes = [int(arg) for arg in sys.argv[1:]] or [10_000, 100_000, 1_000_000]
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            path = Path(folder) / f"patients-{size}.csv"
            generate(path, size)
            subprocess.run([sys.executable, __file__, "--measure", str(path)], check=True)


if __name__ == "__main__":
    main()

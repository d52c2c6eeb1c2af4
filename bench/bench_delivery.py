"""How fast Chairside makes a campaign's messages, and in how much memory.

    python bench/bench_delivery.py                      # 100k patients
    python bench/bench_delivery.py 20000                # another size
    python bench/bench_delivery.py --dir /dev/shm       # on tmpfs: the code without the disk

N fictional patients (varied concerns, some non-ASCII first names, all consenting) are
written into a copy of the demo practice, and the demo campaign (2026-12) is made for them.
Each measurement runs in a fresh process, so its peak RSS is its own:

* in memory: every message built on one core (`prepare` once, untimed; then
  `Prepared.messages()`), against the naive path — a stdlib `EmailMessage` per recipient,
  timed on a sample and extrapolated;
* `export_eml` of all N into a temporary folder;
* `export_mbox` of all N into a temporary file.

Targets (issue): ≥ 20,000 messages/s in memory on one core, ≥ 50× the naive path, 100k
.eml files in under 15 s (scaled to N), peak RSS under 300 MB. PASS/MISS judges wall-clock
time; CPU time (user + system) is printed beside it, as it holds on a busy machine too.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CAMPAIGN = "2026-12"
NAIVE_SAMPLE = 2_000

TARGET_RATE = 20_000  # messages/s in memory, one core
TARGET_RATIO = 50  # × the naive EmailMessage path
TARGET_EML_SECONDS_100K = 15.0  # scaled to N
TARGET_RSS_MB = 300

FIRST = [
    "Maria",
    "James",
    "Priya",
    "José",
    "Siobhán",
    "Kevin",
    "Aisha",
    "Tomás",
    "Mei",
    "Olu",
    "Zoë",
    "Łukasz",
    "Björn",
    "美咲",
    "Ngozi",
    "François",
    "",
]
LAST = ["Lopez", "Whitfield", "Raman", "Hernández", "Nguyen", "O'Brien", "Okafor", "Smith"]
CONCERNS = [
    "",
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
    "trigger points - shoulders",
    "whitening",
    "Perio maint.",
]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["Patient ID", "First Name", "Last Name", "Email", "Concerns", "Email Opt In"]
        )
        for i in range(rows):
            writer.writerow(
                [
                    f"BEN-{i:07d}",
                    rng.choice(FIRST),
                    rng.choice(LAST),
                    f"patient{i}@example.com",
                    rng.choice(CONCERNS),
                    "Y",
                ]
            )


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class Stopwatch:
    """Wall-clock and CPU seconds of a block (CPU time shows what a busy machine hides)."""

    def __enter__(self) -> Stopwatch:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def result(self, **figures: float) -> dict:
        return {"seconds": self.wall, "cpu_seconds": self.cpu, "peak_mb": peak_mb(), **figures}


def _prepared(root: Path):
    from chairside.delivery import prepare
    from chairside.workspace import Workspace

    with Stopwatch() as clock:
        prepared = prepare(Workspace(root), CAMPAIGN)
    return prepared, clock.wall


def measure_memory(root: Path) -> dict:
    prepared, prepare_s = _prepared(root)
    count = total = 0
    with Stopwatch() as clock:
        for _patient, filled in prepared.messages():
            total += len(filled.data)
            count += 1
    return clock.result(messages=count, bytes=total, prepare_seconds=prepare_s)


def naive_message(prepared, patient) -> bytes:
    """One recipient's message the obvious way: a stdlib EmailMessage, built and encoded."""
    from email import policy
    from email.headerregistry import Address
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    from chairside import placeholders

    practice = prepared.practice
    rendered = prepared.rendered[patient.segment]
    token = prepared.tokens(patient.email)
    values = placeholders.values_for(
        placeholders.Recipient(patient.first_name, token),
        fallback_name=practice.greeting_fallback,
        unsubscribe_url=practice.unsubscribe_url,
        unsubscribe_email=practice.unsubscribe_email,
    )
    mailto, https = placeholders.unsubscribe_links(
        token,
        unsubscribe_url=practice.unsubscribe_url,
        unsubscribe_email=practice.unsubscribe_email,
    )
    msg = EmailMessage()
    msg["From"] = Address(practice.from_name, addr_spec=practice.from_email)
    msg["To"] = Address(placeholders.clean_name(patient.first_name), addr_spec=patient.email)
    msg["Subject"] = rendered.subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=practice.from_email.rpartition("@")[2])
    msg["List-Unsubscribe"] = f"<{mailto}>, <{https}>" if https else f"<{mailto}>"
    if https:
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(placeholders.fill_text(rendered.text, values))
    msg.add_alternative(placeholders.fill_html(rendered.html, values), subtype="html")
    return msg.as_bytes(policy=policy.SMTP)


def measure_naive(root: Path) -> dict:
    prepared, prepare_s = _prepared(root)
    sample = prepared.audience.patients[:NAIVE_SAMPLE]
    with Stopwatch() as clock:
        total = sum(len(naive_message(prepared, patient)) for patient in sample)
    return clock.result(messages=len(sample), bytes=total, prepare_seconds=prepare_s)


def measure_eml(root: Path) -> dict:
    from chairside.providers.files import export_eml

    prepared, prepare_s = _prepared(root)
    with tempfile.TemporaryDirectory(dir=root) as folder:
        os.sync()  # start with no dirty pages left by the earlier measurement
        with Stopwatch() as clock:
            exported = export_eml(prepared, Path(folder) / "eml")
    return clock.result(messages=exported.messages, prepare_seconds=prepare_s)


def measure_mbox(root: Path) -> dict:
    from chairside.providers.files import export_mbox

    prepared, prepare_s = _prepared(root)
    with tempfile.TemporaryDirectory(dir=root) as folder:
        out = Path(folder) / "campaign.mbox"
        os.sync()
        with Stopwatch() as clock:
            exported = export_mbox(prepared, out)
        size = out.stat().st_size
    return clock.result(messages=exported.messages, bytes=size, prepare_seconds=prepare_s)


MEASURES = {
    "memory": measure_memory,
    "naive": measure_naive,
    "eml": measure_eml,
    "mbox": measure_mbox,
}


def run(kind: str, root: Path) -> dict:
    """One measurement in a fresh process; its result is the last line it prints."""
    done = subprocess.run(
        [sys.executable, __file__, "--measure", kind, str(root)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--measure":
        sys.path.insert(0, str(REPO / "src"))
        print(json.dumps(MEASURES[sys.argv[2]](Path(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("size", nargs="?", type=int, default=100_000, help="patients (100000)")
    parser.add_argument("--dir", help="where the temporary practice and exports go (TMPDIR)")
    args = parser.parse_args()
    size = args.size
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        print(f"{size:,} patients in {folder} (demo campaign {CAMPAIGN})")
        sys.path.insert(0, str(REPO))
        from tests.support import copy_demo

        root = copy_demo(Path(folder) / "practice")
        generate(root / "audiences" / "patients.csv", size)

        mem = run("memory", root)
        rate = mem["messages"] / mem["seconds"]
        print(
            f"in memory   {figures(mem)}  avg {mem['bytes'] / mem['messages'] / 1024:.1f} KB  "
            f"(prepare {mem['prepare_seconds']:.2f} s, untimed)  "
            f">= {TARGET_RATE:,}/s: {verdict(rate >= TARGET_RATE)}  {rss(mem)}"
        )

        naive = run("naive", root)
        naive_rate = naive["messages"] / naive["seconds"]
        ratio = rate / naive_rate
        cpu_ratio = (mem["messages"] / mem["cpu_seconds"]) / (
            naive["messages"] / naive["cpu_seconds"]
        )
        print(
            f"naive       {figures(naive)}  ({mem['messages'] / naive_rate:,.0f} s for "
            f"{mem['messages']:,}, extrapolated)  fast/naive {ratio:,.0f}x (cpu {cpu_ratio:,.0f}x)"
            f"  >= {TARGET_RATIO}x: {verdict(ratio >= TARGET_RATIO)}"
        )

        eml_target = TARGET_EML_SECONDS_100K * size / 100_000
        for kind in ("eml", "mbox"):
            result = run(kind, root)
            line = (
                f"export_{kind:<5}{figures(result)}  (+ prepare {result['prepare_seconds']:.2f} s)"
            )
            if kind == "eml":
                line += f"  < {eml_target:.1f} s: {verdict(result['seconds'] < eml_target)}"
            print(f"{line}  {rss(result)}")


def figures(result: dict) -> str:
    """messages, wall seconds and rate, CPU seconds and rate, peak RSS."""
    count, wall, cpu = result["messages"], result["seconds"], result["cpu_seconds"]
    return (
        f"{count:>9,} messages  {wall:6.2f} s {count / wall:>8,.0f} msg/s  "
        f"(cpu {cpu:6.2f} s {count / cpu:>8,.0f} msg/s)  peak RSS {result['peak_mb']:5.1f} MB"
    )


def rss(result: dict) -> str:
    return f"RSS < {TARGET_RSS_MB} MB: {verdict(result['peak_mb'] < TARGET_RSS_MB)}"


if __name__ == "__main__":
    main()

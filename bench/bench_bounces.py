"""How Chairside reads real bounces, judged by an independent classifier (Sisimai).

    python bench/bench_bounces.py /tmp/corpus/maildir/bsd      # or CHAIRSIDE_BOUNCE_CORPUS
    python bench/bench_bounces.py DIR --misses                 # list what went wrong:
        file, Sisimai's reason / SMTP step / status, Chairside's side / reason / status,
        and the diagnostic as each read it

The corpus is sisimai's public set-of-emails (`maildir/bsd`: 629 real bounces from dozens of
mail systems). It is someone else's text and stays outside the repository: fetch it
(`git clone https://github.com/sisimai/set-of-emails`) and point this script at it. The
oracle is Debian's Sisimai (`apt install libsisimai-perl`), run once over the whole folder;
its `softbounce` says hard (0), soft or sender-side (1), or neither (-1: complaints,
vacation, delivered).

Per (message, recipient) pair Sisimai finds, it prints:
  recipient found   Chairside names the same recipient          (target >= 95 %)
  hard suppressed   Sisimai hard, Chairside HARD                (target >= 95 %)
  soft at once      Sisimai soft/sender-side, Chairside HARD    (target 0, <= 1 %)
plus ARF reports: complaints Chairside would act on, and auth-failure reports taken as one
(target 0). Proof is not measured here (the corpus was not sent by Chairside): this is the
classification a proven recipient would get.

Measured (Sisimai 4.25.15, set-of-emails maildir/bsd, 629 messages, 636 pairs, 6 Dec 2026):
recipient found 96.5 %, hard suppressed 96.3 % (182/189), soft/sender-side suppressed at
once 0.5 % (2/413), auth-failure taken as complaint 0 %. (Before the rules of issue #17's
second pass: 96.4 %, 81.5 %, 2.4 %.) The two soft ones are Sisimai giving one recipient
another's words (a Postfix bounce for two addresses; a sendmail transcript); of the seven
hard ones missed, Sisimai calls a Spamhaus refusal of the sender "user unknown", a 450 4.1.1
is temporary to Chairside, and the rest are ambiguous ("The account or domain may not
exist, they may be blacklisted") or AOL/Verizon formats Chairside does not read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from chairside.returnpath import classify as cl  # noqa: E402

ORACLE = r"""
use strict; use warnings; use Sisimai; use JSON::PP;
my %out;
for my $path (@ARGV) {
  my $v = eval { Sisimai->make($path, 'input' => 'email', 'delivered' => 1, 'vacation' => 1) }
          || [];
  my @r = map { { recipient => $_->recipient->address, reason => $_->reason,
                  softbounce => $_->softbounce, feedbacktype => $_->feedbacktype,
                  command => $_->smtpcommand, status => $_->deliverystatus,
                  rhost => $_->rhost, diagnostic => substr($_->diagnosticcode, 0, 160) } } @$v;
  (my $name = $path) =~ s{.*/}{};
  $out{$name} = \@r;
}
print JSON::PP->new->ascii->canonical->encode(\%out);
"""


def oracle(files: list[Path]) -> dict[str, list[dict]]:
    with tempfile.NamedTemporaryFile("w", suffix=".pl", delete=False) as script:
        script.write(ORACLE)
    try:
        done = subprocess.run(
            ["perl", script.name, *map(str, files)], capture_output=True, check=True, text=True
        )
    finally:
        os.unlink(script.name)
    return json.loads(done.stdout)


def chairside(path: Path) -> cl.Classified:
    raw = path.read_bytes()
    return cl.classify(cl.parse(raw), raw=raw)


def show(what: str, path: Path, pair: dict, kind: str, item: cl.Found | None) -> None:
    """One miss: the file, Sisimai's reason (the SMTP step and status it read), Chairside's
    decision (side, reason, status) and the diagnostic as each read it."""
    ours = f"{item.kind} / {item.reason or '-'} / {item.status or '-'}" if item else f"({kind})"
    theirs = f"{pair['reason']} / {pair.get('command') or '-'} / {pair.get('status') or '-'}"
    print(f"{what:12} {path.name}")
    print(f"    sisimai  {theirs}   rhost {pair.get('rhost') or '-'}")
    print(f"    ours     {ours}")
    print(f"    sisimai: {' '.join(str(pair.get('diagnostic') or '').split())[:150]}")
    if item is not None:
        print(f"    ours:    {item.detail[:150]}")


def main(argv: list[str]) -> int:
    misses = "--misses" in argv
    args = [a for a in argv if not a.startswith("--")]
    folder = Path(args[0] if args else os.environ.get("CHAIRSIDE_BOUNCE_CORPUS", ""))
    if not folder.is_dir():
        print(__doc__)
        print(f"No corpus at {folder!s:?}: nothing measured.")
        return 0
    files = sorted(p for p in folder.iterdir() if p.is_file())
    judged = oracle(files)
    tally: Counter[str] = Counter()
    reasons_wrong: Counter[str] = Counter()
    for path in files:
        found = chairside(path)
        mine = {f.email.lower(): f for f in found.found}
        for pair in judged.get(path.name, []):
            recipient = pair["recipient"].lower()
            soft = int(pair["softbounce"])
            tally["pairs"] += 1
            item = mine.get(recipient)
            if item is not None:
                tally["found"] += 1
            elif misses:
                show("not found", path, pair, found.kind, None)
            if pair["reason"] == "feedback":
                tally["arf"] += 1
                acted = found.kind == "complaint"
                tally["arf acted"] += acted
                if pair.get("feedbacktype") == "auth-failure":
                    tally["auth-failure"] += 1
                    tally["auth-failure acted"] += acted
                continue
            if soft == 0:
                tally["hard"] += 1
                if item is not None and item.kind == cl.HARD:
                    tally["hard suppressed"] += 1
                elif misses:
                    show("hard missed", path, pair, found.kind, item)
            elif soft == 1:
                tally["soft"] += 1
                if item is not None and item.kind == cl.HARD:
                    tally["soft suppressed"] += 1
                    reasons_wrong[pair["reason"]] += 1
                    if misses:
                        show("soft AS HARD", path, pair, found.kind, item)

    def pct(part: str, whole: str) -> str:
        return f"{tally[part]}/{tally[whole]} = {100 * tally[part] / max(1, tally[whole]):.1f} %"

    print(f"{len(files)} messages, {tally['pairs']} (message, recipient) pairs per Sisimai")
    print(f"recipient found:               {pct('found', 'pairs')}   (target >= 95 %)")
    print(f"hard bounces suppressed:       {pct('hard suppressed', 'hard')}   (target >= 95 %)")
    print(f"soft/sender-side suppressed:   {pct('soft suppressed', 'soft')}   (target <= 1 %)")
    if reasons_wrong:
        print(
            "  of which (Sisimai's reason): "
            + ", ".join(f"{r} {n}" for r, n in reasons_wrong.most_common())
        )
    print(f"ARF reports acted on:          {pct('arf acted', 'arf')}")
    print(
        f"auth-failure taken as complaint: {pct('auth-failure acted', 'auth-failure')}   (target 0)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""How fast the studio answers with 100,000 patients and a 100,000-row send record.

    python bench/bench_studio.py                 # 100,000 patients, 3 warm rounds
    python bench/bench_studio.py --patients 20000 --repeat 5

Builds a copy of the demo practice whose list has N patients, records every one of them
as sent for the demo campaign in the ledger (through the ledger's own batch calls, so the
journal agrees with it), starts the studio in this process on a free port, and asks each
page over HTTP, timing the first byte of the answer, cold in each of these moments:

- first start: nothing kept yet (the studio reads ahead in the background meanwhile);
- restart: a new studio (its memory empty) on the files as they were, with what the last
  one kept in .chairside/cache/;
- the list changed: a patient added to the list (by an editor, say);
- the send record changed: one more row in the ledger (a send from the CLI, say);
- the campaign changed: its campaign.toml edited (in an editor, say): built and checked
  again;

then warm (the median of the next rounds). A page whose heavy part is not ready within
`state.WAIT` shows the rest and loads that part as a fragment, as the browser does at
once: its figure is "page / part", the slowest part's first byte, asked right after the
page's.
Then the send progress fragment is polled with a send "running" (the campaign's lock
held, as a send in another window holds it) and its CPU time in the studio's process is
measured per poll.

Target (issue 18): every page's first byte within 150 ms, cold or warm; a poll under 10 ms
CPU.
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO), str(REPO / "bench")]

CAMPAIGN = "2026-12"
PAGES = [
    "/",
    "/new",
    f"/c/{CAMPAIGN}/edit",
    f"/c/{CAMPAIGN}/send",
    "/patients",
    "/unsubscribes",
]
TARGET_MS = 150
TARGET_POLL_MS = 10


def fill_ledger(root: Path, patients: int) -> None:
    """Every patient recorded as sent for CAMPAIGN, in batches of 5,000."""
    from chairside.audience.patients import load_audience
    from chairside.delivery import state_dir
    from chairside.ledger import open_ledger
    from chairside.workspace import Workspace

    workspace = Workspace(root)
    audience = load_audience(workspace)
    members = [(p.key, p.email, "v1") for p in audience.patients][:patients]
    with open_ledger(state_dir(workspace)) as ledger:
        for start in range(0, len(members), 5000):
            batch = f"bench-{start}"
            ledger.mark_batch_sending(CAMPAIGN, "smtp", batch, members[start : start + 5000])
            ledger.finish_batch(CAMPAIGN, batch, reply="250 ok")


def first_byte(port: int, path: str, cookie: str) -> float:
    """Seconds from sending the request to the first byte of the answer."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
            "Connection: close\r\n\r\n"
        )
        started = time.perf_counter()
        sock.sendall(request.encode())
        sock.recv(1)
        elapsed = time.perf_counter() - started
        while sock.recv(65536):
            pass
    return elapsed


def polled(port: int, path: str, cookie: str, polls: int) -> tuple[float, float]:
    """CPU seconds of this process (server and client) and wall seconds, per request."""
    first_byte(port, path, cookie)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(polls):
        first_byte(port, path, cookie)
    return (time.process_time() - cpu) / polls, (time.perf_counter() - wall) / polls


def change_list(root: Path) -> None:
    with (root / "audiences" / "patients.csv").open("a", encoding="utf-8") as handle:
        handle.write("BEN-extra,Extra,Patient,extra@example.com,,Y\r\n")


def change_record(root: Path) -> None:
    from chairside.delivery import state_dir
    from chairside.ledger import open_ledger
    from chairside.workspace import Workspace

    with open_ledger(state_dir(Workspace(root))) as ledger:
        ledger.mark_batch_sending(CAMPAIGN, "smtp", "bench-extra", [("x", "x@example.com", "v1")])
        ledger.finish_batch(CAMPAIGN, "bench-extra", reply="250 ok")


def change_campaign(root: Path) -> None:
    with (root / "campaigns" / CAMPAIGN / "campaign.toml").open("a", encoding="utf-8") as handle:
        handle.write("\n# edited\n")


def ask(port: int, page: str, cookie: str) -> tuple[float, float | None]:
    """The page's first byte, and the slowest first byte of the parts it left to
    fragments (each asked right after the page, one after the other), if any."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        request = (
            f"GET {page} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
            "Connection: close\r\n\r\n"
        )
        started = time.perf_counter()
        sock.sendall(request.encode())
        body = sock.recv(65536)
        elapsed = time.perf_counter() - started
        while chunk := sock.recv(65536):
            body += chunk
    parts = re.findall(rb'hx-get="([^"]+)" hx-trigger="load"', body)
    if not parts:
        return elapsed, None
    return elapsed, max(first_byte(port, part.decode(), cookie) for part in parts)


def ms(seconds: float, part: float | None = None) -> str:
    return f"{seconds * 1000:,.1f}" + (f" / {part * 1000:,.0f}" if part is not None else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--polls", type=int, default=50)
    args = parser.parse_args()

    from harness import load, practice
    from tests.support import StudioServer

    from chairside.delivery import state_dir
    from chairside.ledger import campaign_lock
    from chairside.studio import state
    from chairside.workspace import Workspace

    print(f"{args.patients:,} patients, {load()}")
    with tempfile.TemporaryDirectory(prefix="chairside-bench-") as scratch:
        root = practice(Path(scratch), args.patients)
        started = time.perf_counter()
        fill_ledger(root, args.patients)
        print(f"ledger filled in {time.perf_counter() - started:.1f} s")
        server = StudioServer(root)  # builds the campaign once (not a page's cost)
        server.client().get(f"/c/{CAMPAIGN}/edit")
        server.close()
        for kept in (root / ".chairside" / "cache").glob("*"):
            kept.unlink()
        state.CACHE.clear()
        server = StudioServer(root)
        try:
            client = server.client()
            cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
            columns: dict[str, dict[str, tuple[float, float | None]]] = {p: {} for p in PAGES}

            def cold(moment: str) -> None:
                for page in PAGES:
                    columns[page][moment] = ask(server.port, page, cookie)

            cold("first start")
            server.close()
            state.CACHE.clear()
            server = StudioServer(root)
            cookie = "; ".join(f"{k}={v}" for k, v in server.client().cookies.items())
            cold("restart")
            change_list(root)
            cold("list changed")
            change_record(root)
            cold("record changed")
            change_campaign(root)
            cold("campaign changed")
            warm: dict[str, list[float]] = {page: [] for page in PAGES}
            for _ in range(args.repeat):
                for page in PAGES:
                    warm[page].append(first_byte(server.port, page, cookie))
            moments = list(columns["/new"])
            print("first byte, ms (page / the part it loads as a fragment, if it did):")
            print(f"  {'page':16}" + "".join(f"{m:>17}" for m in moments) + f"{'warm':>8}")
            for page in PAGES:
                print(
                    f"  {page:16}"
                    + "".join(f"{ms(*columns[page][m]):>17}" for m in moments)
                    + f"{ms(statistics.median(warm[page])):>8}"
                )
            slowest = max(t for times in columns.values() for t, _ in times.values())
            slowest = max([slowest, *(statistics.median(t) for t in warm.values())])
            print(f"  slowest page: {slowest * 1000:.1f} ms (target {TARGET_MS} ms)")

            progress = f"/c/{CAMPAIGN}/send/progress"
            with campaign_lock(state_dir(Workspace(root)), CAMPAIGN, holder="bench"):
                cpu, wall = polled(server.port, progress, cookie, args.polls)
            # The same client asking for a static file: its own cost and the server's least.
            floor, _ = polled(server.port, "/static/studio.css", cookie, args.polls)
            print(
                f"progress poll while a send runs (from another window): {cpu * 1000:.1f} ms "
                f"CPU per poll in this process, {floor * 1000:.1f} ms of it the client and the "
                f"server's least (a static file): {(cpu - floor) * 1000:.1f} ms for the poll "
                f"(target {TARGET_POLL_MS} ms); {wall * 1000:.1f} ms wall"
            )
        finally:
            server.close()


if __name__ == "__main__":
    main()

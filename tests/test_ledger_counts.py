"""The counts by status (`status_counts`) that a send's progress is polled from are always
the rows counted: after every change the ledger makes, in an older state.db once it is
opened, and after a check or a rebuild."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chairside.journal import DEFERRED, FAILED, SENDING, SENT, Journal, status_record
from chairside.ledger import GroupCommit, Ledger, open_ledger, peek_counts

STATE = ".chairside"
CAMPAIGNS = ["a", "b"]
PATIENTS = [f"p{n}@example.com" for n in range(6)]
BATCHES = ["batch-1", "batch-2"]


def counted(db: sqlite3.Connection) -> list[tuple]:
    return db.execute("SELECT campaign, status, n FROM status_counts ORDER BY 1, 2").fetchall()


def rows_counted(db: sqlite3.Connection) -> list[tuple]:
    query = "SELECT campaign, status, count(*) FROM deliveries GROUP BY 1, 2 ORDER BY 1, 2"
    return db.execute(query).fetchall()


def assert_counts_are_the_rows(ledger: Ledger) -> None:
    assert counted(ledger.db) == rows_counted(ledger.db)
    for campaign in CAMPAIGNS:
        by_status = {s: n for c, s, n in rows_counted(ledger.db) if c == campaign}
        assert ledger.counts(campaign) == by_status
        assert peek_counts(ledger.state_dir, campaign) == by_status


def without_counts(path: Path) -> None:
    """Make state.db as it was before the counts by status."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for trigger in (
            "deliveries_counted_in",
            "deliveries_counted_out",
            "deliveries_counted_moved",
        ):
            db.execute(f"DROP TRIGGER {trigger}")
        db.execute("DROP TABLE status_counts")
    finally:
        db.close()


keys = st.lists(st.sampled_from(PATIENTS), min_size=1, max_size=4, unique=True)
statuses = st.sampled_from([SENT, FAILED, DEFERRED])
change = st.one_of(
    keys.map(lambda ks: status_record(SENDING, rows=[[k, k, "v"] for k in ks], via="smtp")),
    st.tuples(statuses, keys).map(lambda s: status_record(s[0], keys=s[1], reply="250")),
    keys.map(lambda ks: {"op": "release", "keys": ks}),
)
campaign = st.sampled_from(CAMPAIGNS)
operation = st.one_of(
    st.tuples(st.just("sending"), campaign, st.sampled_from(PATIENTS)),
    st.tuples(st.just("finish"), campaign, st.sampled_from(PATIENTS), statuses),
    st.tuples(st.just("batch"), campaign, st.sampled_from(BATCHES), keys),
    st.tuples(
        st.just("finish batch"),
        campaign,
        st.sampled_from(BATCHES),
        st.sets(st.sampled_from(PATIENTS)),
    ),
    st.tuples(st.just("abandon batch"), campaign, st.sampled_from(BATCHES)),
    st.tuples(st.just("release"), campaign, keys),
    st.tuples(st.just("group"), campaign, st.lists(change, min_size=1, max_size=4)),
    st.tuples(st.just("check"), campaign),
    st.tuples(st.just("rebuild"), campaign),
    st.tuples(st.just("sent log lost"), campaign),
    st.tuples(st.just("reopen")),
    st.tuples(st.just("reopen from before the counts")),
)


def run(ledger: Ledger, op: tuple) -> Ledger:
    """Do `op` with the ledger's own calls; the ledger to go on with."""
    name, *args = op
    if name == "sending":
        c, key = args
        ledger.mark_sending(c, key, key, "v")
    elif name == "finish":
        c, key, status = args
        ledger.finish(c, key, status, reply="250")
    elif name == "batch":
        c, batch, ks = args
        ledger.mark_batch_sending(c, "sendgrid", batch, [(k, k, "v") for k in ks])
    elif name == "finish batch":
        c, batch, failed = args
        ledger.finish_batch(c, batch, reply="202", failed={k: "bad" for k in failed})
    elif name == "abandon batch":
        c, batch = args
        ledger.abandon_batch(c, batch, reply="timed out")
    elif name == "release":
        c, ks = args
        ledger.release(c, ks)
    elif name == "group":
        c, changes = args
        GroupCommit(ledger, c, gather=0).commit(changes)
    elif name == "check":
        ledger.check(args[0])
    elif name == "rebuild":
        if Journal(ledger.state_dir, args[0]).path.exists():
            ledger.rebuild(args[0])
    elif name == "sent log lost":  # confirmed: the log starts again from a snapshot
        Journal(ledger.state_dir, args[0]).path.unlink(missing_ok=True)
        ledger.trust(args[0], confirmed=True)
    else:
        ledger.close()
        if name == "reopen from before the counts":
            without_counts(ledger.path)
        ledger = Ledger(ledger.path)
    return ledger


@settings(max_examples=200, deadline=None)
@given(st.lists(operation, max_size=25))
def test_the_counts_are_the_rows_after_every_change(operations):
    with tempfile.TemporaryDirectory() as scratch:
        ledger = Ledger(Path(scratch) / STATE / "state.db")
        try:
            for op in operations:
                ledger = run(ledger, op)
                assert_counts_are_the_rows(ledger)
            for c in CAMPAIGNS:  # the sequence was the ledger's own: its sent logs agree
                ledger.check(c)
        finally:
            ledger.close()


def test_an_older_state_db_gets_its_counts_when_opened(tmp_path):
    state = tmp_path / STATE
    with open_ledger(state) as ledger:
        ledger.mark_batch_sending("a", "smtp", "b1", [(k, k, "v") for k in PATIENTS])
        ledger.finish_batch("a", "b1", reply="250", failed={PATIENTS[0]: "unknown user"})
        ledger.mark_sending("b", PATIENTS[1], PATIENTS[1], "v")
    without_counts(state / "state.db")
    # read-only, as a poll reads it, before any ledger has opened it again: the rows
    assert peek_counts(state, "a") == {SENT: 5, FAILED: 1}
    with open_ledger(state) as ledger:
        assert counted(ledger.db) == [("a", FAILED, 1), ("a", SENT, 5), ("b", SENDING, 1)]
        ledger.finish("b", PATIENTS[1], DEFERRED, reply="451")
        assert_counts_are_the_rows(ledger)


def test_a_replaced_row_leaves_the_counts_through_its_delete_trigger(tmp_path):
    """A REPLACE deletes the row it replaces through the DELETE trigger only with
    recursive triggers, which the ledger's connection turns on."""
    with open_ledger(tmp_path / STATE) as ledger:
        ledger.mark_sending("a", PATIENTS[0], PATIENTS[0], "v")
        ledger.db.execute(
            "INSERT OR REPLACE INTO deliveries (campaign, patient, email, variant, status, "
            "updated_at) VALUES ('a', ?, ?, 'v', 'sent', '2026-12-01')",
            (PATIENTS[0], PATIENTS[0]),
        )
        assert ledger.counts("a") == {SENT: 1}
        assert_counts_are_the_rows(ledger)


def test_check_and_rebuild_recount_counts_changed_by_hand(tmp_path):
    with open_ledger(tmp_path / STATE) as ledger:
        ledger.mark_batch_sending("a", "smtp", "b1", [(k, k, "v") for k in PATIENTS])
        ledger.finish_batch("a", "b1", reply="250", failed={PATIENTS[0]: "unknown user"})
        ledger.db.execute("UPDATE status_counts SET n = 99")
        ledger.check("a")
        assert ledger.counts("a") == {SENT: 5, FAILED: 1}
        ledger.db.execute("INSERT INTO status_counts VALUES ('a', 'deferred', 3)")
        assert ledger.rebuild("a") == {SENT: 5, FAILED: 1}
        assert_counts_are_the_rows(ledger)

"""The ledger cannot be lost silently: deleted, replaced by an older copy or copied without
its -wal file, it is never read as "nothing sent": `status` refuses until it is rebuilt from
the journal (the campaign's sent log), and the next send rebuilds it itself, as it holds
nothing the sent log lacks; edited, it is refused until rebuilt. Either way nobody gets the
campaign twice. (Moving the practice folder: tests/test_move.py.)"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chairside.journal import SENDING, SENT, Journal
from chairside.ledger import Ledger, LedgerError, open_ledger
from tests.support import assert_user_error
from tests.test_send import kill_mid_send, send, sendable, spawn_send, status, wait_for

STATE = ".chairside"  # a practice's state folder; its sent logs go in campaigns/ beside it


def part_of_list(root: Path, rows: int) -> Path:
    """The first `rows` patients of the demo list, as a file for --audience."""
    lines = (root / "audiences/patients.csv").read_text(encoding="utf-8").splitlines()
    path = root / f"first-{rows}.csv"
    path.write_text("\n".join(lines[: rows + 1]) + "\n", encoding="utf-8")
    return path


def remove_ledger(root: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (root / f".chairside/state.db{suffix}").unlink(missing_ok=True)


def assert_refused_then_rebuilt(run, root: Path, port: int, server, *fragments: str) -> None:
    """The next send refuses and sends nothing; after a rebuild, the rest go out once."""
    before = len(server.received)
    refused = send(run, root, port)
    assert_user_error(refused, "rebuild-ledger 2026-12", *fragments)
    assert "backup" not in refused.output.lower()
    assert len(server.received) == before
    assert_user_error(run("status", "2026-12", cwd=root), "rebuild-ledger 2026-12")
    rebuilt = run("rebuild-ledger", "2026-12", cwd=root)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert_the_rest_go_out_once(run, root, port, server)


def assert_the_rest_go_out_once(run, root: Path, port: int, server, *fragments: str) -> None:
    rerun = send(run, root, port)
    for fragment in fragments:
        assert fragment in rerun.output, rerun.output
    delivered = Counter(server.recipients())
    assert max(delivered.values()) == 1, "someone got the campaign twice"
    unknown = set(status(run, root)["unknown"])
    assert set(delivered) | unknown == set(sendable(run, root))
    assert rerun.exit_code == (3 if unknown else 0), rerun.output


def assert_status_refuses_and_send_rebuilds(
    run, root: Path, port: int, server, *fragments: str
) -> None:
    """`status` refuses (a lost ledger is not "nothing sent") and says how to rebuild; the
    next send rebuilds it from the sent log itself, says so, and sends the rest once."""
    assert_user_error(run("status", "2026-12", cwd=root), "rebuild-ledger 2026-12", *fragments)
    assert_the_rest_go_out_once(
        run, root, port, server, "it was rebuilt from the campaign's sent log"
    )


def test_a_deleted_ledger_is_rebuilt_from_the_sent_log(tmp_workspace, smtp_server, run):
    server, port = smtp_server
    first = send(run, tmp_workspace, port, "--audience", str(part_of_list(tmp_workspace, 12)))
    assert first.exit_code == 0, first.output
    sent = len(server.received)
    remove_ledger(tmp_workspace)
    assert_status_refuses_and_send_rebuilds(
        run, tmp_workspace, port, server, "has no record of 2026-12", f"{sent} sent"
    )


def test_a_ledger_replaced_by_an_older_copy_is_rebuilt(tmp_workspace, smtp_server, run):
    server, port = smtp_server
    send(run, tmp_workspace, port, "--audience", str(part_of_list(tmp_workspace, 8)))
    wal = tmp_workspace / ".chairside/state.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed: state.db holds it all
    old = tmp_workspace / "old-state.db"
    shutil.copy(tmp_workspace / ".chairside/state.db", old)
    send(run, tmp_workspace, port, "--audience", str(part_of_list(tmp_workspace, 20)))
    remove_ledger(tmp_workspace)
    shutil.copy(old, tmp_workspace / ".chairside/state.db")
    assert_status_refuses_and_send_rebuilds(
        run, tmp_workspace, port, server, "older than its journal"
    )


def test_a_ledger_copied_without_its_wal_after_a_kill_is_rebuilt(tmp_workspace, smtp_server, run):
    server, port = smtp_server
    kill_mid_send(tmp_workspace, server, port, 10)
    state = tmp_workspace / ".chairside"
    assert (state / "state.db-wal").stat().st_size > 0  # the records are in the WAL
    copy = tmp_workspace / "copied.db"
    shutil.copy(state / "state.db", copy)  # as a sync tool or a careless copy does
    remove_ledger(tmp_workspace)
    shutil.copy(copy, state / "state.db")
    assert_status_refuses_and_send_rebuilds(run, tmp_workspace, port, server)


def test_an_edited_ledger_that_disagrees_with_the_journal_is_refused(
    tmp_workspace, smtp_server, run
):
    server, port = smtp_server
    assert send(run, tmp_workspace, port).exit_code == 0
    with sqlite3.connect(tmp_workspace / ".chairside/state.db") as db:
        db.execute("UPDATE deliveries SET status = 'deferred' WHERE patient LIKE 'maria%'")
    assert_refused_then_rebuilt(
        run, tmp_workspace, port, server, "disagree about 1 patients", "ma***@example.com"
    )


def test_a_deleted_sent_log_is_refused_then_started_again_from_the_ledger_on_request(
    tmp_workspace, smtp_server, run
):
    server, port = smtp_server
    send(run, tmp_workspace, port, "--audience", str(part_of_list(tmp_workspace, 10)))
    before = len(server.received)
    (tmp_workspace / "campaigns/2026-12/sent-log.jsonl").unlink()
    assert_user_error(run("status", "2026-12", cwd=tmp_workspace), "sent-log.jsonl) is missing")
    refused = send(run, tmp_workspace, port)
    assert_user_error(refused, "sent-log.jsonl) is missing", "put it back", "--continue-from-copy")
    assert len(server.received) == before
    again = send(run, tmp_workspace, port, "--continue-from-copy")
    assert "Started the sent log of 2026-12" in again.output
    assert again.exit_code == 0, again.output
    assert Counter(server.recipients()) == Counter(set(sendable(run, tmp_workspace)))
    remove_ledger(tmp_workspace)  # and the new sent log protects it from here on
    assert_status_refuses_and_send_rebuilds(run, tmp_workspace, port, server, "has no record")


def test_an_emptied_ledger_is_moved_aside_and_rebuilt(tmp_workspace, smtp_server, run):
    server, port = smtp_server
    send(run, tmp_workspace, port, "--audience", str(part_of_list(tmp_workspace, 10)))
    (tmp_workspace / ".chairside/state.db").write_bytes(b"")
    assert_user_error(send(run, tmp_workspace, port), "state.db is empty", "rebuild-ledger")
    rebuilt = run("rebuild-ledger", "2026-12", cwd=tmp_workspace)
    assert "Moved the unusable ledger aside" in rebuilt.output
    assert list((tmp_workspace / ".chairside").glob("state.db.unusable-*"))
    assert send(run, tmp_workspace, port).exit_code == 0
    assert max(Counter(server.recipients()).values()) == 1


def test_the_journal_is_written_before_the_ledger(tmp_path, monkeypatch):
    """A crash between the two leaves the journal one record ahead: that record is applied
    on the next open, never lost and never refused."""
    import chairside.ledger as ledger_module

    with open_ledger(tmp_path / STATE) as ledger:
        ledger.mark_sending("c", "a@example.com", "a@example.com", "v")
        monkeypatch.setattr(ledger_module, "apply", _crash)
        with pytest.raises(SystemExit):
            ledger.finish("c", "a@example.com", SENT, reply="250 OK")
        monkeypatch.undo()
        assert ledger.rows("c")[0].status == SENDING  # the commit never happened...
    lines = Journal(tmp_path / STATE, "c").path.read_text().splitlines()
    assert json.loads(lines[-1])["status"] == SENT  # ...but the journal has it
    with open_ledger(tmp_path / STATE) as ledger:
        assert ledger.statuses("c") == {"a@example.com": SENT}


def test_a_crash_before_sending_was_committed_leaves_the_patient_pending(tmp_path, monkeypatch):
    """Nothing is handed over before `mark_sending` returns: a `sending` record that never
    reached state.db means that patient was never transmitted, so not "unknown"."""
    import chairside.ledger as ledger_module

    with open_ledger(tmp_path / STATE) as ledger:
        monkeypatch.setattr(ledger_module, "apply", _crash)
        with pytest.raises(SystemExit):
            ledger.mark_sending("c", "a@example.com", "a@example.com", "v")
        monkeypatch.undo()
    with open_ledger(tmp_path / STATE) as ledger:
        assert ledger.statuses("c") == {}
    with open_ledger(tmp_path / STATE) as ledger:
        assert ledger.statuses("c") == {}  # and the journal agrees


def test_a_crash_while_releasing_an_orphan_is_rolled_forward_too(tmp_path, monkeypatch):
    import chairside.ledger as ledger_module

    with open_ledger(tmp_path / STATE) as ledger:
        ledger.mark_sending("c", "b@example.com", "b@example.com", "v")
        monkeypatch.setattr(ledger_module, "apply", _crash)
        with pytest.raises(SystemExit):
            ledger.mark_sending("c", "a@example.com", "a@example.com", "v")
        monkeypatch.undo()
    journal = Journal(tmp_path / STATE, "c")
    release = {"seq": 3, "at": "2026-12-01T00:00:00+00:00", "op": "release"}
    journal.append({**release, "keys": ["a@example.com"]})  # written, then the crash
    with open_ledger(tmp_path / STATE) as ledger:
        assert ledger.statuses("c") == {"b@example.com": SENDING}
    journal.append({**release, "seq": 4, "keys": []})  # two un-applied records: older
    journal.append({**release, "seq": 5, "keys": []})
    with open_ledger(tmp_path / STATE) as ledger, pytest.raises(LedgerError, match="older than"):
        ledger.statuses("c")


def _crash(*args):
    raise SystemExit("killed")


def test_a_record_cut_short_by_a_crash_is_dropped(tmp_path):
    with open_ledger(tmp_path / STATE) as ledger:
        ledger.mark_sending("c", "a@example.com", "a@example.com", "v")
    journal = Journal(tmp_path / STATE, "c").path
    with journal.open("ab") as handle:
        handle.write(b'{"seq":2,"op":"sta')
    with open_ledger(tmp_path / STATE) as ledger:
        assert ledger.statuses("c") == {"a@example.com": SENDING}
        ledger.finish("c", "a@example.com", SENT, reply="250 OK")
    assert all(json.loads(line) for line in journal.read_text().splitlines())
    with open_ledger(tmp_path / STATE) as ledger:
        assert ledger.statuses("c") == {"a@example.com": SENT}


def test_a_damaged_journal_line_stops_with_its_line_number(tmp_path):
    with open_ledger(tmp_path / STATE) as ledger:
        ledger.mark_sending("c", "a@example.com", "a@example.com", "v")
        ledger.finish("c", "a@example.com", SENT, reply="250 OK")
    journal = Journal(tmp_path / STATE, "c").path
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("garbage\n" + lines[1])
    with (
        open_ledger(tmp_path / STATE) as ledger,
        pytest.raises(LedgerError, match=r"sent-log\.jsonl, line 1"),
    ):
        ledger.statuses("c")


def test_provider_batches_are_journalled_too(tmp_path):
    members = [(f"p{n}@example.com", f"p{n}@example.com", "2026-12-a") for n in range(5)]
    with open_ledger(tmp_path / STATE) as ledger:
        ledger.record_step("c", "sendgrid", "batch 1", "sendgrid:a:1")
        ledger.mark_batch_sending("c", "sendgrid", "sendgrid:a:1", members)
        ledger.finish_batch("c", "sendgrid:a:1", reply="202", failed={"p0@example.com": "bad"})
        ledger.mark_batch_sending("c", "sendgrid", "sendgrid:a:2", [("q@example.com", "q", "a")])
        before = ledger.statuses("c")
    (tmp_path / STATE / "state.db").unlink()
    with (
        open_ledger(tmp_path / STATE) as ledger,
        pytest.raises(LedgerError, match="no record of c"),
    ):
        ledger.statuses("c")
    ledger = Ledger(tmp_path / STATE / "state.db")
    try:
        counts = ledger.rebuild("c")
        assert ledger.statuses("c") == before
        assert ledger.step("c", "sendgrid", "batch 1") == "sendgrid:a:1"
    finally:
        ledger.close()
    assert counts == {"sent": 4, "failed": 1, "sending": 1}


def test_status_while_a_send_runs_never_mistakes_it_for_a_crash(tmp_workspace, smtp_server, run):
    """A change half-made by the running send (journalled, not yet committed) is not an
    orphan: `status` checks under the write lock, so it neither refuses nor releases it.
    A rebuild is refused meanwhile, naming the send."""
    server, port = smtp_server
    server.hold_after(2)
    process = spawn_send(tmp_workspace, port)
    try:
        wait_for(lambda: server.held >= 1)
        busy = run("rebuild-ledger", "2026-12", cwd=tmp_workspace)
        assert_user_error(busy, "already being delivered by `chairside send` (process")
        result = run("status", "2026-12", "--json", cwd=tmp_workspace)
        assert result.exit_code == 0 and json.loads(result.output)["running"], result.output
        server.release()
        while process.poll() is None:
            result = run("status", "2026-12", "--json", cwd=tmp_workspace)
            assert result.exit_code == 0, result.output
    finally:
        process.wait(timeout=30)
    assert process.returncode == 0, process.stderr.read()
    assert Counter(server.recipients()) == Counter(set(sendable(run, tmp_workspace)))
    assert send(run, tmp_workspace, port).exit_code == 0
    assert len(server.received) == 31


def test_a_push_is_journalled_and_a_deleted_ledger_stops_the_next_one(
    tmp_workspace, smtp_server, run, http_server, monkeypatch
):
    """Pushes go through the same ledger, so the same journal: a push after state.db was
    deleted rebuilds it from the sent log, and so does a `send` of the pushed campaign;
    neither repeats."""
    from tests.test_provider_sendgrid import KEY, allow_baa, delivered, push

    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    provider = http_server
    provider.accepted = []

    def accept(request):
        provider.accepted.append(request.json())
        return 202, b""

    provider.route("POST", r"/v3/mail/send", accept)
    allow_baa(tmp_workspace)
    assert push(run, tmp_workspace, provider).exit_code == 0
    remove_ledger(tmp_workspace)
    assert_user_error(run("status", "2026-12", cwd=tmp_workspace), "has no record of 2026-12")
    again = push(run, tmp_workspace, provider)
    assert again.exit_code == 0, again.output
    assert (
        "had no record of 2026-12; it was rebuilt" in again.output and "31 before" in again.output
    )
    server, port = smtp_server
    remove_ledger(tmp_workspace)
    assert send(run, tmp_workspace, port).exit_code == 0
    assert len(delivered(provider.accepted)) == 31 and server.received == []


def test_rebuild_needs_a_journal_and_a_campaign_name(tmp_workspace, run):
    assert_user_error(run("rebuild-ledger", "../x", cwd=tmp_workspace), "cannot be a campaign")
    assert_user_error(run("rebuild-ledger", "2026-12", cwd=tmp_workspace), "no sent log")


# A group of changes (the connections' outcomes and next `sending`s, one commit) runs each
# statement once for all of its patients when no two changes name the same patient.

_PATIENTS = [f"p{n}@example.com" for n in range(8)]


def _changes(draw_keys):
    from chairside.journal import DEFERRED, FAILED, status_record

    statuses = st.sampled_from([SENT, FAILED, DEFERRED])
    return st.one_of(
        draw_keys.map(
            lambda ks: status_record(SENDING, rows=[[k, k, "v"] for k in ks], via="smtp")
        ),
        st.tuples(statuses, draw_keys).map(
            lambda s: status_record(s[0], keys=s[1], reply="250", message_id="<m@x>")
        ),
        st.tuples(st.sampled_from([SENT]), draw_keys).map(
            lambda s: status_record(s[0], keys=s[1], reply="202", failed={s[1][0]: "bad"})
        ),
        draw_keys.map(lambda ks: {"op": "release", "keys": ks}),
    )


_some_keys = st.lists(st.sampled_from(_PATIENTS), min_size=1, max_size=3, unique=True)


@st.composite
def _apart_group(draw):
    """Changes that each name patients of their own, as the connections' do."""
    order = draw(st.permutations(_PATIENTS))
    sizes = draw(st.lists(st.integers(1, 2), min_size=2, max_size=4))
    changes, start = [], 0
    for size in sizes:
        keys = list(order[start : start + size])
        start += size
        changes.append(draw(_changes(st.just(keys))))
    return changes


def _rows(ledger: Ledger) -> list[tuple]:
    query = (
        "SELECT campaign, patient, email, variant, via, status, message_id, reply, attempts "
        "FROM deliveries ORDER BY campaign, patient"
    )
    counts = "SELECT campaign, status, n FROM status_counts ORDER BY 1, 2"
    return ledger.db.execute(query).fetchall() + ledger.db.execute(counts).fetchall()


@settings(max_examples=150, deadline=None)
@given(
    before=st.lists(_changes(_some_keys), max_size=6),
    group=st.one_of(_apart_group(), st.lists(_changes(_some_keys), min_size=2, max_size=4)),
)
def test_a_group_leaves_the_rows_its_changes_leave_one_by_one(before, group):
    """Whether its statements are run together (patients apart) or in turn (not), a group
    commit leaves what its changes, committed one after another, leave."""
    with (
        tempfile.TemporaryDirectory() as scratch,
        open_ledger(Path(scratch) / "a" / STATE) as grouped,
        open_ledger(Path(scratch) / "b" / STATE) as one_by_one,
    ):
        for ledger in (grouped, one_by_one):
            for change in before:
                ledger.commit_group("c", [change])
        grouped.commit_group("c", group)
        for change in group:
            one_by_one.commit_group("c", [change])
        assert _rows(grouped) == _rows(one_by_one)


def test_the_sent_log_is_made_with_its_folder_and_its_name_kept(tmp_path, monkeypatch):
    """The first record makes the campaign folder and the file, and fsyncs the folder so
    the file's name outlives a power cut; later records only append."""
    import chairside.journal as journal_module

    synced: list[Path] = []
    monkeypatch.setattr(journal_module, "_fsync_dir", synced.append)
    journal = Journal(tmp_path / STATE, "c")
    journal.append({"seq": 1, "op": "release", "keys": ["a"]})
    journal.append({"seq": 2, "op": "release", "keys": ["b"]})
    assert synced == [journal.path.parent]
    assert [r["seq"] for r in journal.read()] == [1, 2]

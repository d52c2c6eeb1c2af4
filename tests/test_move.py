"""The practice folder moves, the ways people move folders, in the middle of a campaign: a
copy that skips hidden folders, `.chairside/` deleted, an older `.chairside/` or a whole
backup put back, a new computer, a sync tool's conflicted copy. Each with real files, the
real CLI and a real SMTP server (aiosmtpd) whose reply is held to stop the send part way;
each counts duplicates (goal 0) and checks that the unsubscribe codes in the mail already
sent still resolve. This computer's witness is CHAIRSIDE_STATE_HOME (tests/conftest.py); a
new computer is another such folder."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from chairside.delivery import unsubscribe_codes
from chairside.workspace import Workspace
from tests.support import assert_user_error, write_patients
from tests.test_send import kill_mid_send

PATIENTS = 300
NAME = "2026-12"
_TOKEN = re.compile(rb"[?&]token=([A-Za-z0-9]+)")


@pytest.fixture
def practice(tmp_workspace: Path) -> Path:
    """The demo practice with 300 patients, all consenting (the issue's numbers)."""
    write_patients(
        tmp_workspace / "audiences/patients.csv",
        [f"patient{n:03d}@example.com" for n in range(PATIENTS)],
    )
    (tmp_workspace / "audiences/suppressed.csv").unlink(missing_ok=True)
    return tmp_workspace


def send(run, root: Path, port: int, *args: str):
    return run("send", NAME, "--smtp-port", str(port), "--retry-delay", "0.01", *args, cwd=root)


def duplicates(server) -> int:
    return sum(n - 1 for n in Counter(server.recipients()).values())


def copy_skipping_hidden(source: Path, target: Path) -> None:
    """`cp -r practice/* copy/`: the shell's * leaves out `.chairside`."""
    target.mkdir()
    subprocess.run(f"cp -r {source}/* {target}/", shell=True, check=True)
    assert not (target / ".chairside").exists()


def codes_in(server) -> dict[str, str]:
    """recipient → the unsubscribe code in the mail they were sent."""
    found = {}
    for rcpt, data in server.received:
        head = data.split(b"\r\n\r\n", 1)[0]
        found[rcpt] = _TOKEN.search(head).group(1).decode()
    return found


def assert_codes_resolve(root: Path, server) -> None:
    """Every code in the mail already sent names its patient, in this folder."""
    codes = codes_in(server)
    entries, bad = unsubscribe_codes(Workspace(root), list(codes.values()), "test")
    assert bad == []
    assert [email for email, _reason, _where in entries] == list(codes)


def assert_everyone_once(run, root: Path, server) -> None:
    """Nobody twice, nobody lost: each patient delivered once, or (a message the kill caught
    in flight) reported unknown and not resent."""
    assert duplicates(server) == 0
    result = run("status", NAME, "--json", "--show", cwd=root)
    unknown = set(json.loads(result.output)["unknown"])
    assert set(server.recipients()) | unknown == everyone()
    assert_codes_resolve(root, server)


def everyone() -> set[str]:
    return {f"patient{n:03d}@example.com" for n in range(PATIENTS)}


def assert_finished_once(
    run, root: Path, port: int, server, *said: str, args: tuple[str, ...] = ()
) -> None:
    """The rerun sends everyone not yet sent, once; the messages a kill left in doubt are
    reported as unknown, not resent."""
    rerun = send(run, root, port, *args)
    for fragment in said:
        assert fragment in rerun.output, rerun.output
    assert rerun.exit_code in (0, 3), rerun.output
    assert_everyone_once(run, root, server)


def test_a_copy_that_skips_hidden_folders_mid_campaign_sends_nobody_twice(
    practice, tmp_path, smtp_server, run
):
    server, port = smtp_server
    kill_mid_send(practice, server, port, 181)
    assert 181 < len(server.received) < PATIENTS
    copy = tmp_path / "copied"
    copy_skipping_hidden(practice, copy)
    assert (copy / "campaigns" / NAME / "sent-log.jsonl").is_file()
    assert (copy / "unsubscribe-key.txt").is_file()
    assert_codes_resolve(copy, server)
    assert_finished_once(run, copy, port, server, "rebuilt from the campaign's sent log")


def test_a_deleted_state_folder_mid_campaign_sends_nobody_twice(practice, smtp_server, run):
    server, port = smtp_server
    kill_mid_send(practice, server, port, 181)
    shutil.rmtree(practice / ".chairside")
    rerun = send(run, practice, port, "--dry-run")
    assert "rebuilt from the campaign's sent log" in rerun.output
    would = re.search(r"would send (\d+) messages", rerun.output).group(1)
    before = re.search(r"already sent (\d+), unknown (\d+)", rerun.output).groups()
    assert int(would) + sum(map(int, before)) == PATIENTS and int(before[0]) >= 181 - 4
    assert_finished_once(run, practice, port, server)


def test_an_older_state_folder_put_back_sends_nobody_twice(practice, tmp_path, smtp_server, run):
    """`.chairside/` from a copy taken at 100 sent, put back after 180: its ledger holds
    nothing the sent log lacks, so it is rebuilt from the sent log, and nobody is sent twice."""
    server, port = smtp_server
    kill_mid_send(practice, server, port, 100)
    shutil.copytree(practice / ".chairside", tmp_path / "state-at-100")
    kill_mid_send(practice, server, port, 180)
    shutil.rmtree(practice / ".chairside")
    shutil.copytree(tmp_path / "state-at-100", practice / ".chairside")
    assert_finished_once(
        run, practice, port, server, "had an older record of 2026-12; it was rebuilt"
    )


def test_a_whole_folder_backup_put_back_is_refused(practice, tmp_path, smtp_server, run):
    """Last week's backup of the whole folder, put back in its place after more was sent:
    its sent log is older than what this computer sent, so nothing is sent from it."""
    server, port = smtp_server
    kill_mid_send(practice, server, port, 100)
    backup = tmp_path / "backup"
    shutil.copytree(practice, backup)
    kill_mid_send(practice, server, port, 180)
    sent = len(server.received)
    shutil.rmtree(practice)
    shutil.copytree(backup, practice)

    for command in (("--dry-run",), ()):
        refused = send(run, practice, port, *command)
        assert_user_error(
            refused,
            "This copy of the practice folder is older than what this computer sent",
            "Use the newer copy",
            "--continue-from-copy",
        )
    # `status` still shows this copy's counts, and says they may be old.
    shown = run("status", NAME, cwd=practice)
    assert shown.exit_code == 0
    assert "Note: This copy of the practice folder is older" in shown.output
    as_json = json.loads(run("status", NAME, "--json", cwd=practice).output)
    assert as_json["copy_doubt"].startswith("This copy of the practice folder is older")
    assert len(server.received) == sent and duplicates(server) == 0
    assert_codes_resolve(practice, server)


def test_a_new_computer_waits_for_a_yes_then_resumes_once(
    practice, tmp_path, smtp_server, run, monkeypatch
):
    server, port = smtp_server
    kill_mid_send(practice, server, port, 181)
    moved = tmp_path / "on-the-new-computer"
    shutil.copytree(practice, moved)
    monkeypatch.setenv("CHAIRSIDE_STATE_HOME", str(tmp_path / "new-computer-state"))
    sent = len(server.received)

    refused = send(run, moved, port)
    assert_user_error(
        refused,
        "This computer has not sent 2026-12 of this practice before",
        "If this folder is the latest copy of the practice, run the same command with "
        "--continue-from-copy",
    )
    assert re.search(r"says 1[78]\d sent, \d in doubt, last on \d+ \w+ 20\d\d at", refused.output)
    assert len(server.received) == sent
    assert_codes_resolve(moved, server)
    resumed = send(run, moved, port, "--continue-from-copy")
    assert resumed.exit_code in (0, 3), resumed.output
    assert_everyone_once(run, moved, server)
    again = send(run, moved, port)  # from now on this computer knows it
    assert again.exit_code in (0, 3) and "0 sent now" in again.output, again.output


def test_the_studio_asks_the_same_question_in_its_own_words(
    practice, tmp_path, smtp_server, run, monkeypatch
):
    """`copy_doubt` is what the studio's Send page shows beside a box to tick; ticked, it
    passes `continue_from_copy` to `send_campaign` (the function `chairside send` calls)."""
    from chairside.delivery import prepare
    from chairside.ledger import CopyDoubt, copy_doubt
    from chairside.providers.smtp import SmtpSettings
    from chairside.sending import send_campaign

    server, port = smtp_server
    kill_mid_send(practice, server, port, 120)
    state = practice / ".chairside"
    assert copy_doubt(state, NAME) is None  # the computer that sent it
    monkeypatch.setenv("CHAIRSIDE_STATE_HOME", str(tmp_path / "new-computer-state"))
    doubt = copy_doubt(state, NAME)
    assert doubt is not None and doubt.kind == "new-computer" and doubt.said["sent"] >= 116
    assert "confirm it to continue" in doubt.plain
    assert not re.search(r"sent-log|\.jsonl|\.chairside|--|chairside ", doubt.plain)
    workspace = Workspace(practice)
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none")
    with pytest.raises(CopyDoubt):
        send_campaign(workspace, prepare(workspace, NAME), settings)
    report = send_campaign(workspace, prepare(workspace, NAME), settings, continue_from_copy=True)
    assert report.sent > 0 and copy_doubt(state, NAME) is None
    assert_everyone_once(run, practice, server)


def test_a_new_computer_with_only_the_visible_files(
    practice, tmp_path, smtp_server, run, monkeypatch
):
    """The worst move: a new computer and a copy without `.chairside/`."""
    server, port = smtp_server
    kill_mid_send(practice, server, port, 181)
    moved = tmp_path / "copied"
    copy_skipping_hidden(practice, moved)
    monkeypatch.setenv("CHAIRSIDE_STATE_HOME", str(tmp_path / "new-computer-state"))
    assert_user_error(send(run, moved, port), "This computer has not sent 2026-12")
    assert send(run, moved, port, "--continue-from-copy").exit_code in (0, 3)
    assert_everyone_once(run, moved, server)


def test_a_sync_tools_conflicted_copy_is_noticed(practice, smtp_server, run):
    server, port = smtp_server
    kill_mid_send(practice, server, port, 100)
    folder = practice / "campaigns" / NAME
    older = (folder / "sent-log.jsonl").read_bytes()  # as another computer last saw it
    kill_mid_send(practice, server, port, 180)
    (folder / "sent-log (Maria's conflicted copy).jsonl").write_bytes(older)
    sent = len(server.received)

    refused = send(run, practice, port)
    assert_user_error(
        refused,
        "holds more than one sent log of 2026-12",
        "sent-log (Maria's conflicted copy).jsonl holds nothing the sent log lacks: delete it",
    )
    assert len(server.received) == sent
    (folder / "sent-log (Maria's conflicted copy).jsonl").unlink()
    assert_finished_once(run, practice, port, server)


def test_a_newer_conflicted_copy_is_named_the_one_to_keep(practice, smtp_server, run):
    server, port = smtp_server
    kill_mid_send(practice, server, port, 100)
    folder = practice / "campaigns" / NAME
    older = (folder / "sent-log.jsonl").read_bytes()
    kill_mid_send(practice, server, port, 180)
    newer = folder / "sent-log.sync-conflict-20261205-101010-ABCDEFG.jsonl"
    shutil.copy(folder / "sent-log.jsonl", newer)
    (folder / "sent-log.jsonl").write_bytes(older)  # the sync tool kept the older one

    refused = send(run, practice, port)
    assert_user_error(refused, f"{newer.name} is newer than sent-log.jsonl: replace")
    newer.replace(folder / "sent-log.jsonl")
    assert_finished_once(run, practice, port, server)


def test_a_campaign_folder_copied_with_its_sent_log_is_refused(practice, smtp_server, run):
    """Last month's campaign copied as a start for the next: its sent log came along."""
    server, port = smtp_server
    assert send(run, practice, port).exit_code == 0
    shutil.copytree(practice / "campaigns" / NAME, practice / "campaigns/2027-01")
    result = run("send", "2027-01", "--smtp-port", str(port), cwd=practice)
    assert_user_error(result, "is the sent log of 2026-12, not of 2027-01", "delete this copy")
    assert len(server.received) == PATIENTS


def test_a_practice_from_before_moves_its_key_and_journal_forward(practice, smtp_server, run):
    """A practice that kept its key and journal in `.chairside/` (as Chairside did before):
    both move into the folder, the codes in mail already sent keep working, and the rerun
    sends nobody twice."""
    server, port = smtp_server
    kill_mid_send(practice, server, port, 150)
    state = practice / ".chairside"
    key = (practice / "unsubscribe-key.txt").read_text().split()[-1]
    (practice / "unsubscribe-key.txt").unlink()
    (state / "secret.key").write_text(key + "\n")
    (state / "journal").mkdir()
    (practice / "campaigns" / NAME / "sent-log.jsonl").rename(state / "journal" / f"{NAME}.log")

    assert_codes_resolve(practice, server)
    assert key in (practice / "unsubscribe-key.txt").read_text()
    assert_finished_once(run, practice, port, server)
    assert (practice / "campaigns" / NAME / "sent-log.jsonl").is_file()
    assert not (state / "journal" / f"{NAME}.log").exists()


def test_a_second_key_is_kept_and_both_kinds_of_code_resolve(practice, smtp_server, run):
    """A copy that made a key of its own meets the practice's old `.chairside/secret.key`:
    neither key is dropped, so the codes made with either resolve."""
    server, port = smtp_server
    kill_mid_send(practice, server, port, 50)
    first_key = (practice / "unsubscribe-key.txt").read_text().split()[-1]
    (practice / "unsubscribe-key.txt").write_text("")  # "lost for good": start a new key
    # A new key is a new practice to this computer's witness: it asks first.
    assert_user_error(send(run, practice, port), "This computer has not sent 2026-12")
    resumed = send(run, practice, port, "--continue-from-copy")
    assert resumed.exit_code in (0, 3) and duplicates(server) == 0, resumed.output
    (practice / ".chairside" / "secret.key").write_text(first_key + "\n")
    assert_codes_resolve(practice, server)
    assert f"older {first_key}" in (practice / "unsubscribe-key.txt").read_text()


def test_a_missing_key_is_refused_once_the_practice_has_sent(practice, tmp_path, smtp_server, run):
    server, port = smtp_server
    kill_mid_send(practice, server, port, 50)
    (practice / "unsubscribe-key.txt").unlink()
    shutil.rmtree(practice / ".chairside")
    refused = send(run, practice, port)
    assert_user_error(refused, "unsubscribe-key.txt is missing", "Put it back")
    assert not (practice / "unsubscribe-key.txt").exists()
    assert duplicates(server) == 0


def test_a_push_from_a_new_computer_waits_for_a_yes_too(
    tmp_workspace, tmp_path, http_server, run, monkeypatch
):
    """Provider pushes go through the same check: a push this computer never made, that
    the folder says was made, is refused until confirmed; then nobody is handed over twice."""
    from tests.test_provider_sendgrid import KEY, allow_baa, delivered, push

    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    accepted: list[dict] = []
    http_server.route(
        "POST", r"/v3/mail/send", lambda request: (accepted.append(request.json()), (202, b""))[1]
    )
    allow_baa(tmp_workspace)
    first = push(run, tmp_workspace, http_server, "--audience", _first_rows(tmp_workspace, 12))
    assert first.exit_code == 0, first.output
    handed = len(delivered(accepted))
    moved = tmp_path / "moved"
    copy_skipping_hidden(tmp_workspace, moved)
    monkeypatch.setenv("CHAIRSIDE_STATE_HOME", str(tmp_path / "new-computer-state"))

    refused = push(run, moved, http_server)
    assert_user_error(refused, "This computer has not sent 2026-12", "--continue-from-copy")
    assert len(delivered(accepted)) == handed
    again = push(run, moved, http_server, "--continue-from-copy")
    assert again.exit_code == 0, again.output
    addresses = [address for address, _tag in delivered(accepted)]
    assert len(addresses) == 31 == len(set(addresses))


def _first_rows(root: Path, rows: int) -> str:
    lines = (root / "audiences/patients.csv").read_text(encoding="utf-8").splitlines()
    path = root.parent / f"first-{rows}.csv"
    path.write_text("\n".join(lines[: rows + 1]) + "\n", encoding="utf-8")
    return str(path)


def test_a_sync_tools_copy_of_the_key_file_keeps_its_codes(practice, smtp_server, run):
    """Two computers each made a key (a conflicted copy of unsubscribe-key.txt): the codes
    made with the one in the conflicted copy still resolve."""
    server, port = smtp_server
    assert send(run, practice, port).exit_code == 0
    key_file = practice / "unsubscribe-key.txt"
    key_file.rename(practice / "unsubscribe-key (conflicted copy).txt")
    key_file.write_text("")  # this computer's own, new key
    assert_codes_resolve(practice, server)  # made with the key now in the conflicted copy


def test_the_witness_keeps_the_last_good_record_and_a_confirmed_copy_replaces_it(tmp_path):
    from chairside.witness import SLOT, Seen, Witness

    witness = Witness("practice")
    for seq in range(1, 13):
        witness.put(NAME, Seen(seq, f"h{seq}", "2026-12-05T10:00:00+00:00", "/p"))
    assert witness.get(NAME).seq == 12
    path = witness.path(NAME)
    data = bytearray(path.read_bytes())
    data[SLOT + 10 : SLOT + 40] = b"x" * 30  # seq 11's slot, as a write cut short leaves it
    path.write_bytes(bytes(data))
    assert witness.get(NAME) == Seen(12, "h12", "2026-12-05T10:00:00+00:00", "/p")
    data[10:40] = b"x" * 30  # both spoiled: not readable, which is not "nothing sent"
    path.write_bytes(bytes(data))
    assert witness.get(NAME) is None
    witness.put(NAME, Seen(5, "h5", "2026-12-05T10:00:00+00:00", "/q"), durable=True)
    witness.put(NAME, Seen(6, "h6", "2026-12-05T10:00:00+00:00", "/q"))
    witness.close()
    assert Witness("practice").get(NAME).seq == 6  # the confirmed copy's history, not 12


def test_the_studio_send_page_asks_before_going_on_from_a_copy(
    practice, tmp_path, smtp_server, run, monkeypatch
):
    """On a new computer the studio's confirmation shows why, with a box to tick; Yes
    without the box sends nobody, with it the send resumes and nobody gets it twice."""
    from tests.support import StudioServer, csrf_of
    from tests.test_studio_send import run_to_its_end

    server, port = smtp_server
    kill_mid_send(practice, server, port, 120)
    path = practice / "practice.toml"
    path.write_text(path.read_text().replace("port = 1025", f"port = {port}"))
    monkeypatch.setenv("CHAIRSIDE_STATE_HOME", str(tmp_path / "new-computer-state"))
    sent = len(server.received)
    studio = StudioServer(practice)
    try:
        client = studio.client()
        token = csrf_of(client.get(f"/c/{NAME}/send").text)
        confirm = client.post(f"/c/{NAME}/send/confirm", data={"csrf": token})
        assert "copy-doubt" in confirm.text and 'name="continue_from_copy"' in confirm.text
        expected = re.search(r'name="expected" value="(\d+)"', confirm.text).group(1)
        refused = client.post(f"/c/{NAME}/send/start", data={"csrf": token, "expected": expected})
        assert refused.status_code == 200 and "copy-doubt" in refused.text
        assert len(server.received) == sent
        started = client.post(
            f"/c/{NAME}/send/start",
            data={"csrf": token, "expected": expected, "continue_from_copy": "yes"},
        )
        assert started.status_code == 303, started.text
        run_to_its_end(client)
    finally:
        studio.close()
    assert_everyone_once(run, practice, server)

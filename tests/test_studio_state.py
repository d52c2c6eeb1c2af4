"""The campaigns list's states come from library reads of the ledger, never the studio's SQL."""

from __future__ import annotations

from pathlib import Path

import chairside.studio
from chairside.ledger import SENT, open_ledger
from chairside.studio.state import delivery
from chairside.workspace import Workspace
from tests.support import copy_demo


def test_a_campaign_handed_to_a_provider_reads_as_pushed_and_one_sent_by_smtp_does_not(tmp_path):
    root = copy_demo(tmp_path / "practice")
    workspace = Workspace(root)
    with open_ledger(root / ".chairside") as ledger:
        ledger.mark_sending("2026-12", "ann@example.com", "ann@example.com", "v1")
        ledger.finish("2026-12", "ann@example.com", SENT, reply="250 ok")
        ledger.mark_batch_sending(
            "2026-11", "sendgrid", "b1", [("bo@example.com", "bo@example.com", "v1")]
        )
        ledger.finish_batch("2026-11", "b1", reply="202")
        assert ledger.routes("2026-12") == {"smtp"}
        assert ledger.routes("2026-11") == {"sendgrid"}
        assert ledger.routes("2026-10") == set()
    by_smtp, pushed = delivery(workspace, "2026-12"), delivery(workspace, "2026-11")
    assert (by_smtp.sent, by_smtp.pushed) == (1, False)
    assert (pushed.sent, pushed.pushed) == (1, True)


def test_the_studio_reads_the_ledger_only_through_the_library():
    studio = Path(chairside.studio.__file__).parent
    for source in studio.rglob("*.py"):
        text = source.read_text("utf-8")
        assert ".db." not in text and "SELECT " not in text, source

"""Unsubscribes page over plain HTTP: the CLI's words, nothing added twice."""

from __future__ import annotations

import html

import pytest

from chairside.audience.suppression import read_suppressed
from tests.support import StudioServer, copy_demo, csrf_of


@pytest.fixture
def studio(tmp_path):
    server = StudioServer(copy_demo(tmp_path / "practice"))
    yield server
    server.close()


def test_import_a_provider_export_twice_adds_once(studio):
    client = studio.client()
    token = csrf_of(client.get("/unsubscribes").text)
    export = b"Email Address,Reason\nnew.one@example.com,unsubscribed\nnot-an-address,x\n"
    for expected in ("1 added, 0 already there", "0 added, 1 already there"):
        answer = client.post(
            "/unsubscribes/import",
            data={"csrf": token},
            files={"export": ("unsubscribed_members.csv", export, "text/csv")},
        )
        assert expected in answer.text
        assert answer.status_code == 400  # the unreadable line is reported, in the CLI's words
        assert "1 not added, not an address" in answer.text
        assert "unsubscribed_members.csv, line 3" in answer.text
    assert "new.one@example.com" in read_suppressed(studio.root / "audiences/suppressed.csv")


def test_adding_nothing_is_explained(studio):
    client = studio.client()
    token = csrf_of(client.get("/unsubscribes").text)
    answer = client.post("/unsubscribes/add", data={"csrf": token, "addresses": "  \n"})
    assert answer.status_code == 400
    assert "Type one or more addresses" in answer.text
    # beside its form, on the same page (not an error page whose only way is back)
    assert 'id="add-error"' in answer.text and "Back to the campaigns" not in answer.text


def sendable(studio: StudioServer) -> set[str]:
    """Who the CLI would email now (`chairside audience` reads the same files)."""
    from chairside.audience.patients import load_audience
    from chairside.workspace import Workspace

    return {p.email for p in load_audience(Workspace(studio.root)).patients}


def test_the_patient_list_is_imported_only_when_confirmed_then_undone(studio):
    client = studio.client()
    token = csrf_of(client.get("/unsubscribes").text)
    assert 'name="confirmed"' not in client.get("/unsubscribes").text  # asked only when needed
    before = sendable(studio)
    suppressed = studio.root / "audiences/suppressed.csv"
    was = suppressed.read_bytes()
    everyone = (studio.root / "audiences/patients.csv").read_bytes()

    def import_it(**extra):
        return client.post(
            "/unsubscribes/import",
            data={"csrf": token, **extra},
            files={"export": ("everyone.csv", everyone, "text/csv")},
        )

    answer = import_it()
    assert answer.status_code == 400
    assert "everyone.csv looks like a patient list" in answer.text
    assert "&#39;Email Opt In&#39;" in answer.text  # the CLI's reason: a consent column
    assert 'name="confirmed"' in answer.text and "Import it all the same" in answer.text
    assert suppressed.read_bytes() == was and sendable(studio) == before

    answer = import_it(confirmed="yes")
    assert "36 added, 3 already there" in answer.text  # as `unsubscribe --import --yes` says
    assert sendable(studio) == set()
    assert 'option value="everyone.csv"' in answer.text

    answer = client.post("/unsubscribes/undo-import", data={"csrf": token, "name": "everyone.csv"})
    assert answer.status_code == 200
    assert "36 resubscribed, 0 were not suppressed" in answer.text
    assert sendable(studio) == before  # kevin.tran, unsubscribed before, stays so


def test_most_of_the_list_without_its_columns_is_refused_too(studio):
    client = studio.client()
    token = csrf_of(client.get("/unsubscribes").text)
    export = ("Email\n" + "\n".join(sorted(sendable(studio))[:20]) + "\n").encode()
    answer = client.post(
        "/unsubscribes/import",
        data={"csrf": token},
        files={"export": ("contacts.csv", export, "text/csv")},
    )
    assert answer.status_code == 400
    assert "20 of the" in answer.text and "patients who can be emailed now" in answer.text


def test_undo_an_unsubscribe_in_the_cli_words(studio, run):
    client = studio.client()
    token = csrf_of(client.get("/unsubscribes").text)
    client.post("/unsubscribes/add", data={"csrf": token, "addresses": "maria.lopez@example.com"})
    assert "maria.lopez@example.com" not in sendable(studio)
    answer = client.post(
        "/unsubscribes/undo",
        data={
            "csrf": token,
            "addresses": "Maria Lopez <maria.lopez@example.com>\nnobody@example.com",
            "reason": "asked at the front desk",
        },
    )
    assert answer.status_code == 200
    assert "1 resubscribed, 1 were not suppressed" in answer.text
    assert "maria.lopez@example.com" in sendable(studio)
    text = (studio.root / "audiences/suppressed.csv").read_text("utf-8")
    assert "resubscribed: asked at the front desk" in text
    # The CLI sees the same file: undoing again finds nothing to undo.
    result = run("unsubscribe", "--undo", "maria.lopez@example.com", cwd=studio.root)
    assert "0 resubscribed, 1 were not suppressed" in result.output


def test_an_unsubscribe_code_from_a_link_unsubscribes_its_patient(studio):
    """`chairside unsubscribe --token CODE` on the page: the code names nobody until resolved."""
    from chairside.tokens import Tokens, load_key

    code = Tokens(load_key(studio.root / ".chairside"))("maria.lopez@example.com")
    client = studio.client()
    token = csrf_of(client.get("/unsubscribes").text)
    answer = client.post("/unsubscribes/codes", data={"csrf": token, "codes": f" {code}\n"})
    assert answer.status_code == 200 and "1 added, 0 already there" in answer.text
    assert "maria.lopez@example.com" in read_suppressed(studio.root / "audiences/suppressed.csv")
    assert "maria.lopez@example.com" not in sendable(studio)

    wrong = client.post("/unsubscribes/codes", data={"csrf": token, "codes": "0" * 26})
    assert wrong.status_code == 400 and "no patient has the code" in wrong.text
    assert 'id="codes-error"' in wrong.text


def test_the_footers_mailto_link_and_a_subject_line_work_and_a_bad_line_spoils_nothing(studio, run):
    from chairside.tokens import Tokens, load_key

    codes = Tokens(load_key(studio.root / ".chairside"))
    maria, ben = codes("maria.lopez@example.com"), codes("james.whitfield@example.com")
    lines = "\n".join(
        [
            f"mailto:unsubscribe@harborlanedental.example?subject=unsubscribe%20{maria}",
            f"unsubscribe {ben}",
            "1" * 26,
            "thanks, please stop",
        ]
    )
    client = studio.client()
    token = csrf_of(client.get("/unsubscribes").text)
    answer = client.post("/unsubscribes/codes", data={"csrf": token, "codes": lines})
    assert answer.status_code == 400
    assert "2 added" in answer.text and "2 lines not used" in answer.text
    assert "thanks, please stop: no unsubscribe code in it" in html.unescape(answer.text)
    suppressed = read_suppressed(studio.root / "audiences/suppressed.csv")
    assert {"maria.lopez@example.com", "james.whitfield@example.com"} <= suppressed
    # The CLI takes the same lines, adds the good ones and exits 1 naming the bad.
    cora = codes("priya.raman@example.com")
    result = run(
        "unsubscribe", "--token", f"unsubscribe {cora}", "--token", "nonsense!", cwd=studio.root
    )
    assert result.exit_code == 1 and "1 added" in result.output
    assert "'nonsense!': no unsubscribe code in it" in result.output
    assert "priya.raman@example.com" in read_suppressed(studio.root / "audiences/suppressed.csv")

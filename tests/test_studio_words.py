"""Every studio page speaks the office's language: no file of the practice, no setting's
place in a TOML file, no command-line option and no command, in any page's visible text,
including its error messages. The crawl follows every link from the campaigns list and
adds the pages that only a form or a problem shows."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

import lxml.html
import pytest

from chairside.ledger import SENT, open_ledger
from tests.support import StudioServer, copy_demo, csrf_of

FORBIDDEN = {
    "a practice file": re.compile(
        r"practice\.toml|campaign\.toml|segments\.toml|suppressed\.csv|audiences/|\.chairside/"
        r"|[\w/.-]+/[\w.-]+\.csv\b"
    ),
    "a TOML path": re.compile(
        r"\[\[?(smtp|sender|email|brand|providers|patients|segments|imap)"
        r"[\].]"
    ),
    "an option": re.compile(r"(?<![\w-])--[a-z][a-z-]+"),
    "a command": re.compile(r"\bchairside [a-z]"),
    "an environment variable": re.compile(r"\b[A-Z]+_(API_KEY|PASSWORD)\b|\bCHAIRSIDE_[A-Z_]+"),
    "a concern's code": re.compile(r"\b(tmj|neck_shoulder):"),
    "one plural": re.compile(r"\b1 (variants|versions|errors|warnings|posts|patients)\b"),
    "an ISO date": re.compile(r"\b20\d\d-\d\d-\d\d\b"),
    "another word for concern or version": re.compile(r"\b(segments?|variants?)\b", re.I),
}


def visible_text(html: str) -> str:
    tree = lxml.html.fromstring(html)
    for hidden in tree.xpath("//script|//style|//template|//*[@hidden]"):
        hidden.drop_tree()
    return " ".join(tree.text_content().split())


def problems(where: str, html: str) -> list[str]:
    text = visible_text(html)
    found = []
    for what, pattern in FORBIDDEN.items():
        for match in pattern.finditer(text):
            context = text[max(0, match.start() - 60) : match.end() + 60]
            found.append(f"{where}: {what} {match.group(0)!r} in …{context}…")
    return found


def crawl(client, start: str = "/") -> dict[str, str]:
    """Every studio page reachable by links from `start` (not the email previews: they are
    the practice's email, not the studio's words)."""
    seen: dict[str, str] = {}
    queue = [start]
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        answer = client.get(url)
        seen[url] = answer.text
        if "text/html" not in answer.headers.get("content-type", ""):
            continue
        for href in lxml.html.fromstring(answer.text).xpath("//a/@href"):
            target = urlsplit(urljoin(url, href))
            path = target.path + (f"?{target.query}" if target.query else "")
            if target.netloc not in ("", f"127.0.0.1:{client.base_url.port}"):
                continue
            if "/preview/" in path or path.startswith("/static") or path.startswith("/login"):
                continue
            queue.append(path)
    return seen


@pytest.fixture
def studio(tmp_path):
    root = copy_demo(tmp_path / "practice")
    # A concern word in what only the jaw version's patients get: an error shown on Edit.
    campaign = root / "campaigns/2026-12/campaign.toml"
    campaign.write_text(
        campaign.read_text("utf-8").replace(
            "[segments.tmj]\n", '[segments.tmj]\nsubject = "Help for your TMJ"\n'
        ),
        "utf-8",
    )
    server = StudioServer(root)
    yield server
    server.close()


def test_no_page_names_a_file_a_setting_an_option_or_a_command(studio, tmp_path, monkeypatch):
    monkeypatch.delenv("MAILCHIMP_API_KEY", raising=False)
    client = studio.client()
    pages = crawl(client)
    assert {"/", "/new", "/c/2026-12/edit", "/c/2026-12/send", "/patients", "/unsubscribes"} <= (
        set(pages)
    )
    token = csrf_of(pages["/new"])
    shown = dict(pages)
    # Pages only a form or a problem shows.
    shown["push without a key"] = client.post(
        "/c/2026-12/push/confirm", data={"csrf": token, "provider": "mailchimp"}
    ).text
    assert "Add the key in Settings" in shown["push without a key"]
    shown["test to a bad address"] = client.post(
        "/c/2026-12/send/test", data={"csrf": token, "address": "not an address"}
    ).text
    shown["send refused by the server"] = client.post(
        "/c/2026-12/send/confirm", data={"csrf": token}
    ).text
    shown["not a patient list"] = client.post(
        "/patients/upload",
        data={"csrf": token},
        files={"export": ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "image/png")},
    ).text
    shown["columns asked"] = client.post(
        "/patients/upload",
        data={"csrf": token},
        files={"export": ("odd.csv", b"Pt Mail,Given\nann@example.com,Ann\n", "text/csv")},
    ).text
    shown["columns that do not fit"] = client.post(
        "/patients/columns", data={"csrf": token, "col_email": "No Such"}
    ).text
    shown["bad unsubscribe codes"] = client.post(
        "/unsubscribes/codes", data={"csrf": token, "codes": "nonsense\n" + "1" * 26}
    ).text
    shown["no such campaign"] = client.get("/c/no-such-month/edit").text
    shown["a bad feed"] = client.post(
        "/new",
        data={"csrf": token, "name": "2027-02"},
        files={"feeds": ("feed.xml", b"<rss><channel>", "text/xml")},
    ).text
    shown["add nothing"] = client.post("/c/2026-12/posts/add", data={"csrf": token}).text
    # A mail server that needs a login, and no password saved: said, with the way there.
    practice = studio.root / "practice.toml"
    practice.write_text(
        practice.read_text("utf-8").replace('user = ""', 'user = "office@example.com"'), "utf-8"
    )
    no_password = client.post(
        "/c/2026-12/send/test", data={"csrf": token, "address": "office@example.com"}
    ).text
    assert "The mail server's password is not set. Add it in Settings." in html.unescape(
        no_password
    )
    assert '<a href="/settings">Open Settings</a>' in no_password
    shown["a mail server without its password"] = no_password
    # A lost send record.
    with open_ledger(studio.root / ".chairside") as ledger:
        ledger.mark_sending("2026-12", "ann@example.com", "ann@example.com", "v1")
        ledger.finish("2026-12", "ann@example.com", SENT, reply="250 ok")
    (studio.root / ".chairside/state.db").unlink()
    for url in ("/", "/c/2026-12/edit", "/c/2026-12/send", "/c/2026-12/delete"):
        shown[f"{url} with its send record lost"] = client.get(url).text

    found = [line for where, html in shown.items() for line in problems(where, html)]
    assert found == []


def test_the_jaw_versions_subject_error_sits_under_its_own_box(studio):
    page = studio.client().get("/c/2026-12/edit").text
    tree = lxml.html.fromstring(page)
    own = tree.xpath('//input[@name="subject_tmj"]/../following-sibling::ul[1]')
    main = tree.xpath('//input[@name="subject"]/../following-sibling::*[1]')
    assert own and "concern-named" in own[0].text_content()
    assert "concern-named" not in (main[0].text_content() if main else "")
    assert "Jaw" in own[0].text_content() or "jaw" in own[0].text_content().lower()


@pytest.mark.parametrize(
    ("library", "studio", "gone"),
    [
        ("Stopped. Run `chairside send 2027-02` again to continue.",
         "Press Resume sending to continue.", "chairside"),
        ("If one of them records consent (Y/N), add this line under [patients.columns] in "
         'audiences/segments.toml:\n  consent = "OK"',
         'choose "OK" for it under "Which column is which" below', "segments.toml"),
        ("Reword the subject in campaign.toml (or its [segments.*] part).",
         "Reword the subject here.", "campaign.toml"),
        ("No Mailchimp audience: pass --audience-id, or set audience_id under "
         "[providers.mailchimp] in practice.toml, or the environment variable "
         "MAILCHIMP_AUDIENCE_ID.", "set it with the mailchimp settings in Settings",
         "--audience-id"),
        ("The Mailchimp API key is not set. Save it in this computer's keychain with "
         "`chairside secrets set mailchimp` (or in the studio's Settings), or set the "
         "environment variable MAILCHIMP_API_KEY.", "Add it in Settings", "MAILCHIMP_API_KEY"),
        ("feed.xml: no posts published on or after 2026-12-01", "1 December 2026", "2026-12-01"),
    ],
)  # fmt: skip
def test_the_librarys_words_become_the_studios(library, studio, gone):
    from chairside.studio.words import plain

    said = plain(library)
    assert studio in said and gone not in said

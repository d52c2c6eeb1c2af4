"""Settings pages over HTTP against the real studio: practice.toml written with its comments,
every problem beside its field, passwords and keys in the keychain and in no file, and the
connection tests run against a real SMTP server with a login and a real Dovecot mailbox."""

from __future__ import annotations

import io
import re
from pathlib import Path

import lxml.html
import pytest

from chairside import secrets
from chairside.workspace import Workspace, load_practice
from tests.conftest import free_port
from tests.support import StudioServer, copy_demo, csrf_of, smtp_with_login

SMTP_USER, SMTP_PASSWORD = "office@harborlanedental.example.com", "s3cret-smtp-Pa55"


@pytest.fixture
def studio(tmp_path):
    server = StudioServer(copy_demo(tmp_path / "practice"))
    yield server
    server.close()


def _post(studio: StudioServer, path: str, data: dict, files=None):
    client = studio.client()
    token = csrf_of(client.get(path).text)
    return client.post(path, data={"csrf": token, **data}, files=files)


def _beside(page: str, field: str, kind: str = "error") -> str:
    """The message shown right under `field` (its -error or -warning paragraph)."""
    found = lxml.html.fromstring(page).xpath(f'//*[@id="{field}-{kind}"]')
    return found[0].text_content() if found else ""


def _no_secret_in_any_file(root: Path, *secret_values: str) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for value in secret_values:
                assert value.encode() not in data, f"{value!r} written to {path}"


PRACTICE_FORM = {
    "name": "Lakeside Dental",
    "address": "12 Main St, Springfield, IL 62701",
    "phone": "(217) 555-0100",
    "website": "https://lakesidedental.example.com",
    "booking_url": "",
    "email_from": "news@lakesidedental.example.com",
    "email_from_name": "",
    "email_reply_to": "frontdesk@lakesidedental.example.com",
}


def test_the_practice_is_saved_with_the_files_comments(studio):
    before = (studio.root / "practice.toml").read_text()
    answer = _post(studio, "/settings", PRACTICE_FORM)
    assert answer.status_code == 200, answer.text
    assert "Saved." in answer.text
    text = (studio.root / "practice.toml").read_text()
    comments = [line for line in before.splitlines() if line.lstrip().startswith("#")]
    assert all(comment in text for comment in comments)
    assert 'security = "none"   # "starttls"' in text  # an inline comment survives too
    practice = load_practice(Workspace(studio.root))
    assert practice.name == "Lakeside Dental"
    assert practice.from_email == "news@lakesidedental.example.com"
    assert practice.booking_url == "https://lakesidedental.example.com"  # empty: the website
    assert practice.from_name == "Lakeside Dental"
    assert "booking_url" not in text and "from_name" not in text


def test_every_problem_shows_beside_its_field_and_nothing_is_saved(studio):
    before = (studio.root / "practice.toml").read_bytes()
    form = dict(PRACTICE_FORM, email_from="not-an-address", website="lakeside", address="")
    answer = _post(studio, "/settings", form)
    assert answer.status_code == 400
    assert "is not an email address" in _beside(answer.text, "email_from")
    assert "is not a web address" in _beside(answer.text, "website")
    assert "Missing" in _beside(answer.text, "address")
    assert _beside(answer.text, "name") == ""
    # What was typed stays in the form; the file is as it was.
    assert 'value="not-an-address"' in answer.text
    assert (studio.root / "practice.toml").read_bytes() == before
    # No file, TOML path or command is named.
    for word in ("practice.toml", "[email]", "chairside "):
        assert word not in lxml.html.fromstring(answer.text).text_content()


def test_init_placeholders_show_as_fields_to_fill_in(run, tmp_path):
    assert run("init", str(tmp_path / "new")).exit_code == 0
    server = StudioServer(tmp_path / "new")
    try:
        page = server.client().get("/settings").text
    finally:
        server.close()
    form = lxml.html.fromstring(page).xpath("//form[@action='/settings']")[0]
    assert [i.get("value") for i in form.xpath(".//input[@name='name' or @name='phone']")] == [
        "",
        "",
    ]
    assert page.count("Still to fill in") == 6  # the sender name is the name, too


@pytest.fixture
def smtp_login():
    with smtp_with_login(SMTP_USER, SMTP_PASSWORD) as server:
        yield server


def _smtp_form(port: int, password: str, security: str = "none") -> dict:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": str(port),
        "smtp_security": security,
        "smtp_user": SMTP_USER,
        "password": password,
        "action": "test",
    }


def test_mail_server_test_logs_in_sends_nothing_and_keeps_the_password_in_the_keychain(
    studio, smtp_login
):
    recorder, port = smtp_login
    answer = _post(studio, "/settings/mail-server", _smtp_form(port, SMTP_PASSWORD))
    assert answer.status_code == 200, answer.text
    assert f"logged in as {SMTP_USER}" in answer.text
    assert "Nothing was sent" in answer.text
    assert recorder.received == []
    assert secrets.get("smtp", secrets.account_for("smtp", Workspace(studio.root))) == (
        SMTP_PASSWORD
    )
    page = studio.client().get("/settings/mail-server").text
    assert "Saved in this computer&#39;s keychain." in page
    practice = load_practice(Workspace(studio.root))
    assert (practice.smtp.port, practice.smtp.user) == (port, SMTP_USER)
    _no_secret_in_any_file(studio.root, SMTP_PASSWORD)


def test_a_wrong_password_is_shown_beside_the_password_field(studio, smtp_login):
    _recorder, port = smtp_login
    answer = _post(studio, "/settings/mail-server", _smtp_form(port, "wrong-password"))
    assert answer.status_code == 400, lxml.html.fromstring(answer.text).text_content()
    assert "refused the login" in _beside(answer.text, "password")
    assert "535" in _beside(answer.text, "password")


def test_asking_for_encryption_a_server_does_not_offer_sends_no_password(studio, smtp_login):
    _recorder, port = smtp_login
    answer = _post(studio, "/settings/mail-server", _smtp_form(port, SMTP_PASSWORD, "starttls"))
    assert answer.status_code == 400
    assert "no password was sent" in _beside(answer.text, "smtp_security")


def test_an_unreachable_server_is_shown_beside_the_host(studio):
    answer = _post(studio, "/settings/mail-server", _smtp_form(free_port(), SMTP_PASSWORD))
    assert answer.status_code == 400
    assert "Cannot reach" in _beside(answer.text, "smtp_host")


def test_without_a_keychain_the_page_says_so_and_names_the_variable(studio, monkeypatch):
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    page = studio.client().get("/settings/mail-server").text
    assert "no keychain" in page and "CHAIRSIDE_SMTP_PASSWORD" in page
    form = _smtp_form(1025, SMTP_PASSWORD) | {"action": "save"}
    answer = _post(studio, "/settings/mail-server", form)
    assert answer.status_code == 400
    assert "CHAIRSIDE_SMTP_PASSWORD" in _beside(answer.text, "password")
    _no_secret_in_any_file(studio.root, SMTP_PASSWORD)


def _png(color: tuple[int, int, int, int], size=(120, 40)) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((10, 10, 110, 30), fill=color)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


LOOK = {"brand_color": "#0B5D6B", "brand_text_color": "", "brand_logo": "", "brand_logo_alt": "x"}


def test_a_logo_that_vanishes_on_the_header_is_warned_beside_the_upload(studio):
    """Every look shows the logo on a white card: a white logo vanishes there."""
    white = _png((255, 255, 255, 255))
    answer = _post(studio, "/settings/look", LOOK, files={"logo_file": ("logo.png", white)})
    assert answer.status_code == 200, answer.text
    assert "hard to see" in _beside(answer.text, "logo_file", "warning")
    assert "dark version" in _beside(answer.text, "logo_file", "warning")
    assert (studio.root / "assets/logo.png").read_bytes() == white
    assert studio.client().get("/settings/logo").content == white

    teal = _png((10, 80, 95, 255))  # the brand colour itself: fine on white
    answer = _post(studio, "/settings/look", LOOK, files={"logo_file": ("logo.png", teal)})
    assert _beside(answer.text, "logo_file", "warning") == ""


def test_an_svg_or_a_non_picture_is_refused_beside_the_upload(studio):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'
    answer = _post(studio, "/settings/look", LOOK, files={"logo_file": ("logo.svg", svg)})
    assert answer.status_code == 400
    assert "PNG" in _beside(answer.text, "logo_file")
    answer = _post(studio, "/settings/look", LOOK, files={"logo_file": ("logo.png", b"hello")})
    assert "not a picture" in _beside(answer.text, "logo_file")
    assert not (studio.root / "assets").exists()


def test_brand_colours_are_checked_and_a_bad_one_is_refused_beside_it(studio):
    answer = _post(studio, "/settings/look", dict(LOOK, brand_text_color="#1a6a78"))
    assert answer.status_code == 200
    assert "hard to read" in _beside(answer.text, "brand_text_color", "warning")
    answer = _post(studio, "/settings/look", dict(LOOK, brand_color="teal"))
    assert answer.status_code == 400
    assert "is not a colour" in _beside(answer.text, "brand_color")
    answer = _post(studio, "/settings/look", dict(LOOK, brand_logo="logo.png"))
    assert "is not a web address" in _beside(answer.text, "brand_logo")


def test_provider_keys_go_to_the_keychain_and_their_settings_to_the_file(studio):
    form = {
        "mailchimp_key": "abc123-us21",
        "mailchimp": "4ca5d1b2e3",
        "sendgrid_key": "SG.sendgrid-secret",
        "sendgrid": "12345",
        "mailgun_key": "key-mailgun-secret",
        "mailgun": "mg.harborlanedental.example.com",
        "sendgrid_baa": "yes",
    }
    answer = _post(studio, "/settings/providers", form)
    assert answer.status_code == 200, answer.text
    practice = load_practice(Workspace(studio.root))
    assert practice.providers["sendgrid"]["baa"] is True
    assert "baa" not in practice.providers["mailchimp"]
    assert practice.providers["mailchimp"]["audience_id"] == "4ca5d1b2e3"
    assert practice.providers["sendgrid"]["unsubscribe_group"] == 12345
    assert practice.providers["mailgun"]["domain"] == "mg.harborlanedental.example.com"
    assert secrets.get("sendgrid") == "SG.sendgrid-secret"
    assert answer.text.count("Saved in this computer") == 3
    _no_secret_in_any_file(studio.root, "abc123-us21", "SG.sendgrid-secret", "key-mailgun")

    unticked = {k: v for k, v in form.items() if k != "sendgrid_baa"}
    assert _post(studio, "/settings/providers", unticked).status_code == 200
    assert "baa" not in load_practice(Workspace(studio.root)).providers["sendgrid"]

    answer = _post(
        studio, "/settings/providers", dict(form, sendgrid="twelve", mailchimp_key="abc123")
    )
    assert answer.status_code == 400
    assert "whole number" in _beside(answer.text, "sendgrid")
    assert "data centre" in _beside(answer.text, "mailchimp_key")
    assert secrets.get("mailchimp") == "abc123-us21"  # nothing of a refused form is kept


# -- the mailbox, against a real Dovecot ---------------------------------------------------
def test_mailbox_test_logs_in_and_opens_the_folder(studio, imap):
    from tests.imap_server import PASSWORD, USER

    form = {
        "imap_host": "127.0.0.1",
        "imap_port": str(imap.port),
        "imap_tls": "none",
        "imap_user": USER,
        "imap_folder": "INBOX",
        "password": PASSWORD,
        "action": "test",
    }
    answer = _post(studio, "/settings/mailbox", form)
    assert answer.status_code == 200, answer.text
    assert "opened INBOX. Nothing was changed." in answer.text
    _no_secret_in_any_file(studio.root, PASSWORD)

    answer = _post(studio, "/settings/mailbox", dict(form, imap_folder="Nowhere", password=""))
    assert answer.status_code == 400
    assert "no folder 'Nowhere'" in _beside(answer.text, "imap_folder")
    answer = _post(studio, "/settings/mailbox", dict(form, password="wrong"))
    assert "refused the login" in _beside(answer.text, "password")
    answer = _post(studio, "/settings/mailbox", dict(form, imap_host="mail.example.com"))
    assert "unencrypted" in _beside(answer.text, "imap_tls")
    answer = _post(studio, "/settings/mailbox", dict(form, imap_folder='Café "x"'))
    assert "plain letters" in _beside(answer.text, "imap_folder")


SETTINGS_PAGES = (
    "/settings",
    "/settings/look",
    "/settings/mail-server",
    "/settings/mailbox",
    "/settings/providers",
)


def test_settings_pages_fit_a_phone_and_axe_finds_nothing(studio):
    """Headless Chromium at 360 px: no sideways scroll, and axe-core finds no violation,
    on each page as it opens and with errors shown beside the fields."""
    from tests.support import chromium

    axe = (Path(__file__).parent / "data/axe.min.js").read_text(encoding="utf-8")
    (studio.root / "assets").mkdir()
    (studio.root / "assets/logo.png").write_bytes(_png((10, 80, 95, 255)))
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 360, "height": 800}, bypass_csp=True)
        page = context.new_page()
        page.goto(studio.login_url)

        def inspect(where: str) -> None:
            assert page.evaluate("document.documentElement.scrollWidth") <= 360, where
            page.add_script_tag(content=axe)
            found = page.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']}))"
                ".violations.map(v => v.id + ': ' + v.nodes.map(n => n.target).join(' '))"
            )
            assert found == [], (where, found)

        for path in SETTINGS_PAGES:
            page.goto(studio.url + path)
            inspect(path)
        page.goto(studio.url + "/settings")
        page.fill("#email_from", "news@lakeside")  # the browser lets it through; Chairside not
        page.click("button[value=save]")
        assert "is not an email address" in page.inner_text("#email_from-error")
        inspect("/settings with an error")
        page.goto(studio.url + "/settings/mail-server")
        page.fill("#smtp_port", "99999")
        page.click("button[value=save]")
        assert "A port is a number" in page.inner_text("#smtp_port-error")
        inspect("/settings/mail-server with an error")


def test_settings_pages_name_no_file_setting_option_or_command(studio, run, tmp_path):
    pattern = re.compile(r"\.toml|\.csv|\[[a-z_.]+\]|(?<![\w-])--[a-z]|chairside [a-z]|TODO")
    assert run("init", str(tmp_path / "new")).exit_code == 0  # with its placeholders
    for root in (studio.root, tmp_path / "new"):
        server = StudioServer(root) if root != studio.root else studio
        client = server.client()
        try:
            for path in SETTINGS_PAGES:
                doc = lxml.html.fromstring(client.get(path).text)
                # The practice's own name, as typed, in the title and the layout's header.
                for shown_name in doc.xpath("//title | //header[@class='top']/strong"):
                    shown_name.drop_tree()
                text = doc.text_content()
                assert not pattern.search(text), (root.name, path, pattern.findall(text))
        finally:
            if server is not studio:
                server.close()


def test_on_a_new_practice_the_mail_server_lands_where_init_explains_it(run, tmp_path):
    assert run("init", str(tmp_path / "new"), "--email", "news@bay.example.com").exit_code == 0
    server = StudioServer(tmp_path / "new")
    try:
        form = {"smtp_host": "smtp.bay.example.com", "smtp_port": "", "smtp_security": "ssl"}
        answer = _post(server, "/settings/mail-server", form | {"smtp_user": "", "password": ""})
    finally:
        server.close()
    assert answer.status_code == 200, answer.text
    text = (tmp_path / "new/practice.toml").read_text()
    lines = text.splitlines()
    assert "# [smtp]" not in lines and lines.count("[smtp]") == 1
    where = lines.index("[smtp]")
    assert "The security choices" in lines[where - 3] and lines.index("# [imap]") > where
    smtp = load_practice(Workspace(tmp_path / "new")).smtp
    assert (smtp.host, smtp.port, smtp.security, smtp.user) == (
        "smtp.bay.example.com", 0, "ssl", ""
    )  # fmt: skip


def test_the_blog_feed_and_time_zone_are_set_on_the_practice_page(studio):
    form = dict(
        PRACTICE_FORM,
        feed_url="https://lakesidedental.example.com/feed/",
        schedule_timezone="America/Chicago",
    )
    answer = _post(studio, "/settings", form)
    assert answer.status_code == 200, answer.text
    import tomllib

    data = tomllib.loads((studio.root / "practice.toml").read_text())
    assert data["feed"]["url"] == "https://lakesidedental.example.com/feed/"
    assert data["schedule"]["timezone"] == "America/Chicago"
    wrong = _post(studio, "/settings", dict(form, schedule_timezone="Springfield time"))
    assert wrong.status_code == 400
    assert "is not a time zone name" in _beside(wrong.text, "schedule_timezone")


def test_a_bounce_address_is_set_on_the_practice_page_and_a_foreign_one_refused(studio):
    foreign = dict(PRACTICE_FORM, email_bounce_address="bounces@elsewhere.example.com")
    refused = _post(studio, "/settings", foreign)
    assert refused.status_code == 400
    assert "must be an address of lakesidedental" in _beside(refused.text, "email_bounce_address")
    assert "[email]" not in lxml.html.fromstring(refused.text).text_content()
    form = dict(PRACTICE_FORM, email_bounce_address="bounces@lakesidedental.example.com")
    assert _post(studio, "/settings", form).status_code == 200
    practice = load_practice(Workspace(studio.root))
    assert practice.return_path("ab" * 13) == f"bounces+b-{'ab' * 13}@lakesidedental.example.com"

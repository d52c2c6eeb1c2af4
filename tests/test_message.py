"""`MessageTemplate`: the pre-encoded message of each demo variant, filled per recipient,
checked against what the stdlib's `EmailMessage` makes of the same recipient."""

from __future__ import annotations

import dataclasses
import email
import html
import re
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage

import lxml.html
import pytest

from chairside import placeholders
from chairside.build import render_campaign
from chairside.message import MessageTemplate, Person, _header, list_id_header
from chairside.render.pipeline import Rendered
from chairside.workspace import Practice, Workspace
from tests.support import copy_demo

TOKEN = "k3y7okenabc234"
HEADERS = {
    "From",
    "Reply-To",
    "Subject",
    "MIME-Version",
    "Content-Type",
    "To",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
    "Precedence",
}
HOSTILE = [
    "<script>alert(1)</script>",
    "{{ 7*7 }}",
    '"Eve" <evil@example.com>',
    "Ann\r\nBcc: all@example.com",
    "José Ñúñez",
    ("Bartholomew " * 25)[:300],
]
HOSTILE_IDS = ["script", "jinja", "quoted-address", "crlf-bcc", "non-ascii", "300-chars"]


@dataclasses.dataclass(frozen=True)
class Demo:
    practice: Practice
    rendered: tuple[Rendered, ...]
    templates: dict[str, MessageTemplate]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    root = copy_demo(tmp_path_factory.mktemp("message") / "practice")
    practice, _campaign, rendered = render_campaign(Workspace(root), "2026-12")
    templates = {r.segment: template_for(practice, r) for r in rendered}
    return Demo(practice, rendered, templates)


def template_for(practice: Practice, rendered: Rendered) -> MessageTemplate:
    return MessageTemplate(
        practice=practice,
        subject=rendered.subject,
        html_body=rendered.html,
        text_body=rendered.text,
    )


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)


def naive(practice: Practice, rendered: Rendered, person: Person) -> EmailMessage:
    """The same recipient's message the slow, obvious way."""
    values = placeholders.values_for(
        placeholders.Recipient(person.first_name, person.token),
        fallback_name=practice.greeting_fallback,
        unsubscribe_url=practice.unsubscribe_url,
        unsubscribe_email=practice.unsubscribe_email,
    )
    msg = EmailMessage()
    msg["From"] = Address(practice.from_name, addr_spec=practice.from_email)
    msg["To"] = Address(placeholders.clean_name(person.first_name), addr_spec=person.email)
    msg["Subject"] = rendered.subject
    msg.set_content(placeholders.fill_text(rendered.text, values))
    msg.add_alternative(placeholders.fill_html(rendered.html, values), subtype="html")
    # Parse it back, as ours is, so both are compared after the same round trip.
    return parse(msg.as_bytes(policy=policy.SMTP))


def content_types(msg: EmailMessage) -> list[str]:
    return [part.get_content_type() for part in msg.walk()]


def part(msg: EmailMessage, subtype: str) -> str:
    found = msg.get_body(preferencelist=(subtype,))
    assert found is not None, subtype
    return found.get_content().replace("\r\n", "\n")


def addresses(msg: EmailMessage, name: str) -> list[tuple[str, str]]:
    return [(a.display_name, a.addr_spec) for a in msg[name].addresses]


def raw_lines(data: bytes) -> list[bytes]:
    """The message's lines, each still ending in CRLF (split after every line feed)."""
    return data.splitlines(keepends=True)


def body_lines(data: bytes) -> list[bytes]:
    return data.split(b"\r\n\r\n", 1)[1].split(b"\r\n")


# --- the same message as the stdlib's ------------------------------------------------------


@pytest.mark.parametrize("segment", ["tmj", "neck_shoulder", "general"])
@pytest.mark.parametrize(
    "first_name", ["Maria", "", *HOSTILE], ids=["Maria", "empty", *HOSTILE_IDS]
)
def test_same_message_as_the_stdlib(demo: Demo, segment: str, first_name: str) -> None:
    rendered = next(r for r in demo.rendered if r.segment == segment)
    person = Person("maria.lopez@example.com", first_name, TOKEN)
    ours = parse(demo.templates[segment].fill(person).data)
    theirs = naive(demo.practice, rendered, person)

    assert content_types(ours) == ["multipart/alternative", "text/plain", "text/html"]
    assert content_types(ours) == content_types(theirs)
    assert part(ours, "plain") == part(theirs, "plain")
    assert part(ours, "html") == part(theirs, "html")
    for name in ("Subject", "From", "To"):
        assert str(ours[name]) == str(theirs[name]), name
    assert addresses(ours, "To") == addresses(theirs, "To")
    assert addresses(ours, "From") == [(demo.practice.from_name, demo.practice.from_email)]
    assert str(ours["Subject"]) == rendered.subject
    assert ours.defects == []
    for body in ours.walk():
        assert body.defects == [], body.get_content_type()
        if body.get_content_maintype() == "text":
            assert body.get_content_charset() == "utf-8"


def test_no_placeholder_is_left_in_either_part(demo: Demo) -> None:
    for template in demo.templates.values():
        msg = parse(template.fill(Person("maria.lopez@example.com", "Maria", TOKEN)).data)
        for subtype in ("plain", "html"):
            assert placeholders.leftover_tokens(part(msg, subtype)) == [], subtype
        assert "Maria" in part(msg, "plain")
        assert "Maria" in part(msg, "html")


# --- the wire format -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "first_name", ["Maria", *HOSTILE, "Zoë " * 100], ids=["Maria", *HOSTILE_IDS, "long-non-ascii"]
)
def test_lines_end_in_crlf_and_stay_short(demo: Demo, first_name: str) -> None:
    for template in demo.templates.values():
        data = template.fill(Person("maria.lopez@example.com", first_name, TOKEN)).data
        for line in raw_lines(data):
            assert line.endswith(b"\r\n"), line
            assert b"\r" not in line[:-2] and b"\n" not in line[:-2], line
            assert len(line) - 2 <= 998, line[:80]
        long_body = [line for line in body_lines(data) if len(line) > 78]
        assert long_body == []


def test_even_an_absurdly_long_name_keeps_header_lines_within_998(demo: Demo) -> None:
    data = demo.templates["general"].fill(Person("a@example.com", "Anne-Marie " * 120, TOKEN)).data
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


def test_headers_every_message_needs(demo: Demo) -> None:
    template = demo.templates["general"]
    first = template.fill(Person("maria.lopez@example.com", "Maria", TOKEN))
    second = template.fill(Person("maria.lopez@example.com", "Maria", TOKEN))
    msg = parse(first.data)

    assert set(msg.keys()) == HEADERS
    assert all(len(msg.get_all(name)) == 1 for name in HEADERS)
    assert msg["MIME-Version"] == "1.0"
    assert msg["Date"].datetime is not None
    assert re.fullmatch(r"<[^<>@\s]+@harborlanedental\.example\.com>", msg["Message-ID"])
    assert msg["Message-ID"] == first.message_id
    assert first.message_id != second.message_id
    assert parse(second.data)["Message-ID"] == second.message_id
    assert str(msg["Reply-To"]) == demo.practice.reply_to


def test_list_id_names_the_practice_and_is_the_same_for_every_variant(demo: Demo) -> None:
    person = Person("maria.lopez@example.com", "Maria", TOKEN)
    ids = {str(parse(t.fill(person).data)["List-Id"]) for t in demo.templates.values()}
    # RFC 2919: a phrase, then <label.namespace>; the namespace is the sender's domain.
    assert ids == {"Harbor Lane Dental <campaigns.harborlanedental.example.com>"}
    assert str(parse(demo.templates["tmj"].fill(person).data)["Precedence"]) == "bulk"


@pytest.mark.parametrize(
    ("name", "domain", "value"),
    [
        ("Smith & Jones, DDS", "Example.com", '"Smith & Jones, DDS" <campaigns.example.com>'),
        ('Dr. "Smile" <Dental>', "x.example", '"Dr. \\"Smile\\" <Dental>" <campaigns.x.example>'),
        ("Zahnärzte Müller", "zahnärzte.example", "<campaigns.xn--zahnrzte-3za.example>"),
        ("A\r\nBcc: x@y", "x.example", '"A Bcc: x@y" <campaigns.x.example>'),
    ],
)
def test_list_id_keeps_its_shape_whatever_the_name(name: str, domain: str, value: str) -> None:
    assert list_id_header(name, domain) == value
    header = _header("List-Id", value)
    assert header.count(b"\r\n") == 1  # one line, nothing injected


def test_list_unsubscribe_has_mailto_and_https_with_one_click(demo: Demo) -> None:
    practice = demo.practice
    assert practice.unsubscribe_url.startswith("https://")
    msg = parse(demo.templates["tmj"].fill(Person("maria.lopez@example.com", "M", TOKEN)).data)

    links = re.findall(r"<([^<>]*)>", str(msg["List-Unsubscribe"]))
    https = practice.unsubscribe_url.replace("{token}", TOKEN)
    assert links == [
        f"mailto:{practice.unsubscribe_email}?subject=unsubscribe%20{TOKEN}",
        https,
    ]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # … and the same link is visible in both parts.
    hrefs = lxml.html.document_fromstring(part(msg, "html")).xpath("//a/@href")
    assert https in hrefs
    assert https in part(msg, "plain")


def test_mailto_only_without_an_unsubscribe_url(demo: Demo) -> None:
    practice = dataclasses.replace(demo.practice, unsubscribe_url="")
    template = template_for(practice, demo.rendered[0])
    msg = parse(template.fill(Person("maria.lopez@example.com", "Maria", TOKEN)).data)

    assert set(msg.keys()) == HEADERS - {"List-Unsubscribe-Post"}
    mailto = f"mailto:{practice.unsubscribe_email}?subject=unsubscribe%20{TOKEN}"
    assert re.findall(r"<([^<>]*)>", str(msg["List-Unsubscribe"])) == [mailto]
    assert "https://" not in str(msg["List-Unsubscribe"])
    hrefs = lxml.html.document_fromstring(part(msg, "html")).xpath("//a/@href")
    assert mailto in hrefs


# --- hostile names stay data ---------------------------------------------------------------


@pytest.mark.parametrize("first_name", HOSTILE, ids=HOSTILE_IDS)
def test_a_hostile_first_name_stays_data(demo: Demo, first_name: str) -> None:
    recipient = "maria.lopez@example.com"
    filled = demo.templates["general"].fill(Person(recipient, first_name, TOKEN))
    msg = parse(filled.data)
    shown = " ".join(first_name.split())  # what a name becomes: CR/LF folded to a space

    assert set(msg.keys()) == HEADERS  # no Bcc or any other smuggled header
    assert msg["Bcc"] is None
    assert msg["To"].defects == ()
    assert addresses(msg, "To") == [(shown, recipient)]

    text = part(msg, "plain")
    assert f"Hi {shown}," in text  # as typed: never markup, never a template ("{{ 7*7 }}")

    markup = part(msg, "html")
    assert html.escape(shown, quote=True) in markup
    document = lxml.html.document_fromstring(markup)
    assert document.xpath("//script") == []
    assert shown in document.text_content()


def test_a_non_ascii_name_is_rfc2047_encoded_in_the_header(demo: Demo) -> None:
    data = demo.templates["general"].fill(Person("jose@example.com", "José Ñúñez", TOKEN)).data
    head = data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"=?utf-8?" in head
    assert addresses(parse(data), "To") == [("José Ñúñez", "jose@example.com")]


def to_header(data: bytes) -> str:
    """The raw To header, still folded and encoded."""
    return email.message_from_bytes(data, policy=policy.compat32)["To"]


def test_a_long_non_ascii_name_folds_into_encoded_words_that_decode_back(demo: Demo) -> None:
    name = ("Zoë Łukasz Ñúñez " * 18).strip()
    raw = to_header(demo.templates["general"].fill(Person("zoe@example.com", name, TOKEN)).data)
    assert all(len(line) <= 78 for line in raw.splitlines())
    # The stdlib's new parser puts a space between adjacent encoded words (RFC 2047 says
    # to drop it), so decode the raw header with the classic decoder.
    assert str(make_header(decode_header(raw))) == f"{name} <zoe@example.com>"


@pytest.mark.parametrize("name", ["é" * 300, "美咲" * 100], ids=["latin", "cjk"])
def test_encoded_words_stay_within_rfc2047_limits(demo: Demo, name: str) -> None:
    raw = to_header(demo.templates["general"].fill(Person("a@example.com", name, TOKEN)).data)
    assert str(make_header(decode_header(raw))) == f"{name} <a@example.com>"
    words = re.findall(r"=\?[^?]+\?[bqBQ]\?[^?]*\?=", raw)
    assert words
    assert max(map(len, words)) <= 75
    assert all(len(line) <= 78 for line in raw.splitlines())


def test_a_name_shaped_like_an_encoded_word_is_shown_as_typed(demo: Demo) -> None:
    name = "=?utf-8?b?PGV2aWxAZXhhbXBsZS5jb20+?="
    msg = parse(demo.templates["general"].fill(Person("a@example.com", name, TOKEN)).data)
    assert addresses(msg, "To") == [(name, "a@example.com")]


# --- "From " lines and mbox ----------------------------------------------------------------


def small_template(practice: Practice, text_body: str) -> MessageTemplate:
    return MessageTemplate(
        practice=practice,
        subject="From the front desk",
        html_body=f"<p>Hi {placeholders.FIRST_NAME},</p>\nFrom us\n",
        text_body=text_body,
    )


def test_a_line_starting_from_is_encoded_and_decodes_back(demo: Demo) -> None:
    text = f"From here on\nHi {placeholders.FIRST_NAME},\nFrom the desk\n"
    template = small_template(demo.practice, text)
    for first_name in ("Maria", "From Bob"):
        data = template.fill(Person("a@example.com", first_name, TOKEN)).data
        assert not any(line.startswith(b"From ") for line in raw_lines(data))
        msg = parse(data)
        assert part(msg, "plain") == f"From here on\nHi {first_name},\nFrom the desk\n"
        assert part(msg, "plain").startswith("From here on\n")
        assert part(msg, "html") == f"<p>Hi {first_name},</p>\nFrom us\n"
        assert str(msg["Subject"]) == "From the front desk"


def test_a_line_starting_quoted_from_is_encoded_too(demo: Demo) -> None:
    data = small_template(demo.practice, ">From the archive\n").fill(
        Person("a@example.com", "Maria", TOKEN)
    )
    assert not any(re.match(rb">+From ", line) for line in raw_lines(data.data))
    assert part(parse(data.data), "plain") == ">From the archive\n"


# --- SMTPUTF8 ------------------------------------------------------------------------------


def test_a_non_ascii_address_needs_smtputf8(demo: Demo) -> None:
    template = demo.templates["general"]
    filled = template.fill(Person("josé@example.com", "José", TOKEN))
    assert filled.smtputf8 is True
    # The address goes out as UTF-8 (RFC 6532); the name is still RFC 2047-encoded.
    assert b"<jos\xc3\xa9@example.com>\r\n" in filled.data
    msg = email.message_from_string(filled.data.decode("utf-8"), policy=policy.default)
    assert addresses(msg, "To") == [("José", "josé@example.com")]


def test_an_ascii_address_does_not_need_smtputf8(demo: Demo) -> None:
    filled = demo.templates["general"].fill(Person("jose@example.com", "José", TOKEN))
    assert filled.smtputf8 is False


# --- LF line ends (mbox), converted once per variant -------------------------------------

EDGE_NAMES = [
    "From Bob",
    ">From Bob",
    ".",
    ". Dot",
    "..hidden",
    "Ann\rBob",
    "Ann\r\nFrom: x",
    "José.",
    ("From . " * 30)[:200],
    *HOSTILE,
]


@pytest.mark.parametrize("first_name", EDGE_NAMES)
def test_lf_line_ends_are_the_crlf_message_without_its_crs(
    demo: Demo, first_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fill(eol=LF) converts the variant once; it must equal converting every message."""
    monkeypatch.setattr("chairside.message.new_message_id", lambda: "7" * 32)
    monkeypatch.setattr("chairside.message.time.time", lambda: 1_800_000_000.0)  # one Date
    text = f".Leading dot\nFrom here on\nHi {placeholders.FIRST_NAME},\n.\n"
    templates = [*demo.templates.values(), small_template(demo.practice, text)]
    for template in templates:
        person = Person("a@example.com", first_name, TOKEN)
        crlf = template.fill(person)
        lf = template.fill(person, eol=b"\n")
        assert lf.data == crlf.data.translate(None, b"\r")  # the per-message path it replaces
        assert b"\r" not in lf.data and not re.search(rb"^>*From ", lf.data, re.MULTILINE)
        assert (lf.message_id, lf.smtputf8) == (crlf.message_id, crlf.smtputf8)
    # The CRLF form is untouched by having made the LF one.
    assert template.fill(Person("a@example.com", first_name, TOKEN)).data == crlf.data


@pytest.mark.parametrize(
    "first_name",
    [
        "x" * 75 + "From Bob",
        "y" * 75 + ".",
        "z" * 74 + "=.dot",
        ".Bob",
        ". . .",
        "x" * 150 + ">From",
    ],
)
def test_no_body_line_starts_with_from_or_a_dot_however_a_long_name_wraps(
    demo: Demo, first_name: str
) -> None:
    """mbox readers would split the message at "From "; SMTP would need to dot-stuff "."."""
    text = f".Leading dot\n.\nHi {placeholders.FIRST_NAME},\n"
    for template in [*demo.templates.values(), small_template(demo.practice, text)]:
        data = template.fill(Person("a@example.com", first_name, TOKEN)).data
        assert not re.search(rb"^(>*From |\.)", data, re.MULTILINE)
        assert data.replace(b"\r\n.", b"\r\n..") == data  # SMTP's dot-stuffing changes nothing
        assert f"Hi {first_name}," in part(parse(data), "plain")
        assert f"Hi {html.escape(first_name)}," in part(parse(data), "html")
    assert part(parse(data), "plain").startswith(".Leading dot\n.\n")

"""DKIM signing where the relay does not sign: `chairside dkim new` keeps the key in the
keychain and prints its record; `send` signs every message, and each one a real aiosmtpd
received verifies with dkimpy's own verifier, and with Perl's Mail::DKIM, against the key
served by a test DNS server."""

from __future__ import annotations

import base64
import email
import hashlib
import re
import subprocess

import dkim as dkimpy
import dns.resolver
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from chairside import dkim
from chairside.secrets import get
from chairside.workspace import DkimConfig, Workspace, load_practice
from tests.dns_server import dns_server
from tests.support import assert_user_error

DOMAIN = "harborlanedental.example.com"


def verifier(nameserver: str):
    """dkimpy's DNS lookup, asking the test DNS server with dnspython directly (not through
    Chairside's code), so what verifies here verifies for any receiver given that record."""
    host, port = nameserver.split(":")
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = [host], int(port)

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        answer = resolver.resolve(name.decode(), "TXT", lifetime=5)
        return b"".join(b"".join(r.strings) for r in answer)

    return lookup


def make_key(run, root, selector: str = "cs2026") -> str:
    result = run("dkim", "new", selector, cwd=root)
    assert result.exit_code == 0, result.output
    value = re.search(r"Value  (v=DKIM1; k=rsa; p=\S+)", result.output).group(1)
    return value


def test_dkim_new_keeps_the_key_in_the_keychain_and_prints_the_record(tmp_workspace, run):
    value = make_key(run, tmp_workspace)
    practice_toml = (tmp_workspace / "practice.toml").read_text()
    assert "[dkim]\n# Chairside signs" in practice_toml and 'selector = "cs2026"' in practice_toml
    assert "# Who sends the newsletter." in practice_toml  # the office's comments kept
    stored = get("dkim", f"cs2026._domainkey.{DOMAIN}")
    assert stored and stored not in practice_toml and "PRIVATE" not in practice_toml
    practice = load_practice(Workspace(tmp_workspace))
    assert practice.dkim == DkimConfig("cs2026", DOMAIN)
    assert dkim.record_value(dkim.signer_for(practice).key) == value

    again = run("dkim", "new", "cs2026", cwd=tmp_workspace)
    assert_user_error(again, "kept already", "cs2026b")
    shown = run("dkim", "show", cwd=tmp_workspace)
    assert shown.exit_code == 0 and value in shown.output
    bad = run("dkim", "new", "no good", cwd=tmp_workspace)
    assert_user_error(bad, "cannot be a DKIM selector")


def test_every_message_send_delivers_verifies_with_dkimpy(tmp_workspace, run, smtp_server):
    server, port = smtp_server
    value = make_key(run, tmp_workspace)
    with dns_server({f"cs2026._domainkey.{DOMAIN}": [("TXT", value)]}) as nameserver:
        result = run("send", "2026-12", "--smtp-port", str(port), cwd=tmp_workspace)
        assert result.exit_code == 0, result.output
        lookup = verifier(nameserver)
        assert len(server.received) > 20
        for _, data in server.received:
            assert dkimpy.verify(data, dnsfunc=lookup), data[:400]
            signature = email.message_from_bytes(data)["DKIM-Signature"]
            fields = dkimpy.util.parse_tag_value(re.sub(rb"\s+", b"", signature.encode()))
            assert fields[b"c"] == b"relaxed/relaxed" and fields[b"d"] == DOMAIN.encode()
            signed = fields[b"h"].lower().split(b":")
            for name in (
                b"from",
                b"to",
                b"subject",
                b"date",
                b"message-id",
                b"list-unsubscribe",
                b"list-unsubscribe-post",
                b"list-id",
                b"mime-version",
                b"content-type",
            ):
                assert name in signed
        # A message changed on the way no longer verifies (the test can fail).
        _, data = server.received[0]
        assert not dkimpy.verify(data.replace(b"Harbor Lane", b"Harbour Lane"), dnsfunc=lookup)


def test_send_test_messages_are_signed_too(tmp_workspace, run, smtp_server):
    server, port = smtp_server
    value = make_key(run, tmp_workspace)
    result = run(
        "send",
        "2026-12",
        "--smtp-port",
        str(port),
        "--test",
        "office@example.com",
        cwd=tmp_workspace,
    )
    assert result.exit_code == 0, result.output
    with dns_server({f"cs2026._domainkey.{DOMAIN}": [("TXT", value)]}) as nameserver:
        assert all(dkimpy.verify(d, dnsfunc=verifier(nameserver)) for _, d in server.received)


def test_send_without_the_key_stops_before_sending(tmp_workspace, run, smtp_server):
    server, port = smtp_server
    path = tmp_workspace / "practice.toml"
    path.write_text(path.read_text() + '\n[dkim]\nselector = "lost"\n')
    result = run("send", "2026-12", "--smtp-port", str(port), cwd=tmp_workspace)
    assert_user_error(result, "[dkim] selector 'lost'", "chairside dkim new lost")
    assert server.received == []


def test_a_bad_dkim_section_is_reported_with_the_file(tmp_workspace, run):
    path = tmp_workspace / "practice.toml"
    path.write_text(path.read_text() + '\n[dkim]\nselector = "a b"\nkey = "x"\n')
    result = run("doctor", cwd=tmp_workspace)
    assert_user_error(result, "practice.toml", "[dkim] selector", "[dkim] key")


KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RECORD = dkim.record_value(KEY).encode()
_line = st.text(alphabet=" \tabc=.From", max_size=30)


@settings(max_examples=150, deadline=None)
@given(
    subject=st.text(alphabet=" \tSubjectÿ", min_size=1, max_size=40).filter(lambda s: s.strip()),
    lines=st.lists(_line, max_size=12),
    trailing=st.integers(min_value=0, max_value=3),
    folded=st.booleans(),
)
def test_the_signer_agrees_with_dkimpy_on_any_whitespace(subject, lines, trailing, folded):
    """Relaxed canonicalisation of headers (folded, tabs, runs of spaces) and bodies (trailing
    spaces, tabs, empty lines at the end): whatever the bytes, dkimpy verifies."""
    subject = subject.encode("latin-1").decode("latin-1")
    fold = "\r\n\t " if folded else " "
    head = (
        f"From: Harbor  Lane <news@{DOMAIN}>\r\nTo:\tpat@example.com\r\n"
        f"Subject:{fold}{subject}\r\nList-Id: <campaigns.{DOMAIN}>\r\n"
    ).encode()
    body = "\r\n".join(lines).encode() + b"\r\n" * trailing
    signed = dkim.Signer(DOMAIN, "cs", KEY).sign(head + b"\r\n" + body)
    assert dkimpy.verify(signed, dnsfunc=lambda name, timeout=5: RECORD)


@pytest.mark.parametrize("stored", ["not a key", "LS0tLS1CRUdJTg=="])
def test_a_damaged_stored_key_is_a_clear_error(monkeypatch, stored):
    from chairside.errors import ChairsideError

    monkeypatch.setenv("CHAIRSIDE_DKIM_KEY", stored)
    with pytest.raises(ChairsideError, match="not a private key"):
        dkim.stored_key(DkimConfig("cs", DOMAIN))


def test_secrets_list_and_forget_know_where_the_key_is(tmp_workspace, run):
    assert (
        "dkim       the DKIM signing key: not set"
        in run("secrets", "list", cwd=tmp_workspace).output
    )
    make_key(run, tmp_workspace)
    listed = run("secrets", "list", cwd=tmp_workspace).output
    assert "dkim       the DKIM signing key: set (this computer's keychain)" in listed
    assert run("secrets", "forget", "dkim", cwd=tmp_workspace).exit_code == 0
    assert get("dkim", f"cs2026._domainkey.{DOMAIN}") == ""


def test_a_key_made_with_openssl_in_the_environment_signs(
    tmp_workspace, run, monkeypatch, tmp_path
):
    import subprocess

    pem = subprocess.run(
        ["openssl", "genrsa", "2048"], check=True, capture_output=True, text=True
    ).stdout
    monkeypatch.setenv("CHAIRSIDE_DKIM_KEY", pem)
    path = tmp_workspace / "practice.toml"
    path.write_text(path.read_text() + '\n[dkim]\nselector = "own"\n')
    shown = run("dkim", "show", cwd=tmp_workspace)
    assert shown.exit_code == 0 and f"(own._domainkey.{DOMAIN})" in shown.output
    record = re.search(r"Value  (\S.*)", shown.output).group(1).encode()
    signer = dkim.signer_for(load_practice(Workspace(tmp_workspace)))
    signed = signer.sign(b"From: a@" + DOMAIN.encode() + b"\r\nSubject: x\r\n\r\nhello\r\n")
    assert dkimpy.verify(signed, dnsfunc=lambda name, timeout=5: record)


def test_a_non_ascii_address_and_a_folded_encoded_name_verify(tmp_workspace):
    from chairside.delivery import prepare
    from chairside.message import Person

    prepared = prepare(Workspace(tmp_workspace), "2026-12")
    template = next(iter(prepared.templates.values()))
    signer = dkim.Signer(DOMAIN, "cs", KEY)
    template.signing = dkim.TemplateSigning(signer, template.head, template.body_pieces())
    name = "José Ñandú, a name long enough that its encoded words are folded over lines"
    data = template.fill(Person("josé@exämple.com", name, "tok123")).data
    assert b"\r\n =?utf-8?" in data  # the To header really is folded
    assert dkimpy.verify(data, dnsfunc=lambda name, timeout=5: RECORD)


_piece = st.binary(max_size=12).map(lambda b: bytes(b" \t\r\nab="[c % 7] for c in b))


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(_piece, min_size=1, max_size=6), data=st.data())
def test_a_body_hashed_in_pieces_is_the_whole_body_hashed(pieces, data):
    """The per-version canonical pieces give the hash of the whole body canonicalised at
    once, whatever spaces, tabs and line ends meet at the joins (or it falls back to that)."""
    values = data.draw(st.lists(_piece, min_size=len(pieces) - 1, max_size=len(pieces) - 1))
    whole = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        whole += [value, piece]
    expected = hashlib.sha256(dkim.relaxed_body(b"".join(whole))).digest()
    assert dkim.CanonicalBody(pieces).body_hash(values) == base64.b64encode(expected).decode()


def _tags(message: bytes) -> dict[bytes, bytes]:
    signature = email.message_from_bytes(message)["DKIM-Signature"]
    return dkimpy.util.parse_tag_value(re.sub(rb"\s+", b"", signature.encode()))


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    from chairside.delivery import prepare
    from tests.support import copy_demo

    root = copy_demo(tmp_path_factory.mktemp("practice"))
    templates = list(prepare(Workspace(root), "2026-12").templates.values())
    signer = dkim.Signer(DOMAIN, "cs", KEY)
    for template in templates:
        template.signing = dkim.TemplateSigning(signer, template.head, template.body_pieces())
    return signer, templates


@settings(max_examples=40, deadline=None)
@given(name=st.text(alphabet=" \t.=José\u00a0ab<>&\"'", max_size=40))
def test_what_a_send_signs_is_what_the_whole_message_signer_signs(versions, name):
    """A version's messages signed from its pieces (what `send` does) carry the body hash
    and signed header fields `Signer.sign` gives the finished message, and verify; and what
    `fill` makes needs no dot-stuffing, so the send hands it to the server as it is."""
    from chairside.message import Person
    from chairside.providers.smtp import stuffed

    signer, templates = versions
    for template in templates:
        filled = template.fill(Person("pat@example.com", name, "tok123"))
        data = filled.data
        assert dkimpy.verify(data, dnsfunc=lambda name, timeout=5: RECORD)
        unsigned = data[data.index(b"\r\n", data.index(b" b=")) + 2 :]
        while unsigned[:1] in (b" ", b"\t"):  # the rest of the folded signature
            unsigned = unsigned[unsigned.index(b"\r\n") + 2 :]
        again = _tags(signer.sign(unsigned))
        assert (_tags(data)[b"bh"], _tags(data)[b"h"]) == (again[b"bh"], again[b"h"])
        assert stuffed(data) == data


def test_message_ids_are_unique_and_not_a_count():
    from chairside.message import new_message_id

    ids = [new_message_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", one) for one in ids[:100])
    # Keyed: one seen tells nothing of the next (no shared prefix, unlike a counter).
    assert len({one[:6] for one in ids[:1000]}) > 990


def test_a_message_retried_after_a_refusal_is_sent_signed_once(tmp_workspace, run, smtp_server):
    """A 451 on someone's envelope: their message, whose signature was made while the
    refusal was awaited, goes later on the same signature, and verifies."""
    server, port = smtp_server
    value = make_key(run, tmp_workspace)
    first = "maria.lopez@example.com"
    server.refuse[first] = [451, 0]
    result = run(
        "send", "2026-12", "--smtp-port", str(port), "--retry-delay", "0.01", cwd=tmp_workspace
    )
    assert result.exit_code == 0, result.output
    with dns_server({f"cs2026._domainkey.{DOMAIN}": [("TXT", value)]}) as nameserver:
        lookup = verifier(nameserver)
        got = [data for to, data in server.received if to == first]
        assert len(got) == 1 and dkimpy.verify(got[0], dnsfunc=lookup)
        assert got[0].count(b"DKIM-Signature:") == 1


# A second verifier, written by other people in another language: Mail::DKIM (Perl), the
# one SpamAssassin and many mail servers use, asking the test DNS server for the key.

MAIL_DKIM = r"""
use strict; use warnings;
use Mail::DKIM::Verifier; use Mail::DKIM::DNS; use Net::DNS::Resolver;
my ($port, @files) = @ARGV;
Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(
    nameservers => ['127.0.0.1'], port => $port, recurse => 1,
    udp_timeout => 5, tcp_timeout => 5, retry => 1));
for my $file (@files) {
    open(my $fh, '<:raw', $file) or die "$file: $!";
    my $dkim = Mail::DKIM::Verifier->new();
    $dkim->PRINT(do { local $/; <$fh> });
    $dkim->CLOSE();
    print $dkim->result_detail, "\n";
}
"""


def mail_dkim(nameserver: str, messages: list[bytes], folder) -> list[str]:
    """Mail::DKIM's verdict on each message ("pass", "fail (body has been altered)"…)."""
    files = []
    for number, data in enumerate(messages):
        path = folder / f"{number}.eml"
        path.write_bytes(data)
        files.append(str(path))
    port = nameserver.rpartition(":")[2]
    out = subprocess.run(
        ["perl", "-e", MAIL_DKIM, port, *files], capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


def test_what_send_signs_verifies_with_mail_dkim(tmp_workspace, run, smtp_server, tmp_path):
    server, port = smtp_server
    value = make_key(run, tmp_workspace)
    # Patients whose names and addresses make the headers hard: non-ASCII, folded, quoted.
    with (tmp_workspace / "audiences" / "patients.csv").open("a", encoding="utf-8") as f:
        f.write(
            'HLD-20001,"José Ñandú, a name long enough that its encoded words fold",Ruiz,'
            "jose.ruiz@example.com,,Y,2026-10-01\r\n"
            'HLD-20002,"Mary ""Doc"" O\'Brien",Smith,mary.obrien@example.com,,Y,2026-10-01\r\n'
        )
    with dns_server({f"cs2026._domainkey.{DOMAIN}": [("TXT", value)]}) as nameserver:
        result = run("send", "2026-12", "--smtp-port", str(port), cwd=tmp_workspace)
        assert result.exit_code == 0, result.output
        messages = [data for _, data in server.received]
        assert len(messages) > 20
        assert any(b"\r\n =?utf-8?" in m for m in messages)  # a folded, encoded To: is there
        verdicts = mail_dkim(nameserver, messages, tmp_path)
        assert verdicts == ["pass"] * len(messages), verdicts
        # The test can fail: a changed body, or a changed signed header, does not pass.
        changed = [
            messages[0].replace(b"Harbor Lane", b"Harbour Lane"),
            messages[0].replace(b"Subject: ", b"Subject: Re: ", 1),
        ]
        assert all(v.startswith("fail") for v in mail_dkim(nameserver, changed, tmp_path))

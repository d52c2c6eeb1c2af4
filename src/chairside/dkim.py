"""DKIM signing for a relay that does not sign: the key, the record to publish, the signer.

`new_key` makes an RSA 2048 key and keeps it in the keychain (`chairside.secrets`, name
"dkim", account `<selector>._domainkey.<domain>`), never in a file of the practice; only
the selector goes into practice.toml. `send` signs each message where its bytes are final.

Why not dkimpy's `sign`: it does RSA in Python (~130 messages/s here), and a send runs at
thousands a second. This signer does RFC 6376's relaxed/relaxed canonicalisation itself and
the RSA with `cryptography` (OpenSSL); tests verify its every kind of output with dkimpy's
verifier. `Signer.sign` signs any message. A send signs each version's messages through
`TemplateSigning` instead: the version's fixed header fields and body pieces are
canonicalised once, so a patient's message costs the canonicalisation of their own few
values, one SHA-256 pass over the body and the RSA signature. The RSA (~270 µs, OpenSSL,
outside the interpreter lock) is done while the connection waits for its group commit
(`Filled.sign`, the `meanwhile` of `GroupCommit.commit`): a thread that lets go of the lock
waits behind the others to get it back, so it lets go once for both.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from chairside import secrets
from chairside.errors import ChairsideError
from chairside.workspace import DkimConfig, Practice, Workspace, is_dns_name

KEY_BITS = 2048
SIGNED_HEADERS = (
    "From",
    "Reply-To",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
)
"""What a receiver shows or acts on; `From` is signed twice, so none can be added."""
_SIGNED = {name.lower().encode() for name in SIGNED_HEADERS}
_WSP_RUN = re.compile(rb"\t[ \t]*| [ \t]+")
_SPACE_RUN = re.compile(rb"  +")  # the same without tabs, 7 times faster on 40 KB of HTML
_HEADER_WSP = re.compile(rb"[ \t]+")
_OTHER_SPACE = re.compile(rb"[\x0b\x0c]")
_UNDER_2K = 2047  # hashlib's HASHLIB_GIL_MINSIZE is 2048


# Canonicalisation (RFC 6376 section 3.4)


def relaxed_body(body: bytes) -> bytes:
    """Runs of spaces and tabs become one space, none end a line, no empty lines at the end
    (and one CRLF ends a body that has anything), as dkimpy and OpenDKIM read it."""
    body = (_WSP_RUN if b"\t" in body else _SPACE_RUN).sub(b" ", body).replace(b" \r\n", b"\r\n")
    end = len(body)
    while body.endswith(b"\r\n", 0, end):
        end -= 2
    return body[:end] + b"\r\n" if end else b""


def _relaxed_lines(piece: bytes) -> bytes:
    """Relaxed body canonicalisation without its end rule: each run of spaces and tabs one
    space, none at the end of a line."""
    return (_WSP_RUN if b"\t" in piece else _SPACE_RUN).sub(b" ", piece).replace(b" \r\n", b"\r\n")


def _joins_cleanly(before: bytes, after: bytes) -> bool:
    """Canonicalising `before` and `after` apart gives what canonicalising them joined gives:
    no run of spaces and tabs, and no line end after one, spans the join."""
    last, first = before[-1:], after[:1]
    if last in (b" ", b"\t"):
        return first not in (b" ", b"\t", b"\r")
    return not (last == b"\r" and first == b"\n")


class CanonicalBody:
    """The body hash of a body made of fixed pieces with values between them (`pieces[0]`,
    value, `pieces[1]`, …, `pieces[-1]`): a version's message, filled per patient. The fixed
    pieces are canonicalised once; a patient's hash canonicalises only their values, and
    falls back to the whole body where a join is not clean (never in Chairside's own
    messages, where every value sits between soft line breaks)."""

    def __init__(self, pieces: Sequence[bytes]) -> None:
        self.pieces = list(pieces)
        canonical = [_relaxed_lines(piece) for piece in self.pieces]
        # Hashed in pieces under 2 KiB: hashlib lets go of the interpreter lock for longer
        # data, and a sending thread that lets go of it waits behind the others to get it back.
        self.chunks = [
            [memoryview(piece)[at : at + _UNDER_2K] for at in range(0, len(piece), _UNDER_2K)]
            for piece in canonical
        ]
        last = canonical[-1]
        # The end rule (no empty lines at the end, one CRLF) changes nothing here, so the
        # canonical pieces can be hashed as they are.
        self.plain_end = (
            last.endswith(b"\r\n") and not last.endswith(b"\r\n\r\n") and (len(last) > 2)
        )

    def body_hash(self, values: Sequence[bytes]) -> str:
        """Base64 of the SHA-256 of the relaxed canonical body with `values` filled in."""
        pieces = self.pieces
        assert len(values) == len(pieces) - 1
        clean = self.plain_end and all(
            value
            and _joins_cleanly(pieces[index], value)
            and _joins_cleanly(value, pieces[index + 1])
            for index, value in enumerate(values)
        )
        if not clean:
            joined = [pieces[0]]
            for value, piece in zip(values, pieces[1:], strict=True):
                joined += [value, piece]
            return _b64(hashlib.sha256(relaxed_body(b"".join(joined))).digest())
        digest = hashlib.sha256()
        update = digest.update
        for chunk in self.chunks[0]:
            update(chunk)
        for value, chunks in zip(values, self.chunks[1:], strict=True):
            update(_relaxed_lines(value))
            for chunk in chunks:
                update(chunk)
        return _b64(digest.digest())


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def relaxed_header(name: bytes, value: bytes) -> bytes:
    """`name:value` as relaxed canonicalisation writes it (no line end): unfolded, each run
    of spaces and tabs one space, none at either end of the value."""
    value = value.replace(b"\r\n", b"")
    if _OTHER_SPACE.search(value):  # bytes.split() would take these for spaces too
        value = _HEADER_WSP.sub(b" ", value).strip(b" ")
    else:
        value = b" ".join(value.split())
    return name.strip().lower() + b":" + value


def signed_fields(head: bytes) -> dict[bytes, bytes]:
    """The header fields in `head` that get signed, by lower-case name: the canonical line
    (CRLF-ended) of each one's bottom-most instance, the one a verifier pairs with it."""
    return {
        key: relaxed_header(key, values[-1]) + b"\r\n" for key, values in _headers(head).items()
    }


def _headers(head: bytes) -> dict[bytes, list[bytes]]:
    """The header fields that get signed, by lower-case name, each field's raw value."""
    found: dict[bytes, list[bytes]] = {}
    lines = head.split(b"\r\n")
    for index, line in enumerate(lines):
        if not line or line[0] in b" \t":
            continue  # a continuation, joined to its field below
        name, colon, value = line.partition(b":")
        key = name.strip().lower()
        if colon and key in _SIGNED:
            more = index + 1
            while more < len(lines) and lines[more][:1] in (b" ", b"\t"):
                value += b"\r\n" + lines[more]
                more += 1
            found.setdefault(key, []).append(value)
    return found


# Keys


def load_private_key(text: str) -> rsa.RSAPrivateKey:
    """The key as stored: PEM, or PKCS#8 DER in base64 on one line (what `new_key` keeps)."""
    text = text.strip().replace("\\n", "\n")
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            key = serialization.load_der_private_key(base64.b64decode(text), password=None)
    except (ValueError, TypeError) as exc:
        raise ChairsideError(
            f"The DKIM signing key in {secrets.where('dkim')} is not a private key ({exc}). "
            "Make a new one with `chairside dkim new SELECTOR` and publish its record."
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ChairsideError("The DKIM signing key is not an RSA key; make one with `dkim new`.")
    return key


def public_key_base64(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    """The `p=` of a DKIM record: the public key, SubjectPublicKeyInfo DER in base64."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def record_value(key: rsa.RSAPrivateKey) -> str:
    """The TXT record to publish at `<selector>._domainkey.<domain>`."""
    return f"v=DKIM1; k=rsa; p={public_key_base64(key)}"


def check_names(config: DkimConfig) -> None:
    """A ChairsideError unless the selector and domain can be DNS names."""
    for what, value, example in (
        ("selector", config.selector, "cs2026"),
        ("domain", config.domain, "example.com"),
    ):
        if not is_dns_name(value):
            raise ChairsideError(
                f"{value!r} cannot be a DKIM {what}: use letters, digits and hyphens, "
                f"like {example}."
            )


def write_settings(workspace: Workspace, config: DkimConfig, practice: Practice) -> None:
    """`[dkim] selector` (and `domain` when not the From address's) into practice.toml,
    keeping its comments; the key stays in the keychain."""
    import tomlkit

    from chairside.fsutil import write_text_atomic

    path = workspace.practice_file
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    table = tomlkit.table()
    table.add(tomlkit.comment("Chairside signs what `send` delivers; the key is in the keychain."))
    table.add("selector", config.selector)
    if config.domain != practice.from_email.rpartition("@")[2].lower():
        table.add("domain", config.domain)
    document["dkim"] = table
    write_text_atomic(path, tomlkit.dumps(document))


def new_key(config: DkimConfig) -> rsa.RSAPrivateKey:
    """Make an RSA 2048 key and keep it in the keychain under `config.record_name`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    secrets.store("dkim", base64.b64encode(der).decode("ascii"), config.record_name)
    return key


class KeyExists(ChairsideError):
    """A key is kept already for this selector (replacing it breaks mail signed with it)."""


def make_key(
    workspace: Workspace, selector: str, *, domain: str = "", replace: bool = False
) -> tuple[DkimConfig, rsa.RSAPrivateKey]:
    """A new signing key for `selector` (and `domain`, default the From address's), kept in
    the keychain, and `[dkim] selector` written to practice.toml: what `chairside dkim new`
    and the studio's Delivery page do. Returns (its settings, the key) for its record."""
    from chairside.workspace import load_practice

    practice = load_practice(workspace)
    selector = selector.strip().lower()
    domain = (domain or practice.from_email.rpartition("@")[2]).strip().lower().rstrip(".")
    config = DkimConfig(selector, domain)
    check_names(config)
    if stored_key(config) is not None and not replace:
        raise KeyExists(
            f"A key for selector {selector} is kept already. Choose a new selector (e.g. "
            f"{selector}b), so mail signed with the old key still verifies."
        )
    if secrets.keychain_name() is None:
        raise ChairsideError(
            "This computer has no keychain to keep the signing key in (on Linux: the Secret "
            "Service, e.g. GNOME Keyring). Make the key on a computer with one, or make it "
            "yourself (openssl genrsa 2048), set CHAIRSIDE_DKIM_KEY to it, add [dkim] "
            f'selector = "{selector}" to practice.toml, and `chairside dkim show` prints its '
            "record."
        )
    key = new_key(config)
    write_settings(workspace, config, practice)
    return config, key


def stored_key(config: DkimConfig) -> rsa.RSAPrivateKey | None:
    """The signing key for `config`, or None when none is kept."""
    text = secrets.get("dkim", config.record_name)
    return load_private_key(text) if text else None


# Signing


@dataclass(frozen=True)
class Signer:
    """Signs whole messages (CRLF line ends) for `domain` with `selector`."""

    domain: str
    selector: str
    key: rsa.RSAPrivateKey

    def sign(self, message: bytes) -> bytes:
        """`message` with a DKIM-Signature header in front (relaxed/relaxed, rsa-sha256)."""
        end = message.find(b"\r\n\r\n")
        if end < 0:
            head, body = message, b""
        else:
            head, body = message[: end + 2], message[end + 4 :]
        body_hash = _b64(hashlib.sha256(relaxed_body(body)).digest())
        value, signed = self.prepare(signed_fields(head), body_hash)
        return Signature(value, signed, self.key).header() + message

    def prepare(self, fields: Mapping[bytes, bytes], body_hash: str) -> tuple[bytes, bytes]:
        """(the DKIM-Signature value without its signature, the bytes to sign) for a message
        with these `signed_fields` and body hash."""
        names: list[str] = []
        canonical: list[bytes] = []
        for name in SIGNED_HEADERS:
            line = fields.get(name.lower().encode())
            if line is not None:
                names.append(name)
                canonical.append(line)
        names.append("From")  # over-signed: a second From: added later breaks the signature
        value = (
            f" v=1; a=rsa-sha256; c=relaxed/relaxed; d={self.domain}; s={self.selector};\r\n"
            f" t={int(time.time())}; h={':'.join(names)};\r\n bh={body_hash};\r\n b="
        ).encode("ascii")
        canonical.append(relaxed_header(b"dkim-signature", value))
        return value, b"".join(canonical)


def finish(value: bytes, signature: bytes) -> bytes:
    """The DKIM-Signature header line: `value` from `Signer.prepare` and its signature."""
    encoded = base64.b64encode(signature)
    folded = b"\r\n ".join(encoded[i : i + 72] for i in range(0, len(encoded), 72))
    return b"DKIM-Signature:" + value + folded + b"\r\n"


class Signature:
    """A message's DKIM-Signature header, its RSA not done yet: `header()` does it. The
    send has it done while the connection waits for its group commit anyway."""

    __slots__ = ("_key", "_signed", "_value")

    def __init__(self, value: bytes, signed: bytes, key: rsa.RSAPrivateKey) -> None:
        self._value = value
        self._signed = signed
        self._key = key

    def header(self) -> bytes:
        signature = self._key.sign(self._signed, padding.PKCS1v15(), hashes.SHA256())
        return finish(self._value, signature)


class TemplateSigning:
    """Signs what one version's `MessageTemplate` fills: its fixed header fields and body
    pieces canonicalised once, so a message costs its own values, a SHA-256 pass and the
    RSA — which waits (`Signature`) until the send has a moment it would otherwise idle."""

    def __init__(self, signer: Signer, head: bytes, pieces: Sequence[bytes]) -> None:
        self.signer = signer
        self.fields = signed_fields(head)
        self.body = CanonicalBody(pieces)

    def __call__(self, header_block: bytes, values: Sequence[bytes]) -> Signature:
        """The DKIM-Signature of the message with this patient's `header_block` (below the
        version's fixed fields) and `values` between the body pieces."""
        fields = {**self.fields, **signed_fields(header_block)}
        value, signed = self.signer.prepare(fields, self.body.body_hash(values))
        return Signature(value, signed, self.signer.key)


def signer_for(practice: Practice) -> Signer | None:
    """The signer `send` uses, or None when the practice has no `[dkim]` (the relay signs).

    A `[dkim]` without its key is an error before anything is sent: mail that the DNS says
    is signed, arriving unsigned, would fail DMARC."""
    config = practice.dkim
    if config is None:
        return None
    key = stored_key(config)
    if key is None:
        raise ChairsideError(
            f"practice.toml has [dkim] selector {config.selector!r}, but its signing key is "
            "not on this computer. " + secrets.missing("dkim") + " Or make a new key with "
            f"`chairside dkim new {config.selector}` and publish the record it prints."
        )
    return Signer(config.domain, config.selector, key)


def attach(practice: Practice, templates: Iterable) -> None:
    """Have each `MessageTemplate` in `templates` sign what it fills, when the practice
    signs (`[dkim]`); the one call the send paths make."""
    signer = signer_for(practice)
    if signer is not None:
        for template in templates:
            template.signing = TemplateSigning(signer, template.head, template.body_pieces())

"""DKIM records in DNS: reading one, and checking Chairside's own key against it."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chairside.doctor.dns import Dns, DnsUnreachable


@dataclass(frozen=True)
class Published:
    """What one `<selector>._domainkey.<domain>` holds."""

    selector: str
    name: str
    found: bool
    key: object | None = None
    """The public key when it reads as one."""
    problem: str = ""
    """Why the record is unusable ("" when it is fine or absent)."""

    @property
    def usable(self) -> bool:
        return self.key is not None and not self.problem


def tags(record: str) -> dict[str, str]:
    """A tag=value; list (DKIM, DMARC) as a dict; spaces inside values removed."""
    found: dict[str, str] = {}
    for part in record.split(";"):
        name, equals, value = part.partition("=")
        if equals:
            found.setdefault(name.strip().lower(), "".join(value.split()))
    return found


def parse_key(value: str) -> object:
    """The public key in a `p=` value (SubjectPublicKeyInfo, or a bare RSAPublicKey);
    ValueError when it is not one."""
    try:
        der = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("its p= is not base64 (part of the key was lost in copying?)") from None
    try:
        return serialization.load_der_public_key(der)
    except ValueError:
        pem = b"-----BEGIN RSA PUBLIC KEY-----\n" + base64.encodebytes(der)
        try:
            return serialization.load_pem_public_key(pem + b"-----END RSA PUBLIC KEY-----\n")
        except ValueError:
            raise ValueError("its p= is not a public key (cut short when pasted?)") from None


def published(dns: Dns, selector: str, domain: str) -> Published:
    """Read `<selector>._domainkey.<domain>`. DnsFailure passes through."""
    name = f"{selector}._domainkey.{domain}"
    records = [r for r in dns.txt(name) if "p=" in r.replace(" ", "")]
    if not records:
        return Published(selector, name, False)
    if len(records) > 1:
        return Published(selector, name, True, problem="it has two DKIM records; keep one")
    found = tags(records[0])
    if "v" in found and found["v"] != "DKIM1":
        return Published(selector, name, True, problem=f"v={found['v']} should be v=DKIM1")
    if found.get("k", "rsa") not in ("rsa", "ed25519"):
        return Published(selector, name, True, problem=f"k={found['k']} is not a key type")
    if not found.get("p"):
        return Published(selector, name, True, problem="its key is empty (p=), so it is revoked")
    if found.get("k", "rsa") == "ed25519":  # 32 raw bytes, not DER: present is all we check
        return Published(selector, name, True, key=found["p"])
    try:
        key = parse_key(found["p"])
    except ValueError as exc:
        return Published(selector, name, True, problem=str(exc))
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 1024:
        return Published(
            selector,
            name,
            True,
            key=key,
            problem=f"its key has {key.key_size} bits; "
            "receivers ignore keys under 1024 (make a 2048-bit one)",
        )
    return Published(selector, name, True, key=key)


def same_key(public: object, private: rsa.RSAPrivateKey) -> bool:
    return isinstance(public, rsa.RSAPublicKey) and (
        public.public_numbers() == private.public_key().public_numbers()
    )


def verifies(dns: Dns, signed: bytes) -> tuple[bool, str]:
    """Whether dkimpy's verifier accepts `signed`, reading keys through the doctor's DNS."""
    import dkim

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        return "".join(dns.txt(name.decode("ascii").rstrip("."))).encode()

    try:
        return bool(dkim.verify(signed, dnsfunc=lookup)), ""
    except DnsUnreachable:
        raise
    except Exception as exc:  # dkimpy's errors (or a DNS failure): a reason, not a crash
        return False, str(exc) or type(exc).__name__

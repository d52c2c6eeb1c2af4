"""`chairside inbox`: read the practice's mailbox over IMAP and act on what came back.

Uses the standard library's `imaplib`: the handful of commands needed here (LOGIN, SELECT,
UID SEARCH/FETCH/STORE/MOVE, CREATE) are all it takes, so no dependency earns its place.

Order per message, so a crash anywhere repeats nothing and misses nothing:
fetch (BODY.PEEK: reading marks nothing) → classify → suppress → record the events →
record the message → mark it read or move it → note that done. A rerun skips recorded
UIDs (and Message-IDs, should the server renumber the mailbox) and only finishes a
pending mark or move. Mail is never deleted, and mail that is not ours is left untouched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import imaplib
import re
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chairside import secrets
from chairside.audience.addresses import mask
from chairside.errors import ChairsideError
from chairside.providers.smtp import tls_context
from chairside.returnpath import classify as cl
from chairside.returnpath import proof
from chairside.returnpath.evidence import header_text
from chairside.returnpath.providers import provider_name
from chairside.returnpath.record import Outcome, Recorder
from chairside.returnpath.review import refusal_lines
from chairside.returnpath.state import (
    BOUNCE,
    COMPLAINT,
    SOFT_BOUNCE,
    UNSUBSCRIBE,
    Event,
    LedgerView,
    Refusal,
    ReturnState,
    now,
)
from chairside.tokens import Tokens
from chairside.tomlfile import Problems, get_str, load_toml, unknown_keys
from chairside.workspace import PRACTICE_FILE, Practice, Workspace, ca_file_setting

PASSWORD_VARIABLE = "CHAIRSIDE_IMAP_PASSWORD"
IMAP_KEYS = ("host", "port", "user", "folder", "tls", "after", "ca_file", "authserv_id")
LOOPBACK = ("127.0.0.1", "::1", "localhost")
FETCH_BATCH = 50
MAX_MESSAGE = 10_000_000
UNREADABLE = (
    ValueError,
    LookupError,
    UnicodeError,
    TypeError,
    AttributeError,
    RecursionError,
)
_MESSAGE_ID = re.compile(rb"(?im)^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)")


@dataclass(frozen=True)
class ImapConfig:
    """`[imap]` in practice.toml."""

    host: str
    port: int
    user: str
    folder: str = "INBOX"
    tls: str = "ssl"
    """"ssl" (tls = true, the default), "starttls", or "none" (tls = false: this computer only)."""
    after: str = "mark-read"
    """"mark-read", or "move:FOLDER"."""
    ca_file: Path | None = None
    """A PEM of the CA that signed the server's certificate (a private mail server), trusted
    besides this computer's; certificates are always verified."""
    authserv_id: str = ""
    """The name the practice's mail server writes in Authentication-Results (RFC 8601);
    "" reads the topmost one, which the last server to receive the mail wrote."""

    @property
    def move_to(self) -> str | None:
        return self.after.partition(":")[2] if self.after.startswith("move:") else None


def load_imap(workspace: Workspace) -> ImapConfig:
    """The `[imap]` section, every problem reported at once."""
    data = load_toml(workspace.practice_file, label=PRACTICE_FILE)
    table = data.get("imap")
    if not isinstance(table, dict):
        raise ChairsideError(
            f"{PRACTICE_FILE}: no [imap] section. Add the mailbox that receives unsubscribe "
            'and bounce mail:\n\n  [imap]\n  host = "imap.example.com"\n  user = '
            f'"unsubscribe@example.com"\n\nand set the password in {PASSWORD_VARIABLE}.'
        )
    problems = Problems(PRACTICE_FILE)
    where = "[imap] "
    host = get_str(table, "host", problems, where=where)
    user = get_str(table, "user", problems, where=where)
    folder = get_str(table, "folder", problems, where=where, default="INBOX") or "INBOX"
    after = get_str(table, "after", problems, where=where, default="mark-read")
    tls_value = table.get("tls", True)
    tls = {True: "ssl", False: "none", "starttls": "starttls"}.get(tls_value, "")
    if not tls:
        problems.add('[imap] tls: must be true, false or "starttls"')
    port = table.get("port", 0)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        problems.add("[imap] port: must be a number such as 993")
        port = 0
    if not host:
        problems.add('[imap] host: missing, e.g. host = "imap.example.com"')
    if not user:
        problems.add("[imap] user: missing: the login name of the mailbox")
    if tls == "none" and host and host not in LOOPBACK:
        problems.add(
            "[imap] tls: false sends the password unencrypted; it is only allowed for a "
            "server on this computer (127.0.0.1)"
        )
    if after != "mark-read" and not (after.startswith("move:") and after[5:].strip()):
        problems.add('[imap] after: must be "mark-read" or "move:FOLDER", e.g. "move:Chairside"')
    for name in (folder, after):
        if not name.isascii() or '"' in name or "\\" in name:
            problems.add(f"[imap] {name!r}: folder names must be plain ASCII, without quotes")
    authserv_id = get_str(table, "authserv_id", problems, where=where)
    ca_file = ca_file_setting(table, "[imap]", workspace.root, problems)
    unknown_keys(table, IMAP_KEYS, problems, where=where, path=workspace.practice_file)
    problems.raise_if_any()
    default_port = {"ssl": 993, "starttls": 143, "none": 143}[tls]
    return ImapConfig(host, port or default_port, user, folder, tls, after, ca_file, authserv_id)


def connect(config: ImapConfig) -> imaplib.IMAP4:
    """A logged-in connection; the password from the environment or the keychain."""
    password = secrets.get("imap", f"{config.user}@{config.host}")
    if not password:
        raise ChairsideError(
            f"No password for the mailbox {config.user}. " + secrets.missing("imap")
        )
    context = tls_context(config.ca_file, "[imap]") if config.tls != "none" else None
    try:
        if config.tls == "ssl":
            imap = imaplib.IMAP4_SSL(config.host, config.port, ssl_context=context, timeout=30)
        else:
            imap = imaplib.IMAP4(config.host, config.port, timeout=30)
            if config.tls == "starttls":
                _starttls(imap, config, context)
    except ssl.SSLCertVerificationError as exc:
        raise ChairsideError(
            f"The mail server {config.host}:{config.port} showed a certificate this computer "
            f"does not trust ({exc.verify_message}), so the password was not sent. Check "
            "[imap] host in practice.toml (it must be the name the certificate is for). If the "
            "practice runs its own mail server with its own certificate authority, save that "
            'authority\'s certificate as a .pem file and name it in [imap] ca_file = "…".'
        ) from None
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ChairsideError(
            f"Cannot reach the mail server {config.host}:{config.port} ({exc}). Check [imap] "
            "host, port and tls in practice.toml, and the internet connection."
        ) from None
    try:
        imap.login(config.user, password)
    except imaplib.IMAP4.error as exc:
        imap.shutdown()
        raise ChairsideError(
            f"The mail server refused the login of {config.user} ({_text(exc)}). Check [imap] "
            f"user in practice.toml and the password in {PASSWORD_VARIABLE}."
        ) from None
    return imap


def _starttls(imap: imaplib.IMAP4, config: ImapConfig, context: ssl.SSLContext) -> None:
    """Encryption before the login, or no login: never the password in clear."""
    if "STARTTLS" not in imap.capabilities:
        imap.shutdown()
        raise ChairsideError(
            f"The mail server {config.host}:{config.port} does not offer STARTTLS, so the "
            "password would go unencrypted: it was not sent. Use tls = true (port 993) in "
            "[imap] in practice.toml, or ask your mail provider for its encrypted settings."
        )
    imap.starttls(context)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Exception) and value.args:
        return _text(value.args[0])
    return str(value)


def _quote(folder: str) -> str:
    return '"' + folder + '"'


@dataclass
class Line:
    """One thing the inbox did, as the office reads it."""

    what: str
    email: str
    detail: str


@dataclass
class InboxReport:
    folder: str
    new: int = 0
    skipped: int = 0
    lines: list[Line] = field(default_factory=list)
    left: int = 0
    """Messages that are not Chairside's: left unread, where they were."""
    suppressed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    strangers: list[tuple[str, str]] = field(default_factory=list)
    """(what the message is, the address it names) for addresses that are no patient's."""
    held: list[tuple[str, str]] = field(default_factory=list)
    """(address, why) for what was held for review this run."""
    refusals: list[Refusal] = field(default_factory=list)
    """Failures that are the practice's mail refused, found this run."""
    handled: list[str] = field(default_factory=list)
    """Messages handled without touching a patient (delay notices, DMARC reports)."""
    waiting: int = 0
    """Everything held for review and not yet decided, this run's included."""


class Resolver:
    """Finds the patient behind an address or an unsubscribe token."""

    def __init__(self, tokens: Tokens, known: set[str]) -> None:
        self.known = {a.lower(): a for a in known}
        self._tokens = tokens
        self._by_token: dict[str, str] | None = None

    def token_of(self, email: str) -> str:
        return self._tokens(email)

    def address(self, email: str) -> str | None:
        return self.known.get(email.lower())

    def token(self, token: str | None) -> str | None:
        if not token:
            return None
        if self._by_token is None:  # one HMAC per known address and key, once per run
            self._by_token = {
                token: a for a in self.known.values() for token in self._tokens.every(a)
            }
        return self._by_token.get(token.lower())


def process(
    workspace: Workspace,
    practice: Practice,
    config: ImapConfig,
    imap: imaplib.IMAP4,
    *,
    resolver: Resolver,
    state: ReturnState | None,
    ledger: LedgerView,
    dry_run: bool,
) -> InboxReport:
    """Process every message of the folder not processed before."""
    report = InboxReport(config.folder)
    typ, data = imap.select(_quote(config.folder), readonly=dry_run)
    if typ != "OK":
        raise ChairsideError(
            f"The mailbox has no folder {config.folder!r} ({_text(data[0])}). Check [imap] "
            "folder in practice.toml (INBOX is the usual one)."
        )
    uidvalidity = int((imap.response("UIDVALIDITY")[1] or [b"0"])[0] or 0)
    typ, data = imap.uid("SEARCH", None, "ALL")
    uids = [int(u) for u in (data[0] or b"").split()]
    done = state.processed(config.folder, uidvalidity) if state is not None else {}
    mover = _Mover(imap, config, report, dry_run=dry_run)
    for uid, (acted, after_done) in done.items():
        if acted and not after_done and uid in uids:  # processed, but its mark or move was not
            mover.finish(uid, lambda uid=uid: state.after_done(config.folder, uidvalidity, uid))
    todo = [u for u in uids if u not in done]
    report.skipped = len(uids) - len(todo)
    unsubscribe_address = (
        practice.unsubscribe_email if practice.unsubscribe_email != practice.reply_to else ""
    )
    recorder = Recorder(workspace, state, ledger, dry_run=dry_run)
    own = frozenset(
        a.lower()
        for a in (practice.from_email, practice.reply_to, practice.unsubscribe_email, config.user)
        if a and "@" in a
    )
    for start in range(0, len(todo), FETCH_BATCH):
        handled: list[tuple[int, str, str, bool]] = []
        for uid, raw in _fetch(imap, todo[start : start + FETCH_BATCH]):
            key = _message_key(raw)
            if state is not None and state.known_message(key):
                report.skipped += 1  # the same message seen under another UID: done already
                handled.append((uid, key, "seen", False))
                continue
            report.new += 1
            message = None
            try:
                message = cl.parse(raw)
                found = cl.classify(
                    message,
                    raw=raw,
                    unsubscribe_address=unsubscribe_address,
                    practice_addresses=own,
                    authserv_id=config.authserv_id,
                )
            except UNREADABLE as exc:
                # A message too damaged (or too deeply nested) to read must not stop the
                # others, and nothing is applied from it: a person reads it.
                found = cl.Classified("other")
                report.notes.append(
                    f"a message that could not be read ({type(exc).__name__}): left for you"
                )
            acted = _act(found, key, raw, message, resolver, recorder, ledger, report)
            report.left += not acted
            handled.append((uid, key, found.kind if acted else "left", acted))
        # Suppress first, then record the messages, then mark them: a crash in between
        # only means reading this batch again, which changes nothing twice.
        recorder.flush()
        if dry_run:
            continue
        for uid, key, outcome, acted in handled:
            state.record_message(config.folder, uidvalidity, uid, key, outcome, acted=acted)
            if acted:
                mover.finish(uid, lambda uid=uid: state.after_done(config.folder, uidvalidity, uid))
    report.suppressed = recorder.tally.suppressed
    if state is not None and not dry_run:
        state.synced("inbox")
    if state is not None:
        report.waiting = len(state.held()) + (len(report.held) if dry_run else 0)
    return report


_FETCHED = re.compile(rb"UID (\d+)")


def _message_key(raw: bytes) -> str:
    """The message's Message-ID as written, or the sha256 of a message without one."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    match = _MESSAGE_ID.search(head)
    value = " ".join(match.group(1).decode("ascii", "replace").split()) if match else ""
    return value or "sha256:" + hashlib.sha256(raw).hexdigest()


def _fetch(imap: imaplib.IMAP4, uids: list[int]) -> list[tuple[int, bytes]]:
    # At most MAX_MESSAGE bytes of each: a real bounce or request is far smaller, and an
    # enormous message must not fill the memory (what is cut off is not needed to judge it).
    what = f"(UID BODY.PEEK[]<0.{MAX_MESSAGE}>)"
    typ, data = imap.uid("FETCH", ",".join(map(str, uids)), what)
    if typ != "OK":
        raise ChairsideError(f"The mail server did not hand over the messages ({_text(data[0])}).")
    found = []
    for item in data:
        if isinstance(item, tuple):
            match = _FETCHED.search(item[0])
            if match:
                found.append((int(match.group(1)), item[1]))
    return found


def _act(
    found: cl.Classified,
    key: str,
    raw: bytes,
    message,
    resolver: Resolver,
    recorder: Recorder,
    ledger: LedgerView,
    report: InboxReport,
) -> bool:
    """Apply what `found` proves, hold what it does not, note the rest; True when the
    message was Chairside's to handle (it is then marked read or moved)."""
    if found.kind == "report":
        report.handled.append(found.note)
        return True
    if found.kind not in ("bounce", "complaint", "unsubscribe"):
        return False  # replies, automatic replies, anything else: for a person
    at = now()
    acted = False
    named = proof.named_deliveries(found, ledger)
    for item in found.found:
        email, evidence = _whom(item, found, resolver, ledger, named)
        if item.kind == cl.DELAYED:
            report.handled.append("a delay notice (the mail system is still trying)")
            acted = True
            continue
        if item.kind == cl.SENDER:
            acted = True
            if evidence is None:
                # Unproven, it could be a forger's false alarm: noted, not counted.
                report.handled.append(
                    "a refusal of the practice's mail that returns no message Chairside sent "
                    "(not counted)"
                )
            else:
                _refusal(found, item, key, email, ledger, recorder, report, at)
            continue
        if email is None:
            report.strangers.append((found.note or found.kind, item.email))
            continue
        kind = {
            "unsubscribe": UNSUBSCRIBE,
            "complaint": COMPLAINT,
            cl.HARD: BOUNCE,
            cl.SOFT: SOFT_BOUNCE,
        }[item.kind]
        campaign = _campaign(found, email, ledger, at)
        event = Event(
            f"inbox:{key}:{kind}:{email.lower()}", "inbox", kind, email, campaign, item.detail, at
        )
        acted = True
        if evidence is None:
            why = proof.why_not(found)
            sender = header_text(message, "From") if message is not None else ""
            subject = header_text(message, "Subject") if message is not None else ""
            recorder.hold(
                event, reason=why, evidence=proof.evidence_of(sender, subject, found), message=raw
            )
            report.held.append((email, why))
            continue
        if item.kind == "unsubscribe":
            event = dataclasses.replace(event, detail=f"by email ({evidence})")
        outcome = recorder.record(event)
        report.lines.append(Line(_describe(outcome), email, event.detail))
    return acted


def _whom(
    item: cl.Found, found: cl.Classified, resolver: Resolver, ledger: LedgerView, named: list[str]
) -> tuple[str | None, str | None]:
    """(the patient `item` is about, or None; the evidence that proves it, or None)."""
    tokens = resolver.token_of
    if item.kind == "unsubscribe":
        patient = resolver.token(item.original_token)
        if patient is not None:
            return patient, "with their unsubscribe code"
        patient = resolver.address(item.email)
        if patient is None:
            return None, None
        if found.verified_by:
            return patient, f"from their address, which passed {found.verified_by.upper()}"
        # A reply to the newsletter itself (In-Reply-To its Message-ID, or quoting their
        # code) proves as much as the code in the subject.
        return patient, proof.prove(patient, found, ledger, tokens)
    patient = resolver.address(item.email)
    if patient is None and len(found.found) == 1 and len(named) == 1:
        # The recipient is redacted or rewritten (a forward): the message it returns was
        # sent to one patient, who is then the one it is about.
        patient = named[0]
    if patient is None:
        return None, None
    return patient, proof.prove(patient, found, ledger, tokens)


def _campaign(found: cl.Classified, email: str, ledger: LedgerView, at: str) -> str | None:
    """The campaign `found` answers for `email`: the one whose message it returns, else the
    latest sent to the address before `at`."""
    for reference in sorted(found.references):
        delivery = ledger.by_message_id(reference)
        if delivery is not None and delivery.email.lower() == email.lower():
            return delivery.campaign
    return ledger.campaign_for(email, at=at, message_id=found.original_message_id)


def _refusal(found, item, key, email, ledger, recorder, report, at) -> None:
    """A failure that is the practice's mail refused: counted for the practice, never
    against the patient."""
    campaign = _campaign(found, email, ledger, at)
    refusal = Refusal(
        f"inbox:{key}:{email.lower()}",
        campaign,
        provider_name(item.remote, email),
        email,
        item.reason,
        item.detail,
        at,
    )
    recorder.refuse(refusal)
    report.refusals.append(refusal)


def _describe(outcome: Outcome) -> str:
    kind = outcome.event.kind
    if kind == SOFT_BOUNCE:
        return f"soft bounce ({outcome.streak} in a row)" + (", suppressed" * outcome.suppressed)
    word = {UNSUBSCRIBE: "unsubscribed", BOUNCE: "bounced", COMPLAINT: "complaint"}[kind]
    return word + ("" if outcome.suppressed else " (already suppressed)")


class _Mover:
    """Marks a processed message read, or moves it; never deletes."""

    def __init__(self, imap, config: ImapConfig, report: InboxReport, *, dry_run: bool) -> None:
        self.imap = imap
        self.target = config.move_to
        self.report = report
        self.dry_run = dry_run
        # Asked again: servers list more capabilities after login than in their greeting.
        typ, data = imap.capability()
        self.can_move = typ == "OK" and b"MOVE" in (data[0] or b"").upper().split()  # RFC 6851
        self._created = False

    def finish(self, uid: int, done: Callable[[], None]) -> None:
        if self.dry_run:
            return
        if self.target and self.can_move:
            self._create_target()
            typ, _data = self.imap.uid("MOVE", str(uid), _quote(self.target))
        else:
            if self.target and not self.can_move:
                note = "the server cannot move mail; left in place and marked read instead"
                if note not in self.report.notes:
                    self.report.notes.append(note)
            typ, _data = self.imap.uid("STORE", str(uid), "+FLAGS", "(\\Seen)")
        if typ == "OK":
            done()

    def _create_target(self) -> None:
        if self._created:
            return
        typ, data = self.imap.list('""', _quote(self.target))
        if not any(item for item in data if item):
            typ, data = self.imap.create(_quote(self.target))
            if typ != "OK":
                raise ChairsideError(
                    f"Cannot create the folder {self.target!r} in the mailbox "
                    f"({_text(data[0])}). Create it in your mail program, or change [imap] after."
                )
        self._created = True


def lines_for(report: InboxReport, *, show: bool) -> list[str]:
    """The report as printed: addresses masked unless `show`."""
    out = []
    for line in report.lines:
        who = line.email if show else mask(line.email)
        out.append(f"  {line.what:<28} {who}  {line.detail}")
    if report.left:
        out.append(
            f"  {report.left} other message{'s' * (report.left != 1)} left as they were "
            "(not unsubscribes, bounces or complaints: for you to read)"
        )
    for what, email in report.strangers:
        who = (email if show else mask(email)) or "nobody named"
        out.append(f"  note: {what} about {who}, not a patient Chairside sent to: left for you")
    for what, count in Counter(report.handled).most_common():
        out.append(f"  {count} × {what}: marked as read, no patient affected")
    if report.held:
        out.append(
            f"  {len(report.held)} held for review, nothing done (see `chairside inbox --review`):"
        )
        for why, count in Counter(why for _email, why in report.held).most_common():
            out.append(f"    {count} × {why}")
    if report.refusals:
        out.append("  Refusals of the practice's mail (they do not count against any patient):")
        out += ["  " + line for line in refusal_lines(report.refusals)]
    out += [f"  note: {note}" for note in report.notes]
    return out

"""`chairside send`: every sendable patient gets the campaign exactly once, over SMTP.

The ledger makes reruns safe (see `chairside.ledger`): `sent` rows are skipped, rows a
crash left in `sending` are reported as unknown and resent only when asked, `deferred`
rows are tried again, `failed` rows only with `retry_failed`. The suppression list is read
again while sending, so an unsubscribe that arrives mid-run is honoured.

Refusals are judged by `Refused.kind` (stage and enhanced code). A refusal of the server
(login, relay, policy, content, size) stops the run: the patient in hand goes back to
pending, nobody is suppressed. A mailbox's own permanent refusal is *held* (recorded as
deferred, not suppressed) until the server has accepted a message in this run (or, at the
end of the run, in an earlier one): so a server that refuses everyone with a plain `550`
trips the breaker (`BREAKER` in a row with the same reply) having suppressed nobody, and a
crash meanwhile leaves the held patients deferred.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chairside.audience.addresses import mask
from chairside.audience.patients import Patient
from chairside.audience.suppression import add_suppressions, read_suppressed
from chairside.delivery import Prepared, state_dir
from chairside.errors import ChairsideError
from chairside.ledger import (
    DEFERRED,
    FAILED,
    SENDING,
    SENT,
    Ledger,
    LedgerError,
    campaign_lock,
    open_ledger,
)
from chairside.message import Person
from chairside.providers.smtp import (
    RECIPIENT,
    SERVER,
    TEMPORARY,
    CannotCarry,
    NotDelivered,
    Refused,
    SmtpConnection,
    SmtpSettings,
    Unknown,
    envelope_address,
)
from chairside.status import ADDRESS, mask_reply
from chairside.workspace import Workspace

RECHECK_SUPPRESSIONS_EVERY = 100
_VARYING = re.compile(r"\S*\d\S*")
BREAKER = 5
"""Recipients in a row refused with the same permanent reply: the server's refusal, not theirs."""


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter for 4xx replies and dropped connections."""

    retries: int = 4
    base: float = 2.0
    cap: float = 60.0

    def delay(self, attempt: int) -> float:
        """Seconds before retry `attempt` (1-based): base, 2·base, 4·base… ±50%, capped."""
        return min(self.cap, self.base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)


@dataclass
class Totals:
    """Where every sendable patient stands when the run ends."""

    sent: int = 0
    failed: int = 0
    deferred: int = 0
    unknown: int = 0
    pending: int = 0

    @property
    def complete(self) -> bool:
        return not (self.failed or self.deferred or self.unknown or self.pending)


@dataclass
class SendReport:
    campaign: str
    sent: int = 0
    already_sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    deferred: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """Addresses whose delivery a crash left in doubt (not resent unless asked)."""
    suppressed_midway: int = 0
    stopped: bool = False
    """Stopped by the user (Ctrl-C)."""
    halted: str | None = None
    """Why the run stopped itself (a server refusal, the breaker, a lost server, storage)."""
    totals: Totals | None = None


@dataclass(frozen=True)
class Plan:
    to_send: list[Patient]
    already_sent: int
    unknown: list[Patient]
    failed_before: int


def plan(
    prepared: Prepared,
    statuses: dict[str, str],
    *,
    resend_unknown: bool,
    retry_failed: bool = False,
) -> Plan:
    to_send, unknown = [], []
    already = failed = 0
    for patient in prepared.audience.patients:
        status = statuses.get(patient.key)
        if status == SENT:
            already += 1
        elif status == SENDING and not resend_unknown:
            unknown.append(patient)
        elif status == FAILED and not retry_failed:
            failed += 1
        else:
            to_send.append(patient)
    return Plan(to_send, already, unknown, failed)


@dataclass
class _Held:
    """Permanent refusals of single mailboxes not yet trusted (see the module docstring)."""

    refusals: list[tuple[Patient, Refused]] = field(default_factory=list)
    streak: int = 0

    def add(self, patient: Patient, refused: Refused) -> int:
        """Hold one; the number in a row with this same reply."""
        same = self.refusals and _signature(self.refusals[-1][1]) == _signature(refused)
        self.streak = self.streak + 1 if same else 1
        self.refusals.append((patient, refused))
        return self.streak

    def take(self) -> list[tuple[Patient, Refused]]:
        taken, self.refusals, self.streak = self.refusals, [], 0
        return taken


def _signature(refused: Refused) -> tuple:
    """A reply without what changes from one recipient to the next: their address, and
    any word with a digit in it (queue ids, times, counters)."""
    text = ADDRESS.sub("@", refused.text)
    return refused.stage, refused.code, _VARYING.sub("#", text)


def send_campaign(
    workspace: Workspace,
    prepared: Prepared,
    settings: SmtpSettings,
    *,
    retry: RetryPolicy = RetryPolicy(),
    rate: float | None = None,
    resend_unknown: bool = False,
    retry_failed: bool = False,
    stop: threading.Event | None = None,
    on_start: Callable[[int], None] = lambda total: None,
    on_message: Callable[[], None] = lambda: None,
) -> SendReport:
    """Send the campaign; safe to interrupt (`stop`) and to run again.

    A run that stops itself sets `report.halted`; `report.totals` says where everyone
    stands at the end (None only when the ledger itself could not be read).
    """
    name = prepared.campaign.name
    stop = stop or threading.Event()
    report = SendReport(name)
    state = state_dir(workspace)
    with campaign_lock(state, name, holder="send"), open_ledger(state) as ledger:
        work = plan(
            prepared,
            ledger.statuses(name),
            resend_unknown=resend_unknown,
            retry_failed=retry_failed,
        )
        report.already_sent = work.already_sent
        report.unknown = [p.email for p in work.unknown]
        skipped: set[str] = set()
        if work.to_send:
            connection = SmtpConnection(settings)
            connection.open()  # a login or connection problem stops here, before anything is sent
            on_start(len(work.to_send))
            try:
                _send_all(
                    prepared,
                    work,
                    ledger,
                    connection,
                    workspace.suppressed_file,
                    retry=retry,
                    rate=rate,
                    stop=stop,
                    report=report,
                    skipped=skipped,
                    on_message=on_message,
                )
            finally:
                connection.close()
        try:
            report.totals = _totals(prepared, ledger, skipped)
        except LedgerError:
            if not report.halted:
                raise
    return report


def _send_all(
    prepared: Prepared,
    work: Plan,
    ledger: Ledger,
    connection: SmtpConnection,
    suppressed_file: Path,
    *,
    retry: RetryPolicy,
    rate: float | None,
    stop: threading.Event,
    report: SendReport,
    skipped: set[str],
    on_message: Callable[[], None],
) -> None:
    name = prepared.campaign.name
    sender = prepared.practice.from_email
    interval = 60.0 / rate if rate else 0.0
    suppressed_mtime = _mtime(suppressed_file)
    suppressed = read_suppressed(suppressed_file)
    held = _Held()
    next_start = time.monotonic()
    for count, patient in enumerate(work.to_send):
        if stop.is_set():
            report.stopped = True
            break
        if count % RECHECK_SUPPRESSIONS_EVERY == 0 and _mtime(suppressed_file) != suppressed_mtime:
            suppressed_mtime = _mtime(suppressed_file)
            suppressed = read_suppressed(suppressed_file)
        if patient.key in suppressed:
            report.suppressed_midway += 1
            skipped.add(patient.key)
            on_message()
            continue
        if interval:
            time.sleep(max(0.0, next_start - time.monotonic()))
            next_start = time.monotonic() + interval
        try:
            refused = _deliver(prepared, patient, ledger, connection, sender, retry, report, stop)
        except LedgerError as exc:
            report.halted = exc.message  # the ledger itself failed: leave every row as it is
            break
        except ChairsideError as exc:  # the server went away and cannot be reached again
            ledger.release(name, [patient.key] + [p.key for p, _ in held.take()])
            report.halted = (
                f"{exc.message} {mask(patient.email)} and everyone after them were not sent "
                "(pending): run the same command again to continue."
            )
            break
        on_message()
        if refused is None:
            if report.sent:
                _confirm(prepared, ledger, held, report, suppressed_file)
            continue
        if refused.kind == SERVER:
            ledger.release(name, [patient.key] + [p.key for p, _ in held.take()])
            report.halted = (
                f"The mail server {connection.settings.where} refused {mask(patient.email)} at "
                f"{refused.stage}: {mask_reply(refused.reply)}. This is about the server or "
                f"the account, not that patient. {refused.advice} Nobody was suppressed; "
                "everyone not yet sent stays pending: run the same command again once it "
                "is fixed."
            )
            break
        if held.add(patient, refused) >= BREAKER:
            ledger.release(name, [p.key for p, _ in held.take()])
            report.halted = (
                f"{BREAKER} patients in a row were refused with the same reply "
                f"({mask_reply(refused.reply)}), so it is probably the server refusing "
                "everyone, not their mailboxes. Nobody was suppressed; they stay pending. "
                f"{refused.advice} If those addresses really are wrong, correct them in the "
                "patient list; then run the same command again."
            )
            break
    if not (report.halted or report.stopped) and (report.sent or work.already_sent):
        _confirm(prepared, ledger, held, report, suppressed_file)  # it delivers: refusals hold
    for patient, refused in held.refusals:  # never confirmed: deferred, tried again next run
        report.deferred.append((patient.email, f"{refused.reply} (not trusted yet)"))


def _confirm(
    prepared: Prepared, ledger: Ledger, held: _Held, report: SendReport, suppressed_file: Path
) -> None:
    """The server has delivered a message: the refusals held were the mailboxes' own."""
    name = prepared.campaign.name
    bounced = []
    for patient, refused in held.take():
        if refused.kind == RECIPIENT:
            ledger.finish(name, patient.key, FAILED, reply=refused.reply)
            report.failed.append((patient.email, refused.reply))
            bounced.append((patient.email, f"bounced: {refused.reply}", patient.email))
        else:
            report.deferred.append((patient.email, refused.reply))
    if bounced:
        add_suppressions(suppressed_file, bounced)


def _deliver(
    prepared: Prepared,
    patient: Patient,
    ledger: Ledger,
    connection: SmtpConnection,
    sender: str,
    retry: RetryPolicy,
    report: SendReport,
    stop: threading.Event,
) -> Refused | None:
    """Hand one patient's message over. A permanent refusal is returned (the caller judges
    it; the row is `deferred` meanwhile); everything else is settled here."""
    name = prepared.campaign.name
    person = Person(
        envelope_address(patient.email), patient.first_name, prepared.tokens(patient.email)
    )
    message = prepared.templates[patient.segment].fill(person)
    ledger.mark_sending(name, patient.key, patient.email, prepared.variant_id(patient))
    attempt = 0
    while True:
        try:
            reply = connection.send(sender, patient.email, message.data)
        except Refused as refused:
            if refused.kind != TEMPORARY:
                ledger.finish(name, patient.key, DEFERRED, reply=refused.reply)
                return refused
            outcome = refused.reply
        except CannotCarry as reason:
            ledger.finish(name, patient.key, DEFERRED, reply=str(reason))
            report.deferred.append((patient.email, str(reason)))
            return None
        except NotDelivered as dropped:
            outcome = f"connection lost: {dropped}"
        except Unknown:
            report.unknown.append(patient.email)  # the row stays "sending": reported, not resent
            return None
        else:
            ledger.finish(name, patient.key, SENT, reply=reply, message_id=message.message_id)
            report.sent += 1
            return None
        attempt += 1
        if attempt > retry.retries or stop.is_set():
            ledger.finish(name, patient.key, DEFERRED, reply=outcome)
            report.deferred.append((patient.email, outcome))
            return None
        stop.wait(retry.delay(attempt))


def _totals(prepared: Prepared, ledger: Ledger, skipped: set[str]) -> Totals:
    statuses = {row.patient: row.status for row in ledger.rows(prepared.campaign.name)}
    totals = Totals()
    for patient in prepared.audience.patients:
        status = statuses.get(patient.key)
        if status is None:
            totals.pending += patient.key not in skipped
        else:
            name = {SENT: "sent", FAILED: "failed", DEFERRED: "deferred"}.get(status, "unknown")
            setattr(totals, name, getattr(totals, name) + 1)
    return totals


def _mtime(path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def send_tests(
    prepared: Prepared, settings: SmtpSettings, address: str, *, segment: str | None = None
) -> list[tuple[str, str]]:
    """Send each variant (or one) to `address`, subject marked `[TEST <segment>]`.

    Filled for the sample patient, never a real one; nothing is written to the ledger.
    """
    from chairside.delivery import templates_for
    from chairside.message import Person
    from chairside.placeholders import SAMPLE

    rendered = [r for r in prepared.rendered.values() if segment in (None, r.segment)]
    templates = templates_for(
        prepared.practice, tuple(rendered), subject_prefix="[TEST {segment}] "
    )
    person = Person(address, SAMPLE.first_name, SAMPLE.unsubscribe_token)
    connection = SmtpConnection(settings)
    connection.open()
    sent = []
    try:
        for variant, template in templates.items():
            message = template.fill(person)
            try:
                reply = connection.send(prepared.practice.from_email, address, message.data)
            except (Refused, CannotCarry, NotDelivered, Unknown) as exc:
                reply = f"not sent: {exc}"
            sent.append((variant, reply))
    finally:
        connection.close()
    return sent

"""`chairside send`: every sendable patient gets the campaign exactly once, over SMTP.

The ledger makes reruns safe (see `chairside.ledger`): `sent` rows are skipped, rows a
crash left in `sending` are reported as unknown and resent only when asked, `deferred`
rows (4xx after every retry) are tried again. The suppression list is read again while
sending, so an unsubscribe that arrives mid-run is honoured.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chairside.audience.patients import Patient
from chairside.audience.suppression import add_suppressions, read_suppressed
from chairside.delivery import Prepared, state_dir
from chairside.ledger import DEFERRED, FAILED, SENDING, SENT, campaign_lock, open_ledger
from chairside.providers.smtp import NotDelivered, Refused, SmtpConnection, SmtpSettings, Unknown
from chairside.workspace import Workspace

RECHECK_SUPPRESSIONS_EVERY = 100


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


@dataclass(frozen=True)
class Plan:
    to_send: list[Patient]
    already_sent: int
    unknown: list[Patient]
    failed_before: int


def plan(prepared: Prepared, statuses: dict[str, str], *, resend_unknown: bool) -> Plan:
    to_send, unknown = [], []
    already = failed = 0
    for patient in prepared.audience.patients:
        status = statuses.get(patient.key)
        if status == SENT:
            already += 1
        elif status == SENDING and not resend_unknown:
            unknown.append(patient)
        elif status == FAILED:
            failed += 1
        else:
            to_send.append(patient)
    return Plan(to_send, already, unknown, failed)


def send_campaign(
    workspace: Workspace,
    prepared: Prepared,
    settings: SmtpSettings,
    *,
    retry: RetryPolicy = RetryPolicy(),
    rate: float | None = None,
    resend_unknown: bool = False,
    stop: threading.Event | None = None,
    on_start: Callable[[int], None] = lambda total: None,
    on_message: Callable[[], None] = lambda: None,
) -> SendReport:
    """Send the campaign; safe to interrupt (`stop`) and to run again."""
    name = prepared.campaign.name
    stop = stop or threading.Event()
    report = SendReport(name)
    state = state_dir(workspace)
    with campaign_lock(state, name), open_ledger(state) as ledger:
        work = plan(prepared, ledger.statuses(name), resend_unknown=resend_unknown)
        report.already_sent = work.already_sent
        report.unknown = [p.email for p in work.unknown]
        if not work.to_send:
            return report
        connection = SmtpConnection(settings)
        connection.open()  # a login or connection problem stops here, before anything is sent
        on_start(len(work.to_send))
        sender = prepared.practice.from_email
        interval = 60.0 / rate if rate else 0.0
        suppressed_file = workspace.suppressed_file
        suppressed_mtime = _mtime(suppressed_file)
        suppressed = read_suppressed(suppressed_file)
        next_start = time.monotonic()
        try:
            for count, patient in enumerate(work.to_send):
                if stop.is_set():
                    report.stopped = True
                    break
                if (
                    count % RECHECK_SUPPRESSIONS_EVERY == 0
                    and _mtime(suppressed_file) != suppressed_mtime
                ):
                    suppressed_mtime = _mtime(suppressed_file)
                    suppressed = read_suppressed(suppressed_file)
                if patient.key in suppressed:
                    report.suppressed_midway += 1
                    on_message()
                    continue
                if interval:
                    time.sleep(max(0.0, next_start - time.monotonic()))
                    next_start = time.monotonic() + interval
                failures = len(report.failed)
                _deliver(prepared, patient, ledger, connection, sender, retry, report, stop)
                if len(report.failed) > failures:  # refused for good: never try this address again
                    email, reply = report.failed[-1]
                    add_suppressions(suppressed_file, [(email, f"bounced: {reply}", email)])
                on_message()
        finally:
            connection.close()
    return report


def _deliver(
    prepared: Prepared,
    patient: Patient,
    ledger,
    connection: SmtpConnection,
    sender: str,
    retry: RetryPolicy,
    report: SendReport,
    stop: threading.Event,
) -> None:
    name = prepared.campaign.name
    message = prepared.message(patient)
    ledger.mark_sending(name, patient.key, patient.email, prepared.variant_id(patient))
    attempt = 0
    while True:
        try:
            reply = connection.send(sender, patient.email, message.data, smtputf8=message.smtputf8)
        except Refused as refused:
            if refused.permanent:
                ledger.finish(name, patient.key, FAILED, reply=refused.reply)
                report.failed.append((patient.email, refused.reply))
                return
            outcome = refused.reply
        except NotDelivered as dropped:
            outcome = f"connection lost: {dropped}"
        except Unknown:
            report.unknown.append(patient.email)  # the row stays "sending": reported, not resent
            return
        else:
            ledger.finish(name, patient.key, SENT, reply=reply, message_id=message.message_id)
            report.sent += 1
            return
        attempt += 1
        if attempt > retry.retries or stop.is_set():
            ledger.finish(name, patient.key, DEFERRED, reply=outcome)
            report.deferred.append((patient.email, outcome))
            return
        stop.wait(retry.delay(attempt))


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
                reply = connection.send(
                    prepared.practice.from_email, address, message.data, smtputf8=message.smtputf8
                )
            except (Refused, NotDelivered, Unknown) as exc:
                reply = f"not sent: {exc}"
            sent.append((variant, reply))
    finally:
        connection.close()
    return sent

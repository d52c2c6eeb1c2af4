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
crash meanwhile leaves the held patients deferred. Temporary refusals (4xx) are retried with
backoff, but the same one to several patients in a row with nothing delivered between
(`STORM`) is the server refusing for now: the run stops, everyone not sent stays pending.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from chairside import dkim
from chairside.delivery import Prepared, state_dir
from chairside.ledger import (
    DEFERRED,
    FAILED,
    SENDING,
    SENT,
    GroupCommit,
    Ledger,
    LedgerError,
    campaign_lock,
    open_ledger,
)
from chairside.providers.smtp import (
    CannotCarry,
    NotDelivered,
    Refused,
    SmtpConnection,
    SmtpSettings,
    Unknown,
)
from chairside.sendloop import Plan, RetryPolicy, Run, SendReport, Totals
from chairside.workspace import Workspace

CONNECTIONS = 4
"""Connections at once by default, measured with bench/bench_smtp.py: 2 give ~70 msg/s to a
relay 25 ms away, 4 ~130 (and ~2,000 locally, where 4 make groups of 4 per commit). Kept
small because relays limit connections per account; one the server refuses is done without."""
MAX_CONNECTIONS = 10
DEFAULT_RETRY = RetryPolicy()


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


def send_campaign(
    workspace: Workspace,
    prepared: Prepared,
    settings: SmtpSettings,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    rate: float | None = None,
    connections: int = CONNECTIONS,
    pipelining: bool = True,
    resend_unknown: bool = False,
    retry_failed: bool = False,
    continue_from_copy: bool = False,
    stop: threading.Event | None = None,
    on_start: Callable[[int], None] = lambda total: None,
    on_message: Callable[[], None] = lambda: None,
) -> SendReport:
    """Send the campaign over up to `connections` connections at once (PIPELINING used
    when the server offers it and `pipelining`); safe to interrupt (`stop`) and to run again.

    A run that stops itself sets `report.halted`; `report.totals` says where everyone
    stands at the end (None only when the ledger itself could not be read).

    Nothing is sent from a copy of the practice folder that may not be the latest
    (`Ledger.trust` raises CopyDoubt) unless `continue_from_copy`: a person confirmed it is.
    """
    name = prepared.campaign.name
    dkim.attach(prepared.practice, prepared.templates.values())  # signs when [dkim] is set
    stop = stop or threading.Event()
    report = SendReport(name)
    state = state_dir(workspace)
    with campaign_lock(state, name, holder="send"), open_ledger(state) as ledger:
        report.notes = ledger.trust(name, confirmed=continue_from_copy)
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
            first = SmtpConnection(settings, pipelining=pipelining)
            first.open()  # a login or connection problem stops here, before anything is sent
            on_start(len(work.to_send))
            run = Run(
                prepared,
                work,
                GroupCommit(ledger, name),
                workspace.suppressed_file,
                settings=settings,
                retry=retry,
                rate=rate,
                stop=stop,
                report=report,
                skipped=skipped,
                on_message=on_message,
            )
            wanted = max(1, min(connections, MAX_CONNECTIONS, len(work.to_send)))
            extra = [SmtpConnection(settings, pipelining=pipelining) for _ in range(wanted - 1)]
            run.go([first, *extra])
        try:
            report.totals = _totals(prepared, ledger, skipped)
        except LedgerError:
            if not report.halted:
                raise
    return report


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
    dkim.attach(prepared.practice, templates.values())
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

"""The connections of one `chairside send`, each in its own thread (they wait on the network).

Each connection finishes the message in hand and starts the next in one exchange
(`SmtpConnection.exchange`, pipelined when offered) and then commits the outcome of the one
and the `sending` of the other together, in a group with the other connections' (see
`GroupCommit`): so one fsync pair serves a message on every connection, and at most one row
per connection is ever `sending`. What they share is in `Run`, under one lock: the
patients still to send, the report, the refusals held for the breaker and the temporary
ones counted for the storm (both across connections), the halt, and the pace that
`--rate` sets for all of them together.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chairside.audience.addresses import mask
from chairside.audience.patients import Patient
from chairside.audience.suppression import add_suppressions, read_suppressed
from chairside.delivery import Prepared
from chairside.errors import ChairsideError
from chairside.journal import DEFERRED, FAILED, SENDING, SENT, status_record
from chairside.ledger import GroupCommit, LedgerError
from chairside.message import Filled, Person
from chairside.providers.smtp import (
    NOT_STARTED,
    RECIPIENT,
    SERVER,
    TEMPORARY,
    CannotCarry,
    Refused,
    SmtpConnection,
    SmtpSettings,
    Unknown,
    envelope_address,
)
from chairside.status import ADDRESS, mask_reply

RECHECK_SUPPRESSIONS_EVERY = 100
_VARYING = re.compile(r"\S*\d\S*")
BREAKER = 5
"""Recipients in a row refused with the same permanent reply: the server's refusal, not theirs."""
STORM = 5
"""Temporary refusals in a row with the same reply, none delivered between, more than one
patient's: the server refusing for now (busy, rate limits, storage), not their mailboxes."""


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
    notes: list[str] = field(default_factory=list)
    """What was repaired before sending (a ledger rebuilt from the sent log)."""


@dataclass(frozen=True)
class Plan:
    to_send: list[Patient]
    already_sent: int
    unknown: list[Patient]
    failed_before: int


@dataclass
class _Held:
    """Permanent refusals of single mailboxes not yet trusted (see the module docstring),
    each with its number in the run's order of refusals."""

    refusals: list[tuple[Patient, Refused]] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    streak: int = 0

    def add(self, patient: Patient, refused: Refused, number: int) -> int:
        """Hold one; the number in a row with this same reply."""
        same = self.refusals and _signature(self.refusals[-1][1]) == _signature(refused)
        self.streak = self.streak + 1 if same else 1
        self.refusals.append((patient, refused))
        self.numbers.append(number)
        return self.streak

    def take(self) -> list[tuple[Patient, Refused]]:
        taken, self.refusals, self.numbers, self.streak = self.refusals, [], [], 0
        return taken

    def take_before(self, started: int) -> list[tuple[Patient, Refused]]:
        """The refusals a message that started after refusal number `started` confirms: on
        several connections, one that started earlier proves nothing about them."""
        count = sum(1 for n in self.numbers if n <= started)
        if not count:
            return []
        taken = self.refusals[:count]
        self.refusals, self.numbers = self.refusals[count:], self.numbers[count:]
        if not self.refusals:
            self.streak = 0
        return taken


@dataclass
class _Storm:
    """Temporary refusals since the last delivery, while they all have the same reply."""

    signature: tuple | None = None
    count: int = 0
    patients: set[str] = field(default_factory=set)

    def add(self, patient: Patient, refused: Refused) -> bool:
        """Count one; True once it is a storm. One patient retried never makes one (their
        mailbox may be busy), so it takes a second patient: on four connections the first
        retry, not each patient's whole backoff."""
        signature = _signature(refused)
        if signature != self.signature:
            self.signature, self.count, self.patients = signature, 0, set()
        self.count += 1
        self.patients.add(patient.key)
        return self.count >= STORM and len(self.patients) > 1

    def clear(self) -> None:
        self.signature, self.count, self.patients = None, 0, set()


def _signature(refused: Refused) -> tuple:
    """A reply without what changes from one recipient to the next: their address, and
    any word with a digit in it (queue ids, times, counters)."""
    text = ADDRESS.sub("@", refused.text)
    return refused.stage, refused.code, _VARYING.sub("#", text)


@dataclass
class _Job:
    """One patient on their way: the message, filled once, and the attempts so far."""

    patient: Patient
    message: Filled
    sender: str
    """The envelope sender (MAIL FROM): the practice's return address for this patient."""
    attempts: int = 0
    started: int = 0
    """`_Run.refusals` when its envelope went out: refusals seen before it, it can confirm."""


class _Pace:
    """`--rate` for all connections together: one start every 60/rate seconds."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 60.0 / rate if rate else 0.0
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def take(self, stop: threading.Event, *, wait: bool) -> bool:
        """A start for one message: False (without waiting) when `wait` is false and the
        next start is not due yet."""
        if not self.interval:
            return True
        with self.lock:
            now = time.monotonic()
            if not wait and self.next > now:
                return False
            delay = max(0.0, self.next - now)
            self.next = max(self.next, now) + self.interval
        if delay:
            stop.wait(delay)
        return True


class Run:
    """What the connections share: the patients still to send, the report, the refusals
    held, the pace and the commits; `lock` guards all but the commits (which have their own)."""

    def __init__(
        self,
        prepared: Prepared,
        work: Plan,
        commits: GroupCommit,
        suppressed_file: Path,
        *,
        settings: SmtpSettings,
        retry: RetryPolicy,
        rate: float | None,
        stop: threading.Event,
        report: SendReport,
        skipped: set[str],
        on_message: Callable[[], None],
    ) -> None:
        self.prepared = prepared
        self.work = work
        self.commits = commits
        self.suppressed_file = suppressed_file
        self.settings = settings
        self.retry = retry
        self.pace = _Pace(rate)
        self.stop = stop
        self.report = report
        self.skipped = skipped
        self.on_message = on_message
        self.lock = threading.RLock()
        self.queue = iter(work.to_send)
        self.taken = 0
        self.suppressed_mtime = _mtime(suppressed_file)
        self.suppressed = read_suppressed(suppressed_file)
        self.held = _Held()
        self.storm = _Storm()
        self.refusals = 0
        self.opened = 0
        self.failure: BaseException | None = None
        self.name = prepared.campaign.name

    @property
    def ended(self) -> bool:
        return self.stop.is_set() or self.report.halted is not None

    def go(self, connections: list[SmtpConnection]) -> None:
        """Run one thread per connection until every patient is settled or the run ends."""
        threads = [
            threading.Thread(target=self._thread, args=(c, n), daemon=True, name=f"smtp-{n}")
            for n, c in enumerate(connections)
        ]
        self.commits.members = len(threads)
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        except BaseException:  # a second Ctrl-C: stop now, rows stay as the journal says
            self.stop.set()
            raise
        if self.failure is not None:
            raise self.failure
        report = self.report
        if self.stop.is_set() and not report.halted:
            report.stopped = True
        if not (report.halted or report.stopped) and (report.sent or self.work.already_sent):
            confirmed = self.held.take()  # it delivers: the refusals held were the mailboxes'
            self.commit(self._confirm(confirmed), self._bounced(confirmed))
        for patient, refused in self.held.refusals:  # never confirmed: tried again next run
            report.deferred.append((patient.email, f"{refused.reply} (not trusted yet)"))

    def _thread(self, connection: SmtpConnection, number: int) -> None:
        try:
            if number and not self._open(connection):
                return
            _Connection(self, connection).work()
        except BaseException as exc:  # a bug: the main thread raises it
            with self.lock:
                self.failure = self.failure or exc
            self.stop.set()
        finally:
            self.commits.leave()
            connection.close()

    def _open(self, connection: SmtpConnection) -> bool:
        """Open an extra connection; one the server refuses (many relays limit how many
        one account may hold) is done without: the others carry the run."""
        try:
            connection.open()
        except ChairsideError:
            return False
        return True

    # Patients in and out

    def next_job(self, *, wait: bool) -> _Job | None:
        """The next patient to start, or None (all started, the run ended, or `wait` is
        false and `--rate` says not yet)."""
        if self.ended or not self.pace.take(self.stop, wait=wait) or self.ended:
            return None
        with self.lock:
            for patient in self.queue:
                self.taken += 1
                if self.taken % RECHECK_SUPPRESSIONS_EVERY == 1:
                    mtime = _mtime(self.suppressed_file)
                    if mtime != self.suppressed_mtime:
                        self.suppressed_mtime = mtime
                        self.suppressed = read_suppressed(self.suppressed_file)
                if patient.key not in self.suppressed:
                    break
                self.report.suppressed_midway += 1
                self.skipped.add(patient.key)
                self.on_message()
            else:
                return None
        person = Person(
            envelope_address(patient.email),
            patient.first_name,
            self.prepared.tokens(patient.email),
        )
        message = self.prepared.templates[patient.segment].fill(person)
        return _Job(patient, message, self.prepared.practice.return_path(person.token))

    def sending(self, job: _Job) -> dict:
        patient = job.patient
        row = [patient.key, patient.email, self.prepared.variant_id(patient)]
        return status_record(SENDING, rows=[row], via="smtp")

    def commit(
        self, changes: list[dict], bounced: list, meanwhile: Callable[[], None] | None = None
    ) -> None:
        self.commits.commit(changes, meanwhile)
        if bounced:
            with self.lock:
                add_suppressions(self.suppressed_file, bounced)

    # Outcomes: each returns the ledger changes it needs (committed by the caller)

    def delivered(self, job: _Job, reply: str) -> tuple[list[dict], list]:
        message_id = job.message.message_id
        changes = [status_record(SENT, keys=[job.patient.key], reply=reply, message_id=message_id)]
        with self.lock:
            self.report.sent += 1
            self.on_message()
            self.storm.clear()
            confirmed = self.held.take_before(job.started)
        return changes + self._confirm(confirmed), self._bounced(confirmed)

    def unknown(self, job: _Job) -> None:
        with self.lock:
            self.report.unknown.append(job.patient.email)  # the row stays "sending"
            self.on_message()

    def deferred(self, job: _Job, reason: str, *, has_row: bool) -> list[dict]:
        with self.lock:
            self.report.deferred.append((job.patient.email, reason))
            self.on_message()
        return [self._settle(job, DEFERRED, reason, has_row=has_row)]

    def _settle(self, job: _Job, status: str, reply: str, *, has_row: bool) -> dict:
        if has_row:
            return status_record(status, keys=[job.patient.key], reply=reply)
        patient = job.patient
        row = [patient.key, patient.email, self.prepared.variant_id(patient)]
        return status_record(status, rows=[row], via="smtp", reply=reply)

    def refused(self, job: _Job, refused: Refused, *, has_row: bool) -> list[dict]:
        """A permanent refusal (the caller retried the temporary ones): held, or the end
        of the run when it is the server's (see the module docstring)."""
        release = [{"op": "release", "keys": [job.patient.key]}] if has_row else []
        with self.lock:
            self.on_message()
            if self.report.halted:
                return release
            if refused.kind == SERVER:
                self.report.halted = (
                    f"The mail server {self.settings.where} refused {mask(job.patient.email)} at "
                    f"{refused.stage}: {mask_reply(refused.reply)}. This is about the server "
                    f"or the account, not that patient. {refused.advice} Nobody was "
                    "suppressed; everyone not yet sent stays pending: run the same command "
                    "again once it is fixed."
                )
                return release + self._release_held()
            self.refusals += 1
            changes = [self._settle(job, DEFERRED, refused.reply, has_row=has_row)]
            if self.held.add(job.patient, refused, self.refusals) < BREAKER:
                return changes
            self.report.halted = (
                f"{BREAKER} patients in a row were refused with the same reply "
                f"({mask_reply(refused.reply)}), so it is probably the server refusing "
                "everyone, not their mailboxes. Nobody was suppressed; they stay pending. "
                f"{refused.advice} If those addresses really are wrong, correct them in the "
                "patient list; then run the same command again."
            )
            return changes + self._release_held()

    def refused_for_now(self, job: _Job, refused: Refused) -> list[dict] | None:
        """A temporary refusal: None to retry as usual; once the run has halted (this one
        a storm, see `STORM`), the changes that leave `job` and everyone not sent pending."""
        with self.lock:
            if self.report.halted:
                return []
            if not self.storm.add(job.patient, refused):
                return None
            self.report.halted = (
                f"The mail server {self.settings.where} is refusing mail for now: "
                f"{self.storm.count} messages in a row, to {len(self.storm.patients)} "
                f"patients, were answered at {refused.stage} with {mask_reply(refused.reply)}, "
                "and none was delivered in between. That is the server (busy, limiting how "
                "fast or how much you send, or short of space), not the patients. Nobody "
                "failed and nobody was suppressed; everyone not yet sent stays pending or "
                "deferred, and goes out when you run the same command again later (in an "
                "hour, say). If it happens again, send slower (--rate, --connections) or ask "
                "your mail provider."
            )
            return self._release_held()

    def lost_server(self, job: _Job | None, exc: ChairsideError) -> list[dict]:
        """The server went away and cannot be reached again."""
        with self.lock:
            if not self.report.halted:
                who = mask(job.patient.email) if job else "The next patient"
                self.report.halted = (
                    f"{exc.message} {who} and everyone after them were not sent "
                    "(pending): run the same command again to continue."
                )
            return self._release_held()

    def ledger_failed(self, exc: LedgerError) -> None:
        with self.lock:
            self.report.halted = self.report.halted or exc.message

    def _release_held(self) -> list[dict]:
        keys = [patient.key for patient, _ in self.held.take()]
        return [{"op": "release", "keys": keys}] if keys else []

    def _confirm(self, confirmed: list[tuple[Patient, Refused]]) -> list[dict]:
        """The server has delivered a message: the refusals held were the mailboxes' own."""
        changes = []
        with self.lock:
            for patient, refused in confirmed:
                if refused.kind == RECIPIENT:
                    changes.append(status_record(FAILED, keys=[patient.key], reply=refused.reply))
                    self.report.failed.append((patient.email, refused.reply))
                else:
                    self.report.deferred.append((patient.email, refused.reply))
        return changes

    @staticmethod
    def _bounced(confirmed: list[tuple[Patient, Refused]]) -> list:
        return [
            (p.email, f"bounced: {r.reply}", p.email) for p, r in confirmed if r.kind == RECIPIENT
        ]


class _Connection:
    """One connection's loop. The message in hand (`hand`: envelope accepted, recorded
    `sending`) is finished in the same exchange that starts the next, and the outcome of the
    one and the `sending` of the other are committed together: one commit per message, and
    shared with the other connections (`GroupCommit`)."""

    def __init__(self, run: Run, connection: SmtpConnection) -> None:
        self.run = run
        self.connection = connection
        self.again: deque[_Job] = deque()  # to be started again on this connection

    def work(self) -> None:
        run = self.run
        hand: _Job | None = None
        while True:
            if self.again and not run.ended:
                job: _Job | None = self.again.popleft()
            else:
                job = run.next_job(wait=hand is None)  # a message in hand never waits
            if hand is None and job is None:
                self._give_up()
                return
            changes: list[dict] = []
            envelope = None
            if job is not None:
                job.started = run.refusals
                try:
                    envelope = self.connection.envelope(job.sender, job.patient.email)
                except CannotCarry as reason:
                    changes += run.deferred(job, str(reason), has_row=False)
                    job = None
                except ChairsideError as exc:  # cannot reconnect; or a sender it never takes
                    changes += run.lost_server(job, exc)
                    job = None
            if hand is None and job is None:
                if not self._commit(changes, []):
                    return
                continue
            try:
                exchanged = self.connection.exchange(
                    hand.message.data if hand else None, envelope, as_carried=True
                )
            except ChairsideError as exc:  # reconnecting failed (nothing was in hand)
                self._commit(changes + run.lost_server(job, exc), [])
                return
            bounced: list = []
            delay = 0.0
            if hand is not None:
                more, bounced, delay = self._finish(hand, exchanged.result)
                changes += more
            hand = None
            if job is not None:
                more, hand, wait = self._started(job, exchanged.envelope)
                changes += more
                delay = max(delay, wait)
            # The new message in hand is signed (when the practice signs) while the commit
            # is waited for: its bytes go in the next exchange.
            if not self._commit(changes, bounced, meanwhile=hand.message.sign if hand else None):
                return
            if delay and not hand:  # a 4xx or a lost connection: back off before retrying
                run.stop.wait(delay)

    def _finish(self, hand: _Job, result) -> tuple[list[dict], list, float]:
        """The outcome of the message in hand: (changes, bounced, seconds to wait)."""
        run = self.run
        if isinstance(result, str):
            changes, bounced = run.delivered(hand, result)
            return changes, bounced, 0.0
        if isinstance(result, Unknown):
            run.unknown(hand)
            return [], [], 0.0
        if isinstance(result, Refused) and result.kind != TEMPORARY:
            return run.refused(hand, result, has_row=True), [], 0.0
        # A 4xx after the message, or its "." never left: not delivered, pending meanwhile.
        changes, delay = self._again(hand, result)
        return [{"op": "release", "keys": [hand.patient.key]}, *changes], [], delay

    def _started(self, job: _Job, outcome) -> tuple[list[dict], _Job | None, float]:
        """The next message's envelope: (changes, the new message in hand, seconds to wait)."""
        run = self.run
        if outcome is None:
            if run.ended:
                self.connection._drop()  # its data never goes: the server discards it
                return [], None, 0.0
            return [run.sending(job)], job, 0.0
        if outcome is NOT_STARTED:
            self.again.append(job)  # no fault of this patient's: not counted
            return [], None, 0.0
        if isinstance(outcome, Refused) and outcome.kind != TEMPORARY:
            return run.refused(job, outcome, has_row=False), None, 0.0
        changes, delay = self._again(job, outcome)
        return changes, None, delay

    def _again(self, job: _Job, outcome: Exception) -> tuple[list[dict], float]:
        """Start `job` again after a pause; once out of tries (or stopped), deferred; left
        pending when the run halted (a storm of temporary refusals, or another reason)."""
        run = self.run
        if isinstance(outcome, Refused):
            halted = run.refused_for_now(job, outcome)
            if halted is not None:  # not tried again, and no row: pending
                return halted, 0.0
        reason = outcome.reply if isinstance(outcome, Refused) else f"connection lost: {outcome}"
        job.attempts += 1
        if job.attempts > run.retry.retries or run.ended:
            return run.deferred(job, reason, has_row=False), 0.0
        self.again.append(job)
        return [], run.retry.delay(job.attempts)

    def _give_up(self) -> None:
        """The run ended with patients still waiting here for a retry: deferred when the
        user stopped it (as one retrying then is), pending (no row) when it halted."""
        changes = []
        if not self.run.report.halted:
            for job in self.again:
                changes += self.run.deferred(job, "stopped before it was retried", has_row=False)
        self.again.clear()
        self._commit(changes, [])

    def _commit(
        self, changes: list[dict], bounced: list, meanwhile: Callable[[], None] | None = None
    ) -> bool:
        try:
            self.run.commit(changes, bounced, meanwhile)
        except LedgerError as exc:
            self.run.ledger_failed(exc)
            self.connection._drop()
            return False
        return True


def _mtime(path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0

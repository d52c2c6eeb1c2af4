"""One place where what came back changes anything: suppression and the event record.

Both the inbox and every provider sync hand their findings to a `Recorder`. It records each
event under its unique key (a second sight of the same bounce records nothing), appends
the addresses to suppress to `audiences/suppressed.csv` through the suppression module
(idempotent), and suppresses an address after `SOFT_LIMIT` soft bounces in a row: on
consecutive campaigns sent to it, or on separate days when the ledger does not know it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chairside.audience.suppression import Appender, read_suppressed
from chairside.returnpath.state import (
    BOUNCE,
    COMPLAINT,
    SOFT_BOUNCE,
    UNSUBSCRIBE,
    Event,
    LedgerView,
    Refusal,
    ReturnState,
)
from chairside.workspace import Workspace

SOFT_LIMIT = 3
REASONS = {
    UNSUBSCRIBE: "unsubscribed",
    BOUNCE: "bounced",
    COMPLAINT: "complained (marked as spam)",
    SOFT_BOUNCE: f"{SOFT_LIMIT} soft bounces in a row",
}


@dataclass
class Outcome:
    """What recording one event did."""

    event: Event
    new: bool
    """False: seen before, nothing done."""
    suppressed: bool = False
    streak: int = 0
    """For a soft bounce: how many in a row, this one included."""


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    already_suppressed: int = 0

    def count(self, kind: str, *, new_only: bool = True) -> int:
        return sum(1 for o in self.outcomes if o.event.kind == kind and (o.new or not new_only))


class Recorder:
    """Records events and suppresses; with `dry_run`, works out the same and changes nothing."""

    def __init__(
        self, workspace: Workspace, state: ReturnState | None, ledger: LedgerView, *, dry_run: bool
    ) -> None:
        self.workspace = workspace
        self.state = state
        self.ledger = ledger
        self.dry_run = dry_run
        self.tally = Tally()
        self._suppressed = set(read_suppressed(workspace.suppressed_file))
        self._pending: list[tuple[str, str, str]] = []
        self._appender = Appender(workspace.suppressed_file)  # reads the file once a run
        self._events: dict[str, Event] = {}
        """Events of this run, recorded in the state by `flush` (after suppressing)."""
        self._held: list[tuple[Event, str, str, bytes | None]] = []
        self._refusals: list[Refusal] = []

    def hold(self, event: Event, *, reason: str, evidence: str, message: bytes | None) -> None:
        """Keep `event` for a person to apply or dismiss, instead of recording it."""
        self._held.append((event, reason, evidence, message))

    def refuse(self, refusal: Refusal) -> None:
        """Count a refusal of the practice's mail (never against the recipient)."""
        self._refusals.append(refusal)

    def _is_new(self, event: Event) -> bool:
        seen = event.key in self._events or (
            self.state is not None and self.state.has_event(event.key)
        )
        self._events.setdefault(event.key, event)
        return not seen

    def record(self, event: Event) -> Outcome:
        outcome = Outcome(event, new=self._is_new(event))
        if outcome.new:
            wants_suppression = event.kind != SOFT_BOUNCE
            if event.kind == SOFT_BOUNCE:
                outcome.streak = self._streak(event)
                wants_suppression = outcome.streak >= SOFT_LIMIT
            if wants_suppression:
                outcome.suppressed = self._suppress(event)
        self.tally.outcomes.append(outcome)
        return outcome

    def _suppress(self, event: Event) -> bool:
        email = event.email.lower()
        if email in self._suppressed:
            self.tally.already_suppressed += 1
            return False
        self._suppressed.add(email)
        reason = f"{REASONS[event.kind]} ({event.source}: {event.detail})"[:200]
        self._pending.append((event.email, reason, event.key))
        return True

    def _streak(self, event: Event) -> int:
        """Soft bounces in a row for this address, up to and including `event`."""
        past = self.state.events(email=event.email) if self.state is not None else []
        past += [e for e in self._events.values() if e.email.lower() == event.email.lower()]
        soft = {_slot(e) for e in past if e.kind == SOFT_BOUNCE} | {_slot(event)}
        hard_or_ok = self.ledger.sent_to(event.email)
        campaigns = [d.campaign for d in hard_or_ok]
        if event.campaign and event.campaign in campaigns:
            # Walk back over the campaigns sent to this address: a campaign that went
            # through without a soft bounce ends the streak.
            streak = 0
            for campaign in reversed(campaigns[: campaigns.index(event.campaign) + 1]):
                if campaign not in soft:
                    break
                streak += 1
            return streak
        return len(soft)

    def flush(self) -> None:
        """Suppress what was gathered, then record the events: in that order, so a crash
        between the two leaves events to record again, never a suppression missed."""
        if self.dry_run:
            self.tally.suppressed += [email for email, _reason, _key in self._pending]
        else:
            if self._pending:
                result = self._appender.add(self._pending)
                self.tally.already_suppressed += result.already
                self.tally.suppressed += result.added
            for event in self._events.values():
                self.state.add_event(event)
            for event, reason, evidence, message in self._held:
                if not self.state.has_event(event.key):  # applied before: nothing to hold
                    self.state.hold(event, reason=reason, evidence=evidence, message=message)
            for refusal in self._refusals:
                self.state.add_refusal(refusal)
        self._held, self._refusals = [], []
        self._pending = []
        if not self.dry_run:
            self._events = {}


def _slot(event: Event) -> str:
    """What "in a row" counts: the campaign, or the day when the campaign is unknown."""
    return event.campaign or event.at[:10]

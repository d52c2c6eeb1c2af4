"""What a person decides: the mail held for review, applied or dismissed one by one, and the
refusals of the practice's mail, told as the office reads them.

The CLI (`chairside inbox --review/--apply/--dismiss`) and the studio's Inbox page both call
these functions. Applying records the very event the inbox would have recorded (same key),
so applying twice, or applying what a later proven message already did, changes nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from chairside.audience.addresses import mask
from chairside.errors import ChairsideError
from chairside.returnpath.record import Recorder
from chairside.returnpath.state import (
    BOUNCE,
    COMPLAINT,
    SOFT_BOUNCE,
    UNSUBSCRIBE,
    Held,
    LedgerView,
    Refusal,
    ReturnState,
)
from chairside.workspace import Workspace

WHAT = {
    UNSUBSCRIBE: "unsubscribe request",
    BOUNCE: "bounce (address gone)",
    SOFT_BOUNCE: "soft bounce",
    COMPLAINT: "spam complaint",
}
_ANY_ADDRESS = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")


def masked(text: str, *, show: bool) -> str:
    """`text` with every address in it masked, unless `show`."""
    return text if show else _ANY_ADDRESS.sub(lambda m: mask(m.group(0)), text)


@dataclass
class Decision:
    held: Held
    done: str
    """What happened, in words: "suppressed", "already suppressed", "dismissed", …"""


def decide(
    workspace: Workspace, state: ReturnState, ledger: LedgerView, ids: list[int], *, apply: bool
) -> list[Decision]:
    """Apply (suppress or count, as a proven message would) or dismiss the held items `ids`.

    Every id is checked before anything changes: a typo applies nothing.
    """
    items = []
    for held_id in ids:
        item = state.held_one(held_id)
        if item is None:
            raise ChairsideError(
                f"Nothing held has the number {held_id}. `chairside inbox --review` lists what "
                "is held, with its number."
            )
        items.append(item)
    out = []
    recorder = Recorder(workspace, state, ledger, dry_run=False)
    for item in items:
        if item.status != "held":
            out.append(Decision(item, f"{item.status} before: nothing changed"))
            continue
        if not apply:
            state.decide(item.id, "dismissed")
            out.append(Decision(item, "dismissed: nothing changed for this patient"))
            continue
        outcome = recorder.record(item.event())
        recorder.flush()
        state.decide(item.id, "applied")
        if item.kind == SOFT_BOUNCE:
            done = f"counted ({outcome.streak} in a row)" + (", suppressed" * outcome.suppressed)
        else:
            done = "suppressed" if outcome.suppressed else "applied (already suppressed)"
        out.append(Decision(item, done))
    return out


def held_lines(items: list[Held], *, show: bool) -> list[str]:
    """The review list as printed: number, what, who (masked unless `show`), why, evidence."""
    out = []
    for item in items:
        who = item.email if show else mask(item.email)
        campaign = f" ({item.campaign})" if item.campaign else ""
        out.append(f"  #{item.id:<4} {WHAT.get(item.kind, item.kind)}{campaign}: {who}")
        out.append(f"        what it says: {masked(item.detail, show=show)}")
        out.append(f"        held because: {item.reason}")
        out.append(f"        evidence: {masked(item.evidence, show=show)}")
    return out


def refusal_lines(refusals: list[Refusal]) -> list[str]:
    """Refusals of the practice's mail per campaign and provider, as an alarm."""
    groups: Counter[tuple[str, str, str]] = Counter(
        (r.campaign or "no known campaign", r.provider, r.reason) for r in refusals
    )
    out = []
    for (campaign, provider, reason), count in sorted(groups.items(), key=lambda g: -g[1]):
        out.append(
            f"  {provider} refused {count} message{'s' * (count != 1)} of {campaign} "
            f"({reason}): the practice's mail was refused, not the patients' addresses"
        )
    return out

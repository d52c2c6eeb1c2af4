"""Everything sending and exporting share: render every variant, read the audience, then
hand out one filled message per sendable patient.

Every variant is rendered before any message is made, so a template error can never leave
half a campaign delivered. The audience is read fresh each time (consent and the
suppression list are checked at send time, not when the campaign was built).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote_plus

from chairside.audience.patients import Audience, Patient, load_audience
from chairside.campaign import Campaign
from chairside.message import Filled, MessageTemplate, Person
from chairside.render.pipeline import Rendered
from chairside.rendered import render_campaign, templates_for
from chairside.tokens import Tokens, practice_tokens
from chairside.workspace import Practice, Workspace

STATE_DIR = ".chairside"


def state_dir(workspace: Workspace) -> Path:
    return workspace.root / STATE_DIR


@dataclass
class Prepared:
    """A campaign ready to go out: its messages, and who receives which."""

    practice: Practice
    campaign: Campaign
    rendered: dict[str, Rendered]
    """Segment id → its rendered variant."""
    templates: dict[str, MessageTemplate]
    audience: Audience
    tokens: Tokens
    fallen_back: dict[str, int] = field(default_factory=dict)
    """Concern segment → how many of its patients get the general version (no post for
    their concern this month); their `segment` already says general."""

    @property
    def rendered_campaign(self) -> tuple[Practice, Campaign, tuple[Rendered, ...]]:
        """What the checks need, so they don't render the campaign a second time."""
        return self.practice, self.campaign, tuple(self.rendered.values())

    def person(self, patient: Patient) -> Person:
        return Person(patient.email, patient.first_name, self.tokens(patient.email))

    def message(self, patient: Patient) -> Filled:
        return self.templates[patient.segment].fill(self.person(patient))

    def variant_id(self, patient: Patient) -> str:
        return self.rendered[patient.segment].variant_id

    def messages(self) -> Iterator[tuple[Patient, Filled]]:
        for patient in self.audience.patients:
            yield patient, self.message(patient)


def prepare(workspace: Workspace, name: str, *, audience_file: Path | None = None) -> Prepared:
    practice, campaign, rendered = render_campaign(workspace, name)
    audience = load_audience(workspace, audience_file)
    fallen_back: dict[str, int] = {}
    for patient in audience.patients:
        # No post about their concern this month: never an empty newsletter, the general one.
        segment = campaign.segment_for(patient.segment)
        if segment != patient.segment:
            fallen_back[patient.segment] = fallen_back.get(patient.segment, 0) + 1
            patient.segment = segment
    return Prepared(
        practice=practice,
        campaign=campaign,
        rendered={r.segment: r for r in rendered},
        templates=templates_for(practice, rendered),
        audience=audience,
        tokens=_tokens(workspace),
        fallen_back=fallen_back,
    )


def _tokens(workspace: Workspace) -> Tokens:
    """The practice's tokens (see `chairside.tokens`); a folder Chairside cannot write is a
    clear error, not a traceback."""
    from chairside.ledger import storage_error
    from chairside.tokens import KEY_FILE

    try:
        return practice_tokens(workspace.root)
    except OSError as exc:
        raise storage_error(workspace.root / KEY_FILE, exc) from None


_CODE_IN = (
    re.compile(r"[?&]token=([A-Za-z0-9]+)"),  # the https unsubscribe link
    re.compile(r"\bunsubscribe\s+([A-Za-z0-9]+)\s*$", re.IGNORECASE),  # mailto subject, typed
    re.compile(r"^\s*([A-Za-z0-9]+)\s*$"),  # the code alone
)


def code_of(given: str) -> str | None:
    """The unsubscribe code in what a patient forwarded or the office pasted: the https
    link (`…?token=CODE`), the footer's `mailto:…?subject=unsubscribe%20CODE` link, the
    subject line `unsubscribe CODE`, or the code alone; None when there is none."""
    text = unquote_plus(given.strip())
    for pattern in _CODE_IN:
        if found := pattern.search(text):
            return found.group(1)
    return None


def unsubscribe_codes(
    workspace: Workspace, codes: list[str], reason: str, audience_file: Path | None = None
) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """For each line of `codes` (see `code_of`), found among the patient list and everyone
    the ledger has sent to: ((address, reason, where) entries for `add_suppressions`, and
    (line, why) for each line that names nobody). The good lines are meant to be applied
    even when some are bad."""
    from chairside.audience.suppression import read_suppressed
    from chairside.ledger import open_ledger

    addresses = {p.email for p in load_audience(workspace, audience_file).patients}
    # Someone already off the list may click the link again: found, then "already".
    addresses |= read_suppressed(workspace.suppressed_file)
    with open_ledger(state_dir(workspace)) as ledger:
        addresses |= ledger.emails()
    resolver = _tokens(workspace)
    found, bad = [], []
    for given in codes:
        code = code_of(given)
        if code is None:
            bad.append((given, "no unsubscribe code in it"))
            continue
        email = resolver.resolve(code, addresses)
        if email is None:
            bad.append(
                (
                    given,
                    f"no patient has the code {code!r} (copied whole? codes only work in "
                    "the practice folder that sent the email)",
                )
            )
            continue
        found.append((email, reason, f"token {code}"))
    return found, bad

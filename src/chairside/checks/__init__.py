"""Pre-send checks: deliverability, compliance, privacy, accessibility, health literacy.

Each rule is a function of the `CheckContext` that yields `Finding`s; the modules below
register theirs with `@rule`. `run_checks` renders every variant (nothing is written),
fills it for a patient with a long first name (`LONGEST_FIRST_NAME`; the patient list is
never read), builds a sample message, and runs every rule on all of it.
"""

from __future__ import annotations

import email
from email import policy
from typing import TYPE_CHECKING

from chairside import placeholders
from chairside.audience.segments import load_segments
from chairside.campaign import Campaign
from chairside.checks.base import (
    ERROR,
    RULES,
    WARNING,
    CheckContext,
    Finding,
    Rule,
    VariantView,
    rule,
)
from chairside.errors import ChairsideError
from chairside.render.pipeline import Rendered
from chairside.workspace import Practice, Workspace

if TYPE_CHECKING:
    from chairside.delivery import Prepared

__all__ = [
    "ERROR",
    "RULES",
    "WARNING",
    "CheckContext",
    "Finding",
    "Rule",
    "VariantView",
    "build_context",
    "refuse_if_errors",
    "rule",
    "run_checks",
    "summary",
]


LONGEST_FIRST_NAME = "Alexandra-Maximiliana Josefine-Henriette"
"""The first name every check fills in: 40 characters, longer than nearly every real one, so
size rules (gmail-clip) measure about the largest message a patient gets (a longer or
non-Latin name adds tens of bytes to a ~100 KB limit). A fixed name, not the longest in
the list: checks cost the same for 1,000 patients or a million, and `check`, `build`,
`send` and `export` judge the same message."""


def build_context(
    workspace: Workspace,
    name: str,
    *,
    rendered_campaign: tuple[Practice, Campaign, tuple[Rendered, ...]] | None = None,
) -> CheckContext:
    """Everything the rules look at (the patient list is not read); `rendered_campaign`,
    when the caller has it already, saves rendering the campaign again."""
    from chairside.message import Person
    from chairside.rendered import render_campaign, templates_for

    practice, campaign, rendered = rendered_campaign or render_campaign(workspace, name)
    longest = LONGEST_FIRST_NAME
    values = placeholders.values_for(
        placeholders.Recipient(first_name=longest, unsubscribe_token="x" * 24),
        fallback_name=practice.greeting_fallback,
        unsubscribe_url=practice.unsubscribe_url,
        unsubscribe_email=practice.unsubscribe_email,
    )
    templates = templates_for(practice, rendered)
    views = []
    for variant, result in zip(campaign.variants, rendered, strict=True):
        filled = templates[result.segment].fill(Person("patient@example.com", longest, "x" * 24))
        views.append(
            VariantView(
                variant=variant,
                rendered=result,
                html=placeholders.fill_html(result.html, values),
                text=placeholders.fill_text(result.text, values),
                message=email.message_from_bytes(filled.data, policy=policy.default),
            )
        )
    tags = [r.variant_id for r in rendered]
    files = [f"{tag}.{ext}" for tag in tags for ext in ("html", "txt")]
    return CheckContext(
        workspace,
        practice,
        campaign,
        load_segments(workspace.segments_file),
        views,
        leaving_names=tags + files,
    )


def run_checks(
    workspace: Workspace,
    name: str,
    *,
    rendered_campaign: tuple[Practice, Campaign, tuple[Rendered, ...]] | None = None,
) -> list[Finding]:
    """Every finding for campaign `name`, errors first, in variant order."""
    from chairside.checks import (  # noqa: F401  (importing registers the rules)
        accessibility,
        compliance,
        defaults,
        deliverability,
        design,
        privacy,
        readability,
        returnpath,
        subject,
        urls,
    )

    context = build_context(workspace, name, rendered_campaign=rendered_campaign)
    findings = [finding for check in RULES for finding in check(context)]
    order = {v.name: i for i, v in enumerate(context.variants)}
    return sorted(findings, key=lambda f: (f.severity != ERROR, order.get(f.variant, -1), f.rule))


def summary(findings: list[Finding]) -> str:
    errors = sum(1 for f in findings if f.severity == ERROR)
    warnings = len(findings) - errors
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


def refuse_if_errors(workspace: Workspace, prepared: Prepared, *, force: bool) -> list[Finding]:
    """Stop a send or export while `chairside check` finds errors, unless forced.

    Checks what `prepared` holds: the campaign is not rendered twice.
    """
    name = prepared.campaign.name
    findings = run_checks(workspace, name, rendered_campaign=prepared.rendered_campaign)
    errors = [f for f in findings if f.severity == ERROR]
    if errors and not force:
        listed = "\n".join(f"  {f.variant}: {f.rule}: {f.message}" for f in errors[:10])
        raise ChairsideError(
            f"{name} has {summary(findings)}; nothing was sent.\n{listed}\n"
            f"See them all with `chairside check {name}`; fix them, or pass --force."
        )
    return findings

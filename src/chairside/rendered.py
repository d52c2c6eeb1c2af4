"""A campaign rendered in memory: every variant (`render_campaign`) and the message template
each is sent with (`templates_for`).

Building, checking and delivering all start from this, so it sits below all three
(build.py, checks/, delivery.py import it; it imports none of them).
"""

from __future__ import annotations

from chairside.audience.segments import load_segments
from chairside.campaign import Campaign, load_campaign
from chairside.message import MessageTemplate
from chairside.render.pipeline import Rendered, render_variant
from chairside.workspace import Practice, Workspace, load_practice


def render_campaign(
    workspace: Workspace, name: str
) -> tuple[Practice, Campaign, tuple[Rendered, ...]]:
    """Read everything and render every variant, in memory."""
    practice = load_practice(workspace)
    segments = load_segments(workspace.segments_file)
    campaign = load_campaign(workspace, name, segments)
    rendered = tuple(
        render_variant(practice, campaign, variant, templates_dir=workspace.templates_dir)
        for variant in campaign.variants
    )
    return practice, campaign, rendered


def templates_for(
    practice: Practice, rendered: tuple[Rendered, ...], *, subject_prefix: str = ""
) -> dict[str, MessageTemplate]:
    return {
        r.segment: MessageTemplate(
            practice=practice,
            subject=subject_prefix.format(segment=r.segment) + r.subject,
            html_body=r.html,
            text_body=r.text,
        )
        for r in rendered
    }

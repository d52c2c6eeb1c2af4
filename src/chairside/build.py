"""`chairside build`: the whole program in one function.

load workspace → read posts → tag → plan variants → render each → write. Every variant is
rendered in memory before anything is written, so a bad post or template leaves the
previous build untouched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from chairside import placeholders
from chairside.audience.segments import load_segments
from chairside.campaign import Campaign
from chairside.fsutil import replacing_dir
from chairside.render.env import make_env
from chairside.render.pipeline import Rendered
from chairside.rendered import render_campaign
from chairside.workspace import Practice, Workspace


@dataclass(frozen=True)
class BuildResult:
    campaign: Campaign
    practice: Practice
    rendered: tuple[Rendered, ...]
    out_dir: Path

    def check(self, workspace: Workspace):
        """The pre-send findings for what was just built (rendered again: never)."""
        from chairside.checks import run_checks

        return run_checks(
            workspace,
            self.campaign.name,
            rendered_campaign=(self.practice, self.campaign, self.rendered),
        )


def sample_values(practice: Practice) -> dict[str, str]:
    """Placeholder values for the preview: a made-up patient, never a real one."""
    return placeholders.values_for(
        placeholders.SAMPLE,
        fallback_name=practice.greeting_fallback,
        unsubscribe_url=practice.unsubscribe_url,
        unsubscribe_email=practice.unsubscribe_email,
    )


def build(
    workspace: Workspace, name: str, *, patients: dict[str, int] | str | None = None
) -> BuildResult:
    """Build `campaigns/NAME` into `build/NAME/`, replacing any earlier build whole.

    `patients` (segment id → sendable patients, or why they were not counted; see
    `patient_counts`) is shown on the preview page: building never reads the patient list
    itself, so its time does not grow with the list.
    """
    practice, campaign, rendered = render_campaign(workspace, name)
    values = sample_values(practice)
    out_dir = workspace.build_dir / name
    pages = {r.segment: placeholders.fill_html(r.html, values) for r in rendered}
    texts = {r.segment: placeholders.fill_text(r.text, values) for r in rendered}
    manifest = {
        "campaign": name,
        "format": campaign.format,
        "variants": [
            {
                "id": r.variant_id,
                "segment": r.segment,
                "subject": r.subject,
                "preheader": r.preheader,
                "articles": list(r.article_titles),
                "html": f"{r.segment}.html",
                "text": f"{r.segment}.txt",
                "html_bytes": len(pages[r.segment].encode("utf-8")),
            }
            for r in rendered
        ],
    }
    index = (
        make_env(workspace.templates_dir)
        .get_template("preview.html")
        .render(
            practice=practice,
            campaign=campaign,
            manifest=manifest,
            texts=texts,
            patients=patients
            if patients is not None
            else f"not counted (`chairside preview {name}` counts them)",
            sender=f"{practice.from_name} <{practice.from_email}>",
            segments={v.segment.id: v.segment for v in campaign.variants},
        )
    )
    with replacing_dir(out_dir) as staging:
        for segment, page in pages.items():
            (staging / f"{segment}.html").write_text(page, encoding="utf-8")
            (staging / f"{segment}.txt").write_text(texts[segment], encoding="utf-8")
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        (staging / "index.html").write_text(index, encoding="utf-8")
    return BuildResult(campaign, practice, rendered, out_dir)


def patient_counts(workspace: Workspace) -> dict[str, int] | str:
    """Sendable patients per segment for the preview page, or why they cannot be counted
    (the preview is for checking the newsletter; `chairside audience` explains the list)."""
    from chairside.audience.patients import load_audience
    from chairside.errors import ChairsideError

    if not workspace.patients_file.is_file():
        return f"no patient list ({workspace.relative(workspace.patients_file)})"
    try:
        audience = load_audience(workspace)
    except ChairsideError:
        return "the patient list cannot be read: run `chairside audience` to see why"
    return audience.segment_counts(load_segments(workspace.segments_file))

"""The Look page (/settings/theme): a preview of the newest campaign in each built-in look,
and the choice of one, saved as `[brand] theme` in practice.toml (`render.looks`)."""

from __future__ import annotations

from dataclasses import replace

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chairside.audience.segments import load_segments
from chairside.build import sample_values
from chairside.campaign import CAMPAIGN_FILE, load_campaign
from chairside.errors import ChairsideError
from chairside.placeholders import fill_html
from chairside.render.looks import LOOKS, choose_look
from chairside.render.pipeline import render_variant
from chairside.studio.pagekit import post, studio_of
from chairside.studio.settingsfields import PAGES
from chairside.workspace import Workspace, load_practice

PATH = "/settings/theme"


def previews(workspace: Workspace) -> tuple[str, dict[str, str]]:
    """The newest campaign's name, and its version for everyone else in each look (HTML
    for a sandboxed frame); no campaign yet: ("", {})."""
    practice = load_practice(workspace)
    names = sorted(p.parent.name for p in workspace.campaigns_dir.glob(f"*/{CAMPAIGN_FILE}"))
    if not names:
        return "", {}
    campaign = load_campaign(workspace, names[-1], load_segments(workspace.segments_file))
    variant = campaign.variants[-1]  # general: it leads with news every patient may get
    values = sample_values(practice)
    shown = {}
    for look in LOOKS:
        rendered = render_variant(
            replace(practice, theme=look), campaign, variant, templates_dir=workspace.templates_dir
        )
        shown[look] = fill_html(rendered.html, values)
    return campaign.name, shown


async def page(request: Request, *, notice: str = "", error: str = "") -> Response:
    studio = studio_of(request)
    practice = await run_in_threadpool(load_practice, studio.workspace)
    try:
        campaign, shown = await run_in_threadpool(previews, studio.workspace)
    except ChairsideError as exc:  # a campaign that does not build: the choice still works
        campaign, shown, error = "", {}, error or exc.format_message()
    return studio.render(
        request,
        "themes.html",
        looks=LOOKS.values(),
        chosen=practice.theme,
        campaign=campaign,
        previews=shown,
        notice=notice,
        error=error,
        pages=PAGES,
    )


async def choose(request: Request, form: FormData) -> Response:
    look = str(form.get("look", ""))
    if look not in LOOKS:
        return await page(request, error="Choose one of the looks below.")
    await run_in_threadpool(choose_look, studio_of(request).workspace, look)
    return RedirectResponse(f"{PATH}?chosen={look}", status_code=303)


async def show(request: Request) -> Response:
    chosen = request.query_params.get("chosen", "")
    notice = f"Every newsletter now uses the {LOOKS[chosen].label} look." if chosen in LOOKS else ""
    return await page(request, notice=notice)


routes = [Route(PATH, show), post(PATH, choose)]

"""A campaign's month: approve it, schedule it, see where it stands (`chairside approve`,
`schedule`). `chairside due` (run by the computer's scheduler) sends it when its time comes."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chairside.autopilot import approval, installer, schedule
from chairside.autopilot.month import stage
from chairside.autopilot.status import read_status
from chairside.campaign import campaign_file, check_name
from chairside.errors import ChairsideError
from chairside.studio.pagekit import post, studio_of


def _name(request: Request) -> str:
    name = check_name(request.path_params["name"])
    campaign_file(studio_of(request).workspace, name)
    return name


def _context(workspace, name: str) -> dict:
    status = read_status(workspace, name)
    zone = schedule.practice_zone(workspace)
    return {
        "name": name,
        "stage": stage(workspace, name),
        "status": status,
        "zone": zone.key,
        "routes": schedule.ROUTE_WORDS,
        "runs_by_itself": installer.installed(workspace),
    }


async def month_page(request: Request, errors: dict | None = None, **extra) -> Response:
    studio = studio_of(request)
    name = _name(request)
    context = await run_in_threadpool(_context, studio.workspace, name)
    return studio.render(
        request,
        "month.html",
        status_code=400 if errors else 200,
        errors=errors or {},
        **context,
        **extra,
    )


async def approve(request: Request, form: FormData) -> Response:
    studio = studio_of(request)
    name = _name(request)
    try:
        await run_in_threadpool(
            approval.approve, studio.workspace, name, by=str(form.get("by", ""))
        )
    except ChairsideError as exc:
        return await month_page(request, errors={"approve": _studio_words(exc, name)})
    return RedirectResponse(f"/c/{name}/month", 303)


async def unapprove(request: Request, form: FormData) -> Response:
    name = _name(request)
    await run_in_threadpool(approval.unapprove, studio_of(request).workspace, name)
    return RedirectResponse(f"/c/{name}/month", 303)


async def schedule_it(request: Request, form: FormData) -> Response:
    studio = studio_of(request)
    name = _name(request)
    day, time = str(form.get("day", "")).strip(), str(form.get("time", "")).strip()
    route = str(form.get("route", "smtp"))
    try:
        if not day or not time:
            raise ChairsideError("Choose the day and the time it should go.")
        await run_in_threadpool(
            schedule.schedule, studio.workspace, name, f"{day} {time}", route=route
        )
    except ChairsideError as exc:
        return await month_page(
            request, errors={"schedule": exc.format_message()}, day=day, time=time
        )
    return RedirectResponse(f"/c/{name}/month", 303)


async def cancel(request: Request, form: FormData) -> Response:
    name = _name(request)
    await run_in_threadpool(schedule.cancel, studio_of(request).workspace, name)
    return RedirectResponse(f"/c/{name}/month", 303)


async def run_by_itself(request: Request, form: FormData) -> Response:
    """`chairside schedule --install`: this computer runs `due` every 15 minutes."""
    name = _name(request)
    try:
        await run_in_threadpool(installer.install, studio_of(request).workspace)
    except ChairsideError as exc:
        return await month_page(request, errors={"install": exc.format_message()})
    return RedirectResponse(f"/c/{name}/month", 303)


def _studio_words(exc: ChairsideError, name: str) -> str:
    """The library's message, with the page's own controls in place of commands."""
    message = exc.format_message()
    if "tested" in message or "last test" in message:
        return (
            "Send yourself a test first (on the Send page) and look at every version; "
            "then approve it here. A change after the test needs a new test."
        )
    return message.replace(f"`chairside check {name}` finds", "the checks find")


routes = [
    Route("/c/{name}/month", month_page),
    post("/c/{name}/month/approve", approve),
    post("/c/{name}/month/unapprove", unapprove),
    post("/c/{name}/month/schedule", schedule_it),
    post("/c/{name}/month/cancel", cancel),
    post("/c/{name}/month/run-by-itself", run_by_itself),
]

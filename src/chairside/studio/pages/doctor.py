"""Delivery: what `chairside doctor` found (its last run, kept by the doctor), and a button
to check again; each problem with the DNS records to add, as the DNS host's page asks."""

from __future__ import annotations

from datetime import datetime

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chairside.studio.pagekit import post, studio_of


def _areas(result: dict | None) -> list[tuple[str, list[dict]]]:
    """The checks grouped by area, in the doctor's order."""
    areas: dict[str, list[dict]] = {}
    for check in (result or {}).get("checks", []):
        if isinstance(check, dict):
            areas.setdefault(str(check.get("area", "")), []).append(check)
    return list(areas.items())


def _when(result: dict | None) -> str:
    try:
        at = datetime.fromisoformat(str((result or {})["at"])).astimezone()
    except (KeyError, ValueError):
        return ""
    return f"{at.day} {at:%B %Y} at {at:%H:%M}"


def _render(request: Request, result: dict | None, **extra) -> Response:
    from chairside.workspace import load_practice

    dkim = load_practice(studio_of(request).workspace).dkim
    return studio_of(request).render(
        request,
        "doctor.html",
        signing=dkim.record_name if dkim else "",
        selector=f"cs{datetime.now():%Y}",
        areas=_areas(result),
        when=_when(result),
        problems=(result or {}).get("problems", 0),
        warnings=(result or {}).get("warnings", 0),
        **extra,
    )


async def page(request: Request) -> Response:
    from chairside.doctor import last_result

    result = await run_in_threadpool(last_result, studio_of(request).workspace)
    return _render(request, result)


async def check(request: Request, form: FormData) -> Response:
    from chairside import doctor

    workspace = studio_of(request).workspace
    online = form.get("online") == "yes"
    await run_in_threadpool(doctor.run, workspace, online=online)
    return _render(request, doctor.last_result(workspace), checked=True)


async def make_key(request: Request, form: FormData) -> Response:
    """`chairside dkim new SELECTOR`: a signing key in the keychain, and its record."""
    from chairside import dkim
    from chairside.doctor import last_result
    from chairside.doctor.results import Record
    from chairside.errors import ChairsideError

    workspace = studio_of(request).workspace
    selector = str(form.get("selector", "")).strip()
    try:
        config, key = await run_in_threadpool(dkim.make_key, workspace, selector)
    except ChairsideError as exc:
        result = await run_in_threadpool(last_result, workspace)
        return _render(request, result, key_error=exc.format_message(), selector_typed=selector)
    record = Record("TXT", f"{config.selector}._domainkey", dkim.record_value(key), config.domain)
    result = await run_in_threadpool(last_result, workspace)
    return _render(request, result, new_record=record)


routes = [
    Route("/doctor", page),
    post("/doctor/check", check),
    post("/doctor/dkim", make_key),
]

"""The studio's web application: routes, templates, and how errors become pages.

Pages live in `chairside.studio.pages.*`; each module lists its `routes`, made with
`pagekit.post()` for every POST (the CSRF token checked before the form is read).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from chairside.errors import ChairsideError
from chairside.studio.pagekit import Studio, studio_of
from chairside.studio.pages import (
    campaigns,
    doctor,
    edit,
    inbox,
    month,
    patients,
    report,
    send,
    settings,
    themes,
    unsubscribes,
)
from chairside.studio.security import CsrfRefused, Guard, GuardMiddleware
from chairside.studio.words import day, plain
from chairside.workspace import Workspace

log = logging.getLogger("chairside.studio")


def make_env() -> Environment:
    """The studio's own templates (package data), autoescaped: every value shown in them
    (subjects, post titles, patient fields) is data."""
    env = Environment(
        loader=PackageLoader("chairside.studio", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["plain"] = plain
    env.filters["day"] = day
    return env


def _back(request: Request) -> str:
    """The studio page the person came from (to go back to it), else the campaigns."""
    came = urlsplit(request.headers.get("referer", ""))
    if came.netloc == request.url.netloc and came.path.startswith("/") and came.path != "/login":
        return came.path + (f"?{came.query}" if came.query else "")
    return "/"


async def _user_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ChairsideError)
    return studio_of(request).render(
        request,
        "error.html",
        status_code=400,
        message=plain(exc.format_message()),
        back=_back(request),
    )


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    return studio_of(request).render(
        request,
        "error.html",
        status_code=403,
        message="This form is out of date (the studio was restarted, or the form did not "
        "come from it). Go back, reload the page and try again.",
    )


async def _bug(request: Request, exc: Exception) -> Response:
    # A bug, not a user error: the traceback goes to the studio's terminal (this computer),
    # the page says so, and nothing of the request is echoed into it.
    log.error("Unexpected error in the studio", exc_info=exc)
    return studio_of(request).render(
        request,
        "error.html",
        status_code=500,
        message="Something went wrong inside Chairside (a bug). The details are in the "
        "window where the studio was started; nothing was changed by this page.",
    )


def create_app(workspace: Workspace, guard: Guard) -> Starlette:
    routes = [
        *campaigns.routes,
        *edit.routes,
        *patients.routes,
        *send.routes,
        *month.routes,
        *unsubscribes.routes,
        *report.routes,
        *settings.routes,
        *inbox.routes,
        *themes.routes,
        *doctor.routes,
        Mount("/static", StaticFiles(packages=[("chairside.studio", "static")]), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            ChairsideError: _user_error,
            CsrfRefused: _csrf_refused,
            Exception: _bug,
        },
        lifespan=send.lifespan,
    )
    app.state.guard = guard
    app.state.studio = Studio(workspace, guard, make_env())
    return GuardMiddleware(app, guard)  # type: ignore[return-value]

"""The studio's web application: routes, templates, and how errors become pages.

Pages live in `chairside.studio.pages.*`; each module lists its `routes`. Every POST route
is made with `post()`, which reads the form only once its CSRF token is checked, so no
state-changing route can forget the check (tests/test_studio_security.py walks them all).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from chairside.errors import ChairsideError
from chairside.studio.security import CSRF_FIELD, CsrfRefused, Guard, GuardMiddleware, read_form
from chairside.workspace import Workspace, load_practice

log = logging.getLogger("chairside.studio")

FormHandler = Callable[[Request, FormData], Awaitable[Response]]


@dataclass
class Studio:
    """What every page needs: the practice folder, this run's guard, the running sends."""

    workspace: Workspace
    guard: Guard
    env: Environment
    jobs: dict = field(default_factory=dict)
    """Campaign name → its `SendJob` (chairside.studio.pages.send), while the studio runs."""
    notes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Campaign name → what `create_campaign` noted (as `chairside new` prints it), shown
    once on its first Edit page."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def render(
        self, request: Request, template: str, status_code: int = 200, **context
    ) -> Response:
        try:
            practice_name = load_practice(self.workspace).name
        except ChairsideError:
            practice_name = self.workspace.root.name
        html = self.env.get_template(template).render(
            csrf_field=CSRF_FIELD,
            csrf_token=self.guard.csrf_token,
            practice_name=practice_name,
            path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=status_code)


def studio_of(request: Request) -> Studio:
    return request.app.state.studio


def post(path: str, handler: FormHandler) -> Route:
    """A POST route whose handler gets the form, CSRF token checked."""

    async def endpoint(request: Request) -> Response:
        form = await read_form(request)
        try:
            return await handler(request, form)
        finally:
            await form.close()

    return Route(path, endpoint, methods=["POST"])


def make_env() -> Environment:
    """The studio's own templates (package data), autoescaped: every value shown in them
    (subjects, post titles, patient fields) is data."""
    return Environment(
        loader=PackageLoader("chairside.studio", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


async def _user_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ChairsideError)
    return studio_of(request).render(
        request, "error.html", status_code=400, message=exc.format_message()
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
        "window where `chairside studio` runs; nothing was changed by this page.",
    )


def create_app(workspace: Workspace, guard: Guard) -> Starlette:
    from chairside.studio.pages import campaigns, edit, patients, send, unsubscribes

    routes = [
        *campaigns.routes,
        *edit.routes,
        *patients.routes,
        *send.routes,
        *unsubscribes.routes,
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

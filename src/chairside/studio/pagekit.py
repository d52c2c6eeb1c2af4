"""What every page module of the studio shares: the `Studio` (the practice folder, this
run's guard, the running sends), `studio_of(request)`, and `post()`, which makes a POST route
that reads its form only once the CSRF token is checked, so no state-changing route can
forget the check (tests/test_studio_security.py walks them all).

Pages import this; app.py imports the pages and this, so imports run one way.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from jinja2 import Environment
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from chairside.errors import ChairsideError
from chairside.studio import state
from chairside.studio.security import CSRF_FIELD, Guard, read_form
from chairside.studio.words import plain
from chairside.workspace import Workspace

FormHandler = Callable[[Request, FormData], Awaitable[Response]]
Again = Callable[..., Awaitable[Response]]
"""A page shown again with errors beside their form: `again(request, errors=…, status_code=…)`,
`errors` mapping the form's place on the page to the message."""


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
            practice_name = state.practice(self.workspace).name
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


def post(path: str, handler: FormHandler, *, again: Again | None = None, where: str = "") -> Route:
    """A POST route whose handler gets the form, CSRF token checked. With `again`, a user
    error is shown on the form's own page, beside the form (`where` on that page), in the
    studio's words; without, on the error page."""

    async def endpoint(request: Request) -> Response:
        form = await read_form(request)
        try:
            return await handler(request, form)
        except ChairsideError as exc:
            if again is None:
                raise
            errors = {where or "page": plain(exc.format_message())}
            return await again(request, errors=errors, status_code=400)
        finally:
            await form.close()

    return Route(path, endpoint, methods=["POST"])

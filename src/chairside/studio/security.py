"""Who may talk to the studio: this computer, this browser, these forms.

- the server binds 127.0.0.1 only (see `chairside.studio.server`);
- the Host header must be `127.0.0.1:PORT` or `localhost:PORT`, so a web page whose name
  was re-pointed at 127.0.0.1 (DNS rebinding) is refused;
- a random secret, printed in the address the studio opens, is exchanged once for an
  HttpOnly, SameSite=Strict cookie that every later request must carry;
- every POST carries a CSRF token (`read_form`), and a body over `MAX_BODY` is refused
  before it is read.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 20 * 1024 * 1024
"""The largest request body: a patient export of ~100,000 rows fits."""
MAX_FILES = 20
CSRF_FIELD = "csrf"
# Pages are ours; previews of the email are framed from the same origin and sandboxed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; "
    "base-uri 'none'"
)


class CsrfRefused(Exception):
    """A state-changing request without this session's CSRF token."""


@dataclass(frozen=True)
class Guard:
    """The secret of one studio run, and the port it answers on."""

    secret: str
    port: int

    @property
    def cookie_name(self) -> str:
        # Cookies ignore ports: two studios (two practices) must not log each other out.
        return f"chairside_studio_{self.port}"

    @property
    def csrf_token(self) -> str:
        return hmac.new(self.secret.encode(), b"csrf", hashlib.sha256).hexdigest()

    def host_allowed(self, host: str) -> bool:
        return host in (f"127.0.0.1:{self.port}", f"localhost:{self.port}")

    def secret_matches(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode(), self.secret.encode())


async def read_form(request: Request) -> FormData:
    """The POSTed form, once its CSRF token is checked (raise `CsrfRefused` otherwise)."""
    guard: Guard = request.app.state.guard
    form = await request.form(max_files=MAX_FILES, max_fields=500)
    token = form.get(CSRF_FIELD)
    if not isinstance(token, str) or not hmac.compare_digest(
        token.encode(), guard.csrf_token.encode()
    ):
        await form.close()
        raise CsrfRefused
    return form


class GuardMiddleware:
    """Host check, secret-for-cookie exchange, cookie on every request, body limit,
    and the security headers on every response."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets here
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        guard = self.guard
        if not guard.host_allowed(headers.get("host", "")):
            await _plain(send, 421, "This studio answers only at 127.0.0.1 or localhost.")
            return
        if scope["path"] == "/login":
            token = parse_qs(scope.get("query_string", b"").decode()).get("token", [None])[0]
            if not guard.secret_matches(token):
                await _refuse_session(send)
                return
            cookie = (
                f"{guard.cookie_name}={guard.secret}; HttpOnly; SameSite=Strict; Path=/"
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 303,
                    # The secret leaves the address bar at once, and never reaches a log.
                    "headers": [(b"location", b"/"), (b"set-cookie", cookie), *_HEADERS],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        jar = SimpleCookie()
        try:
            jar.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is no session
            jar = SimpleCookie()
        morsel = jar.get(guard.cookie_name)
        if not guard.secret_matches(morsel.value if morsel else None):
            await _refuse_session(send)
            return
        if scope["method"] not in ("GET", "HEAD", "POST"):
            await _plain(send, 405, "Method not allowed.")
            return
        if scope["method"] == "POST":
            length = headers.get("content-length")
            if length is None or not length.isdigit():
                await _plain(send, 411, "A form must say how long it is.")
                return
            if int(length) > MAX_BODY:
                await _plain(
                    send,
                    413,
                    f"That upload is over {MAX_BODY // (1024 * 1024)} MB. Upload a smaller file.",
                )
                return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = {k.lower() for k, _ in message.get("headers", [])}
                # A page that sets its own policy (the sandboxed email preview) keeps it.
                message["headers"] = [
                    *message.get("headers", []),
                    *(h for h in _HEADERS if h[0] not in own),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"x-frame-options", b"SAMEORIGIN"),
]


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _refuse_session(send: Send) -> None:
    await _plain(
        send,
        403,
        "Open the studio with the address `chairside studio` printed in its window "
        "(it ends with ?token=...). Each start of the studio prints a new one.",
    )

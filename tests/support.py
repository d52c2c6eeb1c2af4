"""Helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import lxml.html
import pytest
from click.testing import Result

from chairside.content import Article, read_post

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
CONTENT = DATA / "content"
DEMO_PARTS = ("practice.toml", "audiences", "campaigns", "templates")


def copy_demo(root: Path) -> Path:
    """Copy the demo practice in the repository into `root` (created), safe to change."""
    root.mkdir(parents=True, exist_ok=True)
    for part in DEMO_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, root / part)
        else:
            shutil.copy(source, root / part)
    return root


def assert_user_error(result: Result, *fragments: str) -> None:
    """Exit 1, a message that says what is wrong, and no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)


def tree(fragment: str) -> lxml.html.HtmlElement:
    """An HTML fragment parsed under one <div>, to assert on its structure."""
    return lxml.html.fragment_fromstring(fragment, create_parent="div")


def read_written(tmp_path: Path, name: str, text: str) -> Article:
    """Write a post file and read it with the reader for its extension."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return read_post(path)


class _Gate(threading.Event):
    """One hold of an SmtpRecorder: set when released; `waiting`: the replies it holds."""

    waiting = 0


class SmtpRecorder:
    """An aiosmtpd handler that keeps what it receives and fails on demand.

    `refuse[address] = [451, 0]` answers RCPT for that address with 451 once, then accepts
    (0 = accept); `delay` slows every DATA reply. To catch a sender mid-run, whatever the
    machine's load, `hold_after(n)` answers the first n messages and holds the reply to every
    later one (taken, not answered: `held` counts them) until `release()`.
    """

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.senders: dict[str, str] = {}
        """Each recipient's envelope sender (MAIL FROM), the last one."""
        self.refuse: dict[str, list[int]] = {}
        self.delay = 0.0
        self.hold_from: int | None = None
        self._gate = _Gate()
        self.open_connections = lambda: 0  # set by the smtp_server fixture

    @property
    def held(self) -> int:
        """Messages taken whose reply is held now (since the last `hold_after`)."""
        return self._gate.waiting

    def hold_after(self, answered: int) -> None:
        self._gate.set()  # a new hold: replies still held by an earlier one are let go
        self._gate = _Gate()
        self.hold_from = answered

    def release(self) -> None:
        """Answer the messages held, and every later one at once."""
        self.hold_from = None
        self._gate.set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        codes = self.refuse.get(address.lower())
        if codes:
            code = codes.pop(0)
            if code:
                return f"{code} {'try again later' if code < 500 else 'no such user'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # The message counts as taken once its data has arrived, as at a real server; the
        # reply comes after `delay`, so a sender killed meanwhile never learns it was taken.
        import asyncio

        number = len(self.received)
        for rcpt in envelope.rcpt_tos:
            self.received.append((rcpt.lower(), envelope.original_content))
            self.senders[rcpt.lower()] = envelope.mail_from
        gate = self._gate
        if self.hold_from is not None and number >= self.hold_from:
            gate.waiting += 1
            while not gate.is_set():  # the server's loop keeps serving the others meanwhile
                await asyncio.sleep(0.005)
            gate.waiting -= 1
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"

    def recipients(self) -> list[str]:
        return [rcpt for rcpt, _ in self.received]


class HttpRecorder:
    """A real HTTP server on 127.0.0.1 that records requests and answers as told.

    `route(method, pattern, answer)` maps a path regex to `answer(request) -> (status, body)`
    or `(status, body, headers)` (a dict body is sent as JSON); `fail_next` holds answers
    given first, in order, whatever the path: `(429, {...}, {"Retry-After": "0"})` makes a
    provider wait and retry. An answer of `DROP` closes the connection without a reply, as
    a provider that acted and then vanished does; `acted_then(status)` wraps an answer so
    the request takes effect and the reply is an error anyway (a 502 after queueing).
    """

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[RecordedRequest] = []
        self.routes: list[tuple[str, re.Pattern[str], object]] = []
        self.fail_next: list[tuple] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                request = RecordedRequest(
                    self.command,
                    self.path.split("?")[0],
                    self.path.partition("?")[2],
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                recorder.requests.append(request)
                answer = recorder.answer(request)
                if answer is DROP:
                    self.close_connection = True
                    return
                status, body, headers = answer
                data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def route(self, method: str, pattern: str, answer) -> None:
        self.routes.append((method, re.compile(pattern + r"$"), answer))

    def answer(self, request: RecordedRequest) -> tuple[int, object, dict] | object:
        if self.fail_next:
            given = self.fail_next.pop(0)
            if given is DROP:
                return DROP
            status, body, *headers = given
            return status, body, (headers[0] if headers else {})
        for method, pattern, answer in self.routes:
            if method == request.method and pattern.match(request.path):
                given = answer(request)
                if given is DROP:
                    return DROP
                status, body, *headers = given
                return status, body, (headers[0] if headers else {})
        return 404, {"detail": f"no route for {request.method} {request.path}"}, {}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


DROP = object()
"""An HTTP answer that is no answer: the connection closes without a reply."""


def acted_then(answer, reply):
    """`answer` takes effect (what the provider did is recorded), then `reply` is given
    instead of its result: `DROP`, or `(502, body)`."""

    def act(request):
        answer(request)
        return reply

    return act


@dataclasses.dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        """The fields of a form, urlencoded or multipart/form-data (parsed as MIME)."""
        from urllib.parse import parse_qs

        content_type = self.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return parse_qs(self.body.decode(), keep_blank_values=True)
        from email import policy
        from email.parser import BytesParser

        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = BytesParser(policy=policy.HTTP).parsebytes(head + self.body)
        assert message.is_multipart() and not message.defects, message.defects
        fields: dict[str, list[str]] = {}
        for part in message.iter_parts():
            assert part.get_content_disposition() == "form-data"
            assert part.get_filename() is None  # fields, not file uploads
            name = part.get_param("name", header="content-disposition")
            value = part.get_payload(decode=True).decode("utf-8")
            fields.setdefault(name, []).append(value)
        return fields


class ScriptedSmtp(SmtpRecorder):
    """An SmtpRecorder that answers every sender the way a misconfigured or picky server does.

    `at["MAIL" | "RCPT" | "DATA"] = "554 5.7.1 Relay access denied"` answers that stage so
    for everyone ("DATA" is the reply after the message); `{rcpt}` in it becomes the
    recipient. `reply_for[address] = "550 5.1.1 ..."` refuses one address at RCPT, and
    `after_data_for[address]` after its message; an address in `hang_up_after_data_for`
    has its message taken and the connection closed before the reply. `vanish_after = n`:
    once n messages have arrived, the next MAIL gets `421` and the server stops
    (`on_vanish`, set by the fixture).
    """

    def __init__(self) -> None:
        super().__init__()
        self.at: dict[str, str] = {}
        self.reply_for: dict[str, str] = {}
        self.after_data_for: dict[str, str] = {}
        self.hang_up_after_data_for: set[str] = set()
        self.vanish_after: int | None = None
        self.on_vanish = None
        self.mail_options: list[list[str]] = []

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.vanish_after is not None and len(self.received) >= self.vanish_after:
            import threading

            self.vanish_after = None
            threading.Thread(target=self.on_vanish).start()
            return "421 4.3.2 Service shutting down"
        if "MAIL" in self.at:
            return self.at["MAIL"]
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        self.mail_options.append(list(mail_options))
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.reply_for.get(address.lower()) or self.at.get("RCPT")
        if reply:
            return reply.replace("{rcpt}", address)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):
        rcpt = envelope.rcpt_tos[0].lower() if envelope.rcpt_tos else ""
        if rcpt in self.hang_up_after_data_for:  # took the message, then the line went dead
            self.hang_up_after_data_for.discard(rcpt)
            self.received.append((rcpt, envelope.original_content))
            server.transport.close()
            return "250 OK"
        reply = self.after_data_for.get(rcpt) or self.at.get("DATA")
        if reply:
            return reply.replace("{rcpt}", rcpt)
        return await super().handle_DATA(server, session, envelope)


def write_patients(path: Path, emails: list[str]) -> None:
    """A patient list in the demo's columns: everyone consents, no concern."""
    import csv

    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["Patient ID", "First Name", "Last Name", "Email", "Concerns", "Email Opt In"]
        )
        for number, email in enumerate(emails):
            writer.writerow([f"P{number:05d}", "Pat", "Example", email, "", "Y"])


def posts_line(toml: Path, file_name: str) -> int:
    """The line of the `[[posts]]` table in `toml` whose `file` is `file_name` (errors point
    at the table, not at the key)."""
    lines = toml.read_text(encoding="utf-8").splitlines()
    entry = next(n for n, text in enumerate(lines, 1) if json.dumps(file_name) in text)
    return max(n for n, text in enumerate(lines[:entry], 1) if text.strip() == "[[posts]]")


class StudioServer:
    """`chairside studio` for `root`, served in-process from a thread on a free port.

    `login_url` carries the secret; `client()` is an httpx client that has exchanged it
    for the session cookie. `close()` stops it as Ctrl-C does (sends finish first).
    """

    def __init__(self, root: Path) -> None:
        import threading
        import time

        from chairside.studio.server import make_server
        from chairside.workspace import Workspace

        self.root = root
        self.running = make_server(Workspace(root))
        self.port = self.running.port
        self.url = f"http://127.0.0.1:{self.port}"
        self.login_url = self.running.url
        self.secret = self.running.secret
        self.thread = threading.Thread(target=self.running.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.running.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the studio did not start")
            time.sleep(0.02)

    @property
    def app(self):
        return self.running.server.config.app

    def client(self):
        import httpx

        client = httpx.Client(base_url=self.url, follow_redirects=False, timeout=30)
        client.get(self.login_url)
        return client

    def close(self) -> None:
        self.running.server.should_exit = True
        self.thread.join(timeout=30)


def csrf_of(page: str) -> str:
    """The CSRF token in a studio page's forms."""
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match.group(1)


class Pipelining:
    """Mix into an SmtpRecorder: the server offers PIPELINING (RFC 2920), as Postfix, Exchange
    and Gmail do (aiosmtpd reads pipelined commands in order but does not say so)."""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [responses[0], "250-PIPELINING", *responses[1:]]


class PipeliningRecorder(Pipelining, SmtpRecorder):
    pass


class PipeliningScripted(Pipelining, ScriptedSmtp):
    pass


def need(tool: str, present: bool) -> None:
    """Skip without `tool` (a system package the tests use), with the reason; fail instead in
    CI, which must have it: a missing install step in .ci/run fails CI, not a user."""
    if present:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{tool} is missing in CI: .ci/run should have installed it")
    pytest.skip(f"{tool} is not installed here")


CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright never downloads a browser here
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    # This machine's network is closed: without these, Chromium's own background
    # connections are refused, many at a time.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium() -> Iterator:
    """Debian's headless Chromium, driven by Playwright (skipped without it; fails in CI)."""
    need("Debian's chromium", CHROMIUM.exists())
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("playwright (pip install '.[test]')", False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def smtp_with_login(user: str, password: str) -> Iterator[tuple[SmtpRecorder, int]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that takes one login and refuses any
    other with 535, without TLS: (its recorder, its port)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from tests.conftest import free_port

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login, auth_data.password) == (user.encode(), password.encode())
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    recorder = SmtpRecorder()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield recorder, controller.port
    finally:
        controller.stop()

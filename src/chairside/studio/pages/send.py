"""Send: a test to an address, then the real send with a confirmation naming how many
patients it goes to; live progress, stop (the current message finishes) and resume; the
status afterwards.

The send runs in a thread of the studio through `chairside.sending.send_campaign`, the
function `chairside send` calls, under the same campaign lock and ledger: a send started
in the CLI shows here as running (and the other way round), and neither can start a second.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chairside.autopilot.approval import record_test
from chairside.autopilot.status import fingerprint, is_tested, read_status
from chairside.campaign import campaign_file, check_name
from chairside.delivery import Prepared, prepare, state_dir
from chairside.errors import ChairsideError, DeliveryIncomplete
from chairside.ledger import LedgerError, campaign_lock, is_locked, open_ledger
from chairside.studio.pagekit import Studio, post, studio_of
from chairside.workspace import Workspace

log = logging.getLogger("chairside.studio")


@dataclass
class SendJob:
    """One `send_campaign` run in a thread of the studio."""

    name: str
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    total: int = 0
    done: int = 0
    started: float = 0.0
    report: object | None = None
    lines: list[str] = field(default_factory=list)
    """The run's summary, as the CLI prints it (sendsummary.summary, push.summary)."""
    error: str | None = None
    """Why the run stopped itself (a refusal of the server, a lost server, storage...)."""
    incomplete: str | None = None
    """DeliveryIncomplete's message: it ran to its end, but not everyone has it."""
    audience: object | None = None
    """The patient list the run was prepared with: progress is counted against it, so
    polling never re-reads a large list while the send runs."""

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def on_start(self, total: int) -> None:
        self.total, self.started = total, time.monotonic()

    def on_message(self) -> None:
        self.done += 1

    def on_batch(self, handed: int) -> None:
        self.done += handed

    def seconds_left(self) -> float | None:
        if not self.done or not self.started:
            return None
        return (time.monotonic() - self.started) / self.done * (self.total - self.done)


def smtp_settings(prepared: Prepared):
    """`chairside send`'s server settings: [smtp] in practice.toml, password from the
    environment (the studio has no options to override them)."""
    from chairside.providers.smtp import resolve

    return resolve(prepared.practice.smtp)


def to_send(
    workspace: Workspace,
    prepared: Prepared,
    *,
    retry_failed: bool = False,
    resend_unknown: bool = False,
) -> int:
    """How many patients a send would write to now (what `send --dry-run` counts)."""
    from chairside.sending import plan

    with open_ledger(state_dir(workspace)) as ledger:
        work = plan(
            prepared,
            ledger.statuses(prepared.campaign.name),
            resend_unknown=resend_unknown,
            retry_failed=retry_failed,
        )
    return len(work.to_send)


def _status(workspace: Workspace, name: str, job: SendJob | None, show: bool) -> dict:
    from chairside.audience.patients import load_audience
    from chairside.status import campaign_status

    try:
        audience = job.audience if job and job.running else load_audience(workspace)
        found = campaign_status(name, audience, state=state_dir(workspace), show=show)
    except LedgerError as exc:  # lost, older than its journal: rebuilt from it, on request
        return {"status": None, "status_error": exc.format_message(), "ledger_lost": True}
    except ChairsideError as exc:
        return {"status": None, "status_error": exc.format_message()}
    left = job.seconds_left() if job and job.running else None
    return {"status": found, "seconds_left": left, "status_error": None}


def _context(studio: Studio, name: str, show: bool = False) -> dict:
    job = studio.jobs.get(name)
    running = bool(job and job.running) or is_locked(state_dir(studio.workspace), name)
    return {
        "name": name,
        "job": job,
        "running": running,
        "ours": bool(job and job.running),
        "show": show,
        "tested": is_tested(
            read_status(studio.workspace, name), fingerprint(studio.workspace, name)
        ),
        **_status(studio.workspace, name, job, show),
    }


def _name(request: Request) -> str:
    name = check_name(request.path_params["name"])
    campaign_file(studio_of(request).workspace, name)  # a typo is an error, not an empty page
    return name


async def send_page(request: Request) -> Response:
    studio = studio_of(request)
    name = _name(request)
    show = request.query_params.get("show") == "1"
    context = await run_in_threadpool(_context, studio, name, show)
    return studio.render(request, "send.html", **context)


async def progress(request: Request) -> Response:
    """The progress box alone, polled by htmx while a send runs."""
    studio = studio_of(request)
    name = _name(request)
    context = await run_in_threadpool(_context, studio, name, False)
    return studio.render(request, "progress.html", **context)


async def test_send(request: Request, form: FormData) -> Response:
    """`chairside send NAME --test ADDRESS`."""
    from email_validator import EmailNotValidError, validate_email

    from chairside.sending import send_tests

    studio = studio_of(request)
    workspace = studio.workspace
    name = _name(request)
    address = str(form.get("address", "")).strip()
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ChairsideError(f"Test address: {exc}") from None

    def run() -> list[tuple[str, str]]:
        prepared = prepare(workspace, name)
        return send_tests(prepared, smtp_settings(prepared), address)

    replies = await run_in_threadpool(run)
    if all(not reply.startswith("not sent") for _, reply in replies):
        record_test(workspace, name, address)  # what approving asks for
    context = await run_in_threadpool(_context, studio, name, False)
    return studio.render(request, "send.html", test_replies=replies, address=address, **context)


def _prepared_for_send(workspace: Workspace, name: str, **choices: bool) -> tuple[Prepared, int]:
    """The campaign prepared and checked, and how many a send with `choices` (`_choices`)
    would write to."""
    from chairside.checks import refuse_if_errors

    prepared = prepare(workspace, name)
    refuse_if_errors(workspace, prepared, force=False)
    return prepared, to_send(workspace, prepared, **choices)


def _choices(form: FormData) -> dict[str, bool]:
    """The boxes the office ticked, as `send_campaign`'s keywords:
    `retry_failed` (`send --retry-failed`): patients marked failed are sent to again (those
    whose bounce was undone under Unsubscribes; the others are still suppressed);
    `resend_unknown` (`send --resend-unknown`): patients whose message may or may not have
    arrived are sent it again, so they may receive it twice."""
    return {
        "retry_failed": form.get("retry_failed") == "yes",
        "resend_unknown": form.get("resend_unknown") == "yes",
    }


async def confirm(request: Request, form: FormData) -> Response:
    studio = studio_of(request)
    name = _name(request)
    choices = _choices(form)
    _, count = await run_in_threadpool(
        lambda: _prepared_for_send(studio.workspace, name, **choices)
    )
    context = await run_in_threadpool(_context, studio, name, False)
    return studio.render(request, "send.html", confirm_count=count, **choices, **context)


async def start(request: Request, form: FormData) -> Response:
    """`chairside send NAME [--retry-failed] [--resend-unknown]`, in a thread, once the
    office confirmed the
    number; it ends with the CLI's summary, and its refusal or DeliveryIncomplete."""
    from chairside import sendsummary
    from chairside.sending import send_campaign

    studio = studio_of(request)
    workspace = studio.workspace
    name = _name(request)
    with studio.lock:
        running = studio.jobs.get(name)
        if running and running.running:
            raise ChairsideError(f"{name} is already being sent from this studio.")
    # The CLI's own lock, taken for a moment: a send running elsewhere is refused here, in
    # its words, before anything starts (the thread takes it again for the whole send).
    with campaign_lock(state_dir(workspace), name):
        pass
    choices = _choices(form)
    prepared, count = await run_in_threadpool(
        lambda: _prepared_for_send(workspace, name, **choices)
    )
    if str(count) != str(form.get("expected", "")):
        context = await run_in_threadpool(_context, studio, name, False)
        return studio.render(
            request, "send.html", confirm_count=count, changed=True, **choices, **context
        )
    settings = smtp_settings(prepared)
    job = SendJob(name, audience=prepared.audience)

    def work() -> None:
        _run(
            job,
            lambda: send_campaign(
                workspace,
                prepared,
                settings,
                **choices,
                stop=job.stop,
                on_start=job.on_start,
                on_message=job.on_message,
            ),
            sendsummary.summary,
            sendsummary.finish,
        )

    _start(studio, job, work)
    return RedirectResponse(f"/c/{name}/send", 303)


def _run(job: SendJob, deliver, summarize, finish) -> None:
    """Run `deliver()` in the job's thread and keep for the page what the CLI says at its
    end: `summarize(report)`, then what `finish(report)` raises (the run's refusal, or
    DeliveryIncomplete when it ran to its end but not everyone has it)."""
    try:
        job.report = deliver()
        job.lines = summarize(job.report)
        finish(job.report)
    except DeliveryIncomplete as exc:
        job.incomplete = exc.format_message()
    except ChairsideError as exc:
        job.error = exc.format_message()
    except Exception:  # a bug: the terminal gets the traceback, the page a sentence
        log.exception("The delivery of %s stopped on an unexpected error", job.name)
        job.error = (
            "The send stopped on an unexpected error (a bug); details are in the window "
            "where `chairside studio` runs. Check the status before sending again."
        )


def _start(studio: Studio, job: SendJob, work) -> None:
    with studio.lock:
        if studio.jobs.get(job.name) and studio.jobs[job.name].running:
            raise ChairsideError(f"{job.name} is already being sent from this studio.")
        job.thread = threading.Thread(target=work, name=f"deliver {job.name}")
        studio.jobs[job.name] = job
        job.thread.start()


async def stop(request: Request, form: FormData) -> Response:
    studio = studio_of(request)
    name = _name(request)
    job = studio.jobs.get(name)
    if job is None:
        raise ChairsideError(
            f"{name} is not being sent from this studio. A send started with `chairside send` "
            "stops with Ctrl-C in its window."
        )
    job.stop.set()  # a run that ended meanwhile: nothing to stop, its page says how it ended
    return RedirectResponse(f"/c/{name}/send", 303)


async def rebuild(request: Request, form: FormData) -> Response:
    """`chairside rebuild-ledger NAME`: the ledger rebuilt from the campaign's journal, under
    the campaign's lock (refused while a send runs anywhere)."""
    from chairside import sendsummary
    from chairside.ledger import rebuild_ledger

    studio = studio_of(request)
    name = _name(request)
    state = state_dir(studio.workspace)

    def run() -> list[str]:
        with campaign_lock(state, name, holder="rebuild-ledger"):
            return sendsummary.rebuilt(name, *rebuild_ledger(state, name))

    notice = await run_in_threadpool(run)
    context = await run_in_threadpool(_context, studio, name, False)
    return studio.render(request, "send.html", rebuilt=notice, **context)


PROVIDERS = ("mailchimp", "sendgrid", "mailgun")


def _provider(workspace: Workspace, name: str, form: FormData):
    """`chairside export NAME --to PROVIDER --push`'s provider, checked as it checks it:
    (provider, patients to hand over, BAA warning or None). A concern version to a provider
    without a BAA raises the CLI's refusal unless the office ticked "without a BAA"."""
    from chairside.providers import provider_class
    from chairside.providers.base import check_baa

    chosen = str(form.get("provider", ""))
    if chosen not in PROVIDERS:
        raise ChairsideError(f"Choose a provider: {', '.join(PROVIDERS)}.")
    prepared, count = _prepared_for_send(workspace, name)
    provider = provider_class(chosen)(
        prepared, concern_tags=False, options={"audience_id": None, "domain": None}
    )
    warning = check_baa(provider, without_baa=form.get("without_baa") == "yes")
    return provider, count, warning


async def push_confirm(request: Request, form: FormData) -> Response:
    studio = studio_of(request)
    name = _name(request)
    chosen = str(form.get("provider", ""))
    context = await run_in_threadpool(_context, studio, name, False)
    try:
        provider, count, warning = await run_in_threadpool(_provider, studio.workspace, name, form)
    except ChairsideError as exc:
        if chosen not in PROVIDERS:
            raise
        # Most likely the BAA refusal: shown with the box that overrides it.
        return studio.render(
            request,
            "send.html",
            status_code=400,
            push={"provider": chosen, "refusal": exc.format_message()},
            **context,
        )
    push = {"provider": chosen, "title": provider.title, "count": count, "warning": warning}
    return studio.render(request, "send.html", push=push, **context)


async def push_start(request: Request, form: FormData) -> Response:
    """`chairside export NAME --to PROVIDER --push`, in a thread."""
    from chairside.providers import push as pushing

    studio = studio_of(request)
    workspace = studio.workspace
    name = _name(request)
    with campaign_lock(state_dir(workspace), name):  # refused here if a send runs elsewhere
        pass
    provider, count, warning = await run_in_threadpool(_provider, workspace, name, form)
    if str(count) != str(form.get("expected", "")):
        context = await run_in_threadpool(_context, studio, name, False)
        push = {"provider": provider.name, "title": provider.title, "count": count,
                "warning": warning, "changed": True}  # fmt: skip
        return studio.render(request, "send.html", push=push, **context)
    job = SendJob(name, audience=provider.prepared.audience)
    job.total, job.started = count, time.monotonic()

    def work() -> None:
        _run(
            job,
            lambda: pushing.push(workspace, provider, on_batch=job.on_batch),
            pushing.summary,
            pushing.finish,
        )

    _start(studio, job, work)
    return RedirectResponse(f"/c/{name}/send", 303)


@contextlib.asynccontextmanager
async def lifespan(app):
    """On Ctrl-C: every running send finishes its current message, then the studio exits."""
    yield
    studio: Studio = app.state.studio
    for job in list(studio.jobs.values()):
        job.stop.set()
    for job in list(studio.jobs.values()):
        if job.thread is not None:
            await run_in_threadpool(job.thread.join)


routes = [
    Route("/c/{name}/send", send_page),
    Route("/c/{name}/send/progress", progress),
    post("/c/{name}/send/test", test_send),
    post("/c/{name}/send/confirm", confirm),
    post("/c/{name}/send/start", start),
    post("/c/{name}/send/stop", stop),
    post("/c/{name}/ledger/rebuild", rebuild),
    post("/c/{name}/push/confirm", push_confirm),
    post("/c/{name}/push/start", push_start),
]

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

from chairside.audience.segments import load_segments
from chairside.autopilot.approval import record_test
from chairside.autopilot.status import fingerprint, is_tested, read_status
from chairside.campaign import campaign_file, check_name
from chairside.delivery import Prepared, prepare, state_dir
from chairside.errors import ChairsideError, DeliveryIncomplete
from chairside.ledger import (
    DEFERRED,
    FAILED,
    SENDING,
    SENT,
    LedgerError,
    campaign_lock,
    is_locked,
    open_ledger,
    peek_counts,
)
from chairside.studio import state, words
from chairside.studio.pagekit import Studio, post, studio_of
from chairside.workspace import Workspace

log = logging.getLogger("chairside.studio")


@dataclass
class SendJob:
    """One `send_campaign` run in a thread of the studio."""

    name: str
    provider: str | None = None
    """The provider it is handed to (a push), None for a send over the mail server."""
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
    before: dict[str, int] = field(default_factory=dict)
    """The ledger's counts by status when the run started: with `done`, what the progress
    box shows, so a poll reads neither the list nor the ledger."""

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


def _status(workspace: Workspace, name: str, show: bool) -> dict:
    """`chairside status NAME`, cached until the ledger or the list changes."""
    try:
        found = state.status(workspace, name, show=show)
    except LedgerError as exc:  # lost, older than its journal: rebuilt from it, on request
        return {"status": None, "status_error": exc.format_message(), "ledger_lost": True}
    except ChairsideError as exc:
        return {"status": None, "status_error": exc.format_message()}
    counts = {
        "sent": found.sent,
        "deferred": len(found.deferred),
        "failed": len(found.failed),
        "unknown": len(found.unknown),
        "pending": found.pending,
    }
    return {"status": found, "counts": counts, "seconds_left": None, "status_error": None}


def _live(workspace: Workspace, name: str, job: SendJob | None) -> dict:
    """While a send runs, counts only (polled every second or two, so never the rows or
    the list): our own run counts in memory; one from another window by the ledger's counts
    by status, kept beside its rows."""
    if job and job.running:
        before = job.before
        counts = {
            "sent": before.get(SENT, 0) + job.done,
            "deferred": before.get(DEFERRED, 0),
            "failed": before.get(FAILED, 0),
            "unknown": 0,
            "pending": max(job.total - job.done, 0),
        }
        return {"status": None, "counts": counts, "seconds_left": job.seconds_left(),
                "status_error": None}  # fmt: skip
    try:
        found = peek_counts(state_dir(workspace), name)
        sendable = state.list_summary(workspace)["sendable"]
    except ChairsideError as exc:
        return {"status": None, "status_error": exc.format_message()}
    counts = {
        "sent": found.get(SENT, 0),
        "deferred": found.get(DEFERRED, 0),
        "failed": found.get(FAILED, 0),
        "unknown": found.get(SENDING, 0),
        "pending": max(sendable - sum(found.values()), 0),
    }
    return {"status": None, "counts": counts, "seconds_left": None, "status_error": None}


def _context(
    studio: Studio, name: str, show: bool = False, *, poll: bool = False, wait: float | None = None
) -> dict:
    """With `wait`, a status that takes longer than that to read is left to the progress
    fragment (`reading`); a page that confirms a number never waits."""
    workspace = studio.workspace
    job = studio.jobs.get(name)
    running = bool(job and job.running) or is_locked(state_dir(workspace), name)
    reading = (
        not running
        and wait is not None
        and not state.status_ready(workspace, name, wait, show=show)
    )
    context = {
        "name": name,
        "job": job,
        "running": running,
        "ours": bool(job and job.running),
        "show": show,
        "reading": reading,
    }
    if not reading:
        context.update(_live(workspace, name, job) if running else _status(workspace, name, show))
    if not poll:  # the progress box alone does not say whether a test was sent
        context["tested"] = is_tested(read_status(workspace, name), fingerprint(workspace, name))
        context["push_keys"] = _keys_missing(workspace)
        segments = load_segments(workspace.segments_file)
        context["names"] = {s.id: s.name for s in segments}
    return context


def _name(request: Request) -> str:
    name = check_name(request.path_params["name"])
    campaign_file(studio_of(request).workspace, name)  # a typo is an error, not an empty page
    return name


async def send_page(
    request: Request, *, errors: dict[str, str] | None = None, status_code: int = 200
) -> Response:
    """The page; `errors` shown beside their form ("test", "send", "push")."""
    studio = studio_of(request)
    name = _name(request)
    show = request.query_params.get("show") == "1"
    wait = None if errors else state.WAIT  # an error is shown in the progress box
    context = await run_in_threadpool(lambda: _context(studio, name, show, wait=wait))
    return studio.render(
        request, "send.html", status_code=status_code, errors=errors or {}, **context
    )


async def progress(request: Request) -> Response:
    """The progress box alone, polled by htmx while a send runs."""
    studio = studio_of(request)
    name = _name(request)
    show = request.query_params.get("show") == "1"
    context = await run_in_threadpool(lambda: _context(studio, name, show, poll=True))
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
    try:
        refuse_if_errors(workspace, prepared, force=False)
    except ChairsideError:
        raise ChairsideError(
            f"Nothing was sent: the checks found errors in {name} to fix first. Each is "
            "shown beside its field on the Edit page; fix them there and save."
        ) from None
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
    doubt = await run_in_threadpool(_doubt, studio.workspace, name)
    return studio.render(
        request, "send.html", confirm_count=count, copy_doubt=doubt, **choices, **context
    )


def _doubt(workspace: Workspace, name: str) -> str:
    """Why this copy of the practice folder may not be the latest (a restored backup, a new
    computer), in the page's words; "" when there is no doubt. The office confirms it with
    a box on the confirmation, as `--continue-from-copy` does."""
    from chairside.ledger import copy_doubt

    try:
        doubt = copy_doubt(state_dir(workspace), name)
    except ChairsideError as exc:  # the ledger's own refusal: shown when the send starts
        return exc.format_message()
    return doubt.plain if doubt is not None else ""


async def start(request: Request, form: FormData) -> Response:
    """`chairside send NAME [--retry-failed] [--resend-unknown]`, in a thread, once the
    office confirmed the
    number; it ends with the CLI's summary, and its refusal or DeliveryIncomplete."""
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
    from_copy = form.get("continue_from_copy") == "yes"
    prepared, count = await run_in_threadpool(
        lambda: _prepared_for_send(workspace, name, **choices)
    )
    doubt = "" if from_copy else await run_in_threadpool(_doubt, workspace, name)
    if str(count) != str(form.get("expected", "")) or doubt:
        context = await run_in_threadpool(_context, studio, name, False)
        return studio.render(
            request,
            "send.html",
            confirm_count=count,
            changed=not doubt,
            copy_doubt=doubt,
            **choices,
            **context,
        )
    settings = smtp_settings(prepared)
    job = SendJob(name, before=peek_counts(state_dir(workspace), name))

    def work() -> None:
        _run(
            job,
            lambda: send_campaign(
                workspace,
                prepared,
                settings,
                **choices,
                continue_from_copy=from_copy,
                stop=job.stop,
                on_start=job.on_start,
                on_message=job.on_message,
            ),
            words.send_summary,
            _finish_send,
        )

    _start(studio, job, work)
    return RedirectResponse(f"/c/{name}/send", 303)


def _finish_send(report) -> None:
    """`sendsummary.finish`, in the studio's words."""
    if report.halted:
        raise ChairsideError(report.halted)
    incomplete = words.send_incomplete(report)
    if incomplete:
        raise DeliveryIncomplete(incomplete)


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
            "where the studio was started. Check the counts below before sending again."
        )


def _start(studio: Studio, job: SendJob, work) -> None:
    with studio.lock:
        if studio.jobs.get(job.name) and studio.jobs[job.name].running:
            raise ChairsideError(f"{job.name} is already being sent from this studio.")

        def then_read_ahead() -> None:
            work()
            # The run changed the send record: read it ahead for the page that follows.
            ahead = threading.Thread(
                target=state.read_ahead, args=(studio.workspace, [job.name]), daemon=True
            )
            ahead.start()

        job.thread = threading.Thread(target=then_read_ahead, name=f"deliver {job.name}")
        studio.jobs[job.name] = job
        job.thread.start()


async def stop(request: Request, form: FormData) -> Response:
    studio = studio_of(request)
    name = _name(request)
    job = studio.jobs.get(name)
    if job is None:
        raise ChairsideError(
            f"{name} is not being sent from this studio window: it was started elsewhere, "
            "and stops there."
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
TITLES = {"mailchimp": "Mailchimp", "sendgrid": "SendGrid", "mailgun": "Mailgun"}


def _keys_missing(workspace: Workspace) -> list[str]:
    """The providers whose API key is set neither in the keychain nor the environment."""
    from chairside import secrets

    return [p for p in PROVIDERS if not secrets.get(p, secrets.account_for(p, workspace))]


def _baa_refusal(title: str) -> str:
    return (
        f"Some patients get a concern's version, which tells {title} something about their "
        f"health. Once the practice has a business associate agreement with {title} (the "
        "contract in which it promises to protect patients' health information), say so in "
        "Settings; or tick the box below to push anyway."
    )


def _without_baa(title: str) -> str:
    return (
        f"Pushing concern versions to {title} without a business associate agreement. Only "
        "each patient's address, first name and a code that names no concern are sent."
    )


def _no_key(provider: str) -> str:
    return (
        f"No {TITLES[provider]} API key is saved on this computer yet, so nothing can be "
        f"handed to {TITLES[provider]}. Add the key in Settings, then come back here."
    )


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
    if chosen in context["push_keys"]:  # said before "Yes, push", not after
        push = {"provider": chosen, "refusal": _no_key(chosen), "no_key": True}
        return studio.render(request, "send.html", status_code=400, push=push, **context)
    try:
        provider, count, warning = await run_in_threadpool(_provider, studio.workspace, name, form)
    except ChairsideError as exc:
        if chosen not in PROVIDERS:
            raise
        said = exc.format_message()
        baa = "business associate agreement" in said  # shown with the box that overrides it
        refusal = _baa_refusal(TITLES[chosen]) if baa else said
        return studio.render(
            request,
            "send.html",
            status_code=400,
            push={"provider": chosen, "refusal": refusal, "baa": baa},
            **context,
        )
    warning = warning and _without_baa(provider.title)
    push = {"provider": chosen, "title": provider.title, "count": count, "warning": warning}
    doubt = await run_in_threadpool(_doubt, studio.workspace, name)
    return studio.render(request, "send.html", push=push, copy_doubt=doubt, **context)


async def push_start(request: Request, form: FormData) -> Response:
    """`chairside export NAME --to PROVIDER --push`, in a thread."""
    from chairside.providers import push as pushing

    studio = studio_of(request)
    workspace = studio.workspace
    name = _name(request)
    with campaign_lock(state_dir(workspace), name):  # refused here if a send runs elsewhere
        pass
    provider, count, warning = await run_in_threadpool(_provider, workspace, name, form)
    from_copy = form.get("continue_from_copy") == "yes"
    doubt = "" if from_copy else await run_in_threadpool(_doubt, workspace, name)
    if str(count) != str(form.get("expected", "")) or doubt:
        context = await run_in_threadpool(_context, studio, name, False)
        push = {"provider": provider.name, "title": provider.title, "count": count,
                "warning": warning, "changed": not doubt}  # fmt: skip
        return studio.render(request, "send.html", push=push, copy_doubt=doubt, **context)
    job = SendJob(name, provider=provider.name, before=peek_counts(state_dir(workspace), name))
    job.total, job.started = count, time.monotonic()

    def work() -> None:
        _run(
            job,
            lambda: pushing.push(
                workspace,
                provider,
                on_batch=job.on_batch,
                continue_from_copy=from_copy,
            ),
            pushing.summary,
            pushing.finish,
        )

    _start(studio, job, work)
    return RedirectResponse(f"/c/{name}/send", 303)


@contextlib.asynccontextmanager
async def lifespan(app):
    """Reads ahead what the pages show (in the background), the keychain's providers
    too; on Ctrl-C every running send finishes its current message, then the studio
    exits."""
    studio: Studio = app.state.studio

    def ahead() -> None:
        _keys_missing(studio.workspace)  # the keychain's first answer costs 0.15 s
        state.read_ahead(studio.workspace)

    threading.Thread(target=ahead, name="read ahead", daemon=True).start()
    yield
    for job in list(studio.jobs.values()):
        job.stop.set()
    for job in list(studio.jobs.values()):
        if job.thread is not None:
            await run_in_threadpool(job.thread.join)


routes = [
    Route("/c/{name}/send", send_page),
    Route("/c/{name}/send/progress", progress),
    post("/c/{name}/send/test", test_send, again=send_page, where="test"),
    post("/c/{name}/send/confirm", confirm, again=send_page, where="send"),
    post("/c/{name}/send/start", start, again=send_page, where="send"),
    post("/c/{name}/send/stop", stop, again=send_page, where="send"),
    post("/c/{name}/ledger/rebuild", rebuild, again=send_page, where="send"),
    post("/c/{name}/push/confirm", push_confirm, again=send_page, where="push"),
    post("/c/{name}/push/start", push_start, again=send_page, where="push"),
]

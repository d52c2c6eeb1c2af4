"""Settings: the practice, its look, the mail server, the mailbox and the email providers.

Each page writes its part of practice.toml (`practiceform`, comments kept, checked by the
CLI's own loader, every problem beside its field) and its password or key into this
computer's keychain (`chairside.secrets`), never into a file of the practice. The mail
server and the mailbox each have "Save and test the connection" (`chairside.mailcheck`):
connect, encrypt, log in, and change nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from chairside import secrets
from chairside.errors import ChairsideError
from chairside.logocheck import logo_contrast, logo_file, save_logo
from chairside.render.colors import contrast_ratio, text_on
from chairside.studio.pagekit import post, studio_of
from chairside.studio.practiceform import (
    Value,
    problems_by_setting,
    read_practice,
    save_practice,
    value_at,
)
from chairside.studio.settingsfields import (
    IMAP,
    LOOK,
    PAGES,
    PRACTICE,
    PROVIDERS,
    SMTP,
    Field,
    Provider,
)
from chairside.studio.uploads import uploads
from chairside.workspace import TODO, Workspace, load_practice


def secret_status(name: str, account: str) -> str:
    """Where the secret is, in plain words (never the secret itself)."""
    kind = secrets.kind(name)
    if os.environ.get(kind.variable, "").strip():
        return (
            f"Set by the environment variable {kind.variable} on this computer; it is used "
            "instead of anything saved here."
        )
    if secrets.keychain_name() is None:
        return (
            "This computer has no keychain to keep it in, so it cannot be saved here. Set the "
            f"environment variable {kind.variable} before starting the studio."
        )
    if secrets.get(name, account):
        return "Saved in this computer's keychain."
    return "Not saved yet."


def _shown(value: Value) -> str:
    """A value for a form field; `chairside init`'s TODO placeholders show as empty."""
    if isinstance(value, bool):
        return ""
    text = str(value)
    return "" if text.startswith(TODO) else text


def _fields(data: dict, fields: tuple[Field, ...], form: FormData | None = None) -> dict:
    values = {}
    for field in fields:
        if form is not None:
            values[field.name] = str(form.get(field.name, "")).strip()
        elif field.setting == "imap.tls":
            values[field.name] = {True: "ssl", False: "none"}.get(
                value_at(data, "imap.tls", True), str(value_at(data, "imap.tls"))
            )
        else:
            values[field.name] = _shown(value_at(data, field.setting))
    return values


def _todo(data: dict, fields: tuple[Field, ...]) -> set[str]:
    return {f.name for f in fields if str(value_at(data, f.setting)).startswith(TODO)}


def _render(request: Request, template: str, *, status_code: int = 200, **context) -> Response:
    return studio_of(request).render(
        request, template, status_code=status_code, pages=PAGES, **context
    )


def _base(request: Request, fields: tuple[Field, ...], form: FormData | None = None) -> dict:
    data = read_practice(studio_of(request).workspace)
    return {
        "fields": fields,
        "values": _fields(data, fields, form),
        "todo": _todo(data, fields),
        "errors": {},
    }


def _save(
    workspace: Workspace,
    fields: tuple[Field, ...],
    changes: dict[str, Value | None],
    check: Callable[[Workspace], object],
) -> tuple[dict[str, list[str]], str | None]:
    """Save `changes`; the problems beside each field's name, and any other as one error."""
    try:
        save_practice(workspace, changes, check)
    except ChairsideError as exc:
        by_setting, others = problems_by_setting(exc)
        names = {f.setting: f.name for f in fields}
        errors: dict[str, list[str]] = {}
        for setting, problems in by_setting.items():
            if setting in names:
                errors.setdefault(names[setting], []).extend(problems)
            else:
                others.extend(problems)
        other = None
        if others:
            other = "Not saved, because of another setting: " + " ".join(others)
        elif not errors:
            other = exc.format_message()
        return errors, other
    return {}, None


def _port(text: str, errors: dict, name: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        errors.setdefault(name, []).append("A port is a number such as 587.")
        return None
    return int(text)


# -- the practice ---------------------------------------------------------------------------
async def practice_page(request: Request) -> Response:
    return _render(request, "settings_form.html", **_base(request, PRACTICE), **_practice_ctx())


def _practice_ctx() -> dict:
    return {"title": "The practice", "action": "/settings"}


async def practice_save(request: Request, form: FormData) -> Response:
    workspace = studio_of(request).workspace
    context = _base(request, PRACTICE, form)
    # An emptied field removes its setting: the loader then says a required one is missing.
    changes: dict[str, Value | None] = {f.setting: context["values"][f.name] for f in PRACTICE}
    errors, other = await run_in_threadpool(_save, workspace, PRACTICE, changes, load_practice)
    return _answer(request, "settings_form.html", context, errors, other, _practice_ctx())


def _answer(
    request: Request, template: str, context: dict, errors: dict, other: str | None, extra: dict
) -> Response:
    context["errors"] = errors
    bad = bool(errors or other)
    if not bad:
        context["todo"] = set()
    return _render(
        request,
        template,
        status_code=400 if bad else 200,
        error=other or ("Not saved: see the fields marked below." if errors else None),
        notice=None if bad else "Saved.",
        **context,
        **extra,
    )


# -- the look ---------------------------------------------------------------------------------
def _look_ctx(workspace: Workspace, values: dict) -> dict:
    """The header preview and its contrast warnings, for the colours on the form."""
    color = values.get("brand_color") or "#0B5D6B"
    valid = bool(re.fullmatch(r"#(?:[0-9a-fA-F]{3}){1,2}", color))
    color = color if valid else "#0B5D6B"
    text_color = values.get("brand_text_color") or ""
    if not re.fullmatch(r"#(?:[0-9a-fA-F]{3}){1,2}", text_color):
        text_color = text_on(color)
    warnings: dict[str, str] = {}
    ratio = contrast_ratio(text_color, color)
    if ratio < 4.5:
        warnings["brand_text_color"] = (
            f"The header's text is hard to read on the brand colour: contrast {ratio:.1f} to "
            "1, where 4.5 to 1 or more reads well. Pick a lighter or darker text colour, or "
            "leave it empty to have one chosen."
        )
    logo = logo_file(workspace.root)
    # Every built-in look shows the logo on a white card under the brand band.
    measured = logo_contrast(logo, "#ffffff") if logo else None
    if logo and measured is None:
        warnings["logo_file"] = "The logo is almost entirely transparent: nothing of it shows."
    elif measured and not measured.readable:
        version = "light (for example white)" if measured.background_is_dark else "dark"
        warnings["logo_file"] = (
            "Most of the logo is hard to see on the newsletter's white header: contrast "
            f"about {measured.ratio:.1f} to 1, where 3 to 1 or more stands out. Upload a "
            f"{version} version of the logo."
        )
    return {
        "title": "Logo and colours",
        "action": "/settings/look",
        "multipart": True,
        "preview": {
            "color": color,
            "text_color": text_color,
            "logo": bool(logo),
            "name": _shown(value_at(read_practice(workspace), "name")) or "Your practice",
        },
        "logo_ratio": measured.ratio if measured else None,
        "warnings": warnings,
    }


async def look_page(request: Request) -> Response:
    workspace = studio_of(request).workspace
    context = _base(request, LOOK)
    extra = await run_in_threadpool(_look_ctx, workspace, context["values"])
    return _render(request, "settings_form.html", **context, **extra)


async def look_save(request: Request, form: FormData) -> Response:
    workspace = studio_of(request).workspace
    context = _base(request, LOOK, form)
    changes = {f.setting: context["values"][f.name] for f in LOOK}
    errors: dict[str, list[str]] = {}
    files = uploads(form, "logo_file")
    if files:
        data = await files[0].read()
        try:
            await run_in_threadpool(save_logo, workspace.root, data)
        except ChairsideError as exc:
            errors["logo_file"] = [exc.format_message()]
    saved, other = await run_in_threadpool(_save, workspace, LOOK, changes, load_practice)
    errors.update(saved)
    extra = await run_in_threadpool(_look_ctx, workspace, context["values"])
    return _answer(request, "settings_form.html", context, errors, other, extra)


async def logo(request: Request) -> Response:
    path = logo_file(studio_of(request).workspace.root)
    if path is None:
        return Response("No logo uploaded.", status_code=404, media_type="text/plain")
    return FileResponse(path, headers={"Cache-Control": "no-store"})


# -- the mail server ------------------------------------------------------------------------
def _smtp_ctx(values: dict) -> dict:
    account = f"{values.get('smtp_user', '')}@{values.get('smtp_host', '')}"
    return {
        "title": "Mail server",
        "action": "/settings/mail-server",
        "intro": "The server that sends the newsletter, as your mail provider names it "
        "(for sending: often called SMTP).",
        "password": {
            "name": "smtp",
            "label": "Password",
            "status": secret_status("smtp", account),
        },
        "can_test": True,
    }


async def smtp_page(request: Request) -> Response:
    context = _base(request, SMTP)
    if not context["values"]["smtp_security"]:
        context["values"]["smtp_security"] = "starttls"
    return _render(request, "settings_form.html", **context, **_smtp_ctx(context["values"]))


async def smtp_save(request: Request, form: FormData) -> Response:
    from chairside.mailcheck import check_smtp_login
    from chairside.providers.smtp import DEFAULT_PORTS, SmtpSettings

    workspace = studio_of(request).workspace
    context = _base(request, SMTP, form)
    values = context["values"]
    errors: dict[str, list[str]] = {}
    port = _port(values["smtp_port"], errors, "smtp_port")
    security = values["smtp_security"] or "starttls"
    changes: dict[str, Value | None] = {
        "smtp.host": values["smtp_host"],
        "smtp.port": port,
        "smtp.security": security,
        "smtp.user": values["smtp_user"],
    }
    password = str(form.get("password", ""))
    other = None
    if not errors:
        saved, other = await run_in_threadpool(_save, workspace, SMTP, changes, load_practice)
        errors.update(saved)
    account = f"{values['smtp_user']}@{values['smtp_host']}"
    if not (errors or other):
        _store_secret("smtp", password, account, errors, needs=values["smtp_user"])
    result = None
    if form.get("action") == "test" and not (errors or other):
        practice = await run_in_threadpool(load_practice, workspace)
        settings = SmtpSettings(
            values["smtp_host"],
            port or DEFAULT_PORTS.get(security, 587),
            security,
            values["smtp_user"],
            secrets.get("smtp", account) if values["smtp_user"] else "",
            ca_file=practice.smtp.ca_file,  # [smtp] ca_file, kept as it was
        )
        result = await run_in_threadpool(check_smtp_login, settings)
        _place(result, errors, {"password": "password", "": "smtp_host"}, "smtp_")
    return _tested(request, context, errors, other, result, _smtp_ctx(values))


def _store_secret(name: str, value: str, account: str, errors: dict, *, needs: str = "x") -> None:
    """Keep a typed password or key in the keychain; its problem beside its field."""
    if not value.strip():
        return
    if not needs:
        errors.setdefault("password", []).append(
            "A password goes with a login: type the login too (or leave both empty)."
        )
        return
    try:
        secrets.store(name, value, account)
    except ChairsideError as exc:
        errors.setdefault("password" if name in ("smtp", "imap") else f"{name}_key", []).append(
            exc.format_message()
        )


def _place(result, errors: dict, special: dict[str, str], prefix: str) -> None:
    """A failed connection test's message beside the field it is about."""
    if result is None or result.ok:
        return
    name = special.get(result.field) or prefix + result.field
    errors.setdefault(name, []).append(result.message)


def _tested(request, context, errors, other, result, extra) -> Response:
    context["errors"] = errors
    bad = bool(errors or other)
    notice = None
    if not bad:
        notice = "Saved." + (f" {result.message}" if result else "")
    return _render(
        request,
        "settings_form.html",
        status_code=400 if bad else 200,
        error=other or ("See the fields marked below." if errors else None),
        notice=notice,
        **context,
        **extra,
    )


# -- the mailbox -----------------------------------------------------------------------------
def _imap_ctx(values: dict) -> dict:
    account = f"{values.get('imap_user', '')}@{values.get('imap_host', '')}"
    return {
        "title": "Mailbox",
        "action": "/settings/mailbox",
        "intro": "The mailbox where unsubscribe requests and bounced mail arrive (your "
        "reply-to address's mailbox, read over IMAP). Chairside reads it and changes nothing "
        "else in it.",
        "password": {
            "name": "imap",
            "label": "Password",
            "status": secret_status("imap", account),
        },
        "can_test": True,
    }


async def imap_page(request: Request) -> Response:
    context = _base(request, IMAP)
    values = context["values"]
    values["imap_tls"] = values["imap_tls"] or "ssl"
    values["imap_folder"] = values["imap_folder"] or "INBOX"
    return _render(request, "settings_form.html", **context, **_imap_ctx(values))


async def imap_save(request: Request, form: FormData) -> Response:
    from chairside.mailcheck import check_imap_login
    from chairside.returnpath.inbox import load_imap

    workspace = studio_of(request).workspace
    context = _base(request, IMAP, form)
    values = context["values"]
    errors: dict[str, list[str]] = {}
    port = _port(values["imap_port"], errors, "imap_port")
    tls = values["imap_tls"] or "ssl"
    for required in ("imap_host", "imap_user"):
        if not values[required]:
            errors.setdefault(required, []).append("Missing: type it here.")
    folder = values["imap_folder"]
    if not folder.isascii() or '"' in folder or "\\" in folder:
        errors.setdefault("imap_folder", []).append(
            "Chairside can open folders whose names are plain letters and digits, without "
            "quotes or accents: choose or make such a folder in your mail program."
        )
    changes: dict[str, Value | None] = {
        "imap.host": values["imap_host"],
        "imap.port": port,
        "imap.tls": {"ssl": True, "none": False}.get(tls, tls),
        "imap.user": values["imap_user"],
        "imap.folder": values["imap_folder"] if values["imap_folder"] != "INBOX" else None,
    }
    other = None
    if not errors:
        saved, other = await run_in_threadpool(_save, workspace, IMAP, changes, load_imap)
        errors.update(saved)
    account = f"{values['imap_user']}@{values['imap_host']}"
    if not (errors or other):
        _store_secret("imap", str(form.get("password", "")), account, errors)
    result = None
    if form.get("action") == "test" and not (errors or other):
        config = await run_in_threadpool(load_imap, workspace)
        result = await run_in_threadpool(check_imap_login, config, secrets.get("imap", account))
        _place(result, errors, {"password": "password", "security": "imap_tls"}, "imap_")
    return _tested(request, context, errors, other, result, _imap_ctx(values))


# -- the providers ---------------------------------------------------------------------------
def _providers_ctx(request: Request, form: FormData | None = None) -> dict:
    data = read_practice(studio_of(request).workspace)
    rows = []
    for provider in PROVIDERS:
        setting = f"providers.{provider.name}.{provider.setting}"
        if form is not None:
            value = str(form.get(provider.name, "")).strip()
            baa = form.get(f"{provider.name}_baa") == "yes"
        else:
            value = _shown(value_at(data, setting))
            baa = value_at(data, f"providers.{provider.name}.baa", False) is True
        rows.append(
            {
                "provider": provider,
                "value": value,
                "baa": baa,
                "status": secret_status(provider.name, ""),
            }
        )
    return {"title": "Email providers", "rows": rows, "errors": {}}


async def providers_page(request: Request) -> Response:
    return _render(request, "settings_providers.html", **_providers_ctx(request))


async def providers_save(request: Request, form: FormData) -> Response:
    workspace = studio_of(request).workspace
    context = _providers_ctx(request, form)
    errors: dict[str, list[str]] = {}
    changes: dict[str, Value | None] = {}
    for row in context["rows"]:
        provider: Provider = row["provider"]
        value = row["value"]
        if value and not re.fullmatch(provider.pattern, value):
            errors.setdefault(provider.name, []).append(provider.problem)
        elif provider.name == "sendgrid" and value:
            changes[f"providers.{provider.name}.{provider.setting}"] = int(value)
        else:
            changes[f"providers.{provider.name}.{provider.setting}"] = value
        # Unticked removes the setting: no agreement is what an absent one means.
        changes[f"providers.{provider.name}.baa"] = True if row["baa"] else None
    mailchimp_key = str(form.get("mailchimp_key", "")).strip()
    if mailchimp_key and not re.search(r"-[a-z]+[0-9]+$", mailchimp_key):
        errors.setdefault("mailchimp_key", []).append(
            "A Mailchimp API key ends with its data centre, like …-us21: copy the whole key "
            "from Mailchimp (Profile › Extras › API keys)."
        )
    other = None
    if not errors:
        _saved, other = await run_in_threadpool(_save, workspace, (), changes, load_practice)
    if not (errors or other):
        for provider in PROVIDERS:
            _store_secret(provider.name, str(form.get(f"{provider.name}_key", "")), "", errors)
        context = _providers_ctx(request, form)  # each key's new status
    context["errors"] = errors
    bad = bool(errors or other)
    return _render(
        request,
        "settings_providers.html",
        status_code=400 if bad else 200,
        error=other or ("See the fields marked below." if errors else None),
        notice=None if bad else "Saved.",
        **context,
    )


routes = [
    Route("/settings", practice_page),
    post("/settings", practice_save),
    Route("/settings/look", look_page),
    post("/settings/look", look_save),
    Route("/settings/logo", logo),
    Route("/settings/mail-server", smtp_page),
    post("/settings/mail-server", smtp_save),
    Route("/settings/mailbox", imap_page),
    post("/settings/mailbox", imap_save),
    Route("/settings/providers", providers_page),
    post("/settings/providers", providers_save),
]

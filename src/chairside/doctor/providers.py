"""Each configured provider's API key, tried with one read-only request, and the provider's
own word on the practice's domain authentication where its API gives one.

    Mailchimp  GET /3.0/ping, then GET /3.0/verified-domains (verified, authenticated)
    SendGrid   GET /v3/scopes, then GET /v3/whitelabel/domains (valid)
    Mailgun    GET /v3/domains/<domain> (state, and each DNS record's valid)

The base URLs are the ones `export --push` uses (CHAIRSIDE_<NAME>_API_BASE wins).
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote

import httpx

from chairside import secrets
from chairside.doctor.results import Report, ok, problem, warning
from chairside.providers.base import api_base_url
from chairside.workspace import Practice

AREA = "Providers"
TIMEOUT = httpx.Timeout(15.0, connect=10.0)
_DATACENTER = re.compile(r"-([a-z]+[0-9]+)$")


class _Failed(Exception):
    pass


def _get(client: httpx.Client, path: str, title: str) -> object:
    try:
        response = client.get(path)
    except httpx.HTTPError as exc:
        raise _Failed(f"cannot reach {title} ({exc})") from None
    if response.status_code in (401, 403):
        raise _Failed(f"{title} refused the API key ({response.status_code})")
    if response.status_code >= 400:
        raise _Failed(f"{title} answered {response.status_code} to GET {path}")
    try:
        return response.json()
    except ValueError:
        raise _Failed(f"{title} answered GET {path} with something that is not JSON") from None


def check_providers(practice: Practice, report: Report) -> None:
    domain = practice.from_email.rpartition("@")[2].lower()
    for name in practice.providers:
        check = {"mailchimp": _mailchimp, "sendgrid": _sendgrid, "mailgun": _mailgun}.get(name)
        if check is None:
            continue
        key = secrets.get(name)
        title = {"mailchimp": "Mailchimp", "sendgrid": "SendGrid", "mailgun": "Mailgun"}[name]
        if not key:
            report.add(problem(AREA, title, secrets.missing(name)))
            continue
        try:
            check(practice, key, domain, title, report)
        except _Failed as exc:
            report.add(
                problem(
                    AREA,
                    title,
                    f"The API key does not work: {exc}.",
                    f"Copy the key again from {title} and save it.",
                )
            )


def _domain_line(report: Report, title: str, domain: str, authenticated: bool | None) -> None:
    if authenticated is None:
        report.add(
            warning(
                AREA,
                f"{title} domain",
                f"{title} does not list {domain} as a sending "
                "domain, so it sends the practice's mail under its own domain.",
                f"Authenticate {domain} in {title} (it shows the DNS records to publish).",
            )
        )
    elif authenticated:
        report.add(ok(AREA, f"{title} domain", f"{title} says {domain} is authenticated"))
    else:
        report.add(
            problem(
                AREA,
                f"{title} domain",
                f"{title} says {domain} is not authenticated yet.",
                f"Publish the DNS records {title} shows for {domain}, then press its "
                "Verify button.",
                stops=True,
            )
        )


def _mailchimp(practice: Practice, key: str, domain: str, title: str, report: Report) -> None:
    found = _DATACENTER.search(key)
    if not found:
        raise _Failed("the key does not end in its data centre (like -us21), so it is cut short")
    base = api_base_url("mailchimp", f"https://{found.group(1)}.api.mailchimp.com/3.0", None)
    base = base.rstrip("/") if base.rstrip("/").endswith("/3.0") else base.rstrip("/") + "/3.0"
    with httpx.Client(base_url=base, auth=("chairside", key), timeout=TIMEOUT) as client:
        _get(client, "/ping", title)
        report.add(ok(AREA, title, "the API key works"))
        answer = _get(client, "/verified-domains", title)
    domains = answer.get("domains", []) if isinstance(answer, dict) else []
    mine = [d for d in domains if isinstance(d, dict) and d.get("domain", "").lower() == domain]
    state = None if not mine else bool(mine[0].get("authenticated"))
    _domain_line(report, title, domain, state)


def _sendgrid(practice: Practice, key: str, domain: str, title: str, report: Report) -> None:
    base = api_base_url("sendgrid", "https://api.sendgrid.com", None)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=TIMEOUT) as client:
        _get(client, "/v3/scopes", title)
        report.add(ok(AREA, title, "the API key works"))
        try:
            answer = _get(client, "/v3/whitelabel/domains", title)
        except _Failed as exc:  # a key limited to sending may not read this: say so, no more
            report.add(
                warning(
                    AREA, f"{title} domain", f"Could not read the domain authentication: {exc}."
                )
            )
            return
    entries = [d for d in answer if isinstance(d, dict)] if isinstance(answer, list) else []
    mine = [d for d in entries if str(d.get("domain", "")).lower() == domain]
    _domain_line(report, title, domain, None if not mine else any(d.get("valid") for d in mine))


def _mailgun(practice: Practice, key: str, domain: str, title: str, report: Report) -> None:
    sending = str(
        practice.providers["mailgun"].get("domain") or os.environ.get("MAILGUN_DOMAIN") or ""
    ).strip()
    base = api_base_url("mailgun", "https://api.mailgun.net", None)
    with httpx.Client(base_url=base, auth=("api", key), timeout=TIMEOUT) as client:
        if not sending:
            _get(client, "/v3/domains", title)
            report.add(ok(AREA, title, "the API key works"))
            report.add(
                warning(
                    AREA,
                    f"{title} domain",
                    "No Mailgun sending domain is set.",
                    "Set the sending domain in the Mailgun settings.",
                )
            )
            return
        answer = _get(client, f"/v3/domains/{quote(sending, safe='')}", title)
    report.add(ok(AREA, title, "the API key works"))
    state = answer.get("domain", {}).get("state") if isinstance(answer, dict) else None
    _domain_line(report, title, sending, None if state is None else state == "active")

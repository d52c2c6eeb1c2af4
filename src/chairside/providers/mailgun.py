"""Mailgun: batch sending through `POST /v3/<domain>/messages`, or mailing lists by hand.

A batch is one `multipart/form-data` request (as the API reference describes it) with up
to 1,000 `to` fields and `recipient-variables` (JSON, address → variables), which makes
Mailgun send every recipient their own copy with `%recipient.first_name%` filled in.
Mailgun inserts recipient variables as they are, so the HTML gets an escaped copy of the
name (`first_name_html`); the text part gets it raw. `--schedule` becomes
`o:deliverytime` (an RFC 2822 date, at most 3 days ahead; 7 with `schedule_days = 7` on
plans that store messages 7 days).

Unsubscribes are Mailgun's own: with unsubscribe tracking on for the domain, Mailgun fills
`%unsubscribe_url%` in the body and adds `List-Unsubscribe` and `List-Unsubscribe-Post`
itself (help.mailgun.com "Unsubscribe Handling Links"), so Chairside adds none: a second
List-Unsubscribe header would be ambiguous to mailbox providers.

Only the address, the first name and the variant's opaque tag (`o:tag`) are sent.
Sources: documentation.mailgun.com, user manual "Batch Sending", "Send via HTTP",
"Tracking Unsubscribes", "Mailing Lists"; help.mailgun.com "Unsubscribe Handling Links".
"""

from __future__ import annotations

import html
import json
import re
import shlex
from datetime import UTC, timedelta
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

import httpx

from chairside import placeholders
from chairside.audience.addresses import mask
from chairside.errors import ChairsideError
from chairside.providers.base import (
    BatchResult,
    Content,
    Member,
    Provider,
    chunks,
    setting,
    write_csv,
)
from chairside.providers.http import Http, ProviderError
from chairside.providers.schedule import Window
from chairside.words import plural

# A 400 that names one bad recipient drops it and sends the rest again; this many at most
# per batch, so a list full of bad addresses stops instead of costing a request each.
MAX_DROPPED = 10
# Rows per members file: Mailgun's mailing-list upload takes at most 1,000 at a time.
MEMBERS_PER_FILE = 1000


class Mailgun(Provider):
    name = "mailgun"
    title = "Mailgun"
    key_variable = "MAILGUN_API_KEY"
    batch_size = 1000
    default_base = "https://api.mailgun.net"
    merge_tags: ClassVar[dict[str, str]] = {
        placeholders.FIRST_NAME: "%recipient.first_name%",
        placeholders.UNSUBSCRIBE_URL: "%unsubscribe_url%",
    }
    html_merge_tags: ClassVar[dict[str, str] | None] = {
        placeholders.FIRST_NAME: "%recipient.first_name_html%",
        placeholders.UNSUBSCRIBE_URL: "%unsubscribe_url%",
    }
    schedule_window = Window(latest=timedelta(days=3), days=True)
    schedules_batches = True

    def check_settings(self) -> None:
        self.window()

    def window(self) -> Window:
        """3 days ahead, or up to 7 with `[providers.mailgun] schedule_days` on plans that
        keep messages that long (Mailgun, "Scheduling Delivery")."""
        days = self.settings.get("schedule_days", 3)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 7:
            raise ChairsideError(
                f"practice.toml: [providers.mailgun] schedule_days = {days!r}: write a whole "
                "number of days from 1 to 7 (3 unless your Mailgun plan stores messages 7 days)."
            )
        return Window(latest=timedelta(days=days), days=True)

    # -- push ------------------------------------------------------------------------------
    def connect(self, api_base: str | None) -> Http:
        self.domain = setting(
            option=self.options.get("domain"),
            practice=self.settings,
            key="domain",
            env="MAILGUN_DOMAIN",
            what="Mailgun sending domain",
            option_name="--domain",
        ).strip()
        if not re.fullmatch(r"[A-Za-z0-9.-]+", self.domain):
            # A "/" would make Mailgun answer 200 "Mailgun Magnificent API" and send nothing.
            raise ChairsideError(
                f"Mailgun sending domain {self.domain!r} is not a domain name "
                "(e.g. mg.example.com, as Mailgun's Domains page shows it)."
            )
        self.tracking: str | None = None  # checked before the first batch
        return self.http(api_base, auth=("api", self.api_key()))

    def send_batch(self, http: Http, content: Content, members: list[Member]) -> BatchResult:
        if self.tracking is None:
            self.tracking = self._unsubscribe_tracking(http)
        rejected: dict[str, str] = {}
        remaining = list(members)
        while remaining:
            try:
                response = http.request("POST", self._path(), files=self._form(content, remaining))
            except ProviderError as exc:
                status, detail = _refusal(exc)
                if status == 404:
                    raise ChairsideError(
                        f"Mailgun does not know the sending domain {self.domain!r} ({detail}). "
                        "Check --domain, [providers.mailgun] domain or MAILGUN_DOMAIN; a domain "
                        "in Mailgun's EU region needs --api-base https://api.eu.mailgun.net."
                    ) from None
                bad = _named(detail, remaining) if status == 400 else None
                if bad is None or len(rejected) >= MAX_DROPPED:
                    raise
                hidden = re.sub(re.escape(bad.email), mask(bad.email), detail, flags=re.I)
                rejected[bad.key] = hidden  # reports mask addresses; so does the reason
                remaining.remove(bad)
                continue
            return BatchResult(reply=_queued(response), rejected=rejected)
        return BatchResult(reply="", rejected=rejected)

    def _unsubscribe_tracking(self, http: Http) -> str:
        """Whether the domain's unsubscribe tracking is on: without it the emails would have
        no working unsubscribe link and no List-Unsubscribe. Off stops the push; a key that
        may not read the setting (a sending key) only earns a reminder."""
        path = f"/v3/domains/{quote(self.domain, safe='')}/tracking"
        try:
            answer = http.request("GET", path).json()
        except (ProviderError, ValueError):
            return (
                "Chairside could not read the domain's tracking settings: make sure "
                "Unsubscribes tracking is on in Mailgun, or the emails have no unsubscribe link."
            )
        tracking = answer.get("tracking") if isinstance(answer, dict) else None
        unsubscribe = tracking.get("unsubscribe") if isinstance(tracking, dict) else None
        if isinstance(unsubscribe, dict) and unsubscribe.get("active") is False:
            raise ChairsideError(
                f"Unsubscribes tracking is off for {self.domain} in Mailgun, so the emails "
                "would have no working unsubscribe link and no List-Unsubscribe header. Turn "
                "it on (Sending > Domain settings > Tracking > Unsubscribes, with HTTPS), then "
                "run the same command again. Nothing was sent."
            )
        return ""

    def after_batches(self, http: Http, contents: list[Content], ledger) -> list[str]:
        return [self.tracking] if self.tracking else []

    def _path(self) -> str:
        return f"/v3/{quote(self.domain, safe='')}/messages"

    def _form(self, content: Content, members: list[Member]) -> list[tuple[str, tuple]]:
        """The fields of one request, as multipart/form-data parts (repeated `to`)."""
        practice = self.prepared.practice
        variables = {}
        for member in members:
            name = placeholders.clean_name(member.first_name) or practice.greeting_fallback
            variables[member.email] = {
                "first_name": name,
                "first_name_html": html.escape(name, quote=True),
            }
        fields: list[tuple[str, str]] = [
            (
                "from",
                formataddr((placeholders.clean_name(practice.from_name), practice.from_email)),
            ),
            *(("to", m.email) for m in members),
            ("subject", placeholders.clean_name(content.subject)),
            ("text", content.text),
            ("html", content.html),
            ("recipient-variables", json.dumps(variables, ensure_ascii=False)),
            ("o:tag", content.tag),
        ]
        if self.schedule:
            when = format_datetime(self.schedule.astimezone(UTC))
            fields.append(("o:deliverytime", when))
        if practice.reply_to:
            fields.append(("h:Reply-To", practice.reply_to))
        # (None, value): a plain form field, not a file.
        return [(key, (None, value)) for key, value in fields]

    # -- bundle ----------------------------------------------------------------------------
    def write_bundle(self, folder: Path) -> None:
        fallback = self.prepared.practice.greeting_fallback
        rows: dict[str, list[list[str]]] = {c.tag: [] for c in self.contents(bundle=True)}
        for member in self.members():
            name = placeholders.clean_name(member.first_name)
            greeting = name or fallback  # what "Hi %recipient.first_name%," shows
            merge = {"first_name": greeting, "first_name_html": html.escape(greeting, quote=True)}
            rows[member.tag].append(
                [member.email, name, json.dumps(merge, ensure_ascii=False), "yes"]
            )
        files: dict[str, list[str]] = {}
        for tag, members in rows.items():
            parts = list(chunks(members, MEMBERS_PER_FILE))
            names = (
                [f"members-{tag}.csv"]
                if len(parts) == 1
                else [f"members-{tag}-{n}.csv" for n in range(1, len(parts) + 1)]
            )
            for name, part in zip(names, parts, strict=True):
                table = [["address", "name", "vars", "subscribed"], *part]
                (folder / name).write_text(write_csv(table, address_column=0), encoding="utf-8")
            files[tag] = names
        counts = {tag: len(members) for tag, members in rows.items()}
        (folder / "README.txt").write_text(self._readme(counts, files), encoding="utf-8")

    def _readme(self, counts: dict[str, int], files: dict[str, list[str]]) -> str:
        practice = self.prepared.practice
        campaign = self.prepared.campaign.name
        sender = formataddr((placeholders.clean_name(practice.from_name), practice.from_email))
        contents = self.contents(bundle=True)
        lines = [
            f"{practice.name}: newsletter {campaign} for Mailgun",
            "",
            f"The newsletter comes in {plural(len(contents), 'version')}, each with a tag and "
            "three files:",
            "  TAG.html         the email",
            "  TAG.txt          the same email as plain text",
            "  members-TAG.csv  the patients who get this version, with their first names",
            f"                   (split into members-TAG-1.csv, -2.csv… of {MEMBERS_PER_FILE} rows",
            "                   at most, as Mailgun's upload takes them)",
            "",
        ]
        for content in contents:
            lines += [
                f"  {content.tag}: {counts.get(content.tag, 0)} patients",
                f"      subject: {content.subject}",
                f"      files:   {content.tag}.html, {content.tag}.txt, "
                + ", ".join(files.get(content.tag, [])),
            ]
        example = contents[0].tag if contents else "TAG"
        lines += [
            "",
            "Once, before the first newsletter",
            "  In the Mailgun control panel, open your sending domain's settings and, under",
            "  Tracking, turn on Unsubscribes and HTTPS. Mailgun then handles unsubscribes",
            "  itself: %unsubscribe_url% in the emails becomes each patient's own link, and",
            "  Mailgun adds the List-Unsubscribe headers that mail programs show as a button.",
            "",
            "Step by step, for each version (tag) above",
            "  1. Send > Mailing lists > Create mailing list. Address: TAG@ followed by",
            f"     your sending domain (e.g. {example}@mg.example.com); name: the tag;",
            "     access level: read only.",
            "  2. Open the new list, choose to upload members, and upload members-TAG.csv",
            "     (or each of members-TAG-1.csv, members-TAG-2.csv… in turn).",
            "     Its columns are address, name, vars and subscribed; vars holds the first",
            "     name that Mailgun puts where the email says %recipient.first_name%",
            "     (%recipient.first_name_html% in the HTML).",
            "  3. Send the version to its list: the list's address as the recipient, the",
            "     subject shown above, TAG.html as the HTML and TAG.txt as the text. With",
            "     Mailgun's API (key in MAILGUN_API_KEY, your domain instead of DOMAIN):",
            "",
        ]
        for content in contents:
            command = [
                'curl -s --user "api:$MAILGUN_API_KEY"',
                "https://api.mailgun.net/v3/DOMAIN/messages",
                f"-F {shlex.quote('from=' + sender)}",
                f"-F to={content.tag}@DOMAIN",
                f"-F {shlex.quote('subject=' + placeholders.clean_name(content.subject))}",
                f"-F {shlex.quote(f'text=<{content.tag}.txt')}",
                f"-F {shlex.quote(f'html=<{content.tag}.html')}",
                f"-F o:tag={content.tag}",
            ]
            if practice.reply_to:
                command.append(f"-F {shlex.quote('h:Reply-To=' + practice.reply_to)}")
            lines += ["     " + " \\\n       ".join(command), ""]
        lines += [
            "  Leave every %...% in the emails as it is: Mailgun fills them in per patient.",
            "  A domain in Mailgun's EU region uses https://api.eu.mailgun.net instead.",
            "",
            "Simpler: this command sends every version through Mailgun's API in one go,",
            "without mailing lists, and picks up where it stopped if interrupted:",
            f"  chairside export {campaign} --to mailgun --push --domain DOMAIN",
            "",
            "The CSV files hold patients' addresses: delete them once uploaded.",
            "",
        ]
        return "\n".join(lines)


def _refusal(exc: ProviderError) -> tuple[int | None, str]:
    """(HTTP status, the provider's message) of a refusal."""
    return exc.status, exc.detail or str(exc)


def _named(detail: str, members: list[Member]) -> Member | None:
    """The one member a 400 names (e.g. "'to' parameter is not a valid address: x@y")."""
    if "@" not in detail:
        return None
    named = [
        m
        for m in members
        if re.search(rf"(?<![\w.+%-]){re.escape(m.email)}(?![\w-]|\.\w)", detail, re.I)
    ]
    return named[0] if len(named) == 1 else None


def _queued(response: httpx.Response) -> str:
    """Mailgun's id for the accepted batch: `{"id": "<...>", "message": "Queued. Thank you."}`."""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict) and (
        answer.get("id") or str(answer.get("message", "")).startswith("Queued")
    ):
        return str(answer.get("id") or answer["message"])
    # A wrong address gets 200 "Mailgun Magnificent API" from Mailgun: nothing was queued.
    raise ChairsideError(
        f"Mailgun answered {response.url} without queueing anything "
        f"({' '.join(response.text.split())[:100]}). Check --api-base and the domain."
    )

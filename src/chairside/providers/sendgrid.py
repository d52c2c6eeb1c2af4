"""SendGrid: pushed through `/v3/mail/send`, or a bundle for Marketing Campaigns.

The push sends each variant once per batch of up to 1000 personalizations, filled with
SendGrid's legacy substitutions. Substitutions are inserted raw in both parts, so the HTML
has keys of its own whose values are HTML-escaped here. SendGrid refuses a whole request
for one bad address; the recipients it names are dropped (rejected, whatever becomes of
the rest) and the rest sent again once.
`--schedule` becomes `send_at` (at most 72 hours ahead). Unsubscribes go to the practice's
own link and address, in the body and in List-Unsubscribe; SendGrid's subscription
tracking, which would add a second List-Unsubscribe, is turned off per message.
`[providers.sendgrid] unsubscribe_group` (an unsubscribe group id) is sent as
`asm.group_id`, so SendGrid also skips everyone who left that group.

The bundle is for Marketing Campaigns' Single Sends, whose editor speaks Handlebars
(`{{first_name}}`, `{{{unsubscribe}}}`): one contacts CSV per variant tag, to upload as a
list of its own.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from chairside import placeholders
from chairside.errors import ChairsideError
from chairside.providers.base import (
    BatchResult,
    Content,
    Member,
    PartlyRefused,
    Provider,
    write_csv,
)
from chairside.providers.http import Http, ProviderError, RequestFailed, RequestUnknown
from chairside.providers.schedule import Window
from chairside.words import plural

README = """\
Newsletter {campaign} for SendGrid Marketing Campaigns
{underline}

These files hold the newsletter in {versions}. Each patient gets one version: the
one whose code is in the name of the contacts file they are in.
Codes: {tags}.
{codes_note}

1. Upload each contacts file as a list of its own.
   In SendGrid: Marketing > Contacts > Add Contacts > Upload CSV.
{uploads}
   Map the columns "email" to Email and "first_name" to First Name.
   These files hold only patients who agreed to receive email.

2. Create one Single Send per version.
   In SendGrid: Marketing > Single Sends > Create a Single Send > Code Editor.
{sends}
   For each one:
   - Subject: the subject above;
   - Sender: the verified sender for {sender};
   - Send To: only the list with the same code as the files;
   - Unsubscribe group: the one the practice uses for its newsletter;
   - Content: delete the editor's sample, paste the whole of the .html file;
   - Plain text: turn off automatic plain text and paste the whole of the .txt file.
   {{{{first_name}}}} and {{{{{{unsubscribe}}}}}} in the files are SendGrid's own tags (the
   patient's first name, their unsubscribe link): leave them as they are.

3. Send yourself a test of each Single Send, then send or schedule it.

4. Afterwards, download SendGrid's unsubscribes and bounces (Suppressions > export CSV)
   and run:  chairside unsubscribe --import FILE.csv
   so the next newsletter, by any route, skips them too.
"""

OPAQUE = (
    "They say nothing about a patient's health: keep it that way when you name lists\nin SendGrid."
)
NAMED = (
    "They name the concern each version is for (--concern-tags): whoever sees these\n"
    "lists in SendGrid learns something about the patients' health."
)

_PERSONALIZATION = re.compile(r"^personalizations\.(\d+)(?:\.|$)")
# The greeting fallback goes into Handlebars and HTML as it is: only plain words are safe.
_PLAIN_FALLBACK = re.compile(r"^[\w .,'!-]*$")


def _contacts_file(tag: str) -> str:
    return f"contacts-{tag}.csv"


def unsubscribe_group(settings: dict) -> int | None:
    """`[providers.sendgrid] unsubscribe_group`: SendGrid's id of an unsubscribe group."""
    value = settings.get("unsubscribe_group")
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ChairsideError(
            f"practice.toml: [providers.sendgrid] unsubscribe_group = {value!r} is not an "
            "unsubscribe group id: write the whole number SendGrid shows under Suppressions "
            "> Unsubscribe Groups (e.g. unsubscribe_group = 12345), or remove the line."
        )
    return value


class SendGrid(Provider):
    name = "sendgrid"
    title = "SendGrid"
    key_variable = "SENDGRID_API_KEY"
    batch_size = 1000
    default_base = "https://api.sendgrid.com"
    merge_tags: ClassVar[dict[str, str]] = {
        placeholders.FIRST_NAME: "-first_name-",
        placeholders.UNSUBSCRIBE_URL: "-unsubscribe_url-",
    }
    html_merge_tags: ClassVar[dict[str, str] | None] = {
        placeholders.FIRST_NAME: "-first_name_html-",
        placeholders.UNSUBSCRIBE_URL: "-unsubscribe_url_html-",
    }
    bundle_merge_tags: ClassVar[dict[str, str] | None] = {
        placeholders.FIRST_NAME: "{{first_name}}",
        placeholders.UNSUBSCRIBE_URL: "{{{unsubscribe}}}",
    }
    schedule_window = Window(latest=timedelta(hours=72))
    schedules_batches = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        fallback = self.prepared.practice.greeting_fallback
        if fallback and _PLAIN_FALLBACK.match(fallback):
            # A Handlebars conditional (no quotes: safe inside an HTML attribute too).
            self.bundle_merge_tags = {
                **type(self).bundle_merge_tags,
                placeholders.FIRST_NAME: (
                    f"{{{{#if first_name}}}}{{{{first_name}}}}{{{{else}}}}{fallback}{{{{/if}}}}"
                ),
            }

    def check_settings(self) -> None:
        self.unsubscribe_group()

    def unsubscribe_group(self) -> int | None:
        return unsubscribe_group(self.settings)

    # -- bundle ----------------------------------------------------------------------------
    def write_bundle(self, folder: Path) -> None:
        contents = self.contents(bundle=True)
        by_tag: dict[str, list[Member]] = {c.tag: [] for c in contents}
        for member in self.members():
            by_tag[member.tag].append(member)
        for tag, members in by_tag.items():
            rows = [["email", "first_name"]] + [
                [m.email, placeholders.clean_name(m.first_name)] for m in members
            ]
            (folder / _contacts_file(tag)).write_text(
                write_csv(rows, address_column=0), encoding="utf-8"
            )
        campaign = self.prepared.campaign.name
        title = f"Newsletter {campaign} for SendGrid Marketing Campaigns"
        opaque = {c.tag for c in contents} == {
            r.variant_id for r in self.prepared.rendered.values()
        }
        uploads = "\n".join(
            f"   - {_contacts_file(c.tag)} ({plural(len(by_tag[c.tag]), 'patient')}):\n"
            f"     'Add contacts to a new list', named {c.tag}."
            for c in contents
        )
        sends = "\n".join(
            f"   - Single Send {c.tag}: {c.tag}.html and {c.tag}.txt, to the list {c.tag}.\n"
            f"     Subject: {c.subject}"
            for c in contents
        )
        (folder / "README.txt").write_text(
            README.format(
                campaign=campaign,
                underline="=" * len(title),
                versions=plural(len(contents), "version"),
                tags=", ".join(c.tag for c in contents),
                uploads=uploads,
                sends=sends,
                sender=self.prepared.practice.from_email,
                codes_note=OPAQUE if opaque else NAMED,
            ),
            encoding="utf-8",
        )

    # -- push ------------------------------------------------------------------------------
    def connect(self, api_base: str | None) -> Http:
        return self.http(api_base, headers={"Authorization": f"Bearer {self.api_key()}"})

    def send_batch(self, http: Http, content: Content, members: list[Member]) -> BatchResult:
        try:
            self._post(http, content, members)
            return BatchResult(reply="202 accepted")
        except ProviderError as exc:
            refused = self._refused(exc, len(members))
            if not refused:
                raise
        rejected = {members[i].key: why for i, why in refused.items()}
        rest = [m for i, m in enumerate(members) if i not in refused]
        if not rest:
            return BatchResult(reply="400 every recipient refused", rejected=rejected)
        try:
            self._post(http, content, rest)  # once: a second refusal stops the run
        except (RequestUnknown, RequestFailed, ChairsideError) as exc:
            raise PartlyRefused(rejected, exc) from None  # those refused stay refused
        return BatchResult(reply=f"202 accepted, {len(rejected)} refused", rejected=rejected)

    def _post(self, http: Http, content: Content, members: list[Member]) -> None:
        practice = self.prepared.practice
        body: dict = {
            "personalizations": [self._personalization(m) for m in members],
            "from": {"email": practice.from_email, "name": practice.from_name},
            "reply_to": {"email": practice.reply_to},
            "subject": content.subject,
            # SendGrid wants text/plain before text/html.
            "content": [
                {"type": "text/plain", "value": content.text},
                {"type": "text/html", "value": content.html},
            ],
            "categories": [content.tag],
            # Each personalization carries the practice's own List-Unsubscribe; SendGrid's
            # subscription tracking would add a second one (and a footer), so it is off here.
            "tracking_settings": {"subscription_tracking": {"enable": False}},
        }
        if self.schedule:
            body["send_at"] = int(self.schedule.timestamp())  # an integer, as SendGrid asks
        group = self.unsubscribe_group()
        if group is not None:
            body["asm"] = {"group_id": group}
        http.request("POST", "/v3/mail/send", json=body)

    def _personalization(self, member: Member) -> dict:
        practice = self.prepared.practice
        name = placeholders.clean_name(member.first_name)
        mailto, https = placeholders.unsubscribe_links(
            member.token,
            unsubscribe_url=practice.unsubscribe_url,
            unsubscribe_email=practice.unsubscribe_email,
        )
        greeting = name or practice.greeting_fallback
        unsubscribe = https or mailto
        to = {"email": member.email, "name": name} if name else {"email": member.email}
        headers = {"List-Unsubscribe": f"<{mailto}>, <{https}>" if https else f"<{mailto}>"}
        if https:
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return {
            "to": [to],
            "substitutions": {
                "-first_name-": greeting,
                "-unsubscribe_url-": unsubscribe,
                "-first_name_html-": html.escape(greeting, quote=True),
                "-unsubscribe_url_html-": html.escape(unsubscribe, quote=True),
            },
            "headers": headers,
        }

    def _refused(self, exc: ProviderError, count: int) -> dict[int, str]:
        """Index → reason when a 400 blames only some personalizations, else {}."""
        if exc.status != 400 or not isinstance(exc.payload, dict):
            return {}
        errors = exc.payload.get("errors")
        if not isinstance(errors, list) or not errors:
            return {}
        refused: dict[int, str] = {}
        for error in errors:
            if not isinstance(error, dict):
                return {}
            found = _PERSONALIZATION.match(str(error.get("field") or ""))
            if not found or int(found.group(1)) >= count:
                return {}  # a problem with the whole request: nobody is singled out
            index = int(found.group(1))
            refused.setdefault(index, str(error.get("message") or "refused")[:200])
        return refused

"""Mailchimp: members batch-subscribed with their variant's tag, one draft campaign per tag.

Mailchimp personalises (`*|FNAME|*`) and handles unsubscribes (`*|UNSUB|*`, its own
List-Unsubscribe) itself. The campaigns are left as drafts for the office to review and
send in Mailchimp, unless `--schedule` is given (on a quarter hour, as Mailchimp asks).

Nothing is made twice. Each step (tag, campaign, content, schedule) is recorded in the
ledger; a step whose answer never came is found again before it is repeated: the draft by
its title and tag among the audience's drafts, the schedule by the campaign's status. The
tag's segment is looked up (tag search, then paging), never created empty.
"""

from __future__ import annotations

import html
import os
import re
from datetime import UTC
from pathlib import Path
from typing import ClassVar

import httpx

from chairside import placeholders
from chairside.errors import ChairsideError
from chairside.ledger import Ledger
from chairside.providers.base import (
    BatchResult,
    Content,
    Member,
    Provider,
    setting,
    write_csv,
)
from chairside.providers.http import IDEMPOTENT, Http, ProviderError, RequestUnknown
from chairside.providers.schedule import Window
from chairside.words import plural

PAGE = 1000  # the most Mailchimp lists per page
_DATACENTER = re.compile(r"-([a-z]+[0-9]+)$")

README = """\
Newsletter {campaign} for Mailchimp
{underline}

These files hold the newsletter in {versions}. Each patient gets one version, chosen
by the tag next to their address in audience.csv. Tags are codes ({tags}): they say
nothing about a patient's health.

1. Audience > Import contacts > Upload a file: choose audience.csv. Match the columns
   "Email Address" and "First Name" (FNAME); import "Tags" as tags. Only import people
   who agreed to receive email (this file holds only them).
2. For each version, create an email campaign:
   - To: your audience, segment or tag = the version's tag (for example {first_tag});
   - Subject: {subject}
   - Content > Code your own > Paste in code: the file <tag>.html
     (and the plain-text version: <tag>.txt).
   *|FNAME|* and *|UNSUB|* in the files are Mailchimp's own merge tags: leave them as
   they are.
3. Send yourself a test of each campaign before sending it.
"""


class Mailchimp(Provider):
    name = "mailchimp"
    title = "Mailchimp"
    key_variable = "MAILCHIMP_API_KEY"
    batch_size = 500
    merge_tags: ClassVar[dict[str, str]] = {
        placeholders.FIRST_NAME: "*|FNAME|*",
        placeholders.UNSUBSCRIBE_URL: "*|UNSUB|*",
    }
    extra_features: ClassVar[tuple[str, ...]] = ("draft campaigns",)
    schedule_window = Window(latest=None, quarter_hour=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        fallback = self.prepared.practice.greeting_fallback

        def greeting(fallback: str) -> str:
            return f"*|IF:FNAME|**|FNAME|**|ELSE:|*{fallback}*|END:IF|*"

        # Mailchimp escapes *|FNAME|* itself; the fallback is our text, escaped for HTML here.
        self.merge_tags = {
            placeholders.FIRST_NAME: greeting(fallback),
            placeholders.UNSUBSCRIBE_URL: "*|UNSUB|*",
        }
        self.html_merge_tags = {
            **self.merge_tags,
            placeholders.FIRST_NAME: greeting(html.escape(fallback, quote=True)),
        }
        self.list_id = ""

    # -- bundle ----------------------------------------------------------------------------
    def write_bundle(self, folder: Path) -> None:
        rows = [["Email Address", "First Name", "Tags"]]
        rows += [[m.email, placeholders.clean_name(m.first_name), m.tag] for m in self.members()]
        (folder / "audience.csv").write_text(write_csv(rows, address_column=0), encoding="utf-8")
        contents = self.contents(bundle=True)
        tags = [c.tag for c in contents]
        (folder / "README.txt").write_text(
            README.format(
                campaign=self.prepared.campaign.name,
                underline="=" * (len(self.prepared.campaign.name) + 31),
                versions=plural(len(tags), "version"),
                tags=", ".join(tags),
                first_tag=tags[0],
                subject=contents[0].subject,
            ),
            encoding="utf-8",
        )

    # -- push ------------------------------------------------------------------------------
    def api_key(self) -> str:
        key = super().api_key()
        if not _DATACENTER.search(key):
            raise ChairsideError(
                f"The key in {self.key_variable} does not end in its data centre (like "
                "-us21), so it is not a whole Mailchimp API key: copy it again from Mailchimp "
                "(Profile > Extras > API keys)."
            )
        return key

    def base_url(self, api_base: str | None) -> str:
        """`https://<dc>.api.mailchimp.com/3.0`, or --api-base with or without `/3.0`."""
        datacenter = _DATACENTER.search(self.api_key()).group(1)
        given = api_base or os.environ.get("CHAIRSIDE_MAILCHIMP_API_BASE")
        if not given:
            return f"https://{datacenter}.api.mailchimp.com/3.0"
        given = given.rstrip("/")
        return given if given.endswith("/3.0") else given + "/3.0"

    def connect(self, api_base: str | None) -> Http:
        self.list_id = setting(
            option=self.options.get("audience_id"),
            practice=self.settings,
            key="audience_id",
            env="MAILCHIMP_AUDIENCE_ID",
            what="Mailchimp audience id",
            option_name="--audience-id",
        )
        return self.http(api_base, auth=("chairside", self.api_key()))

    def send_batch(self, http: Http, content: Content, members: list[Member]) -> BatchResult:
        body = {"members": [_member(m) for m in members], "update_existing": True}
        answer = _answer(http.request("POST", f"/lists/{self.list_id}", json=body))
        by_address = {m.email.lower(): m.key for m in members}
        rejected = {
            by_address[e["email_address"].lower()]: e.get("error") or "rejected"
            for e in answer.get("errors", [])
            if e.get("email_address", "").lower() in by_address
        }
        added = len(answer.get("new_members", [])) + len(answer.get("updated_members", []))
        return BatchResult(reply=f"200 {added} subscribed", rejected=rejected)

    def after_batches(self, http: Http, contents: list[Content], ledger: Ledger) -> list[str]:
        """One campaign per variant tag, targeted at the tag, content set; drafts or scheduled."""
        return [self._campaign(http, ledger, content) for content in contents]

    def _campaign(self, http: Http, ledger: Ledger, content: Content) -> str:
        name = self.prepared.campaign.name

        def once(step: str, make) -> str:
            done = ledger.step(name, self.name, f"{step} {content.tag}")
            if done is None:
                done = make()
                ledger.record_step(name, self.name, f"{step} {content.tag}", done)
            return done

        segment_id = once("tag", lambda: self._tag_id(http, content.tag))
        campaign_id = once(
            "campaign",
            lambda: (
                self._draft(http, content, int(segment_id))
                or self._new_campaign(http, content, int(segment_id))
            ),
        )
        once(
            "content",
            lambda: (
                http.request(
                    "PUT",
                    f"/campaigns/{campaign_id}/content",
                    json={"html": content.html, "plain_text": content.text},
                )
                and "set"
            ),
        )
        if self.schedule:
            when = self.schedule.astimezone(UTC).isoformat(timespec="seconds")
            done = once("schedule", lambda: self._schedule(http, campaign_id, when))
            note = f"campaign {content.tag} ({campaign_id}) scheduled for {done}"
            if done != when:
                note += " by an earlier run (to change it, unschedule it in Mailchimp first)"
            return note
        return f"campaign {content.tag} ({campaign_id}) is a draft in Mailchimp: review, then send"

    def _new_campaign(self, http: Http, content: Content, segment_id: int) -> str:
        practice = self.prepared.practice
        body = {
            "type": "regular",
            "recipients": {
                "list_id": self.list_id,
                "segment_opts": {"saved_segment_id": segment_id},
            },
            "settings": {
                "subject_line": content.subject,
                "preview_text": content.preheader,
                "title": content.tag,
                "from_name": practice.from_name,
                "reply_to": practice.reply_to,
            },
        }
        response = http.request("POST", "/campaigns", json=body)
        return str(_answer(response, needs="id", what="campaign id")["id"])

    def _draft(self, http: Http, content: Content, segment_id: int) -> str | None:
        """A draft an earlier run made for this tag (its answer lost), to use, not repeat."""
        for campaign in self._pages(
            http, "/campaigns", "campaigns", {"status": "save", "list_id": self.list_id}
        ):
            recipients = campaign.get("recipients") or {}
            segment = (recipients.get("segment_opts") or {}).get("saved_segment_id")
            if (campaign.get("settings") or {}).get("title") == content.tag and (
                recipients.get("list_id") in (None, self.list_id) and segment in (None, segment_id)
            ):
                return str(campaign["id"])
        return None

    def _schedule(self, http: Http, campaign_id: str, when: str) -> str:
        state = _answer(http.request("GET", f"/campaigns/{campaign_id}"))
        if state.get("status") in ("schedule", "sending", "sent"):
            return state.get("send_time") or when  # an earlier run's request did it
        http.request(
            "POST", f"/campaigns/{campaign_id}/actions/schedule", json={"schedule_time": when}
        )
        return when

    def _tag_id(self, http: Http, tag: str) -> str:
        """The id of the tag (a static segment) the batch subscribe created; never a new one."""
        try:
            found = _answer(
                http.request("GET", f"/lists/{self.list_id}/tag-search", params={"name": tag})
            )
        except ProviderError as exc:
            if exc.status != 404:
                raise
            found = {}  # no tag search here: page through the segments instead
        for item in found.get("tags") or []:
            if item.get("name") == tag:
                return str(item["id"])
        segments = f"/lists/{self.list_id}/segments"
        for segment in self._pages(http, segments, "segments", {"type": "static"}):
            if segment.get("name") == tag:
                return str(segment["id"])
        raise ChairsideError(
            f"Mailchimp's audience {self.list_id} has no tag {tag}, though its patients were "
            "subscribed with it. Check the audience in Mailchimp (Audience > Tags), then run "
            "the same command again; nobody is handed over twice."
        )

    def _pages(self, http: Http, path: str, key: str, params: dict):
        """Every item of a Mailchimp list, page by page."""
        offset = 0
        while True:
            page = _answer(
                http.request("GET", path, params={**params, "count": PAGE, "offset": offset})
            )
            items = page.get(key) or []
            yield from items
            offset += len(items)
            if not items or offset >= int(page.get("total_items") or 0):
                return


def _answer(response: httpx.Response, *, needs: str = "", what: str = "") -> dict:
    """The JSON object Mailchimp answered, with a `needs` value (`what`, in words) when
    given. Anything else after a POST is RequestUnknown: Mailchimp may have acted on it
    (made the campaign), so the rerun looks for what it made before making it again; after
    a GET, a ProviderError. Both name what Mailchimp answered."""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict) and (not needs or answer.get(needs)):
        return answer
    request = response.request
    body = " ".join(response.text.split())[:200] or "an empty body"
    message = (
        f"Mailchimp answered {request.method} {request.url.path} with {response.status_code} "
        f"{body}: {f'no {what}' if needs else 'not the JSON it documents'}"
    )
    if request.method.upper() in IDEMPOTENT:
        raise ProviderError(f"{message}. Run the same command again.", status=response.status_code)
    raise RequestUnknown(message)


def _member(member: Member) -> dict:
    """One member of a batch subscribe; an empty first name is left out, so a name Mailchimp
    already holds is not erased."""
    body: dict = {"email_address": member.email, "status": "subscribed", "tags": [member.tag]}
    name = placeholders.clean_name(member.first_name)
    if name:
        body["merge_fields"] = {"FNAME": name}
    return body

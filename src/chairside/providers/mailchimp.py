"""Mailchimp: members batch-subscribed with their variant's tag, one draft campaign per tag.

Mailchimp personalises (`*|FNAME|*`) and handles unsubscribes (`*|UNSUB|*`) itself. The
campaigns are left as drafts for the office to review and send in Mailchimp, unless
`--schedule` is given. Each step (tag, campaign, content, schedule) is recorded in the
ledger, so a rerun after a failure never makes a second campaign.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from chairside import placeholders
from chairside.ledger import Ledger
from chairside.providers.base import (
    BatchResult,
    Content,
    Member,
    Provider,
    setting,
    write_csv,
)
from chairside.providers.http import Http

README = """\
Newsletter {campaign} for Mailchimp
{underline}

These files hold the newsletter in {count} versions. Each patient gets one version, chosen
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
    extra_features: ClassVar[tuple[str, ...]] = ("draft campaigns, or --schedule",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        fallback = self.prepared.practice.greeting_fallback
        self.merge_tags = {
            placeholders.FIRST_NAME: f"*|IF:FNAME|**|FNAME|**|ELSE:|*{fallback}*|END:IF|*",
            placeholders.UNSUBSCRIBE_URL: "*|UNSUB|*",
        }
        self.list_id = ""

    # -- bundle ----------------------------------------------------------------------------
    def write_bundle(self, folder: Path) -> None:
        rows = [["Email Address", "First Name", "Tags"]]
        rows += [[m.email, m.first_name, m.tag] for m in self.members()]
        (folder / "audience.csv").write_text(write_csv(rows), encoding="utf-8")
        contents = self.contents(bundle=True)
        tags = [c.tag for c in contents]
        (folder / "README.txt").write_text(
            README.format(
                campaign=self.prepared.campaign.name,
                underline="=" * (len(self.prepared.campaign.name) + 31),
                count=len(tags),
                tags=", ".join(tags),
                first_tag=tags[0],
                subject=contents[0].subject,
            ),
            encoding="utf-8",
        )

    # -- push ------------------------------------------------------------------------------
    def base_url(self, api_base: str | None) -> str:
        key = self.api_key()
        datacenter = key.rpartition("-")[2] if "-" in key else "us1"
        self.default_base = f"https://{datacenter}.api.mailchimp.com/3.0"
        return super().base_url(api_base)

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
        body = {
            "members": [
                {
                    "email_address": m.email,
                    "status": "subscribed",
                    "merge_fields": {"FNAME": m.first_name},
                    "tags": [m.tag],
                }
                for m in members
            ],
            "update_existing": True,
        }
        answer = http.request("POST", f"/lists/{self.list_id}", json=body).json()
        by_address = {m.email.lower(): m.key for m in members}
        rejected = {
            by_address[e["email_address"].lower()]: e.get("error") or "rejected"
            for e in answer.get("errors", [])
            if e.get("email_address", "").lower() in by_address
        }
        added = len(answer.get("new_members", [])) + len(answer.get("updated_members", []))
        return BatchResult(reply=f"200 {added} subscribed", rejected=rejected)

    def after_batches(
        self, http: Http, contents: list[Content], schedule: str | None, ledger: Ledger
    ) -> list[str]:
        """One campaign per variant tag, targeted at the tag, content set; drafts or scheduled."""
        return [self._campaign(http, ledger, content, schedule) for content in contents]

    def _campaign(self, http: Http, ledger: Ledger, content: Content, schedule: str | None) -> str:
        name = self.prepared.campaign.name
        practice = self.prepared.practice

        def once(step: str, make) -> str:
            done = ledger.step(name, self.name, f"{step} {content.tag}")
            if done is None:
                done = make()
                ledger.record_step(name, self.name, f"{step} {content.tag}", done)
            return done

        segment_id = once("tag", lambda: self._tag_id(http, content.tag))
        campaign_id = once(
            "campaign",
            lambda: http.request(
                "POST",
                "/campaigns",
                json={
                    "type": "regular",
                    "recipients": {
                        "list_id": self.list_id,
                        "segment_opts": {"saved_segment_id": int(segment_id)},
                    },
                    "settings": {
                        "subject_line": content.subject,
                        "preview_text": content.preheader,
                        "title": content.tag,
                        "from_name": practice.from_name,
                        "reply_to": practice.reply_to,
                    },
                },
            ).json()["id"],
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
        if schedule:
            once(
                "schedule",
                lambda: (
                    http.request(
                        "POST",
                        f"/campaigns/{campaign_id}/actions/schedule",
                        json={"schedule_time": schedule},
                    )
                    and schedule
                ),
            )
            return f"campaign {content.tag} ({campaign_id}) scheduled for {schedule}"
        return f"campaign {content.tag} ({campaign_id}) is a draft in Mailchimp: review, then send"

    def _tag_id(self, http: Http, tag: str) -> str:
        """The id of the tag (a static segment) the batch subscribe created."""
        listing = http.request(
            "GET", f"/lists/{self.list_id}/segments", params={"type": "static", "count": 1000}
        ).json()
        for segment in listing.get("segments", []):
            if segment.get("name") == tag:
                return str(segment["id"])
        made = http.request(
            "POST", f"/lists/{self.list_id}/segments", json={"name": tag, "static_segment": []}
        ).json()
        return str(made["id"])

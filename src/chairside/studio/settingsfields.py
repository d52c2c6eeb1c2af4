"""What the Settings pages ask for: each field, its words and help, by the setting of
practice.toml it writes ("email.from"), and the email providers' own settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    setting: str
    """Dotted, as in practice.toml: "email.from"."""
    label: str
    help: str = ""
    kind: str = "text"
    """text, email, url, tel, number, color, or choice (`choices`)."""
    choices: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return self.setting.replace(".", "_")


SECURITY = (
    (
        "starttls",
        "Encrypted after the greeting (usually port 587): the connection starts plain and "
        "switches to encryption before the password is sent. Mail providers call it STARTTLS.",
    ),
    (
        "ssl",
        "Encrypted from the start (usually port 465 for sending, 993 for a mailbox). "
        "Also called SSL or TLS.",
    ),
    (
        "none",
        "Not encrypted: only for a mail server on this computer; anyone on the network "
        "could read the password.",
    ),
)

PRACTICE = (
    Field("name", "Practice name"),
    Field("address", "Postal address", "Every email shows it; the law asks for it in newsletters."),
    Field("phone", "Phone", "Shown in every email, tappable on a phone.", "tel"),
    Field("website", "Website", "Like https://your-practice.com", "url"),
    Field(
        "booking_url",
        "Booking link",
        "Where the 'Book a visit' button goes. Leave empty to use the website.",
        "url",
    ),
    Field("email.from", "Sender address", "The address the newsletter comes from.", "email"),
    Field("email.from_name", "Sender name", "Leave empty to use the practice name."),
    Field(
        "email.reply_to",
        "Replies go to",
        "Where a patient's reply arrives. Leave empty to use the sender address.",
        "email",
    ),
    Field(
        "email.bounce_address",
        "Bounces come back to",
        "Optional: an address of the sender's domain whose mail the Inbox page reads, like "
        "bounces@your-practice.com. Each patient's message then carries a return address "
        "of its own, so a bounce names its patient for certain. Only if your mail server "
        "lets each message's sender be chosen (most hosting relays and Amazon SES do; "
        "Microsoft 365 and Google may refuse it).",
        "email",
    ),
    Field(
        "feed.url",
        "Your blog's feed",
        "Its RSS or Atom address, like https://your-practice.com/feed/. Next month's "
        "newsletter is drafted from the posts it lists.",
        "url",
    ),
    Field(
        "schedule.timezone",
        "Time zone",
        "Scheduled newsletters go out at this zone's time, like America/Chicago. Leave empty "
        "to use this computer's.",
    ),
)
LOOK = (
    Field("brand.color", "Brand colour", "The header's background, like #0B5D6B.", "color"),
    Field(
        "brand.text_color",
        "Text colour on the brand colour",
        "Leave empty to use white or dark grey, whichever reads better.",
        "color",
    ),
    Field(
        "brand.logo",
        "Logo's web address",
        "Email programs load the logo from the web, so it must be on your website (whoever "
        "runs the website can put the file there). Paste its address, starting https://. "
        "Leave empty to show the practice name instead.",
        "url",
    ),
    Field("brand.logo_alt", "Logo's description", "Read aloud, or shown, where images are off."),
)
SMTP = (
    Field(
        "smtp.host",
        "Mail server",
        "The sending server your mail provider names, like smtp.example.com.",
    ),
    Field("smtp.port", "Port", "Leave empty for the usual port of the security chosen.", "number"),
    Field("smtp.security", "Security", kind="choice", choices=SECURITY),
    Field(
        "smtp.user", "Login", "Often the full email address. Leave empty if the server needs none."
    ),
)
IMAP = (
    Field(
        "imap.host",
        "Mailbox server",
        "The incoming (IMAP) server of the mailbox that receives replies, unsubscribes and "
        "bounced mail, like imap.example.com.",
    ),
    Field("imap.port", "Port", "Leave empty for the usual port of the security chosen.", "number"),
    Field("imap.tls", "Security", kind="choice", choices=SECURITY),
    Field("imap.user", "Login", "Often the mailbox's full email address."),
    Field("imap.folder", "Folder", "Where that mail arrives; usually INBOX."),
)


@dataclass(frozen=True)
class Provider:
    name: str
    title: str
    setting: str
    label: str
    help: str
    pattern: str
    problem: str


PROVIDERS = (
    Provider(
        "mailchimp",
        "Mailchimp",
        "audience_id",
        "Audience ID",
        "In Mailchimp: Audience › Settings › Audience name and defaults.",
        r"[A-Za-z0-9]{4,40}",
        "An audience ID is letters and digits, like 4ca5d1b2e3.",
    ),
    Provider(
        "sendgrid",
        "SendGrid",
        "unsubscribe_group",
        "Unsubscribe group ID (optional)",
        "In SendGrid: Suppressions › Unsubscribe Groups; a whole number like 12345.",
        r"[1-9][0-9]{0,12}",
        "An unsubscribe group ID is a whole number, like 12345.",
    ),
    Provider(
        "mailgun",
        "Mailgun",
        "domain",
        "Sending domain",
        "The domain Mailgun sends for, like mg.your-practice.com.",
        r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+",
        "A sending domain looks like mg.your-practice.com.",
    ),
)
PAGES = (
    ("/settings", "The practice"),
    ("/settings/look", "Logo and colours"),
    ("/settings/theme", "Newsletter design"),
    ("/settings/mail-server", "Mail server"),
    ("/settings/mailbox", "Mailbox"),
    ("/settings/providers", "Email providers"),
)

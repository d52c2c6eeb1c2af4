"""Why a message was not delivered, and whose problem that is.

Modelled on Sisimai's reason taxonomy (one reason per cause, each with its status codes and
the words mail systems write for it), folded into the three answers Chairside acts on:

* `HARD`: the recipient's own address is gone (no such mailbox, no such domain, moved,
  domain takes no mail). Only this suppresses a patient at once.
* `SOFT`: the recipient's side, and it may pass (mailbox full, delivery expired, an
  unexplained failure). Counted; several in a row suppress.
* `SENDER`: a refusal of the *practice's* mail (spam-like, blocked, policy, reputation,
  authentication, the sender's own address (RFC 3463 5.1.7/5.1.8), rate limits, size,
  network and system errors). It never counts against the patient: it is a deliverability
  alarm for the practice.

RFC 3463 status codes decide first; `Status:` and the code the receiving server wrote in its
diagnostic may disagree, and then the more specific one wins (5.1.1 over 5.0.0). Without a
code, the diagnostic's words decide, and words that are not clear mean `SOFT`: only a
certain answer takes a patient off the list.

"Unknown user" without a 5.1.x code is certain only when it answered RCPT TO (after DATA a
filter may word its verdict so), when a mail system says it in its own way (a gateway that
writes its server's bounce, PowerMTA's bounce category, Hotmail's "mailbox unavailable"),
or when the prose of a bounce about that recipient alone says so. A 5.1.1 is not certain
when the words say otherwise (spam, blocked, quota), when a lone recipient's bounce also
calls the mailbox full or disabled, or when the receiving system refuses only by its
owner's rules (Amazon SES inbound).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HARD, SOFT, SENDER, DELAYED = "hard", "soft", "sender", "delayed"

# Reason → whose problem, for the codes and words below.
SIDE = {
    "user unknown": HARD,
    "domain unknown": HARD,
    "mailbox moved": HARD,
    "domain takes no mail": HARD,
    "mailbox disabled": SOFT,
    "mailbox full": SOFT,
    "expired": SOFT,
    "undetermined": SOFT,
    "filtered by the recipient": SOFT,
    "mailer error": SOFT,
    "spam-like": SENDER,
    "blocked": SENDER,
    "policy": SENDER,
    "authentication": SENDER,
    "reputation": SENDER,
    "sender address": SENDER,
    "rate limit": SENDER,
    "too big": SENDER,
    "content": SENDER,
    "relaying denied": SENDER,
    "network error": SENDER,
    "system error": SENDER,
}

# RFC 3463 codes with a meaning of their own (x.0.0 and the like say only a class).
_CODES = {
    "5.1.1": "user unknown",
    "5.1.2": "domain unknown",
    "5.1.3": "user unknown",  # bad destination mailbox address syntax
    "5.1.6": "mailbox moved",
    "5.1.10": "user unknown",  # Office 365's RecipientNotFound (RFC 7505: null MX)
    "5.1.7": "sender address",
    "5.1.8": "sender address",
    "4.1.7": "sender address",
    "4.1.8": "sender address",
    "5.1.4": "filtered by the recipient",  # ambiguous address
    "5.1.9": "system error",
    "5.2.1": "mailbox disabled",
    "4.2.1": "mailbox disabled",
    "5.2.2": "mailbox full",
    "4.2.2": "mailbox full",
    "5.2.3": "too big",
    "4.2.3": "too big",
    "5.2.4": "system error",
    "5.3.1": "system error",
    "5.3.2": "system error",
    "5.3.4": "too big",
    "5.4.4": "domain unknown",  # unable to route: no mail server for the domain
    "4.4.1": "expired",
    "4.4.7": "expired",
    "5.4.7": "expired",
    "5.5.3": "rate limit",
    "4.7.0": "blocked",
    "4.7.1": "blocked",
    "5.7.1": "blocked",
    "5.7.13": "mailbox disabled",
    "5.7.17": "mailbox moved",
    "5.7.18": "mailbox moved",
    "5.7.27": "domain takes no mail",
    "5.7.28": "spam-like",
}
_CLASS_DEFAULT = {  # the subject (second digit) when the detail says nothing more
    "1": "undetermined",
    "2": "undetermined",
    "3": "system error",
    "4": "network error",
    "5": "system error",
    "6": "content",
    "7": "policy",
}


def _words(*phrases: str) -> re.Pattern[str]:
    return re.compile("|".join(phrases), re.IGNORECASE)


# What mail systems write, in their own words (lowercased text is matched). Order matters:
# the first reason whose words appear is the reason.
_TEXT: list[tuple[str, re.Pattern[str]]] = [
    (
        "mailbox full",
        _words(
            r"over (the )?(allowed |disk )?quota",
            r"quota (exceeded|violation|usage exceeded)",
            r"mailbox (is |was )?full",
            r"full mailbox",
            r"mail ?(box|folder|dir) (size limit exceeded|over quota|exceeded)",
            r"(not enough|insufficient|not sufficient) (storage|disk) ?space",
            r"exceeded (its|their)? ?(storage|disk space|mailbox quota)",
            r"boite du destinataire pleine",
            r"space has been used up",
        ),
    ),
    (
        "sender address",
        _words(
            r"sender (address )?(was )?rejected",
            r"sender verify failed",
            r"invalid sender",
            r"domain of sender address",
            r"sender (domain )?(address )?(is )?(empty|not pre-approved|blacklisted|spammer)",
            r"unroutable sender",
            r"bad sender",
            r"mail from not owned",
            r"null sender is not allowed",
            r"sender domain must exist",
        ),
    ),
    (
        "authentication",
        _words(
            r"\bspf\b.{0,40}(fail|violation|not allowed|check)",
            r"\bdmarc\b",
            r"\bdkim\b.{0,40}(fail|invalid|required|signature)",
            r"authentication (failure|required|credentials)",
            r"unauthenticated (mail|senders?)",
            r"not authorized to send",
            r"sender policy framework",
        ),
    ),
    (
        "reputation",
        _words(
            r"reputation",
            r"temporarily deferred due to .{0,40}complaints",
            r"reverse dns|\bptr\b|rdns",
        ),
    ),
    (
        "spam-like",
        _words(
            r"\bspam\b",
            r"unsolicited",
            r"(message|mail) content (denied|rejected)",
            r"content filter",
            r"message filtered",
            r"bulk e-?mail",
            r"looks like (spam|phishing)",
            r"virus",
            r"malware",
            r"phish",
        ),
    ),
    (
        "blocked",
        _words(
            r"blocked",
            r"black ?list",
            r"block ?list",
            r"\brbl\b|dnsbl|spamhaus|spamcop|barracuda",
            r"client host .{0,60}rejected",
            r"not (currently )?accepting (mail|connections) from",
            r"refused to talk to me",
            r"connection (refused|dropped|reset)",
            r"banned",
            r"access denied \(in reply to mail from",
            r"helo command rejected",
            r"dynamic ip",
            r"go away",
        ),
    ),
    (
        "rate limit",
        _words(
            r"rate limit",
            r"too many (connections|messages|recipients|smtp sessions|errors|concurrent)",
            r"throttl",
            r"try again (later|slower)",
            r"exceeded the max emails",
            r"sending limit",
            r"connection limit",
        ),
    ),
    (
        "too big",
        _words(
            r"(message|mail) (is |file )?too (big|large)",
            r"(message )?size (limit|exceeds)",
            r"exceeds? (the )?(maximum|fixed|administrative) .{0,20}(size|limit)",
            r"message length exceeds",
            r"line limit exceeded",
        ),
    ),
    (
        "relaying denied",
        _words(
            r"relay(ing)? (access )?(denied|not permitted)",
            r"not (permitted|allowed) to relay",
            r"unable to relay",
            r"no relaying",
            r"we do not relay",
            r"not an open relay",
            r"isn't in my list of allowed rcpthosts",
        ),
    ),
    (
        "policy",
        _words(
            r"polic(y|ies)",
            r"administrative prohibition",
            r"not authori[sz]ed",
            r"members-only list",
            r"header (error|are not accepted)",
            r"protocol violation",
            r"illegal attachment",
        ),
    ),
    (
        "mailbox moved",
        _words(r"has been replaced by", r"mailbox (has )?moved", r"address has changed"),
    ),
    (
        "mailbox disabled",
        _words(
            r"(is |currently |has been |temporarily )suspended",
            r"user suspended",
            r"(mailbox|account) (is |has been )?(disabled|deactivated|frozen|inactive|locked)",
            r"(inactive|deactivated|disabled) (account|mailbox|user)",
            r"user is terminated",
            r"(account|mailbox) that you tried to reach is (disabled|suspended|inactive)",
            r"archived recipient",
        ),
    ),
    (
        "domain takes no mail",
        _words(
            r"does not accept mail",
            r"null ?mx",
            r"mail receiving disabled",
            r"no mx record",
            r"(mx|srv) record indicated no smtp service",
        ),
    ),
    (
        "domain unknown",
        _words(
            r"domain (does not|doesn't) exist",
            r"no such domain",
            r"(host|domain) (name )?(not found|unknown)",
            r"because the domain \S+ (could not be found|does not exist)",
            r"because the domain is not reachable",  # Outlook.com
            r"\b5\d\d (?!\S*@)[a-z0-9-]+(\.[a-z0-9-]+)+ does not exist",  # "553 host.example …"
            r"unknown (host|domain)",
            r"host or domain name not found",
            r"unrout(e)?able address",
            r"recipient domain must exist",
            r"name or service not known",
        ),
    ),
    (
        "user unknown",
        _words(
            r"user(name)? (unknown|not found|not known|not exist|does not exist|doesn't exist)",
            r"unknown (user|recipient|mailbox|local ?part|e-?mail address|address)",
            r"no such (user|mailbox|recipient|person|address|account)",
            r"(mailbox|recipient|address|account|e-?mail address)( \S+)? "
            r"(does not|doesn't|did not|not) (exist|found)",
            r"(mailbox|recipient|address) (not found|unavailable|invalid|is not valid)",
            r"invalid (mailbox|recipient|address|user)",
            r"not a (valid|known) (user|mailbox|recipient)",
            r"is not a known user",
            r"recipient (address )?rejected: (user unknown|invalid|unknown user|access denied)",
            r"5\.1\.0 address rejected",
            r"recipient address rejected\.?\s*$",
            r"invalid (final )?(delivery )?(recipient|userid|address)",
            r"not listed in (the )?(domino )?directory",
            r"not listed in (the )?public name (&|and) address book",  # Lotus Notes
            # Lotus Notes and Domino, in Japanese
            r"ディレクトリのリストにありません|ディレクトリには見つかりません",
            r"no valid recipients for this mm",  # Verizon's MMS gateway
            r"user name of email address not valid",
            r"doesn't have an? \S+ account",
            r"recipient not (found|ok|exist)",
            r"no mailbox (here|by that name|found)",
            r"(mailbox|account) (is )?unavailable",
            r"there is no one at this address",
            r"recipient name is not recognized",
            r"(address|recipient|user|mailbox) (couldn't|could not|cannot|can't) be found",
            r"wasn't found at",
            r"address (does not|doesn't) exist",
            r"no longer (valid|accepts mail|in use)",
            r"resolver\.adr\.recipientnotfound|recipientnotfound|recipient ?not ?found",
            r"bad ?rcpt|badrecipient|validrcptto",
            r"utilisateur inconnu|usuario desconocido|no existe (dicha persona|ese usuario)",
            r"unbekannt|nessun utente",
        ),
    ),
    (
        "network error",
        _words(
            r"no route to host",
            r"host (is )?unreachable",
            r"(mail|routing|forwarding) loop",
            r"too many hops",
            r"name server reply",
            r"host name lookup failure",
            r"(connection|message) timed out",
            r"could not connect",
        ),
    ),
    (
        "expired",
        _words(
            r"expired",
            r"giving up",
            r"too long in (the )?queue|in the queue too long",
            r"retry time not reached",
            r"could not be delivered for",
            r"failing for a long time",
            r"multiple retries",
            r"delivery time",
        ),
    ),
    (
        "system error",
        _words(
            r"system (config(uration)? )?error",
            r"local (error|problem|configuration error)",
            r"internal (server )?error",
            r"service (currently )?unavailable",
            r"temporary (local )?(problem|failure)",
            r"server (is )?misconfigured",
            r"write error",
        ),
    ),
    (
        "filtered by the recipient",
        _words(
            r"refuses? to (receive|accept)",
            r"recipient (preferences|rules)",
            r"only accepting mail from",
            r"user reject",
            r"blocked by the recipient",
            r"notauthorized",
        ),
    ),
]
# How the big mail systems say, in words no filter uses, that an address does not exist.
_CERTAIN_PHRASES = (
    r"recipient name is not recognized",  # Exchange
    r"address not found",  # Gmail
    r"the (email )?account that you tried to reach does not exist",  # Gmail
    r"because the address couldn.t be found",  # Gmail
    r"not listed in (the )?(public |domino )?(name (and|&) address book|directory)",  # Notes
    r"ディレクトリのリストにありません|ディレクトリには見つかりません",  # Notes, Domino (ja)
    r"resolver\.adr\.recipientnotfound|recipient ?not ?found by smtp address lookup",
    r"remote server returned unknown recipient",  # Office 365, 5.1.351
    r"adresse destinataire invalide",  # Orange
    r"user name of email address not valid",  # AOL
    r"invalid final delivery userid",  # IMail
    r"mail\.local: unknown user",  # sendmail's local delivery agent: no such account
)
_CERTAIN = _words(
    *_CERTAIN_PHRASES,
    # The server names the address it refuses (Postfix's "<a@b>: User unknown"): about
    # that address, not the message.
    r"@[^<>\s]+>: (user unknown|no such user|unknown user)",
)
# The same sentences in the prose of a bounce about one recipient are about that recipient,
# unless the writer says it is not sure (Gmail adds "or is unable to receive mail" when the
# receiving server's answer did not say which).
_CERTAIN_PROSE = _words(*_CERTAIN_PHRASES)
_UNSURE_PROSE = _words(r"or is unable to receive mail")
# Mail systems that say in a way of their own that an address does not exist (Sisimai's
# per-system knowledge): how the bounce names its writer or the receiving host (`writer`:
# its From, X-Mailer, X-NAI-Header and the receiving host), and the words that, from it,
# are a directory lookup's answer rather than a filter's.
_SYSTEMS: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    # McAfee Email Gateway and Ipswitch IMail write the bounce of the server they guard.
    (
        _words(r"(^|\n)x-nai-header: .*mcafee"),
        _words(r"unknown user", r"no such user", r"user not exist", r"user \S+ unknown"),
    ),
    (
        _words(r"(^|\n)x-mailer: <smtp32 v"),
        _words(r"unknown user", r"invalid final delivery userid"),
    ),
    # Symantec Email Security.cloud (MessageLabs), in front of its customers' servers.
    (
        _words(r"(^|\n)from: .*mailer-daemon@messagelabs\.com"),
        _words(r"no such user", r"\b542 \S+ rejected"),
    ),
    # Trend Micro's InterScan gateway, when the server behind it refused the address.
    (
        _words(
            r"(^|\n)from: .*\binterscan (notification|mss)\b",
            r"(^|\n)received: .* with interscan messaging security suite\b",
        ),
        _words(r"unable to deliver message to"),
    ),
    # Verizon's MMS gateway (its bounce comes from or through vzwpix.com or vtext.com).
    (
        _words(r"vzwpix\.com|vtext\.com"),
        _words(r"no such user here", r"no valid recipients for this mm"),
    ),
    # Microsoft's consumer mail (Hotmail, Outlook.com) refuses an address it does not have
    # with "mailbox unavailable".
    (
        _words(
            r"(^|\n)from: .*@(hotmail|outlook|live|msn)\.com\b",
            r"(^|\n)remote: \S*\.hotmail\.com\b",
        ),
        _words(r"requested action not taken: mailbox unavailable"),
    ),
]
# Receiving systems whose "no such mailbox" is a rule the domain's owner wrote, not a
# directory's answer: Amazon SES inbound refuses mail only by a receipt rule's Bounce action,
# in the owner's words (commonly the console's "550 5.1.1 Mailbox does not exist").
_RULES: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (
        _words(r"(^|\n)remote: inbound-smtp\.[\w-]+\.amazonaws\.com\b"),
        _words(r"^(550 )?(5\.1\.1 )?mailbox does not exist\.?$"),
    ),
]
# The sending mail system's own verdict: PowerMTA's X-PowerMTA-BounceCategory.
_CATEGORY = {
    "bad-mailbox": "user unknown",
    "bad-domain": "domain unknown",
    "inactive-mailbox": "mailbox disabled",
    "quota-issues": "mailbox full",
    "message-expired": "expired",
    "spam-related": "spam-like",
    "policy-related": "policy",
    "no-answer-from-host": "network error",
    "routing-errors": "system error",
}
# A bounce that also calls the mailbox full or disabled does not prove it does not exist.
_CONTRADICTS = [
    (name, pattern) for name, pattern in _TEXT if name in ("mailbox full", "mailbox disabled")
]
_TEMPORARY = re.compile(
    r"try again later|, try again|temporar|transient|will (retry|try again)", re.IGNORECASE
)
# The SMTP step a refusal answered. Before DATA the server has seen only the address, so
# "unknown user" there is about the address; after DATA it has read the message, and a
# filter may word its verdict so. ("503 Need RCPT", sendmail's reply to a DATA whose every
# recipient was refused, names no step.)
_AT_RCPT = re.compile(
    # "in reply to RCPT TO command", ">>> RCPT To:", "[RCPT_TO]", "after RCPT command"
    r"\brcpt([ _]?to| command)\b|smtp:rcpt\b|"
    r"does not like recipient",  # qmail's words for a refusal at RCPT
    re.IGNORECASE,
)
_AFTER_DATA = re.compile(
    r"end of data|(in reply to|after) data\b|data command|>>> ?data\b|"
    r"\bdata\b.{0,20}(reply|phase)",
    re.IGNORECASE,
)
STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_REPLY = re.compile(r"(?<![\w.-])([245])\d\d(?![\w.])")  # not "F437-" in a Message-ID


@dataclass(frozen=True)
class Verdict:
    side: str
    """HARD, SOFT, SENDER or DELAYED."""
    reason: str
    status: str
    """The RFC 3463 code that decided, or ""."""


def code_in(text: str) -> str:
    match = STATUS.search(text or "")
    return ".".join(match.groups()) if match else ""


def _specific(code: str) -> int:
    _c, subject, detail = code.split(".")
    return (subject != "0") + (detail != "0")


def best_code(status: str, diagnostic: str) -> str:
    """`Status:` or the diagnostic's own code, whichever says more (the more specific)."""
    status = code_in(status)
    own = code_in(diagnostic)
    if not status or (own and _specific(own) > _specific(status)):
        return own
    return status


def reason_in(text: str) -> str:
    """The reason the words of `text` name, or ""."""
    text = " ".join((text or "").lower().split())
    return next((name for name, pattern in _TEXT if pattern.search(text)), "")


def stage(diagnostic: str, context: str = "") -> str:
    """ "RCPT" or "DATA" when the words say which SMTP step the refusal answered, else "".

    The recipient's own words decide first; the rest of the bounce only when it names one
    step alone (a transcript of several sessions may name both)."""
    for own, words in ((True, diagnostic), (False, context)):
        text = " ".join((words or "").split())
        after_data = bool(_AFTER_DATA.search(text))
        at_rcpt = bool(_AT_RCPT.search(text))
        if after_data != at_rcpt:
            return "DATA" if after_data else "RCPT"
        if after_data and own:
            return "DATA"  # both in its own words: the later step is the one it answered
    return ""


def vouched(writer: str, diagnostic: str) -> bool:
    """Whether the mail system `writer` names is one whose `diagnostic` words say, in its
    own way, that the address does not exist."""
    return any(
        sign.search(writer or "") and words.search(diagnostic or "") for sign, words in _SYSTEMS
    )


def judge(
    status: str,
    diagnostic: str,
    *,
    action: str = "",
    permanent: bool = True,
    context: str = "",
    alone: bool = False,
    writer: str = "",
    category: str = "",
) -> Verdict:
    """Whose problem the failure of one recipient is.

    `status` is the DSN's Status field ("" when there is none), `diagnostic` what the
    receiving server said (or the bounce's text about that recipient), `action` the DSN's
    Action, `permanent` False when the mail system called it a temporary failure, and
    `context` the rest of the bounce's words (which may say at which step it was refused;
    when the bounce is about this recipient `alone`, they are its words too). `writer` names
    the mail system that wrote the bounce (From, X-Mailer, X-NAI-Header lines and a
    "remote:" line for the receiving host); `category` is the sending mail system's own
    verdict (PowerMTA's bounce category), when it gives one.
    """
    action = action.lower()
    if action.startswith(("delayed", "relayed", "delivered", "expanded")):
        return Verdict(DELAYED, "delayed", code_in(status))
    code = best_code(status, diagnostic)
    words = reason_in(diagnostic)
    reply = _REPLY.search(diagnostic or "")
    klass = code[:1] or (reply.group(1) if reply else ("5" if permanent else "4"))
    reason = _CODES.get(code, "")
    if code in ("5.1.7", "5.1.8", "4.1.7", "4.1.8"):
        pass  # the sender's own address, whatever else the words say
    elif category.lower() in _CATEGORY:
        reason = _CATEGORY[category.lower()]
    elif words:
        # A code of a class only (5.0.0, 5.5.0), one mail systems use loosely (5.2.1 "User
        # unknown", 5.7.1 "Invalid recipient"), or words that contradict it ("550 5.1.1 …
        # blocked using Spamhaus", "552 5.1.1 over quota"): the words are more precise, and
        # when they do not name the address as gone, it is not certain that it is.
        reason = words
    elif not reason:
        reason = _CLASS_DEFAULT.get(code.split(".")[1], "undetermined") if code else "undetermined"
    if diagnostic.lower().startswith("x-unix;") and reason == "user unknown":
        # A local delivery program's own output (procmail, a mailbox script): its failure
        # is the recipient's system's, not an answer about the address.
        reason = "mailer error"
    explicit = code.startswith("5.1.") and SIDE.get(_CODES.get(code, ""), "") == HARD
    flat = " ".join((context or "").lower().split())
    # The prose of a bounce about one recipient is about that recipient.
    said = alone and (
        bool(_CERTAIN_PROSE.search(flat) and not _UNSURE_PROSE.search(flat))
        or vouched(writer, flat)
    )
    if said and reason in ("undetermined", "filtered by the recipient", "system error"):
        reason = "user unknown"  # its own words said nothing more precise
    certain = (
        explicit
        or category.lower() == "bad-mailbox"
        or bool(_CERTAIN.search(diagnostic))
        or said
        or vouched(writer, diagnostic)
    )
    at_rcpt = stage(diagnostic, context) == "RCPT"
    if reason == "user unknown" and not certain and not at_rcpt:
        # "Unknown user" without a 5.1.x code, said after the message was seen (DATA) or at
        # no step the bounce names: filters word their verdicts so too, so it is no proof
        # that the mailbox is gone. Said to RCPT TO, it is.
        reason = "filtered by the recipient"
    if reason == "user unknown" and any(
        sign.search(writer or "") and words.search(" ".join(diagnostic.split()))
        for sign, words in _RULES
    ):
        reason = "filtered by the recipient"
    if reason == "user unknown" and alone:
        # The bounce, about this recipient alone, also calls the mailbox full or disabled:
        # it does not prove it gone.
        reason = next((name for name, words in _CONTRADICTS if words.search(flat)), reason)
    side = SIDE[reason]
    if side == HARD and (klass != "5" or _TEMPORARY.search(diagnostic)):
        side = SOFT  # a 4xx, or "try again", is never final
    return Verdict(side, reason, code)

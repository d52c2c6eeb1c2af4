"""Which mail provider refused the practice's mail: the name the office knows it by.

Refusals are grouped per receiving provider ("Gmail refused 40 messages as spam-like"):
one provider's filter is one problem to fix, whatever the recipients' domains.
"""

from __future__ import annotations

# Host or domain endings → the provider's name, first match wins.
_KNOWN = (
    (("google.com", "gmail.com", "googlemail.com"), "Gmail"),
    (
        ("outlook.com", "hotmail.com", "live.com", "msn.com", "office365.com", "microsoft.com"),
        "Microsoft (Outlook, Hotmail, Office 365)",
    ),
    (("yahoo.com", "yahoodns.net", "aol.com", "ymail.com", "yahoo.co.jp"), "Yahoo and AOL"),
    (("icloud.com", "me.com", "mac.com", "apple.com"), "Apple iCloud"),
    (("comcast.net",), "Comcast"),
    (("att.net", "sbcglobal.net", "bellsouth.net"), "AT&T"),
    (("verizon.net",), "Verizon"),
    (("gmx.net", "gmx.com", "gmx.de", "web.de"), "GMX and WEB.DE"),
    (("mimecast.com",), "Mimecast"),
    (("pphosted.com",), "Proofpoint"),
    (("messagelabs.com",), "Symantec MessageLabs"),
)


def provider_name(remote: str, email: str) -> str:
    """The provider behind the receiving server `remote` (a host name, maybe empty), else
    behind the domain of `email`."""
    for candidate in (remote, email.rpartition("@")[2]):
        host = candidate.strip().strip("[]<>").lower().rstrip(".")
        if not host:
            continue
        for endings, name in _KNOWN:
            if any(host == e or host.endswith("." + e) for e in endings):
                return name
    domain = email.rpartition("@")[2].lower()
    return domain or remote or "an unnamed mail server"

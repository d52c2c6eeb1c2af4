"""Which column of a practice table holds what, by the names practice software gives them.

Headers are compared without case, spaces or punctuation, so `E-mail Address`, `EMAIL_ADDRESS`
and `Email Address:` are one name. Dentrix, Eaglesoft, Open Dental and office spreadsheets
decorate the same field many ways, so a header is also tried without a leading `Patient`/`Pt`,
without a trailing `(Y/N)`/`Flag`/`Yes/No`, and part by part when it names two things
(`Medical Alerts / Patient Notes`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chairside.errors import ChairsideError

# The fields Chairside uses, and the header names exports give them.
ALIASES: dict[str, tuple[str, ...]] = {
    "email": (
        "email",
        "emailaddress",
        "mail",
        "primaryemail",
        "emailaddr",
        "personalemail",
        "homeemail",
        "emailid",
    ),
    "preferred_name": (
        "preferredname",
        "preferred",
        "preferredfirstname",
        "nickname",
        "nick",
        "goesby",
        "knownas",
        "callname",
    ),
    "first_name": ("firstname", "fname", "first", "givenname", "forename", "firstnm"),
    "name": ("name", "fullname", "patientname", "patient"),
    "concerns": (
        "concerns",
        "concern",
        "conditions",
        "condition",
        "tags",
        "tag",
        "diagnosis",
        "diagnoses",
        "dx",
        "chiefcomplaint",
        "chiefcomplaints",
        "complaint",
        "complaints",
        "interests",
        "categories",
        "medicalalerts",
        "medicalalert",
        "medalerts",
        "alerts",
        "notes",
        "medicalnotes",
        "clinicalnotes",
        "medicalconditions",
        "healthconditions",
        "medicalhistory",
        "problems",
        "problemlist",
        "reasonforvisit",
    ),
    "consent": (
        "consent",
        "emailok",
        "oktoemail",
        "okemail",
        "allowemail",
        "allowemails",
        "emailallowed",
        "emailconsent",
        "consenttoemail",
        "emailoptin",
        "optin",
        "optedin",
        "marketingoptin",
        "marketingconsent",
        "emailmarketingconsent",
        "emailmarketingoptin",
        "newsletteroptin",
        "newsletter",
        "subscribed",
        "acceptsemail",
        "acceptsmarketing",
        "emailpermission",
        "receiveemail",
        "receiveemails",
        "sendemail",
        "mayemail",
    ),
    "opt_out": (
        "emailoptout",
        "optout",
        "optedout",
        "marketingoptout",
        "donotemail",
        "noemail",
        "noemails",
        "emaildeclined",
        "declinesemail",
        "unsubscribed",
        "dne",
        "donotcontact",
        "nocorrespondence",
        "donotsolicit",
    ),
    "reason": ("reason", "unsubreason", "unsubscribereason", "error", "type", "bouncetype"),
}
FIELDS = tuple(ALIASES)
MULTI = frozenset({"concerns"})
"""Fields whose every matching column is read (a patient's alerts and notes both count)."""
# What users may name in [patients.columns] (the rest are found by their aliases only).
SETTABLE = ("email", "first_name", "preferred_name", "name", "concerns", "consent", "opt_out")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_PREFIX = re.compile(r"^(?:patients?|pt|pat)(?=.)")
_SUFFIX = re.compile(r"(?:yn|yesno|tf|flag|ind|indicator|yesorno)$")
_PARTS = re.compile(r"\s*[/&+|]\s*|\s+and\s+", re.IGNORECASE)
_ALIAS_FIELD = {alias: field for field, aliases in ALIASES.items() for alias in aliases}


class ColumnsError(ChairsideError):
    """A column the user named is not in the file."""


def normalise_header(name: str) -> str:
    """`E-mail Address` → `emailaddress`: how headers are compared with the aliases."""
    return _NOT_ALNUM.sub("", name.strip().lower())


def field_of(header: str) -> str | None:
    """The field a header names, trying it whole, trimmed of decoration, then part by part."""
    for part in (header, *_PARTS.split(header)):
        key = normalise_header(part)
        trimmed = _SUFFIX.sub("", key)
        for candidate in (key, trimmed, _PREFIX.sub("", key), _PREFIX.sub("", trimmed)):
            field = _ALIAS_FIELD.get(candidate)
            if field == "email" and candidate != key and trimmed != key:
                return "consent"  # `Email (Y/N)` is a yes/no about email, not an address
            if field:
                return field
    return None


@dataclass(frozen=True)
class Columns:
    """Which column index holds each field (None when absent); `concerns` may be several."""

    headers: tuple[str, ...]
    index: dict[str, int]
    concerns: tuple[int, ...] = ()

    def get(self, field: str) -> int | None:
        return self.index.get(field)

    def listed(self) -> str:
        """The headers as the user sees them, for messages."""
        return ", ".join(repr(h) for h in self.headers if h.strip())


def names_email(headers: list[str], mapping: dict[str, str]) -> bool:
    """Whether a row of cells could be the header row: one of them names the email column."""
    if "email" in mapping:
        wanted = normalise_header(mapping["email"])
        return any(normalise_header(h) == wanted for h in headers)
    return any(h.strip() and field_of(h) == "email" for h in headers)


def find_columns(
    headers: list[str], mapping: dict[str, str], *, label: str, mapping_label: str
) -> Columns:
    """Match headers to fields: the explicit mapping first, then the aliases, left to right."""
    normalised = [normalise_header(h) for h in headers]
    index: dict[str, int] = {}
    concerns: list[int] = []
    for field, header in mapping.items():
        wanted = normalise_header(header)
        if wanted not in normalised:
            raise ColumnsError(
                f"{mapping_label}: [patients.columns] {field} = {header!r}, but {label} has no "
                f"such column. Its columns are: {', '.join(h for h in headers if h.strip())}."
            )
        index[field] = normalised.index(wanted)
        if field in MULTI:
            concerns.append(index[field])
    taken = set(index.values())
    for position, header in enumerate(headers):
        if position in taken or not header.strip():
            continue
        field = field_of(header)
        if field is None or (field in mapping):
            continue
        if field in MULTI:
            concerns.append(position)
            index.setdefault(field, position)
        elif field not in index:
            index[field] = position
    return Columns(tuple(headers), index, tuple(concerns))

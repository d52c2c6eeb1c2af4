"""What the doctor finds: one `Check` per line, ok / warning / problem, with the fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

OK, WARNING, PROBLEM = "ok", "warning", "problem"


@dataclass(frozen=True)
class Record:
    """A DNS record to publish, as a DNS host's page asks for it."""

    type: str
    name: str
    """The host as DNS pages ask for it: "@" for the domain itself, "_dmarc", "s1._domainkey"."""
    value: str
    domain: str
    """The domain it belongs under (the zone the practice edits)."""
    action: str = "add"
    """"add", or "change" (replace the record of this type and name that is there)."""

    @property
    def full_name(self) -> str:
        return self.domain if self.name == "@" else f"{self.name}.{self.domain}"


@dataclass(frozen=True)
class Check:
    area: str
    """"Domain", "Bulk rules", "Mail server", "Mailbox", "Providers", "Recent refusals",
    "Practice details"."""
    name: str
    status: str
    message: str
    fix: str = ""
    """What to do, in words (a record to publish goes in `records`)."""
    records: tuple[Record, ...] = ()
    stops_delivery: bool = False
    """A problem that gets the newsletter refused or junked (send and check warn of it)."""

    def to_json(self) -> dict:
        data = asdict(self)
        data["records"] = [{**asdict(r), "full_name": r.full_name} for r in self.records]
        return data


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    def add(self, check: Check) -> Check:
        self.checks.append(check)
        return check

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if c.status == PROBLEM]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status == WARNING]

    @property
    def blocking(self) -> list[Check]:
        return [c for c in self.problems if c.stops_delivery]

    def to_json(self) -> dict:
        return {
            "problems": len(self.problems),
            "warnings": len(self.warnings),
            "checks": [c.to_json() for c in self.checks],
        }


def ok(area: str, name: str, message: str) -> Check:
    return Check(area, name, OK, message)


def warning(area: str, name: str, message: str, fix: str = "", *records: Record) -> Check:
    return Check(area, name, WARNING, message, fix, tuple(records))


def problem(
    area: str, name: str, message: str, fix: str = "", *records: Record, stops: bool = False
) -> Check:
    return Check(area, name, PROBLEM, message, fix, tuple(records), stops_delivery=stops)

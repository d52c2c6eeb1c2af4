"""What every check module shares: a `Finding`, the `CheckContext` rules look at (each
variant as a patient gets it, a `VariantView`), and `@rule`, which registers a rule.

Rule modules import these from here, and `chairside.checks` imports the rule modules, so
imports run one way (the package re-exports these names for everyone else).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from functools import cached_property

from lxml import html as lxml_html

from chairside.audience.segments import Segment
from chairside.campaign import Campaign, Variant
from chairside.content import Article
from chairside.render.pipeline import Rendered
from chairside.workspace import Practice, Workspace

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Finding:
    """One problem: which rule, how bad, in which variant, where, and how to fix it."""

    rule: str
    severity: str
    variant: str
    """The segment id of the variant, or "campaign" for what all variants share."""
    where: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "variant": self.variant,
            "where": self.where,
            "message": self.message,
        }


@dataclass
class VariantView:
    """A variant as a patient would receive it."""

    variant: Variant
    rendered: Rendered
    html: str
    """Filled for `LONGEST_FIRST_NAME` (about the largest message a patient gets)."""
    text: str
    message: EmailMessage
    """A sample message, parsed back: its headers are what the providers see."""

    @property
    def segment(self) -> Segment:
        return self.variant.segment

    @property
    def name(self) -> str:
        return self.variant.segment.id

    @property
    def articles(self) -> tuple[Article, ...]:
        return self.variant.articles

    @cached_property
    def doc(self) -> lxml_html.HtmlElement:
        return lxml_html.document_fromstring(self.html)


@dataclass
class CheckContext:
    workspace: Workspace
    practice: Practice
    campaign: Campaign
    segments: tuple[Segment, ...]
    variants: list[VariantView]
    leaving_names: list[str] = field(default_factory=list)
    """Names that leave the machine: variant tags and exported file names."""


Rule = Callable[[CheckContext], Iterable[Finding]]
RULES: list[Rule] = []


def rule(function: Rule) -> Rule:
    """Register a rule; its findings name the rule ids it checks."""
    RULES.append(function)
    return function

"""The patient concerns a campaign has a variant for, from `audiences/segments.toml`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from chairside.audience.columnchoice import KEY as CHOICES_KEY
from chairside.audience.columnchoice import ColumnChoice, parse_choices
from chairside.audience.columns import SETTABLE
from chairside.tomlfile import Problems, get_str, get_str_list, line_of, load_toml

GENERAL = "general"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


def phrase_pattern(phrases: list[str] | tuple[str, ...]) -> re.Pattern[str] | None:
    """One case-insensitive regex matching any phrase as whole words.

    Spaces, hyphens and slashes between words are interchangeable ("trigger point" matches
    "trigger-point"), and the last word may end in -s, -es, -ing or -ed ("clench" matches
    "clenches" and "clenching"), so lists stay short.
    """
    parts = []
    for phrase in sorted(set(phrases), key=len, reverse=True):
        words = [re.escape(word) for word in re.split(r"[\s\-/]+", phrase.strip()) if word]
        if words:
            parts.append(r"[\s\-/]+".join(words) + r"(?:e?s|ing|ed)?")
    if not parts:
        return None
    return re.compile(r"(?<![\w])(?:" + "|".join(parts) + r")(?![\w])", re.IGNORECASE)


@dataclass(frozen=True)
class Segment:
    """A group of patients with one concern, and the words that recognise it.

    `patient_tags` match what the front desk typed in a patient's concerns;
    `keywords` are the practice's own words for the concern when tagging posts, beside the
    ones Chairside knows (`content.concernwords`); `ignore` are phrases that never count
    (a practice's "jaw surgery" page). The highest `priority` wins when a patient matches
    several segments.
    """

    id: str
    name: str
    priority: int
    patient_tags: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()

    @property
    def is_general(self) -> bool:
        return self.id == GENERAL


def load_segments(path: Path, *, label: str = "audiences/segments.toml") -> tuple[Segment, ...]:
    """The segments, highest priority first, `general` (everyone else) always last."""
    data = load_toml(path, label=label)
    problems = Problems(label)
    table = data.get("segments")
    if not isinstance(table, dict) or not table:
        problems.add('no segments: add sections like [segments.tmj] with name = "..."')
        problems.raise_if_any()
    segments: list[Segment] = []
    for seg_id, body in table.items():
        line = line_of(path, rf"^\s*\[segments\.{re.escape(seg_id)}\]")
        where = f"[segments.{seg_id}] "
        if not _ID.match(seg_id):
            problems.add(
                f"{where}the id must be lowercase letters, digits and _ (like neck_shoulder)",
                line=line,
            )
        if not isinstance(body, dict):
            problems.add(f"{where}must be a section with name, priority and keywords", line=line)
            continue
        priority = body.get("priority", 0)
        if not isinstance(priority, int) or isinstance(priority, bool):
            problems.add(f"{where}priority: must be a whole number", line=line)
            priority = 0
        segments.append(
            Segment(
                id=seg_id,
                name=get_str(body, "name", problems, where=where, default=seg_id),
                priority=priority,
                patient_tags=tuple(get_str_list(body, "patient_tags", problems, where=where)),
                keywords=tuple(get_str_list(body, "keywords", problems, where=where)),
                ignore=tuple(get_str_list(body, "ignore", problems, where=where)),
            )
        )
    problems.raise_if_any()
    if not any(segment.is_general for segment in segments):
        segments.append(Segment(GENERAL, "Everyone else", priority=0))
    segments.sort(key=lambda s: (s.is_general, -s.priority, s.id))
    return tuple(segments)


@dataclass(frozen=True)
class PatientSettings:
    """The `[patients]` section: how to read the practice's patient export."""

    require_consent: bool = True
    columns: dict[str, str] = field(default_factory=dict)
    """Field → the export's header for it, for exports whose names Chairside can't guess."""
    choices: tuple[ColumnChoice, ...] = ()
    """Column choices kept with the headers they were made for (audience/columnchoice.py)."""


def load_patient_settings(path: Path, *, label: str = "audiences/segments.toml") -> PatientSettings:
    data = load_toml(path, label=label)
    problems = Problems(label)
    table = data.get("patients", {})
    if not isinstance(table, dict):
        problems.add("[patients] must be a section")
        problems.raise_if_any()
    require = table.get("require_consent", True)
    if not isinstance(require, bool):
        problems.add(
            "[patients] require_consent: must be true or false",
            line=line_of(path, r"^\s*require_consent\s*="),
        )
        require = True
    columns = table.get("columns", {})
    if not isinstance(columns, dict):
        problems.add('[patients.columns] must be a section of field = "Column Name" lines')
        columns = {}
    for key, value in columns.items():
        line = line_of(path, rf"^\s*{re.escape(key)}\s*=")
        if key not in SETTABLE:
            problems.add(
                f"[patients.columns] {key}: unknown field; use one of {', '.join(SETTABLE)}",
                line=line,
            )
        elif not isinstance(value, str) or not value.strip():
            problems.add(f"[patients.columns] {key}: must be a column name in quotes", line=line)
    choices = parse_choices(
        table.get(CHOICES_KEY),
        problems,
        lambda key: line_of(path, rf"^\s*{re.escape(key)}\s*="),
    )
    problems.raise_if_any()
    return PatientSettings(require_consent=require, columns=dict(columns), choices=choices)

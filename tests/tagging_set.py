"""The labelled posts of tests/data/tagging: reading them, tagging them, measuring the tagger.

`train/` is the set the tagger was tuned on; `heldout/` was written at the same time and
never tuned against; `heldout2/` to `heldout5/` were written later, each measured once
before anything was changed for it (its labels.toml says what it first measured). Each
folder has the posts and a labels.toml: file = [concerns], where [] is a general post.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from chairside.audience.segments import Segment, load_segments
from chairside.content import read_post
from chairside.content.topics import Tagging, explain

SETS = Path(__file__).parent / "data" / "tagging"
DEFAULT_SEGMENTS = Path(__file__).parent.parent / "src" / "chairside" / "scaffold" / "segments.toml"


@dataclass
class Measure:
    concerns: tuple[str, ...]
    true_pos: dict[str, int] = field(default_factory=dict)
    false_pos: dict[str, list[str]] = field(default_factory=dict)
    false_neg: dict[str, list[str]] = field(default_factory=dict)
    general: int = 0
    general_right: int = 0
    results: dict[str, tuple[tuple[str, ...], Tagging]] = field(default_factory=dict)

    def precision(self, concern: str) -> float:
        right, wrong = self.true_pos.get(concern, 0), len(self.false_pos.get(concern, []))
        return right / (right + wrong) if right + wrong else 1.0

    def recall(self, concern: str) -> float:
        right, missed = self.true_pos.get(concern, 0), len(self.false_neg.get(concern, []))
        return right / (right + missed) if right + missed else 1.0


def labels(folder: Path) -> dict[str, tuple[str, ...]]:
    data = tomllib.loads((folder / "labels.toml").read_text(encoding="utf-8"))
    return {name: tuple(tags) for name, tags in data.items()}


def measure(folder: Path, segments: tuple[Segment, ...] | None = None) -> Measure:
    """Tag every labelled post of `folder` with `segments` (the default segments.toml)."""
    segments = segments or load_segments(DEFAULT_SEGMENTS)
    concerns = tuple(s.id for s in segments if not s.is_general)
    result = Measure(concerns)
    for name, expected in sorted(labels(folder).items()):
        tagging = explain(read_post(folder / name), segments)
        result.results[name] = (expected, tagging)
        if not expected:
            result.general += 1
            result.general_right += not tagging.tags
        for concern in concerns:
            want, got = concern in expected, concern in tagging.tags
            if want and got:
                result.true_pos[concern] = result.true_pos.get(concern, 0) + 1
            elif got:
                result.false_pos.setdefault(concern, []).append(name)
            elif want:
                result.false_neg.setdefault(concern, []).append(name)
    return result

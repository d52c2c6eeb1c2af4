"""Column choices kept with the headers they were made for.

A practice's export sometimes names its columns so that Chairside cannot tell which is
which ("Reach At" for the address). The office says so once, and the choice is kept in
audiences/segments.toml with the header row it was made for:

    [[patients.column_choices]]
    headers = ["Reach At", "Given", "Surname", "Health Issues", "OK to email"]
    email = "Reach At"
    consent = "OK to email"

A file with those headers is read with that choice; a file with other headers (next
month's export from new software, a cleaned-up list) is recognised by its column names as
if no choice had been made, instead of being refused for a column it does not have.
`[patients.columns]` (one choice for every file) still applies where no kept choice fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chairside.audience.columns import SETTABLE, normalise_header
from chairside.errors import ChairsideError
from chairside.fsutil import write_text_atomic

KEY = "column_choices"


@dataclass(frozen=True)
class ColumnChoice:
    headers: tuple[str, ...]
    """The header row the choice was made for, as the file had it."""
    columns: dict[str, str] = field(default_factory=dict)
    """Field → header."""

    def fits(self, headers: list[str] | tuple[str, ...]) -> bool:
        return _key(headers) == _key(self.headers)


def _key(headers) -> tuple[str, ...]:
    return tuple(normalise_header(h) for h in headers if h.strip())


def parse_choices(value: object, problems, line_of) -> tuple[ColumnChoice, ...]:
    """`[[patients.column_choices]]`, each problem added to `problems` (Problems)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problems.add(f"[[patients.{KEY}]] must be sections with headers = [...] and fields")
        return ()
    found = []
    for number, body in enumerate(value, start=1):
        where = f"[[patients.{KEY}]] number {number}"
        headers = body.get("headers")
        if not isinstance(headers, list) or not all(isinstance(h, str) for h in headers):
            problems.add(f"{where}: headers must be a list of column names in quotes")
            continue
        columns = {k: v for k, v in body.items() if k != "headers"}
        bad = [k for k, v in columns.items() if k not in SETTABLE or not isinstance(v, str)]
        if bad:
            problems.add(
                f"{where}: {bad[0]}: unknown field or not a column name; use one of "
                f"{', '.join(SETTABLE)}",
                line=line_of(bad[0]),
            )
            continue
        found.append(ColumnChoice(tuple(headers), columns))
    return tuple(found)


def columns_for(path: Path, settings) -> dict[str, str]:
    """The column choice for `path`: the kept one made for its own headers, else
    `[patients.columns]`, else none (every column recognised by its name)."""
    from chairside.audience.table import table_headers

    for choice in settings.choices:
        try:
            headers = table_headers(path, mapping=choice.columns)
        except ChairsideError:
            break  # missing or unreadable: the reader says so in its own words
        if choice.fits(headers):
            return dict(choice.columns)
    return dict(settings.columns)


def _edit(segments_file: Path, change) -> None:
    """Rewrite the kept choices as `change(kept)` says, keeping the file's comments; a
    result that does not read back is not kept."""
    import tomlkit

    from chairside.tomlfile import Problems

    label = "audiences/segments.toml"
    before = segments_file.read_text(encoding="utf-8-sig")
    doc = tomlkit.parse(before)
    patients = doc.get("patients")
    if patients is None:
        patients = tomlkit.table()
        doc.append("patients", patients)
    problems = Problems(label)
    kept = list(parse_choices(patients.unwrap().get(KEY), problems, lambda key: None))
    problems.raise_if_any()
    kept = change(kept)
    if KEY in patients:
        del patients[KEY]
    if kept:
        array = tomlkit.aot()
        for choice in kept:
            table = tomlkit.table()
            table["headers"] = list(choice.headers)
            for key in SETTABLE:
                if choice.columns.get(key):
                    table[key] = choice.columns[key]
            array.append(table)
        patients[KEY] = array
    text = tomlkit.dumps(doc)
    problems = Problems(label)
    parse_choices(tomlkit.parse(text)["patients"].unwrap().get(KEY), problems, lambda key: None)
    problems.raise_if_any()  # what every reader will read back
    write_text_atomic(segments_file, text)


def remember_columns(segments_file: Path, headers: list[str], columns: dict[str, str]) -> None:
    """Keep `columns` for files whose header row is `headers` (replacing an earlier choice
    for the same headers); an empty choice forgets it."""
    chosen = {k: v for k, v in columns.items() if k in SETTABLE and v}

    def change(kept: list[ColumnChoice]) -> list[ColumnChoice]:
        kept = [c for c in kept if not c.fits(headers)]
        return kept + [ColumnChoice(tuple(h for h in headers if h.strip()), chosen)] * bool(chosen)

    _edit(segments_file, change)


def forget_columns(segments_file: Path, headers: list[str]) -> None:
    """Forget the choice made for `headers`: such files are read by their column names."""
    _edit(segments_file, lambda kept: [c for c in kept if not c.fits(headers)])

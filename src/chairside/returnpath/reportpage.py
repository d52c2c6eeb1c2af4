"""`build/NAME/report.html`: the campaign's results as a page a dentist would rather look at.

Charts are drawn with matplotlib (the Agg backend: no display needed) as SVG, inlined in
the page with text as paths, so the page needs no font, script or file from anywhere:
it opens the same offline, from a USB stick or as an email attachment. Every chart has
its numbers beside it in a table, for screen readers and for printing.
"""

from __future__ import annotations

import io
from pathlib import Path

from jinja2 import Environment

from chairside.fsutil import write_text_atomic
from chairside.returnpath.report import CampaignReport, Row

BLUE, RED, AMBER, GREY, GREEN = "#0B5D6B", "#B3261E", "#B26A00", "#6B7280", "#2E7D32"

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ report.campaign }}: how it went</title>
<style>
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2933;
       margin: 0 auto; max-width: 920px; padding: 24px; }
h1 { font-size: 28px; margin-bottom: 4px; } h2 { font-size: 20px; margin-top: 32px; }
.sub { color: #52606d; margin-top: 0; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; }
.tile { border: 1px solid #d9e2ec; border-radius: 8px; padding: 12px 16px; }
.tile b { display: block; font-size: 28px; } .tile span { color: #52606d; }
figure { margin: 16px 0; } figure svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; margin-top: 8px; }
th, td { text-align: right; padding: 6px 8px; border-bottom: 1px solid #e4e7eb; }
th:first-child, td:first-child { text-align: left; }
.note { color: #52606d; font-size: 14px; }
</style>
</head>
<body>
<h1>{{ report.campaign }}: how it went</h1>
<p class="sub">Sent through {{ report.routes | join(", ") }}{% if report.first_sent %},
from {{ report.first_sent[:10] }}{% endif %}.</p>
<div class="tiles">
{% for label, value in tiles %}<div class="tile"><b>{{ value }}</b><span>{{ label }}</span></div>
{% endfor %}</div>
<h2>Each version</h2>
<figure aria-label="Sent, bounced, unsubscribed and complaints for each version">
{{ charts.versions | safe }}
<figcaption class="note">Bounces, unsubscribes and complaints per version.</figcaption>
</figure>
<table>
<tr><th>version</th><th>sent</th><th>failed</th><th>bounced</th><th>soft bounces</th>
<th>unsubscribed</th><th>complaints</th><th>opened</th><th>clicked</th></tr>
{% for row in rows %}<tr><td>{{ row.id }}{% if row.label %} ({{ row.label }}){% endif %}</td>
<td>{{ row.sent }}</td><td>{{ row.failed }}</td><td>{{ row.bounced }}</td>
<td>{{ row.soft_bounced }}</td><td>{{ row.unsubscribed }}</td><td>{{ row.complaints }}</td>
<td>{{ percent(row.rate(row.opens)) }}</td><td>{{ percent(row.rate(row.clicks)) }}</td></tr>
{% endfor %}</table>
{% if charts.engagement %}
<h2>Opened and clicked</h2>
<figure aria-label="Share of patients who opened and clicked, per version">
{{ charts.engagement | safe }}
</figure>
{% endif %}
{% if report.links %}
<h2>Most clicked</h2>
<figure aria-label="The most clicked articles">{{ charts.links | safe }}</figure>
<table><tr><th>article</th><th>clicks</th></tr>
{% for link in report.links %}<tr><td>{{ link.title }}</td><td>{{ link.clicks }}</td></tr>
{% endfor %}</table>
{% endif %}
{% for note in report.notes %}<p class="note">{{ note }}</p>{% endfor %}
<p class="note">Opens are estimates: many mail programs load images without a person
reading, and some never load them. Made by Chairside; no patient is named on this page.</p>
</body>
</html>
"""


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _svg(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    # No metadata: it would carry a date (the page would change on every run) and a URL.
    metadata = {"Creator": None, "Date": None, "Format": None, "Type": None}
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata=metadata)
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: inline SVG


def _charts(report: CampaignReport) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": "chairside", "font.size": 11})
    rows = report.versions
    names = [r.id for r in rows]
    charts: dict[str, str] = {}
    figure, axes = plt.subplots(figsize=(8, 0.6 * len(rows) + 1.6))
    series = [
        ("bounced", [r.bounced + r.soft_bounced for r in rows], AMBER),
        ("unsubscribed", [r.unsubscribed for r in rows], BLUE),
        ("complaints", [r.complaints for r in rows], RED),
    ]
    height = 0.8 / len(series)
    for index, (label, values, colour) in enumerate(series):
        positions = [n + index * height for n in range(len(rows))]
        bars = axes.barh(positions, values, height=height, color=colour, label=label)
        axes.bar_label(bars, padding=3)
    axes.set_yticks([n + height for n in range(len(rows))], names)
    axes.invert_yaxis()
    axes.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=3, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_xlabel("patients")
    charts["versions"] = _svg(figure)
    if any(r.opens is not None for r in rows):
        figure, axes = plt.subplots(figsize=(8, 0.6 * len(rows) + 1.6))
        opened = [100 * (r.rate(r.opens) or 0) for r in rows]
        clicked = [100 * (r.rate(r.clicks) or 0) for r in rows]
        positions = list(range(len(rows)))
        bars = axes.barh([p - 0.2 for p in positions], opened, 0.4, color=GREEN, label="opened")
        axes.bar_label(bars, fmt="%.0f%%", padding=3)
        bars = axes.barh([p + 0.2 for p in positions], clicked, 0.4, color=BLUE, label="clicked")
        axes.bar_label(bars, fmt="%.0f%%", padding=3)
        axes.set_yticks(positions, names)
        axes.invert_yaxis()
        axes.set_xlim(0, 100)
        axes.set_xlabel("% of patients sent")
        axes.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=3, frameon=False)
        axes.spines[["top", "right"]].set_visible(False)
        charts["engagement"] = _svg(figure)
    if report.links:
        figure, axes = plt.subplots(figsize=(8, 0.45 * len(report.links) + 1))
        titles = [
            link.title if len(link.title) < 60 else link.title[:57] + "…" for link in report.links
        ]
        bars = axes.barh(titles, [link.clicks for link in report.links], color=BLUE)
        axes.bar_label(bars, padding=3)
        axes.invert_yaxis()
        axes.spines[["top", "right"]].set_visible(False)
        axes.set_xlabel("clicks")
        charts["links"] = _svg(figure)
    return charts


def write_page(report: CampaignReport, path: Path) -> None:
    """Write the page atomically."""
    overall = report.overall
    tiles = [
        ("sent", overall.sent),
        (
            f"bounced ({overall.soft_bounced} temporarily)" if overall.soft_bounced else "bounced",
            overall.bounced + overall.soft_bounced,
        ),
        ("unsubscribed", overall.unsubscribed),
        ("spam complaints", overall.complaints),
    ]
    if overall.opens is not None:
        tiles += [
            ("opened", _percent(overall.rate(overall.opens))),
            ("clicked", _percent(overall.rate(overall.clicks))),
        ]
    rows: list[Row] = [*report.versions, overall]
    template = Environment(autoescape=True).from_string(PAGE)
    html = template.render(
        report=report, tiles=tiles, rows=rows, charts=_charts(report), percent=_percent
    )
    write_text_atomic(path, html)

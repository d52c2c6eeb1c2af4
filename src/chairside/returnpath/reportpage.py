"""`build/NAME/report.html`: the campaign's results as a page a dentist would rather look at,
and the same figures and charts for the studio's Report page (`body`).

Charts are drawn with matplotlib (the Agg backend: no display needed) as SVG, inlined in
the page with text as paths, so the page needs no font, script or file from anywhere:
it opens the same offline, from a USB stick or as an email attachment. Every chart has
its numbers beside it in a table, for screen readers and for printing. A chart with
nothing to draw is not drawn: a sentence says nothing was recorded yet.
"""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

from jinja2 import Environment

from chairside.fsutil import write_text_atomic
from chairside.returnpath.report import REPORT_JSON, CampaignReport, Row

BLUE, RED, AMBER, GREY, GREEN = "#0B5D6B", "#B3261E", "#B26A00", "#6B7280", "#2E7D32"

STYLE = """
.report { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2933; }
.report h1 { font-size: 28px; margin-bottom: 4px; }
.report h2 { font-size: 20px; margin-top: 32px; }
.report .sub { color: #52606d; margin-top: 0; }
.report .tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr));
  gap: 12px; }
.report .tile { border: 1px solid #d9e2ec; border-radius: 8px; padding: 12px 16px; }
.report .tile b { display: block; font-size: 28px; } .report .tile span { color: #52606d; }
.report figure { margin: 16px 0; } .report figure svg { max-width: 100%; height: auto; }
.report .scroll { overflow-x: auto; }
.report table { border-collapse: collapse; width: 100%; margin-top: 8px; }
.report th, .report td { text-align: right; padding: 6px 8px; border-bottom: 1px solid #e4e7eb; }
.report th:first-child, .report td:first-child { text-align: left; }
.report .current td { font-weight: 600; }
.report .note, .report .empty { color: #52606d; font-size: 14px; }
"""

BODY = """<div class="report">
<h1>{{ report.campaign }}: how it went</h1>
<p class="sub">Sent through {{ routes }}{% if report.first_sent %},
from {{ day(report.first_sent) }}{% endif %}.</p>
<div class="tiles">
{% for label, value in tiles %}<div class="tile"><b>{{ value }}</b><span>{{ label }}</span></div>
{% endfor %}</div>

<h2>Each version</h2>
<p class="note">A version is the email the patients of one concern get{% if not shown %};
each is named by its code here{% endif %}.</p>
{% if charts.versions %}
<figure aria-label="Bounced, unsubscribed and complaints for each version">
{{ charts.versions | safe }}
</figure>
{% else %}<p class="empty">No bounces, unsubscribes or complaints recorded yet.</p>{% endif %}
<div class="scroll" tabindex="0" role="region" aria-label="Each version's figures"><table>
<tr><th>version</th><th>sent</th><th>delivered</th><th>failed</th><th>bounced</th>
<th>soft bounces</th><th>unsubscribed</th><th>complaints</th><th>opened</th><th>clicked</th></tr>
{% for row in rows %}<tr><td>{{ row.id }}{% if row.label %} ({{ row.label }}){% endif %}</td>
<td>{{ row.sent }}</td><td>{{ row.delivered }} ({{ percent(row.rate(row.delivered)) }})</td>
<td>{{ row.failed }}</td><td>{{ row.bounced }}</td>
<td>{{ row.soft_bounced }}</td><td>{{ row.unsubscribed }}</td><td>{{ row.complaints }}</td>
<td>{{ percent(row.rate(row.opens)) }}</td><td>{{ percent(row.rate(row.clicks)) }}</td></tr>
{% endfor %}</table></div>

<h2>Opened and clicked</h2>
{% if charts.engagement %}
<figure aria-label="Share of patients who opened and clicked, per version">
{{ charts.engagement | safe }}
</figure>
{% endif %}
{% if charts.days %}
<figure aria-label="Opens and clicks by day">
{{ charts.days | safe }}
</figure>
<div class="scroll" tabindex="0" role="region" aria-label="Opens and clicks by day">
<table><tr><th>day</th><th>opens</th><th>clicks</th></tr>
{% for d in report.days %}
<tr><td>{{ day(d.date) }}</td><td>{{ d.opens }}</td><td>{{ d.clicks }}</td></tr>
{% endfor %}</table></div>
<p class="note">Every open and click of the day is counted here, so a patient who opens
the email twice counts twice; the rates above count each patient once.</p>
{% endif %}
{% if not charts.engagement and not charts.days %}
<p class="empty">No opens or clicks recorded yet.{% if smtp_only %} Mail sent from the
practice's own mail server is not tracked, so none will be.{% endif %}</p>
{% endif %}

{% if report.links %}
<h2>Most clicked</h2>
<figure aria-label="The most clicked articles">{{ charts.links | safe }}</figure>
<table><tr><th>article</th><th>clicks</th></tr>
{% for link in report.links %}<tr><td>{{ link.title }}</td><td>{{ link.clicks }}</td></tr>
{% endfor %}</table>
{% endif %}

{% if report.history | length > 1 %}
<h2>Beside earlier campaigns</h2>
{% if charts.history %}
<figure aria-label="Delivered, unsubscribed and opened for each campaign">
{{ charts.history | safe }}
</figure>
{% endif %}
<div class="scroll" tabindex="0" role="region" aria-label="Each campaign's figures"><table>
<tr><th>campaign</th><th>first sent</th><th>sent</th><th>delivered</th><th>bounced</th>
<th>unsubscribed</th><th>complaints</th><th>opened</th><th>clicked</th></tr>
{% for e in report.history %}<tr{% if e.current %} class="current"{% endif %}>
<td>{{ e.campaign }}{% if e.current %} (this one){% endif %}</td><td>{{ day(e.first_sent) }}</td>
<td>{{ e.row.sent }}</td><td>{{ percent(e.row.rate(e.row.delivered)) }}</td>
<td>{{ percent(e.row.rate(e.row.bounced + e.row.soft_bounced)) }}</td>
<td>{{ percent(e.row.rate(e.row.unsubscribed)) }}</td>
<td>{{ percent(e.row.rate(e.row.complaints)) }}</td>
<td>{{ percent(e.row.rate(e.row.opens)) }}</td><td>{{ percent(e.row.rate(e.row.clicks)) }}</td></tr>
{% endfor %}</table></div>
<p class="note">Opens and clicks of an earlier campaign are as its own report last found
them; – where none was made.</p>
{% endif %}

{% for note in report.notes %}<p class="note">{{ note }}</p>{% endfor %}
{% for provider, why in report.unanswered.items() %}<p class="note unanswered">
{% if for_studio %}{{ title(provider) }} gave no opens or clicks just now: check its key on the
<a href="/settings">Settings</a> page, then reload this page.
{% else %}{{ title(provider) }} gave no opens or clicks: {{ why }}{% endif %}</p>
{% endfor %}
<p class="note">Opens are estimates: many mail programs load images without a person
reading, and some never load them. No patient is named here.</p>
</div>
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ campaign }}: how it went</title>
<style>
body { margin: 0 auto; max-width: 920px; padding: 24px; }
{{ style | safe }}
</style>
</head>
<body>
{{ body | safe }}
<p class="note" style="font: 14px system-ui, sans-serif; color: #52606d">Made by Chairside.</p>
</body>
</html>
"""


def day(value: str) -> str:
    """An ISO date (or time) as people write it: 5 January 2027."""
    try:
        moment = date.fromisoformat(value[:10])
    except ValueError:
        return value
    return f"{moment.day} {moment:%B} {moment.year}"


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


def _tidy(axes) -> None:
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=3, frameon=False)


def _grouped(axes, names: list[str], series: list[tuple[str, list, str]], fmt: str):
    """Horizontal bars, one group per name, one bar per series; a value of None (not
    known) draws no bar and a 0 no label, so neither reads as a measured 0."""
    height = 0.8 / len(series)
    for index, (label, values, colour) in enumerate(series):
        positions = [n + index * height for n in range(len(names))]
        drawn = [value or 0 for value in values]
        bars = axes.barh(positions, drawn, height=height, color=colour, label=label)
        axes.bar_label(bars, labels=[fmt % v if v else "" for v in values], padding=3)
    axes.set_yticks([n + height * (len(series) - 1) / 2 for n in range(len(names))], names)
    axes.invert_yaxis()


def _share(row: Row, count: int | None) -> float | None:
    rate = row.rate(count)
    return None if rate is None else 100 * rate


def _charts(report: CampaignReport) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": "chairside", "font.size": 11})
    rows = report.versions
    names = [r.id for r in rows]
    charts: dict[str, str] = {}
    series = [
        ("bounced", [r.bounced + r.soft_bounced for r in rows], AMBER),
        ("unsubscribed", [r.unsubscribed for r in rows], BLUE),
        ("complaints", [r.complaints for r in rows], RED),
    ]
    if any(any(values) for _label, values, _colour in series):
        figure, axes = plt.subplots(figsize=(8, 0.6 * len(rows) + 1.6))
        _grouped(axes, names, series, "%d")
        axes.set_xlabel("patients")
        axes.xaxis.get_major_locator().set_params(integer=True)
        _tidy(axes)
        charts["versions"] = _svg(figure)
    if any(r.opens or r.clicks for r in rows):
        figure, axes = plt.subplots(figsize=(8, 0.6 * len(rows) + 1.6))
        opened = [_share(r, r.opens) for r in rows]
        clicked = [_share(r, r.clicks) for r in rows]
        _grouped(axes, names, [("opened", opened, GREEN), ("clicked", clicked, BLUE)], "%.0f%%")
        axes.set_xlim(0, 100)
        axes.set_xlabel("% of patients sent")
        _tidy(axes)
        charts["engagement"] = _svg(figure)
    if report.days:
        figure, axes = plt.subplots(figsize=(8, 3.2))
        labels = [day(d.date).rsplit(" ", 1)[0] for d in report.days]
        positions = list(range(len(report.days)))
        axes.bar([p - 0.2 for p in positions], [d.opens for d in report.days], 0.4,
                 color=GREEN, label="opens")  # fmt: skip
        axes.bar([p + 0.2 for p in positions], [d.clicks for d in report.days], 0.4,
                 color=BLUE, label="clicks")  # fmt: skip
        step = max(1, len(labels) // 10)
        axes.set_xticks(positions[::step], labels[::step])
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.set_ylabel("per day")
        _tidy(axes)
        charts["days"] = _svg(figure)
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
    history = report.history[-12:]
    if len(history) > 1:
        figure, axes = plt.subplots(figsize=(8, 0.7 * len(history) + 1.6))
        series = [
            ("delivered", [_share(e.row, e.row.delivered) for e in history], GREEN),
            ("unsubscribed", [_share(e.row, e.row.unsubscribed) for e in history], BLUE),
            ("opened", [_share(e.row, e.row.opens) for e in history], AMBER),
        ]
        names = [f"{e.campaign} (this one)" if e.current else e.campaign for e in history]
        _grouped(axes, names, series, "%.1f%%")
        axes.set_xlim(0, 110)
        axes.set_xlabel("% of patients sent")
        _tidy(axes)
        charts["history"] = _svg(figure)
    return charts


def title(provider: str) -> str:
    """A route as people name it: SendGrid, Mailgun, the practice's mail server."""
    names = {"smtp": "the practice's mail server", "sendgrid": "SendGrid"}
    return names.get(provider, provider.capitalize())


def body(report: CampaignReport, *, shown: bool = False, for_studio: bool = False) -> str:
    """The report's figures, tables and charts as an HTML fragment (with its own scoped
    style in `STYLE`): the page's body, and what the studio's Report page shows."""
    overall = report.overall
    bounced = overall.bounced + overall.soft_bounced
    tiles = [
        ("sent", overall.sent),
        (f"delivered ({_percent(overall.rate(overall.delivered))})", overall.delivered),
        (
            f"bounced ({overall.soft_bounced} temporarily)" if overall.soft_bounced else "bounced",
            bounced,
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
    routes = ", ".join(title(r) for r in report.routes)
    template = Environment(autoescape=True).from_string(BODY)
    return template.render(
        report=report,
        tiles=tiles,
        rows=rows,
        charts=_charts(report),
        percent=_percent,
        day=day,
        routes=routes,
        shown=shown,
        smtp_only=report.routes == ["smtp"],
        for_studio=for_studio,
        title=title,
    )


def write_page(report: CampaignReport, path: Path, *, shown: bool = False) -> None:
    """Write the page, and beside it the figures as JSON (what a later report compares
    with), each atomically."""
    template = Environment(autoescape=True).from_string(PAGE)
    html = template.render(campaign=report.campaign, style=STYLE, body=body(report, shown=shown))
    write_text_atomic(path, html)
    write_text_atomic(path.with_name(REPORT_JSON), json.dumps(report.as_dict(), indent=2))

"""The two passes of `render.pace`: a lead post cut at a paragraph boundary, and MJML's
zero font size taken off single-column sections only; and the order a version leads with."""

from __future__ import annotations

import re

from mjml import mjml2html

from chairside.render.pace import cut_at_paragraph, drop_zero_font, fragment_cost

WORDS_30 = " ".join(["word"] * 30)


def test_a_long_post_is_cut_after_whole_paragraphs_never_on_a_heading_or_a_lead_in():
    body = (
        f"<p>{WORDS_30}</p><p>{WORDS_30}</p><h3>Next part</h3>"
        f"<p>Here is what helps:</p><ul><li>{WORDS_30}</li></ul><p>{WORDS_30}</p>"
    )
    cut = cut_at_paragraph(body, 100)
    assert cut == f"<p>{WORDS_30}</p><p>{WORDS_30}</p>"  # not the heading, not "…helps:"
    assert fragment_cost(cut) <= 100
    # A first paragraph longer than the budget is kept whole: something always shows.
    assert cut_at_paragraph(f"<p>{WORDS_30}</p><p>x</p>", 10) == f"<p>{WORDS_30}</p>"


def test_zero_font_goes_from_single_column_sections_only():
    html = mjml2html(
        "<mjml><mj-body>"
        "<mj-section><mj-column><mj-text>One</mj-text></mj-column></mj-section>"
        "<mj-section><mj-column><mj-text>A</mj-text></mj-column>"
        "<mj-column><mj-text>B</mj-text></mj-column></mj-section>"
        "</mj-body></mjml>"
    )
    assert html.count("font-size:0px") > 6
    single, double = drop_zero_font(html).split('<td style="direction:ltr;', 2)[1:]
    assert "font-size:0px" not in re.sub(r"<!--.*?-->", "", single, flags=re.DOTALL)
    # Side-by-side columns keep it: it removes the gap inline-block columns leave.
    assert double.count("font-size:0px") >= 3
    # Outlook's conditional tables are left exactly as MJML wrote them.
    assert "<!--[if mso | IE]><table" in drop_zero_font(html)


def test_the_general_version_leads_with_office_news_or_the_broadest_post(tmp_workspace):
    from chairside.audience.segments import load_segments
    from chairside.campaign import load_campaign
    from chairside.workspace import Workspace

    workspace = Workspace(tmp_workspace)
    segments = load_segments(workspace.segments_file)
    campaign = load_campaign(workspace, "2026-12", segments)
    general = campaign.variants[-1]
    assert not general.articles[0].tags  # office news first
    toml = tmp_workspace / "campaigns/2026-12/campaign.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(
        text.replace(
            'file = "holiday-hours.md"\ntags = []', 'file = "holiday-hours.md"\ntags = ["tmj"]'
        )
    )
    general = load_campaign(workspace, "2026-12", segments).variants[-1]
    # No office news: the post for the most concerns leads, not one for a single concern.
    assert set(general.articles[0].tags) == {"tmj", "neck_shoulder"}
    for variant in campaign.variants[:-1]:  # each concern's version leads with its own post
        assert variant.segment.id in variant.articles[0].tags


def test_a_table_costs_its_rows_and_cells_not_only_its_words():
    from chairside.render.pace import BLOCK_WORDS, CELL_WORDS

    table = "<table>" + "<tr><td> a </td><td> b </td><td> c </td></tr>" * 5 + "</table>"
    # On a phone each row of narrow cells takes lines: 15 words cost as much as ~200.
    assert fragment_cost(table) == 15 + BLOCK_WORDS * (1 + 5) + CELL_WORDS * 15
    assert cut_at_paragraph(f"<p>{WORDS_30}</p>{table}<p>{WORDS_30}</p>", 150) == (
        f"<p>{WORDS_30}</p>"
    )

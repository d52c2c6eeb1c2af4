from chairside import placeholders as ph
from chairside.render.colors import contrast_ratio, readable_on_white, text_on
from chairside.render.links import prepare_body, with_utm


def values(name: str, url: str = "https://p.example.com/u?token={token}") -> dict[str, str]:
    recipient = ph.Recipient(first_name=name, unsubscribe_token="tok en/1")
    return ph.values_for(
        recipient,
        fallback_name="there",
        unsubscribe_url=url,
        unsubscribe_email="unsub@p.example.com",
    )


def test_a_name_is_data_in_html_never_markup_or_template_code():
    page = f'<p>Hi {ph.FIRST_NAME},</p><a href="{ph.UNSUBSCRIBE_URL}">Unsubscribe</a>'
    filled = ph.fill_html(page, values("<script>alert(1)</script> {{ 7*7 }}"))
    assert "<script>" not in filled
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in filled
    assert 'href="https://p.example.com/u?token=tok%20en%2F1"' in filled


def test_text_fill_keeps_the_name_as_typed_but_never_a_line_break():
    filled = ph.fill_text(f"Hi {ph.FIRST_NAME},", values("Ana\r\nBcc: x@example.com"))
    assert filled == "Hi Ana Bcc: x@example.com,"


def test_blank_name_falls_back_and_no_url_means_mailto():
    got = values("  ", url="")
    assert got[ph.FIRST_NAME] == "there"
    assert (
        got[ph.UNSUBSCRIBE_URL] == "mailto:unsub@p.example.com?subject=unsubscribe%20tok%20en%2F1"
    )


def test_unknown_tokens_are_left_for_the_checks_to_find():
    text = "CHAIRSIDE__FIRST_NAME__ and CHAIRSIDE__NOPE__"
    filled = ph.fill_text(text, values("Ana"))
    assert ph.leftover_tokens(filled) == ["CHAIRSIDE__NOPE__"]


def test_utm_added_to_web_links_only_and_existing_values_kept():
    assert with_utm("https://a.example.com/x?y=1", "2026-12") == (
        "https://a.example.com/x?y=1&utm_source=newsletter&utm_medium=email&utm_campaign=2026-12"
    )
    assert "utm_source=blog" in with_utm("https://a.example.com/?utm_source=blog", "c")
    assert with_utm("mailto:a@example.com", "c") == "mailto:a@example.com"
    html = prepare_body(
        '<p>See <a href="https://a.example.com/">this</a> or <a href="tel:+15550100">call</a>.</p>',
        "2026-12",
    )
    assert 'href="https://a.example.com/?utm_source=newsletter&amp;utm_medium=email' in html
    assert 'href="tel:+15550100"' in html


def test_contrast_follows_wcag_and_picks_readable_colours():
    assert round(contrast_ratio("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast_ratio("#777777", "#ffffff"), 2) == 4.48
    assert text_on("#0B5D6B") == "#ffffff"
    assert text_on("#F5D76E") != "#ffffff"
    assert readable_on_white("#F5D76E") == "#0B5D6B"
    assert readable_on_white("#0B5D6B") == "#0B5D6B"


def test_images_wider_than_the_column_are_narrowed():
    html = prepare_body(
        '<p><img src="https://a.example.com/big.jpg" width="800" height="600" alt="">'
        '<img src="https://a.example.com/small.jpg" width="200" alt=""></p>',
        "2026-12",
    )
    assert '<img src="https://a.example.com/big.jpg" width="544" alt="">' in html
    assert 'width="200"' in html

from chairside.render.text import html_to_text


def test_headings_lists_and_links_read_well_as_plain_text():
    text = html_to_text(
        "<h3>How it works</h3>"
        '<p>Read <a href="https://x.example.com/a?b=1&amp;c=2">our guide</a> today. '
        "Tom &amp; Jerry.</p>"
        "<ul><li><strong>TMJ pain</strong> – the jaw joint " + "and more " * 12 + "</li>"
        "<li>two</li></ul>"
        "<ol><li>first</li><li>second</li></ol>"
        '<figure><img src="https://x.example.com/i.png" alt="A guard"><figcaption>'
        "Caption</figcaption></figure><blockquote><p>Quoted</p></blockquote>"
        'Loose <a href="mailto:desk@example.com">desk@example.com</a>'
    )
    blocks = text.split("\n\n")
    assert blocks[0] == "How it works\n------------"
    assert "our guide <https://x.example.com/a?b=1&c=2> today. Tom & Jerry." in blocks[1]
    items = blocks[2].splitlines()
    assert items[0].startswith("  • TMJ pain – the jaw joint")
    assert all(len(line) <= 76 for line in items)
    assert items[1].startswith("    and more")  # wrapped under the item, not the bullet
    assert blocks[3] == "  1. first\n  2. second"
    # A picture says what it shows, and its address (the HTML loads it: spam filters count
    # the addresses of both parts together).
    assert blocks[4] == "[Picture: A guard] <https://x.example.com/i.png>"
    assert blocks[5] == "Caption"
    assert blocks[6] == "> Quoted"
    assert blocks[7] == "Loose desk@example.com"


def test_a_long_url_is_never_broken():
    url = "https://x.example.com/" + "a" * 90
    text = html_to_text(f'<p>See <a href="{url}">this page</a></p>')
    assert f"<{url}>" in text.splitlines()


def test_empty_fragment_is_empty_text():
    assert html_to_text("  ") == ""


def test_a_link_never_takes_the_punctuation_after_it():
    text = html_to_text(
        '<p>See <a href="https://x.example.com/a">https://x.example.com/a</a>. Or '
        '(<a href="https://x.example.com/b">our page</a>), or call '
        '<a href="tel:+13605550142">(360) 555-0142</a>.</p>'
    )
    assert " ".join(text.split()) == (
        "See <https://x.example.com/a>. Or (our page <https://x.example.com/b>), or call "
        "(360) 555-0142."
    )


def test_hard_wrapped_lines_flow_and_br_breaks():
    text = html_to_text("<p>One line\nwrapped by\nthe author.<br>A new line.</p>")
    assert text == "One line wrapped by the author.\nA new line."


def test_a_table_reads_as_aligned_columns_or_as_labelled_rows():
    narrow = html_to_text(
        "<table><tr><th>Day</th><th>Hours</th></tr><tr><td>Mon</td><td>8-5</td></tr>"
        "<tr><td>Tue</td><td>Closed</td></tr></table>"
    )
    assert narrow == "Day | Hours\n----+-------\nMon | 8-5\nTue | Closed"
    wide = html_to_text(
        "<table><tr><th>Treatment</th><th>What it does</th></tr>"
        f"<tr><td>Night guard</td><td>{'Protects your teeth from grinding. ' * 3}</td></tr>"
        "</table>"
    )
    first, second, *rest = wide.splitlines()
    assert first == "Treatment: Night guard"
    assert second.startswith("What it does: Protects your teeth")
    assert rest and all(line.startswith("  ") for line in rest)
    assert all(len(line) <= 76 for line in wide.splitlines())

"""Rendering: variant → Jinja (sandboxed) → MJML → HTML → premailer, plus the text part."""

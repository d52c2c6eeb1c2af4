"""Where messages go: files on disk, an SMTP server, or an email provider's API.

One module per destination, each a `Provider` subclass (see `providers.base`).
"""

from __future__ import annotations

from importlib import import_module

from chairside.errors import ChairsideError

# name → module; imported only when used, so the CLI starts fast.
MODULES = {
    "eml": "chairside.providers.files",
    "mbox": "chairside.providers.files",
    "smtp": "chairside.providers.smtp",
    "mailchimp": "chairside.providers.mailchimp",
    "sendgrid": "chairside.providers.sendgrid",
    "mailgun": "chairside.providers.mailgun",
}


def provider_class(name: str):
    """The Provider subclass called `name`."""
    if name not in MODULES:
        raise ChairsideError(f"No provider {name!r}. Providers: {', '.join(MODULES)}.")
    module = import_module(MODULES[name])
    return next(
        cls
        for cls in vars(module).values()
        if isinstance(cls, type) and getattr(cls, "name", None) == name
    )

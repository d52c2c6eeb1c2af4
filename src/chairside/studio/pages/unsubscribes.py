"""unsubscribes page."""

from __future__ import annotations

routes: list = []

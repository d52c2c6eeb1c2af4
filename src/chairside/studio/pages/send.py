"""Send page (filled in below)."""

from __future__ import annotations

import contextlib

routes: list = []


@contextlib.asynccontextmanager
async def lifespan(app):
    yield

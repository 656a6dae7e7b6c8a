"""REST API and web dashboard (``yuqing serve``): :func:`create_app` builds the FastAPI app."""

from __future__ import annotations

from crawler.api.app import create_app

__all__ = ["create_app"]

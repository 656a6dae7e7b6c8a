"""yuqing: brand public-opinion monitor (crawl, analyse, alert, register complaints)."""

from __future__ import annotations

__version__ = "0.1.0"

"""The API tests share the analytics tests' seeded databases and helpers."""

from tests.crawler.analytics.conftest import *  # noqa: F403

"""Schemathesis against the OpenAPI spec: generated (and malformed) requests to every operation never
crash the API (no 5xx) and every answer matches its documented schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from crawler.storage.engine import open_database
from simulator.fakedata.database import seed_database
from tests.crawler.analytics.conftest import HANDLER, make_cfg


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Any:
    from crawler.api import create_app

    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
    cfg = make_cfg(url, data_dir, api={"login_max_failures": 1000, "login_window_seconds": 10})
    engine = open_database(url)
    seed_database(engine, cfg, mentions=60, complaints=6, hostile=True)
    return schemathesis.openapi.from_asgi("/api/openapi.json", create_app(cfg, engine=engine))


def test_api_never_crashes_and_keeps_its_schema(api_schema: Any) -> None:
    from hypothesis import given
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    headers = {"Authorization": f"Bearer {HANDLER}"}
    tested = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=checks)

        run()
        tested.append(operation.label)
    assert len(tested) >= 18 and "POST /api/complaints/{complaint_id}/status" in tested

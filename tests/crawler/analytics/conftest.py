"""Fixtures for the analyst tests: configs with API tokens, seeded SQLite and PostgreSQL databases,
a TestClient on the app, and a live server on a free loopback port for the browser.

The seeded databases (``simulator.fakedata.database.seed_database``: ~600 mentions, a crisis event,
24 complaint records in every state, alerts, crawl runs, hostile posts) are built once per
session and only read; tests that change data use the foundation's ``db_url`` fixture.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crawler.config import AppConfig, config_from_dict
from simulator.fakedata.database import Seeded, seed_database
from tests.conftest import PG_ADMIN, _pg_conninfo

VIEWER = "viewer-token-0123456789abcdef"
HANDLER = "handler-token-0123456789abcdef"
BRANDS: list[dict[str, Any]] = [
    {"name": "鲜果时光", "aliases": ["鲜果", "XGSG"], "products": ["鲜榨橙汁", "芒果冰沙", "鲜果时光轻食杯"]},
    {"name": "小鹿宝贝", "aliases": ["小鹿", "XLBB"], "products": ["小鹿宝贝奶粉", "小鹿宝贝纸尿裤"]},
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts" / "analysts"


def make_cfg(url: str, data_dir: Path, **sections: Any) -> AppConfig:
    raw: dict[str, Any] = {
        "project": {"data_dir": str(data_dir)},
        "brands": BRANDS,
        "storage": {"url": url},
        "api": {
            "tokens": [
                {"name": "analyst", "token": VIEWER, "role": "viewer"},
                {"name": "zhang", "token": HANDLER, "role": "handler"},
            ],
            **sections.pop("api", {}),
        },
    }
    raw.update(sections)
    return config_from_dict(raw)


def write_cfg_file(path: Path, url: str, data_dir: Path, extra: str = "") -> Path:
    brands = "\n".join(
        f'[[brands]]\nname = "{b["name"]}"\naliases = {b["aliases"]!r}\nproducts = {b["products"]!r}'.replace(
            "'", '"'
        )
        for b in BRANDS
    )
    path.write_text(
        f"""[project]
data_dir = "{data_dir}"
[storage]
url = "{url}"
{brands}
[api]
tokens = [{{ name = "analyst", token = "{VIEWER}", role = "viewer" }},
          {{ name = "zhang", token = "{HANDLER}", role = "handler" }}]
{extra}
""",
        encoding="utf-8",
    )
    return path


@dataclass
class SeededDb:
    url: str
    cfg: AppConfig
    ids: Seeded
    name: str


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data dir for the session (the segmenter caches its dictionary there once)."""
    return tmp_path_factory.mktemp("analyst-data")


@pytest.fixture(scope="session", autouse=True)
def segmenter(data_dir: Path) -> None:
    """The brand dictionary loaded once, as ``yuqing serve`` / ``query`` do (鲜果时光 stays one word)."""
    from crawler.analytics import search_index

    search_index.configure(make_cfg("sqlite://", data_dir))


def _seed(url: str, data_dir: Path, name: str) -> SeededDb:
    from crawler.analytics import search_index
    from crawler.storage.engine import open_database

    cfg = make_cfg(url, data_dir)
    search_index.configure(cfg)
    ids = seed_database(open_database(url), cfg, hostile=True)
    return SeededDb(url, cfg, ids, name)


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> SeededDb:
    return _seed(f"sqlite:///{tmp_path_factory.mktemp('analyst-db') / 'seeded.db'}", data_dir, "sqlite")


@pytest.fixture(scope="session")
def seeded_pg(data_dir: Path) -> Iterator[SeededDb]:
    import psycopg

    name = f"yuqing_analyst_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(_pg_conninfo(PG_ADMIN), autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _seed(f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}", data_dir, "postgresql")
    finally:
        from crawler.storage.engine import dispose_engines

        dispose_engines()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def seeded(request: pytest.FixtureRequest) -> SeededDb:
    return request.getfixturevalue(f"seeded_{'sqlite' if request.param == 'sqlite' else 'pg'}")  # type: ignore[no-any-return]


@pytest.fixture
def client(seeded: SeededDb) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from crawler.api import create_app

    with TestClient(create_app(seeded.cfg)) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


V, H = auth(VIEWER), auth(HANDLER)


class LiveServer:
    """The app served by uvicorn in a thread on a free 127.0.0.1 port."""

    def __init__(self, app: Any, options: dict[str, Any] | None = None) -> None:
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, **(options or {"log_config": None, "access_log": False}))
        )
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()

"""Concurrent first starts on a new database: they take turns migrating, every one succeeds."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CHILD = """
import sys, time
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
from crawler.storage.engine import current_revision, head_revision, open_database
engine = open_database(sys.argv[1])
assert current_revision(engine) == head_revision()
print("ok")
"""


def _race(url: str, n: int) -> list[subprocess.CompletedProcess[str]]:
    start = time.time() + 3.0  # every child imports first, then all migrate at the same instant
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, url, str(start)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


@pytest.mark.slow
def test_concurrent_first_migrations_on_a_new_sqlite_file(tmp_path: Path) -> None:
    results = _race(f"sqlite:///{tmp_path / 'new.db'}", 6)
    assert all(r.returncode == 0 and "ok" in r.stdout for r in results), [r.stderr[-500:] for r in results]


@pytest.mark.slow
@pytest.mark.postgres
def test_concurrent_first_migrations_on_a_new_postgres_database() -> None:
    import uuid

    import psycopg

    from tests.conftest import PG_ADMIN, _pg_conninfo

    name = f"yuqing_race_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(_pg_conninfo(PG_ADMIN), autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        results = _race(f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}", 4)
        assert all(r.returncode == 0 and "ok" in r.stdout for r in results), [
            r.stderr[-500:] for r in results
        ]
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

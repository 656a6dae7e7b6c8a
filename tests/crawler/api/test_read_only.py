"""A read-only SQLite file still serves reads: ``query``, ``status``, ``complaints list``, ``db status``
and the API's read endpoints work; migrations are skipped (with a note) when the schema is current;
every write fails with one line (CLI) or a JSON 503 (API), and the file is never changed.

The tests run as root, whom file modes do not bind. The commands therefore run under
``setpriv`` with ``CAP_DAC_OVERRIDE`` and ``CAP_DAC_READ_SEARCH`` dropped from the bounding set:
still uid 0, but the kernel now checks the modes as for any user — a ``chmod 444`` file in a
``chmod 555`` folder really cannot be written. One test runs with full root powers to show
that a file with no write bit at all is opened read-only on purpose, root or not.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text

from crawler.storage.engine import head_revision, make_engine, open_database
from crawler.storage.models import Complaint, Mention
from simulator.fakedata.database import seed_database
from tests.crawler.analytics.conftest import HANDLER, VIEWER, make_cfg, write_cfg_file

ROOT = Path(__file__).resolve().parents[3]
YUQING = [sys.executable, "-m", "crawler.cli.app"]
pytestmark = pytest.mark.slow


def _as_plain_user() -> list[str]:
    """The prefix that makes root obey file modes (nothing when the tests do not run as root)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to test a read-only file as root"
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def _run(
    args: list[str], *, config: Path, plain_user: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    prefix = _as_plain_user() if plain_user else []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run(
        [*prefix, *YUQING, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class ReadOnlyDb:
    folder: Path
    db: Path
    config: Path
    mentions: int
    complaints: list[str]
    digest: str


def _seeded_file(folder: Path, data_dir: Path) -> tuple[Path, Path, int, list[str]]:
    """A seeded, fully checkpointed SQLite file (no -wal / -shm left) and its config."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "yuqing.db"
    url = f"sqlite:///{db}"
    config = write_cfg_file(folder / "yuqing.toml", url, data_dir)
    seed_database(open_database(url), make_cfg(url, data_dir), mentions=120)
    make_engine(url).dispose()  # the last connection checkpoints and removes the -wal file
    plain = create_engine(url)
    with plain.connect() as conn:
        n = conn.execute(select(func.count()).select_from(Mention.__table__)).scalar_one()  # type: ignore[attr-defined]
        numbers = list(conn.execute(select(Complaint.__table__.c.number)).scalars())  # type: ignore[attr-defined]
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    plain.dispose()
    for suffix in ("-wal", "-shm", ".migrate-lock"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    return db, config, int(n), numbers


@pytest.fixture(scope="module")
def ro(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadOnlyDb]:
    """``ro/yuqing.db`` chmod 444 in a chmod 555 folder, its data folder (logs) read-only too."""
    folder = tmp_path_factory.mktemp("readonly") / "ro"
    data = folder / "data"
    data.mkdir(parents=True)
    db, config, n, numbers = _seeded_file(folder, data)
    db.chmod(0o444)
    data.chmod(0o555)
    folder.chmod(0o555)
    try:
        yield ReadOnlyDb(folder, db, config, n, numbers, _digest(db))
    finally:
        folder.chmod(0o755)
        data.chmod(0o755)


def _untouched(ro: ReadOnlyDb) -> None:
    assert _digest(ro.db) == ro.digest
    assert sorted(p.name for p in ro.folder.iterdir()) == ["data", "yuqing.db", "yuqing.toml"]


def test_the_file_really_is_unwritable_for_the_commands(ro: ReadOnlyDb) -> None:
    """The control: under the same prefix, appending to the file is refused by the kernel."""
    proc = subprocess.run(
        [*_as_plain_user(), sys.executable, "-c", f"open({str(ro.db)!r}, 'ab').write(b'x')"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and "Permission denied" in proc.stderr
    _untouched(ro)


def test_reads_work_on_a_read_only_file(ro: ReadOnlyDb) -> None:
    count = _run(["query", "--count"], config=ro.config)
    assert count.returncode == 0, count.stderr
    assert count.stdout.strip() == str(ro.mentions)
    assert "read-only" in count.stderr and "migrations skipped" in count.stderr  # the note, on stderr
    assert "cannot write log files" in count.stderr  # the read-only data folder: logs go to stderr

    rows = _run(["query", "--format", "json", "-n", "5", "--order", "risk"], config=ro.config)
    assert rows.returncode == 0, rows.stderr
    risks = [json.loads(line)["risk"] for line in rows.stdout.splitlines()]
    assert len(risks) == 5 and risks == sorted(risks, reverse=True)

    listed = _run(["complaints", "list", "--json", "--limit", "1000"], config=ro.config)
    assert listed.returncode == 0, listed.stderr
    assert sorted(json.loads(line)["number"] for line in listed.stdout.splitlines()) == sorted(ro.complaints)

    status = _run(["status", "--json"], config=ro.config)
    assert status.returncode == 0, status.stderr
    assert len(json.loads(status.stdout)["overdue_complaints"]) > 0

    db_status = _run(["db", "status"], config=ro.config)
    assert db_status.returncode == 0, db_status.stderr
    head = head_revision()
    assert f"revision {head}, head {head}" in db_status.stdout
    mentions_row = next(line for line in db_status.stdout.splitlines() if " mentions " in line)
    assert str(ro.mentions) in mentions_row

    for proc in (count, rows, listed, status, db_status):
        assert "Traceback" not in proc.stdout + proc.stderr
    _untouched(ro)


def test_writes_fail_with_one_line(ro: ReadOnlyDb) -> None:
    assign = _run(["complaints", "assign", ro.complaints[0], "--assignee", "新同事"], config=ro.config)
    assert assign.returncode == 1
    errors = [line for line in assign.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: the database sqlite:///{ro.db} is read-only (the file is not writable): "
        "attempt to write a readonly database"
    ]
    crawl = _run(["crawl", "heimao", "--brand", "鲜果时光"], config=ro.config)
    assert crawl.returncode == 1
    assert "is read-only" in crawl.stderr and "`yuqing crawl` needs to write" in crawl.stderr
    for proc in (assign, crawl):
        assert "Traceback" not in proc.stdout + proc.stderr
    _untouched(ro)


def test_a_read_only_file_behind_the_schema_is_refused_in_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    db = folder / "old.db"
    plain = create_engine(f"sqlite:///{db}")
    with plain.begin() as conn:
        conn.execute(text("CREATE TABLE notes (x TEXT)"))
    plain.dispose()
    db.chmod(0o444)
    config = write_cfg_file(folder / "yuqing.toml", f"sqlite:///{db}", tmp_path / "data")
    proc = _run(["query", "--count"], config=config)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "is read-only (the file is not writable) and its schema is at revision none" in proc.stderr
    assert "yuqing db upgrade" in proc.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["old.db", "yuqing.toml"]  # no lock file, no -wal


def test_no_write_bit_binds_root_too(tmp_path: Path, data_dir: Path) -> None:
    """Full root powers, writable folder, file chmod 444: opened read-only by intent."""
    db, config, n, numbers = _seeded_file(tmp_path / "root", data_dir)
    db.chmod(0o444)
    before = _digest(db)
    count = _run(["query", "--count"], config=config, plain_user=False)
    assert count.returncode == 0 and count.stdout.strip() == str(n), count.stderr
    assign = _run(
        ["complaints", "assign", numbers[0], "--assignee", "新同事"], config=config, plain_user=False
    )
    assert assign.returncode == 1 and "Traceback" not in assign.stderr
    assert "is read-only (the file is not writable): attempt to write a readonly database" in assign.stderr
    assert _digest(db) == before


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_api_serves_reads_from_a_read_only_file(ro: ReadOnlyDb) -> None:
    """``yuqing serve`` as a plain user on the read-only file: reads answer 200, a write a JSON 503."""
    from crawler.api.app import SECURITY_HEADERS

    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [*_as_plain_user(), *YUQING, "--config", str(ro.config), "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "yuqing serve did not start"
            time.sleep(0.2)
        viewer = {"Authorization": f"Bearer {VIEWER}"}
        with httpx.Client(base_url=base, timeout=30) as c:
            summary = c.get("/api/stats/summary", headers=viewer)
            assert summary.status_code == 200 and summary.json()["total"] == ro.mentions
            page = c.get("/api/mentions", params={"limit": 200}, headers=viewer)
            assert page.status_code == 200 and len(page.json()["items"]) == min(200, ro.mentions)
            for path in (
                "/api/stats/overview",
                "/api/complaints",
                "/api/events",
                "/api/alerts",
                "/api/health",
                "/api/crawl-runs",
                "/api/stats/trend",
                "/api/export",
            ):
                assert c.get(path, headers=viewer).status_code == 200, path
            complaint_id = c.get("/api/complaints", headers=viewer).json()["items"][0]["id"]
            write = c.post(
                f"/api/complaints/{complaint_id}/notes",
                json={"note": "只读库上的备注"},
                headers={"Authorization": f"Bearer {HANDLER}"},
            )
            assert write.status_code == 503
            assert write.json() == {"detail": "数据库为只读，无法保存修改（只能查看）"}
            for name, value in SECURITY_HEADERS.items():
                assert write.headers.get(name) == value
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "Traceback" not in out
    assert "API: database unavailable on POST" in out and "is read-only" in out
    _untouched(ro)

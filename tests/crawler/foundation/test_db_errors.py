"""No command prints a traceback for a database error. Each broken database — PostgreSQL refusing
connections (port 1), a database that does not exist, a wrong password, an unknown role, a SQLite
file of garbage bytes — gives one ``error:`` line that names the database with its password
masked and the driver's reason, and a non-zero exit status, from the real CLI in a subprocess.

The wrong password needs a server that asks for one: the shared test server trusts every local
login, so a private PostgreSQL (``initdb`` with scram-sha-256) is started on a free loopback port.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
YUQING = [sys.executable, "-m", "crawler.cli.app"]
PASSWORD = "Zq7-s3cret-pw"  # must never appear in any output
pytestmark = pytest.mark.slow

# commands that open the database, one or more of each kind (reads, writes, sweeps, exports, the
# long-running ones: serve and run fail before they start serving)
ALL_COMMANDS: list[list[str]] = [
    ["db", "status"],
    ["db", "upgrade"],
    ["query", "--count"],
    ["status"],
    ["complaints", "list"],
    ["complaints", "assign", "TS1", "-a", "王芳"],
    ["complaints", "sweep"],
    ["alerts", "list"],
    ["alerts", "dispatch"],
    ["export", "{tmp}/m.csv"],
    ["report", "daily", "-o", "{tmp}/reports", "-f", "html"],
    ["crawl", "heimao", "--brand", "鲜果时光"],
    ["run"],
    ["serve", "--port", "0"],
]
FEW_COMMANDS: list[list[str]] = [["db", "status"], ["query", "--count"], ["status"], ["complaints", "list"]]
SQLITE_COMMANDS = [
    *FEW_COMMANDS,
    ["complaints", "assign", "TS1", "-a", "王芳"],
    ["crawl", "heimao", "--brand", "鲜果时光"],
    ["serve", "--port", "0"],
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def password_pg() -> Iterator[int]:
    """A private PostgreSQL that asks for a password (scram-sha-256); yields its port."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert found, "PostgreSQL's server binaries (initdb) are needed: apt-get install postgresql"
    bindir = Path(found[-1]).parent
    # not under pytest's tmp folder: that one is private to root, and the server runs as postgres
    base = Path(tempfile.mkdtemp(prefix="yuqing-pgpw-"))
    pwfile = base / "pw"
    pwfile.write_text(PASSWORD + "\n")
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        as_user = [shutil.which("runuser") or "runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres")
        shutil.chown(pwfile, "postgres")
    data, port = base / "data", _free_port()
    subprocess.run(
        [
            *as_user,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    subprocess.run(
        [
            *as_user,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(base / "log"),
            "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        yield port
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)


def _config(path: Path, url: str) -> Path:
    path.write_text(
        f'[project]\ndata_dir = "{path.parent / "data"}"\n[storage]\nurl = "{url}"\n'
        '[[brands]]\nname = "鲜果时光"\naliases = ["鲜果"]\n',
        encoding="utf-8",
    )
    return path


def _run_all(config: Path, commands: list[list[str]], tmp: Path) -> list[subprocess.CompletedProcess[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}

    def one(args: list[str]) -> subprocess.CompletedProcess[str]:
        argv = [*YUQING, "--config", str(config), *(a.replace("{tmp}", str(tmp)) for a in args)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)

    with ThreadPoolExecutor(max_workers=3) as pool:
        return list(pool.map(one, commands))


def _check(
    results: list[subprocess.CompletedProcess[str]], commands: list[list[str]], *, where: str, reason: str
) -> None:
    for args, proc in zip(commands, results, strict=True):
        shown = proc.stdout + proc.stderr
        label = " ".join(args)
        assert proc.returncode == 1, (label, shown[-2000:])
        assert "Traceback" not in shown, (label, shown[-2000:])
        assert PASSWORD not in shown, label
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, (label, proc.stderr)
        assert where in errors[0] and reason in errors[0], (label, errors[0])


@pytest.mark.postgres
def test_postgres_refusing_connections(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://yuqing:{PASSWORD}@127.0.0.1:1/yuqing"
    results = _run_all(_config(tmp_path / "c.toml", url), ALL_COMMANDS, tmp_path)
    _check(
        results,
        ALL_COMMANDS,
        where="postgresql+psycopg://yuqing:***@127.0.0.1:1/yuqing",
        reason="Connection refused",
    )


@pytest.mark.postgres
def test_a_database_that_does_not_exist(tmp_path: Path) -> None:
    from tests.conftest import PG_ADMIN

    url = PG_ADMIN.rsplit("/", 1)[0] + "/yuqing_no_such_database"
    results = _run_all(_config(tmp_path / "c.toml", url), FEW_COMMANDS, tmp_path)
    _check(
        results,
        FEW_COMMANDS,
        where="/yuqing_no_such_database",
        reason='database "yuqing_no_such_database" does not exist',
    )


@pytest.mark.postgres
def test_a_wrong_password(tmp_path: Path, password_pg: int) -> None:
    wrong = PASSWORD[::-1]
    url = f"postgresql+psycopg://postgres:{wrong}@127.0.0.1:{password_pg}/postgres"
    results = _run_all(_config(tmp_path / "c.toml", url), FEW_COMMANDS, tmp_path)
    _check(
        results,
        FEW_COMMANDS,
        where=f"postgresql+psycopg://postgres:***@127.0.0.1:{password_pg}/postgres",
        reason='password authentication failed for user "postgres"',
    )
    for proc in results:
        assert wrong not in proc.stdout + proc.stderr


@pytest.mark.postgres
def test_the_right_password_works_on_the_same_server(tmp_path: Path, password_pg: int) -> None:
    """The control for the test above: only the password differs, and then everything works."""
    url = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:{password_pg}/postgres"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [*YUQING, "--config", str(_config(tmp_path / "c.toml", url)), "db", "upgrade"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"postgresql+psycopg://postgres:***@127.0.0.1:{password_pg}/postgres at revision" in proc.stdout
    assert PASSWORD not in proc.stdout + proc.stderr


@pytest.mark.postgres
def test_an_unknown_role(tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    from tests.conftest import PG_ADMIN

    server = make_url(PG_ADMIN)
    where = f"yuqing_no_such_role@{server.host}:{server.port or 5432}/postgres"
    url = f"postgresql+psycopg://{where}"
    results = _run_all(_config(tmp_path / "c.toml", url), FEW_COMMANDS, tmp_path)
    _check(results, FEW_COMMANDS, where=where, reason='role "yuqing_no_such_role" does not exist')


def test_a_sqlite_file_of_garbage_bytes(tmp_path: Path) -> None:
    db = tmp_path / "broken.db"
    db.write_bytes(os.urandom(8192))
    before = db.read_bytes()
    results = _run_all(_config(tmp_path / "c.toml", f"sqlite:///{db}"), SQLITE_COMMANDS, tmp_path)
    _check(results, SQLITE_COMMANDS, where=f"sqlite:///{db}", reason="file is not a database")
    assert db.read_bytes() == before  # nothing was "repaired" over it


def test_a_missing_sqlite_file_in_a_folder_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    url = f"sqlite:///{blocker / 'yuqing.db'}"
    results = _run_all(_config(tmp_path / "c.toml", url), FEW_COMMANDS, tmp_path)
    _check(results, FEW_COMMANDS, where=url, reason="cannot create the folder of the database")


def test_usage_errors_are_short_too(tmp_path: Path) -> None:
    """typer ships its own click: its usage errors used to escape as a traceback."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args, needle in (
        (["query", "--no-such-option"], "No such option: --no-such-option"),
        (["complaints", "assign"], "Missing argument"),
        (["db"], "db [OPTIONS] COMMAND"),
    ):
        proc = subprocess.run(
            [*YUQING, *args], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env
        )
        shown = proc.stdout + proc.stderr
        assert proc.returncode == 2 and "Traceback" not in shown and needle in shown, (args, shown[-1500:])

"""``yuqing doctor``: is this machine ready to run yuqing? One check per thing that can be missing.

Each check returns :class:`Check` results: ``ok``, ``warn`` (works, but look at it soon) or
``fail``, with the fix in one line. ``needed`` marks what the configured service cannot run
without; a needed failure makes the command exit 1. Nothing here changes anything: the
database is not migrated (a missing SQLite file is not created), sessions are not checked
against the platforms (``yuqing login --status`` does that), no message is sent.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from crawler.config import load_config
from crawler.errors import ConfigError, StorageError, YuqingError
from crawler.platform.browser import find_chromium, platform_needs_browser
from crawler.platform.sessions import SessionStore, login_command
from crawler.storage.engine import (
    current_revision,
    describe_error,
    head_revision,
    make_engine,
    read_only_reason,
    safe_url,
)
from crawler.storage.redis_conn import connect

if TYPE_CHECKING:
    from crawler.config import AppConfig

MIN_PYTHON = (3, 11)
DISK_FAIL_BYTES = 1 << 30  # under 1 GiB free for data/: crawls and logs will soon fail
DISK_WARN_BYTES = 5 << 30  # under 5 GiB: warn
LOGIN_PLATFORMS = ("weibo", "xiaohongshu", "douyin")  # Heimao reads without a login
# Values nobody would use for real: the shipped example's defaults and the usual stand-ins.
PLACEHOLDER = re.compile(
    r"(?:unset(?![a-z])|change[-_ ]?me|example\.(?:com|org|net)|\byour[-_]|xxxx|<[^>]*>|\btodo\b"
    r"|placeholder|127\.0\.0\.1:9/)",
    re.IGNORECASE,
)
# Package data a working install must carry (package, path inside it).
PACKAGE_DATA: tuple[tuple[str, str], ...] = (
    ("sentiment", "wordlists/problem.txt"),
    ("sentiment", "wordlists/categories.txt"),
    ("sentiment", "sentiment_model.npz"),
    ("sentiment", "complaint_model.npz"),
    ("crawler", "api/static/index.html"),
    ("crawler", "api/static/vendor/echarts.min.js"),
    ("crawler", "api/static/vendor/swagger-ui/swagger-ui-bundle.js"),
    ("crawler", "analytics/templates/report.html"),
    ("crawler", "storage/migrations/env.py"),
    ("crawler", "storage/migrations/script.py.mako"),
)
RUNTIME_MODULES = (
    "scrapy",
    "playwright",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "uvicorn",
    "jieba",
    "numpy",
    "redis",
    "apscheduler",
    "openpyxl",
    "jinja2",
    "xhshow",
)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str | None = None
    needed: bool = True  # a failure here stops the configured service

    @property
    def broken(self) -> bool:
        return self.status == "fail" and self.needed

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


# --- the install -------------------------------------------------------------------------


def check_python() -> Iterator[Check]:
    v = sys.version_info
    shown = f"Python {v.major}.{v.minor}.{v.micro} ({sys.executable})"
    if (v.major, v.minor) < MIN_PYTHON:
        yield Check("python", "fail", shown, f"install Python {'.'.join(map(str, MIN_PYTHON))} or newer")
    else:
        yield _ok("python", shown)


def check_install() -> Iterator[Check]:

    try:
        where = f"yuqing {version('yuqing')}"
    except PackageNotFoundError:
        where = "yuqing (not installed as a package: running from a checkout)"
    missing_mods = [m for m in RUNTIME_MODULES if find_spec(m) is None]
    missing_data = [
        f"{pkg}/{path}" for pkg, path in PACKAGE_DATA if not resources.files(pkg).joinpath(path).is_file()
    ]
    if missing_mods:
        yield Check(
            "install",
            "fail",
            f"{where}: missing modules {', '.join(missing_mods)}",
            "pip install -c requirements.lock . (from the yuqing source), or reinstall the wheel",
        )
    elif missing_data:
        yield Check(
            "install",
            "fail",
            f"{where}: missing package data {', '.join(missing_data)}",
            "reinstall yuqing (pip install --force-reinstall yuqing-*.whl)",
        )
    else:
        yield _ok("install", f"{where}, modules and package data present")


# --- the config and what it points at -----------------------------------------------------


def check_database(cfg: AppConfig) -> Iterator[Check]:

    url = cfg.database_url
    shown = safe_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the same answer
        yield Check("database", "fail", f"invalid database URL {shown}: {exc}", "fix [storage].url")
        return
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        if not Path(parsed.database).exists():
            yield Check("database", "fail", f"{shown}: no database file yet", "yuqing db upgrade")
            return
    try:
        engine = make_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        rev, head = current_revision(engine), head_revision()
    except (DBAPIError, StorageError) as exc:
        reason = describe_error(exc, url) if isinstance(exc, DBAPIError) else str(exc)
        yield Check(
            "database",
            "fail",
            reason,
            "start the database server, or fix [storage].url / YUQING_DATABASE_URL",
        )
        return
    yield _ok("database", f"{shown} reachable")
    if rev != head:
        yield Check("database schema", "fail", f"revision {rev or 'none'}, head {head}", "yuqing db upgrade")
    else:
        yield _ok("database schema", f"at head ({head})")
    read_only = read_only_reason(engine)
    if read_only is None and parsed.get_backend_name() == "postgresql" and rev is not None:
        with engine.connect() as conn:
            if not conn.execute(text("SELECT has_table_privilege('mentions', 'INSERT')")).scalar_one():
                read_only = "the role may not insert into mentions"
    if read_only is not None:
        yield Check(
            "database writable",
            "fail",
            f"read-only: {read_only}",
            "give the user running yuqing write access (crawl, run and worker write)",
        )
    else:
        yield _ok("database writable", "writable")


def check_chromium(cfg: AppConfig) -> Iterator[Check]:

    users = [p for p in cfg.platforms.enabled() if platform_needs_browser(cfg, p)]
    if "pdf" in cfg.reports.formats:
        users.append("PDF reports")
    found = find_chromium()
    if found.path is not None:
        yield _ok("chromium", f"{found.path} ({found.source})")
        return
    needed = bool(users)
    why = f"needed by {', '.join(users)}" if users else "needed only for Douyin, login and PDF reports"
    yield Check(
        "chromium",
        "fail",
        f"{found.reason}; {why}",
        "apt-get install -y chromium fonts-noto-cjk, or playwright install chromium, or set YUQING_CHROMIUM",
        needed=needed,
    )


def check_redis(cfg: AppConfig) -> Iterator[Check]:
    if not cfg.distributed.active:
        return

    url = cfg.distributed.redis_url.get_secret_value() if cfg.distributed.redis_url else ""
    shown = re.sub(r"//[^@/]*@", "//***@", url)
    try:
        connect(url).ping()
    except Exception as exc:  # noqa: BLE001 - any failure to ping is "unreachable"
        yield Check(
            "redis",
            "fail",
            f"{shown} unreachable: {exc}",
            "start Redis (redis-server), or fix REDIS_URL / [distributed].redis_url",
        )
        return
    yield _ok("redis", f"{shown} reachable (distributed mode)")


def _placeholders(channel: Any) -> list[str]:
    fields = {"url": channel.url, "secret": channel.secret, "password": channel.password}
    found = [
        name
        for name, value in fields.items()
        if value is not None and PLACEHOLDER.search(value.get_secret_value())
    ]
    found += [
        name
        for name in ("smtp_host", "sender", "username", "keyword")
        if getattr(channel, name) and PLACEHOLDER.search(str(getattr(channel, name)))
    ]
    found += ["recipients"] if any(PLACEHOLDER.search(r) for r in channel.recipients) else []
    return found


def check_channels(cfg: AppConfig) -> Iterator[Check]:
    channels = cfg.alerts.channels
    if not channels:
        yield Check(
            "alert channels",
            "warn",
            "no channel configured: alerts stay in the outbox",
            "add [alerts.channels.<name>] (see docs/alerts.md, Channels)",
            needed=False,
        )
        return
    for name, channel in channels.items():
        label = f"channel {name} ({channel.type})"
        if not channel.enabled:
            yield _ok(label, "disabled")
            continue
        left = _placeholders(channel)
        if left:
            yield Check(
                label,
                "fail",
                f"placeholder {', '.join(left)} left in",
                f"set the real {', '.join(left)} of [alerts.channels.{name}] (use ${{ENV}} for secrets), "
                f"then: yuqing alerts test {name}",
            )
        else:
            yield _ok(label, "settings filled in (send a sample with: yuqing alerts test " + name + ")")


def check_sessions(cfg: AppConfig) -> Iterator[Check]:

    store = SessionStore.from_config(cfg)
    for platform in [p for p in LOGIN_PLATFORMS if p in cfg.platforms.enabled()]:
        try:
            sessions = store.candidates(platform, cfg)
        except YuqingError as exc:
            yield Check(f"sessions {platform}", "fail", str(exc), login_command(platform))
            continue
        if not sessions:
            yield Check(f"sessions {platform}", "fail", "no login session", login_command(platform))
            continue
        for s in sessions:
            state = s.lifetime()
            ends = f", cookies end {s.expires_at:%Y-%m-%d %H:%M} UTC" if s.expires_at else ""
            label = f"session {platform}/{s.account}"
            if state == "expired":
                why = s.status_reason or "the platform refused it" if s.expired else "its cookies ran out"
                yield Check(label, "fail", f"expired ({why}){ends}", login_command(platform, s.account))
            elif state == "expiring":
                yield Check(
                    label, "warn", f"expiring soon{ends}", login_command(platform, s.account), needed=False
                )
            else:
                yield _ok(
                    label,
                    f"valid as far as yuqing knows ({s.source}{ends}); "
                    "yuqing login --status asks the platform",
                )


def check_disk(cfg: AppConfig) -> Iterator[Check]:
    path = cfg.data_path()
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    shown = f"{free / (1 << 30):.1f} GiB free for {path}"
    if free < DISK_FAIL_BYTES:
        yield Check("disk", "fail", shown, "free space on that disk, or move [project].data_dir")
    elif free < DISK_WARN_BYTES:
        yield Check("disk", "warn", shown, "free space soon (database, logs, reports grow)", needed=False)
    else:
        yield _ok("disk", shown)
    if path.exists() and not os.access(path, os.W_OK):
        yield Check("data folder", "fail", f"{path} is not writable", "chown it to the user running yuqing")


def run_checks(config_path: str | None) -> list[Check]:
    """Every check, in order; a config that does not load stops the ones that need it."""

    results = [*check_python(), *check_install()]
    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        results.append(
            Check(
                "config",
                "fail",
                str(exc),
                "fix the file (yuqing config check shows the problem), or pass --config / set YUQING_CONFIG",
            )
        )
        return results
    results.append(
        _ok(
            "config",
            f"{cfg.source}: {len(cfg.brands)} brand(s), platforms "
            f"{', '.join(cfg.platforms.enabled()) or 'none'}",
        )
    )
    steps: list[Callable[[AppConfig], Iterator[Check]]] = [
        check_database,
        check_chromium,
        check_redis,
        check_channels,
        check_sessions,
        check_disk,
    ]
    for step in steps:
        results.extend(step(cfg))
    return results

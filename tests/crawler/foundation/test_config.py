"""Config loading: the shipped example is valid; each broken file gets one line naming file, key, problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crawler.config import load_config, parse_schedule
from crawler.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
GOOD = """
[[brands]]
name = "鲜果时光"
aliases = ["鲜果"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "yuqing.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_example_is_valid() -> None:
    cfg = load_config(ROOT / "config" / "yuqing.toml")
    assert [b.name for b in cfg.brands] == ["鲜果时光", "小鹿宝贝"]
    assert cfg.platforms.enabled() == ["weibo", "xiaohongshu", "douyin", "heimao"]
    assert cfg.brands[0].keywords == ["鲜果时光"]


def test_defaults_and_keywords(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.brands[0].keywords == ["鲜果时光", "鲜果"]
    assert cfg.platforms.heimao.base_url == "https://tousu.sina.com.cn"
    assert cfg.database_url == "sqlite:///data/yuqing.db"
    assert cfg.complaints.sla["紧急"].answer_minutes == 120
    assert cfg.brand("鲜果").name == "鲜果时光"


def test_env_and_file_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t-from-file\n")
    monkeypatch.setenv("DT_URL", "https://oapi.dingtalk.com/robot/send?access_token=abc123")
    text = (
        GOOD
        + f"""
[alerts.channels.pr]
type = "dingtalk"
url = "${{DT_URL}}"
secret = "${{file:{secret}}}"
[alerts.channels.ops]
type = "webhook"
url = "${{OPS_HOOK:-http://127.0.0.1:9/hook}}"
"""
    )
    cfg = load_config(write(tmp_path, text))
    assert cfg.alerts.channels["pr"].secret.get_secret_value() == "s3cr3t-from-file"  # type: ignore[union-attr]
    assert cfg.alerts.channels["ops"].url.get_secret_value() == "http://127.0.0.1:9/hook"  # type: ignore[union-attr]
    view = cfg.redacted()
    assert view["alerts"]["channels"]["pr"]["url"] == "***"
    assert "abc123" not in str(view) and "s3cr3t" not in str(view)


def test_database_url_from_env_is_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YUQING_DATABASE_URL", "postgresql+psycopg://bob:hunter2@db/yuqing")
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.database_url.endswith("@db/yuqing")
    assert "hunter2" not in str(cfg.redacted())
    assert "bob:***@db" in cfg.redacted()["storage"]["url"]


BROKEN = [
    ("toml syntax", "[[brands]\nname='x'", None, "TOML syntax error"),
    ("no brands", "[project]\nname='x'", "brands", "Field required"),
    (
        "wrong type",
        GOOD + "[platforms.weibo]\nmax_pages = 'ten'\n",
        "platforms.weibo.max_pages",
        "valid integer",
    ),
    (
        "out of range",
        GOOD + "[platforms.weibo]\nmax_pages = 0\n",
        "platforms.weibo.max_pages",
        "greater than or equal",
    ),
    (
        "unknown platform",
        GOOD + "[platforms.tiktok]\nenabled = true\n",
        "platforms.tiktok",
        "unknown platform 'tiktok'",
    ),
    ("unknown key", GOOD + "[storage]\nurll = 'x'\n", "storage.urll", "unknown key 'urll'"),
    (
        "bad cron",
        GOOD + "[platforms.heimao]\nschedule = '61 * * * *'\n",
        "platforms.heimao.schedule",
        "bad cron expression",
    ),
    (
        "bad schedule",
        GOOD + "[platforms.heimao]\nschedule = 'sometimes'\n",
        "platforms.heimao.schedule",
        "not a 5-field cron",
    ),
    (
        "missing secret",
        GOOD + "[alerts.channels.pr]\ntype='dingtalk'\nurl='${NOPE_NOT_SET_XYZ}'\n",
        "alerts.channels.pr.url",
        "missing secret: environment variable NOPE_NOT_SET_XYZ",
    ),
    (
        "unterminated reference",
        GOOD + "[alerts.channels.pr]\ntype='dingtalk'\nurl='${YUQING_VIEWER_TOKEN'\n",
        "alerts.channels.pr.url",
        "unterminated reference",
    ),
    (
        "unterminated after a good one",
        GOOD + "[alerts.channels.pr]\ntype='dingtalk'\nurl='${HOME}/x${TOKEN'\n",
        "alerts.channels.pr.url",
        "unterminated reference",
    ),
    (
        "duplicate brand",
        GOOD + "[[brands]]\nname = '鲜果时光'\n",
        "brands",
        "duplicate brand or alias '鲜果时光'",
    ),
    (
        "duplicate alias",
        GOOD + "[[brands]]\nname = '别家'\naliases=['鲜果']\n",
        "brands",
        "duplicate brand or alias '鲜果'",
    ),
    (
        "unknown channel in rule",
        GOOD + "[[alerts.rules]]\nname='r'\nchannels=['nowhere']\n",
        "alerts",
        "unknown channel 'nowhere'",
    ),
    (
        "bad urgency",
        GOOD + "[[alerts.rules]]\nname='r'\nchannels=[]\nmin_urgency='很急'\n",
        "alerts.rules[0]",
        "",
    ),
    (
        "bad url",
        GOOD + "[platforms.weibo]\nbase_url = 'ftp://x'\n",
        "platforms.weibo.base_url",
        "not an http(s) URL",
    ),
    (
        "email without host",
        GOOD + "[alerts.channels.mail]\ntype='email'\n",
        "alerts.channels.mail",
        "smtp_host",
    ),
    (
        "bad timezone",
        GOOD + "[scheduler]\ntimezone = 'Mars/Olympus'\n",
        "scheduler.timezone",
        "unknown timezone",
    ),
    (
        "unknown category",
        GOOD + "[[complaints.assignment]]\nteam='t'\ncategories=['天气']\n",
        "complaints.assignment[0].categories[0]",
        "Input should be",
    ),
]


@pytest.mark.parametrize(("case", "text", "key", "problem"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_configs_get_one_clear_line(
    tmp_path: Path, case: str, text: str, key: str | None, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path)), message
    if key:
        assert f": {key}" in message, message
    assert problem in message, message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")


def test_config_env_var_selects_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, GOOD.replace("鲜果时光", "别的牌子"))
    monkeypatch.setenv("YUQING_CONFIG", str(path))
    assert load_config().brands[0].name == "别的牌子"


@pytest.mark.parametrize(
    ("expr", "kind"),
    [
        ("every 10m", ("interval", 600)),
        ("every 30s", ("interval", 30)),
        ("*/10 * * * *", ("cron", "*/10 * * * *")),
    ],
)
def test_parse_schedule(expr: str, kind: tuple[str, object]) -> None:
    assert parse_schedule(expr) == kind


def test_cli_config_check_broken_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "[platforms.weibo]\nmax_pages = 'ten'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli.app", "config", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "platforms.weibo.max_pages" in lines[0] and "Traceback" not in proc.stderr


def test_cli_config_check_ok_shows_redacted_view(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, GOOD + "[alerts.channels.pr]\ntype='wecom'\nurl='${WECOM_URL}'\n")
    env = {
        "WECOM_URL": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SUPERSECRETKEY",
        "PATH": "/usr/bin",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli.app", "config", "check", "--json", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "SUPERSECRETKEY" not in proc.stdout
    assert '"url": "***"' in proc.stdout

"""A CLI people can trust: usage errors, file errors, help texts, short flags, choices, --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
YUQING = [sys.executable, "-m", "crawler.cli.app"]
CONFIG = """
[project]
data_dir = "{data}"
[storage]
url = "sqlite:///{data}/yuqing.db"
[[brands]]
name = "鲜果时光"
"""


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **env}
    return subprocess.run(
        [*YUQING, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=full_env
    )


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "yuqing.toml"
    path.write_text(CONFIG.format(data=tmp_path / "data"), encoding="utf-8")
    return path


def _root_command() -> Any:
    import typer.main

    from crawler.cli.app import app

    return typer.main.get_command(app)


def _walk(cmd: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out = [(path, cmd)]
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        out += _walk(sub, (*path, name))
    return out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["nosuch"], "No such command 'nosuch'."),  # unknown command
        (["query", "--bogus"], "No such option: --bogus"),  # unknown option
        (["query", "-n", "-1"], "Invalid value for '--limit' / '-n'"),  # bad value (range)
        (["serve", "--port", "99999"], "Invalid value for '--port'"),
        (["simulate", "--port", "99999"], "Invalid value for '--port'"),
        (["simulate", "--posts", "-5"], "Invalid value for '--posts'"),
        (["crawl", "weibo", "--brand", "x", "--timeout", "-5"], "Invalid value for '--timeout'"),
        (["crawl", "twitter", "--brand", "x"], "'twitter' is not one of 'weibo'"),  # bad value (choice)
        (
            ["crawl"],
            "Missing argument 'platform'. Choose from: weibo, xiaohongshu, douyin, heimao",
        ),  # missing argument
        (["complaints", "assign"], "Missing argument 'key'."),
        (["report", "daily", "-f", "doc"], "doc is not a report format (choose from html, pdf, xlsx)"),
    ],
)
def test_usage_errors_exit_2_with_the_usage_and_one_error_line(
    cfg: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    proc = _run(["--config", str(cfg), *args], tmp_path)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(lines) == 3 and lines[0].startswith("Usage: yuqing") and lines[1].startswith("Try 'yuqing"), (
        lines
    )
    assert lines[2].startswith("Error: ") and needle in lines[2], lines


def test_a_group_without_a_command_shows_its_help(tmp_path: Path) -> None:
    proc = _run(["db"], tmp_path)
    assert proc.returncode == 2 and "Commands:" in proc.stderr and "upgrade" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_file_errors_are_one_line(cfg: Path, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    a_file = tmp_path / "reports.txt"
    a_file.write_text("not a folder", encoding="utf-8")
    cases = [
        (["export", str(folder)], f"{folder} is a folder: give the file to write"),
        (["complaints", "export", "-o", str(folder), "-f", "csv"], f"{folder} is a folder"),
        (["report", "daily", "-f", "html", "-o", str(a_file)], f"--output-dir {a_file} is a file"),
        (["report", "daily", "-f", "html", "-o", str(a_file / "sub")], "Not a directory"),
        (["analyze", "--jsonl", str(tmp_path / "missing.jsonl")], "missing.jsonl"),
    ]
    for args, needle in cases:
        proc = _run(["--config", str(cfg), *args], tmp_path)
        err = proc.stderr.strip()
        assert proc.returncode == 1, (args, err)
        assert "Traceback" not in err and len(err.splitlines()) == 1 and needle in err, (args, err)
    assert a_file.read_text(encoding="utf-8") == "not a folder"  # nothing written over it


def test_help_keeps_section_names(tmp_path: Path) -> None:
    shown = {
        ("alerts", "test"): "[alerts.channels]",
        ("report",): "[reports].formats",
        ("run",): "[distributed]",
    }
    for path, needle in shown.items():
        proc = _run([*path, "--help"], tmp_path)
        assert proc.returncode == 0 and needle in " ".join(proc.stdout.split()), (path, proc.stdout)


def test_short_flags_mean_one_thing_everywhere() -> None:
    meaning = {
        "-c": {"--config"},
        "-o": {"--output", "--out", "--output-dir"},
        "-b": {"--brand"},
        "-p": {"--platform", "--platforms"},
        "-f": {"--format"},
    }
    seen: dict[str, set[str]] = {}
    for path, cmd in _walk(_root_command()):
        for param in getattr(cmd, "params", []):
            shorts = [o for o in param.opts if len(o) == 2]
            longs = [o for o in param.opts if o.startswith("--")]
            for short in shorts:
                seen.setdefault(short, set()).update(longs)
                if short in meaning:
                    assert set(longs) <= meaning[short], (path, param.opts)
    assert seen["-c"] == {"--config"} and seen["-o"] <= meaning["-o"]
    # no short flag stands for two different long names within one meaning-free family either
    assert seen.get("-s", set()) <= {"--set"}, seen.get("-s")


def test_choice_sets_match_the_canonical_ones() -> None:
    from typing import get_args

    from alerts.complaints import records as complaints
    from alerts.delivery.outbox import KINDS as ALERT_KINDS
    from crawler import config
    from crawler.cli import _choices as ch
    from crawler.service.login import LOGIN_PLATFORMS
    from spiders import SPIDERS

    assert ch.PLATFORMS == config.PLATFORMS == get_args(ch.Platform) and set(SPIDERS) == set(ch.PLATFORMS)
    assert ch.LOGIN_PLATFORMS == LOGIN_PLATFORMS == get_args(ch.LoginPlatform)
    assert ch.CATEGORIES == config.CATEGORIES == complaints.CATEGORIES == get_args(ch.Category)
    assert ch.URGENCIES == config.URGENCIES == get_args(ch.Urgency)
    assert ch.COMPLAINT_STATUSES == complaints.STATUSES == get_args(ch.ComplaintStatus)
    assert get_args(ch.AlertKind) == ALERT_KINDS


def test_every_command_that_prints_data_has_json() -> None:
    without = {
        path
        for path, cmd in _walk(_root_command())
        if not getattr(cmd, "commands", None) and not any("--json" in p.opts for p in cmd.params)
    }
    # these print no data: they act (and report one line) or run until stopped
    acting = {
        ("alerts", "receiver"),
        ("alerts", "retry"),
        ("complaints", "assign"),
        ("complaints", "note"),
        ("complaints", "verdict"),
        ("complaints", "export"),
        ("complaints", "export-labels"),
        ("complaints", "sweep"),
        ("config", "init"),
        ("export",),
        ("query",),
        ("run",),
        ("serve",),
        ("simulate",),
        ("worker",),
        ("train-sentiment",),
    }
    assert without == acting, without ^ acting


def test_serve_on_a_busy_port_is_one_line_before_any_link(cfg: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _run(["--config", str(cfg), "serve", "--port", str(port)], tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "dashboard" not in proc.stdout and "token" not in proc.stdout  # no link to someone else's server


def test_json_outputs_parse(cfg: Path, tmp_path: Path) -> None:
    for args in (
        ["db", "upgrade", "--json"],
        ["db", "status", "--json"],
        ["alerts", "channels", "--json"],
        ["login", "--status", "--no-check", "--json"],
    ):
        proc = _run(["--config", str(cfg), *args], tmp_path)
        assert proc.returncode == 0, (args, proc.stderr)
        data = json.loads(proc.stdout)
        if args[:2] == ["db", "status"]:
            assert data["migrated"] is True and data["rows"]["mentions"] == 0
        if args[0] == "login":
            assert [r["platform"] for r in data] == ["weibo", "xiaohongshu", "douyin"]
            assert all(r["state"] == "none" and r["fix"].startswith("yuqing login ") for r in data)


def test_completion_script_and_choice_completion(tmp_path: Path) -> None:
    script = _run(["--show-completion", "bash"], tmp_path)
    assert script.returncode == 0 and "_YUQING_COMPLETE=complete_bash" in script.stdout
    done = _run(
        [], tmp_path, _YUQING_COMPLETE="complete_bash", COMP_WORDS="yuqing query -p weibo,he", COMP_CWORD="3"
    )
    assert done.stdout.split() == ["weibo,heimao"]
    done = _run([], tmp_path, _YUQING_COMPLETE="complete_bash", COMP_WORDS="yuqing crawl d", COMP_CWORD="2")
    assert done.stdout.split() == ["douyin"]


def test_training_without_the_train_extra_is_one_line() -> None:
    from crawler.cli.train import TrainError, require_train_extra

    require_train_extra({"json": "json"})  # present: no error
    with pytest.raises(TrainError) as err:
        require_train_extra({"sklearn": "scikit-learn", "yuqing_no_such_module": "no-such-dist"})
    assert "no-such-dist" in str(err.value) and "pip install 'yuqing[train]'" in str(err.value)
    assert "scikit-learn" not in str(err.value)  # only what is missing is named


def test_the_run_time_imports_no_training_or_test_package() -> None:
    """scikit-learn, scipy, snownlp (train/bench extras) and aiosmtpd (dev) stay out of the analysis,
    the crawl pipeline, the API and the CLI."""
    code = (
        "import sys, crawler.cli.app, crawler.api, crawler.scraping.pipelines, simulator.demo.runner, sentiment, alerts.delivery.dispatch; "
        "import sentiment; sentiment.configure(None); sentiment.analyze('鲜果时光的橙汁喝出异物，要求退款！'); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy', 'snownlp', 'aiosmtpd', "
        "'scrapy_playwright', 'hypothesis', 'pytest'}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_the_entry_point_of_earlier_installs_still_resolves() -> None:
    # A `yuqing` script generated before the command line became a package imports
    # crawler.cli.main; `python -m crawler.cli` runs the same app.
    from crawler.cli import main
    from crawler.cli.app import main as app_main

    assert main is app_main
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0 and proc.stdout.startswith("yuqing "), proc.stderr


def test_config_init_writes_the_repositorys_config_once(tmp_path: Path) -> None:
    missing = _run(["status"], tmp_path)
    assert missing.returncode == 1 and "yuqing config init" in missing.stderr
    made = _run(["config", "init"], tmp_path)
    assert made.returncode == 0, made.stderr
    written = (tmp_path / "config" / "yuqing.toml").read_text(encoding="utf-8")
    assert written == (ROOT / "config" / "yuqing.toml").read_text(
        encoding="utf-8"
    )  # the shipped copy is current
    check = _run(["config", "check", "-q"], tmp_path)
    assert check.returncode == 0 and "2 brand(s)" in check.stdout, check.stderr
    again = _run(["config", "init"], tmp_path)
    assert again.returncode == 1 and "not overwritten" in again.stderr
    assert _run(["config", "init", "--force"], tmp_path).returncode == 0
    # where the other commands will look: --config (or YUQING_CONFIG) when given
    assert _run(["--config", "etc/my.toml", "config", "init"], tmp_path).returncode == 0
    assert _run(["--config", "etc/my.toml", "config", "check", "-q"], tmp_path).returncode == 0
    assert _run(["config", "init"], tmp_path, YUQING_CONFIG="env.toml").returncode == 0
    assert (tmp_path / "etc" / "my.toml").is_file() and (tmp_path / "env.toml").is_file()

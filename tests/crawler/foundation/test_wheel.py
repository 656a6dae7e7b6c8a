"""The wheel is the product: built from the source, installed into a fresh virtual environment,
run from a folder outside the repository. Package data (word lists, models, templates,
migrations, dashboard assets) must come with it; nothing may be read from the checkout.

The fresh environment gets yuqing from the wheel (``pip install --no-index``); its
dependencies are the ones already installed here, offered through a folder of links to
them (without this environment's own yuqing), so the test needs no network except what
building the wheel needs (setuptools, from the package index or pip's cache).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = "鲜果时光的橙汁喝出异物，要求退款！"  # the `yuqing analyze` example of docs/analysis.md
OURS = {"crawler", "sentiment", "alerts", "spiders", "simulator", "tests", "bench", "scripts"}


def _env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "YUQING_CONFIG", "YUQING_DATABASE_URL", "YUQING_DATA_DIR")
    }
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _source_copy(dest: Path) -> Path:
    """The source as a clean checkout has it: no virtual environment, build leftovers or data."""
    ignore = shutil.ignore_patterns(
        ".git",
        ".venv",
        "build",
        "dist",
        "*.egg-info",
        "data",
        "__pycache__",
        ".pytest_cache",
        ".ruff_cache",
        "artifacts",
        "out",
    )
    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def _dependency_links(dest: Path) -> Path:
    """Links to every installed distribution here except yuqing itself (and its editable hooks)."""
    dest.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        name = entry.name
        if (
            name.split(".")[0] in OURS
            or name.startswith(("__editable__", "yuqing-", "_virtualenv"))
            or name.endswith(".pth")
            or name == "__pycache__"
        ):
            continue
        (dest / name).symlink_to(entry)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    src = _source_copy(base / "src")
    wheels = base / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(),
    )
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next(wheels.glob("yuqing-*.whl"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    vsite = Path(
        subprocess.check_output(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    (vsite / "yuqing-test-deps.pth").write_text(str(_dependency_links(base / "deps")) + "\n")
    install = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(wheels),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(),
    )
    assert install.returncode == 0, install.stderr[-3000:]
    return venv


def _yuqing(venv: Path, cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "yuqing"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=_env(),
    )


def test_the_wheel_carries_its_data_and_imports_nothing_from_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    code = (
        "import crawler, sentiment, alerts, spiders, simulator, json; "
        "from crawler.service.doctor import PACKAGE_DATA; from importlib import resources; "
        "print(json.dumps({'files': [m.__file__ for m in (crawler, sentiment, alerts, spiders, simulator)], "
        "'missing': [p + '/' + f for p, f in PACKAGE_DATA if not resources.files(p).joinpath(f).is_file()], "
        "'migrations': sorted(x.name for x in resources.files('crawler').joinpath('storage/migrations/versions').iterdir() "
        "if x.name.endswith('.py'))}))"
    )
    proc = subprocess.run(
        [str(installed / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert all(f.startswith(str(installed)) for f in found["files"]), found["files"]
    assert found["missing"] == []
    shipped = sorted(p.name for p in (ROOT / "crawler" / "storage" / "migrations" / "versions").glob("*.py"))
    assert found["migrations"] == shipped


def test_analyze_the_readme_example_outside_the_repository(installed: Path, tmp_path: Path) -> None:
    proc = _yuqing(installed, tmp_path, "analyze", EXAMPLE, "--json")
    assert proc.returncode == 0, proc.stderr
    a = json.loads(proc.stdout)
    assert a["is_complaint"] is True and a["risk"] >= 50, a  # a lost word list made this "no, risk 12"
    # the checkout's verdict (a fresh process, as the wheel's): the wheel must agree
    checkout = subprocess.run(
        [sys.executable, "-m", "crawler.cli.app", "analyze", EXAMPLE, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**_env(), "PYTHONPATH": str(ROOT)},
    )
    assert checkout.returncode == 0, checkout.stderr
    here = json.loads(checkout.stdout)
    assert {k: a[k] for k in ("is_complaint", "category", "urgency", "risk", "reasons", "model_version")} == {
        k: here[k] for k in ("is_complaint", "category", "urgency", "risk", "reasons", "model_version")
    }
    assert not (tmp_path / "config").exists()  # it needed no config folder


def test_demo_outside_the_repository(installed: Path, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "config", tmp_path / "config")  # an operator's config, beside their data
    proc = _yuqing(installed, tmp_path, "demo", "--platforms", "weibo,heimao", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(report["platforms"]) == {"weibo", "heimao"}
    assert all(p["status"] == "ok" and p["new"] > 0 for p in report["platforms"].values()), report[
        "platforms"
    ]
    assert (tmp_path / "data" / "yuqing.db").is_file()
    doctor = _yuqing(installed, tmp_path, "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["install"]["status"] == "ok" and checks["database schema"]["status"] == "ok", checks

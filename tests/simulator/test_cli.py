"""``yuqing simulate`` as a process: URL first on stdout, faults from flags, clean exit on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def test_simulate_process_prints_url_serves_and_stops(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("yuqing")
    proc = subprocess.Popen(
        [
            str(exe),
            "--config",
            str(ROOT / "config/yuqing.toml"),
            "simulate",
            "--seed",
            "3",
            "--posts",
            "4",
            "--platforms",
            "weibo,heimao",
            "--faults",
            "heimao:rate_limited:1",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "YUQING_CONFIG": ""},
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.poll() is not None else url
        cookie = proc.stdout.readline().strip()
        assert cookie.startswith("weibo cookie: SUB=")
        sub = cookie.split("SUB=", 1)[1]
        index = httpx.get(url + "/__admin/").json()
        assert index["seed"] == 3 and set(index["platforms"]) == {"weibo", "heimao"}
        assert index["brands"] == ["鲜果时光", "小鹿宝贝"]
        assert httpx.get(url + "/weibo/api/config", cookies={"SUB": sub}).json()["data"]["login"] is True
        assert httpx.get(url + "/heimao/api/index/feed").status_code == 456
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0

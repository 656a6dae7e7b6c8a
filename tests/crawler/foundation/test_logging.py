"""Logging: secrets masked, stdlib records routed into loguru once."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.logging import redact


@pytest.mark.parametrize(
    ("raw", "secret"),
    [
        ("POST https://oapi.dingtalk.com/robot/send?access_token=0123abcdef&timestamp=1", "0123abcdef"),
        ("webhook https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx", "693a91f6-7xxx"),
        ("feishu https://open.feishu.cn/open-apis/bot/v2/hook/abcd-efgh-1234", "abcd-efgh-1234"),
        ("slack https://hooks.slack.com/services/T000/B000/XXXXYYYY", "XXXXYYYY"),
        ("Cookie: SUB=_2A25abc; XSRF-TOKEN=zz", "_2A25abc"),
        ("cookies SUB=_2A25xyz;", "_2A25xyz"),
        ("db postgresql+psycopg://bob:hunter2@db:5432/y", "hunter2"),
        ("customer phone 13812345678 called", "13812345678"),
        ('{"xsec_token": "ABx9f0"}', "ABx9f0"),
    ],
)
def test_redact(raw: str, secret: str) -> None:
    out = redact(raw)
    assert secret not in out
    assert "***" in out


def test_redact_keeps_phone_shape() -> None:
    assert redact("电话13812345678") == "电话138****5678"


def test_stdlib_logs_reach_file_once_and_masked(tmp_path: Path) -> None:
    code = f"""
import logging
from loguru import logger
from crawler.logging import setup_logging
setup_logging("INFO", log_dir={str(tmp_path)!r})
logging.getLogger("scrapy.core.engine").info("crawled page token=abc999 ok")
logging.getLogger("apscheduler.scheduler").warning("job missed")
logger.info("direct line 13900001111")
logger.complete()
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "yuqing.log").read_text(encoding="utf-8")
    assert text.count("crawled page") == 1 and "abc999" not in text
    assert text.count("job missed") == 1
    assert "139****1111" in text and "13900001111" not in text
    assert proc.stderr.count("crawled page") == 1
    assert "scrapy.core.engine" in text or "engine" in text


def test_intercept_handler_on_root() -> None:
    from crawler.logging import InterceptHandler, setup_logging

    setup_logging("WARNING", stderr=False)
    assert any(isinstance(h, InterceptHandler) for h in logging.getLogger().handlers)

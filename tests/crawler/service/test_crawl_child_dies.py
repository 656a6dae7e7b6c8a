"""A crawl child started by 'yuqing crawl' (crawler.service.crawl_runner) dies when its parent is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[3]
PARENT = """
import sys
from pathlib import Path
from crawler.service.crawl_runner import _supervise
log = Path(sys.argv[1])
child = [sys.executable, "-c", "import os, time; open(%r, 'w').write(str(os.getpid())); time.sleep(120)" % sys.argv[2]]
_supervise(child, [], log, timeout=None, grace=1.0, env=None, on_progress=None)
"""


@pytest.mark.slow
def test_the_crawl_child_dies_with_its_parent(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path / "log.txt"), str(pid_file)], cwd=ROOT
    )
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    child = int(pid_file.read_text())
    assert psutil.pid_exists(child)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while psutil.pid_exists(child) and psutil.Process(child).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the crawl child outlived its killed parent"
        time.sleep(0.05)

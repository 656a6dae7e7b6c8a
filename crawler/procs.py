"""Child processes of the service: start, time out, stop gracefully, never orphan.

A crawl is a ``scrapy crawl`` subprocess (the Twisted reactor cannot restart in-process).
:class:`ChildProcess` starts it in its own process group with ``PR_SET_PDEATHSIG`` so that
it gets SIGTERM when the service dies (even by ``kill -9``), waits for it with a timeout,
and stops it with SIGTERM (Scrapy's graceful shutdown: in-flight requests finish, pipelines
flush, the crawl run is closed) followed by SIGKILL after a grace period.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from loguru import logger

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:  # runs in the child between fork and exec
    """The child gets SIGTERM when the process that started it dies, even by SIGKILL (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError, TypeError):  # not Linux: the parent's own shutdown still stops children
        pass


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc ``malloc_trim``; elsewhere a no-op).

    Loading the models allocates and frees a lot of temporary memory that glibc keeps mapped;
    a long-lived worker calls this once after its start-up so its resident size is what it uses.
    """
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError, TypeError):  # not glibc (Windows: CDLL(None) is a TypeError)
        pass


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists on this host and is not a zombie."""
    import psutil

    if pid == os.getpid():
        return True
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # exists, another user's
        return True


def _child_setup() -> None:  # runs in the child between fork and exec
    os.setsid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the service's own shutdown still stops children
        pass


@dataclass(slots=True)
class ChildResult:
    returncode: int | None
    timed_out: bool
    stopped: bool  # stopped on request (service shutdown), not by the timeout
    killed: bool  # needed SIGKILL after the grace period
    seconds: float


class ChildProcess:
    """One child process with a deadline; :meth:`stop` may be called from any thread."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self._stop_requested = threading.Event()
        self._grace = 10.0
        self.started_at = 0.0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        out: int | IO[bytes] = subprocess.DEVNULL
        handle = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.log_path, "ab")  # noqa: SIM115 (closed right after Popen duplicates it)
            out = handle
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                preexec_fn=_child_setup,
                close_fds=True,
            )
        finally:
            if handle is not None:
                handle.close()
        self.started_at = time.monotonic()

    def wait(
        self, timeout: float | None, grace: float, *, also_stop: threading.Event | None = None
    ) -> ChildResult:
        """Wait until the child exits, ``timeout`` passes (then stop it), :meth:`stop` is called
        or ``also_stop`` is set (e.g. the crawl's lease was lost)."""
        assert self.proc is not None, "start() first"
        self._grace = grace
        deadline = None if timeout is None else self.started_at + timeout
        timed_out = False
        while True:
            try:
                self.proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            if also_stop is not None and also_stop.is_set():
                self._stop_requested.set()
            if self._stop_requested.is_set():
                break
            if deadline is not None and time.monotonic() >= deadline:
                timed_out = True
                logger.warning("child {} ran past its {:.0f}s timeout: stopping it", self.proc.pid, timeout)
                break
        killed = False
        if self.proc.poll() is None:
            killed = self._terminate(grace)
        return ChildResult(
            returncode=self.proc.returncode,
            timed_out=timed_out,
            stopped=self._stop_requested.is_set() and not timed_out,
            killed=killed,
            seconds=time.monotonic() - self.started_at,
        )

    def stop(self) -> None:
        """Ask :meth:`wait` to stop the child now (SIGTERM, then SIGKILL after the grace period)."""
        self._stop_requested.set()

    def _signal_group(self, sig: int) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def _terminate(self, grace: float) -> bool:
        assert self.proc is not None
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=grace)
            return False
        except subprocess.TimeoutExpired:
            logger.warning("child {} did not stop within {:.0f}s of SIGTERM: SIGKILL", self.proc.pid, grace)
            self._signal_group(signal.SIGKILL)
            self.proc.wait()
            return True


def run_child(
    argv: Sequence[str],
    *,
    timeout: float | None,
    grace: float,
    log_path: Path | None = None,
    env: dict[str, str] | None = None,
) -> ChildResult:
    """Start ``argv`` and wait for it (see :class:`ChildProcess`)."""
    child = ChildProcess(argv, log_path=log_path, env=env)
    child.start()
    return child.wait(timeout, grace)

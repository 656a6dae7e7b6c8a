"""Fault switches: which failure a platform shows, how often and for how long.

A :class:`Fault` fires on a request of its platform (optionally only on paths containing
``path``) with probability ``rate``, inside its time window (``after`` seconds from now for
``duration`` seconds; no duration = until cleared) and at most ``count`` times. The platform
module renders the fired kind the way that site really fails (see ``simulator/__init__.py``).
Spec strings for ``--faults``: ``platform:kind[:rate[:duration]]``, comma separated.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = (
    "rate_limited",
    "captcha",
    "ip_blocked",
    "auth_expired",
    "signature_rejected",
    "server_error",
    "timeout",
    "network",
    "bad_payload",
    "slow",
    "schema_change",
    "malformed_json",
)
# Kinds that damage an otherwise normal response instead of replacing it.
PAYLOAD_KINDS = frozenset({"bad_payload", "malformed_json", "schema_change"})
DELAY_KINDS = frozenset({"slow", "timeout"})
DEFAULT_DELAY = {"slow": 2.0, "timeout": 30.0}


@dataclass(slots=True)
class Fault:
    id: int
    platform: str
    kind: str
    rate: float = 1.0
    starts: float = 0.0  # time.monotonic() values
    ends: float | None = None
    count: int | None = None
    path: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    fired: int = 0

    def active(self, now: float) -> bool:
        if now < self.starts or (self.ends is not None and now >= self.ends):
            return False
        return self.count is None or self.fired < self.count

    def as_dict(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "id": self.id,
            "platform": self.platform,
            "kind": self.kind,
            "rate": self.rate,
            "starts_in": max(0.0, self.starts - now),
            "ends_in": None if self.ends is None else max(0.0, self.ends - now),
            "count": self.count,
            "path": self.path,
            "options": dict(self.options),
            "fired": self.fired,
            "active": self.active(now),
        }


class FaultBook:
    """The set of switched-on faults; thread-safe, seeded for repeatable rate draws."""

    def __init__(self, seed: int = 0) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._next_id = 1

    def add(
        self,
        platform: str,
        kind: str,
        rate: float = 1.0,
        duration: float | None = None,
        *,
        after: float = 0.0,
        count: int | None = None,
        path: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be within 0..1, got {rate}")
        if duration is not None and duration <= 0:
            raise ValueError(f"fault duration must be positive seconds, got {duration}")
        now = time.monotonic()
        with self._lock:
            fault = Fault(
                self._next_id,
                platform,
                kind,
                rate,
                now + after,
                None if duration is None else now + after + duration,
                count,
                path,
                dict(options or {}),
            )
            self._next_id += 1
            self._faults.append(fault)
        return fault

    def clear(self, platform: str | None = None, fault_id: int | None = None) -> int:
        with self._lock:
            before = len(self._faults)
            self._faults = [
                f
                for f in self._faults
                if not (
                    (platform is None or f.platform == platform) and (fault_id is None or f.id == fault_id)
                )
            ]
            return before - len(self._faults)

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._faults]

    def pick(self, platform: str, path: str) -> Fault | None:
        """The fault this request suffers, if any (the first matching one that fires)."""
        now = time.monotonic()
        with self._lock:
            for fault in self._faults:
                if fault.platform != platform or not fault.active(now):
                    continue
                if fault.path and fault.path not in path:
                    continue
                if fault.rate < 1.0 and self._rng.random() >= fault.rate:
                    continue
                fault.fired += 1
                return fault
        return None


def parse_fault_spec(spec: str) -> list[dict[str, Any]]:
    """Parse ``weibo:rate_limited:0.2,heimao:server_error:1:30`` into ``FaultBook.add`` kwargs."""
    out: list[dict[str, Any]] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        bits = part.split(":")
        if len(bits) < 2 or len(bits) > 4:
            raise ValueError(f"bad fault {part!r}: expected platform:kind[:rate[:duration]]")
        item: dict[str, Any] = {"platform": bits[0], "kind": bits[1]}
        try:
            if len(bits) > 2 and bits[2]:
                item["rate"] = float(bits[2])
            if len(bits) > 3 and bits[3]:
                item["duration"] = float(bits[3])
        except ValueError as exc:
            raise ValueError(f"bad fault {part!r}: rate and duration must be numbers") from exc
        if item["kind"] not in FAULT_KINDS:
            raise ValueError(f"bad fault {part!r}: unknown kind {item['kind']!r}")
        out.append(item)
    return out

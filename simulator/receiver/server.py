"""A loopback stand-in for the chat robots and webhooks, for tests and ``yuqing demo``.

One real HTTP server on 127.0.0.1 serves, at the platforms' own paths:

- ``POST /robot/send?access_token=T[&timestamp=&sign=]``   DingTalk custom robot
- ``POST /cgi-bin/webhook/send?key=K``                     WeCom group robot
- ``POST /open-apis/bot/v2/hook/<id>``                      Feishu custom bot
- ``POST /services/<T>/<B>/<X>``                            Slack incoming webhook
- ``POST /hooks/<name>``                                    yuqing signed JSON webhook
- ``GET  /__admin/messages[?robot=name]``                   what was accepted (JSON)

Each registered robot verifies signatures, keywords, body shape and size exactly as
``simulator/receiver/rules.py`` describes, enforces the platform's rate limit (DingTalk bans
for 10 minutes after 20 a minute), de-duplicates webhook messages by ``Idempotency-Key``,
and on demand fails the way the platform fails (:meth:`Receiver.fault`): ``down`` (the
connection drops without an answer), ``http_502``, ``rate_limited`` (130101, 45009, 11232,
429), ``busy``, ``invalid_url``, or ``hold`` (accept, then answer late). Time comes from an
injectable clock so tests can play a five-minute outage in milliseconds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from simulator.receiver import rules
from simulator.receiver.rules import Answer

FAULTS = ("down", "http_502", "rate_limited", "busy", "invalid_url", "hold")


@dataclass(slots=True)
class Robot:
    kind: str
    name: str
    path: str
    token: str = ""
    secret: str | None = None
    keywords: list[str] = field(default_factory=list)
    per_minute: int | None = None
    per_second: int | None = None
    ban_seconds: float = 0.0
    banned_until: float = 0.0
    sent: list[float] = field(default_factory=list)
    seen_keys: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Received:
    """A message a robot accepted."""

    robot: str
    kind: str
    at: float
    body: dict[str, Any]
    text: str
    key: str | None
    duplicate: bool
    headers: dict[str, str]


@dataclass(slots=True)
class Fault:
    kind: str
    until: float | None
    count: int | None
    hold_seconds: float = 0.0


class Receiver:
    """The server and its state; thread-safe. Use as a context manager or start()/stop()."""

    def __init__(self, *, clock: Callable[[], float] = time.time, enforce_limits: bool = True) -> None:
        self.clock = clock
        self.enforce_limits = enforce_limits
        self._robots: dict[str, Robot] = {}
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.requests: list[tuple[str, float, int, str]] = []  # (robot, at, status, summary)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------

    def start(self, port: int = 0) -> Receiver:
        handler = type("Handler", (_Handler,), {"receiver": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="alert-receiver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "receiver not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- robots ----------------------------------------------------------------------

    def _add(self, robot: Robot) -> str:
        with self._lock:
            self._robots[robot.name] = robot
        return self.url + robot.path

    def dingtalk(
        self,
        name: str,
        *,
        token: str | None = None,
        secret: str | None = None,
        keywords: list[str] | None = None,
        per_minute: int = 20,
        ban_seconds: float = 600.0,
    ) -> str:
        """Register a DingTalk robot; returns its webhook URL."""
        token = token or f"dt{name}"
        return self._add(
            Robot(
                "dingtalk",
                name,
                f"/robot/send?access_token={token}",
                token,
                secret,
                keywords or [],
                per_minute,
                None,
                ban_seconds,
            )
        )

    def wecom(self, name: str, *, key: str | None = None, per_minute: int = 20) -> str:
        key = key or f"wk-{name}"
        return self._add(Robot("wecom", name, f"/cgi-bin/webhook/send?key={key}", key, None, [], per_minute))

    def feishu(
        self,
        name: str,
        *,
        hook: str | None = None,
        secret: str | None = None,
        keywords: list[str] | None = None,
        per_minute: int = 100,
        per_second: int = 5,
    ) -> str:
        hook = hook or f"hook-{name}"
        return self._add(
            Robot(
                "feishu",
                name,
                f"/open-apis/bot/v2/hook/{hook}",
                hook,
                secret,
                keywords or [],
                per_minute,
                per_second,
            )
        )

    def slack(self, name: str, *, path: str | None = None, per_minute: int | None = 60) -> str:
        path = path or f"T0000/B{name}/XXXXXXXX"
        return self._add(Robot("slack", name, f"/services/{path}", path, None, [], per_minute))

    def webhook(
        self, name: str, *, hook: str | None = None, secret: str | None = None, per_minute: int | None = None
    ) -> str:
        hook = hook or name
        return self._add(Robot("webhook", name, f"/hooks/{hook}", hook, secret, [], per_minute))

    # --- faults and results --------------------------------------------------------------

    def fault(
        self,
        robot: str,
        kind: str,
        *,
        seconds: float | None = None,
        count: int | None = None,
        hold_seconds: float = 5.0,
    ) -> None:
        """Make ``robot`` fail as ``kind`` for ``seconds`` (receiver clock) or ``count`` requests, or until cleared."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r} (known: {', '.join(FAULTS)})")
        with self._lock:
            until = self.clock() + seconds if seconds is not None else None
            self._faults[robot] = Fault(kind, until, count, hold_seconds)

    def clear(self, robot: str | None = None) -> None:
        with self._lock:
            if robot is None:
                self._faults.clear()
            else:
                self._faults.pop(robot, None)

    def messages(self, robot: str | None = None) -> list[Received]:
        """Everything accepted (including re-deliveries the webhook de-duplicated)."""
        with self._lock:
            return [r for r in self.received if robot is None or r.robot == robot]

    def visible(self, robot: str | None = None) -> list[Received]:
        """What people would see: accepted messages minus webhook duplicates."""
        return [r for r in self.messages(robot) if not r.duplicate]

    def statuses(self, robot: str | None = None) -> list[str]:
        with self._lock:
            return [s for name, _at, _st, s in self.requests if robot is None or name == robot]

    # --- request handling ------------------------------------------------------------------

    def _robot_for(self, path: str, query: dict[str, str]) -> tuple[str, Robot | None]:
        if path == "/robot/send":
            kind, token = "dingtalk", query.get("access_token", "")
        elif path == "/cgi-bin/webhook/send":
            kind, token = "wecom", query.get("key", "")
        elif path.startswith("/open-apis/bot/v2/hook/"):
            kind, token = "feishu", path.rsplit("/", 1)[1]
        elif path.startswith("/services/"):
            kind, token = "slack", path[len("/services/") :]
        elif path.startswith("/hooks/"):
            kind, token = "webhook", path[len("/hooks/") :]
        else:
            return "", None
        with self._lock:
            return kind, next((r for r in self._robots.values() if r.kind == kind and r.token == token), None)

    def _take_fault(self, robot: Robot, now: float) -> Fault | None:
        fault = self._faults.get(robot.name)
        if fault is None:
            return None
        if (fault.until is not None and now >= fault.until) or fault.count == 0:
            del self._faults[robot.name]
            return None
        if fault.count is not None:
            fault.count -= 1
        return fault

    def _over_limit(self, robot: Robot, now: float) -> bool:
        if not self.enforce_limits:
            return False
        if now < robot.banned_until:
            return True
        robot.sent = [t for t in robot.sent if now - t < 60]
        per_sec = sum(1 for t in robot.sent if now - t < 1)
        if (robot.per_minute and len(robot.sent) >= robot.per_minute) or (
            robot.per_second and per_sec >= robot.per_second
        ):
            robot.banned_until = now + robot.ban_seconds if robot.ban_seconds else 0.0
            return True
        return False

    def _verify(
        self, robot: Robot, raw: bytes, query: dict[str, str], headers: dict[str, str], now: float
    ) -> tuple[Answer | None, Any]:
        if robot.kind == "dingtalk":
            return rules.check_dingtalk(raw, query, secret=robot.secret, keywords=robot.keywords, now=now)
        if robot.kind == "wecom":
            return rules.check_wecom(raw)
        if robot.kind == "feishu":
            return rules.check_feishu(raw, secret=robot.secret, keywords=robot.keywords, now=now)
        if robot.kind == "slack":
            return rules.check_slack(raw)
        return rules.check_webhook(raw, headers, secret=robot.secret, now=now)

    def handle(self, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes) -> Answer | Fault:
        """Decide the answer to one POST (a :class:`Fault` of kind down/hold is acted on by the handler)."""
        kind, robot = self._robot_for(path, query)
        if robot is None:
            return rules.INVALID_URL.get(kind, Answer(404, "not found"))
        with self._lock:
            now = self.clock()
            fault = self._take_fault(robot, now)
            answer = self._decide(robot, fault, raw, query, headers, now)
            summary = (
                "accepted"
                if answer is None
                else f"{answer.status}:{json.dumps(answer.body, ensure_ascii=False)[:80]}"
            )
            if fault is not None and fault.kind == "down":
                summary = "dropped"
            self.requests.append((robot.name, now, 0 if answer is None else answer.status, summary))
        if fault is not None and fault.kind == "down":
            return fault
        if answer is None and fault is not None and fault.kind == "hold":
            return fault
        return answer or rules.OK[robot.kind]

    def _decide(
        self,
        robot: Robot,
        fault: Fault | None,
        raw: bytes,
        query: dict[str, str],
        headers: dict[str, str],
        now: float,
    ) -> Answer | None:
        if fault is not None and fault.kind != "hold":
            table = {"rate_limited": rules.RATE_LIMITED, "busy": rules.BUSY, "invalid_url": rules.INVALID_URL}
            return (
                table[fault.kind][robot.kind]
                if fault.kind in table
                else Answer(502, "<html>502 Bad Gateway</html>")
            )
        refusal, body = self._verify(robot, raw, query, headers, now)
        if refusal is not None:
            return refusal
        if self._over_limit(robot, now):
            return rules.RATE_LIMITED[robot.kind]
        robot.sent.append(now)
        key = headers.get("idempotency-key")
        duplicate = robot.kind == "webhook" and key in robot.seen_keys
        if key:
            robot.seen_keys.add(key)
        self.received.append(
            Received(
                robot.name,
                robot.kind,
                now,
                body,
                rules.display_text(robot.kind, body),
                key,
                duplicate,
                dict(headers),
            )
        )
        if duplicate:
            return Answer(200, {"ok": True, "duplicate": True})
        return None

    def admin_messages(self, query: dict[str, str]) -> Answer:
        rows = [
            {
                "robot": r.robot,
                "kind": r.kind,
                "at": r.at,
                "text": r.text,
                "key": r.key,
                "duplicate": r.duplicate,
            }
            for r in self.messages(query.get("robot"))
        ]
        return Answer(200, {"messages": rows})


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # answer in one segment: no 40 ms delayed-ACK stall per request
    wbufsize = 65536

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def _answer(self, answer: Answer) -> None:
        data, ctype = answer.encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in answer.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        parts = urlsplit(self.path)
        if parts.path == "/__admin/messages":
            self._answer(self.receiver.admin_messages(dict(parse_qsl(parts.query))))
        else:
            self._answer(Answer(404, "not found"))

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        result = self.receiver.handle(parts.path, dict(parse_qsl(parts.query)), headers, raw)
        if isinstance(result, Fault):
            if result.kind == "down":
                self.close_connection = True
                return
            time.sleep(result.hold_seconds)
            self._answer(rules.OK[self.receiver._robot_for(parts.path, dict(parse_qsl(parts.query)))[0]])
            return
        self._answer(result)

"""What each chat platform checks on an incoming robot message, as pure functions (used by the receiver).

Every check returns ``None`` (accepted) or the platform's own refusal as a
:class:`Answer`. The codes and texts are CHANNELS.md's; the few it does not list
(marked ◐) are what the platforms answer in practice. A receiver built on these
refuses exactly what the real robot would, so a channel that passes here sends what
the platform documents.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

DINGTALK_MAX_BYTES = 20_000  # ◐ about 20 KB
WECOM_MARKDOWN_BYTES = 4_096
WECOM_TEXT_BYTES = 2_048
FEISHU_MAX_BYTES = 20 * 1024
SLACK_SECTION_CHARS = 3_000
SLACK_HEADER_CHARS = 150
SLACK_MAX_BLOCKS = 50


@dataclass(slots=True)
class Answer:
    """An HTTP answer: status, body (JSON-able or text) and headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str]:
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body, ensure_ascii=False).encode(), "application/json; charset=utf-8"


def dingtalk_error(code: int, msg: str) -> Answer:
    return Answer(200, {"errcode": code, "errmsg": msg})


def wecom_error(code: int, msg: str) -> Answer:
    return Answer(200, {"errcode": code, "errmsg": msg})


def feishu_error(code: int, msg: str) -> Answer:
    return Answer(200, {"code": code, "msg": msg, "data": {}})


OK = {
    "dingtalk": Answer(200, {"errcode": 0, "errmsg": "ok"}),
    "wecom": Answer(200, {"errcode": 0, "errmsg": "ok"}),
    "feishu": Answer(
        200, {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}
    ),
    "slack": Answer(200, "ok"),
    "webhook": Answer(200, {"ok": True}),
}
RATE_LIMITED = {
    "dingtalk": dingtalk_error(130101, "send too fast, exceed 20 times per minute"),
    "wecom": wecom_error(45009, "api freq out of limit"),
    "feishu": feishu_error(11232, "frequency limited"),
    "slack": Answer(429, "rate_limited", {"Retry-After": "1"}),
    "webhook": Answer(429, {"error": "rate limited"}, {"Retry-After": "1"}),
}
INVALID_URL = {
    "dingtalk": dingtalk_error(300001, "token is not exist"),  # ◐
    "wecom": wecom_error(93000, "invalid webhook url"),
    "feishu": feishu_error(19001, "param invalid: incoming webhook access token invalid"),  # ◐
    "slack": Answer(404, "channel_not_found"),
    "webhook": Answer(404, {"error": "no such hook"}),
}
BUSY = {
    "dingtalk": dingtalk_error(-1, "系统繁忙"),
    "wecom": wecom_error(-1, "system busy"),
    "feishu": Answer(500, {"code": 500, "msg": "internal error"}),
    "slack": Answer(500, "rollup_error"),
    "webhook": Answer(503, {"error": "unavailable"}),
}


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _has_keyword(text: str, keywords: list[str]) -> bool:
    return not keywords or any(k in text for k in keywords)


def check_dingtalk(
    raw: bytes, query: dict[str, str], *, secret: str | None, keywords: list[str], now: float
) -> tuple[Answer | None, Any]:
    """加签 (ms timestamp within an hour, sign = base64 HMAC-SHA256 keyed by the secret), keywords, body."""
    if secret is not None:
        ts = query.get("timestamp", "")
        if not ts.isdigit() or abs(int(ts) / 1000 - now) > 3600:
            return dingtalk_error(310000, "invalid timestamp"), None
        mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(mac).decode(), query.get("sign", "")):
            return dingtalk_error(310000, "sign not match"), None
    if len(raw) > DINGTALK_MAX_BYTES:
        return dingtalk_error(460101, "message too long, exceed 20000 bytes"), None  # ◐
    body = _json(raw)
    if not isinstance(body, dict):
        return dingtalk_error(40035, "缺少参数 json"), None  # ◐
    kind = body.get("msgtype")
    part = body.get(kind) if isinstance(kind, str) else None
    if kind == "markdown":
        ok = isinstance(part, dict) and all(
            isinstance(part.get(k), str) and part.get(k) for k in ("title", "text")
        )
        text = f"{part.get('title')}\n{part.get('text')}" if ok and isinstance(part, dict) else ""
    elif kind == "text":
        ok = isinstance(part, dict) and isinstance(part.get("content"), str) and bool(part.get("content"))
        text = str(part.get("content")) if ok and isinstance(part, dict) else ""
    else:
        ok, text = (
            kind in ("link", "actionCard", "feedCard") and isinstance(part, dict),
            json.dumps(part, ensure_ascii=False),
        )
    if not ok:
        return dingtalk_error(40035, f"缺少参数 {kind}"), None  # ◐
    at = body.get("at")
    if at is not None and not isinstance(at, dict):
        return dingtalk_error(40035, "缺少参数 at"), None  # ◐
    if not _has_keyword(text, keywords):
        return dingtalk_error(310000, "keywords not in content"), None
    return None, body


def check_wecom(raw: bytes) -> tuple[Answer | None, Any]:
    """Body shape and the content byte limits (markdown 4096, text 2048)."""
    body = _json(raw)
    if not isinstance(body, dict):
        return wecom_error(40037, "invalid json"), None  # ◐
    kind = body.get("msgtype")
    part = body.get(kind) if isinstance(kind, str) else None
    if kind not in ("text", "markdown", "markdown_v2") or not isinstance(part, dict):
        return wecom_error(40008, "invalid message type"), None  # ◐
    content = part.get("content")
    if not isinstance(content, str) or not content:
        return wecom_error(44004, "empty content"), None  # ◐
    limit = WECOM_TEXT_BYTES if kind == "text" else WECOM_MARKDOWN_BYTES
    if len(content.encode()) > limit:
        return wecom_error(40058, f"{kind}.content exceed max length {limit}"), None  # ◐
    return None, body


def feishu_sign(secret: str, ts: str) -> str:
    return base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()


def _feishu_text(body: dict[str, Any]) -> str | None:
    kind = body.get("msg_type")
    if kind == "text":
        content = body.get("content")
        return (
            content.get("text")
            if isinstance(content, dict) and isinstance(content.get("text"), str)
            else None
        )
    if kind == "post":
        post = (body.get("content") or {}).get("post") if isinstance(body.get("content"), dict) else None
        if not isinstance(post, dict) or not post:
            return None
        texts = []
        for lang in post.values():
            rows = lang.get("content") if isinstance(lang, dict) else None
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                return None
            texts.append(str(lang.get("title", "")))
            for row in rows:
                for tag in row:
                    if not isinstance(tag, dict) or tag.get("tag") not in (
                        "text",
                        "a",
                        "at",
                        "img",
                        "emotion",
                    ):
                        return None
                    texts.append(str(tag.get("text", "")))
        return "\n".join(texts)
    if kind == "interactive":
        card = body.get("card")
        if not isinstance(card, dict) or not isinstance(card.get("elements", []), list):
            return None
        return "\n".join(_card_strings(card))
    return None


def _card_strings(node: Any) -> list[str]:
    """The readable strings of a card (``content`` / ``text`` values), in order."""
    if isinstance(node, dict):
        out = [node[k] for k in ("content", "text") if isinstance(node.get(k), str)]
        return out + [s for k, v in node.items() if isinstance(v, dict | list) for s in _card_strings(v)]
    if isinstance(node, list):
        return [s for item in node for s in _card_strings(item)]
    return []


def check_feishu(
    raw: bytes, *, secret: str | None, keywords: list[str], now: float
) -> tuple[Answer | None, Any]:
    """20 KB limit, body shape, signature in the body (seconds within an hour), keywords."""
    if len(raw) > FEISHU_MAX_BYTES:
        return feishu_error(9499, "Bad Request"), None
    body = _json(raw)
    if not isinstance(body, dict):
        return feishu_error(9499, "Bad Request"), None
    if secret is not None:
        ts = body.get("timestamp")
        fresh = isinstance(ts, str) and ts.isdigit() and abs(int(ts) - now) <= 3600
        if not fresh or not hmac.compare_digest(feishu_sign(secret, str(ts)), str(body.get("sign", ""))):
            return feishu_error(
                19021, "sign match fail or timestamp is not within one hour from current time"
            ), None
    text = _feishu_text(body)
    if text is None:
        return feishu_error(9499, "Bad Request"), None
    if not _has_keyword(text, keywords):
        return feishu_error(19024, "Key Words Not Found"), None
    return None, body


def _slack_block_ok(block: Any) -> bool:
    if not isinstance(block, dict):
        return False
    kind, text = block.get("type"), block.get("text")
    if kind == "header":
        return (
            isinstance(text, dict)
            and text.get("type") == "plain_text"
            and 0 < len(str(text.get("text", ""))) <= SLACK_HEADER_CHARS
        )
    if kind == "section":
        return (
            isinstance(text, dict)
            and text.get("type") in ("mrkdwn", "plain_text")
            and 0 < len(str(text.get("text", ""))) <= SLACK_SECTION_CHARS
        )
    if kind == "context":
        return isinstance(block.get("elements"), list) and 0 < len(block["elements"]) <= 10
    return kind in ("divider", "actions", "image")


def check_slack(raw: bytes) -> tuple[Answer | None, Any]:
    """``text`` and/or valid ``blocks``; Slack answers errors as plain strings."""
    body = _json(raw)
    if not isinstance(body, dict):
        return Answer(400, "invalid_payload"), None
    blocks = body.get("blocks")
    if blocks is not None and (
        not isinstance(blocks, list)
        or len(blocks) > SLACK_MAX_BLOCKS
        or not all(_slack_block_ok(b) for b in blocks)
    ):
        return Answer(400, "invalid_blocks"), None
    if not (isinstance(body.get("text"), str) and body["text"]) and not blocks:
        return Answer(400, "no_text"), None
    return None, body


def check_webhook(
    raw: bytes, headers: dict[str, str], *, secret: str | None, now: float
) -> tuple[Answer | None, Any]:
    """The yuqing webhook scheme: sha256 HMAC over ``timestamp.body``, 5-minute window, idempotency key."""
    if secret is not None:
        ts = headers.get("x-yuqing-timestamp", "")
        if not ts.isdigit() or abs(int(ts) - now) > 300:
            return Answer(401, {"error": "stale or missing timestamp"}), None
        expected = "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers.get("x-yuqing-signature", "")):
            return Answer(401, {"error": "bad signature"}), None
    if not headers.get("idempotency-key"):
        return Answer(400, {"error": "missing Idempotency-Key"}), None
    body = _json(raw)
    if not isinstance(body, dict):
        return Answer(400, {"error": "invalid json"}), None
    return None, body


def display_text(kind: str, body: dict[str, Any]) -> str:
    """What a person would read in the message (for assertions and the demo)."""
    if kind == "dingtalk":
        part = body.get(body.get("msgtype", ""), {}) or {}
        return "\n".join(str(part.get(k, "")) for k in ("title", "text", "content") if part.get(k))
    if kind == "wecom":
        return str((body.get(body.get("msgtype", ""), {}) or {}).get("content", ""))
    if kind == "feishu":
        return _feishu_text(body) or ""
    if kind == "slack":
        texts = [str(body.get("text", ""))]
        for block in body.get("blocks") or []:
            if isinstance(block.get("text"), dict):
                texts.append(str(block["text"].get("text", "")))
            texts += [str(e.get("text", "")) for e in block.get("elements") or [] if isinstance(e, dict)]
        return "\n".join(texts)
    return str(body.get("text", ""))

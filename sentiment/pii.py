"""PII masking for text that is shown or sent: phones, ID cards, bank cards, e-mail, order numbers.

``mask(text)`` keeps enough to recognise the value (``138****5678``) and hides the rest;
the original text stays only in the database. ``find(text)`` lists what was found (kind,
start, end) for tests and reasons. ``\\d`` also matches full-width digits (１３８…).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9][A-Za-z0-9._%+-]{0,63})@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,12})"
)
_ID_CARD = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])"
    r"|(?<![0-9A-Za-z])[1-9]\d{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?![0-9A-Za-z])"
)
_BANK_CARD = re.compile(r"(?<![\dA-Za-z])[3-6]\d{3}(?:[ -]?\d{4}){2,3}(?:[ -]?\d{1,3})?(?![\dA-Za-z])")
_PHONE = re.compile(
    r"(?<![\dA-Za-z])(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?![\dA-Za-z])"
    r"|(?<![\dA-Za-z])0\d{2,3}-\d{7,8}(?![\dA-Za-z])"
)
_ORDER_LABELLED = re.compile(
    r"((?:订单|运单|快递单|物流单|售后单|工单|退款单|交易|流水)(?:编号|号码|号|单号)?\s*[:：#]?\s*)([A-Za-z0-9-]{6,40})"
)
_LONG_NUMBER = re.compile(r"(?<![\dA-Za-z])[A-Za-z]{0,4}\d{10,40}[A-Za-z]{0,4}(?![\dA-Za-z])")

KINDS = ("email", "id_card", "bank_card", "phone", "order_number")


def _stars(value: str, keep_head: int, keep_tail: int) -> str:
    chars = [c for c in value if c not in " -"]
    if len(chars) <= keep_head + keep_tail:
        keep_head, keep_tail = 0, min(keep_tail, max(0, len(chars) - 2))
    hidden = len(chars) - keep_head - keep_tail
    return "".join(chars[:keep_head]) + "*" * hidden + ("".join(chars[-keep_tail:]) if keep_tail else "")


def _mask_email(m: re.Match[str]) -> str:
    local = m.group(1)
    return f"{local[0]}***@{m.group(2)}"


def _mask_phone(m: re.Match[str]) -> str:
    value = m.group()
    if value.startswith("0") and "-" in value:  # landline: keep the area code
        area, number = value.split("-", 1)
        return f"{area}-{_stars(number, 0, 2)}"
    digits = [c for c in value if c.isdigit()]
    mobile = "".join(digits[-11:])
    return f"{mobile[:3]}****{mobile[-4:]}"


def _mask_order(m: re.Match[str]) -> str:
    return m.group(1) + _stars(m.group(2), 2, 4)


_RULES: tuple[tuple[str, re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    ("email", _EMAIL, _mask_email),
    ("id_card", _ID_CARD, lambda m: _stars(m.group(), 3, 4)),
    ("order_number", _ORDER_LABELLED, _mask_order),
    ("bank_card", _BANK_CARD, lambda m: _stars(m.group(), 4, 4)),
    ("phone", _PHONE, _mask_phone),
    ("order_number", _LONG_NUMBER, lambda m: _stars(m.group(), 2, 4)),
)
_QUICK = re.compile(r"\d{6}|@|\d[ -]\d")
_DIGIT = re.compile(r"\d")


def mask(text: str) -> str:
    """``text`` with every phone, ID-card, bank-card, e-mail and order number masked."""
    if (
        not text or not (_DIGIT.search(text) or "@" in text) or not _QUICK.search(text)
    ):  # most texts: no digit
        return text or ""
    for _kind, pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return text


def find(text: str) -> list[tuple[str, str]]:
    """(kind, value) of each PII value in ``text``, in rule order (each value counted once)."""
    found: list[tuple[str, str]] = []
    if not text:
        return found
    for kind, pattern, repl in _RULES:
        for m in pattern.finditer(text):
            found.append((kind, m.group()))
        text = pattern.sub(repl, text)
    return found

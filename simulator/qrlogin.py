"""A generic simulated QR login: codes waiting for a phone, the phone's confirm, and a QR-looking image.

A platform module creates a code when its login page is shown, the page polls its status, and
a test (playing the phone) confirms it through the platform's ``/__admin/qr/confirm`` hook; the
next poll then logs the browser in.
"""

from __future__ import annotations

import hashlib
import html
import secrets
import threading
from dataclasses import dataclass

WAITING, SCANNED, CONFIRMED, USED = "waiting", "scanned", "confirmed", "used"


@dataclass(slots=True)
class QrCode:
    qrid: str
    state: str = WAITING


class QrLogins:
    """The QR codes of one platform."""

    def __init__(self) -> None:
        self._codes: dict[str, QrCode] = {}
        self._lock = threading.Lock()

    def create(self) -> QrCode:
        code = QrCode(secrets.token_hex(12))
        with self._lock:
            self._codes[code.qrid] = code
        return code

    def get(self, qrid: str) -> QrCode | None:
        with self._lock:
            return self._codes.get(qrid)

    def pending(self) -> list[str]:
        with self._lock:
            return [c.qrid for c in self._codes.values() if c.state in (WAITING, SCANNED)]

    def confirm(self, qrid: str | None = None) -> QrCode | None:
        """The phone scans and confirms ``qrid`` (default: the newest pending code)."""
        with self._lock:
            if not qrid:
                waiting = [c for c in self._codes.values() if c.state in (WAITING, SCANNED)]
                code = waiting[-1] if waiting else None
            else:
                code = self._codes.get(qrid)
            if code is None or code.state == USED:
                return None
            code.state = CONFIRMED
            return code

    def consume(self, qrid: str) -> bool:
        """True once for a confirmed code: the poll that turns it into a session."""
        with self._lock:
            code = self._codes.get(qrid)
            if code is None or code.state != CONFIRMED:
                return False
            code.state = USED
            return True


def qr_svg(text: str, modules: int = 25, scale: int = 8) -> str:
    """A QR-looking SVG (three finder squares and a pattern derived from ``text``); ``text`` is in <desc>."""
    bits = bin(int.from_bytes(hashlib.sha256(text.encode()).digest() * 3, "big"))[2:]
    rects = []
    for y in range(modules):
        for x in range(modules):
            finder = next(
                (
                    (x - fx, y - fy)
                    for fx, fy in ((0, 0), (modules - 7, 0), (0, modules - 7))
                    if 0 <= x - fx < 7 and 0 <= y - fy < 7
                ),
                None,
            )
            if finder is not None:
                dx, dy = finder
                dark = dx in (0, 6) or dy in (0, 6) or (2 <= dx <= 4 and 2 <= dy <= 4)
            else:
                dark = bits[(y * modules + x) % len(bits)] == "1"
            if dark:
                rects.append(
                    f'<rect x="{(x + 2) * scale}" y="{(y + 2) * scale}" width="{scale}" height="{scale}"/>'
                )
    size = (modules + 4) * scale
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}">'
        f"<desc>{html.escape(text)}</desc>"
        f'<rect width="{size}" height="{size}" fill="#fff"/><g fill="#000">{"".join(rects)}</g></svg>'
    )

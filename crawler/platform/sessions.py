"""Login sessions: cookie jars per platform and account, stored outside git with mode 0600.

Layout under ``<data_dir>/sessions/<platform>/`` (directory mode 0700):

    <account>.json         {"platform", "account", "cookies": {name: value}, "source", "saved_at",
                            "status": "ok" | "expired", "status_reason", "user_agent",
                            "expires_at" (when the login cookies say, else null)}
    <account>.profile/     the Playwright persistent browser profile ``yuqing login`` used
    qrcode.png             the last QR code shown (headless login)
    .rotation              which account is next

Accounts come from ``[platforms.<p>].accounts`` (inline ``cookies`` or ``cookies_file``)
and from stored sessions; :meth:`SessionStore.next_session` hands them out in turn,
skipping those marked expired. Cookie values are never logged.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.clock import utcnow
from crawler.config import PLATFORMS
from crawler.errors import LoginRequired, YuqingError

if TYPE_CHECKING:
    from crawler.config import AppConfig

_ACCOUNT_RE = re.compile(r"^[\w.@-]{1,64}$")
EXPIRING_WITHIN = timedelta(days=3)  # `yuqing doctor` warns about a session ending this soon
DEFAULT_ACCOUNT = "default"


class CookieFileError(YuqingError):
    """A cookie file could not be read or holds no cookie."""


def login_command(platform: str, account: str | None = None) -> str:
    """The exact command that fixes a missing or expired session."""
    suffix = f" --account {account}" if account and account != DEFAULT_ACCOUNT else ""
    return f"yuqing login {platform}{suffix}"


# --- cookie parsing ------------------------------------------------------------------


def parse_cookie_string(text: str) -> dict[str, str]:
    """``"a=1; b=2"`` (a browser's Cookie header) → dict."""
    cookies: dict[str, str] = {}
    for part in text.replace("\n", ";").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name.strip():
            cookies[name.strip()] = value.strip().strip('"')
    return cookies


def _parse_netscape(text: str) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#HttpOnly_"):
            line = line[len("#HttpOnly_") :]
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) >= 7:
            cookies[fields[5]] = fields[6].strip()
    return cookies


def parse_cookie_text(text: str) -> dict[str, str]:
    """A cookie header string, a JSON export (list of {name, value} or a dict) or a Netscape cookies.txt."""
    stripped = text.strip().lstrip("\ufeff")
    if stripped.startswith(("[", "{")):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise CookieFileError(f"cookie file looks like JSON but is not: {exc.msg}") from exc
        if isinstance(data, dict):
            data = data.get("cookies", data)
        if isinstance(data, dict):
            return {str(k): str(v) for k, v in data.items()}
        if isinstance(data, list):
            return {
                str(c["name"]): str(c.get("value", "")) for c in data if isinstance(c, dict) and "name" in c
            }
        raise CookieFileError("cookie JSON must be a list of {name, value} or an object")
    if "\t" in stripped:
        return _parse_netscape(stripped)
    return parse_cookie_string(stripped)


def read_cookie_file(path: str | os.PathLike[str]) -> dict[str, str]:
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CookieFileError(f"cannot read cookie file {str(file)!r}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise CookieFileError(f"cookie file {str(file)!r} is not UTF-8 text") from exc
    cookies = parse_cookie_text(text)
    if not cookies:
        raise CookieFileError(f"no cookie found in {str(file)!r}")
    return cookies


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


# --- sessions --------------------------------------------------------------------------


@dataclass(slots=True)
class Session:
    platform: str
    account: str
    cookies: dict[str, str]
    source: str = "cookie-file"
    saved_at: datetime | None = None
    status: str = "ok"
    status_reason: str | None = None
    user_agent: str | None = None
    stored: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    expires_at: datetime | None = None  # the login cookies' own expiry (QR login), when known

    @property
    def expired(self) -> bool:
        return self.status == "expired"

    def lifetime(self, now: datetime | None = None, warn: timedelta = EXPIRING_WITHIN) -> str:
        """``expired`` (a platform refused it, or its cookies ran out), ``expiring`` (its cookies
        end within ``warn``) or ``valid`` (as far as yuqing knows without asking the platform)."""
        now = now or utcnow()
        if self.expired or (self.expires_at is not None and self.expires_at <= now):
            return "expired"
        if self.expires_at is not None and self.expires_at - now <= warn:
            return "expiring"
        return "valid"

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "account": self.account,
            "cookies": self.cookies,
            "source": self.source,
            "saved_at": self.saved_at.isoformat() if self.saved_at else None,
            "status": self.status,
            "status_reason": self.status_reason,
            "user_agent": self.user_agent,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


def cookies_expiry(cookies: list[dict[str, Any]], names: tuple[str, ...]) -> datetime | None:
    """The earliest expiry among the ``names`` cookies of a browser's cookie list (session
    cookies, ``expires`` -1, have none); None when none of them says."""

    ends = [
        float(c["expires"]) for c in cookies if c.get("name") in names and float(c.get("expires") or -1) > 0
    ]
    return datetime.fromtimestamp(min(ends), UTC) if ends else None


def _check_account(account: str) -> str:
    if not _ACCOUNT_RE.match(account):
        raise YuqingError(f"bad account name {account!r} (letters, digits, . _ @ - only)")
    return account


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically with mode 0600 from the start (never readable by others, not even briefly)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class SessionStore:
    """Sessions of every platform under ``root`` (``<data_dir>/sessions``)."""

    def __init__(self, root: Path, dirs: dict[str, Path] | None = None) -> None:
        self.root = Path(root)
        self.dirs = dict(dirs or {})

    @classmethod
    def from_config(cls, cfg: AppConfig) -> SessionStore:
        """The store under ``<data_dir>/sessions``, honouring ``[platforms.X].session_dir``."""

        dirs = {p: Path(d) for p in PLATFORMS if (d := cfg.platforms.get(p).session_dir)}
        return cls(cfg.data_path() / "sessions", dirs)

    def platform_dir(self, platform: str) -> Path:
        path = self.dirs.get(platform) or self.root / platform
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
        return path

    def path(self, platform: str, account: str) -> Path:
        return self.platform_dir(platform) / f"{_check_account(account)}.json"

    def profile_dir(self, platform: str, account: str) -> Path:
        return self.platform_dir(platform) / f"{_check_account(account)}.profile"

    def save(self, session: Session) -> Path:
        session.saved_at = session.saved_at or utcnow()
        path = self.path(session.platform, session.account)
        _write_private(path, json.dumps(session.to_json(), ensure_ascii=False, indent=1).encode())
        return path

    def load(self, platform: str, account: str) -> Session | None:
        path = self.path(platform, account)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError) as exc:
            raise YuqingError(
                f"session file {path} is unreadable ({exc}); run `{login_command(platform, account)}`"
            ) from exc
        try:
            if not isinstance(data, dict) or not isinstance(data.get("cookies") or {}, dict):
                raise ValueError("not a session object with a cookies map")
            saved, ends = data.get("saved_at"), data.get("expires_at")
            return Session(
                platform=platform,
                account=account,
                cookies={str(k): str(v) for k, v in (data.get("cookies") or {}).items()},
                source=str(data.get("source", "cookie-file")),
                saved_at=datetime.fromisoformat(saved) if saved else None,
                status=str(data.get("status", "ok")),
                status_reason=data.get("status_reason"),
                user_agent=data.get("user_agent"),
                expires_at=datetime.fromisoformat(ends) if ends else None,
            )
        except (ValueError, TypeError) as exc:
            raise YuqingError(
                f"session file {path} is malformed ({exc}); run `{login_command(platform, account)}`"
            ) from exc

    def stored(self, platform: str) -> list[Session]:
        out = []
        for file in sorted(self.platform_dir(platform).glob("*.json")):
            session = self.load(platform, file.stem) if _ACCOUNT_RE.match(file.stem) else None
            if session is not None:
                out.append(session)
        return out

    def mark(self, platform: str, account: str, status: str, reason: str | None = None) -> None:
        """Record that an account's session is ``expired`` (or ``ok`` again)."""
        session = self.load(platform, account)
        if session is None:
            session = Session(platform, account, {}, source="config")
        session.status, session.status_reason = status, reason
        self.save(session)

    # --- rotation ----------------------------------------------------------------------

    def candidates(self, platform: str, cfg: AppConfig | None = None) -> list[Session]:
        """Every usable session: configured accounts first, then stored ones; expired ones last."""
        found: dict[str, Session] = {}
        if cfg is not None:
            for acc in cfg.platforms.get(platform).accounts:
                found[acc.name] = self._configured(platform, acc)
        for session in self.stored(platform):
            if session.account in found:
                conf = found[session.account]
                conf.status, conf.status_reason = session.status, session.status_reason
                if not conf.cookies:
                    conf.cookies = session.cookies
            elif session.cookies:
                found[session.account] = session
        usable = [s for s in found.values() if s.cookies]
        return [s for s in usable if not s.expired] + [s for s in usable if s.expired]

    def _configured(self, platform: str, acc: Any) -> Session:
        cookies: dict[str, str] = {}
        if acc.cookies is not None:
            cookies = parse_cookie_text(acc.cookies.get_secret_value())
        elif acc.cookies_file:
            cookies = read_cookie_file(acc.cookies_file)
        return Session(platform, acc.name, cookies, source="config", stored=False)

    def next_session(self, platform: str, cfg: AppConfig | None = None, *, advance: bool = True) -> Session:
        """The next account in turn; raise :class:`LoginRequired` (with the fix) when none is usable.

        ``advance=False`` only looks: the same account is handed out by the next call.
        """
        usable = [s for s in self.candidates(platform, cfg) if not s.expired]
        if not usable:
            every = self.candidates(platform, cfg)
            hint = login_command(platform, every[0].account if every else None)
            state = "every session is expired" if every else "no login session"
            raise LoginRequired(f"{state}: run `{hint}`", platform=platform)
        with self._rotation(platform, advance) as counter:
            index = counter % len(usable)
        return usable[index]

    @contextlib.contextmanager
    def _rotation(self, platform: str, advance: bool = True) -> Iterator[int]:
        path = self.platform_dir(platform) / ".rotation"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.read(fd, 32).decode() or "0"
            counter = int(raw) if raw.isdigit() else 0
            yield counter
            if not advance:
                return
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, str(counter + 1).encode())
        finally:
            os.close(fd)

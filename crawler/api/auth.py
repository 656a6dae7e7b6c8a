"""Token authentication with two roles, and a per-client limit on failed logins.

Tokens come from ``[api].tokens`` (``viewer`` reads; ``handler`` also changes complaint
records and may export unmasked text). Clients send ``Authorization: Bearer <token>``.
Every failed attempt (``POST /api/login`` or a bad bearer token anywhere) counts against
the client address; after ``login_max_failures`` in ``login_window_seconds`` the client
gets 429 with ``Retry-After`` until the window has passed, even with a good token.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

ROLES = ("viewer", "handler")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str

    @property
    def is_handler(self) -> bool:
        return self.role == "handler"


class FailureLimiter:
    """Sliding-window count of failed attempts per client key (thread-safe, in memory)."""

    def __init__(self, max_failures: int, window_seconds: float) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again (0: allowed now)."""
        now = time.monotonic()
        with self._lock:
            hits = self._recent(key, now)
            if len(hits) < self.max_failures:
                return 0
            return max(1, int(hits[0] + self.window - now + 0.999))

    def fail(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent(key, now).append(now)
            if len(self._hits) > 10_000:  # forget idle clients
                for k in [k for k, v in self._hits.items() if not v]:
                    del self._hits[k]


class TokenAuth:
    """Resolves bearer tokens to users (constant-time comparison against every configured token)."""

    def __init__(self, tokens: list[tuple[str, str, str]], limiter: FailureLimiter) -> None:
        self._tokens = [(name, secret.encode(), role) for name, secret, role in tokens]
        self.limiter = limiter

    def lookup(self, token: str) -> User | None:
        given = token.encode()
        found: User | None = None
        for name, secret, role in self._tokens:
            if hmac.compare_digest(given, secret):
                found = User(name, role)
        return found

    def check(self, request: Request, token: str | None) -> User:
        """The user for ``token``, or 401/429 (counting the failure)."""
        key = client_key(request)
        wait = self.limiter.retry_after(key)
        if wait:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                detail=f"登录失败次数过多，请 {wait} 秒后再试",
                headers={"Retry-After": str(wait)},
            )
        user = self.lookup(token) if token else None
        if user is None:
            if token:  # only a wrong token is a failed login: a missing one is no attempt
                self.limiter.fail(key)
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="未登录或令牌无效",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return user


def client_key(request: Request) -> str:
    """The address failures are counted against: the direct peer, or the client a trusted proxy
    names (uvicorn rewrites the peer from X-Forwarded-For only for ``[api] trusted_proxies``)."""
    return request.client.host if request.client else "unknown"


bearer_scheme = HTTPBearer(auto_error=False, description="A token from [api].tokens (viewer or handler).")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def current_user(request: Request, credentials: Credentials) -> User:
    """FastAPI dependency: any authenticated user (documented as HTTP bearer in the OpenAPI spec)."""
    auth: TokenAuth = request.app.state.auth
    token = credentials.credentials.strip() if credentials else None
    return auth.check(request, token or None)


def handler_user(request: Request, credentials: Credentials) -> User:
    """FastAPI dependency: a user with the ``handler`` role (else 403)."""
    user = current_user(request, credentials)
    if not user.is_handler:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="需要处理人 (handler) 权限")
    return user

"""The simulator's knobs (:class:`SimOptions`), the brands it writes about and its login sessions."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simulator.model import BrandSpec

if TYPE_CHECKING:
    from crawler.config import AppConfig

HEIMAO_SECRET = "$d6eb7ff91ee257475%"
# A Weibo ``SUB`` cookie value the simulator always accepts (until sessions are expired).
WEIBO_TEST_SUB = "_2A25SIMyuqingTESTsub0000000000"
DEFAULT_BRANDS = (
    BrandSpec("鲜果时光", ("鲜果", "XGSG"), ("鲜榨橙汁", "芒果冰沙", "鲜果时光轻食杯"), "5650743478"),
    BrandSpec("小鹿宝贝", ("小鹿", "XLBB"), ("小鹿宝贝奶粉", "小鹿宝贝纸尿裤"), "7123456780"),
)


@dataclass(slots=True)
class SimOptions:
    """Everything that shapes the world and the server; all optional."""

    seed: int = 7
    posts_per_brand: int | dict[str, int] | None = None  # None: each platform's default
    comments_per_post: tuple[int, int] = (0, 6)
    sub_comment_rate: float = 0.15
    days: float = 7.0  # posts spread over this many days before now
    crisis: bool = True
    crisis_size: int = 24  # reposts on a platform with crisis_share 1.0
    crisis_age_hours: float = 5.0
    crisis_window_minutes: float = 90.0
    page_size: int = 10
    comment_page_size: int = 20
    live: bool = False
    live_interval: float = 5.0  # seconds between live ticks
    live_posts: int = 1  # new posts per tick
    heimao_secret: str = HEIMAO_SECRET
    heimao_feed_max_pages: int = 50
    weibo_max_pages: int | None = None  # None: no cap on search pages
    test_sessions: dict[str, list[str]] = field(default_factory=lambda: {"weibo": [WEIBO_TEST_SUB]})
    rate_limits: dict[str, int] = field(default_factory=dict)  # platform -> requests/min before it blocks
    platforms: tuple[str, ...] | None = None  # None: every registered platform
    # crisis tracking (simulator/crisis.py)
    hot_enter_after: float = (
        300.0  # seconds after start the brand topic enters Weibo hot search (Douyin +120 s)
    )
    hot_speed: float = 1.0  # the brand topic's path on the lists runs this many times faster
    reposts: int = 120  # reposts of the crisis' first Weibo post
    repost_hours: float = 12.0  # over this many hours after it was published (logistic growth)

    def posts_for(self, platform: str, default: int) -> int:
        if self.posts_per_brand is None:
            return default
        if isinstance(self.posts_per_brand, int):
            return self.posts_per_brand
        return int(self.posts_per_brand.get(platform, default))


def derive_couid(name: str) -> str:
    return str(5_000_000_000 + int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 4_000_000_000)


def brand_specs(brands: Iterable[Any] | None, cfg: AppConfig | None) -> tuple[BrandSpec, ...]:
    """Normalise brands given as names, dicts, ``BrandConfig`` objects or an ``AppConfig``."""
    source: Iterable[Any] = (
        brands if brands is not None else (cfg.brands if cfg is not None else DEFAULT_BRANDS)
    )
    out: list[BrandSpec] = []
    for b in source:
        if isinstance(b, BrandSpec):
            out.append(b)
        elif isinstance(b, str):
            out.append(BrandSpec(b, couid=derive_couid(b)))
        elif isinstance(b, (list, tuple)):  # [name, alias, ...]
            out.append(BrandSpec(str(b[0]), tuple(str(a) for a in b[1:]), couid=derive_couid(str(b[0]))))
        else:
            get = b.get if isinstance(b, Mapping) else (lambda k, d=None, _b=b: getattr(_b, k, d))
            couids = list(get("heimao_couid", None) or [])
            name = str(get("name"))
            out.append(
                BrandSpec(
                    name,
                    tuple(get("aliases", None) or ()),
                    tuple(get("products", None) or ()),
                    str(couids[0]) if couids else derive_couid(name),
                )
            )
    if not out:
        raise ValueError("the simulator needs at least one brand")
    return tuple(out)


class SessionStore:
    """Login sessions per platform: tokens the simulator issued plus configured test values."""

    def __init__(self, test_values: Mapping[str, Iterable[str]] | None = None) -> None:
        self._lock = threading.Lock()
        self._test = {p: set(v) for p, v in (test_values or {}).items()}
        self._valid: dict[str, set[str]] = {p: set(v) for p, v in self._test.items()}

    def issue(self, platform: str, token: str | None = None) -> str:
        token = token or f"_2A25{secrets.token_hex(14)}"
        with self._lock:
            self._valid.setdefault(platform, set()).add(token)
        return token

    def valid(self, platform: str, token: str | None) -> bool:
        if not token:
            return False
        with self._lock:
            return token in self._valid.get(platform, ())

    def expire(self, platform: str | None = None) -> None:
        """Invalidate every session (issued and test values) of one or all platforms."""
        with self._lock:
            for p in [platform] if platform else list(self._valid):
                self._valid[p] = set()

    def restore_test_values(self) -> None:
        with self._lock:
            for p, values in self._test.items():
                self._valid.setdefault(p, set()).update(values)

"""The simulated world: authors, posts, comments and complaints for every platform, and its ground truth.

Deterministic by seed: the same seed gives the same texts, authors, ids and ages (timestamps
are ``now`` minus the age). Everything published — at start, by ``publish()`` or by the live
ticker — is appended to the ground truth. All access goes through ``World.lock``.
"""

from __future__ import annotations

import math
import os
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from simulator import phrases as ph
from simulator.corpus import Corpus, Draft, PlanItem
from simulator.crisis import Cascade, HotBoard
from simulator.model import Author, BrandSpec, Post

if TYPE_CHECKING:
    from simulator.options import SessionStore, SimOptions
    from simulator.registry import PlatformSim

ID_SPAN = 20_000_000  # seconds of id space before t0 (~231 days)


# A time-accelerated run (bench/alert_quality.py --live) shifts the product's clock with this
# variable (crawler/clock.py); the simulated platforms follow it, as the real ones share real time.
CLOCK_ENV = "YUQING_CLOCK_OFFSET_SECONDS"
_shift: tuple[str, timedelta] = ("", timedelta(0))


def now_utc() -> datetime:
    """The simulator's now: the wall clock, shifted as the product's clock is."""
    global _shift
    raw = os.environ.get(CLOCK_ENV, "")
    if raw != _shift[0]:
        try:
            seconds = float(raw) if raw.strip() else 0.0
            if not math.isfinite(seconds) or abs(seconds) > 10 * 366 * 86_400:
                raise ValueError(raw)
            _shift = (raw, timedelta(seconds=seconds))
        except (ValueError, OverflowError):  # the product refuses it with a clear error; real time here
            _shift = (raw, timedelta(0))
    return (datetime.now(UTC) + _shift[1]).replace(microsecond=0)


@dataclass(slots=True)
class SimContext:
    """What platform modules can reach: options, brands, sessions, the world and each other."""

    options: SimOptions
    brands: tuple[BrandSpec, ...]
    sessions: SessionStore
    platforms: dict[str, PlatformSim] = field(default_factory=dict)
    world: World | None = None

    def brand(self, name: str) -> BrandSpec:
        return next(b for b in self.brands if b.name == name)


class AuthorPool:
    """A platform's accounts: ordinary users (< 100,000 followers), big accounts, media, brand officials."""

    def __init__(self, plat: PlatformSim, brands: tuple[BrandSpec, ...], rng: random.Random) -> None:
        def make(name: str, followers: int, vtype: int = -1, reason: str = "") -> Author:
            return Author(
                plat.new_author_id(rng),
                name,
                followers,
                vtype >= 0,
                vtype,
                reason,
                rng.choice("mf"),
                "",
                rng.randint(10, 30000),
                rng.choice(ph.REGIONS),
            )

        self.ordinary = [
            make(self._nick(rng, i), min(99_999, int(rng.lognormvariate(5.0, 1.7)))) for i in range(240)
        ]
        self.ordinary.append(make("边界用户九九九", 99_999))
        self.big = [make(n, rng.randint(150_000, 5_000_000), t, r) for n, t, r in ph.BIG_V if t == 0]
        self.big.append(make("刚好十万粉", 100_000, 0, "生活博主"))
        self.media = [make(n, rng.randint(500_000, 20_000_000), t, r) for n, t, r in ph.BIG_V if t == 3]
        self.official = {
            b.name: make(f"{b.name}官方", rng.randint(200_000, 3_000_000), 2, f"{b.name}官方账号")
            for b in brands
        }

    @staticmethod
    def _nick(rng: random.Random, i: int) -> str:
        tail = rng.choice(ph.NICK_TAILS)
        return f"{rng.choice(ph.NICK_HEADS)}{tail}{i if rng.random() < 0.5 else ''}"

    def pick(self, reach: str, brand: str, rng: random.Random) -> Author:
        if reach == "big_v":
            return rng.choice(self.big)
        if reach == "media":
            return rng.choice(self.media)
        if reach == "official":
            return self.official[brand]
        return rng.choice(self.ordinary)


def _engagement(reach: str, rng: random.Random) -> tuple[int, int, int]:
    """(likes, comments, shares); only ``viral`` crosses RUBRIC.md's 1,000 threshold."""
    if reach == "viral":
        return rng.randint(2_000, 60_000), rng.randint(300, 8_000), rng.randint(200, 20_000)
    likes = min(500, int(rng.paretovariate(1.3)) - 1 + rng.randint(0, 8))
    return likes, min(200, rng.randint(0, 12) + int(rng.paretovariate(2.0)) - 1), min(200, rng.randint(0, 6))


class World:
    """All published content and the operations that change it."""

    def __init__(self, ctx: SimContext, now: datetime | None = None) -> None:
        self.ctx = ctx
        self.opts = ctx.options
        self.lock = threading.RLock()
        self.rng = random.Random(self.opts.seed)
        self.corpus = Corpus(self.rng)
        ctx.world = self
        self.t0 = (now or now_utc()).astimezone(UTC).replace(microsecond=0)
        self.version = 0  # bumps on any change
        self.content_version = 0  # bumps when posts are added
        self.posts: dict[str, list[Post]] = {p: [] for p in ctx.platforms}
        self.index: dict[str, dict[str, Post]] = {p: {} for p in ctx.platforms}
        self.log: list[Post] = []
        self._used_ids: dict[str, set[int]] = {p: set() for p in ctx.platforms}
        self._cache: dict[tuple[str, str, str], tuple[int, list[Post]]] = {}
        self.pools = {name: AuthorPool(plat, ctx.brands, self.rng) for name, plat in ctx.platforms.items()}
        self._generate()
        self.hot: dict[str, HotBoard] = {}
        self.cascades: dict[str, Cascade] = {}
        self._crisis_tracking()

    def is_hot_topic(self, keyword: str) -> bool:
        kw = keyword.strip().strip("#").casefold()
        return any(kw == b.brand_word.casefold() for b in getattr(self, "hot", {}).values())

    def hot_topic_enters(self, at: datetime, douyin_after: float = 120.0) -> None:
        """The brand topic enters Weibo hot search at ``at`` and the Douyin hot list ``douyin_after`` s later."""
        for platform, board in self.hot.items():
            board.enter(at + timedelta(seconds=douyin_after if platform == "douyin" else 0.0))

    def _crisis_tracking(self) -> None:
        """Hot lists (Weibo, Douyin) and the repost cascade of the crisis' first Weibo post."""
        opts, brand = self.opts, self.ctx.brands[0]
        short = min(brand.aliases, key=len) if brand.aliases else brand.name[:2]
        decoys = [f"新{short}汁夏日特饮", f"{brand.name}校园招聘"]
        enter = self.t0 + timedelta(seconds=opts.hot_enter_after)
        if "weibo" in self.ctx.platforms:
            self.hot["weibo"] = HotBoard(
                "weibo",
                opts.seed,
                self.t0,
                [f"{brand.name}门店被曝使用过期水果", *decoys],
                enter,
                opts.hot_speed,
                brand_ad=f"{brand.name}夏日新品上市",
            )
            crisis = [p for p in self.posts["weibo"] if p.crisis]
            if crisis and opts.reposts > 0:
                root = crisis[0]
                self.cascades[root.post_id] = Cascade(
                    self, root, opts.reposts, opts.repost_hours, random.Random(f"{opts.seed}-cascade")
                )
        if "douyin" in self.ctx.platforms:
            self.hot["douyin"] = HotBoard(
                "douyin",
                opts.seed,
                self.t0,
                [f"{brand.name}过期水果事件", *decoys[:1]],
                enter + timedelta(seconds=120),
                opts.hot_speed,
            )

    # --- ids ---------------------------------------------------------------------------------

    def time_id(self, platform: str, published_at: datetime, base: int, scale: int) -> int:
        """A unique id that grows with publication time (like Weibo mids), independent of ``now``."""
        rel = int((published_at - self.t0).total_seconds()) + ID_SPAN
        used = self._used_ids[platform]
        value = base + rel * scale + self.rng.randrange(scale)
        while value in used:
            value += 1
        used.add(value)
        return value

    # --- generation ----------------------------------------------------------------------------

    def _generate(self) -> None:
        opts, rng = self.opts, self.rng
        span = opts.days * 86_400
        for name, plat in self.ctx.platforms.items():
            batch: list[tuple[float, BrandSpec, Draft, bool]] = []
            for brand in self.ctx.brands:
                n = opts.posts_for(name, plat.default_posts)
                for item in self.corpus.plan(n, complaints_only=plat.complaints_only):
                    draft = self.corpus.post(brand, item, plat.style)
                    batch.append((rng.uniform(90, span - 600), brand, draft, False))
            n_crisis = round(opts.crisis_size * plat.crisis_share) if opts.crisis else 0
            if n_crisis:
                start = opts.crisis_age_hours * 3600
                for i, draft in enumerate(self.corpus.crisis(self.ctx.brands[0], n_crisis, plat.style)):
                    age = start if i == 0 else start - rng.uniform(60, opts.crisis_window_minutes * 60)
                    batch.append((age, self.ctx.brands[0], draft, True))
            batch.sort(key=lambda t: -t[0])
            for age, brand, draft, crisis in batch:
                post = self._make(plat, brand, draft, self.t0 - timedelta(seconds=int(age)), crisis=crisis)
                self._add(post)
            self._link_crisis(name)
            if plat.has_comments:
                for post in list(self.posts[name]):
                    self._comment_tree(plat, post)
        self.log.sort(key=lambda p: (p.published_at, p.platform != "weibo", p.kind != "post"))
        for i, post in enumerate(self.log):
            post.seq = i
        self.content_version += 1

    def _make(
        self,
        plat: PlatformSim,
        brand: BrandSpec,
        draft: Draft,
        published_at: datetime,
        *,
        kind: str | None = None,
        crisis: bool = False,
        parent: Post | None = None,
    ) -> Post:
        rng = self.rng
        author = self.pools[plat.name].pick(draft.reach, brand.name, rng)
        likes, comments, shares = (0, 0, 0) if plat.complaints_only else _engagement(draft.reach, rng)
        if parent is not None:
            likes, comments, shares = min(likes, 300), 0, 0
        post = Post(
            plat.name,
            "",
            kind or ("complaint" if plat.complaints_only else "post"),
            brand.name,
            draft.text,
            author,
            published_at,
            draft.label,
            title=draft.title,
            likes=likes,
            comments=comments,
            shares=shares,
            collects=0 if plat.complaints_only else likes // 7,
            ip_region=rng.choice(ph.REGIONS),
            crisis=crisis,
            extra=dict(draft.fields),
            parent_post_id=parent.post_id if parent is not None else None,
        )
        plat.finish(post, draft, rng)
        return post

    def _add(self, post: Post, parent: Post | None = None) -> None:
        if parent is None:
            self.posts[post.platform].append(post)
        else:
            parent.replies.append(post)
        self.index[post.platform][post.post_id] = post
        post.seq = len(self.log)
        self.log.append(post)

    def _link_crisis(self, platform: str) -> None:
        crisis = [p for p in self.posts[platform] if p.crisis]
        for post in crisis[1:]:
            if self.rng.random() < 0.5:
                post.extra["repost_of"] = crisis[0].post_id

    def _comment_tree(self, plat: PlatformSim, post: Post, count: int | None = None) -> None:
        rng, opts = self.rng, self.opts
        lo, hi = opts.comments_per_post
        k = rng.randint(lo, hi) if count is None else count
        if post.engagement >= 1000 and hi:
            k += hi
        room = (self.t0 - post.published_at).total_seconds()
        if room < 120:
            return
        brand = self.ctx.brand(post.brand)
        for i in range(k):
            official = post.label.is_complaint and i == 0 and rng.random() < 0.3
            draft = self.corpus.comment(brand, post.label, official=official)
            when = post.published_at + timedelta(seconds=int(rng.uniform(60, min(room, 172_800))))
            com = self._make(plat, brand, draft, when, kind="comment", parent=post)
            self._add(com, parent=post)
            if rng.random() < opts.sub_comment_rate and (self.t0 - when).total_seconds() > 120:
                reply = self.corpus.comment(brand, post.label)
                reply.text = f"回复@{com.author.name}:{reply.text}"
                later = when + timedelta(seconds=int(rng.uniform(30, (self.t0 - when).total_seconds() - 30)))
                sub = self._make(plat, brand, reply, later, kind="comment", parent=post)
                sub.extra["root_id"] = com.post_id
                self._add(sub, parent=com)
        post.comments = max(post.comments, self.count_comments(post))

    @staticmethod
    def count_comments(post: Post) -> int:
        return sum(1 + len(c.replies) for c in post.replies)

    # --- queries ---------------------------------------------------------------------------------

    def search(self, platform: str, keyword: str, order: str = "time") -> list[Post]:
        """Top-level posts whose title or text contains ``keyword`` (case-insensitive).

        ``order``: ``time`` newest first, ``hot`` by engagement and recency.
        """
        kw = keyword.strip().casefold()
        key = (platform, kw, order)
        with self.lock:
            version = self.content_version if order == "time" else self.version
            hit = self._cache.get(key)
            if hit is not None and hit[0] == version:
                return hit[1]
            found = [p for p in self.posts[platform] if kw and kw in p.search_text]
            if self.is_hot_topic(kw):  # a hot topic's search shows the crisis posts (its topic page)
                found = [p for p in self.posts[platform] if p.crisis] or found
            if order == "hot":
                now = now_utc()
                found.sort(
                    key=lambda p: (
                        math.log1p(p.engagement) * 2 - (now - p.published_at).total_seconds() / 43_200,
                        p.seq,
                    ),
                    reverse=True,
                )
            else:
                found.sort(key=lambda p: (p.published_at, p.seq), reverse=True)
            self._cache[key] = (version, found)
            return found

    def get(self, platform: str, post_id: str) -> Post | None:
        with self.lock:
            return self.index[platform].get(post_id)

    def truth(
        self,
        platform: str | None = None,
        *,
        kind: str | None = None,
        brand: str | None = None,
        keyword: str | None = None,
    ) -> list[dict[str, Any]]:
        """Ground-truth records in publication order; ``keyword`` keeps matching posts and their comments."""
        with self.lock:
            keep: set[int] | None = None
            if keyword is not None:
                keep = set()
                for plat in [platform] if platform else list(self.posts):
                    for post in self.search(plat, keyword):
                        keep.add(id(post))
                        for com in post.replies:
                            keep.add(id(com))
                            keep.update(id(r) for r in com.replies)
            return [
                p.truth()
                for p in self.log
                if (platform is None or p.platform == platform)
                and (kind is None or p.kind == kind)
                and (brand is None or p.brand == brand)
                and (keep is None or id(p) in keep)
            ]

    # --- changes -----------------------------------------------------------------------------------

    def publish(
        self, n: int = 1, platform: str | None = None, brand: str | None = None, item: PlanItem | None = None
    ) -> list[Post]:
        """Publish ``n`` new posts now (random platform/brand unless given)."""
        out: list[Post] = []
        with self.lock:
            names = list(self.ctx.platforms)
            weights = [self.ctx.platforms[n_].default_posts for n_ in names]
            for _ in range(n):
                plat = self.ctx.platforms[platform or self.rng.choices(names, weights=weights)[0]]
                spec = self.ctx.brand(brand) if brand else self.rng.choice(self.ctx.brands)
                draft = self.corpus.post(
                    spec, item or self.corpus.random_item(complaints_only=plat.complaints_only), plat.style
                )
                post = self._make(plat, spec, draft, now_utc())
                self._add(post)
                out.append(post)
            self.content_version += 1
            self.version += 1
        return out

    def publish_burst(self, brand: str, platform: str, n: int) -> list[Draft]:
        """The drafts of a live crisis burst of ``brand`` on ``platform`` (an original and ``n - 1``
        reposts, the same story on every platform), to publish one by one with :meth:`publish_draft`."""
        with self.lock:
            return self.corpus.crisis(self.ctx.brand(brand), n, self.ctx.platforms[platform].style)

    def publish_draft(
        self, platform: str, brand: str, draft: Draft, *, crisis: bool = False, repost_of: str | None = None
    ) -> Post:
        """Publish one written post now (a crisis burst's post; ``repost_of``: the post it reposts)."""
        with self.lock:
            post = self._make(
                self.ctx.platforms[platform], self.ctx.brand(brand), draft, now_utc(), crisis=crisis
            )
            if repost_of is not None:
                post.extra["repost_of"] = repost_of
            self._add(post)
            self.content_version += 1
            self.version += 1
            return post

    def add_comment(self, post: Post) -> Post | None:
        with self.lock:
            plat = self.ctx.platforms[post.platform]
            if not plat.has_comments:
                return None
            brand = self.ctx.brand(post.brand)
            com = self._make(
                plat, brand, self.corpus.comment(brand, post.label), now_utc(), kind="comment", parent=post
            )
            self._add(com, parent=post)
            post.comments = max(post.comments + 1, self.count_comments(post))
            self.version += 1
            return com

    def boost(self, platform: str, post_id: str, likes: int = 0, comments: int = 0, shares: int = 0) -> Post:
        with self.lock:
            post = self.index[platform].get(post_id)
            if post is None:
                raise KeyError(f"{platform} has no post {post_id}")
            post.likes += likes
            post.comments += comments
            post.shares += shares
            post.relabel_virality()
            self.version += 1
            return post

    def tick(self) -> list[Post]:
        """One live step: new posts, growing engagement of recent posts, a new comment, state changes."""
        with self.lock:
            rng = self.rng
            new = self.publish(self.opts.live_posts)
            cutoff = now_utc() - timedelta(hours=24)
            for posts in self.posts.values():
                for post in reversed(posts):
                    if post.published_at < cutoff:
                        break
                    if post.kind == "post" and rng.random() < 0.3:
                        factor = 20 if post.crisis else 1
                        post.likes += rng.randint(1, 12) * factor
                        post.shares += rng.randint(0, 3) * factor
                        post.relabel_virality()
            recent = [p for ps in self.posts.values() for p in ps[-20:] if p.kind == "post"]
            if recent and rng.random() < 0.5:
                com = self.add_comment(rng.choice(recent))
                if com is not None:
                    new.append(com)
            for name, plat in self.ctx.platforms.items():
                if self.posts[name]:
                    plat.evolve(rng.choice(self.posts[name]), rng)
            self.version += 1
            return new

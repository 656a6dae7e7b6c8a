"""Crisis tracking in the simulated world: hot lists that change over time, and a repost cascade.

**Hot lists** (PLATFORMS.md §4b). Each list (Weibo hot search, Douyin hot list) is a pure function
of the clock: a pool of everyday topics, each with its own onboard time and heat curve, ranked by
heat at the moment asked. The demo brand's crisis topic enters ``hot_enter_after`` seconds after the
world started (Douyin two minutes later), climbs into the top 10, gains 沸 then 爆, and fades after
some hours; ``hot_speed`` runs that path faster. Weibo also shows paid placements (``is_ad``, 荐),
one of them the brand's own advertisement, plus decoys a naive matcher gets wrong: a topic with the
brand's short alias inside another word (新鲜果汁) and one with the brand's exclusion word (招聘).
:meth:`HotBoard.truth` says when each topic entered and its path so far.

**Repost cascade.** The crisis' first Weibo post spreads as a tree of ``reposts`` reposts over
``repost_hours`` hours after it was published (a logistic growth curve). Every repost names the
repost it was made from in the ``//@name:`` chain of its text (none when made from the post
itself), as Weibo's repost timeline shows it; a few big-V and media accounts join along the way and
draw many reposts below them. :meth:`Cascade.truth` holds the true tree: parents, followers, and
each spreader's reach (its followers plus its whole subtree's followers).
"""

from __future__ import annotations

import bisect
import math
import random
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from simulator.model import Author, Post

if TYPE_CHECKING:
    from simulator.world import World

# --- hot lists ---------------------------------------------------------------------------------

EVERYDAY_TOPICS = (
    "高考志愿填报指南",
    "台风路径最新消息",
    "周末气温大跳水",
    "国产大飞机交付",
    "某顶流演唱会门票秒空",
    "城市马拉松报名开启",
    "新能源车下乡",
    "暑期档电影票房",
    "夏季防溺水提醒",
    "银行存款利率调整",
    "毕业生租房攻略",
    "中超联赛第十轮",
    "某地发现恐龙足迹",
    "网友晒出最美晚霞",
    "年轻人开始攒钱",
    "高铁新线开通",
    "国际空间站新实验",
    "博物馆夜场开放",
    "多地发布高温预警",
    "大熊猫幼崽满月",
    "外卖骑手的一天",
    "春运火车票开售",
    "电视剧大结局",
    "奥运冠军回母校",
    "油价调整窗口开启",
    "考研报名人数公布",
    "宠物医院收费引热议",
    "地铁新规实施",
    "手机新品发布会",
    "冰川融化速度加快",
    "校园食堂排行榜",
    "月全食观测指南",
    "熬夜的危害",
    "动画电影定档",
    "乡村振兴新样板",
    "网购退货新规",
    "早高峰通勤时长",
    "网红景区排长队",
    "明星公益活动",
    "篮球联赛总决赛",
    "高速免费通行",
    "睡眠经济兴起",
    "二手房成交回暖",
    "相亲角观察",
    "沙尘暴天气来袭",
    "科学家发现新物种",
    "孩子暑假去哪儿",
    "健身房倒闭潮",
    "古装剧服化道",
    "城市夜经济",
    "快递涨价传闻",
    "航班取消最新通知",
    "新学期开学安排",
    "一家三口的旅行",
    "人工智能写作文",
    "露营装备选购",
    "老字号新品上市",
    "咖啡价格战",
    "国产动画出海",
    "年度热词公布",
)
ADS = ("夏日清凉好物节", "某品牌手机新品首发", "金融理财节限时福利")
WEIBO_LABELS = ("新", "热", "沸", "爆")
DOUYIN_LABELS = {1: "新", 3: "热", 8: "独家"}
# The brand topic's path after it enters: (minutes since entering, rank on the list).
TOPIC_PATH = (
    (0, 38),
    (5, 22),
    (10, 12),
    (15, 8),
    (20, 4),
    (30, 2),
    (60, 1),
    (120, 3),
    (180, 10),
    (360, 30),
    (480, 51),
)
LIST_SIZE = 50


@dataclass(slots=True)
class _Topic:
    word: str
    onboard: datetime
    peak: int
    life_h: float  # hours the heat takes to fall by e
    category: str


@dataclass(slots=True)
class HotEntry:
    """One line of a hot list as the simulator ranks it (``rank`` 1-based, ads included)."""

    word: str
    heat: int
    rank: int
    label: str = ""
    is_ad: bool = False
    onboard: datetime | None = None
    category: str = ""
    brand_topic: bool = False


class HotBoard:
    """One platform's hot list over time."""

    def __init__(
        self,
        platform: str,
        seed: int,
        start: datetime,
        brand_words: list[str],
        enter_at: datetime,
        speed: float,
        brand_ad: str = "",
    ) -> None:
        rng = random.Random(f"{seed}-{platform}-hot")
        self.platform, self.start, self.enter_at, self.speed = platform, start, enter_at, speed
        self.brand_ad = brand_ad  # with it the list shows paid placements (Weibo), this one the brand's own
        self.brand_word = brand_words[0]
        self.decoys = brand_words[1:]
        self.topics: list[_Topic] = []
        words = list(EVERYDAY_TOPICS)
        rng.shuffle(words)
        for i, word in enumerate(words):
            # half already on the list at start, the rest arrive over the next two days
            at = (
                start - timedelta(hours=rng.uniform(0, 8))
                if i < 36
                else start + timedelta(minutes=20 * (i - 35) + rng.uniform(0, 15))
            )
            self.topics.append(
                _Topic(
                    word,
                    at,
                    rng.randint(400_000, 5_500_000),
                    rng.uniform(3, 10),
                    rng.choice(("社会", "娱乐", "体育", "科技", "生活")),
                )
            )
        for j, word in enumerate(self.decoys):  # never the brand's story, always somewhere on the list
            self.topics.append(
                _Topic(word, start - timedelta(minutes=30 + 40 * j), 1_800_000 - j * 300_000, 30.0, "生活")
            )

    def enter(self, at: datetime) -> None:
        """Let the brand topic enter the list at ``at`` instead (the demo lets it in while it watches)."""
        self.enter_at = at

    @staticmethod
    def _heat(t: _Topic, now: datetime) -> float:
        age = (now - t.onboard).total_seconds() / 3600
        if age < 0:
            return 0.0
        rise = min(1.0, 0.35 + age * 2)
        return t.peak * rise * math.exp(-age / t.life_h)

    def _brand_rank(self, now: datetime) -> float | None:
        minutes = (now - self.enter_at).total_seconds() / 60 * self.speed
        if minutes < 0:
            return None
        for (m0, r0), (m1, r1) in zip(TOPIC_PATH, TOPIC_PATH[1:], strict=False):
            if m0 <= minutes < m1:
                rank = r0 + (r1 - r0) * (minutes - m0) / (m1 - m0)
                return rank if rank <= LIST_SIZE else None
        return None

    def brand_label(self, rank: int, now: datetime) -> str:
        minutes = (now - self.enter_at).total_seconds() / 60 * self.speed
        if rank <= 2 and minutes >= 25:
            return "爆"
        if rank <= 5:
            return "沸"
        if minutes < 10:
            return "新"
        return "热" if rank <= 15 else ""

    def entries(self, now: datetime | None = None) -> list[HotEntry]:
        """The list at ``now`` (default: the current time), best first; ads take their slots."""
        now = now or datetime.now(UTC)
        live = [(self._heat(t, now), t) for t in self.topics]
        ranked = sorted(((h, t) for h, t in live if h >= 50_000), key=lambda x: -x[0])[:LIST_SIZE]
        out = [
            HotEntry(t.word, int(h), 0, self._label(t, h, now), onboard=t.onboard, category=t.category)
            for h, t in ranked
        ]
        brank = self._brand_rank(now)
        if brank is not None:
            pos = max(0, min(len(out), round(brank) - 1))
            above = out[pos - 1].heat if pos > 0 else int(out[0].heat * 1.3) if out else 5_000_000
            below = out[pos].heat if pos < len(out) else max(60_000, above // 2)
            entry = HotEntry(
                self.brand_word,
                (above + below) // 2,
                0,
                "",
                onboard=self.enter_at,
                category="社会",
                brand_topic=True,
            )
            out.insert(pos, entry)
            out = out[:LIST_SIZE]
        if self.brand_ad:
            for slot, word in ((3, ADS[int(now.timestamp() // 3600) % len(ADS)]), (14, self.brand_ad)):
                if slot <= len(out):
                    out.insert(slot - 1, HotEntry(word, 0, 0, "商", is_ad=True, category="广告"))
            out = out[:LIST_SIZE]
        for i, entry in enumerate(out, 1):
            entry.rank = i
            if entry.brand_topic:
                entry.label = self.brand_label(i, now)
        return out

    def _label(self, t: _Topic, heat: float, now: datetime) -> str:
        if (now - t.onboard).total_seconds() < 1200:
            return "新"
        if heat > 4_200_000:
            return "爆"
        if heat > 3_000_000:
            return "沸"
        return "热" if zlib.crc32(t.word.encode()) % 4 == 0 else ""

    def truth(self, now: datetime | None = None) -> dict[str, Any]:
        """When the brand topic entered, where it is now, and the decoys."""
        now = now or datetime.now(UTC)
        current = next((e for e in self.entries(now) if e.brand_topic), None)
        return {
            "platform": self.platform,
            "word": self.brand_word,
            "enter_at": self.enter_at,
            "on_list": current is not None,
            "rank": current.rank if current else None,
            "label": current.label if current else None,
            "decoys": list(self.decoys),
            "brand_ad": self.brand_ad,
        }


# --- repost cascade ------------------------------------------------------------------------------

REPOST_SAYINGS = (
    "转发微博",
    "太可怕了",
    "已拉黑这家",
    "大家注意避雷",
    "求官方回应",
    "真的假的？",
    "家里小孩也吃过",
    "关注后续",
    "这也太离谱了吧",
    "希望监管部门查一查",
    "心疼中招的人",
    "不敢再买了",
    "[怒]",
    "我朋友也遇到过",
    "必须曝光",
)


@dataclass(slots=True)
class Repost:
    post_id: str
    author: Author
    published_at: datetime
    parent: str | None  # the repost it was made from; None: from the original post
    saying: str
    text: str = ""  # the saying plus the //@ chain of its ancestors
    children: list[str] = field(default_factory=list)


class Cascade:
    """The reposts of one post, with the true tree."""

    def __init__(self, world: World, root: Post, count: int, hours: float, rng: random.Random) -> None:
        self.root = root
        plat = world.ctx.platforms[root.platform]
        pool = world.pools[root.platform]
        span = max(60.0, hours * 3600)
        # unique display names (Weibo's are): ordinary accounts, then the big ones at fixed points
        seen: set[str] = {root.author.name}
        ordinary = []
        for a in rng.sample(pool.ordinary, len(pool.ordinary)):
            if a.name not in seen:
                seen.add(a.name)
                ordinary.append(a)
        k = 0
        while len(ordinary) < count:
            k += 1
            name = f"路人甲{k:03d}"
            ordinary.append(Author(plat.new_author_id(rng), name, rng.randint(20, 3000), region="北京"))
        bigs = [a for a in [*pool.big, *pool.media] if a.name not in seen][:5]
        big_at = {
            max(2, int(count * q)): a for q, a in zip((0.08, 0.22, 0.35, 0.5, 0.65), bigs, strict=False)
        }
        self.reposts: list[Repost] = []
        self.by_id: dict[str, Repost] = {}
        weights: list[float] = []
        ids: list[str | None] = []
        root_weight = 40.0
        order = sorted(rng.random() for _ in range(count))
        used = 0
        for i, u in enumerate(order):
            author = big_at.get(i) or ordinary[used]
            if i not in big_at:
                used += 1
            # logistic growth: the quantile of u on a logistic curve centred at 40 % of the span
            x = math.log(max(u, 1e-6) / max(1 - u, 1e-6))
            offset = span * min(1.0, max(0.0, 0.4 + x / 10))
            when = root.published_at + timedelta(seconds=int(60 + offset))
            total = root_weight + sum(weights)
            pick = rng.random() * total
            parent: str | None = None
            if pick >= root_weight:
                acc = root_weight
                for pid, w in zip(ids, weights, strict=True):
                    acc += w
                    if pick < acc:
                        parent = pid
                        break
            rp = Repost(
                str(world.time_id(root.platform, when, 4_900_000_000_000_000, 100)),
                author,
                when,
                parent,
                rng.choice(REPOST_SAYINGS),
            )
            chain = "" if parent is None else f"//@{self.by_id[parent].author.name}:{self.by_id[parent].text}"
            rp.text = (rp.saying + chain)[:400]
            self.reposts.append(rp)
            self.by_id[rp.post_id] = rp
            if parent is not None:
                self.by_id[parent].children.append(rp.post_id)
            ids.append(rp.post_id)
            weights.append(max(0.5, author.followers**0.5 / 40))
        self.reposts.sort(key=lambda r: (r.published_at, r.post_id))
        self._times = [r.published_at for r in self.reposts]
        self.offset = timedelta(0)

    def advance(self, seconds: float) -> None:
        """Let the cascade run ``seconds`` ahead of the wall clock (time-accelerated tests and benchmarks);
        the reposts keep their times, so some show times a little in the future."""
        self.offset += timedelta(seconds=seconds)

    def visible(self, now: datetime) -> list[Repost]:
        """Reposts published by ``now`` (plus the offset of :meth:`advance`), oldest first."""
        return self.reposts[: bisect.bisect_right(self._times, now + self.offset)]

    def truth(self, now: datetime | None = None) -> dict[str, Any]:
        """The tree as of ``now``: every visible repost's parent (None = the post) and the spreaders by reach."""
        vis = self.visible(now - self.offset) if now is not None else self.visible(datetime.now(UTC))
        shown = {r.post_id for r in vis}
        reach: dict[str, int] = {}
        below: dict[str, int] = {}
        for r in reversed(vis):  # children are later than parents: sum bottom-up
            kids = [c for c in r.children if c in shown]
            reach[r.post_id] = r.author.followers + sum(reach[c] for c in kids)
            below[r.post_id] = sum(1 + below[c] for c in kids)
        spreaders: list[dict[str, Any]] = sorted(
            (
                {
                    "post_id": r.post_id,
                    "author_id": r.author.id,
                    "author_name": r.author.name,
                    "followers": r.author.followers,
                    "verified": r.author.verified,
                    "reach": reach[r.post_id],
                    "reposts_below": below[r.post_id],
                }
                for r in vis
            ),
            key=lambda s: (-s["reach"], s["post_id"]),
        )
        return {
            "root": self.root.post_id,
            "count": len(vis),
            "edges": {r.post_id: r.parent for r in vis},
            "published": {r.post_id: r.published_at for r in vis},
            "big_v": [s["author_name"] for s in spreaders if s["followers"] >= 100_000],
            "spreaders": spreaders,
        }

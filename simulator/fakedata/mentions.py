"""Realistic fake mentions with their analysis columns, for tests, screenshots and ``bench/query.py``.

Texts are composed from Chinese fragments (praise, neutral, ads, every complaint
category, escalation threats, PII); each fragment is segmented once with the search
tokenizer, so a million rows are made in seconds and their ``tokens`` agree with
what a query for the same words produces. Deterministic for a given seed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crawler.analytics.query import mask_text
from crawler.analytics.search_index import tokenize
from crawler.clock import utcnow

PLATFORM_WEIGHTS = {"weibo": 45, "xiaohongshu": 25, "douyin": 20, "heimao": 10}
REGIONS = (
    "广东",
    "北京",
    "上海",
    "浙江",
    "江苏",
    "四川",
    "湖北",
    "山东",
    "福建",
    "河南",
    "湖南",
    "陕西",
    "重庆",
    "天津",
)
REGION_WEIGHTS = (16, 11, 11, 9, 9, 7, 6, 6, 5, 5, 4, 4, 4, 3)
NICKS = (
    "橙子不酸",
    "momo酱",
    "打工人小王",
    "宝妈日记",
    "吃货阿飞",
    "一只小熊",
    "夏天的风",
    "李先生",
    "晴天娃娃",
    "奶爸老陈",
    "小鱼儿",
    "不吃香菜",
    "喵星人",
    "路人甲",
    "阿珍爱吃瓜",
    "深夜食堂",
    "奔跑的蜗牛",
    "大白兔",
)


@dataclass(frozen=True, slots=True)
class FakeBrand:
    name: str
    products: tuple[str, ...] = ()


# (category, urgency floor, body fragments); {b} brand, {p} product
COMPLAINTS: dict[str, tuple[str, ...]] = {
    "产品质量": (
        "买的{p}打开发现发霉了，还有一股怪味",
        "{p}里面居然有异物，像是头发",
        "刚买的{p}已经过期了，包装也是破的",
    ),
    "食用不适": (
        "喝了{b}的{p}之后一直拉肚子，去医院挂了急诊",
        "孩子吃了{p}全身过敏起疹子，已经住院了",
        "吃完{p}上吐下泻，怀疑食物中毒",
    ),
    "活动政策": (
        "{b}的满减活动说好的优惠券根本用不了",
        "参加{b}的活动被说不符合规则，活动规则随意改",
        "{b}价保不认账，刚买就降价了",
    ),
    "使用问题": (
        "{b}小程序一直下单失败，页面卡死",
        "{p}的说明书看不懂，根本不会用",
        "{b}会员积分怎么兑换不了",
    ),
    "服务态度": (
        "{b}客服态度极差，问三遍都不回复",
        "客服一直踢皮球，说好的回电也没有",
        "门店店员态度恶劣还骂人",
    ),
    "物流配送": (
        "{p}的快递一周了还没到，物流信息也不更新",
        "配送员把{p}摔坏了还不承认",
        "外卖送到的时候冰沙全化了",
    ),
    "退换货": ("申请退款半个月了{b}一直拖着不给退", "{p}有问题要求换货被拒绝", "退货寄回去了钱还没退"),
    "虚假宣传": (
        "{b}宣传的鲜榨其实是浓缩还原，虚假宣传",
        "{p}实物和图片完全不一样",
        "广告说零添加，配料表一堆添加剂",
    ),
    "价格收费": (
        "{b}会员自动续费扣了我两次钱",
        "同样的{p}门店比线上贵一倍，还乱收打包费",
        "莫名其妙多收了配送费",
    ),
    "其他": ("{b}的门店排队太久没人管", "对{b}这次的处理很不满意", "{b}的会员体系越来越差了"),
}
ESCALATION = (
    "已经打了12315投诉",
    "准备找媒体曝光",
    "已经咨询律师准备起诉",
    "再不处理就去消协",
    "已向市场监管局举报",
)
DEMANDS = ("要求全额退款", "要求赔偿并道歉", "希望尽快给个说法", "必须给我一个解释")
EMOTION = ("太气人了！", "真的无语了", "再也不买了", "大家避雷！", "")
PRAISE = (
    "{b}的{p}真的太好喝了，每天一杯",
    "今天买了{b}的{p}，新鲜又好吃，推荐！",
    "{b}的店员小姐姐超级热情，点赞",
    "{b}新品{p}味道不错，性价比很高",
    "又回购了{p}，家里人都喜欢",
)
NEUTRAL = (
    "{b}在我家附近开了新店",
    "有人知道{b}的{p}多少钱吗",
    "{b}发布了新一季的菜单",
    "路过{b}看到在排队",
    "{b}今天发布了年度财报，门店数量继续增长",
)
ADS = (
    "转发抽奖送{b}{p}，关注即可参与，投诉退款都包",
    "{b}官方旗舰店限时秒杀，{p}买一送一",
    "招募{b}体验官，免费试喝{p}",
)
REASON_WORDS = {
    "产品质量": "产品质量问题",
    "食用不适": "健康安全风险",
    "活动政策": "活动争议",
    "使用问题": "使用困难",
    "服务态度": "服务态度差",
    "物流配送": "配送问题",
    "退换货": "退款受阻",
    "虚假宣传": "涉嫌虚假宣传",
    "价格收费": "收费争议",
    "其他": "表达不满",
}

_DIGITS_RE = re.compile(r"\d{7}")  # only texts with long numbers can hold phone / order numbers


class FragmentTokens:
    """Segments each distinct fragment once (the expensive part of making a million rows)."""

    def __init__(self, tokenizer: Callable[[str], str] | None = None) -> None:
        if tokenizer is None:
            tokenizer = tokenize
        self._tokenize = tokenizer
        self._cache: dict[str, str] = {}

    def __call__(self, fragment: str) -> str:
        got = self._cache.get(fragment)
        if got is None:
            got = self._cache[fragment] = self._tokenize(fragment)
        return got


def _choice(rnd: random.Random, options: Sequence[str], **fmt: str) -> str:
    return rnd.choice(options).format(**fmt)


def _complaint(
    rnd: random.Random, brand: FakeBrand, product: str
) -> tuple[list[str], str, str, int, list[str]]:
    category = rnd.choices(list(COMPLAINTS), weights=(18, 8, 9, 7, 14, 12, 12, 6, 8, 6))[0]
    parts = [_choice(rnd, COMPLAINTS[category], b=brand.name, p=product)]
    reasons = [REASON_WORDS[category]]
    risk = rnd.randint(35, 65)
    urgency = "一般"
    if rnd.random() < 0.45:
        parts.append(rnd.choice(DEMANDS))
        reasons.append("提出明确诉求")
        risk, urgency = risk + 15, "紧急"
    if rnd.random() < 0.15 or category == "食用不适" and rnd.random() < 0.5:
        parts.append(rnd.choice(ESCALATION))
        reasons.append("威胁外部升级投诉")
        risk, urgency = max(risk + 25, 80), "非常紧急"
    parts.append(rnd.choice(EMOTION))
    return parts, category, urgency, min(risk, 100), reasons


def _kind_text(rnd: random.Random, brand: FakeBrand, platform: str) -> tuple[list[str], dict[str, Any]]:
    product = rnd.choice(brand.products) if brand.products else brand.name
    roll = rnd.random()
    if platform == "heimao" or roll < 0.28:
        parts, category, urgency, risk, reasons = _complaint(rnd, brand, product)
        if platform == "heimao" and urgency == "一般":
            urgency, risk = "紧急", max(risk, 60)
        if rnd.random() < 0.2:
            parts.append(
                f"订单号{rnd.randint(10**15, 10**16 - 1)} 联系电话1{rnd.randint(3, 9)}{rnd.randint(10**8, 10**9 - 1)}"
            )
        sentiment = round(rnd.uniform(0.01, 0.3), 3)
        return parts, {
            "is_complaint": True,
            "category": category,
            "urgency": urgency,
            "risk": risk,
            "reasons": reasons,
            "sentiment": sentiment,
        }
    if roll < 0.62:
        parts, sentiment = [_choice(rnd, PRAISE, b=brand.name, p=product)], rnd.uniform(0.75, 0.99)
    elif roll < 0.9:
        parts, sentiment = [_choice(rnd, NEUTRAL, b=brand.name, p=product)], rnd.uniform(0.4, 0.7)
    else:
        parts, sentiment = [_choice(rnd, ADS, b=brand.name, p=product)], rnd.uniform(0.55, 0.9)
    return parts, {
        "is_complaint": False,
        "category": None,
        "urgency": None,
        "risk": rnd.randint(0, 25),
        "reasons": [],
        "sentiment": round(sentiment, 3),
    }


def _url(platform: str, post_id: str) -> str:
    return {
        "weibo": f"https://m.weibo.cn/detail/{post_id}",
        "xiaohongshu": f"https://www.xiaohongshu.com/explore/{post_id}",
        "douyin": f"https://www.douyin.com/video/{post_id}",
        "heimao": f"https://tousu.sina.com.cn/complaint/view/{post_id}/",
    }[platform]


def mention_rows(
    brands: Sequence[FakeBrand],
    n: int,
    *,
    seed: int = 7,
    days: float = 30,
    now: datetime | None = None,
    brand_weights: Sequence[float] | None = None,
    tokens: FragmentTokens | None = None,
) -> Iterator[dict[str, Any]]:
    """``n`` mention rows (every ``mentions`` column but ``id`` and ``event_id``), newest last."""
    rnd = random.Random(seed)
    now = now or utcnow()
    tok = tokens or FragmentTokens()
    platforms, pweights = list(PLATFORM_WEIGHTS), list(PLATFORM_WEIGHTS.values())
    start = now - timedelta(days=days)
    step = timedelta(days=days) / max(n, 1)
    for i in range(n):
        brand = rnd.choices(brands, weights=brand_weights)[0] if brand_weights else rnd.choice(brands)
        platform = rnd.choices(platforms, weights=pweights)[0]
        parts, analysis = _kind_text(rnd, brand, platform)
        parts = [p for p in parts if p]
        text = "，".join(parts)
        post_id = f"{platform[:2]}{seed}x{i:08d}"
        followers = int(rnd.lognormvariate(6, 2.2))
        published = start + step * i + timedelta(seconds=rnd.uniform(-60, 60))
        published = min(published, now)
        author_no = rnd.randint(1, max(50, n // 8))
        yield {
            "platform": platform,
            "post_id": post_id,
            "brand": brand.name,
            "kind": "complaint" if platform == "heimao" else ("comment" if rnd.random() < 0.2 else "post"),
            "parent_post_id": None,
            "keyword": brand.name,
            "url": _url(platform, post_id),
            "title": parts[0][:30] if platform == "heimao" else None,
            "text": text,
            "author_id": f"u{author_no}",
            "author_name": f"{rnd.choice(NICKS)}{author_no % 1000}",
            "author_followers": followers,
            "author_verified": followers > 100_000 and rnd.random() < 0.6,
            "published_at": published,
            "fetched_at": published + timedelta(minutes=3),
            "first_seen_at": published + timedelta(minutes=3),
            "updated_at": published + timedelta(minutes=3),
            "likes": int(rnd.paretovariate(1.3)) - 1,
            "comments": int(rnd.paretovariate(1.6)) - 1,
            "shares": int(rnd.paretovariate(1.8)) - 1,
            "collects": int(rnd.paretovariate(1.8)) - 1,
            "ip_region": rnd.choices(REGIONS, weights=REGION_WEIGHTS)[0],
            "extra": None,
            "raw": None,
            "fingerprint": rnd.getrandbits(63) - (1 << 62),
            "masked_text": mask_text(text) if _DIGITS_RE.search(text) else text,
            "tokens": " ".join(tok(p) for p in parts),
            "model_version": "fakedata-1",
            "analyzed_at": published + timedelta(minutes=3),
            **analysis,
        }


def brands_from_config(cfg: Any) -> list[FakeBrand]:
    """FakeBrand per configured brand (name and products)."""
    return [FakeBrand(b.name, tuple(b.products)) for b in cfg.brands]

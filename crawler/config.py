"""Configuration: ``config/yuqing.toml`` + environment → one frozen, validated :class:`AppConfig`.

The path comes from ``--config``, else ``YUQING_CONFIG``, else ``config/yuqing.toml``.
Secrets never live in the file: a string value may reference ``${ENV_VAR}``,
``${ENV_VAR:-default}`` or ``${file:/path/outside/git}``. ``YUQING_DATABASE_URL``
overrides ``[storage].url`` and ``REDIS_URL`` sets ``[distributed].redis_url``.
Any problem raises :class:`~crawler.errors.ConfigError` naming the file, the key and
the problem in one line. The config is passed down explicitly; there is no global.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from crawler.errors import ConfigError
from crawler.names import PLATFORM_NAMES as PLATFORM_NAMES  # re-exported: read from here
from crawler.names import PLATFORMS as PLATFORMS
from crawler.paths import config_path, data_dir

URGENCIES: tuple[str, ...] = ("非常紧急", "紧急", "一般")
CATEGORIES: tuple[str, ...] = (
    "产品质量",
    "食用不适",
    "活动政策",
    "使用问题",
    "服务态度",
    "物流配送",
    "退换货",
    "虚假宣传",
    "价格收费",
    "其他",
)
Urgency = Literal["非常紧急", "紧急", "一般"]
Category = Literal[
    "产品质量",
    "食用不适",
    "活动政策",
    "使用问题",
    "服务态度",
    "物流配送",
    "退换货",
    "虚假宣传",
    "价格收费",
    "其他",
]
PlatformName = Literal["weibo", "xiaohongshu", "douyin", "heimao"]

_INTERVAL_RE = re.compile(r"^every\s+(\d+)\s*(s|m|h)$")


def parse_schedule(expr: str) -> tuple[str, int] | tuple[str, str]:
    """Validate a schedule: ``every 10m`` / ``every 30s`` / ``every 2h`` or a 5-field cron line.

    Returns ``("interval", seconds)`` or ``("cron", expr)``; raises ``ValueError``.
    """
    text = expr.strip()
    m = _INTERVAL_RE.match(text)
    if m:
        n = int(m.group(1))
        if n <= 0:
            raise ValueError(f"interval must be positive: {expr!r}")
        return ("interval", n * {"s": 1, "m": 60, "h": 3600}[m.group(2)])
    from apscheduler.triggers.cron import CronTrigger

    if len(text.split()) != 5:
        raise ValueError(f"not a 5-field cron expression or 'every N[s|m|h]': {expr!r}")
    try:
        CronTrigger.from_crontab(text, timezone="Asia/Shanghai")
    except ValueError as exc:
        raise ValueError(f"bad cron expression {expr!r}: {exc}") from exc
    return ("cron", text)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- brands -----------------------------------------------------------------


class BrandConfig(_Model):
    """A monitored brand: the words that find its mentions and the words that exclude noise."""

    name: str = Field(min_length=1, description="Full brand name, as shown to users.")
    aliases: list[str] = Field(default_factory=list, description="Nicknames, abbreviations, pinyin.")
    keywords: list[str] = Field(default_factory=list, description="Search keywords; default: name + aliases.")
    exclude: list[str] = Field(
        default_factory=list, description="A mention containing one of these is dropped."
    )
    products: list[str] = Field(
        default_factory=list, description="Product names, kept whole by the segmenter."
    )
    heimao_couid: list[str] = Field(
        default_factory=list, description="Heimao company ids whose complaints to pull."
    )
    platforms: list[PlatformName] | None = Field(
        default=None, description="Subset of platforms; default: all enabled."
    )

    @model_validator(mode="after")
    def _default_keywords(self) -> BrandConfig:
        if not self.keywords:
            object.__setattr__(self, "keywords", [self.name, *self.aliases])
        return self

    @property
    def all_names(self) -> list[str]:
        return [self.name, *self.aliases]


# --- platforms --------------------------------------------------------------


class AccountConfig(_Model):
    """One login account; spiders rotate through a platform's accounts."""

    name: str
    cookies: SecretStr | None = Field(default=None, description="Cookie string (use ${ENV} or ${file:...}).")
    cookies_file: str | None = Field(default=None, description="Path to a cookie file outside git.")


class PlatformConfig(_Model):
    enabled: bool = True
    base_url: str
    schedule: str = "every 10m"
    max_pages: int = Field(default=10, ge=1, le=200)
    window_days: int = Field(default=7, ge=1, le=365, description="Posts older than this stop the paging.")
    request_delay: float = Field(
        default=1.0, ge=0, le=120, description="Seconds between requests (AutoThrottle start)."
    )
    rate_limit_per_minute: int = Field(
        default=30, ge=1, le=6000, description="Hard ceiling, also across workers."
    )
    concurrency: int = Field(default=2, ge=1, le=64)
    timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    max_retries: int = Field(default=3, ge=0, le=20)
    comments: bool = Field(default=True, description="Also fetch comments of matching posts.")
    max_comment_pages: int = Field(default=2, ge=0, le=100)
    refresh_hours: int = Field(
        default=24, ge=0, le=720, description="Re-fetch engagement of posts this recent."
    )
    accounts: list[AccountConfig] = Field(default_factory=list)
    session_dir: str | None = Field(default=None, description="Default: <data_dir>/sessions/<platform>.")

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, v: str) -> str:
        parse_schedule(v)
        return v

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"not an http(s) URL: {v!r}")
        return v.rstrip("/")


_WEIBO_SEARCH_TYPES: tuple[Literal[1, 60, 61, 64], ...] = (1, 61)


class WeiboConfig(PlatformConfig):
    base_url: str = "https://m.weibo.cn"
    search_types: list[Literal[1, 60, 61, 64]] = Field(default_factory=lambda: list(_WEIBO_SEARCH_TYPES))


_SIGNER_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def _check_signer(value: str, builtin: tuple[str, ...]) -> str:
    if value in builtin or _SIGNER_RE.match(value):
        return value
    raise ValueError(f"unknown signer {value!r}: use {' / '.join(builtin)} or 'package.module:factory'")


class XiaohongshuConfig(PlatformConfig):
    """Xiaohongshu: the API host (edith), the web host (pages, login) and the X-S signer."""

    base_url: str = "https://edith.xiaohongshu.com"
    web_url: str = "https://www.xiaohongshu.com"
    schedule: str = "every 30m"
    signer: str = Field(default="xhshow", description="xhshow, browser or 'package.module:factory'.")
    sign_expression: str = Field(
        default="([url, data]) => window._webmsxyw(url, data)",
        description="JS the browser signer evaluates in the page; returns {X-s, X-t}.",
    )
    sort: Literal["general", "time_descending", "popularity_descending"] = "time_descending"
    note_type: Literal[0, 1, 2] = Field(default=0, description="0 all, 1 video, 2 image notes.")
    detail: bool = Field(default=True, description="Fetch each note's detail (text, exact time, IP region).")
    max_reply_pages: int = Field(default=1, ge=0, le=50, description="Sub-comment pages per thread.")

    @field_validator("signer")
    @classmethod
    def _signer(cls, v: str) -> str:
        return _check_signer(v, ("xhshow", "browser"))

    @field_validator("web_url")
    @classmethod
    def _web_url(cls, v: str) -> str:
        return PlatformConfig._check_url(v)


class DouyinConfig(PlatformConfig):
    """Douyin: browser mode (the page signs its own calls) or direct API with an ``a_bogus`` signer."""

    base_url: str = "https://www.douyin.com"
    schedule: str = "every 30m"
    mode: Literal["browser", "api"] = "browser"
    max_scrolls: int = Field(
        default=8, ge=1, le=200, description="Browser mode: result pages loaded by scrolling."
    )
    headless: bool = True
    signer: str = Field(
        default="browser", description="api mode: browser, command or 'package.module:factory'."
    )
    sign_expression: str = Field(
        default="([query, ua]) => window.bdms_sign(query, ua)",
        description="JS the browser signer evaluates in the page; returns a_bogus.",
    )
    sign_command: str | None = Field(
        default=None, description="command signer: program reading JSON on stdin."
    )
    user_agent: str = Field(
        default="Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/125.0.0.0 Safari/537.36",
        description="Must be the one a_bogus is computed for.",
    )

    @field_validator("signer")
    @classmethod
    def _signer(cls, v: str) -> str:
        return _check_signer(v, ("browser", "command"))

    @model_validator(mode="after")
    def _command_needs_program(self) -> DouyinConfig:
        if self.signer == "command" and not self.sign_command:
            raise ValueError("signer = 'command' needs sign_command")
        return self


class HeimaoConfig(PlatformConfig):
    base_url: str = "https://tousu.sina.com.cn"
    rate_limit_per_minute: int = Field(default=30, ge=1, le=6000)
    signature_secret: SecretStr = Field(
        default=SecretStr("$d6eb7ff91ee257475%"),
        description="The constant mixed into the signature (PLATFORMS.md §4.2).",
    )
    detail_pages: bool = True


class PlatformsConfig(_Model):
    weibo: WeiboConfig = Field(default_factory=WeiboConfig)
    xiaohongshu: XiaohongshuConfig = Field(default_factory=XiaohongshuConfig)
    douyin: DouyinConfig = Field(default_factory=DouyinConfig)
    heimao: HeimaoConfig = Field(default_factory=HeimaoConfig)

    def get(self, name: str) -> PlatformConfig:
        if name not in PLATFORMS:
            raise KeyError(name)
        return getattr(self, name)  # type: ignore[no-any-return]

    def enabled(self) -> list[str]:
        return [p for p in PLATFORMS if self.get(p).enabled]


# --- storage, analysis ------------------------------------------------------


class StorageConfig(_Model):
    url: SecretStr = Field(default=SecretStr("sqlite:///data/yuqing.db"))
    retention_days: int = Field(default=365, ge=1)
    batch_size: int = Field(default=500, ge=1, le=100_000)


class AnalysisConfig(_Model):
    big_v_followers: int = Field(default=100_000, ge=0, description="An author at least this big is 大V.")
    viral_engagement: int = Field(
        default=1_000, ge=0, description="likes+comments+shares that make a post viral."
    )
    complaint_min_risk: int = Field(default=30, ge=0, le=100)
    lexicon_dir: str = Field(default="config/lexicons", description="Operator-editable word lists.")
    sentiment_model: str | None = Field(
        default=None, description="Path to a retrained model; default: shipped."
    )
    complaint_model: str | None = Field(
        default=None, description="Path to a model from 'yuqing train'; default: shipped."
    )


# --- alerts -----------------------------------------------------------------

ChannelType = Literal["dingtalk", "wecom", "feishu", "slack", "email", "webhook"]


# Per robot, what the platforms allow (CHANNELS.md §2.5): messages per minute, per second, body bytes.
CHANNEL_DEFAULTS: dict[str, tuple[int, int | None, int | None]] = {
    "dingtalk": (20, None, 18_000),  # 20/min, then a 10-minute ban; ~20 KB body
    "wecom": (20, None, 4_096),  # 20/min; markdown content <= 4096 bytes
    "feishu": (100, 5, 18_000),  # 100/min and 5/s per bot; request body <= 20 KB
    "slack": (60, None, 12_000),  # about 1/s with short bursts
    "email": (30, None, None),
    "webhook": (600, None, None),
}
_SMTP_PORTS = {"ssl": 465, "starttls": 587, "none": 25}


class ChannelConfig(_Model):
    """One alert destination (a chat robot, an SMTP mailbox or a signed JSON webhook)."""

    type: ChannelType
    enabled: bool = True
    url: SecretStr | None = Field(default=None, description="Webhook URL (a secret: use ${ENV}).")
    secret: SecretStr | None = Field(
        default=None, description="Signing secret (DingTalk 加签 SEC..., Feishu, webhook HMAC)."
    )
    keyword: str | None = Field(default=None, description="The robot's 自定义关键词, put in every message.")
    style: Literal["card", "post"] = Field(
        default="card", description="Feishu: interactive card or rich-text post."
    )
    rate_per_minute: int | None = Field(
        default=None, ge=1, le=100_000, description="Default per type (20 for DingTalk/WeCom)."
    )
    rate_per_second: int | None = Field(
        default=None, ge=1, le=10_000, description="Default per type (5 for Feishu)."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    max_bytes: int | None = Field(
        default=None, ge=256, description="Split messages above this size; default per type."
    )
    ca_file: str | None = Field(default=None, description="CA bundle to verify the server's TLS certificate.")
    # e-mail
    smtp_host: str | None = None
    smtp_port: int | None = Field(
        default=None, ge=1, le=65535, description="Default: 465 ssl, 587 starttls, 25 none."
    )
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str | None = None
    recipients: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_fields(self) -> ChannelConfig:
        if self.type == "email":
            if not self.smtp_host or not self.sender or not self.recipients:
                raise ValueError("an email channel needs smtp_host, sender and recipients")
            return self
        if self.url is None:
            raise ValueError(f"a {self.type} channel needs url")
        if not re.match(r"^https?://[^\s/]+/\S*$", self.url.get_secret_value()):
            raise ValueError(f"a {self.type} channel url must be an http(s) URL")
        return self

    @property
    def limits(self) -> tuple[int, int | None]:
        """(messages per minute, messages per second or None) for this channel."""
        per_min, per_sec, _ = CHANNEL_DEFAULTS[self.type]
        return (self.rate_per_minute or per_min, self.rate_per_second or per_sec)

    @property
    def size_limit(self) -> int | None:
        """Bytes of message content above which a message is split."""
        return self.max_bytes or CHANNEL_DEFAULTS[self.type][2]

    @property
    def port(self) -> int:
        return self.smtp_port or _SMTP_PORTS[self.security]


class AlertRule(_Model):
    """A routing rule: every condition that is set must hold; empty lists match anything."""

    name: str
    channels: list[str] = Field(min_length=1)
    min_risk: int = Field(default=0, ge=0, le=100)
    min_urgency: Urgency | None = None
    complaints_only: bool = True
    categories: list[Category] = Field(default_factory=list)
    platforms: list[PlatformName] = Field(default_factory=list)
    brands: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    min_followers: int | None = Field(default=None, ge=0)
    min_engagement: int | None = Field(default=None, ge=0)
    negative_only: bool = Field(default=False, description="Only negative mentions (sentiment < 0.4).")
    mentions: bool = Field(default=True, description="Match mentions; false makes a surge-only rule.")
    surge: bool = Field(default=False, description="Also fire on volume / negative-share surges.")
    mode: Literal["immediate", "digest"] = Field(
        default="immediate",
        description="immediate: alert now (events: first + escalations); digest: summary.",
    )

    @model_validator(mode="after")
    def _fires_on_something(self) -> AlertRule:
        if not self.mentions and not self.surge:
            raise ValueError(f"rule {self.name!r} matches neither mentions nor surges")
        return self


class QuietHours(_Model):
    """Local times (scheduler timezone) without immediate pushes; may cross midnight."""

    start: time
    end: time
    override_urgency: Urgency = "非常紧急"


class SurgeConfig(_Model):
    """Recent window vs the same-size windows of the baseline before it: mean + k·σ and a minimum."""

    enabled: bool = True
    window_minutes: int = Field(default=60, ge=1)
    baseline_hours: int = Field(default=12, ge=1)
    k: float = Field(default=3.0, gt=0, description="Sensitivity: standard deviations above the mean.")
    min_count: int = Field(default=5, ge=1, description="Mentions in the window needed for a volume surge.")
    negative_min_count: int = Field(
        default=5, ge=1, description="Negative mentions needed for a share surge."
    )
    min_share_delta: float = Field(
        default=0.2, ge=0, le=1, description="Negative share rise needed at least."
    )
    cooldown_minutes: int = Field(default=120, ge=0)

    @model_validator(mode="after")
    def _window_fits(self) -> SurgeConfig:
        if self.baseline_hours * 60 < self.window_minutes:
            raise ValueError("surge.baseline_hours must cover at least one window_minutes")
        return self


class EventConfig(_Model):
    window_hours: int = Field(default=48, ge=1, description="A mention joins an event seen this recently.")
    simhash_distance: int = Field(
        default=6, ge=0, le=32, description="Near-duplicate: fingerprint bits apart."
    )
    min_similarity: float = Field(default=0.5, gt=0, le=1, description="Same story: text bigram Jaccard.")


class AlertsConfig(_Model):
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    rules: list[AlertRule] = Field(default_factory=list)
    health_channels: list[str] = Field(default_factory=list, description="Operators' route for crawl health.")
    quiet_hours: QuietHours | None = None
    digest_minutes: int = Field(default=60, ge=1, description="The digest job's period.")
    digest_max_items: int = Field(default=20, ge=1, le=500, description="Items listed per digest message.")
    max_attempts: int = Field(default=10, ge=1, le=100, description="Tries per delivery before dead-letter.")
    backoff_seconds: float = Field(default=5.0, gt=0, description="First retry delay; doubles per attempt.")
    max_backoff_seconds: float = Field(default=1800.0, gt=0, description="Cap of the exponential backoff.")
    lease_seconds: float = Field(
        default=120.0, ge=1, description="A 'sending' claim older than this is retried."
    )
    dispatch_batch: int = Field(
        default=100, ge=1, le=10_000, description="Deliveries claimed per channel per pass."
    )
    surge: SurgeConfig = Field(default_factory=SurgeConfig)
    events: EventConfig = Field(default_factory=EventConfig)
    dashboard_url: str | None = Field(
        default=None, description="Base URL of the dashboard, linked from alerts."
    )
    max_age_hours: float = Field(
        default=24.0,
        ge=0,
        le=8760,
        strict=True,
        allow_inf_nan=False,
        description="A mention first seen later than this after it was published is backfill: it goes to the "
        "backfill summary, never out as an immediate alert. 0 turns the check off.",
    )
    max_immediate_per_hour: int = Field(
        default=6,
        ge=0,
        le=10_000,
        strict=True,
        description="Immediate messages per brand and channel in any hour; past it, one roll-up. A new 非常紧急 "
        "event always goes out. 0 turns the budget off.",
    )

    @model_validator(mode="after")
    def _check_routes(self) -> AlertsConfig:
        names = [r.name for r in self.rules]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate rule name(s): {', '.join(dup)}")
        for i, rule in enumerate(self.rules):
            for ch in rule.channels:
                if ch not in self.channels:
                    raise ValueError(f"rules[{i}] ({rule.name}) routes to unknown channel {ch!r}")
        for ch in self.health_channels:
            if ch not in self.channels:
                raise ValueError(f"health_channels routes to unknown channel {ch!r}")
        return self


# --- complaints -------------------------------------------------------------


class AssignmentRule(_Model):
    """First matching rule wins; empty match lists match anything."""

    assignee: str | None = None
    team: str | None = None
    categories: list[Category] = Field(default_factory=list)
    urgencies: list[Urgency] = Field(default_factory=list)
    platforms: list[PlatformName] = Field(default_factory=list)
    brands: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _needs_target(self) -> AssignmentRule:
        if not self.assignee and not self.team:
            raise ValueError("an assignment rule needs assignee or team")
        return self


class SlaTimes(_Model):
    """Minutes from registration (report, first check, answer, resolve or escalate)."""

    report_minutes: int | None = Field(default=None, ge=1)
    first_check_minutes: int = Field(ge=1)
    answer_minutes: int = Field(ge=1)
    resolve_minutes: int = Field(ge=1)


def _default_sla() -> dict[Urgency, SlaTimes]:
    # seeds/000 and 003: urgent report 30 min, first check 30 min, answer 2 h, resolve/escalate 4 h.
    return {
        "非常紧急": SlaTimes(
            report_minutes=30, first_check_minutes=30, answer_minutes=60, resolve_minutes=240
        ),
        "紧急": SlaTimes(report_minutes=30, first_check_minutes=30, answer_minutes=120, resolve_minutes=240),
        "一般": SlaTimes(first_check_minutes=60, answer_minutes=120, resolve_minutes=1440),
    }


class EscalationLevel(_Model):
    """Escalate a breached record this long after its first breach (each level once)."""

    name: str
    after_breach_minutes: int = Field(default=0, ge=0)
    channels: list[str] = Field(default_factory=list)
    assignee: str | None = None
    team: str | None = None


class BusinessHours(_Model):
    """Working time for ``clock = "business"`` (scheduler timezone); ISO weekdays 1=Mon..7=Sun."""

    start: time = time(9, 0)
    end: time = time(18, 0)
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    holidays: list[date] = Field(default_factory=list, description="Dates without business hours.")
    workdays: list[date] = Field(default_factory=list, description="Extra working dates (调休 weekends).")

    @model_validator(mode="after")
    def _check(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError("business_hours.end must be after start")
        if not self.weekdays or any(d < 1 or d > 7 for d in self.weekdays):
            raise ValueError("business_hours.weekdays must be ISO weekdays 1..7")
        return self


class ComplaintsConfig(_Model):
    enabled: bool = True
    min_risk: int = Field(default=30, ge=0, le=100)
    number_prefix: str = Field(default="TS", pattern=r"^[A-Z]{1,6}$")
    registration_minutes: int = Field(default=10, ge=1)
    assignment: list[AssignmentRule] = Field(default_factory=list)
    default_team: str = "客诉组"
    default_assignee: str | None = None
    sla: dict[Urgency, SlaTimes] = Field(default_factory=_default_sla)
    clock: Literal["calendar", "business"] = "calendar"
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    callback_days: int = Field(default=7, ge=1)
    warn_before_minutes: int = Field(default=10, ge=0)
    sla_notice_minutes: int = Field(
        default=15,
        ge=0,
        description="SLA notices of a brand go to a channel as one message at most this often "
        "(a 非常紧急 record's notice at once; 0: every sweep).",
    )
    escalation: list[EscalationLevel] = Field(default_factory=list)
    repeat_window_days: int = Field(
        default=7, ge=1, description="A repeat post joins the open record within this."
    )
    group_min_records: int = Field(
        default=3,
        ge=2,
        le=1000,
        description="This many records of one event (consumers with their own grievance) make a 群体投诉 group.",
    )
    report_channels: list[str] = Field(
        default_factory=list, description="Where 紧急/非常紧急 records are reported at registration."
    )
    sla_channels: list[str] = Field(default_factory=list, description="Where SLA warnings and breaches go.")

    @field_validator("sla", mode="after")
    @classmethod
    def _fill_sla(cls, v: dict[Urgency, SlaTimes]) -> dict[Urgency, SlaTimes]:
        return {**_default_sla(), **v}


# --- service ----------------------------------------------------------------


class SchedulerConfig(_Model):
    """``yuqing run``: the job periods, the crawl timeout, health thresholds and data retention.

    Crawl schedules live on each platform (``[platforms.X].schedule``); interval schedules of
    the crawl jobs are staggered so that brands and platforms do not all fire at once.
    """

    timezone: str = "Asia/Shanghai"
    crawl_timeout_minutes: float = Field(
        default=20, gt=0, le=24 * 60, description="A crawl running longer is stopped."
    )
    stop_grace_seconds: float = Field(
        default=20.0,
        ge=0,
        le=600,
        description="On SIGTERM or timeout, how long a crawl may finish before SIGKILL.",
    )
    misfire_grace_seconds: int = Field(default=300, ge=1)
    stagger: bool = Field(default=True, description="Spread interval crawl jobs evenly over their interval.")
    dispatch_seconds: int = Field(default=5, ge=1)
    digest_seconds: int = Field(default=60, ge=5, description="How often due digests are flushed.")
    sweep_seconds: int = Field(default=60, ge=5)
    health_seconds: int = Field(default=30, ge=1, description="How often crawl health is re-evaluated.")
    daily_report: str | None = "0 9 * * *"
    weekly_report: str | None = "0 9 * * 1"
    retention: str | None = "30 3 * * *"
    raw_retention_days: int | None = Field(
        default=30, ge=1, description="Raw platform payloads are dropped after this many days."
    )
    zero_result_runs: int = Field(default=3, ge=1, description="Health alert after N empty runs in a row.")
    failed_runs: int = Field(
        default=3, ge=1, description="Health alert after N failed runs in a row (5xx, network)."
    )
    dispatch_lag_seconds: int = Field(
        default=300, ge=10, description="Health alert when a due alert waits longer than this."
    )
    lock_lease_seconds: int = Field(
        default=60,
        ge=5,
        le=3600,
        description="Leases (scheduler, running crawls) expire this long after their holder dies.",
    )
    crawl_command: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Run this argv instead of `scrapy crawl` (placeholders {platform}, {brand}, {config}),"
        " e.g. to wrap crawls in nice or a sandbox.",
    )

    @field_validator("daily_report", "weekly_report", "retention")
    @classmethod
    def _check_cron(cls, v: str | None) -> str | None:
        if v is not None:
            parse_schedule(v)
        return v

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, v: str) -> str:

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {v!r}") from exc
        return v


class DistributedConfig(_Model):
    """Distributed crawling: one ``yuqing run`` enqueues crawl tasks in Redis, ``yuqing worker``s run them.

    Active when ``enabled`` is true or a Redis URL is set (``redis_url`` or ``$REDIS_URL``).
    """

    enabled: bool = False
    redis_url: SecretStr | None = None
    key_prefix: str = Field(default="yuqing", pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    worker_concurrency: int = Field(
        default=2, ge=1, le=64, description="Crawl tasks one worker runs at once."
    )
    task_lease_seconds: int = Field(
        default=30,
        ge=5,
        le=3600,
        description="A task whose worker stops renewing its lease is requeued after this.",
    )
    poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often an idle worker looks for tasks."
    )

    @model_validator(mode="after")
    def _check_url(self) -> DistributedConfig:
        url = self.redis_url.get_secret_value() if self.redis_url is not None else ""
        if url and not re.match(r"^(redis|rediss|unix)://", url):
            raise ValueError("distributed.redis_url must be a redis://, rediss:// or unix:// URL")
        if self.enabled and not url:
            raise ValueError("distributed.enabled needs redis_url (or the REDIS_URL environment variable)")
        return self

    @property
    def active(self) -> bool:
        return self.enabled or bool(self.redis_url and self.redis_url.get_secret_value())


class ApiToken(_Model):
    """One API / dashboard user: ``viewer`` reads, ``handler`` also works complaints and exports unmasked."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w.@-]+$")
    token: SecretStr
    role: Literal["viewer", "handler"] = "viewer"

    @field_validator("token")
    @classmethod
    def _long_enough(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value()) < 16:
            raise ValueError("an API token needs at least 16 characters (use ${ENV} or ${file:...})")
        return v


_ORIGIN_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")


class ApiConfig(_Model):
    """``yuqing serve``: the REST API and dashboard (token auth, CORS off unless origins are listed)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8600, ge=1, le=65535)
    tokens: list[ApiToken] = Field(
        default_factory=list, description="Empty: serve prints a one-off handler token."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Exact origins allowed by CORS; empty: off."
    )
    login_max_failures: int = Field(
        default=5, ge=1, le=1000, description="Failed logins per client per window."
    )
    login_window_seconds: int = Field(default=300, ge=10, le=86_400)
    public_url: str | None = Field(default=None, description="Dashboard URL used in report and alert links.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Reverse-proxy addresses whose "
        "X-Forwarded-For is believed (client address, login lockout); empty: none.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: list[str]) -> list[str]:

        for item in v:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {item!r}") from None
        return v

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, v: list[str]) -> list[str]:
        bad = [o for o in v if not _ORIGIN_RE.match(o)]
        if bad:
            raise ValueError(f"CORS origins must be scheme://host[:port] without a path: {bad[0]!r}")
        return v

    @field_validator("public_url")
    @classmethod
    def _public(cls, v: str | None) -> str | None:
        return None if v is None else PlatformConfig._check_url(v)

    @model_validator(mode="after")
    def _unique(self) -> ApiConfig:
        names = [t.name for t in self.tokens]
        secrets = [t.token.get_secret_value() for t in self.tokens]
        if len(set(names)) != len(names):
            raise ValueError("api.tokens: duplicate token name")
        if len(set(secrets)) != len(secrets):
            raise ValueError("api.tokens: two users share the same token")
        return self


_REPORT_FORMATS: tuple[Literal["html", "pdf", "xlsx"], ...] = ("html",)


class ReportsConfig(_Model):
    """``yuqing report daily|weekly``: formats written, where, and the channels they are sent to."""

    channels: list[str] = Field(
        default_factory=list, description="Alert channels (chat robots, e-mail) for --send."
    )
    formats: list[Literal["html", "pdf", "xlsx"]] = Field(default_factory=lambda: list(_REPORT_FORMATS))
    output_dir: str | None = Field(default=None, description="Default: <data_dir>/reports.")
    top_n: int = Field(default=10, ge=1, le=100, description="Rows in the top-events / top-risk tables.")
    brands: list[str] = Field(
        default_factory=list, description="Brands the scheduled reports cover; empty: all."
    )


_HOT_LIST_PLATFORMS: tuple[Literal["weibo", "douyin"], ...] = ("weibo", "douyin")


class HotListsConfig(_Model):
    """``[hot_lists]``: watching Weibo hot search and the Douyin hot list for the brands' topics."""

    enabled: bool = True
    platforms: list[Literal["weibo", "douyin"]] = Field(default_factory=lambda: list(_HOT_LIST_PLATFORMS))
    schedule: str = Field(default="every 5m", description="How often each list is fetched.")
    weibo_url: str | None = Field(
        default=None,
        description="Host of /ajax/side/hotSearch (PC site); default: "
        "https://weibo.com, or [platforms.weibo].base_url when that is not m.weibo.cn.",
    )
    douyin_url: str | None = Field(
        default=None, description="Host of the hot list API; default: [platforms.douyin].base_url."
    )
    channels: list[str] = Field(
        default_factory=list, description="Where hot-list alerts go; empty: the channels of the surge rules."
    )
    top: int = Field(default=10, ge=1, le=50, description="Climbing into the top N is an alert update.")
    rank_jump: int = Field(
        default=10, ge=1, le=50, description="Climbing this many places is an alert update."
    )
    crawl_topics: bool = Field(
        default=True, description="Crawl a brand topic's posts (keyword search) at once."
    )
    timeout_seconds: float = Field(default=15.0, gt=0, le=120)

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, v: str) -> str:
        parse_schedule(v)
        return v

    @field_validator("weibo_url", "douyin_url")
    @classmethod
    def _check_urls(cls, v: str | None) -> str | None:
        return None if v is None else PlatformConfig._check_url(v)


class TrackingConfig(_Model):
    """``[tracking]``: following a risky Weibo post's reposts and comments after it is found."""

    enabled: bool = True
    hours: float = Field(default=48, gt=0, le=24 * 30, description="How long a post stays on watch.")
    max_posts: int = Field(default=20, ge=1, le=1000, description="Posts watched at once (the newest win).")
    first_minutes: float = Field(default=10, gt=0, description="Interval after the watch starts.")
    min_minutes: float = Field(default=2, gt=0, description="Tightest interval while reposts accelerate.")
    max_minutes: float = Field(default=60, gt=0, description="Loosest interval once growth has stopped.")
    max_pages: int = Field(default=10, ge=1, le=200, description="Repost pages fetched per visit at most.")
    acceleration_alert: float = Field(
        default=30, ge=0, description="Alert update when reposts/hour grow by this much per hour (0: never)."
    )
    check_seconds: int = Field(default=60, ge=5, description="How often the service looks for due posts.")


class ProjectConfig(_Model):
    name: str = "yuqing"
    data_dir: str = "data"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = False


class AppConfig(_Model):
    """Everything yuqing reads from its config file, validated."""

    project: ProjectConfig = Field(default_factory=ProjectConfig)
    brands: list[BrandConfig] = Field(min_length=1)
    platforms: PlatformsConfig = Field(default_factory=PlatformsConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    complaints: ComplaintsConfig = Field(default_factory=ComplaintsConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    distributed: DistributedConfig = Field(default_factory=DistributedConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    hot_lists: HotListsConfig = Field(default_factory=HotListsConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    source: Annotated[str | None, Field(exclude=True)] = None

    @model_validator(mode="after")
    def _check_brands(self) -> AppConfig:
        seen: dict[str, int] = {}
        for i, brand in enumerate(self.brands):
            for word in brand.all_names:
                if word in seen and seen[word] != i:
                    raise ValueError(
                        f"brands[{i}]: duplicate brand or alias {word!r} (also brands[{seen[word]}])"
                    )
                seen[word] = i
        for i, level in enumerate(self.complaints.escalation):
            for ch in level.channels:
                if ch not in self.alerts.channels:
                    raise ValueError(f"complaints.escalation[{i}] routes to unknown channel {ch!r}")
        for key in ("report_channels", "sla_channels"):
            for ch in getattr(self.complaints, key):
                if ch not in self.alerts.channels:
                    raise ValueError(f"complaints.{key} routes to unknown channel {ch!r}")
        for ch in self.reports.channels:
            if ch not in self.alerts.channels:
                raise ValueError(f"reports.channels routes to unknown channel {ch!r}")
        for ch in self.hot_lists.channels:
            if ch not in self.alerts.channels:
                raise ValueError(f"hot_lists.channels routes to unknown channel {ch!r}")
        return self

    def brand(self, name: str) -> BrandConfig:
        """The brand called ``name`` (or having it as an alias)."""
        for b in self.brands:
            if name in b.all_names:
                return b
        raise ConfigError(
            f"unknown brand {name!r} (configured: {', '.join(b.name for b in self.brands)})",
            path=self.source,
            key="brands",
        )

    @property
    def database_url(self) -> str:
        return self.storage.url.get_secret_value()

    @property
    def redis_url(self) -> str | None:
        if self.distributed.redis_url is None:
            return None
        return self.distributed.redis_url.get_secret_value() or None

    def data_path(self) -> Path:

        return data_dir(self.project.data_dir)

    def redacted(self) -> dict[str, Any]:
        """A JSON-able view with every secret masked, for ``yuqing config check``."""
        return {k: _redact_value(v) for k, v in self.model_dump(mode="python").items()}


# --- loading ----------------------------------------------------------------

_REF_RE = re.compile(r"\$\{([^}]*)\}")


def _resolve_refs(value: Any, key: str, path: str) -> Any:
    """Replace ``${ENV}``, ``${ENV:-default}`` and ``${file:/path}`` in every string."""
    if isinstance(value, dict):
        return {k: _resolve_refs(v, f"{key}.{k}" if key else k, path) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_refs(v, f"{key}[{i}]", path) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def sub(m: re.Match[str]) -> str:
        ref = m.group(1).strip()
        if ref.startswith("file:"):
            file = Path(ref[5:]).expanduser()
            try:
                return file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read secret file {str(file)!r}: {exc.strerror}", path=path, key=key
                ) from exc
        name, sep, default = ref.partition(":-")
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            raise ConfigError(f"bad reference ${{{ref}}}", path=path, key=key)
        env = os.environ.get(name)
        if env is not None and env != "":
            return env
        if sep:
            return default
        raise ConfigError(f"missing secret: environment variable {name} is not set", path=path, key=key)

    resolved = _REF_RE.sub(sub, value)
    leftover = _REF_RE.sub("", value)
    if "${" in leftover:  # "${TOKEN" without its closing brace would become the literal value
        raise ConfigError("unterminated reference: '${' without a closing '}'", path=path, key=key)
    return resolved


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _format_validation(exc: ValidationError, path: str) -> ConfigError:
    errors = exc.errors(include_url=False)
    first = errors[0]
    key = _loc(tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-"))))
    msg = str(first["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if first["type"] == "extra_forbidden":
        parts = key.split(".")
        if len(parts) == 2 and parts[0] == "platforms":
            msg = f"unknown platform {parts[1]!r} (known: {', '.join(PLATFORMS)})"
        else:
            msg = f"unknown key {parts[-1]!r}"
    elif (
        "input" in first and first["type"] not in ("missing",) and not isinstance(first["input"], dict | list)
    ):
        shown = first["input"]
        if not any(s in key.lower() for s in ("secret", "token", "url", "cookie", "password")):
            msg = f"{msg} (got {shown!r})"
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return ConfigError(msg + more, path=path, key=key or None)


def load_config(path: str | os.PathLike[str] | None = None) -> AppConfig:
    """Load, interpolate and validate the config file; raise :class:`ConfigError` on any problem."""
    file = config_path(path)
    shown = str(file)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            "file not found (set --config or YUQING_CONFIG, or create it with 'yuqing config init')",
            path=shown,
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("not UTF-8 text", path=shown) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"TOML syntax error: {exc}", path=shown) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=shown) from exc
    return config_from_dict(raw, source=shown)


def config_from_dict(raw: dict[str, Any], *, source: str = "<dict>") -> AppConfig:
    """Validate an already parsed config mapping (used by tests and the demo)."""
    data = _resolve_refs(raw, "", source)
    env_db = os.environ.get("YUQING_DATABASE_URL")
    if env_db:
        data.setdefault("storage", {})["url"] = env_db
    env_redis = os.environ.get("REDIS_URL")
    if env_redis:
        data.setdefault("distributed", {})["redis_url"] = env_redis
    data["source"] = source
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise _format_validation(exc, source) from None


def _mask_url(url: str) -> str:
    return re.sub(r"(://[^/\s:@]+:)[^@\s/]+@", r"\1***@", url)


def _redact_value(value: Any) -> Any:
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        if re.match(r"^(sqlite|postgresql|redis)", secret):
            return _mask_url(secret)
        return "***" if secret else ""
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return value

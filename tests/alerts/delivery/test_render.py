"""Rendering every alert kind in Chinese, splitting to each platform's limits, and the channel config."""

from __future__ import annotations

import pytest

from alerts.delivery.channels import make_channel
from alerts.delivery.formats import to_text
from alerts.delivery.render import number, render
from crawler.config import ChannelConfig
from crawler.errors import ConfigError

from .conftest import make_config, mention_payload


def text_of(payload: dict) -> str:
    return to_text(render(payload, ref="告警编号 3"))


def test_mention_alert_has_everything_people_act_on() -> None:
    out = text_of(mention_payload())
    for expected in (
        "🟠 【紧急】鲜果时光 舆情预警：芒果冰沙喝后腹泻 1",
        "等级：紧急 · 风险 81/100",
        "原因：食品安全；要求退款",
        "平台：微博",
        "作者：吃货小王（粉丝 12.3万，已认证）",
        "发布：11-22 15:00 · IP 广东",
        "互动：赞 1200 · 评论 30 · 转发 45",
        "「第1条：喝了鲜果时光芒果冰沙拉肚子，要求退款」",
        "规模：12 条相关内容（微博 9 / 抖音 3）",
        "态势：总互动 5000 · 趋势 上升",
        "客诉单：TS20261122-0001（待处理）",
        "负责：品控组 / 张三",
        "时限：上报 11-22 15:30 · 首查 11-22 15:30 · 答复 11-22 17:00 · 解决 11-22 19:00",
        "查看原帖：https://m.weibo.cn/detail/4900000001",
        "yuqing 舆情监控 · 告警编号 3",
    ):
        assert expected in out, expected


def test_other_kinds() -> None:
    health = text_of(
        {
            "kind": "health",
            "title": "微博登录失效",
            "health": {
                "platform": "weibo",
                "brand": "鲜果时光",
                "kind": "auth_expired",
                "message": "Cookie 已过期",
                "fix": "运行 yuqing login weibo",
                "state": "opened",
            },
        }
    )
    assert health.startswith("⚠️ 采集状态：微博登录失效") and "状态：微博 · 鲜果时光 异常" in health
    assert "处理：运行 yuqing login weibo" in health
    cleared = text_of(
        {"kind": "health", "title": "微博恢复", "health": {"platform": "weibo", "state": "cleared"}}
    )
    assert cleared.startswith("✅") and "已恢复" in cleared
    sla = mention_payload()
    sla.update(kind="complaint_sla", title="首查即将超时", text="距首查时限还有 10 分钟")
    out = text_of(sla)
    assert (
        out.index("客诉单：TS20261122-0001") < out.index("距首查时限还有 10 分钟") < out.index("平台：微博")
    )
    registered = mention_payload()
    registered.update(kind="complaint", title="新登记客诉 TS20261122-0001 食品安全")
    out = text_of(registered)
    assert "客诉登记：新登记客诉 TS20261122-0001" in out and "客诉时限提醒" not in out
    report = text_of(
        {"kind": "report", "title": "日报 11-22", "text": "声量 120 条\n\n负面占比 12%\n- 第一条"}
    )
    assert report.splitlines()[1:4] == ["声量 120 条", "负面占比 12%", "- 第一条"]
    surge = text_of(
        {
            "kind": "surge",
            "brand": "鲜果时光",
            "urgency": "非常紧急",
            "title": "声量 1 小时增长 8 倍",
            "event": {"mention_count": 480, "trend": 7.5},
        }
    )
    assert surge.startswith("🔴 【非常紧急】鲜果时光 声量激增") and "趋势 +750%" in surge
    digest = text_of(
        {
            "kind": "digest",
            "brand": "鲜果时光",
            "title": "过去 60 分钟",
            "items": [mention_payload(i)["mention"] for i in range(3)],
        }
    )
    assert "条数：3 条未单独推送的风险内容" in digest and "第3条：微博 · 吃货小王 · 食用不适" in digest


@pytest.mark.parametrize(
    ("n", "shown"), [(999, "999"), (12_345, "1.2万"), (10_000, "1万"), (250_000_000, "2.5亿")]
)
def test_numbers(n: int, shown: str) -> None:
    assert number(n) == shown


@pytest.mark.parametrize("kind", ["dingtalk", "wecom", "feishu", "slack"])
def test_big_digest_splits_within_limits(kind: str) -> None:
    cfg = ChannelConfig(type=kind, url="http://127.0.0.1:9/x")
    ch = make_channel("c", cfg)
    items = [dict(mention_payload(i)["mention"], text="超长的投诉内容，" * 60) for i in range(120)]
    parts = ch.parts({"kind": "digest", "title": "大摘要", "items": items}, ref="告警编号 1")
    assert len(parts) > 1
    limit = cfg.size_limit
    assert limit is not None and all(ch.measure(p) <= limit for p in parts)
    if kind == "slack":
        assert all(len(p["blocks"]) <= 50 for p in parts)
    joined = "".join(str(p) for p in parts)
    assert all(f"第{i + 1}条" in joined for i in range(120))


def test_channel_config_defaults_and_validation() -> None:
    cfg = make_config(
        {
            "dt": {"type": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=x"},
            "fs": {
                "type": "feishu",
                "url": "https://open.feishu.cn/open-apis/bot/v2/hook/x",
                "rate_per_minute": 30,
            },
            "mail": {
                "type": "email",
                "smtp_host": "smtp.example.com",
                "security": "ssl",
                "sender": "a@example.com",
                "recipients": ["b@example.com"],
            },
        }
    )
    ch = cfg.alerts.channels
    assert ch["dt"].limits == (20, None) and ch["dt"].size_limit == 18_000
    assert ch["fs"].limits == (30, 5) and ch["mail"].port == 465 and ch["mail"].size_limit is None
    assert cfg.alerts.max_attempts == 10 and cfg.alerts.lease_seconds == 120
    with pytest.raises(ConfigError, match="must be an http"):
        make_config({"x": {"type": "slack", "url": "ftp://hooks.slack.com/services/x"}})
    with pytest.raises(ConfigError, match="needs url"):
        make_config({"x": {"type": "wecom"}})
    with pytest.raises(ConfigError, match="smtp_host, sender and recipients"):
        make_config({"x": {"type": "email", "smtp_host": "h"}})
    with pytest.raises(ConfigError, match="style"):
        make_config({"x": {"type": "feishu", "url": "https://open.feishu.cn/x", "style": "markdown"}})

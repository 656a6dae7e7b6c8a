"""What operators read about a health incident (Chinese): titles, message, the fix.

Kept apart from the judging logic in :mod:`crawler.service.health`; the payload carries these
strings and the channel renderers escape them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crawler.config import PLATFORM_NAMES

if TYPE_CHECKING:
    from crawler.config import AppConfig

LABELS: dict[str, str] = {
    "session_expired": "登录已失效",
    "blocked": "触发风控（验证码/封禁/限流）",
    "signature_rejected": "签名被平台拒绝",
    "schema_change": "返回数据结构变化",
    "browser_missing": "缺少 Chromium 浏览器",
    "timeout": "采集超时",
    "zero_results": "连续多次无结果",
    "crawl_failed": "采集连续失败",
    "dispatcher_lag": "告警发送积压",
    "no_workers": "没有可用的采集节点",
}


@dataclass(frozen=True, slots=True)
class IncidentText:
    title_opened: str
    title_cleared: str
    message: str
    cleared_message: str
    fix: str


def _where(platform: str | None, brand: str | None) -> str:
    parts = [PLATFORM_NAMES.get(platform, platform) if platform else "yuqing 服务"]
    if brand:
        parts.append(brand)
    return " · ".join(p for p in parts if p)


def _message(kind: str, where: str, platform: str | None, detail: str | None, cfg: AppConfig) -> str:
    tail = f"（{detail}）" if detail else ""
    if kind == "session_expired":
        return f"{where} 的登录会话已过期，采集拿不到数据{tail}。"
    if kind == "blocked":
        return f"{where} 触发了平台风控：验证码、IP 封禁或请求过于频繁{tail}。"
    if kind == "signature_rejected":
        return f"{where} 拒绝了请求签名，采集无法进行{tail}。"
    if kind == "schema_change":
        return f"{where} 返回的数据结构与预期不符，解析失败{tail}。"
    if kind == "browser_missing":
        return f"{where} 需要用 Chromium 浏览器采集，但这台机器上找不到它，采集无法进行。"
    if kind == "timeout":
        minutes = cfg.scheduler.crawl_timeout_minutes
        return f"{where} 的采集超过 {minutes:g} 分钟未结束，已被终止{tail}。"
    if kind == "zero_results":
        return f"{where} 连续 {detail or cfg.scheduler.zero_result_runs} 次采集结果为 0，而此前有结果。0 条不代表没有舆情。"
    if kind == "crawl_failed":
        return f"{where} 连续 {cfg.scheduler.failed_runs} 次采集失败{tail}。"
    if kind == "dispatcher_lag":
        count, _, since = (detail or "").partition("|")
        minutes = cfg.scheduler.dispatch_lag_seconds // 60 or 1
        return (
            f"有 {count or '若干'} 条告警超过 {minutes} 分钟仍未发出"
            + (f"（最早应于 {since} 发送）" if since else "")
            + "。"
        )
    if kind == "no_workers":
        return f"有 {detail or '若干'} 个采集任务在排队，但没有任何 yuqing worker 在运行，采集已停止。"
    return f"{where}：{kind}{tail}。"


def _fix(kind: str, platform: str | None) -> str:
    login = f"yuqing login {platform}" if platform else "yuqing login <平台>"
    fixes = {
        "session_expired": f"在能扫码的机器上运行 `{login}` 重新登录；下一次计划采集会自动恢复。",
        "blocked": (
            f"降低该平台的 rate_limit_per_minute 或拉长 schedule，暂停一段时间再试；"
            f"需要验证码时运行 `{login}` 人工通过；必要时更换账号或出口 IP。"
        ),
        "signature_rejected": "平台的签名算法可能已更新：升级 yuqing，或在配置中更换签名方式（signer）。",
        "schema_change": "平台接口改版，解析器需要更新：升级 yuqing；原始响应见 data/logs/crawls/ 下的采集日志。",
        "browser_missing": (
            "安装 Chromium：apt-get install -y chromium fonts-noto-cjk（Debian），或 playwright install "
            "chromium，或把 YUQING_CHROMIUM 设为浏览器路径；`yuqing doctor` 可检查。"
        ),
        "timeout": "检查网络和平台响应速度；必要时调大 [scheduler] crawl_timeout_minutes 或减少 max_pages。",
        "zero_results": f"检查关键词配置和账号状态（`{login}`），以及平台是否限流或改版。",
        "crawl_failed": "查看 data/logs/crawls/ 下的采集日志；平台可能暂时不可用或网络中断。",
        "dispatcher_lag": "确认 `yuqing run` 正在运行，并检查告警渠道是否可达（`yuqing alerts list`、`yuqing alerts test <渠道>`）。",
        "no_workers": "在采集机器上启动 `yuqing worker`（或 systemctl start yuqing-worker@1），并确认它们能连上 Redis 和数据库。",
    }
    if platform == "heimao":  # no QR login for Heimao: its cookies come from a logged-in browser
        fixes["session_expired"] = (
            "黑猫投诉没有扫码登录：从已登录的浏览器复制 cookies，设置 HEIMAO_COOKIES"
            "（或 [platforms.heimao].accounts 的 cookies），再运行 "
            "`yuqing crawl heimao --brand <品牌>` 检查。"
        )
        fixes["blocked"] = fixes["blocked"].replace(
            f"`{login}` 人工通过", "浏览器中人工通过并更新 HEIMAO_COOKIES"
        )
        fixes["zero_results"] = fixes["zero_results"].replace(f"（`{login}`）", "（HEIMAO_COOKIES）")
    return fixes.get(kind, "查看 yuqing 日志。")


def describe(
    kind: str, platform: str | None, brand: str | None, detail: str | None, cfg: AppConfig
) -> IncidentText:
    """The texts of one incident of ``kind`` on (platform, brand)."""
    where = _where(platform, brand)
    label = LABELS.get(kind, kind)
    return IncidentText(
        title_opened=f"【采集异常】{where}：{label}",
        title_cleared=f"【已恢复】{where}：{label}已恢复",
        message=_message(kind, where, platform, detail, cfg),
        cleared_message=f"{where}：{label}的问题已解除"
        + ("。" if kind in ("dispatcher_lag", "no_workers") else "，采集恢复正常。"),
        fix=_fix(kind, platform),
    )

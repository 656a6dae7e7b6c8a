"""The dispatcher: delivers the outbox (``alert_deliveries``) to the channels, at least once, shown once.

One pass (:func:`dispatch_once`) works every enabled channel in its own thread, so a
slow or failing channel never holds up the others. Per channel it:

1. skips the channel while it is paused (after a rate-limit answer or an outage);
2. claims due deliveries: ``pending``/``failed`` with ``next_attempt_at <= now``, or
   ``sending`` whose lease (``[alerts].lease_seconds``) expired because a dispatcher died;
3. for each part of each message, reserves a slot in the channel's sliding window
   (``alert_sends``: ``rate_per_minute``, ``rate_per_second``; shared by every dispatcher
   process through the database), sends it, and commits the progress right away;
4. on failure: rate limits pause the channel without costing an attempt; network
   errors and 5xx retry with exponential backoff and jitter; permanent refusals (bad
   signature, bad URL, keyword missing, invalid body) and the last of
   ``[alerts].max_attempts`` tries dead-letter the delivery with the reason.

Guarantee: at least once. The claim is committed before sending and the success right
after the answer, so a crash between the two (a window of one database commit) leaves a
``sending`` row that is re-sent once its lease expires, with the same idempotency key:
the webhook channel sends it as ``Idempotency-Key`` and e-mail as the Message-ID, so those
receivers show it once; a chat robot has no such key and may show that one message twice.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from loguru import logger
from sqlalchemy.exc import SQLAlchemyError

from alerts.delivery import ledger
from alerts.delivery.channels import Channel, DeliveryFailed, make_channel
from crawler.clock import utcnow

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.engine import Engine

    from crawler.config import AlertsConfig, AppConfig, ChannelConfig

GROUP_SIZE = 50  # idempotent channels: deliveries sent in parallel, then committed together
GROUP_THREADS = 4
CHANNEL_PAUSE_MAX = 60.0  # while a channel is down it is probed at least once a minute
WINDOW_MARGIN = 1.0  # seconds added to each rate window: our clock and the platform's differ


@dataclass(slots=True)
class DispatchStats:
    """What a dispatcher pass (or loop) did."""

    claimed: int = 0
    sent: int = 0  # deliveries completed
    messages: int = 0  # message parts the channels accepted
    retried: int = 0
    rate_limited: int = 0
    dead: int = 0
    released: int = 0  # claimed but left for later (rate window full, channel paused mid-pass)
    errors: int = 0  # unexpected exceptions caught at the channel boundary
    paused: list[str] = field(default_factory=list)

    def add(self, other: DispatchStats) -> None:
        for name in ("claimed", "sent", "messages", "retried", "rate_limited", "dead", "released", "errors"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.paused += [p for p in other.paused if p not in self.paused]

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def backoff(acfg: AlertsConfig, attempts: int, rng: random.Random) -> float:
    """Exponential backoff with equal jitter: half the delay fixed, half random; capped."""
    delay: float = min(acfg.max_backoff_seconds, acfg.backoff_seconds * 2 ** max(0, attempts - 1))
    return delay / 2 + rng.uniform(0, delay / 2)


def windows(ccfg: ChannelConfig) -> list[tuple[int, float]]:
    per_minute, per_second = ccfg.limits
    out = [(per_minute, 60.0 + WINDOW_MARGIN)]
    if per_second:
        out.append((per_second, 1.0 + WINDOW_MARGIN / 10))
    return out


@dataclass(slots=True)
class _Pass:
    """One channel's share of a dispatcher pass."""

    engine: Engine
    cfg: AppConfig
    name: str
    clock: Callable[[], datetime]
    rng: random.Random
    stats: DispatchStats
    token: str = ""
    channel: Channel | None = None
    slots: list[int] = field(default_factory=list)  # reserved rate-window slots not used yet
    queue: list[int] = field(default_factory=list)  # claimed delivery ids not finished yet

    @property
    def acfg(self) -> AlertsConfig:
        return self.cfg.alerts

    def guarded(self, client: httpx.Client | None) -> None:
        """The channel's process boundary: a bug here never stops the other channels (database errors go up)."""
        try:
            self.run(client)
        except SQLAlchemyError:
            raise
        except Exception:
            logger.exception("channel {name}: dispatch pass failed", name=self.name)
            self.stats.errors += 1

    def run(self, client: httpx.Client | None) -> None:
        ccfg = self.acfg.channels[self.name]
        now = self.clock()
        state = ledger.channel_state(self.engine, self.name)
        pause = state.paused_until if state is not None else None
        room = ledger.window_room(self.engine, self.name, windows(ccfg), now=now)
        if (pause is not None and pause > now) or room == 0:
            self.stats.paused.append(self.name)
            return
        self.token, claims = ledger.claim(
            self.engine,
            self.name,
            now=now,
            lease_seconds=self.acfg.lease_seconds,
            limit=min(room, self.acfg.dispatch_batch),
        )
        self.stats.claimed += len(claims)
        if not claims:
            return
        self.channel = make_channel(
            self.name,
            ccfg,
            client=client,
            clock=lambda: self.clock().timestamp(),
            tz=self.cfg.scheduler.timezone,
        )
        self.queue = [c.id for c in claims]
        try:
            ok_before = self.stats.sent
            if self.channel.idempotent:
                self.deliver_grouped(claims)
            else:
                for claimed in claims:
                    if not self.deliver(claimed):
                        break
                    self.queue.remove(claimed.id)
            stale = (
                state is None
                or state.failures
                or state.last_ok_at is None
                or now - state.last_ok_at > timedelta(seconds=60)
            )
            if self.stats.sent > ok_before and stale:  # keep the shared state fresh without a write per pass
                ledger.note_outcome(self.engine, self.name, now=self.clock(), error=None, pause=None)
        finally:
            self.channel.close()
            ledger.return_slots(self.engine, self.slots)
            if self.queue:
                self.stats.released += ledger.release(self.engine, self.token)

    def take_slot(self) -> bool:
        """A rate-window slot for the next send; reserved for the rest of the pass at once (one commit)."""
        if not self.slots:
            self.slots = ledger.reserve_slots(
                self.engine,
                self.name,
                windows(self.acfg.channels[self.name]),
                now=self.clock(),
                delivery_ids=list(self.queue) or [None],
            )
        if not self.slots:
            return False
        self.slots.pop(0)
        return True

    def render(self, c: ledger.Claimed) -> list[Any] | None:
        """The parts of ``c``; None when it was dead-lettered instead (unrenderable, or its dispatcher kept dying)."""
        assert self.channel is not None
        if c.reclaimed and c.attempts >= self.acfg.max_attempts:
            self.dead(c, f"dispatcher stopped while sending, {c.attempts} times")
            return None
        try:
            return self.channel.parts(c.payload, ref=f"告警编号 {c.alert_id}", key=c.key)
        except Exception as exc:  # process boundary: a payload we cannot render must not block the queue
            logger.exception("channel {name}: cannot render alert {id}", name=self.name, id=c.alert_id)
            self.stats.errors += 1
            self.dead(c, f"cannot render: {type(exc).__name__}: {exc}")
            return None

    def send(self, c: ledger.Claimed, part: Any, key: str) -> DeliveryFailed | None:
        assert self.channel is not None
        try:
            self.channel.send(part, key=key)
        except DeliveryFailed as exc:
            return exc
        except Exception as exc:  # process boundary: one channel's bug never stops the others
            logger.exception(
                "channel {name}: unexpected error sending alert {id}", name=self.name, id=c.alert_id
            )
            self.stats.errors += 1
            return DeliveryFailed(f"internal error: {type(exc).__name__}: {exc}", channel=self.name)
        return None

    def deliver(self, c: ledger.Claimed) -> bool:
        """Send one delivery's remaining parts, committing after each; False stops this channel for the pass."""
        parts = self.render(c)
        if parts is None:
            return True
        for i in range(c.parts_sent, len(parts)):
            if not self.take_slot():
                return False
            error = self.send(c, parts[i], c.key if len(parts) == 1 else f"{c.key}-{i + 1}")
            if error is not None:
                return self.failed(c, error)
            if not ledger.mark_part(
                self.engine, c.id, self.token, parts_sent=i + 1, parts_total=len(parts), now=self.clock()
            ):
                logger.warning(
                    "channel {name}: lease on delivery {id} was lost while sending (raise lease_seconds)",
                    name=self.name,
                    id=c.id,
                )
                return False
            self.stats.messages += 1
        self.stats.sent += 1
        return True

    def deliver_grouped(self, claims: list[ledger.Claimed]) -> None:
        """For receivers that de-duplicate by key (the webhook): send a group in parallel, commit it at once."""
        for start in range(0, len(claims), GROUP_SIZE):
            self.queue = [c.id for c in claims[start:]]
            group: list[tuple[ledger.Claimed, Any]] = []
            more = True
            for c in claims[start : start + GROUP_SIZE]:
                parts = self.render(c)
                if parts is None:
                    continue
                if len(parts) - c.parts_sent != 1:  # a split message goes part by part
                    more = self.deliver(c)
                elif self.take_slot():
                    group.append((c, parts[-1]))
                else:
                    more = False
                if not more:
                    break
            with ThreadPoolExecutor(
                max_workers=GROUP_THREADS, thread_name_prefix=f"send-{self.name}"
            ) as pool:
                errors = list(pool.map(lambda cp: self.send(cp[0], cp[1], cp[0].key), group))
            if not self.finish_group(group, errors) or not more:
                return
        self.queue = []

    def finish_group(
        self, group: list[tuple[ledger.Claimed, Any]], errors: list[DeliveryFailed | None]
    ) -> bool:
        done = [c for (c, _), e in zip(group, errors, strict=True) if e is None]
        if done:
            ledger.mark_sent(self.engine, [c.id for c in done], self.token, now=self.clock())
            self.stats.sent += len(done)
            self.stats.messages += len(done)
        ok = True
        for (c, _), e in zip(group, errors, strict=True):
            if e is not None:
                ok = self.failed(c, e) and ok
        return ok

    def dead(self, c: ledger.Claimed, reason: str) -> bool:
        now = self.clock()
        ledger.reschedule(
            self.engine, c.id, self.token, now=now, next_at=now, error=reason, count_attempt=True, dead=True
        )
        self.stats.dead += 1
        logger.error(
            "channel {name}: alert {id} dead-lettered: {reason}", name=self.name, id=c.alert_id, reason=reason
        )
        return True

    def failed(self, c: ledger.Claimed, exc: DeliveryFailed) -> bool:
        now = self.clock()
        reason = str(exc)
        if exc.rate_limited:
            wait = max(exc.retry_after or 0.0, self.acfg.backoff_seconds) * self.rng.uniform(1.0, 1.2)
            until = now + timedelta(seconds=wait)
            ledger.reschedule(
                self.engine, c.id, self.token, now=now, next_at=until, error=reason, count_attempt=False
            )
            ledger.note_outcome(self.engine, self.name, now=now, error=reason, pause=lambda _n: wait)
            self.stats.rate_limited += 1
            logger.warning(
                "channel {name}: rate limited, paused {s:.0f}s: {reason}",
                name=self.name,
                s=wait,
                reason=reason,
            )
            return False
        attempts = c.attempts + 1
        if not exc.retryable or attempts >= self.acfg.max_attempts:
            why = reason if not exc.retryable else f"gave up after {attempts} attempts: {reason}"
            ledger.note_outcome(
                self.engine,
                self.name,
                now=now,
                error=reason,
                pause=lambda n: min(CHANNEL_PAUSE_MAX, self.acfg.backoff_seconds * n),
            )
            return self.dead(c, why) and False
        delay = max(backoff(self.acfg, attempts, self.rng), exc.retry_after or 0.0)
        ledger.reschedule(
            self.engine,
            c.id,
            self.token,
            now=now,
            next_at=now + timedelta(seconds=delay),
            error=reason,
            count_attempt=True,
        )
        ledger.note_outcome(
            self.engine,
            self.name,
            now=now,
            error=reason,
            pause=lambda n: min(CHANNEL_PAUSE_MAX, backoff(self.acfg, n, self.rng)),
        )
        self.stats.retried += 1
        logger.warning(
            "channel {name}: alert {id} attempt {n} failed, retry in {s:.0f}s: {reason}",
            name=self.name,
            id=c.alert_id,
            n=attempts,
            s=delay,
            reason=reason,
        )
        return False


def dispatch_once(
    engine: Engine,
    cfg: AppConfig,
    *,
    now: datetime | None = None,
    channels: list[str] | None = None,
    client: httpx.Client | None = None,
    rng: random.Random | None = None,
) -> DispatchStats:
    """One pass over every enabled channel (or ``channels``); ``now`` freezes the clock (tests)."""
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    rng = rng or random.Random()
    names = [n for n, c in cfg.alerts.channels.items() if c.enabled and (channels is None or n in channels)]
    passes = [_Pass(engine, cfg, name, clock, random.Random(rng.random()), DispatchStats()) for name in names]
    if len(passes) == 1:
        passes[0].guarded(client)
    elif passes:
        with ThreadPoolExecutor(max_workers=min(8, len(passes)), thread_name_prefix="dispatch") as pool:
            list(pool.map(lambda p: p.guarded(client), passes))
    total = DispatchStats()
    for p in passes:
        total.add(p.stats)
    if total.claimed:
        logger.info("dispatch: {s}", s={k: v for k, v in total.as_dict().items() if v})
    return total


def run_loop(
    engine: Engine,
    cfg: AppConfig,
    *,
    interval: float = 0.5,
    stop: threading.Event | None = None,
    max_seconds: float | None = None,
    channels: list[str] | None = None,
) -> DispatchStats:
    """Dispatch until ``stop`` is set (or ``max_seconds`` pass); idle passes wait ``interval`` seconds."""
    stop = stop or threading.Event()
    total = DispatchStats()
    started = time.monotonic()
    while not stop.is_set() and (max_seconds is None or time.monotonic() - started < max_seconds):
        try:
            stats = dispatch_once(engine, cfg, channels=channels)
        except SQLAlchemyError:
            logger.exception("dispatch: database error; retrying in {s}s", s=interval * 10)
            stop.wait(interval * 10)
            continue
        total.add(stats)
        if stats.messages == 0:
            stop.wait(interval)
    return total

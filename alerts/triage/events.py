"""Events: cluster mentions that tell one story (near-duplicate reposts, the same story elsewhere).

A mention joins an event of the same brand seen within ``[alerts.events].window_hours`` when
its SimHash fingerprint is within ``simhash_distance`` bits of the event's, or when the
character-bigram sets of their texts overlap enough (``min_similarity``, Jaccard; or a
containment of 0.8 for a repost quoting the story). Candidates come from lookup keys
(SimHash bands and MinHash bands, table ``event_keys``), never from a scan of the window.
An event is compared through its wordings: the mention that opened it and, per other
platform, the first member that tells the story more barely (``variants``: mostly inside an
existing wording yet with a Jaccard similarity under ``VARIANT_BELOW`` to each), each with its
own keys, so a story that first arrives framed on one platform (a Heimao complaint quoting it)
still gathers the reposts on another, framed their own way.
Aggregates (counts per platform, engagement, sentiment mix, max urgency/risk) are recomputed
from the member mentions of each touched event.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import and_, bindparam, case, func, insert, select, update
from sqlalchemy.engine import Connection

from alerts.rules import URGENCY_RANK, urgency_of_rank
from crawler.storage.models import EVENT_KEYS as KEYS
from crawler.storage.models import EVENTS, MENTIONS

if TYPE_CHECKING:
    from crawler.config import AppConfig

NEGATIVE_BELOW = 0.4  # sentiment under this is negative
POSITIVE_ABOVE = 0.6
MAX_FEATURES = 400
# A mention from a platform the event's wordings do not cover that joins it with a Jaccard similarity
# under VARIANT_BELOW to each of them (and no fingerprint match) while 80 % of its features are in the
# closest one is kept as one more wording.
VARIANT_BELOW = 0.7
MAX_VARIANTS = 3  # one per platform besides the representative's
_SIMHASH_BANDS = 4  # 4 x 16 bits: exact band match guaranteed up to 3 differing bits
_MINHASH_BANDS, _MINHASH_ROWS = 20, 3  # J 0.75: missed 1 in 50 000; J 0.1: candidate 2 %
_PRIME = (1 << 31) - 1
_NOISE_RE = re.compile(r"https?://\S+|//@[^:：\s]{1,30}[:：]|@[\w\-]{1,30}|转发微博|回复")
_PUNCT_RE = re.compile(r"[\s\W_]+")


def _perm_params() -> tuple[np.ndarray, np.ndarray]:
    """Universal hash functions (a·x + b) mod p, p = 2^31 - 1: products fit in 64 bits."""
    a, b = [], []
    for i in range(_MINHASH_BANDS * _MINHASH_ROWS):
        d = hashlib.blake2b(f"yuqing-minhash-{i}".encode(), digest_size=16).digest()
        a.append(int.from_bytes(d[:8], "big") % (_PRIME - 1) + 1)
        b.append(int.from_bytes(d[8:], "big") % _PRIME)
    return np.array(a, dtype=np.uint64)[:, None], np.array(b, dtype=np.uint64)[:, None]


_PERM_A, _PERM_B = _perm_params()


def features(text: str, *, drop: Iterable[str] = ()) -> set[str]:
    """Character bigrams of ``text`` without links, @names, punctuation and the brand's own names."""
    cleaned = text or ""
    for word in sorted(drop, key=len, reverse=True):
        if word:
            cleaned = cleaned.replace(word, " ")
    parts = _PUNCT_RE.sub(" ", _NOISE_RE.sub(" ", cleaned)).lower().split()
    out: set[str] = set()
    for part in parts:
        if len(part) == 1:
            continue
        out.update(part[i : i + 2] for i in range(len(part) - 1))
    return out


def similarity(a: set[str], b: set[str]) -> tuple[float, float]:
    """(Jaccard, containment of the smaller set) of two feature sets."""
    if not a or not b:
        return 0.0, 0.0
    inter = len(a & b)
    na, nb = len(a), len(b)
    return inter / (na + nb - inter), inter / (na if na < nb else nb)


@functools.lru_cache(maxsize=1 << 17)
def _h32(s: str) -> int:
    """A feature's 31-bit hash (cached: the bigrams of one brand's mentions repeat a lot)."""
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big") % _PRIME


def minhash_keys(feats: Collection[str]) -> list[str]:
    """LSH band keys of the MinHash signature of ``feats``, distinct features (empty for too few)."""
    if len(feats) < 4:
        return []
    hashes = np.fromiter((_h32(f) for f in feats), dtype=np.uint64, count=len(feats))[None, :]
    sig = ((_PERM_A * hashes + _PERM_B) % np.uint64(_PRIME)).min(axis=1).tolist()
    keys = []
    for band in range(_MINHASH_BANDS):
        rows = sig[band * _MINHASH_ROWS : (band + 1) * _MINHASH_ROWS]
        keys.append(f"m{band}:" + hashlib.blake2b(repr(rows).encode(), digest_size=6).hexdigest())
    return keys


def simhash_keys(fingerprint: int | None) -> list[str]:
    """Band keys of a 64-bit SimHash (signed or unsigned)."""
    if fingerprint is None:
        return []
    u = fingerprint & 0xFFFF_FFFF_FFFF_FFFF
    width = 64 // _SIMHASH_BANDS
    return [f"s{i}:{(u >> (i * width)) & ((1 << width) - 1):x}" for i in range(_SIMHASH_BANDS)]


def hamming(a: int, b: int) -> int:
    """Differing bits of two 64-bit fingerprints, signed or unsigned (as ``sentiment.fingerprint.hamming``)."""
    return ((a ^ b) & 0xFFFF_FFFF_FFFF_FFFF).bit_count()


def mention_time(m: dict[str, Any], now: datetime) -> datetime:
    return m.get("published_at") or m.get("fetched_at") or now


@dataclass(slots=True)
class _Candidate:
    """An event as clustering sees it: its representative's wording and its variants' (``reps``)."""

    id: int
    fingerprints: list[int | None]  # per wording: the representative first, then the variants
    feats: list[set[str] | list[str]]  # a set, or the stored (distinct) list of a loaded event
    last_seen_at: datetime
    platforms: list[str | None] = field(default_factory=list)  # per wording (None: not known, older events)
    bits: list[int] = field(
        default_factory=list
    )  # each wording's features as a bit set over the batch vocabulary
    sizes: list[int] = field(default_factory=list)  # len() of each wording's features
    added: list[int] = field(default_factory=list)  # indexes of the wordings this batch added (to store)
    keys: set[str] = field(default_factory=set)  # lookup keys known for it in this batch

    def wording(self, platform: str, fingerprint: int | None, feats: set[str], bits: int) -> None:
        self.platforms.append(platform)
        self.fingerprints.append(fingerprint)
        self.feats.append(feats)
        self.bits.append(bits)
        self.sizes.append(len(feats))


@dataclass(slots=True)
class Assignment:
    """What clustering did: each mention's event, the touched events (refreshed), the new ones."""

    mention_event: dict[int, int] = field(default_factory=dict)
    events: dict[int, dict[str, Any]] = field(default_factory=dict)
    created: set[int] = field(default_factory=set)


class _Index:
    """Candidate events of one brand, by lookup key, growing as the batch creates events.

    Feature sets are compared as bit sets over the vocabulary of the batch's mentions (one bit per
    bigram, the most frequent first): a bigram no mention of the batch has cannot be shared with
    one, so ``(a & b).bit_count()`` is exactly the size of the intersection, at a fraction of the
    cost of intersecting two sets of strings.
    """

    def __init__(self, vocabulary: Iterable[str] = ()) -> None:
        self.by_key: dict[str, set[int]] = defaultdict(set)
        self.events: dict[int, _Candidate] = {}
        self.vocab: dict[str, int] = {f: i for i, f in enumerate(vocabulary)}

    def encode(self, feats: Iterable[str]) -> int:
        idx = [i for i in map(self.vocab.get, feats) if i is not None]
        if not idx:
            return 0
        bits = bytearray(max(idx) // 8 + 1)
        for i in idx:
            bits[i >> 3] |= 1 << (i & 7)
        return int.from_bytes(bits, "little")

    def add(self, cand: _Candidate, keys: Iterable[str]) -> None:
        if len(cand.bits) < len(cand.feats):
            cand.bits = [self.encode(f) for f in cand.feats]
            cand.sizes = [len(f) for f in cand.feats]
        self.events[cand.id] = cand
        for k in keys:
            cand.keys.add(k)
            self.by_key[k].add(cand.id)

    def best(
        self,
        fp: int | None,
        feats: set[str],
        keys: list[str],
        since: datetime,
        max_distance: int,
        min_sim: float,
        bits: int | None = None,
    ) -> tuple[_Candidate | None, float, float]:
        """The event this mention belongs to, with its score (2.0 for a fingerprint match, else 1 + the
        Jaccard similarity of its closest wording; 0.0: none) and the share of the mention's features
        found in that wording."""
        if not keys:
            return None, 0.0, 0.0
        if bits is None:
            bits = self.encode(feats)
        by_key, events = self.by_key, self.events
        ids: set[int] = set()
        for k in keys:
            hit = by_key.get(k)
            if hit:
                ids.update(hit)
        # The best score wins, the lowest id among equals. A fingerprint match scores 2.0, the most
        # there is (text scores 1 + Jaccard), so walking the ids in order, the first fingerprint match
        # is the answer unless an earlier candidate had identical features (also 2.0). An event's
        # score is that of its closest wording.
        mask = 0xFFFF_FFFF_FFFF_FFFF
        n = len(feats)
        best_score, best_id, best_inside = 0.0, 0, 0.0
        for eid in sorted(ids):
            cand = events[eid]
            if cand.last_seen_at < since:
                continue
            fps = cand.fingerprints
            if fp is not None:
                for cfp in fps:
                    if cfp is not None and ((fp ^ cfp) & mask).bit_count() <= max_distance:
                        return (
                            (events[best_id], best_score, best_inside)
                            if best_score >= 2.0
                            else (cand, 2.0, 1.0)
                        )
            if not n:
                continue
            sizes = cand.sizes
            for w in range(len(sizes)):
                m = sizes[w]
                inter = (bits & cand.bits[w]).bit_count() if m else 0
                if not inter:
                    continue
                small = n if n < m else m
                jac = inter / (n + m - inter)
                if (jac >= min_sim or (inter / small >= 0.8 and small >= 8)) and 1.0 + jac > best_score:
                    best_score, best_id, best_inside = 1.0 + jac, eid, inter / n
        return (events[best_id], best_score, best_inside) if best_score else (None, 0.0, 0.0)


def _drop_words(cfg: AppConfig, brand: str) -> list[str]:
    for b in cfg.brands:
        if b.name == brand:
            return list(b.all_names)
    return [brand]


def _load_candidates(conn: Connection, brand: str, keys: set[str], since: datetime, index: _Index) -> None:
    if not keys:
        return
    # Keys first, then each event's features once (an event matches many keys of a batch: loading its
    # features with every key decoded the same JSON list dozens of times).
    keys_l = sorted(keys)
    hits: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(keys_l), 500):
        chunk = keys_l[start : start + 500]
        stmt = (
            select(KEYS.c.event_id, KEYS.c.key)
            .join(EVENTS, KEYS.c.event_id == EVENTS.c.id)
            .where(KEYS.c.brand == brand, KEYS.c.key.in_(chunk), EVENTS.c.last_seen_at >= since)
        )
        for eid, key in conn.execute(stmt).fetchall():  # fetchall: a batch of rows at once, not row by row
            hits[eid].append(key)
    ids = sorted(hits)
    for start in range(0, len(ids), 500):
        stmt = select(
            EVENTS.c.id,
            EVENTS.c.fingerprint,
            EVENTS.c.features,
            EVENTS.c.variants,
            EVENTS.c.platform_counts,
            EVENTS.c.last_seen_at,
        ).where(EVENTS.c.id.in_(ids[start : start + 500]))
        for r in conn.execute(stmt):
            cand = index.events.get(r.id)
            if cand is None:
                variants = r.variants if isinstance(r.variants, dict) else {}
                first = variants.get("platform")
                if first is None and len(r.platform_counts or {}) == 1:  # an event from before 0006
                    first = next(iter(r.platform_counts))
                # stored features are distinct (sorted, unique): kept as lists, only encoded and counted
                fps, feats, platforms = [r.fingerprint], [r.features or []], [first]
                for v in variants.get("wordings") or []:
                    platforms.append(v.get("platform"))
                    fps.append(v.get("fingerprint"))
                    feats.append(v.get("features") or [])
                cand = _Candidate(r.id, fps, feats, r.last_seen_at, platforms)
            index.add(cand, hits[r.id])


def _title(m: dict[str, Any]) -> str:
    text = (m.get("title") or "").strip() or (m.get("masked_text") or "").strip()
    text = re.sub(r"\s+", " ", text)
    return text[:60] + ("…" if len(text) > 60 else "")


def _event_row(m: dict[str, Any], feats: set[str], t: datetime, now: datetime) -> dict[str, Any]:
    return {
        "brand": m["brand"],
        "title": _title(m),
        "fingerprint": m.get("fingerprint"),
        "features": sorted(feats)[:MAX_FEATURES],
        "first_seen_at": t,
        "last_seen_at": t,
        "mention_count": 0,
        "platform_counts": {},
        "engagement": 0,
        "negative_count": 0,
        "positive_count": 0,
        "complaint_count": 0,
        "max_risk": 0,
        "max_followers": 0,
        "alert_state": {},
        "status": "open",
        "updated_at": now,
        "variants": {"platform": m.get("platform"), "wordings": []},
    }


def _variants(cand: _Candidate, which: Iterable[int]) -> list[dict[str, Any]]:
    return [
        {
            "platform": cand.platforms[i],
            "fingerprint": cand.fingerprints[i],
            "features": sorted(cand.feats[i])[:MAX_FEATURES],
        }
        for i in which
    ]


def _store_variants(conn: Connection, brand: str, touched: list[_Candidate]) -> None:
    """The wordings existing events gained in this batch: appended to ``variants``, keys added."""
    if not touched:
        return
    rows = conn.execute(
        select(EVENTS.c.id, EVENTS.c.variants).where(EVENTS.c.id.in_([c.id for c in touched]))
    )
    stored = {int(r.id): r.variants if isinstance(r.variants, dict) else {} for r in rows}
    values = []
    for c in touched:
        v = stored.get(c.id, {})
        values.append(
            {
                "_eid": c.id,
                "_v": {
                    "platform": v.get("platform", c.platforms[0]),
                    "wordings": list(v.get("wordings") or []) + _variants(c, c.added),
                },
            }
        )
    conn.execute(
        update(EVENTS).where(EVENTS.c.id == bindparam("_eid")).values(variants=bindparam("_v")), values
    )
    keys: list[dict[str, Any]] = []
    for c in touched:
        mine: set[str] = set()
        for i in c.added:
            f = c.feats[i]
            mine.update(simhash_keys(c.fingerprints[i]) + minhash_keys(f))
        keys += [{"event_id": c.id, "brand": brand, "key": k} for k in sorted(mine)]
    if keys:
        conn.execute(insert(KEYS), keys)


def _insert_events(conn: Connection, brand: str, new: list[tuple[dict[str, Any], list[str]]]) -> list[int]:
    """Insert new events (with their lookup keys) in bulk; returns their ids in order."""
    ids = [
        int(i)
        for i in conn.execute(
            insert(EVENTS).returning(EVENTS.c.id, sort_by_parameter_order=True), [row for row, _ in new]
        ).scalars()
    ]
    keys = [
        {"event_id": eid, "brand": brand, "key": k} for eid, (_, ks) in zip(ids, new, strict=True) for k in ks
    ]
    if keys:
        conn.execute(insert(KEYS), keys)
    return ids


def _snapshot(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        rows = conn.execute(select(EVENTS).where(EVENTS.c.id.in_(list(ids[start : start + 500]))))
        out.update({r["id"]: dict(r) for r in rows.mappings()})
    return out


def assign(conn: Connection, cfg: AppConfig, mentions: list[dict[str, Any]], *, now: datetime) -> Assignment:
    """Put each mention in an event (joining or creating one) and refresh the touched events.

    A comment joins its post's event; other mentions are clustered by fingerprint and text.
    """
    result = Assignment()
    posts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    comments: list[dict[str, Any]] = []
    for m in mentions:
        if m.get("event_id"):
            result.mention_event[m["id"]] = m["event_id"]
        elif m.get("parent_post_id"):
            comments.append(m)
        else:
            posts[m["brand"]].append(m)
    for brand, group in posts.items():
        _assign_brand(conn, cfg, brand, group, now, result)
    orphans: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in _join_parents(conn, mentions, comments, result):
        orphans[m["brand"]].append(m)
    for brand, group in orphans.items():
        _assign_brand(conn, cfg, brand, group, now, result)
    touched = sorted(set(result.mention_event.values()))
    _refresh(conn, touched, now)
    result.events = _snapshot(conn, touched)
    for m in mentions:
        m["event_id"] = result.mention_event.get(m["id"])
    return result


def _join_parents(
    conn: Connection, mentions: list[dict[str, Any]], comments: list[dict[str, Any]], result: Assignment
) -> list[dict[str, Any]]:
    """Put comments in their post's event; returns the comments whose post has none."""
    if not comments:
        return []
    known = {(m["platform"], m["post_id"]): result.mention_event.get(m["id"]) for m in mentions}
    wanted = {(m["platform"], m["parent_post_id"]) for m in comments} - {k for k, v in known.items() if v}
    for platform in {p for p, _ in wanted}:
        ids = sorted(pid for p, pid in wanted if p == platform)
        for start in range(0, len(ids), 500):
            rows = conn.execute(
                select(MENTIONS.c.post_id, MENTIONS.c.event_id).where(
                    MENTIONS.c.platform == platform,
                    MENTIONS.c.post_id.in_(ids[start : start + 500]),
                    MENTIONS.c.event_id.is_not(None),
                )
            )
            known.update({(platform, r[0]): r[1] for r in rows})
    orphans, links = [], []
    for m in comments:
        eid = known.get((m["platform"], m["parent_post_id"]))
        if eid:
            result.mention_event[m["id"]] = eid
            links.append({"_mid": m["id"], "_eid": eid})
        else:
            orphans.append(m)
    if links:
        conn.execute(
            update(MENTIONS).where(MENTIONS.c.id == bindparam("_mid")).values(event_id=bindparam("_eid")),
            links,
        )
    return orphans


def _assign_brand(
    conn: Connection,
    cfg: AppConfig,
    brand: str,
    group: list[dict[str, Any]],
    now: datetime,
    result: Assignment,
) -> None:
    ev_cfg = cfg.alerts.events
    window = timedelta(hours=ev_cfg.window_hours)
    drop = _drop_words(cfg, brand)
    prepared = []
    all_keys: set[str] = set()
    for m in sorted(group, key=lambda x: (mention_time(x, now), x["id"])):
        feats = features(f"{m.get('title') or ''} {m.get('masked_text') or m.get('text') or ''}", drop=drop)
        keys = simhash_keys(m.get("fingerprint")) + minhash_keys(feats)
        all_keys.update(keys)
        prepared.append((m, feats, keys))
    freq: Counter[str] = Counter()
    for _, feats, _ in prepared:
        freq.update(feats)
    index = _Index(f for f, _ in freq.most_common())
    earliest = min(mention_time(m, now) for m, _, _ in prepared)
    _load_candidates(conn, brand, all_keys, earliest - window, index)
    chosen: dict[int, int] = {}  # mention id -> event id (negative: created in this batch, not inserted yet)
    new: list[tuple[dict[str, Any], list[str]]] = []
    for m, feats, keys in prepared:
        t = mention_time(m, now)
        bits = index.encode(feats)
        cand, score, inside = index.best(
            m.get("fingerprint"),
            feats,
            keys,
            t - window,
            ev_cfg.simhash_distance,
            ev_cfg.min_similarity,
            bits,
        )
        if cand is None:
            new.append((_event_row(m, feats, t, now), keys))
            cand = _Candidate(
                -len(new), [m.get("fingerprint")], [feats], t, [m.get("platform")], [bits], [len(feats)]
            )
            index.add(cand, keys)
        elif (
            score < 1.0 + VARIANT_BELOW
            and inside >= 0.8
            and len(feats) >= 8
            and m.get("platform") not in cand.platforms
            and len(cand.feats) <= MAX_VARIANTS
        ):
            # The story told on another platform, more barely than the event's wordings (the original
            # inside a framed copy, e.g. a Heimao complaint quoting it): later reposts there, framed
            # their own way, are compared with it too, and found through its keys. Being mostly
            # inside a wording, a variant cannot drift to another story; one per platform.
            cand.wording(m["platform"], m.get("fingerprint"), feats, bits)
            cand.added.append(len(cand.feats) - 1)
            index.add(cand, keys)
        cand.last_seen_at = max(cand.last_seen_at, t)
        chosen[m["id"]] = cand.id
    for cand in index.events.values():  # new events are stored with the wordings the batch gave them
        if cand.id < 0 and cand.added:
            new[-cand.id - 1][0]["variants"]["wordings"] = _variants(cand, range(1, len(cand.feats)))
            new[-cand.id - 1] = (new[-cand.id - 1][0], sorted(cand.keys))
    real = (
        dict(zip(range(-1, -len(new) - 1, -1), _insert_events(conn, brand, new), strict=True)) if new else {}
    )
    _store_variants(conn, brand, [c for c in index.events.values() if c.id > 0 and c.added])
    result.created.update(real.values())
    links = []
    for mid, eid in chosen.items():
        result.mention_event[mid] = real.get(eid, eid)
        links.append({"_mid": mid, "_eid": result.mention_event[mid]})
    if links:
        conn.execute(
            update(MENTIONS).where(MENTIONS.c.id == bindparam("_mid")).values(event_id=bindparam("_eid")),
            links,
        )


@functools.cache
def _aggregate_stmt() -> Any:
    """Per (event, platform) aggregates of the events in the expanding parameter ``ids``."""
    m = MENTIONS.c
    t = func.coalesce(m.published_at, m.first_seen_at)
    rank = case(*((m.urgency == u, r) for u, r in URGENCY_RANK.items()), else_=0)
    negative = case(
        (and_(m.sentiment.is_not(None), m.sentiment < NEGATIVE_BELOW), 1),
        (and_(m.sentiment.is_(None), m.is_complaint.is_(True)), 1),
        else_=0,
    )
    return (
        select(
            m.event_id,
            m.platform,
            func.count(),
            func.sum(m.likes + m.comments + m.shares),
            func.sum(negative),
            func.sum(case((m.sentiment > POSITIVE_ABOVE, 1), else_=0)),
            func.sum(case((m.is_complaint.is_(True), 1), else_=0)),
            func.max(func.coalesce(m.risk, 0)),
            func.max(m.author_followers),
            func.max(rank),
            func.min(t),
            func.max(t),
        )
        .where(m.event_id.in_(bindparam("ids", expanding=True)))
        .group_by(m.event_id, m.platform)
    )


def _refresh(conn: Connection, ids: Sequence[int], now: datetime) -> None:
    """Recompute the aggregates of events ``ids`` from their mentions."""
    if not ids:
        return
    agg: dict[int, dict[str, Any]] = {}
    for r in conn.execute(_aggregate_stmt(), {"ids": list(ids)}):
        a = agg.setdefault(
            r[0],
            {
                "platform_counts": {},
                "mention_count": 0,
                "engagement": 0,
                "negative_count": 0,
                "positive_count": 0,
                "complaint_count": 0,
                "max_risk": 0,
                "max_followers": 0,
                "_rank": 0,
                "first_seen_at": r[10],
                "last_seen_at": r[11],
            },
        )
        a["platform_counts"][r[1]] = int(r[2])
        a["mention_count"] += int(r[2])
        a["engagement"] += int(r[3] or 0)
        a["negative_count"] += int(r[4] or 0)
        a["positive_count"] += int(r[5] or 0)
        a["complaint_count"] += int(r[6] or 0)
        a["max_risk"] = max(a["max_risk"], int(r[7] or 0))
        a["max_followers"] = max(a["max_followers"], int(r[8] or 0))
        a["_rank"] = max(a["_rank"], int(r[9] or 0))
        a["first_seen_at"] = min(a["first_seen_at"], r[10])
        a["last_seen_at"] = max(a["last_seen_at"], r[11])
    rows = []
    for eid, a in agg.items():
        a["max_urgency"] = urgency_of_rank(a.pop("_rank"))
        rows.append({**a, "_eid": eid, "updated_at": now})
    if rows:
        conn.execute(
            update(EVENTS)
            .where(EVENTS.c.id == bindparam("_eid"))
            .values({k: bindparam(k) for k in rows[0] if k != "_eid"}),
            rows,
        )

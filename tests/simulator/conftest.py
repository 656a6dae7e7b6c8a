"""Fixtures for the simulator tests: a running Weibo+Heimao simulator and HTTP clients for it."""

from __future__ import annotations

import hashlib
import random
import string
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from simulator import WEIBO_TEST_SUB, Simulator

SECRET = "$d6eb7ff91ee257475%"


def sign(params: dict[str, Any], secret: str = SECRET) -> dict[str, str]:
    """Heimao request parameters with ts, rs and signature, computed as PLATFORMS.md §4.2 says."""
    ts = str(int(time.time() * 1000))
    rs = "".join(random.choices(string.ascii_letters + string.digits, k=16))
    values = [ts, rs, secret, *(str(v) for v in params.values())]
    signature = hashlib.sha256("".join(sorted(values)).encode()).hexdigest()
    return {"ts": ts, "rs": rs, "signature": signature, **{k: str(v) for k, v in params.items()}}


def search_params(keyword: str, search_type: int = 61, page: int = 1) -> dict[str, Any]:
    return {"containerid": f"100103type={search_type}&q={keyword}", "page_type": "searchall", "page": page}


def mblogs(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Every post of a getIndex page, flattening card_type 11 groups."""
    out = []
    for card in payload["data"]["cards"]:
        if card["card_type"] == 9:
            out.append(card["mblog"])
        for sub in card.get("card_group", []):
            if sub["card_type"] == 9:
                out.append(sub["mblog"])
    return out


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(
        seed=11, platforms=("weibo", "heimao"), comment_page_size=4, comments_per_post=(0, 9)
    ) as s:
        yield s


@pytest.fixture(scope="module")
def weibo(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url("weibo"), cookies={"SUB": WEIBO_TEST_SUB}, timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def heimao(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url("heimao"), timeout=10) as c:
        yield c

"""The platform registry: plug-ins join the core without editing it and obey the fault contract."""

from __future__ import annotations

import random
from collections.abc import Iterator

import httpx
import pytest
from aiohttp import web

from simulator import FAULT_KINDS, Simulator
from simulator.corpus import Draft
from simulator.model import Post
from simulator.registry import _REGISTRY, PlatformSim, Route, discover, json_response, register


@pytest.fixture
def toy() -> Iterator[type[PlatformSim]]:
    @register
    class ToySim(PlatformSim):
        name = "toy"
        host = "https://toy.example"
        style = "douyin"
        default_posts = 3
        fault_kinds = frozenset({"server_error", "schema_change"})

        def routes(self) -> list[Route]:
            return [("GET", "/api/search", self.search)]

        def finish(self, post: Post, draft: Draft | None, rng: random.Random) -> None:
            assert self.ctx.world is not None
            post.post_id = str(self.ctx.world.time_id(self.name, post.published_at, 10**12, 10))
            post.url = f"{self.host}/p/{post.post_id}"

        def rename_fields(self, payload: dict) -> dict:
            payload["results"] = payload.pop("items")
            return payload

        async def search(self, request: web.Request) -> web.StreamResponse:
            assert self.ctx.world is not None
            hits = self.ctx.world.search(self.name, request.query.get("q", ""))
            return json_response(request, {"items": [{"id": p.post_id, "text": p.text} for p in hits]})

    yield ToySim
    _REGISTRY.pop("toy", None)


def test_every_discovered_platform_keeps_the_contract() -> None:
    found = discover()
    assert {"weibo", "heimao"} <= set(found)
    for name, cls in found.items():
        assert cls.name == name and cls.host.startswith("https://")
        assert cls.fault_kinds <= set(FAULT_KINDS), name


def test_a_plugin_serves_under_its_prefix_with_truth_and_faults(toy: type[PlatformSim]) -> None:
    with Simulator(seed=1, platforms=("weibo", "toy"), posts_per_brand=3) as sim:
        items = httpx.get(sim.base_url("toy") + "/api/search", params={"q": "鲜果"}).json()["items"]
        assert {i["id"] for i in items} == {
            t["post_id"] for t in sim.truth("toy", kind="post", keyword="鲜果")
        }
        assert items and all(t["url"].startswith("https://toy.example/p/") for t in sim.truth("toy"))
        sim.set_fault("toy", "schema_change", count=1)
        assert "results" in httpx.get(sim.base_url("toy") + "/api/search", params={"q": "鲜果"}).json()
        with pytest.raises(ValueError, match="toy has no 'captcha'"):
            sim.set_fault("toy", "captcha")

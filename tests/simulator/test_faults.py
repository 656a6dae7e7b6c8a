"""Every fault kind on Weibo and Heimao renders the way the module docstring documents."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from simulator import WEIBO_TEST_SUB, Simulator, parse_fault_spec
from tests.simulator.conftest import search_params, sign


@pytest.fixture(scope="module")
def fsim() -> Iterator[Simulator]:
    with Simulator(seed=3, platforms=("weibo", "heimao"), posts_per_brand=12) as s:
        yield s


@pytest.fixture(autouse=True)
def _clear(fsim: Simulator) -> Iterator[None]:
    yield
    fsim.clear_faults()


_CLIENT = httpx.Client(timeout=5)  # one client: building one per request costs an SSL context each


def wb(
    sim: Simulator, path: str = "/api/container/getIndex", timeout: float = 5, **params: object
) -> httpx.Response:
    params = params or search_params("鲜果时光")
    _CLIENT.cookies.set("SUB", WEIBO_TEST_SUB)
    return _CLIENT.get(sim.base_url("weibo") + path, params=params, timeout=timeout)


def hm(sim: Simulator, timeout: float = 5) -> httpx.Response:
    params = sign({"keywords": "鲜果时光", "page_size": 10, "page": 1})
    return _CLIENT.get(sim.base_url("heimao") + "/api/index/s", params=params, timeout=timeout)


def test_rate_limited(fsim: Simulator) -> None:
    fsim.set_fault("weibo", "rate_limited", count=2)
    first, second = wb(fsim), wb(fsim)
    assert {first.status_code, second.status_code} == {200, 429}
    ok0 = first if first.status_code == 200 else second
    assert ok0.json()["ok"] == 0 and "频繁" in ok0.json()["msg"]
    assert wb(fsim).json()["ok"] == 1  # count exhausted
    fsim.set_fault("heimao", "rate_limited", count=1)
    assert hm(fsim).status_code == 456
    assert hm(fsim).json()["result"]["status"]["code"] == 0


def test_captcha_ip_blocked_server_error(fsim: Simulator) -> None:
    for platform, call in (("weibo", wb), ("heimao", hm)):
        fsim.set_fault(platform, "captcha", count=1)
        page = call(fsim)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "安全验证" in page.text and 'id="captcha"' in page.text
        fsim.set_fault(platform, "server_error", count=1, status=502)
        assert call(fsim).status_code == 502
        fsim.set_fault(platform, "ip_blocked", count=1)
        assert call(fsim).status_code == (418 if platform == "weibo" else 403)


def test_auth_expired(fsim: Simulator) -> None:
    fsim.set_fault("weibo", "auth_expired", count=2)
    assert wb(fsim).status_code == 432
    assert wb(fsim, "/api/config", x=1).json()["data"]["login"] is False
    fsim.set_fault("heimao", "auth_expired", count=1)
    page = hm(fsim)
    assert "passport.sina.com.cn" in page.text and "登录" in page.text


def test_signature_rejected_only_where_the_site_signs(fsim: Simulator) -> None:
    fsim.set_fault("heimao", "signature_rejected", count=1)
    assert hm(fsim).json()["result"]["status"]["code"] == 2002
    with pytest.raises(ValueError, match="weibo has no 'signature_rejected'"):
        fsim.set_fault("weibo", "signature_rejected")
    with pytest.raises(ValueError, match="heimao has no 'meteor'"):
        fsim.set_fault("heimao", "meteor")


def test_malformed_and_schema_change(fsim: Simulator) -> None:
    for kind in ("malformed_json", "bad_payload"):
        fsim.set_fault("weibo", kind, count=1)
        with pytest.raises(json.JSONDecodeError):
            json.loads(wb(fsim).text)
    fsim.set_fault("weibo", "schema_change", count=1)
    data = wb(fsim).json()["data"]
    assert "cards" not in data and "items" in data
    fsim.set_fault("heimao", "schema_change", count=1)
    data = hm(fsim).json()["result"]["data"]
    assert "lists" not in data and "list" in data
    fsim.set_fault("heimao", "malformed_json", count=1)
    with pytest.raises(json.JSONDecodeError):
        json.loads(hm(fsim).text)


def test_slow_and_timeout_delay_the_answer(fsim: Simulator) -> None:
    fsim.set_fault("weibo", "slow", count=1, delay=0.4)
    t = time.monotonic()
    assert wb(fsim).json()["ok"] == 1 and time.monotonic() - t >= 0.4
    fsim.set_fault("heimao", "timeout", count=1, delay=2.0)
    with pytest.raises(httpx.ReadTimeout):
        hm(fsim, timeout=0.3)


def test_network_aborts_the_connection(fsim: Simulator) -> None:
    fsim.set_fault("weibo", "network", count=1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        wb(fsim)
    assert wb(fsim).status_code == 200


def test_rate_window_and_path_filter(fsim: Simulator) -> None:
    fsim.set_fault("weibo", "server_error", rate=0.5)
    codes = [wb(fsim).status_code for _ in range(40)]
    assert 8 <= codes.count(503) <= 32
    fsim.clear_faults("weibo")
    fsim.set_fault("weibo", "server_error", duration=0.5, after=0.3)
    assert wb(fsim).status_code == 200
    time.sleep(0.35)
    assert wb(fsim).status_code == 503
    time.sleep(0.5)
    assert wb(fsim).status_code == 200
    fsim.set_fault("weibo", "server_error", path="/comments/hotflow")
    assert wb(fsim).status_code == 200
    assert wb(fsim, "/comments/hotflow", id="1").status_code == 503


def test_admin_faults_endpoint_and_spec_strings(fsim: Simulator) -> None:
    admin = fsim.url + "/__admin/faults"
    created = _CLIENT.post(admin, json={"platform": "heimao", "kind": "rate_limited", "count": 1}).json()
    assert created["created"][0]["kind"] == "rate_limited"
    assert [f["kind"] for f in _CLIENT.get(admin).json()] == ["rate_limited"]
    assert hm(fsim).status_code == 456
    assert _CLIENT.post(admin, json={"platform": "nowhere", "kind": "captcha"}).status_code == 400
    assert _CLIENT.delete(admin, params={"platform": "heimao"}).json()["removed"] == 1
    assert parse_fault_spec("weibo:rate_limited:0.2, heimao:server_error:1:30") == [
        {"platform": "weibo", "kind": "rate_limited", "rate": 0.2},
        {"platform": "heimao", "kind": "server_error", "rate": 1.0, "duration": 30.0},
    ]
    with pytest.raises(ValueError, match="unknown kind"):
        parse_fault_spec("weibo:oops")
    stats = _CLIENT.get(fsim.url + "/__admin/stats").json()
    assert stats["faults"]["heimao"]["rate_limited"] >= 1 and stats["statuses"]["heimao"]["456"] >= 1


def test_silent_throttling_variant(fsim: Simulator) -> None:
    fsim.set_fault("weibo", "rate_limited", count=1, variant="empty")
    assert wb(fsim).json() == {"ok": 1, "data": {"cardlistInfo": {"page": None, "total": 0}, "cards": []}}
    fsim.set_fault("heimao", "rate_limited", count=1, variant="empty")
    data = hm(fsim).json()["result"]["data"]
    assert data["lists"] == [] and data["pager"]["item_count"] > 0


def test_natural_rate_limit_request_counts_and_log() -> None:
    with Simulator(platforms=("heimao",), posts_per_brand=2, rate_limits={"heimao": 5}) as sim:
        t0 = time.time()
        codes = [hm(sim).status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and codes[5:] == [456] * 3
        counts = sim.request_counts()["heimao"]
        assert sum(counts.values()) == 8 and all(len(k) == 16 for k in counts)
        log = sim.request_log("heimao")
        assert [e[3] for e in log] == codes and all(t0 <= e[0] <= time.time() for e in log)
        assert log[0][2] == "/heimao/api/index/s"
        body = _CLIENT.get(sim.url + "/__admin/stats", params={"log": 1}).json()
        assert [e["status"] for e in body["log"]] == codes

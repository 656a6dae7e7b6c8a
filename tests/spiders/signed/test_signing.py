"""The signer interface: xhshow headers, x-s-common from a page signature, custom and command signers."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from crawler.config import config_from_dict
from crawler.errors import Blocked, ErrorKind
from crawler.platform.signing import (
    CommandDouyinSigner,
    DouyinSigner,
    XhshowSigner,
    XhsSigner,
    build_xs_common,
    make_douyin_signer,
    make_xhs_signer,
    xhs_content,
)

A1 = "19ab1e5ce48c3b3c5c50e2c040a801cfcca0a4ac50000571046"


def test_xhshow_signer_headers_are_well_formed() -> None:
    from xhshow import Xhshow

    headers = asyncio.run(
        XhshowSigner().sign(
            "POST",
            "/api/sns/web/v1/search/notes",
            cookies={"a1": A1, "web_session": "w"},
            payload={"keyword": "鲜果"},
        )
    )
    assert headers["X-S"].startswith("XYS_") and headers["X-T"].isdigit() and len(headers["X-T"]) == 13
    assert len(headers["X-B3-Traceid"]) == 16 and int(headers["X-B3-Traceid"], 16) >= 0
    decoded = Xhshow().decode_xs(headers["X-S"])
    assert decoded["x1"] == "xhs-pc-web" and decoded["x3"].startswith("mns0301_")
    assert headers["x-S-Common"]


def test_xhshow_signer_without_a1_is_signature_rejected() -> None:
    with pytest.raises(Blocked) as err:
        asyncio.run(XhshowSigner().sign("GET", "/x", cookies={"web_session": "w"}))
    assert err.value.kind is ErrorKind.SIGNATURE_REJECTED and "a1" in str(err.value)


def test_xs_common_from_a_page_signature_decodes_to_its_inputs() -> None:
    import base64

    std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    custom = "ZmserbBoHQtNP+wOcza/LpngG8yJq42KWYj0DSfdikx3VT16IlUAFM97hECvuRX5"
    value = build_xs_common(A1, "1760000000000", "XYS_abc", "B1")
    body = json.loads(base64.b64decode(value.translate(str.maketrans(custom, std))))
    assert (body["x5"], body["x6"], body["x7"], body["x8"]) == (A1, "1760000000000", "XYS_abc", "B1")
    assert isinstance(body["x9"], int)


def test_signed_content_is_uri_plus_query_or_compact_json() -> None:
    assert xhs_content("POST", "/p", None, {"keyword": "鲜果", "page": 1}) == '/p{"keyword":"鲜果","page":1}'
    assert xhs_content("GET", "/g", {"a": "x y", "b": "1,2"}, None) == "/g?a=x%20y&b=1,2"


class _MySigner:
    name = "mine"

    def __init__(self, cfg: object) -> None:
        self.cfg = cfg

    async def sign(self, *args: object, **kwargs: object) -> dict[str, str]:
        return {"X-S": "custom"}

    async def close(self) -> None:
        return None


def make_mine(cfg: object) -> _MySigner:
    return _MySigner(cfg)


def test_config_picks_builtin_and_custom_signers() -> None:
    cfg = config_from_dict({"brands": [{"name": "b"}]})
    assert isinstance(make_xhs_signer(cfg.platforms.xiaohongshu), XhshowSigner)
    custom = config_from_dict(
        {
            "brands": [{"name": "b"}],
            "platforms": {"xiaohongshu": {"signer": "tests.spiders.signed.test_signing:make_mine"}},
        }
    )
    signer = make_xhs_signer(custom.platforms.xiaohongshu)
    assert isinstance(signer, _MySigner) and isinstance(signer, XhsSigner)


def test_command_signer_runs_a_program(tmp_path: Path) -> None:
    script = tmp_path / "sign.py"
    script.write_text(
        "import json,sys,hashlib\nd=json.load(sys.stdin)\n"
        "print(hashlib.md5((d['query']+d['user_agent']).encode()).hexdigest())\n"
    )
    cfg = config_from_dict(
        {
            "brands": [{"name": "b"}],
            "platforms": {
                "douyin": {"mode": "api", "signer": "command", "sign_command": f"{sys.executable} {script}"}
            },
        }
    )
    signer = make_douyin_signer(cfg.platforms.douyin)
    assert isinstance(signer, CommandDouyinSigner) and isinstance(signer, DouyinSigner)
    import hashlib

    assert asyncio.run(signer.sign("a=1&b=2", "UA")) == hashlib.md5(b"a=1&b=2UA").hexdigest()


def test_failing_command_signer_is_signature_rejected(tmp_path: Path) -> None:
    signer = CommandDouyinSigner(f"{sys.executable} -c 'import sys; sys.exit(3)'")
    with pytest.raises(Blocked) as err:
        asyncio.run(signer.sign("q", "UA"))
    assert err.value.kind is ErrorKind.SIGNATURE_REJECTED and "(3)" in str(err.value)

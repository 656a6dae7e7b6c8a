"""Signature checks of the simulated Xiaohongshu and Douyin, and the page JavaScript that signs.

Xiaohongshu: ``X-S`` is ``XYS_`` + custom-base64 JSON whose ``x3`` carries a 144-byte
payload (the layout the ``xhshow`` package produces): version bytes, a seed, the
``X-T`` timestamp, the length and the MD5 of what was signed (XOR the seed) and the
``a1`` cookie. :func:`verify_xhs` decodes it and checks each of those against the
request, so a stale or wrong signature is refused (406 ``code -1``) as the real site does.
``XHS_SIGN_JS`` is the page's own ``window._webmsxyw(url, data)`` producing the same format.

Douyin: ``a_bogus`` = custom base64 of RC4(secret, ``"<ts>:<md5(query|ua|ts|secret)>"``),
appended as the last query parameter; ``DOUYIN_SIGN_JS`` defines ``window.bdms_sign`` in the
search page. :func:`verify_a_bogus` recomputes it from the raw query and the User-Agent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from typing import Any
from urllib.parse import unquote

MAX_SKEW_MS = 10 * 60 * 1000
_B3_RE = re.compile(r"^[0-9a-f]{16}$")
_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
DOUYIN_ALPHABET = "Dkdpgh4ZKsQB80/Mfvw36XI1R25-WUAlEi7NLboqYTOPuzmFjJnryx9HVGcaStCe"


def _crypto() -> tuple[Any, Any]:
    from xhshow import Xhshow
    from xhshow.config import CryptoConfig

    return Xhshow(), CryptoConfig()


def _header(headers: dict[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


def xhs_signed_content(method: str, path: str, raw_query: str, body: str) -> str:
    if method.upper() == "POST":
        return path + body
    return f"{path}?{raw_query}" if raw_query else path


def _le(data: bytes | bytearray) -> int:
    return int.from_bytes(bytes(data), "little")


def verify_xhs(
    method: str,
    path: str,
    raw_query: str,
    body: str,
    headers: dict[str, str],
    cookies: dict[str, str],
    now_ms: int | None = None,
) -> str | None:
    """None when the signed headers fit this request, else the reason they do not."""
    client, cfg = _crypto()
    xs, xt = _header(headers, "x-s"), _header(headers, "x-t")
    common, b3 = _header(headers, "x-s-common"), _header(headers, "x-b3-traceid")
    if not (xs and xt and common and b3):
        return "missing signature header"
    if not _B3_RE.match(b3) or not xt.isdigit():
        return "malformed X-B3-Traceid or X-T"
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now_ms - int(xt)) > MAX_SKEW_MS:
        return "stale X-T"
    a1 = cookies.get("a1", "")
    if not a1:
        return "no a1 cookie"
    try:
        data = client.decode_xs(xs)
        payload = client.decode_x3(str(data.get("x3", "")))
        common_data = json.loads(client.crypto_processor.b64encoder.decode(common))
    except (ValueError, binascii.Error, UnicodeDecodeError, AttributeError, json.JSONDecodeError):
        return "undecodable signature"
    return _check_payload(
        bytes(payload), cfg, xt, a1, xhs_signed_content(method, path, raw_query, body), common_data
    )


def _check_payload(p: bytes, cfg: Any, xt: str, a1: str, content: str, common: Any) -> str | None:
    if len(p) != cfg.PAYLOAD_LENGTH or list(p[:4]) != list(cfg.VERSION_BYTES):
        return "bad payload version"
    seed = p[4]
    if _le(p[8:16]) != int(xt):
        return "X-T does not match the signature"
    if _le(p[32:36]) != len(content.encode()):
        return "signed content length differs"
    digest = hashlib.md5(content.encode()).digest()[:8]
    if bytes(b ^ seed for b in p[36:44]) != digest:
        return "signature is not for this request"
    if p[45 : 45 + p[44]].rstrip(b"\0").decode(errors="replace") != a1[:52]:
        return "signature made for another a1"
    if not isinstance(common, dict) or common.get("x5") != a1:
        return "x-s-common does not match a1"
    return None


def xhs_sign_js() -> str:
    """``window._webmsxyw`` and helpers, with the constants of the current signature version."""
    _, cfg = _crypto()
    consts = {
        "key": list(bytes.fromhex(cfg.HEX_KEY)),
        "version": list(cfg.VERSION_BYTES),
        "x3a": cfg.X3_BASE64_ALPHABET,
        "cus": cfg.CUSTOM_BASE64_ALPHABET,
        "std": _STD,
        "env": [cfg.ENV_TABLE[i] ^ cfg.ENV_CHECKS_DEFAULT[i] for i in range(1, 15)],
        "a3": list(cfg.A3_PREFIX),
        "tmpl": {**cfg.SIGNATURE_DATA_TEMPLATE},
    }
    return "const XHS_C = " + json.dumps(consts) + ";\n" + MD5_JS + _XHS_JS


MD5_JS = r"""
function md5Bytes(bytes) {
  const S = [7,12,17,22, 5,9,14,20, 4,11,16,23, 6,10,15,21];
  const K = []; for (let i = 0; i < 64; i++) K.push(Math.floor(Math.abs(Math.sin(i + 1)) * 4294967296) >>> 0);
  const n = bytes.length, blocks = ((n + 8) >>> 6) + 1, w = new Uint32Array(blocks * 16);
  for (let i = 0; i < n; i++) w[i >> 2] |= bytes[i] << ((i % 4) * 8);
  w[n >> 2] |= 0x80 << ((n % 4) * 8);
  w[blocks * 16 - 2] = (n * 8) >>> 0; w[blocks * 16 - 1] = Math.floor(n / 536870912) >>> 0;
  let h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  for (let b = 0; b < blocks; b++) {
    let [A, B, C, D] = h;
    for (let i = 0; i < 64; i++) {
      let F, g; const r = i >> 4;
      if (r === 0) { F = (B & C) | (~B & D); g = i; }
      else if (r === 1) { F = (D & B) | (~D & C); g = (5 * i + 1) % 16; }
      else if (r === 2) { F = B ^ C ^ D; g = (3 * i + 5) % 16; }
      else { F = C ^ (B | ~D); g = (7 * i) % 16; }
      F = ((F >>> 0) + A + K[i] + w[b * 16 + g]) >>> 0;
      const s = S[r * 4 + (i % 4)];
      A = D; D = C; C = B; B = (B + (((F << s) | (F >>> (32 - s))) >>> 0)) >>> 0;
    }
    h = [(h[0] + A) >>> 0, (h[1] + B) >>> 0, (h[2] + C) >>> 0, (h[3] + D) >>> 0];
  }
  const out = []; for (const v of h) for (let i = 0; i < 4; i++) out.push((v >>> (i * 8)) & 255);
  return out;
}
function md5Hex(text) { return md5Bytes(new TextEncoder().encode(text)).map(b => b.toString(16).padStart(2, '0')).join(''); }
function b64With(bytes, alphabet, std) {
  let bin = ''; for (const b of bytes) bin += String.fromCharCode(b);
  return Array.from(btoa(bin)).map(c => { const i = std.indexOf(c); return i < 0 ? c : alphabet[i]; }).join('');
}
"""

_XHS_JS = r"""
function xhsLe(v, n) { const out = []; let x = BigInt(v); for (let i = 0; i < n; i++) { out.push(Number(x & 255n)); x >>= 8n; } return out; }
function xhsCookie(name) { const m = document.cookie.match(new RegExp('(?:^|; )' + name + '=([^;]*)')); return m ? decodeURIComponent(m[1]) : ''; }
window._webmsxyw = function (url, data) {
  const content = (data === undefined || data === null) ? url : url + JSON.stringify(data);
  const enc = new TextEncoder(), ts = Date.now(), seed = (Math.random() * 4294967296) >>> 0, sb = seed & 255;
  const digest = md5Bytes(enc.encode(content));
  const a1 = Array.from(enc.encode(xhsCookie('a1'))).slice(0, 52); while (a1.length < 52) a1.push(0);
  const app = Array.from(enc.encode('xhs-pc-web'));
  let p = [...XHS_C.version, ...xhsLe(seed, 4), ...xhsLe(ts, 8), ...xhsLe(ts - 20000, 8), ...xhsLe(16, 4),
           ...xhsLe(1100, 4), ...xhsLe(enc.encode(content).length, 4), ...digest.slice(0, 8).map(b => b ^ sb),
           52, ...a1, 10, ...app, 1, sb ^ 115, ...XHS_C.env, ...XHS_C.a3, ...digest.map(b => b ^ sb)];
  p = p.map((b, i) => i < XHS_C.key.length ? (b ^ XHS_C.key[i]) & 255 : b & 255);
  const sig = Object.assign({}, XHS_C.tmpl, {x3: 'mns0301_' + b64With(p, XHS_C.x3a, XHS_C.std)});
  const xs = 'XYS_' + b64With(Array.from(enc.encode(JSON.stringify(sig))), XHS_C.cus, XHS_C.std);
  return {'X-s': xs, 'X-t': ts};
};
"""


# --- Douyin a_bogus ----------------------------------------------------------------------


def _rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) & 255
        s[i], s[j] = s[j], s[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) & 255
        j = (j + s[i]) & 255
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) & 255])
    return bytes(out)


def douyin_sign(query: str, user_agent: str, secret: str, ts: int | None = None) -> str:
    """The simulated ``a_bogus`` (what the page's ``bdms_sign`` computes)."""
    ts = int(time.time()) if ts is None else ts
    digest = hashlib.md5(f"{query}|{user_agent}|{ts}|{secret}".encode()).hexdigest()
    std = base64.b64encode(_rc4(secret.encode(), f"{ts}:{digest}".encode())).decode().rstrip("=")
    return std.translate(str.maketrans(_STD, DOUYIN_ALPHABET))


def split_a_bogus(raw_query: str) -> tuple[str, str]:
    """``(query without a_bogus, a_bogus)``; a_bogus must be the last parameter."""
    head, sep, tail = raw_query.rpartition("&a_bogus=")
    if not sep or "&" in tail:
        return raw_query, ""

    return head, unquote(tail)


def verify_a_bogus(raw_query: str, user_agent: str, secret: str, now: int | None = None) -> str | None:
    """None when the query's ``a_bogus`` is right for it and the User-Agent, else the reason."""
    query, value = split_a_bogus(raw_query)
    if not value:
        return "no a_bogus"
    std = value.translate(str.maketrans(DOUYIN_ALPHABET, _STD))
    try:
        plain = _rc4(secret.encode(), base64.b64decode(std + "=" * (-len(std) % 4))).decode()
        ts_text, digest = plain.split(":", 1)
        ts = int(ts_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return "undecodable a_bogus"
    now = int(time.time()) if now is None else now
    if abs(now - ts) > MAX_SKEW_MS // 1000:
        return "stale a_bogus"
    expected = hashlib.md5(f"{query}|{user_agent}|{ts}|{secret}".encode()).hexdigest()
    return None if digest == expected else "a_bogus is not for this request"


def douyin_sign_js(secret: str) -> str:
    """``window.bdms_sign(query, ua)`` for the search page."""
    codes = json.dumps([ord(c) for c in secret])
    return (
        MD5_JS
        + "const DY_A = "
        + json.dumps(DOUYIN_ALPHABET)
        + ", DY_S = "
        + json.dumps(_STD)
        + ", DY_K = String.fromCharCode(..."
        + codes
        + ");\n"
        + _DOUYIN_JS
    )


_DOUYIN_JS = r"""
function dyRc4(key, data) {
  const s = []; for (let i = 0; i < 256; i++) s.push(i);
  let j = 0;
  for (let i = 0; i < 256; i++) { j = (j + s[i] + key[i % key.length]) & 255; [s[i], s[j]] = [s[j], s[i]]; }
  const out = []; let i = 0; j = 0;
  for (const b of data) { i = (i + 1) & 255; j = (j + s[i]) & 255; [s[i], s[j]] = [s[j], s[i]]; out.push(b ^ s[(s[i] + s[j]) & 255]); }
  return out;
}
window.bdms_sign = function (query, ua) {
  const enc = new TextEncoder(), ts = Math.floor(Date.now() / 1000);
  const digest = md5Hex(query + '|' + ua + '|' + ts + '|' + DY_K);
  const bytes = dyRc4(Array.from(enc.encode(DY_K)), Array.from(enc.encode(ts + ':' + digest)));
  return b64With(bytes, DY_A, DY_S).replace(/=+$/, '');
};
"""

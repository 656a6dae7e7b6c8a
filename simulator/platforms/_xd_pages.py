"""HTML pages of the simulated Xiaohongshu and Douyin: home pages with a QR login, the Douyin
search page whose own script signs and calls the search API, the captcha middle page, QR images.

Scraped text is never put into these pages as HTML: the Douyin page renders results with
``textContent``; the pages only embed JSON produced by ``json.dumps`` (with ``</`` escaped).
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from html import escape
from typing import Any

DOUYIN_CAPTCHA_HTML = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>验证码中间页</title></head><body>'
    '<div id="captcha_container"><div class="captcha_verify_container"><img id="captcha-verify-image" '
    'alt=""><p>请完成下列验证后继续</p></div></div></body></html>'
)


def js_json(value: Any) -> str:
    """JSON safe to embed in a <script> element."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


# --- QR image -------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def qr_png(text: str, modules: int = 29, scale: int = 6) -> bytes:
    """A QR-looking PNG (finder squares + a pattern from ``text``) carrying ``text`` in a tEXt chunk."""
    bits = bin(int.from_bytes(hashlib.sha256(text.encode()).digest() * 4, "big"))[2:]

    def dark(x: int, y: int) -> bool:
        for fx, fy in ((0, 0), (modules - 7, 0), (0, modules - 7)):
            if fx <= x < fx + 7 and fy <= y < fy + 7:
                dx, dy = x - fx, y - fy
                return dx in (0, 6) or dy in (0, 6) or (2 <= dx <= 4 and 2 <= dy <= 4)
        return bits[(y * modules + x) % len(bits)] == "1"

    size = (modules + 8) * scale
    rows = []
    for py in range(size):
        y = py // scale - 4
        row = bytearray([0])
        for px in range(size):
            x = px // scale - 4
            row.append(0 if 0 <= x < modules and 0 <= y < modules and dark(x, y) else 255)
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"tEXt", b"qr\x00" + text.encode())
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
        + _chunk(b"IEND", b"")
    )


def qr_text(png: bytes) -> str | None:
    """What a phone reads from :func:`qr_png` (the tEXt ``qr`` chunk)."""
    pos = 8
    while pos + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        data = png[pos + 8 : pos + 8 + length]
        if kind == b"tEXt" and data.startswith(b"qr\x00"):
            return data[3:].decode()
        pos += 12 + length
    return None


# --- Xiaohongshu ------------------------------------------------------------------------------

XHS_HOME = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>小红书 - 你的生活指南</title></head>
<body><div id="app"><header><a class="link-wrapper" id="me" style="display:none" href="#">我</a></header>
<div id="login-modal" style="display:none"><div class="login-container"><p>小红书如何扫码</p>
<img class="qrcode-img" alt="二维码"><p class="status">打开小红书App扫一扫登录</p></div></div>
<main id="feeds">发现</main></div>
<script>__SIGN_JS__</script>
<script>
(function () {
  const base = __BASE__;
  if (!localStorage.getItem('b1')) localStorage.setItem('b1', __B1__);
  if (__LOGGED_IN__) { document.getElementById('me').style.display = ''; return; }
  document.getElementById('login-modal').style.display = '';
  fetch(base + '/api/sns/web/v1/login/qrcode/create', {method: 'POST', credentials: 'include',
        headers: {'Content-Type': 'application/json'}, body: '{"qr_type":1}'})
    .then(r => r.json()).then(res => {
      const qr = res.data;
      document.querySelector('.qrcode-img').src = base + '/login/qrcode.png?qr_id=' + qr.qr_id;
      const poll = () => fetch(base + '/api/sns/web/v1/login/qrcode/status?qr_id=' + qr.qr_id + '&code=' + qr.code,
                               {credentials: 'include'}).then(r => r.json()).then(st => {
        if (st.data && st.data.code_status === 2) {
          document.getElementById('login-modal').style.display = 'none';
          document.getElementById('me').style.display = '';
        } else { setTimeout(poll, 400); }
      }).catch(() => setTimeout(poll, 1000));
      poll();
    });
})();
</script></body></html>"""


def xhs_home_html(base: str, sign_js: str, *, logged_in: bool, b1: str) -> str:
    return (
        XHS_HOME.replace("__SIGN_JS__", sign_js)
        .replace("__BASE__", js_json(base))
        .replace("__B1__", js_json(b1))
        .replace("__LOGGED_IN__", "true" if logged_in else "false")
    )


# --- Douyin -------------------------------------------------------------------------------------

DOUYIN_HOME = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>抖音-记录美好生活</title></head>
<body><div id="root"><header><p class="login-btn" id="login-btn">登录</p></header>
<div id="login-panel-new" style="display:none"><div id="animate_qrcode_container">
<img alt="二维码" class="qrcode"></div><p>打开「抖音APP」扫码登录</p></div></div>
<script>__SIGN_JS__</script>
<script>
(function () {
  const base = __BASE__;
  if (__LOGGED_IN__) { localStorage.setItem('HasUserLogin', '1'); return; }
  document.getElementById('login-panel-new').style.display = '';
  fetch(base + '/passport/web/get_qrcode/', {credentials: 'include'}).then(r => r.json()).then(res => {
    document.querySelector('#animate_qrcode_container img').src = base + '/login/qrcode.png?token=' + res.data.token;
    const poll = () => fetch(base + '/passport/web/check_qrconnect/?token=' + res.data.token,
                             {credentials: 'include'}).then(r => r.json()).then(st => {
      if (st.data && st.data.status === '3') {
        localStorage.setItem('HasUserLogin', '1');
        document.getElementById('login-panel-new').style.display = 'none';
      } else { setTimeout(poll, 400); }
    }).catch(() => setTimeout(poll, 1000));
    poll();
  });
})();
</script></body></html>"""

DOUYIN_SEARCH = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>__TITLE__ - 抖音搜索</title>
<style>.card{height:320px;border-bottom:1px solid #eee}</style></head>
<body><div id="search-result-container"><ul id="results"></ul><div id="loading">加载中…</div></div>
<script>__SIGN_JS__</script>
<script>
(function () {
  const base = __BASE__, keyword = __KEYWORD__, common = __COMMON__;
  const url = new URL(location.href);
  if (!localStorage.getItem('xmst')) localStorage.setItem('xmst', __MSTOKEN__);
  let offset = 0, searchId = '', busy = false, more = true;
  function query() {
    const p = new URLSearchParams({search_channel: 'aweme_general', enable_history: '1', keyword: keyword,
      search_source: 'tab_search', query_correct_type: '1', is_filter_search: '0', from_group_id: '',
      offset: String(offset), count: '15', need_filter_settings: '1', list_type: 'multi', search_id: searchId});
    const sort = url.searchParams.get('sort_type'), days = url.searchParams.get('publish_time');
    if (sort || days) {
      p.set('is_filter_search', '1');
      p.set('filter_selected', JSON.stringify({sort_type: sort || '0', publish_time: days || '0'}));
    }
    for (const [k, v] of Object.entries(common)) p.set(k, v);
    p.set('webid', __WEBID__); p.set('msToken', localStorage.getItem('xmst'));
    return p.toString();
  }
  function render(data) {
    const list = document.getElementById('results');
    for (const entry of data || []) {
      const infos = entry.aweme_info ? [entry.aweme_info] : ((entry.aweme_mix_info || {}).mix_items || []);
      for (const info of infos) {
        const li = document.createElement('li');
        li.className = 'card';
        li.textContent = info.desc || '';
        list.appendChild(li);
      }
    }
  }
  async function load() {
    if (busy || !more) return;
    busy = true;
    const qs = query();
    const ab = window.bdms_sign(qs, navigator.userAgent);
    try {
      const r = await fetch(base + '/aweme/v1/web/general/search/single/?' + qs + '&a_bogus=' + encodeURIComponent(ab),
                            {credentials: 'include'});
      const text = await r.text();
      const res = JSON.parse(text);
      render(res.data);
      more = !!res.has_more && (res.data || []).length > 0;
      offset = res.cursor || (offset + 15);
      searchId = (res.extra || {}).logid || searchId;
    } catch (e) { more = false; }
    document.getElementById('loading').textContent = more ? '加载中…' : '暂时没有更多了';
    busy = false;
  }
  window.addEventListener('scroll', () => {
    if (window.innerHeight + window.scrollY >= document.body.scrollHeight - 400) load();
  });
  load();
})();
</script></body></html>"""


def douyin_home_html(base: str, sign_js: str, *, logged_in: bool) -> str:
    return (
        DOUYIN_HOME.replace("__SIGN_JS__", sign_js)
        .replace("__BASE__", js_json(base))
        .replace("__LOGGED_IN__", "true" if logged_in else "false")
    )


def douyin_search_html(
    base: str, sign_js: str, *, keyword: str, common: dict[str, str], web_id: str, ms_token: str
) -> str:

    return (
        DOUYIN_SEARCH.replace("__TITLE__", escape(keyword))
        .replace("__SIGN_JS__", sign_js)
        .replace("__BASE__", js_json(base))
        .replace("__KEYWORD__", js_json(keyword))
        .replace("__COMMON__", js_json(common))
        .replace("__WEBID__", js_json(web_id))
        .replace("__MSTOKEN__", js_json(ms_token))
    )

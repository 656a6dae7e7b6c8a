"""The platform simulator: one loopback HTTP server standing in for Weibo, Heimao (and, via plug-ins,
Xiaohongshu and Douyin), with their real paths, parameters, cookies, signatures, paging and shapes.

Python: ``Simulator(seed=7, brands=[...] | cfg=AppConfig, live=False, port=0).start()`` (or a
``with`` block); ``.url``, ``.base_url("weibo")``, ``.truth()``, ``.set_fault()``, ``.publish()``.
Process: ``yuqing simulate [--port] [--seed] [--live] [--faults weibo:rate_limited:0.2,...]``.

Fake pages served (``{base}`` = ``http://127.0.0.1:PORT``). Texts are hostile now and then (a
``<script>`` tag, ``&``, ``<b>``): pages escape them as the sites do, the truth keeps them raw.

Weibo (m.weibo.cn) under ``{base}/weibo``; every data page needs cookie ``SUB`` (issued by
``Simulator.issue_session("weibo")`` / ``POST /__admin/sessions``, or the test value
``WEIBO_TEST_SUB``), else HTTP 432 with an HTML body:
  ``/``                                    home page; sets ``_T_WM`` and ``XSRF-TOKEN`` cookies
  ``/api/config``                          ``{"ok":1,"data":{"login":true|false,...}}`` (no cookie needed)
  ``/api/container/getIndex?containerid=100103type={1|60|61|64}&q=KW&page_type=searchall&page=N``
        search: 1 综合 and 60 热门 by engagement+recency, 61 实时 newest first, 64 videos only;
        ``page_size`` (10) posts per page as ``card_type`` 9 cards, page 2, 5, 8... wrap the last two in a
        ``card_type`` 11 ``card_group``, page 1 of type 1 starts with a card 11 holding a user card
        (``card_type`` 10) when KW is a brand name; past the last page ``cards`` is ``[]`` (ok 1).
        ``cardlistInfo.page`` is the next page or null. Posts longer than 140 characters are cut to 120
        with ``isLongText: true`` and ``...<a href="/status/{mid}">全文</a>``. Text HTML has ``<a>``
        topic/@ links, ``<span class="url-icon"><img alt="[怒]"...></span>`` emoticons, ``<br />``.
        ``created_at`` is RFC-like ("Sat Jan 14 18:39:37 +0800 2023"); 2 in 10 posts younger than two
        days show a relative form (刚刚 / N分钟前 / N小时前 / 今天 HH:MM / 昨天 HH:MM); counts ≥ 10,000 are sometimes strings
        ("1.2万", truncated) and ≥ 1,000,000 always "100万+"; ``user.followers_count`` ≥ 100,000 is a
        string ("105.9万"); ``region_name`` "发布于 X" (missing on 1 in 20); crisis reposts carry
        ``retweeted_status`` and ``raw_text``.
  ``/detail/{mid}``, ``/status/{mid|bid}`` HTML with ``var $render_data = [{"status": {...full text...}}][0] || {};``
  ``/statuses/extend?id={mid}``           ``{"ok":1,"data":{"longTextContent": html, counts...}}``
  ``/login``                               QR login page (``img.qrcode-img``, polls ``/login/qrcode/check?qrid=``;
        the phone is ``POST /weibo/__admin/qr/confirm``); success sets ``SUB``, ``SUBP``, ``SSOLoginState``
  ``/comments/hotflow?id={mid}&mid={mid}&max_id_type=0[&max_id=X]``  ``data.data[]`` comments (4 in 10
        with relative times, also MM-DD and YYYY-MM-DD, ``source`` "来自X", replies inline in ``comments`` or ``false``), hottest
        first, ``comment_page_size`` (20) a page; ``data.max_id`` is the next cursor, 0 at the end;
        unknown post ``{"ok":0,"msg":"该微博不存在或已被删除"}``.

Heimao (tousu.sina.com.cn) under ``{base}/heimao``; JSON endpoints verify ``ts``, ``rs``,
``signature`` = sha256("".join(sorted([ts, rs, secret, *business values]))) (PLATFORMS.md §4.2;
secret ``$d6eb7ff91ee257475%`` or ``heimao_secret``), ``callback=`` wraps the body as JSONP
``try{cb(<json>);}catch(e){};``:
  ``/api/index/s?ts&rs&signature&keywords&page_size&page``              signs keywords, page_size, page
  ``/api/index/feed?ts&rs&signature&type&page_size&page``                signs page_size, type, page; newest first, max 50 pages
  ``/api/company/received_complaints?ts&rs&signature&couid&type&page_size&page``  signs couid, type, page_size, page
        Envelope ``{"result":{"status":{"code":0,"msg":"成功"},"timestamp":..,"data":{"lists"|"complaints":
        [{"main":{sn,title,summary,cotitle,couid,appeal,issue,cost,status,timestamp,url,evaluate_u..},
        "author":{title,wb_profile,avatar}}],"pager":{current,page_amount,item_count,page_size}}}}``;
        search highlights KW as ``<span class="code-red">KW</span>``; ``timestamp`` is epoch seconds as a
        string; ``url`` is protocol-relative; past the end ``lists`` is ``[]`` and ``complaints`` null.
        Bad signature: ``status {"code":2002,"msg":"签名错误"}``; bad paging: ``{"code":1001,"msg":"参数错误"}``.
  ``/complaint/view/{sn}/``  HTML: ``div.ts-d-question h1``, ``ul.ts-q-list li`` (投诉编号/对象/问题/要求/金额/进度,
        the last ``li b`` the status), ``div.ts-d-steplist div.ts-d-item`` (``span.u-name``, ``span.u-status``,
        ``span.u-date`` "YYYY-MM-DD HH:MM:SS" China time, ``div.ts-d-cont``; the first step holds the full
        text), ``div.ts-reply`` (company reply), crisis complaints link ``a[data-sudaclick=relategroupts_view]``.

Faults (``Simulator.set_fault(platform, kind, rate=1.0, duration=None, *, after=0, count=None,
path=None, **options)``, ``POST /__admin/faults``, ``--faults platform:kind[:rate[:duration]]``):
  rate_limited     weibo: alternately HTTP 429 (HTML) and 200 ``{"ok":0,"errno":"100005","msg":"请求过于频繁，请稍后再试"}``
                   (``variant="http"|"ok0"`` picks one); heimao: HTTP 456 with an HTML body.
                   ``variant="empty"``: silent throttling, weibo ``ok:1`` with ``cards: []``, heimao ``lists: []``
                   with ``item_count`` 500 (risk control). ``SimOptions.rate_limits={"heimao": 45}`` (``--rate-limit``)
                   also blocks naturally above N requests in any 60 s.
  captcha          HTTP 200 ``text/html`` page titled 安全验证 ("请完成安全验证", ``div#captcha``).
  ip_blocked       weibo: HTTP 418, empty body; heimao: HTTP 403 HTML.
  auth_expired     weibo: HTTP 432 HTML on data pages and ``login:false`` on ``/api/config`` (also
                   ``Simulator.expire_sessions()``); heimao: HTTP 200 HTML 新浪通行证 login page (passport.sina.com.cn link).
  signature_rejected  heimao only: the signature error envelope above.
  server_error     HTTP 503 nginx HTML (``status=`` to choose another 5xx).
  timeout / slow   the normal answer after ``delay`` seconds (30 / 2 by default).
  network          the connection is aborted with no response.
  bad_payload, malformed_json  the normal JSON or HTML cut in half (HTTP 200).
  schema_change    a required field renamed: weibo ``data.cards``→``data.items``, hotflow ``data.data``→
                   ``data.comments``, config ``login``→``is_login``, extend ``longTextContent``→``long_text``,
                   detail ``$render_data``→``$render_data_v2``; heimao ``data.lists``→``data.list``,
                   ``data.complaints``→``data.complaint_list``, detail ``ts-d-steplist``/``ts-q-list`` classes renamed.

Admin: ``/__admin/`` (index), ``truth`` (GET ?platform&kind&brand&keyword), ``faults`` (GET/POST/DELETE
?platform&id), ``stats`` (requests per platform per UTC minute, statuses, fired faults; ``?log=1`` every
request's arrival time, path and status, also ``Simulator.request_log()``), ``publish``
(POST {count, platform, brand, type, category, urgency}), ``boost`` (POST {platform, post_id, likes,
comments, shares}), ``sessions`` (POST {platform} issues cookies; DELETE ?platform expires them), ``reset``.

Raw serving rate (the ceiling of crawl benchmarks): ``simulator.loadtest.serving_rate(url, platform=...)``.

Plug-ins: ``simulator/platforms/<name>.py`` subclasses :class:`simulator.registry.PlatformSim`
and decorates it with ``@register``; the core discovers it (see ``registry.py``).
"""

from __future__ import annotations

from simulator.core import Simulator
from simulator.faults import FAULT_KINDS, parse_fault_spec
from simulator.options import HEIMAO_SECRET, WEIBO_TEST_SUB, SimOptions
from simulator.platforms.heimao import heimao_signature

__all__ = [
    "FAULT_KINDS",
    "HEIMAO_SECRET",
    "WEIBO_TEST_SUB",
    "SimOptions",
    "Simulator",
    "heimao_signature",
    "parse_fault_spec",
]

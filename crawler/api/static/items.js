/* Item pages behind every alert link: #/mention/<id>, #/event/<id>, #/complaint/<number>.
 * The overview hides while an item page shows; "返回总览" (or an empty hash) brings it back.
 * Scraped text only ever goes through textContent (YQ.el). */
"use strict";

(function () {
  const YQ = window.YQ;
  const el = YQ.el;
  const ROUTE = /^#\/(mention|event|complaint)\/([A-Za-z0-9_-]{1,32})$/;

  function $(id) { return document.getElementById(id); }

  function platformName(p) { return (YQ.meta && YQ.meta.platforms && YQ.meta.platforms[p]) || p; }

  function itemLink(kind, key, text) {
    const a = el("a", { cls: "item-link", text: text });
    a.href = "#/" + kind + "/" + encodeURIComponent(String(key));
    return a;
  }

  function analysisLines(m) {
    const verdict = m.is_complaint ? "是投诉" + (m.category ? " · " + m.category : "") + (m.urgency ? " · " + m.urgency : "") : "非投诉";
    return el("dl", { cls: "facts" }, [
      el("dt", { text: "判定" }), el("dd", { text: verdict }),
      el("dt", { text: "风险分" }), el("dd", { text: m.risk === null || m.risk === undefined ? "-" : String(m.risk) }),
      el("dt", { text: "情感" }), el("dd", { text: (m.sentiment_label || "") + (m.sentiment === null || m.sentiment === undefined ? "" : "（" + Number(m.sentiment).toFixed(2) + "）") }),
      el("dt", { text: "依据" }), el("dd", {}, (m.reasons || []).map(function (r) { return el("span", { cls: "chip", text: r }); })),
    ]);
  }

  function mentionBlock(m, opts) {
    const o = opts || {};
    return el("article", { cls: "item-mention" + (o.current ? " current" : ""), attrs: { "data-id": m.id } }, [
      el("div", { cls: "m-head" }, [
        el("span", { cls: "badge", text: m.kind === "comment" ? "评论" : "帖子" }),
        el("span", { cls: "author", text: (m.author_name || "匿名") + (m.author_followers ? "（粉丝 " + m.author_followers + "）" : "") }),
        el("span", { cls: "muted", text: platformName(m.platform) + " · " + YQ.fmtTime(m.published_at) }),
        o.link ? itemLink("mention", m.id, "详情") : null,
      ]),
      m.title ? el("h4", { text: m.title }) : null,
      el("p", { cls: "m-text", text: m.text }),
      el("p", { cls: "m-foot muted" }, ["赞 " + m.likes + " · 评 " + m.comments + " · 转 " + m.shares +
        (m.ip_region ? " · " + m.ip_region : "") + " · ", YQ.link(m.url, "查看原文")]),
    ]);
  }

  async function mentionPage(box, id, stale) {
    const t = await YQ.api("/api/mentions/" + encodeURIComponent(id) + "/thread");
    if (stale()) return;
    const m = t.mention;
    box.appendChild(el("h2", { text: "提及 #" + m.id + " · " + m.brand }));
    box.appendChild(mentionBlock(m, { current: true }));
    box.appendChild(el("h3", { text: "分析" }));
    box.appendChild(analysisLines(m));
    const refs = el("p", { cls: "refs" });
    if (m.event_id) refs.appendChild(itemLink("event", m.event_id, "所属事件 #" + m.event_id));
    (t.complaints || []).forEach(function (c) {
      refs.appendChild(document.createTextNode(" · "));
      refs.appendChild(itemLink("complaint", c.number, "投诉单 " + c.number + "（" + c.status + "）"));
    });
    box.appendChild(refs);
    if (t.post && t.post.id !== m.id) {
      box.appendChild(el("h3", { text: "所评论的帖子" }));
      box.appendChild(mentionBlock(t.post, { link: true }));
    }
    box.appendChild(el("h3", { text: "评论（" + t.comments.length + "）" }));
    const list = el("div", { cls: "thread" });
    if (!t.comments.length) list.appendChild(el("p", { cls: "muted", text: "暂无已采集的评论" }));
    t.comments.forEach(function (c) { list.appendChild(mentionBlock(c, { link: c.id !== m.id, current: c.id === m.id })); });
    box.appendChild(list);
  }

  async function eventPage(box, id, stale) {
    const ev = await YQ.api("/api/events/" + encodeURIComponent(id));
    if (stale()) return;
    box.appendChild(el("h2", { text: "事件 #" + ev.id + " · " + ev.title }));
    const platforms = Object.entries(ev.platform_counts || {}).map(function (p) { return platformName(p[0]) + " " + p[1]; }).join("，");
    box.appendChild(el("p", { cls: "muted", text: ev.brand + " · 共 " + ev.mention_count + " 条（" + (platforms || "-") +
      "） · 负面 " + ev.negative_count + " · 投诉 " + ev.complaint_count + " · 最高 " + (ev.max_urgency || "一般") +
      " · " + YQ.fmtTime(ev.first_seen_at) + " 至 " + YQ.fmtTime(ev.last_seen_at) }));
    box.appendChild(el("div", { cls: "chart small", attrs: { id: "c-item-event" } }));
    if (YQ.charts && YQ.charts.timeline) YQ.charts.timeline("c-item-event", ev.timeline);
    let spread = null;
    try { spread = await YQ.api("/api/events/" + encodeURIComponent(id) + "/spread"); } catch (e) { spread = null; }
    if (stale()) return;
    if (spread) spreadBlock(box, spread);
    box.appendChild(el("h3", { text: "相关提及（按时间）" }));
    const list = el("div", { cls: "thread" });
    ev.mentions.slice().sort(function (a, b) { return Date.parse(a.published_at || 0) - Date.parse(b.published_at || 0); })
      .forEach(function (m) { list.appendChild(mentionBlock(m, { link: true })); });
    box.appendChild(list);
  }

  function num(n) {
    const v = Number(n || 0);
    return v >= 10000 ? (v / 10000).toFixed(1).replace(/\.0$/, "") + "万" : String(v);
  }

  function who(name, followers, verified) {
    return (name || "匿名") + "（粉丝 " + num(followers) + (verified ? "，已认证" : "") + "）";
  }

  /* 传播: each tracked post's growth curve, repost tree and top spreaders; the hot-list history. */
  function spreadBlock(box, spread) {
    (spread.hot_topics || []).length && box.appendChild(el("h3", { text: "热榜记录" }));
    (spread.hot_topics || []).forEach(function (t) {
      const list = t.platform === "douyin" ? "抖音热榜" : "微博热搜";
      box.appendChild(el("p", {}, [
        el("strong", { text: list + " · " + t.word }),
        " 首次上榜 " + YQ.fmtTime(t.first_seen_at) + "（第 " + t.first_rank + " 位） · 最高第 " + t.best_rank + " 位 · " +
          (t.last_rank ? "当前第 " + t.last_rank + " 位" : "已下榜") + (t.labels && t.labels.length ? " · 标签 " + t.labels.join("/") : "") + " ",
        YQ.link(t.search_url, "查看话题"),
      ]));
      const rows = (t.history || []).map(function (h) {
        return el("tr", {}, [el("td", { text: YQ.fmtTime(h.fetched_at) }), el("td", { text: String(h.rank) }),
          el("td", { text: num(h.heat) }), el("td", { text: h.label || "" })]);
      });
      const table = el("table", { cls: "compact" }, [el("thead", {}, [el("tr", {}, ["时间", "排名", "热度", "标签"].map(function (x) { return el("th", { text: x }); }))]),
        el("tbody", {}, rows.slice(-12))]);
      box.appendChild(table);
    });
    (spread.tracked || []).forEach(function (t, i) {
      box.appendChild(el("h3", { text: "传播追踪 · 原帖 " + t.post_id + "（" + t.reason + "）" }));
      box.appendChild(el("p", { cls: "muted", text: "转发 " + num(t.reposts) + " 次 · 速度 " + Math.round(t.velocity) + " 次/小时 · 加速度 " +
        Math.round(t.acceleration) + " 次/小时² · 已访问 " + t.fetches + " 次（请求 " + t.requests + " 次） · " +
        (t.status === "watching" ? "追踪至 " + YQ.fmtTime(t.until) : "追踪已结束") }));
      const curveId = "c-spread-curve-" + i, treeId = "c-spread-tree-" + i;
      box.appendChild(el("div", { cls: "chart", attrs: { id: curveId } }));
      box.appendChild(el("div", { cls: "chart tall", attrs: { id: treeId } }));
      if (YQ.charts && YQ.charts.growth) YQ.charts.growth(curveId, t.points);
      if (YQ.charts && YQ.charts.tree) YQ.charts.tree(treeId, t.edges);
      const rows = (t.spreaders || []).slice(0, 10).map(function (s, k) {
        return el("tr", {}, [el("td", { text: String(k + 1) }), el("td", { text: who(s.author_name, s.followers, s.verified) }),
          el("td", { text: s.verified ? "✔" : "" }), el("td", { text: num(s.reposts_below) }), el("td", { text: num(s.reach) })]);
      });
      box.appendChild(el("h4", { text: "关键传播者（按带来的触达）" }));
      box.appendChild(el("table", { cls: "compact" }, [el("thead", {}, [el("tr", {}, ["#", "账号", "认证", "其下转发", "触达"].map(function (x) { return el("th", { text: x }); }))]),
        el("tbody", {}, rows)]));
    });
  }

  function handlerTools(rec, reload) {
    if (!YQ.meta || YQ.meta.user.role !== "handler") return null;
    const msg = el("span", { cls: "error" });
    async function send(path, body, button) {
      button.disabled = true;
      msg.textContent = "";
      try {
        await YQ.post("/api/complaints/" + rec.id + path, body);
        await reload();
      } catch (e) {
        msg.textContent = e.message;
      } finally {
        button.disabled = false;
      }
    }
    const who = el("input", { cls: "assignee-input", attrs: { type: "text", "aria-label": "处理人" } });
    who.placeholder = "处理人";
    who.maxLength = 64;
    const assign = el("button", { cls: "assign", text: "分派", attrs: { type: "button" } });
    assign.addEventListener("click", function () { send("/assign", { assignee: who.value.trim() || null }, assign); });
    const note = el("input", { cls: "note-only", attrs: { type: "text", "aria-label": "备注" } });
    note.placeholder = "备注";
    note.maxLength = 2000;
    const add = el("button", { cls: "add-note", text: "添加备注", attrs: { type: "button" } });
    add.addEventListener("click", function () {
      if (!note.value.trim()) { msg.textContent = "请填写备注"; return; }
      send("/notes", { note: note.value.trim() }, add);
    });
    return el("div", { cls: "handler-tools" }, [who, assign, note, add, msg]);
  }

  async function complaintPage(box, number, stale) {
    const rec = await YQ.api("/api/complaints/number/" + encodeURIComponent(number));
    if (stale()) return;
    async function reload() { await route(); }
    box.appendChild(el("h2", { text: "投诉单 " + rec.number }));
    box.appendChild(YQ.board.card(rec, reload));
    const tools = handlerTools(rec, reload);
    if (tools) box.appendChild(tools);
    const refs = el("p", { cls: "refs" });
    if (rec.event_id) refs.appendChild(itemLink("event", rec.event_id, "所属事件 #" + rec.event_id));
    box.appendChild(refs);
    box.appendChild(el("h3", { text: "关联提及（" + rec.mentions.length + "）" }));
    const list = el("div", { cls: "thread" });
    rec.mentions.forEach(function (m) { list.appendChild(mentionBlock(m, { link: true })); });
    box.appendChild(list);
    box.appendChild(el("h3", { text: "处理记录" }));
    const hist = el("ul", { cls: "history" });
    rec.history.forEach(function (h) {
      hist.appendChild(el("li", { text: YQ.fmtTime(h.at) + " · " + (h.actor || "系统") + " · " + h.action +
        (h.field ? " " + h.field + "：" + (h.old || "-") + " → " + (h.new || "-") : "") + (h.note ? " · " + h.note : "") }));
    });
    box.appendChild(hist);
  }

  const PAGES = { mention: mentionPage, event: eventPage, complaint: complaintPage };
  let shown = 0;  // the latest route() call: an older one still loading must not draw over it

  /* Show the page the hash names (true), or the overview (false). */
  async function route() {
    const mine = ++shown;
    function stale() { return mine !== shown; }
    const box = $("item-page");
    const m = ROUTE.exec(window.location.hash || "");
    const overview = document.querySelectorAll("#app > section:not(#item-page)");
    if (!m) {
      box.hidden = true;
      overview.forEach(function (s) { s.hidden = false; });
      return false;
    }
    overview.forEach(function (s) { s.hidden = true; });
    YQ.clear(box).hidden = false;
    const back = el("a", { cls: "back", text: "← 返回总览" });
    back.href = "#";
    box.appendChild(back);
    const body = el("div", { cls: "item-body" });
    box.appendChild(body);
    document.body.setAttribute("data-item", "loading");
    try {
      await PAGES[m[1]](body, decodeURIComponent(m[2]), stale);
      if (!stale()) document.body.setAttribute("data-item", m[1]);
    } catch (e) {
      if (stale()) return true;
      body.appendChild(el("p", { cls: "error", text: e.message }));
      document.body.setAttribute("data-item", "error");
    }
    return true;
  }

  YQ.items = { route: route };
})();

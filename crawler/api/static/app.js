/* Dashboard controller: login, filters, loading the overview, lists, events and the board. */
"use strict";

(function () {
  const YQ = window.YQ;
  const el = YQ.el;
  const REFRESH_MS = 60000;
  let refreshTimer = null;

  function $(id) { return document.getElementById(id); }

  function status(text, isError) {
    const line = $("status-line");
    line.textContent = text || "";
    line.classList.toggle("error", !!isError);
  }

  function filters() {
    const range = $("f-range").value;
    return { brand: $("f-brand").value || null, since: range, platform: $("f-platform").value || null,
      q: $("f-q").value.trim() || null, bucket: range === "24h" ? "hour" : "day" };
  }

  function mentionItem(m) {
    const reasons = el("div", { cls: "reasons" }, (m.reasons || []).slice(0, 5).map(function (r) {
      return el("span", { cls: "chip", text: r });
    }));
    return el("li", { cls: "mention", attrs: { "data-id": m.id } }, [
      el("div", { cls: "m-head" }, [
        el("span", { cls: "badge risk", text: "风险 " + (m.risk === null ? "-" : m.risk) }),
        el("span", { cls: "muted", text: ((YQ.meta.platforms || {})[m.platform] || m.platform) + " · " + YQ.fmtTime(m.published_at) }),
        el("span", { cls: "author", text: m.author_name || "匿名" }),
        m.urgency ? el("span", { cls: "badge", text: m.urgency }) : null,
        m.category ? el("span", { cls: "badge", text: m.category }) : null,
      ]),
      el("p", { cls: "m-text", text: m.text }),
      reasons,
      el("div", { cls: "m-foot muted" }, [
        "赞 " + m.likes + " · 评 " + m.comments + " · 转 " + m.shares + (m.ip_region ? " · " + m.ip_region : "") + " · ",
        YQ.link(m.url, "查看原文"),
      ]),
    ]);
  }

  function renderList(id, items, empty) {
    const ul = YQ.clear($(id));
    if (!items.length) ul.appendChild(el("li", { cls: "muted", text: empty }));
    items.forEach(function (m) { ul.appendChild(mentionItem(m)); });
  }

  async function showEvent(id) {
    const box = $("event-detail");
    const ev = await YQ.api("/api/events/" + id);
    YQ.clear(box).hidden = false;
    box.appendChild(el("h3", { text: ev.title }));
    box.appendChild(el("p", { cls: "muted", text: "共 " + ev.mention_count + " 条 · 互动 " + ev.engagement + " · " + YQ.fmtTime(ev.first_seen_at) + " 至 " + YQ.fmtTime(ev.last_seen_at) }));
    if (ev.complaints && ev.complaints.length) {
      box.appendChild(el("p", { cls: "e-complaints" }, [
        (ev.complaints.some(function (c) { return (c.tags || []).indexOf("群体投诉") >= 0; }) ? "群体投诉 · " : "") +
          "客诉单 " + ev.complaints.length + " 张：" +
          ev.complaints.slice(0, 10).map(function (c) { return c.number + "（" + c.status + "）"; }).join("、") +
          (ev.complaints.length > 10 ? " 等" : ""),
      ]));
    }
    box.appendChild(el("div", { cls: "chart small", attrs: { id: "c-event" } }));
    YQ.charts.timeline("c-event", ev.timeline);
    const ul = el("ul", { cls: "mentions" });
    ev.mentions.slice(0, 5).forEach(function (m) { ul.appendChild(mentionItem(m)); });
    box.appendChild(ul);
  }

  function renderEvents(events) {
    const ul = YQ.clear($("events"));
    if (!events.length) ul.appendChild(el("li", { cls: "muted", text: "暂无事件" }));
    events.forEach(function (e) {
      const li = el("li", { cls: "event", attrs: { "data-id": e.id, tabindex: 0 } }, [
        el("span", { cls: "badge " + (e.max_urgency === "非常紧急" ? "u-high" : ""), text: e.max_urgency || "一般" }),
        e.surge_at ? el("span", { cls: "badge overdue-mark", text: "突增" }) : null,
        el("span", { cls: "e-title", text: e.title }),
        el("span", { cls: "muted", text: " · " + e.mention_count + " 条 · 最近 " + YQ.fmtTime(e.last_seen_at) }),
      ]);
      li.addEventListener("click", function () { showEvent(e.id).catch(function (err) { status(err.message, true); }); });
      ul.appendChild(li);
    });
  }

  function setKpis(summary, overdue) {
    $("k-total").textContent = String(summary.total);
    $("k-neg").textContent = (summary.negative_share * 100).toFixed(1) + "%";
    $("k-complaints").textContent = String(summary.complaints);
    $("k-urgent").textContent = String(summary.very_urgent);
    $("k-overdue").textContent = String(overdue);
  }

  async function loadBoard() {
    const f = filters();
    const page = await YQ.api("/api/complaints", { brand: f.brand, limit: 100 });
    YQ.board.render(page.items, function () { loadBoard().catch(function (e) { status(e.message, true); }); });
    return page.items.filter(function (c) { return c.overdue; }).length;
  }

  async function load() {
    const f = filters();
    const base = { brand: f.brand, since: f.since, platform: f.platform, q: f.q };
    status("加载中…");
    document.body.setAttribute("data-loaded", "0");
    try {
      const [ov, risky, events, results] = await Promise.all([
        YQ.api("/api/stats/overview", Object.assign({ bucket: f.bucket }, base)),
        YQ.api("/api/mentions", Object.assign({ min_risk: 60, order: "risk", limit: 20 }, base)),
        YQ.api("/api/events", { brand: f.brand, since: f.since, limit: 15 }),
        YQ.api("/api/mentions", Object.assign({ limit: 30 }, base)),
      ]);
      YQ.charts.render(ov, f.bucket);
      renderList("risky", risky.items, "暂无高风险提及");
      renderEvents(events);
      renderList("results", results.items, "没有匹配的提及");
      setKpis(ov.summary, await loadBoard());
      status("已更新 " + YQ.fmtTime(new Date(YQ.now()).toISOString()));
      document.body.setAttribute("data-loaded", "1");
    } catch (e) {
      status(e.message, true);
    }
  }

  function fillSelect(select, pairs) {
    pairs.forEach(function (p) { select.appendChild(el("option", { text: p[1], attrs: { value: p[0] } })); });
  }

  async function start() {
    YQ.meta = await YQ.api("/api/meta");
    $("login").hidden = true;
    $("app").hidden = false;
    $("user-name").textContent = YQ.meta.user.name + "（" + (YQ.meta.user.role === "handler" ? "处理人" : "只读") + "）";
    YQ.clear($("f-brand"));
    fillSelect($("f-brand"), [["", "全部品牌"]].concat(YQ.meta.brands.map(function (b) { return [b, b]; })));
    if (YQ.meta.brands.length) $("f-brand").value = YQ.meta.brands[0];
    YQ.clear($("f-platform"));
    fillSelect($("f-platform"), [["", "全部"]].concat(Object.entries(YQ.meta.platforms)));
    await YQ.items.route();
    await load();
    clearInterval(refreshTimer);
    refreshTimer = setInterval(load, REFRESH_MS);
  }

  function showLogin(message) {
    $("app").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
  }

  YQ.onUnauthorized = function (message) { YQ.setToken(null); showLogin(message); };

  document.addEventListener("DOMContentLoaded", function () {
    const hash = new URLSearchParams(window.location.hash.slice(1));
    if (hash.get("token")) {
      YQ.setToken(hash.get("token"));
      history.replaceState(null, "", window.location.pathname);
    }
    $("login-form").addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const token = $("login-token").value.trim();
      try {
        await YQ.post("/api/login", { token: token });
        YQ.setToken(token);
        await start();
      } catch (e) {
        showLogin(e.message);
      }
    });
    $("filters").addEventListener("submit", function (ev) { ev.preventDefault(); load(); });
    ["f-brand", "f-range", "f-platform"].forEach(function (id) { $(id).addEventListener("change", load); });
    $("logout").addEventListener("click", function () { YQ.setToken(null); clearInterval(refreshTimer); showLogin(""); });
    window.addEventListener("resize", function () { YQ.charts.resize(); });
    window.addEventListener("hashchange", function () {
      if (YQ.meta) YQ.items.route().then(function (onItem) { if (!onItem) YQ.charts.resize(); });
    });
    setInterval(function () { YQ.board.tick(); }, 1000);
    if (YQ.token()) start().catch(function (e) { showLogin(e.message); });
    else showLogin("");
  });
})();

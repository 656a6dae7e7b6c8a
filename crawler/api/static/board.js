/* The complaint board: records grouped by status, SLA countdowns ticking every second,
 * overdue marks, each record's linked mentions (+N, their spread, why each joined), the
 * 群体投诉 tag and the other records of its event, and (for handlers) status changes and
 * notes from the browser. */
"use strict";

(function () {
  const YQ = window.YQ;
  const el = YQ.el;
  const COLUMNS = [["待处理"], ["处理中"], ["已升级"], ["已解决", "已回访"], ["已关闭"]];
  const URGENCY_CLASS = { "非常紧急": "u-high", "紧急": "u-mid", "一般": "u-low" };

  function countdown(item) {
    if (!item.next_due_at) return el("span", { cls: "sla muted", text: "无待办时限" });
    const span = el("span", { cls: "sla", attrs: { "data-due": item.next_due_at } });
    tick(span);
    return span;
  }

  function tick(span) {
    const due = Date.parse(span.getAttribute("data-due"));
    const left = due - YQ.now();  // the server's clock: a browser set wrong does not move the SLA
    span.textContent = YQ.fmtDuration(left);
    span.classList.toggle("overdue", left < 0);
  }

  function milestoneLine(item) {
    const ul = el("ul", { cls: "milestones" });
    (item.milestones || []).forEach(function (m) {
      const late = m.done_at ? "✓ 超时完成" : "✗ 超时未完成";
      const label = { done: "✓", late: late, pending: "…", overdue: "✗ 已超时" }[m.state] || m.state;
      ul.appendChild(el("li", { cls: "ms-" + m.state, text: m.name + " " + label + (m.due_at ? "（时限 " + YQ.fmtTime(m.due_at) + "）" : "") }));
    });
    return ul;
  }

  function controls(item, onChanged) {
    if (!YQ.meta || YQ.meta.user.role !== "handler") return null;
    const allowed = (YQ.meta.transitions && YQ.meta.transitions[item.status]) || [];
    if (!allowed.length) return null;
    const select = el("select", { cls: "status-select", attrs: { "aria-label": "变更状态", "data-id": item.id } },
      [el("option", { text: "变更状态…", attrs: { value: "" } })].concat(
        allowed.map(function (s) { return el("option", { text: s, attrs: { value: s } }); })));
    const note = el("input", { cls: "note-input", attrs: { type: "text", "aria-label": "备注" } });
    note.placeholder = "备注（关闭未解决的单必须填写）";
    note.maxLength = 2000;
    const msg = el("span", { cls: "error" });
    const button = el("button", { cls: "apply", text: "提交", attrs: { type: "button" } });
    button.addEventListener("click", async function () {
      if (!select.value) { msg.textContent = "请选择状态"; return; }
      button.disabled = true;
      try {
        await YQ.post("/api/complaints/" + item.id + "/status", { status: select.value, note: note.value || null });
        onChanged();
      } catch (e) {
        msg.textContent = e.message;
      } finally {
        button.disabled = false;
      }
    });
    return el("details", { cls: "controls" }, [el("summary", { text: "处理" }), select, note, button, msg]);
  }

  const CATEGORIES = ["产品质量", "食用不适", "活动政策", "使用问题", "服务态度", "物流配送", "退换货", "虚假宣传", "价格收费", "其他"];

  const URGENCIES = ["非常紧急", "紧急", "一般"];

  /* 纠正判定: 误报 (not a complaint), a corrected category or urgency (the SLA clocks follow the
     urgency); each becomes a training label. */
  function verdictControls(item, onChanged) {
    if (!YQ.meta || YQ.meta.user.role !== "handler") return null;
    const msg = el("span", { cls: "error" });
    async function send(body, button) {
      button.disabled = true;
      try {
        await YQ.post("/api/complaints/" + item.id + "/verdict", body);
        onChanged();
      } catch (e) {
        msg.textContent = e.message;
      } finally {
        button.disabled = false;
      }
    }
    const fp = el("button", { cls: "mark-false", text: "标记误报（非投诉）", attrs: { type: "button", "data-id": item.id } });
    fp.addEventListener("click", function () { send({ not_complaint: true }, fp); });
    const cat = el("select", { cls: "category-select", attrs: { "aria-label": "更正类别", "data-id": item.id } },
      [el("option", { text: "更正类别…", attrs: { value: "" } })].concat(
        CATEGORIES.filter(function (c) { return c !== item.category; })
          .map(function (c) { return el("option", { text: c, attrs: { value: c } }); })));
    const apply = el("button", { cls: "apply-category", text: "改类别", attrs: { type: "button" } });
    apply.addEventListener("click", function () {
      if (!cat.value) { msg.textContent = "请选择类别"; return; }
      send({ category: cat.value }, apply);
    });
    const urg = el("select", { cls: "urgency-select", attrs: { "aria-label": "更正紧急程度", "data-id": item.id } },
      [el("option", { text: "更正紧急程度…", attrs: { value: "" } })].concat(
        URGENCIES.filter(function (u) { return u !== item.urgency; })
          .map(function (u) { return el("option", { text: u, attrs: { value: u } }); })));
    const applyUrgency = el("button", { cls: "apply-urgency", text: "改紧急程度", attrs: { type: "button" } });
    applyUrgency.addEventListener("click", function () {
      if (!urg.value) { msg.textContent = "请选择紧急程度"; return; }
      send({ urgency: urg.value }, applyUrgency);
    });
    return el("details", { cls: "verdict-controls" },
      [el("summary", { text: "纠正判定" }), fp, cat, apply, urg, applyUrgency, msg]);
  }

  const RELATION_ORDER = ["source", "repeat", "repost", "copy", "comment"];
  const RELATION_NAMES = { source: "首帖", repeat: "同一客户再次发帖", repost: "转发", copy: "近似内容", comment: "评论" };

  function platformName(p) { return (YQ.meta.platforms || {})[p] || p; }

  /* "98 条：转发 19 · 评论 51 … · 微博 49 · 抖音 27 · 合计互动 108420" */
  function spreadText(spread) {
    if (!spread) return "";
    const kinds = RELATION_ORDER.filter(function (k) { return spread.relations[k]; })
      .map(function (k) { return RELATION_NAMES[k] + " " + spread.relations[k]; });
    const where = Object.keys(spread.platforms).map(function (p) { return platformName(p) + " " + spread.platforms[p]; });
    return spread.mentions + " 条：" + kinds.concat(where).join(" · ") + " · 合计互动 " + spread.engagement +
      " · 作者粉丝合计 " + spread.followers;
  }

  /* The record's linked mentions, loaded when the reader opens them: how and why each joined. */
  function linkedPanel(item) {
    const list = el("ul", { cls: "c-links" });
    const box = el("details", { cls: "c-linked", attrs: { "data-id": item.id } }, [
      el("summary", { text: "关联提及 +" + item.linked_count + "（" + spreadText(item.spread) + "）" }), list]);
    let loaded = false;
    box.addEventListener("toggle", async function () {
      if (!box.open || loaded) return;
      loaded = true;
      try {
        const d = await YQ.api("/api/complaints/" + item.id);
        const byId = {};
        d.mentions.forEach(function (m) { byId[m.id] = m; });
        d.links.forEach(function (link) {
          const m = byId[link.mention_id];
          list.appendChild(el("li", { cls: "c-link", attrs: { "data-relation": link.relation } }, [
            el("span", { cls: "badge", text: link.relation_name }),
            " ",
            el("span", { cls: "muted", text: m ? platformName(m.platform) + " · " + (m.author_name || "匿名") +
              " · 互动 " + (m.likes + m.comments + m.shares) : "#" + link.mention_id }),
            m ? el("p", { cls: "c-link-text", text: m.text }) : null,
            el("p", { cls: "c-link-note muted", text: link.note || "" }),
            m && m.url ? YQ.link(m.url, "原文") : null,
          ]));
        });
        if (d.links.length > d.mentions.length) {
          list.appendChild(el("li", { cls: "muted", text: "仅显示互动最多的 " + d.mentions.length + " 条的正文" }));
        }
      } catch (e) {
        list.appendChild(el("li", { cls: "error", text: e.message }));
      }
    });
    return box;
  }

  function groupLine(item) {
    const g = item.group;
    if (!g) return null;
    const others = g.records.filter(function (r) { return r.id !== item.id; }).map(function (r) { return r.number; });
    return el("p", { cls: "c-meta c-group" }, [
      (g.tagged ? "群体投诉：" : "") + "同一事件 " + g.size + " 张客诉单" +
        (others.length ? "（另 " + others.slice(0, 5).join("、") + (others.length > 5 ? " 等" : "") + "）" : ""),
    ]);
  }

  function card(item, onChanged) {
    const head = el("div", { cls: "c-head" }, [
      el("span", { cls: "number", text: item.number }),
      el("span", { cls: "badge " + (URGENCY_CLASS[item.urgency] || ""), text: item.urgency }),
      item.linked_count ? el("span", { cls: "badge linked-mark", text: "+" + item.linked_count }) : null,
    ].concat((item.tags || []).map(function (t) { return el("span", { cls: "badge group-mark", text: t }); }), [
      item.overdue ? el("span", { cls: "badge overdue-mark", text: "已超时" }) : null,
    ]));
    return el("article", { cls: "c-card" + (item.overdue ? " is-overdue" : ""), attrs: { "data-id": item.id, "data-status": item.status } }, [
      head,
      el("p", { cls: "c-meta muted", text: [item.brand, item.category || "未分类", (YQ.meta.platforms || {})[item.platform] || item.platform].join(" · ") }),
      el("p", { cls: "c-summary", text: item.summary }),
      el("p", { cls: "c-meta", text: "处理人：" + (item.assignee || "未分派") + (item.team ? "（" + item.team + "）" : "") }),
      groupLine(item),
      el("p", { cls: "c-meta" }, ["下一时限：", countdown(item)]),
      item.linked_count ? linkedPanel(item) : null,
      el("details", { cls: "c-sla" }, [el("summary", { text: "SLA 明细" }), milestoneLine(item)]),
      item.url ? el("p", { cls: "c-meta" }, [YQ.link(item.url, "查看原帖")]) : null,
      controls(item, onChanged),
      verdictControls(item, onChanged),
    ]);
  }

  YQ.board = {
    render: function (items, onChanged) {
      const root = YQ.clear(document.getElementById("board"));
      COLUMNS.forEach(function (statuses) {
        const list = items.filter(function (it) { return statuses.indexOf(it.status) >= 0; });
        const col = el("div", { cls: "b-col", attrs: { "data-col": statuses[0] } }, [
          el("h3", { text: statuses.join(" / ") + "（" + list.length + "）" }),
        ].concat(list.map(function (it) { return card(it, onChanged); })));
        root.appendChild(col);
      });
    },
    tick: function () { document.querySelectorAll(".sla[data-due]").forEach(tick); },
    card: card,
  };
})();

/* ECharts rendering of the overview (trend with surge markers, distributions, top words).
 * Charts draw on canvas; the tooltips are HTML, so every label is escaped first. */
"use strict";

(function () {
  const YQ = window.YQ;
  const charts = {};
  const COLORS = ["#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00",
    "#b82e2e", "#316395", "#994499", "#22aa99"];
  const SENTIMENT_COLORS = { "正面": "#2e7d32", "中性": "#90a4ae", "负面": "#c62828", "未分析": "#cfd8dc" };

  function esc(value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }
  YQ.esc = esc;

  function chart(id) {
    const node = document.getElementById(id);
    if (!charts[id]) charts[id] = window.echarts.init(node, null, { renderer: "canvas" });
    return { node, c: charts[id] };
  }

  function itemTip(p) {
    const pct = p.percent !== undefined ? "（" + esc(p.percent) + "%）" : "";
    return esc(p.name) + "：" + esc(p.value) + pct;
  }

  function axisTip(params) {
    const list = Array.isArray(params) ? params : [params];
    const head = list.length ? esc(list[0].axisValueLabel || list[0].name) : "";
    return [head].concat(list.map(function (p) {
      const v = p.seriesName === "负面占比" ? (Number(p.value) * 100).toFixed(1) + "%" : p.value;
      return esc(p.seriesName) + "：" + esc(v);
    })).join("<br>");
  }

  function localKey(iso, bucket) {
    const parts = {};
    new Intl.DateTimeFormat("en-CA", {
      timeZone: (YQ.meta && YQ.meta.timezone) || "Asia/Shanghai", year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", hourCycle: "h23",
    }).formatToParts(new Date(iso)).forEach(function (x) { parts[x.type] = x.value; });
    const day = parts.year + "-" + parts.month + "-" + parts.day;
    return bucket === "hour" ? day + " " + parts.hour + ":00" : day;
  }

  function renderTrend(trend, surges, bucket) {
    const { node, c } = chart("c-trend");
    const keys = trend.map(function (p) { return p.t; });
    const marks = [];
    (surges || []).forEach(function (s) {
      const k = localKey(s.at, bucket);
      const i = keys.indexOf(k);
      if (i >= 0) marks.push({ coord: [k, trend[i].total], value: "突增", name: s.title });
    });
    c.setOption({
      color: ["#3366cc", "#c62828", "#ff9900"],
      tooltip: { trigger: "axis", formatter: axisTip },
      legend: { data: ["声量", "负面", "负面占比"], top: 0 },
      grid: { left: 48, right: 56, top: 40, bottom: 28 },
      xAxis: { type: "category", data: keys },
      yAxis: [{ type: "value", name: "条" }, { type: "value", name: "占比", max: 1,
        axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } }],
      series: [
        { name: "声量", type: "bar", data: trend.map(function (p) { return p.total; }),
          markPoint: { symbol: "triangle", symbolSize: 16, itemStyle: { color: "#d50000" }, data: marks,
            label: { show: false }, tooltip: { formatter: function (p) { return "突增：" + esc(p.name); } } } },
        { name: "负面", type: "line", data: trend.map(function (p) { return p.negative; }) },
        { name: "负面占比", type: "line", yAxisIndex: 1, smooth: true,
          data: trend.map(function (p) { return p.negative_share; }) },
      ],
    }, true);
    node.setAttribute("data-count", String(trend.length));
    node.setAttribute("data-surges", String(marks.length));
  }

  function renderPie(id, slices, colorMap) {
    const { node, c } = chart(id);
    c.setOption({
      tooltip: { trigger: "item", formatter: itemTip },
      legend: { bottom: 0, type: "scroll" },
      series: [{ type: "pie", radius: ["35%", "65%"], center: ["50%", "45%"],
        data: slices.map(function (s, i) {
          const color = (colorMap && colorMap[s.label]) || COLORS[i % COLORS.length];
          return { name: s.label || s.key || "未知", value: s.count, itemStyle: { color: color } };
        }) }],
    }, true);
    node.setAttribute("data-count", String(slices.length));
  }

  function renderBar(id, rows, opts) {
    const { node, c } = chart(id);
    const o = opts || {};
    const data = rows.slice(0, o.top || 12).reverse();
    c.setOption({
      tooltip: { trigger: "item", formatter: itemTip },
      grid: { left: o.left || 80, right: 24, top: 8, bottom: 24 },
      xAxis: { type: "value" },
      yAxis: { type: "category", data: data.map(function (r) { return r.label || r.word || r.key || "未知"; }) },
      series: [{ type: "bar", data: data.map(function (r) { return r.count; }),
        itemStyle: { color: o.color || "#3366cc" } }],
    }, true);
    node.setAttribute("data-count", String(data.length));
  }

  YQ.charts = {
    render: function (ov, bucket) {
      renderTrend(ov.trend, ov.surges, bucket);
      renderPie("c-sentiment", ov.sentiment, SENTIMENT_COLORS);
      renderBar("c-category", ov.category, { color: "#dc3912" });
      renderPie("c-platform", ov.platform);
      renderBar("c-region", ov.region, { left: 64 });
      renderBar("c-customer", ov.customer, { color: "#109618" });
      renderBar("c-words", ov.words, { top: 20, color: "#990099" });
    },
    timeline: function (id, points) {
      if (charts[id]) { charts[id].dispose(); delete charts[id]; }
      const { node, c } = chart(id);
      c.setOption({
        tooltip: { trigger: "axis", formatter: axisTip },
        grid: { left: 36, right: 12, top: 12, bottom: 24 },
        xAxis: { type: "category", data: points.map(function (p) { return p.t.length > 10 ? p.t.slice(11) : p.t.slice(5); }) },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ name: "声量", type: "line", areaStyle: {}, data: points.map(function (p) { return p.total; }) },
          { name: "负面", type: "line", data: points.map(function (p) { return p.negative; }) }],
      }, true);
      node.setAttribute("data-count", String(points.length));
    },
    resize: function () { Object.values(charts).forEach(function (c) { c.resize(); }); },
  };
  /* The growth curve of a tracked post (reposts and comments at each visit). */
  YQ.charts.growth = function (id, points) {
    const g = chart(id);
    g.c.setOption({
      tooltip: { trigger: "axis", formatter: function (params) {
        const list = Array.isArray(params) ? params : [params];
        return [esc(list.length ? list[0].axisValueLabel : "")].concat(list.map(function (p) {
          return esc(p.seriesName) + "：" + esc(p.value[1]); })).join("<br>"); } },
      legend: { data: ["转发", "评论"], top: 0 },
      /* reposts and comments each on their own axis, neither forced to zero: a repost count
         growing from 75 to 93 under 1,600 comments would otherwise draw as a flat line */
      grid: { left: 56, right: 56, top: 40, bottom: 28 },
      xAxis: { type: "time" },
      yAxis: [{ type: "value", name: "转发", scale: true, minInterval: 1 },
              { type: "value", name: "评论", scale: true, minInterval: 1, splitLine: { show: false } }],
      series: [
        { name: "转发", type: "line", showSymbol: true, yAxisIndex: 0, data: (points || []).map(function (p) { return [p.at, p.reposts]; }) },
        { name: "评论", type: "line", showSymbol: true, yAxisIndex: 1, data: (points || []).map(function (p) { return [p.at, p.comments]; }) },
      ],
    }, true);
  };

  /* The repost tree: the post at the root, each repost under the one its //@ chain names. */
  YQ.charts.tree = function (id, edges) {
    const nodes = {};
    const root = { name: "原帖", children: [], value: 0 };
    (edges || []).forEach(function (e) {
      nodes[e.id] = { name: String(e.name || "匿名"), value: e.followers, verified: e.verified, children: [] };
    });
    (edges || []).forEach(function (e) {
      const parent = (e.parent && nodes[e.parent]) || root;
      parent.children.push(nodes[e.id]);
    });
    const g = chart(id);
    g.c.setOption({
      tooltip: { trigger: "item", formatter: function (p) {
        return esc(p.name) + (p.value ? "（粉丝 " + esc(p.value) + "）" : ""); } },
      series: [{ type: "tree", data: [root], layout: "radial", symbolSize: function (v) { return v > 100000 ? 14 : 6; },
        initialTreeDepth: -1, roam: true, label: { show: false }, emphasis: { focus: "descendant" },
        itemStyle: { color: "#3366cc" } }],
    }, true);
  };
})();

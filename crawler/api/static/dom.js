/* Safe DOM building and API access for the dashboard.
 * Every piece of scraped text goes through textContent (never innerHTML); links are
 * only set when they are http(s) URLs. The token lives in sessionStorage. */
"use strict";

const YQ = (window.YQ = window.YQ || {});

YQ.el = function (tag, opts, children) {
  const node = document.createElement(tag);
  const o = opts || {};
  if (o.cls) node.className = o.cls;
  if (o.text !== undefined && o.text !== null) node.textContent = String(o.text);
  if (o.title) node.title = String(o.title);
  if (o.attrs) {
    for (const [k, v] of Object.entries(o.attrs)) {
      if (!/^(data-[a-z-]+|role|aria-[a-z]+|type|value|name|for|id|tabindex|colspan)$/.test(k)) continue;
      node.setAttribute(k, String(v));
    }
  }
  for (const child of children || []) {
    if (child === null || child === undefined) continue;
    node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
};

YQ.safeUrl = function (url) {
  if (typeof url !== "string") return null;
  return /^https?:\/\/[^\s"'<>]+$/i.test(url) ? url : null;
};

YQ.link = function (url, text) {
  const safe = YQ.safeUrl(url);
  if (!safe) return YQ.el("span", { cls: "muted", text: text || "（无链接）" });
  const a = YQ.el("a", { text: text || "原文" });
  a.href = safe;
  a.target = "_blank";
  a.rel = "noopener noreferrer nofollow";
  return a;
};

YQ.clear = function (node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
};

YQ.fmtTime = function (iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d.getTime())) return "";
  return new Intl.DateTimeFormat("zh-CN", {
    timeZone: (YQ.meta && YQ.meta.timezone) || "Asia/Shanghai",
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
  }).format(d);
};

YQ.fmtDuration = function (ms) {
  const neg = ms < 0;
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const body = (d ? d + "天" : "") + (d || h ? h + "时" : "") + m + "分" + (d ? "" : s + "秒");
  return neg ? "超时 " + body : "剩余 " + body;
};

YQ.token = function () { return sessionStorage.getItem("yq-token"); };
YQ.setToken = function (t) { if (t) sessionStorage.setItem("yq-token", t); else sessionStorage.removeItem("yq-token"); };

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}
YQ.ApiError = ApiError;

// The server's clock as the Date header of its answers tells it (to the second): SLA countdowns
// run against it, not against a browser clock that may be set wrong.
YQ.clockOffset = 0;
YQ.now = function () { return Date.now() + YQ.clockOffset; };
YQ.noteServerDate = function (header, sent, received) {
  const server = Date.parse(header || "");  // no header (a proxy dropped it): the browser's clock stays
  if (Number.isNaN(server) || received - sent > 1000) return;  // a slow answer says little
  // the header is cut to the second and uvicorn renews it once a second: the server's time
  // lies within two seconds after it
  const offset = server + 1000 - (sent + received) / 2;
  if (Math.abs(offset - YQ.clockOffset) > 1500) YQ.clockOffset = offset;  // no jitter under a second
};

YQ.api = async function (path, params, init) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === "") continue;
    for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
  }
  const headers = Object.assign({ Accept: "application/json" }, (init && init.headers) || {});
  const token = YQ.token();
  if (token) headers.Authorization = "Bearer " + token;
  const sent = Date.now();
  const resp = await fetch(url, Object.assign({}, init || {}, { headers, credentials: "omit" }));
  YQ.noteServerDate(resp.headers.get("Date"), sent, Date.now());
  if (!resp.ok) {
    let message = "请求失败 (" + resp.status + ")";
    try { const body = await resp.json(); if (body && body.detail) message = String(body.detail); } catch (e) { /* not JSON */ }
    if (resp.status === 401) YQ.onUnauthorized && YQ.onUnauthorized(message);
    throw new ApiError(resp.status, message);
  }
  return resp.json();
};

YQ.post = function (path, body) {
  return YQ.api(path, null, { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
};

#pragma once

// The dashboard's page: one file, no build step, nothing from the
// internet. It opens the WebSocket /dashboard/live (with the page's
// ?token= if any), renders each pushed state and sends actions back.

namespace ghostnet::transports::http::detail {

inline constexpr const char* dashboard_page = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ghostnet node</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .3em; } h2 { font-size: 1.05em; margin: 1.2em 0 .4em; }
#status { color: #666; } #status.live { color: #197a2f; } #status.down { color: #b3261e; }
ul.tree, ul.tree ul { list-style: none; padding-left: 1.4em; margin: 0; }
ul.tree > li { padding-left: 0; }
.node { padding: 2px 0; } .id { font-weight: 600; } .kind { color: #777; font-size: .85em; }
.state { border-radius: 3px; padding: 0 5px; font-size: .85em; margin-left: .4em; }
.running { background: #dff3e3; } .restarting, .starting { background: #fff1c2; }
.stopping, .stopped { background: #f3dede; }
.restarts { color: #8a5300; margin-left: .4em; } .exit { color: #999; margin-left: .4em; font-size: .85em; }
button { font-size: .8em; margin-left: .3em; cursor: pointer; }
.charts { display: flex; gap: 2em; } .chart svg { border: 1px solid #ddd; background: #fafafa; }
#result { margin-left: 1em; color: #555; }
</style></head><body>
<h1>ghostnet node</h1>
<div><span id="status">connecting…</span>
 · log level <select id="level">
 <option>trace</option><option>debug</option><option>info</option><option>warn</option>
 <option>error</option><option>off</option></select><span id="result"></span></div>
<h2>Throughput and connections (last 5 minutes)</h2>
<div class="charts">
 <div class="chart">connections open: <b id="conns">0</b><br><svg id="c-conns" width="360" height="80"></svg></div>
 <div class="chart">received: <b id="rate">0</b> KiB/s<br><svg id="c-rate" width="360" height="80"></svg></div>
 <div class="chart">restarts (all children): <b id="restarts">0</b><br><svg id="c-restarts" width="360" height="80"></svg></div>
</div>
<h2>Supervision tree</h2>
<ul class="tree" id="tree"></ul>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("token");
const url = `ws://${location.host}/dashboard/live` + (token ? `?token=${encodeURIComponent(token)}` : "");
const history = { conns: [], rate: [], restarts: [] };
const keep = 1200; // 5 minutes of 250 ms pushes
let last = null, last_tree = null, ws = null;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function action(verb, path) {
  return Object.assign(el("button", "", verb), {
    onclick: () => ws.send(`${verb} ${path}`),
    title: `${verb} ${path}`,
  });
}

function render(node) {
  const li = el("li");
  const row = el("div", "node");
  row.dataset.path = node.path;
  row.append(el("span", "id", node.id), el("span", "kind", ` ${node.kind}`),
             el("span", `state ${node.state}`, node.state));
  if (node.restarts > 0) row.append(el("span", "restarts", `restarts ${node.restarts}`));
  if (node.last_exit) row.append(el("span", "exit", `last exit: ${node.last_exit}`));
  if (node.path !== "root" && node.state === "running") {
    row.append(action("kill", node.path), action("restart", node.path),
               action("terminate", node.path));
    if (node.id === "listener") row.append(action("drain", node.path));
  }
  li.append(row);
  if (node.children.length || node.more) {
    const ul = el("ul");
    node.children.forEach(c => ul.append(render(c)));
    if (node.more) ul.append(el("li", "kind", `+${node.more} more`));
    li.append(ul);
  }
  return li;
}

function total_restarts(node) {
  return node.restarts + node.children.reduce((s, c) => s + total_restarts(c), 0);
}

function chart(id, values) {
  const svg = document.getElementById(id);
  const w = svg.width.baseVal.value, h = svg.height.baseVal.value;
  const max = Math.max(1, ...values);
  // The newest value at the right edge; older ones scroll left.
  const x0 = w - (values.length - 1) * w / (keep - 1);
  const pts = values.map((v, i) => `${(x0 + i * w / (keep - 1)).toFixed(1)},${(h - 4 - v * (h - 8) / max).toFixed(1)}`);
  svg.innerHTML = `<polyline fill="none" stroke="#2b6cb0" stroke-width="1.5" points="${pts.join(" ")}"/>`;
}

function push(series, value) {
  series.push(value);
  if (series.length > keep) series.shift();
}

function on_state(s) {
  const now = performance.now();
  const kib = last ? (s.metrics.bytes_in - last.bytes_in) / 1024 / Math.max(0.001, (now - last.t) / 1000) : 0;
  last = { bytes_in: s.metrics.bytes_in, t: now };
  const restarts = total_restarts(s.tree);
  push(history.conns, s.metrics.connections_open);
  push(history.rate, kib);
  push(history.restarts, restarts);
  document.getElementById("conns").textContent = s.metrics.connections_open;
  document.getElementById("rate").textContent = kib.toFixed(1);
  document.getElementById("restarts").textContent = restarts;
  chart("c-conns", history.conns); chart("c-rate", history.rate); chart("c-restarts", history.restarts);
  const level = document.getElementById("level");
  if (document.activeElement !== level) level.value = s.log_level;
  // Only a changed tree is drawn again: the counters change every push,
  // and a button must not be replaced under the pointer.
  const tree = JSON.stringify(s.tree);
  if (tree !== last_tree) {
    last_tree = tree;
    document.getElementById("tree").replaceChildren(render(s.tree));
  }
}

function connect() {
  const status = document.getElementById("status");
  ws = new WebSocket(url);
  ws.onopen = () => { status.textContent = "live"; status.className = "live"; };
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.type === "state") on_state(m);
    else document.getElementById("result").textContent = (m.ok ? "✓ " : "✗ ") + m.text;
  };
  ws.onclose = (e) => {
    status.textContent = `disconnected (${e.code}), retrying`; status.className = "down";
    setTimeout(connect, 1000);
  };
}

document.getElementById("level").onchange = (e) => ws.send(`log-level ${e.target.value}`);
connect();
</script></body></html>
)html";

} // namespace ghostnet::transports::http::detail

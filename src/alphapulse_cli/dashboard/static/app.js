"use strict";
// The dashboard page: one WebSocket, a snapshot per message, drawn on canvas by hand.
const dash = { state: null, updates: 0, perSecond: 0, depthDrawn: 0, paused: false };
window.dash = dash;
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const clock = (ns) => new Date(ns / 1e6).toISOString().slice(11, 23);
const fmt = (x, d) => (x === null || x === undefined ? "-" : Number(x).toFixed(d));

function connect() {
  const ws = new WebSocket(`ws://${location.host}/ws`);
  ws.onopen = () => { $("conn").textContent = "live"; $("conn").className = "ok"; };
  ws.onclose = () => {
    $("conn").textContent = "disconnected"; $("conn").className = "bad";
    setTimeout(connect, 1000);
  };
  ws.onmessage = (ev) => {
    dash.state = JSON.parse(ev.data);
    dash.updates += 1;
    render(dash.state);
  };
}

let counted = 0;
setInterval(() => {
  dash.perSecond = dash.updates - counted;
  counted = dash.updates;
  $("rate").textContent = `${dash.perSecond} updates/s`;
}, 1000);

function render(s) {
  renderHealth(s.collectors);
  renderSystem(s.system);
  renderBooks(s);
  renderTape(s);
  if (!dash.paused) renderFirehose(s);
}

function renderHealth(rows) {
  $("health").tBodies[0].innerHTML = rows.map((r) => `<tr class="${esc(r.status)}">
    <td>${esc(r.url)}</td><td>${esc(r.venue)}</td>
    <td title="${esc(r.error || "")}">${esc(r.status)}</td>
    <td>${fmt(r.msgs_per_s, 0)}</td><td>${fmt(r.bytes_per_s / 1e3, 1)}</td><td>${r.gaps}</td><td>${r.checksum_mismatch}</td>
    <td>${r.resyncs}</td><td>${r.parse_backlog}</td><td>${fmt(r.latency_p99_ms, 3)}</td></tr>`).join("");
}

function renderSystem(sys) {
  if (!sys || !sys.host) return;
  const h = sys.host, me = sys.dashboard;
  const parts = [
    `host CPU ${fmt(h.cpu_percent, 0)}% of ${h.cpus}`,
    `mem ${fmt(h.mem_used_mb, 0)} / ${fmt(h.mem_total_mb, 0)} MB`,
    `net in ${fmt(h.net_rx_bytes_per_s / 1e3, 1)} kB/s out ${fmt(h.net_tx_bytes_per_s / 1e3, 1)} kB/s`,
    `dashboard CPU ${fmt(me.cpu_percent, 0)}% RSS ${fmt(me.rss_mb, 0)} MB`,
  ];
  for (const c of sys.collectors) parts.push(`collector ${c.pid} CPU ${fmt(c.cpu_percent, 0)}% RSS ${fmt(c.rss_mb, 0)} MB`);
  $("system").innerHTML = parts.map((p) => `<span>${esc(p)}</span>`).join("");
}

function renderBooks(s) {
  const sel = $("book");
  const keys = Object.keys(s.books).sort();
  if (keys.join() !== Array.from(sel.options, (o) => o.value).join()) {
    const keep = sel.value;
    sel.innerHTML = keys.map((k) => `<option>${esc(k)}</option>`).join("");
    if (keys.includes(keep)) sel.value = keep;
  }
  const st = s.status.depth === "ok" ? `from the ${s.status.depth_source}` : s.status.depth;
  $("depth-status").textContent = st;
  drawDepth(s.books[sel.value]);
}

function cumulative(levels) {
  let total = 0;
  return levels.map(([p, q]) => [p, (total += q)]);
}

function drawDepth(book) {
  const cv = $("depth"), g = cv.getContext("2d"), W = cv.width, H = cv.height;
  g.clearRect(0, 0, W, H);
  if (!book || (!book.bids.length && !book.asks.length)) return;
  const bids = cumulative(book.bids), asks = cumulative(book.asks);
  const prices = bids.concat(asks).map((l) => l[0]);
  const lo = Math.min(...prices), hi = Math.max(...prices);
  const top = Math.max(bids.length ? bids[bids.length - 1][1] : 0, asks.length ? asks[asks.length - 1][1] : 0);
  const x = (p) => 40 + ((p - lo) / (hi - lo || 1)) * (W - 50);
  const y = (q) => H - 20 - (q / (top || 1)) * (H - 30);
  const side = (levels, color) => {
    if (!levels.length) return;
    g.beginPath();
    g.moveTo(x(levels[0][0]), y(0));
    for (const [p, q] of levels) g.lineTo(x(p), y(q));
    g.lineTo(x(levels[levels.length - 1][0]), y(0));
    g.closePath();
    g.fillStyle = color + "55"; g.fill();
    g.strokeStyle = color; g.stroke();
  };
  side(bids, "#3fcf7f");
  side(asks, "#f0605a");
  g.fillStyle = "#8a96a3"; g.font = "11px system-ui";
  g.fillText(String(lo), 40, H - 5);
  g.fillText(String(hi), W - 80, H - 5);
  g.fillText(top.toPrecision(4), 2, 12);
  dash.depthDrawn += 1;
}

function drawPrice(points) {
  const cv = $("price"), g = cv.getContext("2d"), W = cv.width, H = cv.height;
  g.clearRect(0, 0, W, H);
  if (!points || points.length < 2) return;
  const ts = points.map((p) => p[0]), ps = points.map((p) => p[1]);
  const t0 = Math.min(...ts), t1 = Math.max(...ts), lo = Math.min(...ps), hi = Math.max(...ps);
  const x = (t) => 40 + ((t - t0) / (t1 - t0 || 1)) * (W - 50);
  const y = (p) => H - 10 - ((p - lo) / (hi - lo || 1)) * (H - 20);
  g.beginPath();
  points.forEach(([t, p], i) => (i ? g.lineTo(x(t), y(p)) : g.moveTo(x(t), y(p))));
  g.strokeStyle = "#6ab0ff"; g.stroke();
  g.fillStyle = "#8a96a3"; g.font = "11px system-ui";
  g.fillText(String(hi), 2, 12); g.fillText(String(lo), 2, H - 4);
}

function renderTape(s) {
  $("tape-status").textContent = s.status.tape === "ok" ? "" : s.status.tape;
  const key = $("book").value || Object.keys(s.prices)[0];
  drawPrice(s.prices[key] || s.prices[Object.keys(s.prices)[0]]);
  const rows = s.trades.slice(-60).reverse();
  $("tape").tBodies[0].innerHTML = rows.map((t) => `<tr class="${t.side === "buy" ? "buy" : "sell"}">
    <td>${clock(t.ts)}</td><td>${esc(t.exchange)}</td><td>${esc(t.symbol)}</td><td>${esc(t.side)}</td>
    <td>${esc(t.price)}</td><td>${esc(t.size)}</td><td data-trade-id="${esc(t.trade_id || "")}">${esc(t.trade_id || "")}</td></tr>`).join("");
}

function renderFirehose(s) {
  const rates = Object.entries(s.firehose_rates)
    .map(([v, r]) => `${v}: shown ${r.shown_per_s} of ${r.seen_per_s}/s`).join(", ");
  $("firehose-status").textContent = s.status.firehose === "ok" ? rates : s.status.firehose;
  const venues = Object.keys(s.firehose_rates).sort(), sel = $("venue");
  if (venues.join() !== Array.from(sel.options).slice(1).map((o) => o.value).join()) {
    const keep = sel.value;
    sel.innerHTML = '<option value="">all venues</option>' +
      venues.map((v) => `<option>${esc(v)}</option>`).join("");
    sel.value = venues.includes(keep) ? keep : "";
  }
  const want = $("filter").value, venue = sel.value;
  const lines = s.firehose.filter((f) => (!venue || f.venue === venue) && (!want || f.text.includes(want)));
  $("firehose").textContent = lines.slice(-80).reverse()
    .map((f) => `${clock(f.ts)} ${f.venue} ${f.kind} ${f.text}`).join("\n");
}

$("pause").onclick = () => {
  dash.paused = !dash.paused;
  $("pause").textContent = dash.paused ? "resume" : "pause";
};
$("book").onchange = () => dash.state && render(dash.state);
connect();

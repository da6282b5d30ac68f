// The console's WebSocket client: versioned envelopes, request/reply by id,
// heartbeats, and reconnection with exponential backoff. A session that has
// ended sends the page to the login form.

const VERSION = 1;

export function connect({ onMessage, onStatus }) {
  let ws = null;
  let backoff = 500;
  let seq = 0;
  let lastSeen = Date.now();
  let closedForGood = false;
  const pending = new Map();
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/console/ws";

  function toLogin(reason) {
    closedForGood = true;
    const next = encodeURIComponent(location.pathname + location.search);
    location.assign("/login?reason=" + encodeURIComponent(reason || "expired") + "&next=" + next);
  }

  function open() {
    onStatus("connecting");
    ws = new WebSocket(url);
    ws.onopen = () => { backoff = 500; lastSeen = Date.now(); onStatus("connected"); };
    ws.onmessage = (ev) => {
      lastSeen = Date.now();
      let env;
      try { env = JSON.parse(ev.data); } catch { return; }
      if (env.v !== VERSION) { return; }
      if (env.type === "bye") { toLogin("expired"); return; }
      if (env.id && pending.has(env.id)) {
        const p = pending.get(env.id);
        pending.delete(env.id);
        if (env.type === "error") { p.reject(env.data); } else { p.resolve(env); }
      }
      onMessage(env);
    };
    ws.onclose = async (ev) => {
      for (const p of pending.values()) { p.reject({ code: "unavailable", message: "connection lost; retrying" }); }
      pending.clear();
      if (closedForGood) { return; }
      if (ev.code === 4001) { toLogin("expired"); return; }
      onStatus("offline");
      // Before retrying, ask whether we are still signed in.
      try {
        const r = await fetch("/console/whoami", { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (r.status === 401) { toLogin("expired"); return; }
        if (r.status === 403) { onStatus("forbidden"); closedForGood = true; return; }
      } catch { /* the server is down: keep trying */ }
      const wait = Math.min(backoff, 15000) * (0.75 + Math.random() / 2);
      backoff = Math.min(backoff * 2, 15000);
      setTimeout(open, wait);
    };
  }

  // Heartbeat: the server pings too; this notices a dead link from our side.
  setInterval(() => {
    if (!ws || ws.readyState !== WebSocket.OPEN) { return; }
    if (Date.now() - lastSeen > 60000) { ws.close(); return; }
    send("ping", {}).catch(() => {});
  }, 25000);

  function send(type, data) {
    return new Promise((resolve, reject) => {
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        reject({ code: "unavailable", message: "not connected; retrying…" });
        return;
      }
      const id = "c" + (++seq);
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ v: VERSION, type, id, data }));
    });
  }

  open();
  return { send };
}

// status shows the connection state in the header.
export function showStatus(s) {
  const el = document.getElementById("conn");
  if (!el) { return; }
  el.hidden = false;
  el.textContent = { connected: "live", connecting: "connecting…", offline: "offline — reconnecting", forbidden: "no access" }[s] || s;
  el.className = "conn" + (s === "connected" ? " ok" : "");
  document.body.dataset.conn = s;
}

// h builds an element: h("p", {class: "x"}, "text", child…).
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) { continue; }
    if (k.startsWith("on")) { el.addEventListener(k.slice(2), v); } else if (v === true) { el.setAttribute(k, ""); } else { el.setAttribute(k, v); }
  }
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false) { continue; }
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}

// The supervisors' live floor: the server pushes "floor" snapshots within a
// moment of every change on any node, and "event" lines for the feed.
// Times in state tick here, from each desk's "since".

import { connect, showStatus, h } from "./ws.js";
import { createPhone } from "./phone.js";

const root = document.getElementById("floor");
const events = document.getElementById("events");
let floor = null;
let skew = 0; // server clock minus ours, so times in state follow the server

const client = connect({
  onStatus: showStatus,
  onMessage: (env) => {
    if (env.type === "floor") { floor = env.data; skew = new Date(floor.at).getTime() - Date.now(); render(); }
    if (env.type === "event") { addEvent(env.data); }
    if (env.type === "call") { phone.onMessage(env); }
  },
});

// Listening in: the calls up now by interviewer, and the one we are on.
const calls = new Map();
let watching = null; // {user_id, mode}
const phone = createPhone({ client, bar: document.getElementById("phonebar"), supervisor: true, onCall: (c) => {
  if (c.state === "ended") { calls.delete(c.user_id); } else { calls.set(c.user_id, c); }
  if (watching && watching.user_id === c.user_id && (c.state === "ended" || !c.monitor)) { watching = null; }
  showWatching();
  if (floor) { render(); }
} });

async function monitor(d, mode) {
  const out = document.getElementById("monitor-state");
  try {
    if (mode) { await phone.start(); }
    await phone.monitor(d.id, mode);
    watching = mode ? { user_id: d.id, name: d.name, mode } : null;
  } catch (e) {
    out.textContent = e.message || String(e);
    out.className = "error";
    return;
  }
  showWatching();
  render();
}

function showWatching() {
  const out = document.getElementById("monitor-state");
  out.className = "muted";
  out.dataset.mode = watching ? watching.mode : "";
  out.dataset.user = watching ? String(watching.user_id) : "";
  out.textContent = watching ? { listen: "Listening to ", whisper: "Whispering to ", barge: "On the call with " }[watching.mode] + watching.name +
    ({ listen: " — nobody hears you.", whisper: " — only the interviewer hears you.", barge: " — everybody hears you." })[watching.mode] :
    "Pick Listen, Whisper or Barge on an interviewer who is on a call.";
}

// callCell is an interviewer's call and the buttons to join it.
function callCell(d) {
  const c = calls.get(d.id);
  if (!c) { return h("td", { class: "call" }, "—"); }
  if (c.state !== "answered") { return h("td", { class: "call", "data-call": c.state }, c.state); }
  const on = watching && watching.user_id === d.id ? watching.mode : "";
  const b = (mode, text) => h("button", { class: on === mode ? "on" : "secondary", "data-monitor": mode,
    onclick: (ev) => { ev.stopPropagation(); monitor(d, mode); } }, text);
  return h("td", { class: "call", "data-call": c.state },
    b("listen", "Listen"), b("whisper", "Whisper"), b("barge", "Barge"),
    on ? h("button", { class: "secondary", "data-monitor": "off", onclick: (ev) => { ev.stopPropagation(); monitor(d, ""); } }, "Leave") : null);
}

function pct(r) { return r === null || r === undefined ? "n/a" : (r * 100).toFixed(1) + "%"; }
function score(r) { return r === null || r === undefined ? "n/a" : r.toFixed(1); }

function ago(since) {
  const s = Math.max(0, Math.floor((Date.now() + skew - new Date(since).getTime()) / 1000));
  const m = Math.floor(s / 60);
  return m >= 60 ? Math.floor(m / 60) + "h" + String(m % 60).padStart(2, "0") : m + ":" + String(s % 60).padStart(2, "0");
}

// stateText is a desk's state as people say it: "signed out", "on break (lunch)".
function stateText(d) {
  const t = d.state === "break" ? "on break" : d.state.replace("_", " ");
  return d.reason ? t + " (" + d.reason + ")" : t;
}

function render() {
  root.replaceChildren(
    h("section", { class: "card" }, h("h2", {}, "Interviewers"),
      h("table", { class: "grid", id: "interviewers" },
        h("thead", {}, h("tr", {}, ["Interviewer", "State", "Time in state", "Case", "Campaign", "Contacts/h", "Completes/h",
          "Completes today", "Refusal rate", "Avg handle", "Call"].map((t) => h("th", {}, t)))),
        h("tbody", {}, floor.interviewers.map((d) => h("tr", { "data-name": d.name, "data-case": d.case_id || "", class: d.case_id ? "pick" : "",
          onclick: () => pick(d) },
          h("td", {}, d.name), h("td", { class: "st-" + d.state, "data-state": d.state }, stateText(d)),
          d.since ? h("td", { class: "ago", "data-since": d.since }, ago(d.since)) : h("td", {}, "—"), h("td", {}, d.case_id ? h("a", { href: "/supervisor/cases/" + d.case_id, onclick: (ev) => ev.stopPropagation() }, String(d.case_id)) : "—"), h("td", {}, d.campaign || "—"),
          h("td", { class: "contacts-hour" }, String(d.contacts_last_hour)), h("td", { class: "completes-hour" }, String(d.completes_last_hour)),
          h("td", {}, String(d.completes_today)), h("td", { class: "refusal-rate" }, pct(d.refusal_rate)),
          h("td", { class: "handle" }, d.avg_handle_seconds ? duration(d.avg_handle_seconds) : "—"), callCell(d)))))),
    ...floor.campaigns.map((c) => h("section", { class: "card campaign", "data-id": c.id },
      h("h2", {}, c.name, " ", h("span", { class: "muted" }, "· " + c.status + " · " + c.questionnaire), " ", h("a", { href: "/supervisor/report/" + c.id }, "report")),
      h("p", {},
        kpi("Completes", c.completes, "completes"), kpi("Partials", c.partials, "partials"), kpi("Refusals", c.refusals, "refusals"),
        kpi("Completes last hour", c.completes_last_hour, "completes-hour"),
        kpi("Remaining sample", c.remaining, "remaining"), kpi("Appointments booked", c.appointments, "appointments"),
        kpi("Appointments due", c.appointments_due, "appointments-due"),
        kpi("In progress", c.claimed, "claimed")),
      h("p", {},
        kpi("RR1", pct(c.rr1), "rr1"), kpi("COOP1", pct(c.coop1), "coop1"), kpi("REF1", pct(c.ref1), "ref1"), kpi("CON1", pct(c.con1), "con1"),
        c.nps ? kpi("NPS (n=" + c.nps.n + ")", score(c.nps.score) + (c.nps.margin_of_error !== null ? " ±" + score(c.nps.margin_of_error) : ""), "nps") : null,
        c.csat ? kpi("CSAT (n=" + c.csat.n + ")", c.csat.score === null ? "n/a" : c.csat.score.toFixed(1) + "%", "csat") : null),
      dialingLine(c.dialing),
      c.forecast ? h("p", { class: "forecast" + (c.forecast.reachable ? "" : " warn"), "data-reachable": String(c.forecast.reachable) }, "Forecast: " + c.forecast.text) : null,
      c.quotas.length ? h("p", {}, "Quotas: ", c.quotas.map((q) => h("span", { class: "quota", "data-quota": q.id },
        q.id + " ", h("meter", { min: 0, max: Math.max(q.target, 1), value: q.filled }), " " + q.filled + "/" + q.target))) : null)));
}

// dialingLine is how the campaign is dialed: its mode and pace, the calls
// up, and the abandonment rate over the rules' windows against the budget.
function dialingLine(d) {
  if (!d) { return null; }
  const ab = (w) => (w.rate === null ? "—" : pct(w.rate)) + " (" + w.abandoned + " of " + w.live +
    (w.amd_false_positives ? ", with ~" + w.amd_false_positives.toFixed(1) + " persons AMD took for machines" : "") + ")";
  const pace = d.mode === "ivr" ? d.calls_per_second + " calls/s, up to " + d.max_lines + " lines"
    : d.mode === "progressive" ? "ratio " + d.ratio.toFixed(1) + " (one line per free interviewer)"
    : d.mode === "predictive" ? "ratio " + d.ratio.toFixed(2) + " (" + d.ringing + " lines ringing for the free interviewers)" : "the interviewer dials";
  return h("p", { class: "dialing", "data-mode": d.mode },
    kpi("Dialing", d.mode, "dial-mode"), " ", h("span", { class: "muted" }, pace), " ",
    kpi("Calls up", d.calls_up, "calls-up"), kpi("Waiting for an interviewer", d.waiting, "waiting"),
    kpi("Abandoned 24 h", ab(d.abandon_24h), "abandon-24h"), kpi("30 d", ab(d.abandon_30d), "abandon-30d"),
    kpi("budget", (100 * d.budget).toFixed(0) + "%", "budget"));
}

function kpi(label, value, cls) {
  return h("span", { class: "kpi " + cls }, label + ": ", h("b", {}, String(value)));
}

function duration(sec) { return Math.floor(sec / 60) + ":" + String(sec % 60).padStart(2, "0"); }

// pick puts an interviewer's case in the action form.
function pick(d) {
  if (!d.case_id) { return; }
  const form = document.getElementById("act");
  form.elements.case_id.value = d.case_id;
  form.elements.action.focus();
}

function addEvent(e) {
  const what = e.text || e.kind + (e.case_id ? " · case " + e.case_id : "");
  events.prepend(h("li", {}, new Date(e.at).toLocaleTimeString() + " " + what));
  while (events.children.length > 50) { events.lastChild.remove(); }
}

setInterval(() => {
  for (const td of document.querySelectorAll("td.ago")) { td.textContent = ago(td.dataset.since); }
}, 1000);

document.getElementById("act").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const fd = new FormData(ev.target);
  const caseId = Number(fd.get("case_id"));
  const action = fd.get("action");
  const arg = String(fd.get("arg") || "").trim();
  const data = { case_id: caseId };
  if (action === "reassign") { data.to = arg; }
  if (action === "set_disposition") { data.code = arg; data.note = String(fd.get("note") || ""); }
  const out = document.getElementById("act-result");
  try {
    await client.send(action, data);
    out.textContent = "Done: " + action.replace("_", " ") + " case " + caseId + ".";
    out.className = "flash";
  } catch (e) {
    out.textContent = e.message || String(e);
    out.className = "error";
  }
  out.scrollIntoView({ block: "nearest" });
});

// The interviewer console: renders the desk the server sends ("state") and
// turns keys and clicks into requests. Keyboard first: number keys pick,
// Enter advances, Backspace or ← backs up (outside text fields), N asks for
// the next case, D dials. The server holds all state; a reload resumes.

import { connect, showStatus, h } from "./ws.js";
import { createPhone } from "./phone.js";

const root = document.getElementById("console");
let desk = null;      // the last state
let picked = null;    // the value picked on the current question
let multi = new Set();
let shownAt = Date.now();
let message = "";     // the last error, shown until the next state
// Requests go out one after another, in the order the interviewer acted: a
// key pressed while the previous request is in flight is queued, not lost;
// the same request twice in a row (a double Enter) is sent once, but each
// back-up is one question back. The page counts requests made and answered
// (data-sent, data-acked on #console) so that a test can wait for them.
let pending = Promise.resolve();
let last = "";
let sent = 0;
let acked = 0;

const client = connect({
  onStatus: showStatus,
  onMessage: (env) => {
    if (env.type === "state") { setDesk(env.data); }
    if (env.type === "call") { phone.onMessage(env); }
    if (env.type === "error" && !env.id) { showError(env.data.message); }
  },
});

// The phone bar (phone.js): started with the first state of a server that
// has a browser phone. A call's end or answer re-draws the dialing screen,
// whose outcome is pre-selected from what the network said.
let phoneCall = null;
const phone = createPhone({ client, bar: document.getElementById("phonebar"), onCall: (c) => {
  const keypadWas = !!(phoneCall && phoneCall.keypad);
  phoneCall = c;
  if (desk && desk.state === "dialing" && c.attempt_id === desk.attempt_id) { render(); }
  // Mixed mode: the question panel says while the respondent is on the keypad.
  if (desk && desk.state === "interviewing" && !!c.keypad !== keypadWas) { render(); }
} });

let lastJSON = "";

function setDesk(d) {
  // Events refresh the screen too: an identical state changes nothing, and
  // must not wipe what the interviewer is typing.
  const json = JSON.stringify(d);
  if (json === lastJSON) { return; }
  lastJSON = json;
  const sameQuestion = desk && desk.question && d.question && desk.question.id === d.question.id && desk.state === d.state;
  const sameScreen = desk && desk.state === d.state && (desk.case && desk.case.id) === (d.case && d.case.id) &&
    (desk.question && desk.question.id) === (d.question && d.question.id);
  const kept = sameScreen ? typed() : null;
  // A case just settled: say how it was recorded.
  if (desk && desk.case && d.state === "idle" && d.last && d.last.case_id === desk.case.id) {
    startAfterCase(d.last, d.next_delay || 0);
  } else if (d.state !== "idle") {
    stopAfterCase();
  }
  desk = d;
  if (d.phone) { phone.start().catch(() => {}); }
  if (d.call && (!phoneCall || d.call.seq > phoneCall.seq)) { phoneCall = d.call; }
  if (!sameQuestion) {
    shownAt = Date.now();
    picked = d.question && d.question.previous !== undefined ? d.question.previous : null;
    multi = new Set(d.question && Array.isArray(d.question.previous) ? d.question.previous : []);
    // The message stays: a refusal's explanation ("your screen has been
    // refreshed") comes with the refresh; the next request clears it.
  }
  render();
  if (kept) { restore(kept); }
}

// typed returns what is in the screen's fields; restore puts it back.
function typed() {
  const out = {};
  for (const el of root.querySelectorAll("input[id], textarea[id], select[id]")) { out[el.id] = el.value; }
  return out;
}

function restore(values) {
  for (const [id, v] of Object.entries(values)) {
    const el = document.getElementById(id);
    if (el && v !== "") { el.value = v; }
  }
}

function request(type, data) {
  const { millis, ...same } = data || {}; // the time on screen differs between two presses
  const key = type + JSON.stringify(same);
  if (key === last && type !== "back") { return pending; }
  stopAfterCase();
  last = key;
  root.dataset.sent = String(++sent);
  pending = pending.then(async () => {
    message = "";
    const el = document.getElementById("problem");
    if (el) { el.textContent = ""; }
    try {
      await client.send(type, data || {});
    } catch (e) {
      showError(e.message || String(e));
    } finally {
      if (last === key) { last = ""; }
      root.dataset.acked = String(++acked);
    }
  });
  return pending;
}

function showError(msg) {
  message = msg;
  const el = document.getElementById("problem");
  if (el) { el.textContent = msg; } else { render(); }
}

// ---- after each case ----

// How the case just settled was recorded, until the next request; the
// next case comes by itself after the server's next_delay seconds unless
// the interviewer stays.
let afterCase = null; // {text, left, timer}

function startAfterCase(last, delay) {
  stopAfterCase();
  const a = { text: "Case " + last.case_id + " " + last.text, left: delay, timer: 0 };
  afterCase = a;
  if (!delay) { return; }
  a.timer = setInterval(() => {
    a.left--;
    const el = document.getElementById("after-case-left");
    if (el) { el.textContent = String(a.left); }
    if (a.left <= 0) {
      clearInterval(a.timer);
      a.timer = 0;
      request("next_case");
    }
  }, 1000);
}

// stopAfterCase ends the countdown; the confirmation stays unless clear.
function stopAfterCase(clear = true) {
  if (afterCase && afterCase.timer) { clearInterval(afterCase.timer); afterCase.timer = 0; }
  if (clear) { afterCase = null; }
}

function count(n, what) { return n + " " + what + (n === 1 ? "" : "s"); }

function caseId() { return desk && desk.case ? desk.case.id : 0; }

// ---- rendering ----

function render() {
  if (!desk) { return; }
  root.replaceChildren();
  root.dataset.state = desk.state;
  if (desk.state === "idle") {
    const reason = h("select", { id: "break-reason", "aria-label": "Reason for the break" },
      (desk.break_reasons || []).map((r) => h("option", { value: r }, r)));
    root.append(h("section", { class: "card", id: "idle" },
      afterCase ? h("p", { class: "flash", id: "after-case", role: "status" }, afterCase.text,
        afterCase.timer ? [" — next case in ", h("span", { id: "after-case-left" }, String(afterCase.left)), " s ",
          h("button", { id: "stay", class: "secondary", onclick: () => { stopAfterCase(false); render(); } }, "Stay here")] : ".") : null,
      desk.dialer ? h("h1", { id: "waiting-call", "data-dialer": desk.dialer }, "Waiting for a call") : h("h1", {}, "Ready for a case"),
      desk.dialer ? h("p", { class: "muted" }, desk.dialer === "predictive"
        ? "The dialer calls for you: the next answered call comes here with its case. Keep the phone bar ready."
        : desk.dialer === "mixed"
          ? "Keypad respondents who ask for an interviewer come here, with their interview so far. Keep the phone bar ready."
          : "The dialer gives you the next case already dialing. Keep the phone bar ready.")
        : h("p", { class: "muted" }, "Press N or the button to get the best case that is due now."),
      h("p", { class: "problem-msg", id: "problem", role: "alert" }, message),
      desk.today ? h("p", { id: "today" }, "Today: " + count(desk.today.contacts, "contact") + ", " + count(desk.today.completes, "complete")) : null,
      h("button", { id: "next-case", onclick: () => request("next_case") }, "Next case (N)"),
      desk.my_appointments ? h("div", { id: "my-appointments" }, h("h2", {}, "My appointments"),
        h("ul", {}, desk.my_appointments.map((a) => h("li", { "data-case": a.case_id }, a.local + " · case " + a.case_id + (a.note ? " · " + a.note : ""))))) : null,
      h("p", { class: "row" }, reason,
        h("button", { id: "take-break", class: "secondary", onclick: () => request("break", { reason: reason.value }) }, "Take a break"))));
    document.getElementById("next-case").focus();
    return;
  }
  if (desk.state === "break" || desk.state === "signed_out") {
    const onBreak = desk.state === "break";
    root.append(h("section", { class: "card", id: onBreak ? "break" : "signed-out" },
      h("h1", {}, onBreak ? "On a break (" + desk.reason + ")" : "Signed out"),
      h("p", { class: "muted" }, onBreak ? "since " + new Date(desk.since).toLocaleTimeString() + "; no case comes to you until you are back." : "Reload the page to sign in again."),
      h("p", { class: "problem-msg", id: "problem", role: "alert" }, message),
      onBreak ? h("button", { id: "resume", onclick: () => request("resume") }, "Back to work") : null));
    const b = document.getElementById("resume");
    if (b) { b.focus(); }
    return;
  }
  root.append(sidePanel(), mainPanel());
  const f = root.querySelector("[autofocus]");
  if (f) { f.focus(); }
}

function sidePanel() {
  const c = desk.case;
  const fields = Object.entries(c.fields || {}).flatMap(([k, v]) => [h("dt", { "data-field": k }, (c.labels && c.labels[k]) || k), h("dd", {}, v || "—")]);
  // A call back booked with the respondent comes first: when, and what was agreed.
  const booked = c.appointments.filter((a) => a.status === "pending");
  return h("aside", { class: "card side", id: "case" },
    booked.length ? h("div", { class: "flash", id: "appointment-booked" }, booked.map((a) =>
      h("p", {}, h("b", {}, "Call back booked: " + a.local), a.note ? " — " + a.note : ""))) : null,
    h("h2", {}, "Case ", h("span", { id: "case-id" }, String(c.id)), " · ", c.campaign),
    c.recovery ? h("div", { class: "flash", id: "recovery", "data-alert": c.recovery.alert_id },
      h("p", {}, h("b", {}, "Call back for alert #" + c.recovery.alert_id + " (" + c.recovery.rule + ", " + c.recovery.severity + ")"),
        c.recovery.context.touchpoint ? " after their " + c.recovery.context.touchpoint + " call" : ""),
      h("p", {}, "They answered: " + Object.entries(c.recovery.answers || {}).map(([q, v]) => q + " " + v).join(", "))) : null,
    h("dl", {},
      h("dt", {}, "Phone"), h("dd", { id: "phone" }, c.phone),
      c.numbers ? [h("dt", {}, "All numbers"), h("dd", { id: "numbers" }, c.numbers.map((n, i) => h("span", { class: "number" + (n.settled_as ? " settled" : "") },
        (i ? ", " : "") + n.phone + (n.label ? " (" + n.label + ")" : "") + (n.settled_as ? " — " + n.settled_as : ""))))] : null,
      h("dt", {}, "Their time"), h("dd", {}, c.local_time + " (" + (c.tz || "UTC") + ")"),
      h("dt", {}, "Calling hours"), h("dd", {}, c.windows),
      h("dt", {}, "Attempts"), h("dd", {}, c.attempts + " of " + c.max_attempts),
      fields),
    h("h3", {}, "Call history"),
    c.history.length === 0 ? h("p", { class: "muted" }, "Never called.") :
      h("table", { class: "grid history" }, h("tbody", {}, c.history.map((a) =>
        h("tr", {}, h("td", {}, new Date(a.at).toLocaleString()), h("td", {}, a.disposition ? a.disposition + " " + a.label : (a.answered ? "answered" : "—")), h("td", {}, a.interviewer), h("td", {}, a.note || ""))))),
    c.notes.length ? [h("h3", {}, "Notes"), h("ul", {}, c.notes.map((n) => h("li", {}, n.author + ": " + n.body)))] : null,
    c.appointments.length ? [h("h3", {}, "Appointments"), h("ul", {}, c.appointments.map((a) => h("li", {}, a.local + " · " + a.status + (a.note ? " · " + a.note : ""))))] : null);
}

function mainPanel() {
  const sec = h("section", { class: "card", id: "main" },
    h("p", {}, h("span", { class: "state", id: "state" }, desk.state.replace("_", " ")), desk.since ? " since " + new Date(desk.since).toLocaleTimeString() : ""),
    h("p", { class: "problem-msg", id: "problem", role: "alert" }, message));
  switch (desk.state) {
    case "on_case":
      sec.append(h("h2", {}, "Introduction"), h("div", { class: "script", id: "intro" }, desk.intro || "(no introduction)"),
        h("div", { class: "actions" },
          h("button", { id: "dial", autofocus: true, onclick: () => request("dial", { case_id: caseId() }) }, "Dial " + desk.case.phone + " (D)")));
      break;
    case "dialing": {
      // With the browser phone, the network's word pre-selects the outcome.
      const c = desk.phone && phoneCall && phoneCall.attempt_id === desk.attempt_id ? phoneCall : null;
      const pre = c && (c.state === "ended" || c.state === "answered") ? c.prefill : "";
      sec.append(h("h2", {}, "Calling " + desk.case.phone + " — what happened?"),
        c ? h("p", { id: "network", "data-state": c.state, "data-prefill": pre }, c.state === "ended" && !c.answered_at ? "The network said: " + c.cause :
          c.state === "answered" ? "Answered — is it the respondent?" : c.state === "ended" ? "The call ended." : "Ringing…") : null,
        desk.consent && c && c.state === "answered" ? h("p", { class: "script consent", id: "consent" }, desk.consent) : null,
        h("div", { class: "script" }, desk.intro || ""),
        h("div", { class: "options", id: "outcomes" }, desk.dial_outcomes.map((o) =>
          h("button", { "data-outcome": o.id, class: o.id === pre ? "prefilled" : null, autofocus: o.id === pre ? true : null,
            onclick: () => request("dial_result", { case_id: caseId(), outcome: o.id }) }, h("kbd", {}, o.key), o.label))));
      break;
    }
    case "interviewing":
      // The introduction stays at hand: a respondent may ask again who calls.
      if (desk.consent) { sec.append(h("p", { class: "script consent", id: "consent" }, desk.consent)); }
      sec.append(h("details", { id: "intro-details" }, h("summary", {}, "Introduction"),
        h("div", { class: "script", id: "intro" }, desk.intro || "(no introduction)")), questionPanel());
      break;
    case "wrap_up":
      sec.append(...wrapUpPanel());
      break;
  }
  return sec;
}

function questionPanel() {
  const q = desk.question;
  if (!q) { return h("p", {}, "…"); }
  const wrap = h("div", { id: "question", "data-id": q.id, "data-type": q.type },
    h("p", { class: "progressline" }, "Question " + q.number + " of " + q.of + " · " + q.id + (q.required ? " · required" : "")),
    h("p", { class: "question", id: "q-text" }, q.text));
  const submit = () => answer();
  switch (q.type) {
    case "yes_no":
      wrap.append(options([{ value: true, key: "1", text: "Yes" }, { value: false, key: "2", text: "No" }]));
      break;
    case "choice":
      wrap.append(options(q.options));
      break;
    case "multi":
      wrap.append(h("div", { class: "options", id: "options" }, q.options.map((o) =>
        h("button", { class: multi.has(o.value) ? "picked" : "", "data-value": o.value, onclick: () => { toggle(o.value); } }, h("kbd", {}, o.key), o.text))));
      break;
    case "scale":
    case "nps": {
      const opts = [];
      for (let v = q.min; v <= q.max; v++) {
        const label = q.labels && q.labels[v] ? " " + q.labels[v] : "";
        opts.push({ value: v, key: String(v), text: String(v) + label });
      }
      if (q.type === "scale" && q.max <= 9) {
        wrap.append(options(opts));
      } else {
        wrap.append(h("div", { class: "options" }, opts.map((o) => h("button", { "data-value": o.value, class: picked === o.value ? "picked" : "", onclick: () => { picked = o.value; answer(o.value); } }, o.text))),
          h("label", {}, "Score ", h("input", { id: "value", type: "number", min: q.min, max: q.max, value: picked ?? "", autofocus: true })));
      }
      break;
    }
    case "number":
      wrap.append(h("label", {}, "Number ", h("input", { id: "value", type: "number", min: q.min, max: q.max, value: picked ?? "", autofocus: true })));
      break;
    case "text":
    case "recording":
      wrap.append(h("label", {}, "Answer (Enter to continue, Shift+Enter for a new line)", h("textarea", { id: "value", rows: 3, cols: 70, autofocus: true }, picked ?? "")));
      break;
    case "statement":
      break;
  }
  const up = desk.phone && phoneCall && phoneCall.state === "answered" && phoneCall.attempt_id === desk.attempt_id;
  if (up && phoneCall.keypad) {
    wrap.append(h("p", { class: "flash", id: "on-keypad", role: "status" },
      "The respondent is answering on the keypad; you do not hear each other until they are handed back."));
  } else if (up && q.keypad) {
    wrap.append(h("p", { class: "row" }, h("button", { id: "to-keypad", class: "secondary", "data-marked": q.keypad === "marked" ? "1" : null,
      onclick: () => request("call_keypad", { case_id: caseId(), question: q.id }) },
    q.keypad === "marked" ? "Hand to the keypad (sensitive)" : "Hand to the keypad")));
  }
  wrap.append(h("div", { class: "actions" },
    h("button", { id: "next", onclick: submit, autofocus: !["number", "text", "recording", "nps"].includes(q.type) }, q.type === "statement" ? "Continue (Enter)" : "Next (Enter)"),
    q.can_back ? h("button", { id: "back", class: "secondary", onclick: () => request("back", { case_id: caseId() }) }, "Back (←)") : null,
    !q.required ? h("button", { id: "skip", class: "secondary", onclick: () => request("skip", { case_id: caseId(), question: q.id }) }, "Skip / refused") : null,
    h("button", { id: "end-call", class: "danger", onclick: () => request("end_call", { case_id: caseId() }) }, "End call")));
  return wrap;
}

function options(list) {
  return h("div", { class: "options", id: "options" }, list.map((o) =>
    h("button", { class: picked === o.value ? "picked" : "", "data-value": String(o.value), onclick: () => { picked = o.value; render(); } },
      h("kbd", {}, o.key), o.text)));
}

function toggle(v) {
  if (multi.has(v)) { multi.delete(v); } else { multi.add(v); }
  render();
}

// answer sends the current question's answer: clicked, when a button gave
// it, else what the screen holds.
function answer(clicked) {
  const q = desk.question;
  let value = picked;
  const input = document.getElementById("value");
  if (q.type === "multi") {
    value = q.options.map((o) => o.value).filter((v) => multi.has(v));
  } else if (clicked !== undefined) {
    value = clicked; // a clicked score wins over a number typed in the box
  } else if (q.type === "number" || q.type === "nps" || (q.type === "scale" && input)) {
    if (input) { value = input.value === "" ? null : Number(input.value); } // a cleared box is no answer
    if (value === null || value === "" || Number.isNaN(value)) { showError("Type a number first."); return; }
  } else if (q.type === "text" || q.type === "recording") {
    value = input ? input.value : "";
  } else if (q.type === "statement") {
    value = null;
  } else if (value === null) {
    showError("Pick an answer first (number keys).");
    return;
  }
  request("answer", { case_id: caseId(), question: q.id, value, millis: Date.now() - shownAt });
}

function wrapUpPanel() {
  const complete = desk.complete;
  // The codes that fit what happened come first, the suggested one on top;
  // the rest of the catalog is under "Other…".
  const fitting = desk.fitting || [];
  const opt = (d) => h("option", { value: d.code, selected: d.code === desk.suggested }, d.code + " " + d.label + (d.requires_note ? " (note required)" : ""));
  const select = h("select", { name: "code", id: "code" },
    h("option", { value: "" }, "— pick a disposition —"),
    h("optgroup", { label: "Fits what happened", id: "fitting" }, fitting.map((c) => desk.dispositions.find((d) => d.code === c)).filter(Boolean).map(opt)),
    h("optgroup", { label: "Other…", id: "other-codes" }, desk.dispositions.filter((d) => !fitting.includes(d.code)).map(opt)));
  const form = h("form", { id: "wrapup-form", onsubmit: (ev) => {
    ev.preventDefault();
    const fd = new FormData(form);
    const appt = fd.get("appointment") || "";
    request("wrap_up", { case_id: caseId(), code: appt ? "" : fd.get("code"), appointment: appt, note: fd.get("note") || "" });
  } },
    complete ? h("p", { class: "script", id: "thanks" }, desk.thanks || "Interview complete.") :
      h("p", {}, "So far the interview counts as ", h("strong", {}, ({ complete: "complete", partial: "a partial", breakoff: "a break-off" })[desk.outcome] || "not started"), "."),
    h("label", {}, "Disposition ", select),
    h("p", { class: "muted" }, "— or —"),
    h("label", {}, "Call back at (respondent's time, " + (desk.case.tz || "UTC") + ") ", h("input", { type: "datetime-local", name: "appointment", id: "appointment" })),
    h("label", {}, "Note ", h("textarea", { name: "note", id: "note", rows: 2, cols: 60 })),
    h("div", { class: "actions" }, h("button", { type: "submit", id: "submit-wrapup", autofocus: true }, "Finish case (Enter)"),
      // The respondent asked never to be called again: a refusal (2.11
      // unless another refusal code is picked) and the number goes on the
      // campaign's do-not-call list.
      h("button", { type: "button", id: "never-call", onclick: () => {
        if (!window.confirm("Never call " + (desk.case.phone || "this number") + " again for this campaign? The case closes as a refusal.")) { return; }
        const fd = new FormData(form);
        const code = ["2.11", "2.111", "2.112"].includes(fd.get("code")) ? fd.get("code") : "";
        request("wrap_up", { case_id: caseId(), code: code, never_call: true, note: fd.get("note") || "" });
      } }, "Never call again")));
  return [h("h2", {}, "Wrap-up"), form];
}

// ---- keyboard ----

document.addEventListener("keydown", (ev) => {
  if (!desk || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
  const t = ev.target;
  const typing = t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && t.type !== "checkbox") || t.tagName === "SELECT");
  if (desk.state === "idle" && (ev.key === "n" || ev.key === "N") && !typing) { ev.preventDefault(); request("next_case"); return; }
  if (desk.state === "on_case" && (ev.key === "d" || ev.key === "D") && !typing) { ev.preventDefault(); request("dial", { case_id: caseId() }); return; }
  if (desk.state === "dialing" && /^[1-9]$/.test(ev.key) && !typing) {
    const o = desk.dial_outcomes.find((x) => x.key === ev.key);
    if (o) { ev.preventDefault(); request("dial_result", { case_id: caseId(), outcome: o.id }); }
    return;
  }
  if (desk.state !== "interviewing" || !desk.question) { return; }
  const q = desk.question;
  if (ev.key === "Enter" && !(t.tagName === "TEXTAREA" && ev.shiftKey)) {
    if (t.tagName === "BUTTON" && t.id !== "next") { return; } // let the focused button act
    ev.preventDefault();
    answer();
    return;
  }
  // A held Backspace clearing a field repeats: only a fresh press backs up.
  if ((ev.key === "Backspace" || ev.key === "ArrowLeft") && !ev.repeat && (!typing || t.value === "") && q.can_back) {
    ev.preventDefault();
    request("back", { case_id: caseId() });
    return;
  }
  if (!typing && /^[0-9]$/.test(ev.key)) {
    if (q.type === "yes_no") {
      if (ev.key === "1") { picked = true; } else if (ev.key === "2") { picked = false; } else { return; }
      ev.preventDefault(); render(); return;
    }
    if (q.type === "choice" || q.type === "multi") {
      const o = q.options.find((x) => x.key === ev.key);
      if (!o) { return; }
      ev.preventDefault();
      if (q.type === "multi") { toggle(o.value); } else { picked = o.value; render(); }
      return;
    }
    if (q.type === "scale" && q.max <= 9) {
      const v = Number(ev.key);
      if (v >= q.min && v <= q.max) { ev.preventDefault(); picked = v; render(); }
    }
  }
});

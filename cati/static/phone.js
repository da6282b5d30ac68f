// The browser phone: one RTCPeerConnection per console user, kept across
// calls, whose audio the server joins to each call (ivr/phone). Signalling
// travels on the console WebSocket: "rtc_offer" → "rtc_answer"; the
// server's "call" envelopes say where the call is. The bar lives in its own
// element (#phonebar), outside what the script's screen re-renders, and the
// <audio> element playing the far end is made once and never replaced.
//
// For tests the bar exposes what it shows: data-status (off, connecting,
// ready, no-mic, failed), data-call (dialing, ringing, answered, ended),
// data-seq (the last call envelope's seq), data-outcome, data-muted,
// data-held and data-monitor.

import { h } from "./ws.js";

export function createPhone({ client, bar, supervisor = false, onCall = () => {} }) {
  const audio = h("audio", { id: "phone-audio", autoplay: true });
  const status = h("span", { class: "phone-status", id: "phone-status" }, "Phone: off");
  const controls = h("span", { class: "phone-controls", id: "phone-controls" });
  bar.replaceChildren(audio, status, controls);
  let ice = [];
  try { ice = JSON.parse(bar.dataset.ice || "[]") || []; } catch { ice = []; }
  let pc = null;
  let stream = null;
  let call = null;      // the last "call" envelope's data about our own call
  let starting = null;
  let timer = null;

  function setStatus(s, text) {
    bar.dataset.status = s;
    status.textContent = "Phone: " + text;
  }
  setStatus("off", "off");

  // start asks for the microphone once and connects the peer.
  function start() {
    if (!starting) {
      starting = connectPeer().catch((e) => {
        starting = null;
        setStatus(e && e.name === "NotAllowedError" ? "no-mic" : "failed",
          e && e.name === "NotAllowedError" ? "microphone blocked — allow it in the address bar and reload" : "not connected (" + (e.message || e) + ")");
        throw e;
      });
    }
    return starting;
  }

  async function connectPeer() {
    setStatus("connecting", "connecting…");
    if (!stream) {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, ...testAudio() } });
    }
    if (pc) { pc.close(); }
    const p = new RTCPeerConnection({ iceServers: ice });
    pc = p;
    for (const t of stream.getAudioTracks()) { p.addTrack(t, stream); }
    p.ontrack = (ev) => {
      audio.srcObject = ev.streams[0] || new MediaStream([ev.track]);
      audio.play().catch(() => {});
    };
    p.onconnectionstatechange = () => {
      if (pc !== p) { return; }
      if (p.connectionState === "connected") { setStatus("ready", "ready"); }
      if (p.connectionState === "failed") {
        // A network change: connect again; the server gives the call back.
        setStatus("connecting", "reconnecting…");
        starting = null;
        setTimeout(() => start().catch(() => {}), 1000);
      }
    };
    await p.setLocalDescription(await p.createOffer());
    await gathered(p);
    const env = await client.send("rtc_offer", { sdp: p.localDescription.sdp });
    await p.setRemoteDescription({ type: "answer", sdp: env.data.sdp });
    return p;
  }

  // testAudio turns processing off when the page is driven by a test with
  // a fake microphone (?rawaudio=1): a steady tone is otherwise attenuated.
  function testAudio() {
    return new URLSearchParams(location.search).has("rawaudio") ? { echoCancellation: false, noiseSuppression: false, autoGainControl: false } : {};
  }

  // gathered waits for ICE gathering (host candidates come at once; a
  // TURN server may take longer: at most 3 s).
  function gathered(p) {
    if (p.iceGatheringState === "complete") { return Promise.resolve(); }
    return new Promise((resolve) => {
      const done = () => { if (p.iceGatheringState === "complete") { resolve(); } };
      p.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, 3000);
    });
  }

  // onMessage takes the "call" envelopes.
  function onMessage(env) {
    if (env.type !== "call") { return; }
    const c = env.data;
    if (Number(bar.dataset.seq || 0) >= c.seq) { return; }
    bar.dataset.seq = String(c.seq);
    onCall(c);
    if (supervisor) { return; }
    call = c;
    render();
  }

  const label = { dialing: "Dialing…", ringing: "Ringing…", answered: "On call", ended: "Call ended" };

  function render() {
    clearInterval(timer);
    if (!call) { controls.replaceChildren(); return; }
    bar.dataset.call = call.state;
    bar.dataset.outcome = call.outcome || "";
    bar.dataset.muted = String(call.muted);
    bar.dataset.held = String(call.held);
    bar.dataset.keypad = String(!!call.keypad);
    bar.dataset.monitor = call.monitor || "";
    const clock = h("span", { class: "phone-timer", id: "phone-timer" });
    const tick = () => {
      const from = call.answered_at || call.started_at;
      const to = call.ended_at ? new Date(call.ended_at).getTime() : Date.now();
      const s = Math.max(0, Math.floor((to - new Date(from).getTime()) / 1000));
      clock.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    };
    tick();
    const live = call.state !== "ended";
    if (live) { timer = setInterval(tick, 1000); }
    let what = label[call.state] || call.state;
    if (call.state === "ended") {
      what = call.answered_at ? "Call ended" + (call.hung_up_by ? " (" + call.hung_up_by + " hung up)" : "") : "Not answered: " + (call.cause || call.outcome);
    }
    const parts = [h("b", { id: "phone-call", "data-state": call.state }, what), " ", clock];
    if (call.recording && live) { parts.push(" ", h("span", { class: "rec", id: "phone-rec" }, "● recording")); }
    if (call.monitor) { parts.push(" ", h("span", { class: "monitored", id: "phone-monitor" }, "supervisor " + (call.monitor === "listen" ? "listening" : call.monitor === "whisper" ? "whispering" : "on the call"))); }
    if (live) {
      const up = call.state === "answered";
      parts.push(
        h("button", { id: "phone-mute", disabled: !up, onclick: () => send("call_mute", { on: !call.muted }) }, call.muted ? "Unmute" : "Mute"),
        h("button", { id: "phone-hold", disabled: !up, onclick: () => send("call_hold", { on: !call.held }) }, call.held ? "Resume" : "Hold"),
        h("button", { id: "phone-hangup", class: "danger", onclick: () => send("call_hangup", {}) }, "Hang up"),
        up ? keypad() : null);
    }
    controls.replaceChildren(...parts);
  }

  function keypad() {
    // The keypad stays open across the bar's redraws.
    const was = document.getElementById("phone-keypad");
    return h("details", { class: "keypad", id: "phone-keypad", open: was ? was.open : null }, h("summary", {}, "Keypad"),
      h("div", { class: "keys" }, [..."123456789*0#"].map((k) => h("button", { "data-key": k, onclick: () => send("call_digits", { digits: k }) }, k))));
  }

  async function send(type, data) {
    try {
      await client.send(type, data);
    } catch (e) {
      status.textContent = "Phone: " + (e.message || e);
    }
  }

  return { start, onMessage, monitor: (userId, mode) => client.send("monitor", { user_id: userId, mode }), get call() { return call; } };
}

package webrtc_test

// A real browser: headless Chromium (Debian's, driven by chromedp) opens a
// page that takes its fake microphone (a 440 Hz tone from a WAV made
// here), offers, posts the offer to an httptest server that answers with
// the Server, and listens to what comes back. The server's peer must hear
// 440 Hz, and the page must hear the 1 kHz the server writes.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/canvass/canvass/ivr/webrtc"
)

// chromiumPath is Debian's Chromium (`make deps` installs it).
const chromiumPath = "/usr/bin/chromium"

const page = `<!doctype html><meta charset=utf-8><title>canvass webrtc test</title>
<script type=module>
window.result = {state: "starting"};
try {
  const mic = await navigator.mediaDevices.getUserMedia({audio: {echoCancellation: false, noiseSuppression: false, autoGainControl: false}});
  const pc = new RTCPeerConnection({iceServers: await (await fetch("/ice")).json()});
  window.pc = pc;
  for (const t of mic.getTracks()) pc.addTrack(t, mic);
  const remote = new Promise(r => pc.ontrack = e => r(e.streams[0] || new MediaStream([e.track])));
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(r => {
    if (pc.iceGatheringState === "complete") r();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r();
  });
  const res = await fetch("/offer", {method: "POST", body: JSON.stringify(pc.localDescription)});
  if (!res.ok) throw new Error("offer: " + res.status + " " + await res.text());
  await pc.setRemoteDescription({type: "answer", sdp: await res.text()});
  const stream = await remote;
  // Chromium feeds a remote stream to Web Audio only while a media
  // element plays it.
  const el = new Audio();
  el.muted = true;
  el.srcObject = stream;
  await el.play();
  const ac = new AudioContext();
  await ac.resume();
  const an = ac.createAnalyser();
  an.fftSize = 4096;
  an.smoothingTimeConstant = 0;
  ac.createMediaStreamSource(stream).connect(an);
  window.peak = () => {
    const d = new Float32Array(an.frequencyBinCount);
    an.getFloatFrequencyData(d);
    let m = 1;
    for (let i = 2; i < d.length; i++) if (d[i] > d[m]) m = i;
    return {hz: m * ac.sampleRate / an.fftSize, db: d[m]};
  };
  window.result.state = "answered";
} catch (e) {
  window.result.state = "error: " + e;
}
</script>`

// toneWAV writes one second of a 440 Hz tone, 48 kHz mono 16-bit, at
// amplitude 8000: Chromium's fake microphone loops it.
func toneWAV(t *testing.T) string {
	const rate, n = 48000, 48000
	data := make([]byte, 44+2*n)
	copy(data, "RIFF")
	binary.LittleEndian.PutUint32(data[4:], uint32(36+2*n))
	copy(data[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(data[16:], 16)
	binary.LittleEndian.PutUint16(data[20:], 1) // PCM
	binary.LittleEndian.PutUint16(data[22:], 1) // mono
	binary.LittleEndian.PutUint32(data[24:], rate)
	binary.LittleEndian.PutUint32(data[28:], 2*rate)
	binary.LittleEndian.PutUint16(data[32:], 2)
	binary.LittleEndian.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	binary.LittleEndian.PutUint32(data[40:], 2*n)
	for i := range n {
		v := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate))
		binary.LittleEndian.PutUint16(data[44+2*i:], uint16(v))
	}
	path := filepath.Join(t.TempDir(), "tone.wav")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(path) // a path with /../ gives silence
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func TestChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("%s is not installed (Debian's chromium): %v", chromiumPath, err)
	}
	srv := newServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	peers := make(chan *webrtc.Peer, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})
	mux.HandleFunc("GET /ice", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(srv.ICEServers())
	})
	mux.HandleFunc("POST /offer", func(w http.ResponseWriter, r *http.Request) {
		offer, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p, answer, err := srv.Answer(r.Context(), string(offer))
		if err != nil {
			t.Errorf("answer: %v\n%s", err, offer)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		t.Cleanup(func() { p.Close() })
		peers <- p
		io.WriteString(w, answer)
	})
	web := httptest.NewServer(mux)
	defer web.Close()

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", toneWAV(t)),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browser, chromedp.Navigate(web.URL+"/")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	state := func() string {
		s, err := chromedp.Run(browser, chromedp.Evaluate[string](`window.result ? window.result.state : "no page"`))
		if err != nil {
			return err.Error()
		}
		return s
	}

	var peer *webrtc.Peer
	select {
	case peer = <-peers:
	case <-ctx.Done():
		t.Fatalf("no offer came: page %s", state())
	}
	go play(ctx, peer)

	// The server hears the page's microphone: wait for a half second
	// window that is the tone (the first ones may be the stream's start).
	var last []int16
	for deadline := time.Now().Add(20 * time.Second); ; {
		got, err := hear(ctx, peer, 4000)
		if err != nil {
			t.Fatalf("read: %v; page %s; %+v", err, state(), peer.Stats())
		}
		last = got
		if toneShare(got, 440) > 0.8 || time.Now().After(deadline) {
			break
		}
	}
	checkTone(t, "server from chromium", last, 440, 1000)

	// The page hears the server's 1 kHz.
	const heard1k = `(() => { const p = window.peak && window.peak(); return !!p && Math.abs(p.hz - 1000) < 15 && p.db > -40; })()`
	if _, err := chromedp.Run(browser, chromedp.Poll[bool](heard1k, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		peak, _ := chromedp.Run(browser, chromedp.Evaluate[string](`JSON.stringify(window.peak && window.peak())`))
		t.Fatalf("the page did not hear 1 kHz: %v; peak %s; page %s; %+v", err, peak, state(), peer.Stats())
	}
	codec, err := chromedp.Run(browser, chromedp.Evaluate[string](`(async () => {
		const stats = await window.pc.getStats();
		for (const s of stats.values()) if (s.type === "inbound-rtp" && s.kind === "audio") return stats.get(s.codecId).mimeType;
		return "none";
	})()`, chromedp.EvalAwaitPromise))
	if err != nil || codec != "audio/PCMU" {
		t.Errorf("the page receives %q (%v), want audio/PCMU", codec, err)
	}

	// The page closes its connection: the peer ends.
	if _, err := chromedp.Run(browser, chromedp.Evaluate[bool](`window.pc.close(), true`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-peer.Done():
	case <-ctx.Done():
		t.Fatalf("the page closed, the peer did not end: %+v", peer.Stats())
	}
}

package webrtc_test

// What a browser, or anything posing as one, may send instead of a usable
// offer: each is refused with the error that says why, and nothing is
// left behind.

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	pion "github.com/pion/webrtc/v4"

	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/webrtc"
)

var (
	opus = pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}
	pcma = pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8}
	vp8  = pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}
)

func TestBadOffers(t *testing.T) {
	srv := newServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	good := newClient(t).offer(t)
	peer, answer, err := srv.Answer(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	peer.Close()

	for name, tc := range map[string]struct {
		offer string
		want  error
	}{
		"empty":                  {"", webrtc.ErrBadOffer},
		"garbage":                {"hello, I am a browser", webrtc.ErrBadOffer},
		"binary":                 {"\x00\xff\x10v=0\r\n", webrtc.ErrBadOffer},
		"truncated":              {good[:len(good)/3], webrtc.ErrBadOffer},
		"an answer":              {answer, webrtc.ErrBadOffer},
		"json answer":            {`{"type":"answer","sdp":` + quote(good) + `}`, webrtc.ErrBadOffer},
		"bad json":               {`{"type":"offer",`, webrtc.ErrBadOffer},
		"no setup":               {strings.ReplaceAll(good, "a=setup:actpass\r\n", ""), webrtc.ErrBadOffer},
		"no fingerprint":         {dropLines(good, "a=fingerprint:"), webrtc.ErrBadOffer},
		"video only":             {newClientWith(t, pion.RTPCodecTypeVideo, pion.MimeTypeVP8, vp8).offer(t), webrtc.ErrBadOffer},
		"opus only":              {newClientWith(t, pion.RTPCodecTypeAudio, pion.MimeTypeOpus, opus).offer(t), webrtc.ErrNoCodec},
		"audio port 0 (refused)": {strings.Replace(good, "m=audio 9 ", "m=audio 0 ", 1), webrtc.ErrBadOffer},
	} {
		t.Run(name, func(t *testing.T) {
			p, a, err := srv.Answer(ctx, tc.offer)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if p != nil || a != "" {
				t.Errorf("a refused offer gave a peer or an answer: %v %q", p, a)
			}
		})
	}

	// The same offer as JSON, as RTCSessionDescription.toJSON() gives it,
	// is answered.
	p, _, err := srv.Answer(ctx, `{"type":"offer","sdp":`+quote(newClient(t).offer(t))+`}`)
	if err != nil {
		t.Fatalf("JSON offer: %v", err)
	}
	p.Close()
}

// A browser offering only PCMA gets PCMA, both ways.
func TestPCMAOnly(t *testing.T) {
	srv := newServer(t)
	c := newClientWith(t, pion.RTPCodecTypeAudio, pion.MimeTypePCMA, opus, pcma)
	peer, answer := c.connect(t, srv)
	if peer.Codec() != media.PCMA || !strings.Contains(answer, "PCMA/8000") || strings.Contains(answer, "PCMU") {
		t.Fatalf("codec %s, answer:\n%s", peer.Codec().Name(), answer)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f := media.Frame{Codec: media.PCMU, Payload: make([]byte, media.SamplesPerPacket)}
	pcm := make([]int16, media.SamplesPerPacket)
	sine(pcm, 1000, 8000, 0)
	media.PCMU.Encode(f.Payload, pcm)
	// Write until the client hears a packet: the connection comes up
	// meanwhile, and frames written before it are dropped.
	var mime string
	for mime == "" {
		if err := peer.WriteFrame(ctx, f); err != nil {
			t.Fatal(err)
		}
		select {
		case mime = <-c.codec:
		case <-ctx.Done():
			t.Fatalf("the client heard nothing: %+v", peer.Stats())
		case <-time.After(media.PacketInterval): // the pace of a writer
		}
	}
	if mime != pion.MimeTypePCMA {
		t.Errorf("the client received %s, want PCMA", mime)
	}
}

// FuzzAnswer: no input makes Answer panic or hang; what it refuses it
// refuses with ErrBadOffer or ErrNoCodec, and what it accepts is a peer
// with an answer.
func FuzzAnswer(f *testing.F) {
	o := webrtc.DefaultOptions()
	o.Listen = "127.0.0.1:0"
	srv, err := webrtc.New(o, quietLogger())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	f.Add(fuzzOffer)
	f.Add(strings.Replace(fuzzOffer, "111 0", "111", 1))
	f.Add(strings.Replace(fuzzOffer, "a=setup:actpass", "a=setup:active", 1))
	f.Add(`{"type":"offer","sdp":"v=0\r\n"}`)
	f.Add("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n")
	f.Fuzz(func(t *testing.T, offer string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// A hang is a failure the fuzzer can keep: crash with the stacks.
		hung := time.AfterFunc(15*time.Second, func() { panic("Answer hangs on " + strconv.Quote(offer)) })
		defer hung.Stop()
		start := time.Now()
		p, answer, err := srv.Answer(ctx, offer)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Answer took %s: %v", d, err)
		}
		if err != nil {
			if !errors.Is(err, webrtc.ErrBadOffer) && !errors.Is(err, webrtc.ErrNoCodec) {
				t.Fatalf("error %v is neither ErrBadOffer nor ErrNoCodec", err)
			}
			return
		}
		if !strings.HasPrefix(answer, "v=0") || p.Codec() != media.PCMU && p.Codec() != media.PCMA {
			t.Fatalf("answer %q, codec %v", answer, p.Codec())
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", `\r`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func dropLines(sdp, prefix string) string {
	var out []string
	for _, l := range strings.SplitAfter(sdp, "\n") {
		if !strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// fuzzOffer is a Chrome-like offer (pion's, Opus and PCMU, one host
// candidate) as a seed.
const fuzzOffer = "v=0\r\n" +
	"o=- 4215765485376381498 1733500000 IN IP4 0.0.0.0\r\n" +
	"s=-\r\n" +
	"t=0 0\r\n" +
	"a=msid-semantic:WMS*\r\n" +
	"a=fingerprint:sha-256 3C:4A:AB:F1:E1:28:4B:8A:53:5D:8B:16:0C:2A:7C:5B:D0:6A:18:1B:F5:2C:AA:F8:9E:86:54:3B:72:49:27:8A\r\n" +
	"a=ice-lite\r\n" +
	"a=group:BUNDLE 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=setup:actpass\r\n" +
	"a=mid:0\r\n" +
	"a=ice-ufrag:abcdEFGHijklMNOP\r\n" +
	"a=ice-pwd:abcdefghijklmnopqrstuvwxyzABCDEF\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtcp-rsize\r\n" +
	"a=rtpmap:111 opus/48000/2\r\n" +
	"a=fmtp:111 minptime=10;useinbandfec=1\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=ssrc:1234 cname:browser\r\n" +
	"a=msid:browser mic\r\n" +
	"a=sendrecv\r\n" +
	"a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n" +
	"a=end-of-candidates\r\n"

// SDP negotiation: what is accepted, what is 488, what is 400.

package sdp

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	psdp "github.com/pion/sdp/v3"

	"github.com/canvass/canvass/ivr/media"
)

// offer is an SDP as baresip 1.0 sends it, with its m= and attribute lines
// replaced.
func offer(m string, attrs ...string) []byte {
	s := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" + m + "\r\n"
	for _, a := range attrs {
		s += a + "\r\n"
	}
	return []byte(s)
}

func TestNegotiate(t *testing.T) {
	addr := netip.MustParseAddrPort("127.0.0.1:20000")
	tests := []struct {
		name    string
		body    []byte
		events  bool
		prefer  []media.Codec
		want    Stream
		wantErr error
	}{
		{"PCMU only with events (baresip)", offer("m=audio 20000 RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=sendrecv"), true, nil,
			Stream{Addr: addr, Codec: media.PCMU, CodecPT: 0, EventPT: 101, Direction: SendRecv}, nil},
		{"PCMA only", offer("m=audio 20000 RTP/AVP 8"), true, nil,
			Stream{Addr: addr, Codec: media.PCMA, CodecPT: 8, EventPT: -1, Direction: SendRecv}, nil},
		{"both: the offer's order wins", offer("m=audio 20000 RTP/AVP 8 0 101", "a=rtpmap:101 telephone-event/8000"), true, nil,
			Stream{Addr: addr, Codec: media.PCMA, CodecPT: 8, EventPT: 101, Direction: SendRecv}, nil},
		{"both: the codec in use wins on a re-INVITE", offer("m=audio 20000 RTP/AVP 8 0"), true, []media.Codec{media.PCMU},
			Stream{Addr: addr, Codec: media.PCMU, CodecPT: 0, EventPT: -1, Direction: SendRecv}, nil},
		{"telephone-event not accepted", offer("m=audio 20000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000"), false, nil,
			Stream{Addr: addr, Codec: media.PCMU, CodecPT: 0, EventPT: -1, Direction: SendRecv}, nil},
		{"telephone-event at another rate is not ours", offer("m=audio 20000 RTP/AVP 0 100", "a=rtpmap:100 telephone-event/16000"), true, nil,
			Stream{Addr: addr, Codec: media.PCMU, CodecPT: 0, EventPT: -1, Direction: SendRecv}, nil},
		{"dynamic payload type for PCMU", offer("m=audio 20000 RTP/AVP 96", "a=rtpmap:96 PCMU/8000"), true, nil,
			Stream{Addr: addr, Codec: media.PCMU, CodecPT: 96, EventPT: -1, Direction: SendRecv}, nil},
		{"opus and G.722 first", offer("m=audio 20000 RTP/AVP 111 9 0", "a=rtpmap:111 opus/48000/2", "a=rtpmap:9 G722/8000"), true, nil,
			Stream{Addr: addr, Codec: media.PCMU, CodecPT: 0, EventPT: -1, Direction: SendRecv}, nil},
		{"hold with sendonly", offer("m=audio 20000 RTP/AVP 0", "a=sendonly"), true, nil,
			Stream{Addr: addr, Codec: media.PCMU, CodecPT: 0, EventPT: -1, Direction: SendOnly}, nil},
		{"session-level inactive", []byte("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\na=inactive\r\nm=audio 20000 RTP/AVP 0\r\n"), true, nil,
			Stream{Addr: addr, Codec: media.PCMU, CodecPT: 0, EventPT: -1, Direction: Inactive}, nil},
		{"old-style hold 0.0.0.0", []byte(strings.Replace(string(offer("m=audio 20000 RTP/AVP 0")), "c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0", 1)), true, nil,
			Stream{Addr: netip.MustParseAddrPort("0.0.0.0:20000"), Codec: media.PCMU, CodecPT: 0, EventPT: -1, Direction: SendRecv}, nil},
		{"IPv6", []byte("v=0\r\no=- 1 2 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\n"), true, nil,
			Stream{Addr: netip.MustParseAddrPort("[::1]:20000"), Codec: media.PCMU, CodecPT: 0, EventPT: -1, Direction: SendRecv}, nil},
		{"media-level connection wins", offer("m=audio 20000 RTP/AVP 0", "c=IN IP4 10.1.2.3"), true, nil,
			Stream{Addr: netip.MustParseAddrPort("10.1.2.3:20000"), Codec: media.PCMU, CodecPT: 0, EventPT: -1, Direction: SendRecv}, nil},
		{"rejected first stream, usable second", offer("m=audio 0 RTP/AVP 0\r\nm=audio 20000 RTP/AVP 8"), true, nil,
			Stream{Addr: addr, Codec: media.PCMA, CodecPT: 8, EventPT: -1, Direction: SendRecv}, nil},

		{"no common codec", offer("m=audio 20000 RTP/AVP 9 18", "a=rtpmap:9 G722/8000", "a=rtpmap:18 G729/8000"), true, nil, Stream{}, ErrNoCommonCodec},
		{"only telephone-event", offer("m=audio 20000 RTP/AVP 101", "a=rtpmap:101 telephone-event/8000"), true, nil, Stream{}, ErrNoCommonCodec},
		{"SRTP", offer("m=audio 20000 RTP/SAVP 0"), true, nil, Stream{}, ErrNoCommonCodec},
		{"video only", offer("m=video 20000 RTP/AVP 96"), true, nil, Stream{}, ErrNoCommonCodec},
		{"PCMU at 16 kHz is not G.711", offer("m=audio 20000 RTP/AVP 96", "a=rtpmap:96 PCMU/16000"), true, nil, Stream{}, ErrNoCommonCodec},
		{"garbage", []byte("hello, I am not SDP"), true, nil, Stream{}, ErrMalformed},
		{"empty", nil, true, nil, Stream{}, ErrMalformed},
		{"no connection line", []byte("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\n"), true, nil, Stream{}, ErrMalformed},
		{"host name in connection line", []byte(strings.Replace(string(offer("m=audio 20000 RTP/AVP 0")), "c=IN IP4 127.0.0.1", "c=IN IP4 pbx.example.com", 1)), true, nil, Stream{}, ErrMalformed},
		{"payload type out of range", offer("m=audio 20000 RTP/AVP 0 300"), true, nil, Stream{}, ErrMalformed},
		{"port out of range", offer("m=audio 70000 RTP/AVP 0"), true, nil, Stream{}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Negotiate(tt.body, tt.events, tt.prefer...)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.Lines, got.Index = nil, 0 // TestAnswerMirrorsOffer
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("stream\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// An offer of video and audio (a softphone with a camera) gets an answer
// with the same m= lines in the same order: the video refused with port 0,
// the audio answered (RFC 3264 §6). A later offer keeps them.
func TestAnswerMirrorsOffer(t *testing.T) {
	body := offer("m=video 30000 RTP/AVP 96", "a=rtpmap:96 H264/90000",
		"m=audio 20000 RTP/SAVP 0",
		"m=audio 20002 RTP/AVPF 8 101", "a=rtpmap:101 telephone-event/8000")
	st, err := Negotiate(body, true)
	if err != nil {
		t.Fatal(err)
	}
	if st.Index != 2 || st.Codec != media.PCMA || st.Addr.Port() != 20002 {
		t.Fatalf("took m= line %d (%s, port %d), want the third (PCMA, 20002)", st.Index+1, st.Codec.Name(), st.Addr.Port())
	}
	d := Description{Addr: netip.MustParseAddrPort("127.0.0.1:40000"), SessionID: 1, Version: 1, Codecs: []media.Codec{st.Codec},
		CodecPTs: []uint8{st.CodecPT}, EventPT: st.EventPT, Direction: SendRecv, Lines: st.Lines, Index: st.Index}
	var answer psdp.SessionDescription
	if err := answer.Unmarshal(d.Marshal()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range answer.MediaDescriptions {
		got = append(got, fmt.Sprintf("%s %d %s %v", m.MediaName.Media, m.MediaName.Port.Value, strings.Join(m.MediaName.Protos, "/"), m.MediaName.Formats))
	}
	want := []string{"video 0 RTP/AVP [96]", "audio 0 RTP/SAVP [0]", "audio 40000 RTP/AVPF [8 101]"}
	if !slices.Equal(got, want) {
		t.Errorf("answer m= lines %q, want %q", got, want)
	}
	// Our answer read back (as the peer, or we ourselves in a re-offer) is
	// the same stream.
	back, err := Negotiate(d.Marshal(), true)
	if err != nil || back.Index != 2 || back.Addr != d.Addr {
		t.Errorf("answer read back: %+v %v", back, err)
	}
	if _, err := Negotiate(offer(strings.Repeat("m=video 0 RTP/AVP 96\r\n", maxMedia)+"m=audio 2000 RTP/AVP 0"), true); !errors.Is(err, ErrMalformed) {
		t.Errorf("%d m= lines: %v, want ErrMalformed", maxMedia+1, err)
	}
}

// Our answer is an SDP our own Negotiate (and so the phone in sipuatest)
// reads back to the same stream.
func TestDescriptionRoundTrip(t *testing.T) {
	for _, d := range []Description{
		{Addr: netip.MustParseAddrPort("127.0.0.1:20002"), SessionID: 1<<63 - 1, Version: 2, Codecs: []media.Codec{media.PCMU}, CodecPTs: []uint8{0}, EventPT: 101, Direction: SendRecv},
		{Addr: netip.MustParseAddrPort("[::1]:30000"), SessionID: 7, Version: 1, Codecs: []media.Codec{media.PCMA, media.PCMU}, EventPT: -1, Direction: RecvOnly},
	} {
		got, err := Negotiate(d.Marshal(), true)
		if err != nil {
			t.Fatalf("%s\n%v", d.Marshal(), err)
		}
		want := Stream{Addr: d.Addr, Codec: d.Codecs[0], CodecPT: d.Codecs[0].PayloadType(), EventPT: d.EventPT, Direction: d.Direction}
		got.Lines, got.Index = nil, 0
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s\n got %+v\nwant %+v", d.Marshal(), got, want)
		}
	}
}

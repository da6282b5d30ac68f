package sdp

// This file is SDP offer/answer (RFC 3264) for one audio stream of G.711
// with optional RFC 4733 telephone-events, on pion/sdp. Negotiate reads an
// offer (or an answer to our own offer) and picks the first G.711 codec in
// the peer's order; Description renders our side.

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"

	"github.com/canvass/canvass/ivr/media"
)

// Errors of Negotiate, checked with errors.Is.
var (
	// ErrMalformed: the body is not a usable SDP (answer 400).
	ErrMalformed = errors.New("malformed SDP")
	// ErrNoCommonCodec: no audio stream we can take (answer 488).
	ErrNoCommonCodec = errors.New("no common codec: Canvass speaks PCMU or PCMA over RTP/AVP")
)

// Direction is an SDP stream direction.
type Direction string

// Directions (RFC 3264 §5.1).
const (
	SendRecv Direction = "sendrecv"
	SendOnly Direction = "sendonly"
	RecvOnly Direction = "recvonly"
	Inactive Direction = "inactive"
)

// Reverse is the direction an answer gives to an offer's direction.
func (d Direction) Reverse() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	}
	return d
}

// Sends reports whether the side with this direction sends media.
func (d Direction) Sends() bool { return d == SendRecv || d == SendOnly }

// Receives reports whether the side with this direction receives media.
func (d Direction) Receives() bool { return d == SendRecv || d == RecvOnly }

// Stream is the negotiated audio stream, as the peer described it.
type Stream struct {
	Addr      netip.AddrPort // where the peer receives RTP; an unspecified address means on hold
	Codec     media.Codec
	CodecPT   uint8 // the payload type the peer uses for Codec
	EventPT   int   // the telephone-event payload type, -1 when none
	Direction Direction
	// Lines are the offer's m= lines, and Index the audio one taken: an
	// answer has one m= line per offered line, in the same order, the
	// others refused (RFC 3264 §6).
	Lines []MediaLine
	Index int
}

// MediaLine is an m= line of an offer, as a refusal in the answer repeats
// it: its media, protocol and first format, with port 0.
type MediaLine struct {
	Media  string
	Protos []string
	Format string
}

// Limits that keep the work per SDP bounded.
const (
	maxSDPSize = 16 << 10
	maxMedia   = 16
	maxFormats = 64
)

// Negotiate reads the peer's SDP and picks the first PCMU or PCMA format
// in its order; telephone-event/8000 is taken when events is true. prefer,
// when it is still offered, wins over the order (a re-INVITE keeps the
// codec in use).
func Negotiate(body []byte, events bool, prefer ...media.Codec) (Stream, error) {
	if len(body) == 0 {
		return Stream{}, fmt.Errorf("%w: empty body", ErrMalformed)
	}
	if len(body) > maxSDPSize {
		return Stream{}, fmt.Errorf("%w: %d bytes", ErrMalformed, len(body))
	}
	var sd psdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return Stream{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(sd.MediaDescriptions) > maxMedia {
		return Stream{}, fmt.Errorf("%w: %d m= lines (at most %d)", ErrMalformed, len(sd.MediaDescriptions), maxMedia)
	}
	var (
		audio *psdp.MediaDescription
		lines = make([]MediaLine, 0, len(sd.MediaDescriptions))
		index = -1
	)
	for i, m := range sd.MediaDescriptions {
		if m == nil || len(m.MediaName.Formats) == 0 {
			return Stream{}, fmt.Errorf("%w: m= line %d has no format", ErrMalformed, i+1)
		}
		lines = append(lines, MediaLine{Media: m.MediaName.Media, Protos: m.MediaName.Protos, Format: m.MediaName.Formats[0]})
		if audio != nil || !strings.EqualFold(m.MediaName.Media, "audio") || m.MediaName.Port.Value == 0 {
			continue
		}
		proto := strings.ToUpper(strings.Join(m.MediaName.Protos, "/"))
		if proto != "RTP/AVP" && proto != "RTP/AVPF" {
			continue
		}
		audio, index = m, i
	}
	if audio == nil {
		return Stream{}, fmt.Errorf("%w: no RTP/AVP audio stream", ErrNoCommonCodec)
	}
	if p := audio.MediaName.Port.Value; p < 1 || p > 65535 {
		return Stream{}, fmt.Errorf("%w: port %d", ErrMalformed, p)
	}
	ci := audio.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return Stream{}, fmt.Errorf("%w: no connection address", ErrMalformed)
	}
	ip, err := netip.ParseAddr(ci.Address.Address)
	if err != nil {
		return Stream{}, fmt.Errorf("%w: connection address %q is not an IP address", ErrMalformed, ci.Address.Address)
	}
	st := Stream{Addr: netip.AddrPortFrom(ip.Unmap(), uint16(audio.MediaName.Port.Value)), EventPT: -1, Direction: SendRecv,
		Lines: lines, Index: index}

	rtpmap := map[uint8]string{}
	for _, a := range audio.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		ptText, enc, ok := strings.Cut(a.Value, " ")
		pt, err := strconv.ParseUint(ptText, 10, 7)
		if !ok || err != nil {
			return Stream{}, fmt.Errorf("%w: rtpmap %q", ErrMalformed, a.Value)
		}
		rtpmap[uint8(pt)] = strings.ToLower(strings.TrimSpace(enc))
	}
	found := false
	for i, f := range audio.MediaName.Formats {
		if i == maxFormats {
			break
		}
		n, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			return Stream{}, fmt.Errorf("%w: payload type %q", ErrMalformed, f)
		}
		pt := uint8(n)
		enc, mapped := rtpmap[pt]
		var c media.Codec
		switch {
		case mapped && (enc == "pcmu/8000" || enc == "pcmu/8000/1"), !mapped && pt == 0:
			c = media.PCMU
		case mapped && (enc == "pcma/8000" || enc == "pcma/8000/1"), !mapped && pt == 8:
			c = media.PCMA
		case mapped && enc == "telephone-event/8000":
			if events && st.EventPT < 0 {
				st.EventPT = int(pt)
			}
			continue
		default:
			continue
		}
		if !found || len(prefer) > 0 && c == prefer[0] && st.Codec != prefer[0] {
			st.Codec, st.CodecPT, found = c, pt, true
		}
	}
	if !found {
		return Stream{}, ErrNoCommonCodec
	}
	st.Direction = direction(audio.Attributes, sd.Attributes)
	return st, nil
}

func direction(mediaAttrs, session []psdp.Attribute) Direction {
	for _, attrs := range [][]psdp.Attribute{mediaAttrs, session} {
		for _, a := range attrs {
			switch d := Direction(a.Key); d {
			case SendRecv, SendOnly, RecvOnly, Inactive:
				return d
			}
		}
	}
	return SendRecv
}

// Description is our side of the stream.
type Description struct {
	Addr      netip.AddrPort // our RTP address
	SessionID uint64         // fixed for the call
	Version   uint64         // bumped whenever the description changes
	Codecs    []media.Codec  // in our order of preference; an answer has one
	CodecPTs  []uint8        // payload type per codec (the offer's, in an answer)
	EventPT   int            // -1: no telephone-event
	Direction Direction
	// Lines and Index, in an answer, are the offer's m= lines and the one
	// our audio answers (Stream.Lines): the others are refused in place.
	// An offer has none.
	Lines []MediaLine
	Index int
}

// Marshal renders the description as SDP.
func (d Description) Marshal() []byte {
	ipType := "IP4"
	if d.Addr.Addr().Is6() {
		ipType = "IP6"
	}
	host := d.Addr.Addr().String()
	formats := make([]string, 0, len(d.Codecs)+1)
	var attrs []psdp.Attribute
	for i, c := range d.Codecs {
		pt := c.PayloadType()
		if i < len(d.CodecPTs) {
			pt = d.CodecPTs[i]
		}
		formats = append(formats, strconv.Itoa(int(pt)))
		attrs = append(attrs, psdp.NewAttribute("rtpmap", fmt.Sprintf("%d %s/%d", pt, c.Name(), media.SampleRate)))
	}
	if d.EventPT >= 0 {
		formats = append(formats, strconv.Itoa(d.EventPT))
		attrs = append(attrs,
			psdp.NewAttribute("rtpmap", fmt.Sprintf("%d telephone-event/%d", d.EventPT, media.SampleRate)),
			psdp.NewAttribute("fmtp", fmt.Sprintf("%d 0-16", d.EventPT)))
	}
	dir := d.Direction
	if dir == "" {
		dir = SendRecv
	}
	attrs = append(attrs, psdp.NewAttribute("ptime", "20"), psdp.NewPropertyAttribute(string(dir)))
	s := psdp.SessionDescription{
		Origin: psdp.Origin{Username: "canvass", SessionID: d.SessionID, SessionVersion: d.Version,
			NetworkType: "IN", AddressType: ipType, UnicastAddress: host},
		SessionName:           "canvass",
		ConnectionInformation: &psdp.ConnectionInformation{NetworkType: "IN", AddressType: ipType, Address: &psdp.Address{Address: host}},
		TimeDescriptions:      []psdp.TimeDescription{{}},
	}
	ours := &psdp.MediaDescription{
		MediaName:  psdp.MediaName{Media: "audio", Port: psdp.RangedPort{Value: int(d.Addr.Port())}, Protos: []string{"RTP", "AVP"}, Formats: formats},
		Attributes: attrs,
	}
	if len(d.Lines) == 0 {
		s.MediaDescriptions = []*psdp.MediaDescription{ours}
	}
	for i, l := range d.Lines {
		if i == d.Index {
			ours.MediaName.Protos = l.Protos // RTP/AVPF is answered as offered
			s.MediaDescriptions = append(s.MediaDescriptions, ours)
			continue
		}
		s.MediaDescriptions = append(s.MediaDescriptions, &psdp.MediaDescription{
			MediaName: psdp.MediaName{Media: l.Media, Port: psdp.RangedPort{Value: 0}, Protos: l.Protos, Formats: []string{l.Format}}})
	}
	b, err := s.Marshal()
	if err != nil {
		// Marshal fails only on values this function never builds.
		panic(fmt.Sprintf("media: marshal SDP: %v", err))
	}
	return b
}

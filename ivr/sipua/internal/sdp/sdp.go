package sdp

// This file is SDP offer/answer (RFC 3264) for one audio stream of G.711
// with optional RFC 4733 telephone-events, on pion/sdp, in plain RTP or
// SRTP with SDES keys (crypto.go). Negotiate reads an offer (or an answer
// to our own offer) and picks the first G.711 codec in the peer's order;
// Description renders our side.

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
	// ErrProfile: the audio is SRTP where we want plain RTP, or the other
	// way round, or SRTP without a key we can use (answer 488). It also
	// matches ErrNoCommonCodec.
	ErrProfile = errors.New("no common media profile")
)

// profileError is an ErrProfile, which is also an ErrNoCommonCodec.
type profileError struct{ why string }

func (e profileError) Error() string { return ErrProfile.Error() + ": " + e.why }

func (e profileError) Is(target error) bool {
	return target == ErrProfile || target == ErrNoCommonCodec
}

// SRTP says which audio streams NegotiateSRTP takes.
type SRTP int

// Policies.
const (
	// SRTPOff takes plain RTP (RTP/AVP, RTP/AVPF) only; a=crypto lines
	// are ignored.
	SRTPOff SRTP = iota
	// SRTPOptional takes the first audio stream it can: plain RTP, or SRTP
	// with a key it can use. An RTP/AVP stream with a=crypto lines is
	// taken as SRTP (best-effort SRTP, as baresip's "srtp" and Asterisk's
	// optimistic encryption offer it).
	SRTPOptional
	// SRTPRequired takes SRTP only: RTP/SAVP(F), or RTP/AVP(F) with
	// a=crypto lines, with a key it can use.
	SRTPRequired
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
	// Secure: the stream's profile is RTP/SAVP or RTP/SAVPF.
	Secure bool
	// Crypto are the usable SDES keys of the stream (a=crypto lines of a
	// suite we speak), in the peer's order; an answer has one. None: plain
	// RTP.
	Crypto []Crypto
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
// codec in use). It takes plain RTP only (SRTPOff).
func Negotiate(body []byte, events bool, prefer ...media.Codec) (Stream, error) {
	return NegotiateSRTP(body, events, SRTPOff, prefer...)
}

// NegotiateSRTP is Negotiate taking the audio streams policy allows: the
// first one in the offer's order.
func NegotiateSRTP(body []byte, events bool, policy SRTP, prefer ...media.Codec) (Stream, error) {
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
		audio  *psdp.MediaDescription
		lines  = make([]MediaLine, 0, len(sd.MediaDescriptions))
		index  = -1
		secure bool
		keys   []Crypto
		// What made the audio streams we skipped unusable.
		sawSecure, sawPlain, sawKeyless bool
	)
	for i, m := range sd.MediaDescriptions {
		if m == nil || len(m.MediaName.Formats) == 0 {
			return Stream{}, fmt.Errorf("%w: m= line %d has no format", ErrMalformed, i+1)
		}
		lines = append(lines, MediaLine{Media: m.MediaName.Media, Protos: m.MediaName.Protos, Format: m.MediaName.Formats[0]})
		if audio != nil || !strings.EqualFold(m.MediaName.Media, "audio") || m.MediaName.Port.Value == 0 {
			continue
		}
		var sec bool
		switch strings.ToUpper(strings.Join(m.MediaName.Protos, "/")) {
		case "RTP/AVP", "RTP/AVPF":
		case "RTP/SAVP", "RTP/SAVPF":
			sec = true
		default:
			continue
		}
		var ks []Crypto
		if policy != SRTPOff {
			ks = usableCrypto(m.Attributes)
		}
		switch {
		case policy == SRTPOff && sec:
			sawSecure = true
			continue
		case len(ks) == 0 && sec:
			sawKeyless = true
			continue
		case len(ks) == 0 && policy == SRTPRequired:
			sawPlain = true
			continue
		}
		audio, index, secure, keys = m, i, sec, ks
	}
	switch {
	case audio != nil:
	case sawKeyless:
		return Stream{}, profileError{"SRTP with no a=crypto line of a suite Canvass speaks (SDES " +
			string(AESCM128SHA1_80) + " or " + string(AESCM128SHA1_32) + "; DTLS-SRTP is not supported)"}
	case sawSecure:
		return Stream{}, profileError{"the audio is SRTP (RTP/SAVP), which this endpoint does not take"}
	case sawPlain:
		return Stream{}, profileError{"the audio is plain RTP, and this endpoint requires SRTP (RTP/SAVP with a=crypto)"}
	default:
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
		Secure: secure, Crypto: keys, Lines: lines, Index: index}

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

// usableCrypto are the a=crypto lines of attrs that ParseCrypto takes,
// at most maxFormats of them.
func usableCrypto(attrs []psdp.Attribute) []Crypto {
	var out []Crypto
	for _, a := range attrs {
		if a.Key != "crypto" || len(out) == maxFormats {
			continue
		}
		if c, err := ParseCrypto(a.Value); err == nil {
			out = append(out, c)
		}
	}
	return out
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
	// Secure makes an offer's profile RTP/SAVP (an answer repeats the
	// offer's profile).
	Secure bool
	// Crypto are our SDES keys, one a=crypto line each: an offer's, one
	// per suite; an answer's, the one for the suite taken. None: plain RTP.
	Crypto []Crypto
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
	for _, c := range d.Crypto {
		attrs = append(attrs, psdp.NewAttribute("crypto", c.Value()))
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
	profile := "AVP"
	if d.Secure {
		profile = "SAVP"
	}
	ours := &psdp.MediaDescription{
		MediaName:  psdp.MediaName{Media: "audio", Port: psdp.RangedPort{Value: int(d.Addr.Port())}, Protos: []string{"RTP", profile}, Formats: formats},
		Attributes: attrs,
	}
	if len(d.Lines) == 0 {
		s.MediaDescriptions = []*psdp.MediaDescription{ours}
	}
	for i, l := range d.Lines {
		if i == d.Index {
			ours.MediaName.Protos = l.Protos // RTP/AVPF, RTP/SAVP are answered as offered
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

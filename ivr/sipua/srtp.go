package sipua

// This file is SRTP (RFC 3711) with SDES keys (RFC 4568): the a=crypto
// lines of the SDP carry each side's master key, and every RTP packet of
// the call, audio and RFC 4733 events alike, is encrypted and
// authenticated with pion/srtp. sip.srtp rules the calls we answer,
// sip.trunk.srtp the calls Dial places: off (plain RTP; an SRTP offer gets
// 488), optional (SRTP when the peer offers it; our offers are best-effort
// RTP/AVP with keys) or required (SRTP only; a plain offer gets 488, our
// offers are RTP/SAVP). The keys travel inside the SIP messages: only SIP
// over TLS keeps them secret, so a call that sends them over UDP or TCP
// logs a warning. Keys come from crypto/rand and are never logged
// (sdp.Crypto does not print its key).
//
// The call's media touches SRTP twice: the sender protects a finished
// packet before writing it (protect), the receiver unprotects a datagram
// before handling it (unprotect). Each side owns its context: pion's
// contexts are not safe for concurrent use.

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/canvass/canvass/ivr/sipua/internal/sdp"
)

// SRTP says whether calls encrypt their audio (sip.srtp, sip.trunk.srtp).
type SRTP string

// SRTP modes.
const (
	// SRTPOff: plain RTP. An offer of RTP/SAVP only gets 488; a=crypto
	// lines on RTP/AVP are ignored.
	SRTPOff SRTP = "off"
	// SRTPOptional: SRTP when the peer offers a key of a suite Canvass
	// speaks (RTP/SAVP, or RTP/AVP with a=crypto), else plain RTP. Our
	// offers are RTP/AVP with keys, which a peer without SRTP answers in
	// plain RTP.
	SRTPOptional SRTP = "optional"
	// SRTPRequired: SRTP only. A plain offer gets 488; our offers are
	// RTP/SAVP.
	SRTPRequired SRTP = "required"
)

// valid: one of the modes; empty is off.
func (m SRTP) valid() bool { return m == "" || m == SRTPOff || m == SRTPOptional || m == SRTPRequired }

// policy is what sdp.NegotiateSRTP takes under m.
func (m SRTP) policy() sdp.SRTP {
	switch m {
	case SRTPOptional:
		return sdp.SRTPOptional
	case SRTPRequired:
		return sdp.SRTPRequired
	}
	return sdp.SRTPOff
}

// srtpReplayWindow is how many packets behind the newest one an SRTP
// packet may come and still be taken once (RFC 3711 §3.3.2 asks at least
// 64); a packet seen before, or older than that, is dropped as a replay.
// It covers the receiver's own reordering window (maxMisorder).
const srtpReplayWindow = 256

// errSRTPAnswer: the answer to our SRTP offer has no key we offered.
var errSRTPAnswer = errors.New("SRTP answer")

// srtpSession is a call's SRTP. The sender alone uses out (under its
// mutex), the receiver alone uses in; a re-offer with a new key for the
// peer's packets replaces in.
type srtpSession struct {
	suite  sdp.Suite
	out    *srtp.Context
	outHdr rtp.Header
	in     atomic.Pointer[srtp.Context]
	inHdr  rtp.Header
	// theirs is the peer's key in use; guarded by call.mu (re-offers).
	theirs sdp.Crypto
}

// newSRTPSession keys a session: ours protects what we send, theirs what
// the peer sends.
func newSRTPSession(ours, theirs sdp.Crypto) (*srtpSession, error) {
	out, err := srtpContext(ours)
	if err != nil {
		return nil, err
	}
	in, err := srtpContext(theirs)
	if err != nil {
		return nil, err
	}
	s := &srtpSession{suite: ours.Suite, out: out, theirs: theirs}
	s.in.Store(in)
	return s, nil
}

// srtpContext is a context for key k: replay protection on (a context
// that only encrypts never checks it), the MKI when k has one.
func srtpContext(k sdp.Crypto) (*srtp.Context, error) {
	var profile srtp.ProtectionProfile
	switch k.Suite {
	case sdp.AESCM128SHA1_80:
		profile = srtp.ProtectionProfileAes128CmHmacSha1_80
	case sdp.AESCM128SHA1_32:
		profile = srtp.ProtectionProfileAes128CmHmacSha1_32
	default:
		return nil, fmt.Errorf("SRTP suite %s is not supported", k.Suite)
	}
	keyLen, err := profile.KeyLen()
	if err != nil {
		return nil, err
	}
	if len(k.Key) != k.Suite.KeyLen() {
		return nil, fmt.Errorf("SRTP key of %d bytes for %s", len(k.Key), k.Suite)
	}
	opts := []srtp.ContextOption{srtp.SRTPReplayProtection(srtpReplayWindow)}
	if len(k.MKI) > 0 {
		opts = append(opts, srtp.MasterKeyIndicator(k.MKI))
	}
	c, err := srtp.CreateContext(k.Key[:keyLen], k.Key[keyLen:], profile, opts...)
	if err != nil {
		return nil, fmt.Errorf("SRTP context: %w", err)
	}
	return c, nil
}

// newKey is a fresh master key and salt for suite, from crypto/rand.
func newKey(tag int, suite sdp.Suite) sdp.Crypto {
	k := sdp.Crypto{Tag: tag, Suite: suite, Key: make([]byte, suite.KeyLen())}
	// crypto/rand.Read never fails (it crashes the program when the system
	// has no randomness left to give).
	rand.Read(k.Key)
	return k
}

// srtpOverhead is what SRTP adds to our packets: the longest
// authentication tag (we send no MKI).
const srtpOverhead = 10

// protect encrypts a finished RTP packet in place and returns it with its
// tag: pkt's buffer must have room for srtpOverhead more bytes (else the
// packet is copied to a new one). The packet stays where it was, so a
// batch of packets can be protected before they are written. Called by the
// sender only.
func (s *srtpSession) protect(pkt []byte) ([]byte, error) {
	out, err := s.out.EncryptRTP(pkt, pkt, &s.outHdr)
	if err != nil {
		return nil, fmt.Errorf("SRTP: %w", err)
	}
	return out, nil
}

// unprotect authenticates and decrypts a received datagram in place. A
// packet that fails (another key, tampered, replayed, not SRTP) is an
// error. Called by the receiver only.
func (s *srtpSession) unprotect(b []byte) ([]byte, error) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return nil, errors.New("not an RTP packet")
	}
	return s.in.Load().DecryptRTP(b, b, &s.inHdr)
}

// offerSRTP puts our keys in an offer under mode: one a=crypto line per
// suite we speak, on RTP/SAVP when SRTP is required, on RTP/AVP (best
// effort) when it is optional.
func offerSRTP(d *sdp.Description, mode SRTP) {
	if mode != SRTPOptional && mode != SRTPRequired {
		return
	}
	d.Secure = mode == SRTPRequired
	d.Crypto = nil
	for i, suite := range sdp.Suites() {
		d.Crypto = append(d.Crypto, newKey(i+1, suite))
	}
}

// answerSRTP keys SRTP for an offer Negotiate took with keys (nil for
// plain RTP): the peer's first key sets the suite, and our own key, of
// that suite and under that tag, goes in our answer d.
func answerSRTP(st sdp.Stream, d *sdp.Description) (*srtpSession, error) {
	if len(st.Crypto) == 0 {
		d.Crypto = nil
		return nil, nil
	}
	theirs := st.Crypto[0]
	ours := newKey(theirs.Tag, theirs.Suite)
	sess, err := newSRTPSession(ours, theirs)
	if err != nil {
		return nil, err
	}
	d.Crypto = []sdp.Crypto{ours}
	return sess, nil
}

// answeredSRTP keys SRTP from the answer to our offer d: the answer's key
// names one of ours by its tag, and d keeps only that one. An answer
// without keys to an offer that wanted SRTP (RTP/SAVP) is an error; to a
// best-effort offer, it makes the call plain RTP (nil).
func answeredSRTP(d *sdp.Description, st sdp.Stream) (*srtpSession, error) {
	if len(st.Crypto) == 0 {
		if d.Secure || st.Secure {
			return nil, fmt.Errorf("%w: no a=crypto line for our RTP/SAVP offer", errSRTPAnswer)
		}
		d.Crypto = nil
		return nil, nil
	}
	theirs := st.Crypto[0]
	for _, ours := range d.Crypto {
		if ours.Tag == theirs.Tag && ours.Suite == theirs.Suite {
			sess, err := newSRTPSession(ours, theirs)
			if err != nil {
				return nil, err
			}
			d.Crypto = []sdp.Crypto{ours}
			return sess, nil
		}
	}
	return nil, fmt.Errorf("%w: the answer's key (tag %d, %s) answers none of our a=crypto lines", errSRTPAnswer, theirs.Tag, theirs.Suite)
}

// offeredPolicy is what an answer to our offer d may be: SRTP when d
// wants it, either when d offers keys (best effort), else plain RTP.
func offeredPolicy(d sdp.Description) sdp.SRTP {
	switch {
	case len(d.Crypto) == 0:
		return sdp.SRTPOff
	case d.Secure:
		return sdp.SRTPRequired
	}
	return sdp.SRTPOptional
}

// name is the session's suite for logs, "off" for none; nil-safe.
func (s *srtpSession) name() string {
	if s == nil {
		return "off"
	}
	return string(s.suite)
}

// srtpPolicy is what a re-offer in the call may bring: SRTP stays SRTP,
// plain RTP stays plain.
func (c *call) srtpPolicy() sdp.SRTP {
	if c.srtp != nil {
		return sdp.SRTPRequired
	}
	return sdp.SRTPOff
}

// rekey applies a re-offer's keys (c.mu held), once the offer is otherwise
// accepted: our key stays, under the tag of the re-offer's line of our
// suite; a new key of the peer's replaces the receiver's context. A
// re-offer that drops our suite is refused (488): a new suite would need
// a new key of ours, and the call keeps its media meanwhile.
func (c *call) rekey(st sdp.Stream, next *sdp.Description) error {
	if c.srtp == nil {
		return nil
	}
	for _, theirs := range st.Crypto {
		if theirs.Suite != c.srtp.suite {
			continue
		}
		ours := next.Crypto[0]
		ours.Tag = theirs.Tag
		if !sameKey(theirs, c.srtp.theirs) {
			in, err := srtpContext(theirs)
			if err != nil {
				return err
			}
			c.srtp.in.Store(in)
			c.srtp.theirs = theirs
			c.log.Info("SRTP: the peer's key changed", "suite", theirs.Suite)
		}
		next.Crypto = []sdp.Crypto{ours}
		return nil
	}
	return fmt.Errorf("%w: the re-offer has no key of the call's SRTP suite %s", sdp.ErrNoCommonCodec, c.srtp.suite)
}

func sameKey(a, b sdp.Crypto) bool {
	return a.Suite == b.Suite && string(a.Key) == string(b.Key) && string(a.MKI) == string(b.MKI)
}

// warnClearKeys logs that a call's SRTP keys went over signalling that is
// not TLS, where anyone on the path reads them.
func warnClearKeys(log *slog.Logger, sess *srtpSession, transport string) {
	if sess == nil || strings.EqualFold(transport, "TLS") {
		return
	}
	log.Warn("SRTP keys sent in clear: the call's SIP is not over TLS, so anyone who sees it can decrypt the audio",
		"signalling", transport)
}

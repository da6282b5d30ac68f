package sdp

// This file is SDES (RFC 4568): the a=crypto attribute that carries an
// SRTP master key in clear inside the SDP (hence SIP over TLS), parsed and
// formatted. The SRTP itself is ivr/sipua's (pion/srtp).

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// ErrCrypto: an a=crypto attribute Canvass cannot use: malformed, of a
// suite it does not speak, with several keys, or with session parameters
// (RFC 4568 §6.3: a line with a parameter the answerer does not support is
// ignored). Negotiate skips such lines.
var ErrCrypto = errors.New("unusable a=crypto attribute")

// Suite is an SRTP crypto-suite (RFC 4568 §6.2).
type Suite string

// The suites Canvass speaks: AES in counter mode with a 128-bit key, and
// an HMAC-SHA1 tag of 80 or 32 bits.
const (
	AESCM128SHA1_80 Suite = "AES_CM_128_HMAC_SHA1_80"
	AESCM128SHA1_32 Suite = "AES_CM_128_HMAC_SHA1_32"
)

// Suites are the suites Canvass speaks, in its order of preference.
func Suites() []Suite { return []Suite{AESCM128SHA1_80, AESCM128SHA1_32} }

// KeyLen is the length of the suite's master key and salt together (the
// inline key), 0 for a suite Canvass does not speak.
func (s Suite) KeyLen() int {
	switch s {
	case AESCM128SHA1_80, AESCM128SHA1_32:
		return 16 + 14
	}
	return 0
}

// Crypto is one a=crypto attribute: a key offered for one suite.
type Crypto struct {
	// Tag names the line: an answer repeats the tag of the line it takes.
	Tag   int
	Suite Suite
	// Key is the master key followed by the master salt (Suite.KeyLen
	// bytes). It is a secret: never logged.
	Key []byte
	// Lifetime is how many packets the key may protect; 0 when the line
	// gives none (then the suite's maximum, 2^48). Canvass never sends that
	// many in a call: it is kept only to write the line back.
	Lifetime uint64
	// MKI is the master key identifier the peer puts in each packet, in
	// its length; nil when none.
	MKI []byte
}

// Limits of the attribute's numbers (RFC 4568 §9.1: tag 1*9DIGIT).
const (
	maxTag    = 999999999
	maxMKILen = 8 // bytes; the grammar allows 128, no device uses more than 4
)

// ParseCrypto reads an a=crypto attribute value ("1 AES_CM_128_HMAC_SHA1_80
// inline:KEY[|LIFETIME][|MKI:LEN]"). Every error wraps ErrCrypto.
func ParseCrypto(value string) (Crypto, error) {
	bad := func(format string, args ...any) (Crypto, error) {
		return Crypto{}, fmt.Errorf("%w: %s", ErrCrypto, fmt.Sprintf(format, args...))
	}
	fields := strings.Fields(value)
	if len(fields) < 3 {
		return bad("want a tag, a suite and a key")
	}
	if len(fields) > 3 {
		return bad("session parameters (%d) are not supported", len(fields)-3)
	}
	tag, err := strconv.Atoi(fields[0])
	if err != nil || tag < 0 || tag > maxTag || len(fields[0]) > 9 {
		return bad("tag %q", fields[0])
	}
	c := Crypto{Tag: tag, Suite: Suite(fields[1])}
	if c.Suite.KeyLen() == 0 {
		return bad("suite %q is not one Canvass speaks", fields[1])
	}
	if strings.Contains(fields[2], ";") {
		return bad("several keys in one line are not supported")
	}
	method, info, ok := strings.Cut(fields[2], ":")
	if !ok || !strings.EqualFold(method, "inline") {
		return bad("key method %q (want inline)", method)
	}
	parts := strings.Split(info, "|")
	if len(parts) > 3 {
		return bad("key info has %d parts", len(parts))
	}
	// Padding is optional in practice: some peers drop it.
	c.Key, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(parts[0], "="))
	if err != nil || len(c.Key) != c.Suite.KeyLen() {
		return bad("the key is not %d bytes of base64", c.Suite.KeyLen())
	}
	for _, p := range parts[1:] {
		if v, l, isMKI := strings.Cut(p, ":"); isMKI {
			if c.MKI != nil {
				return bad("two MKIs")
			}
			if c.MKI, err = parseMKI(v, l); err != nil {
				return bad("%v", err)
			}
			continue
		}
		if c.MKI != nil || c.Lifetime != 0 {
			return bad("the lifetime must come once, before the MKI")
		}
		if c.Lifetime, err = parseLifetime(p); err != nil {
			return bad("%v", err)
		}
	}
	return c, nil
}

// parseLifetime reads "2^N" or a decimal number of packets.
func parseLifetime(s string) (uint64, error) {
	if exp, ok := strings.CutPrefix(s, "2^"); ok {
		n, err := strconv.ParseUint(exp, 10, 8)
		if err != nil || n < 1 || n > 63 || len(exp) > 2 {
			return 0, fmt.Errorf("lifetime %q", s)
		}
		return 1 << n, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 || len(s) > 20 {
		return 0, fmt.Errorf("lifetime %q", s)
	}
	return n, nil
}

// parseMKI reads the MKI value and its length in bytes as the MKI itself.
func parseMKI(value, length string) ([]byte, error) {
	n, err1 := strconv.Atoi(length)
	v, err2 := strconv.ParseUint(value, 10, 64)
	if err1 != nil || err2 != nil || n < 1 || n > maxMKILen || len(length) > 3 || len(value) > 20 || bits.Len64(v) > 8*n {
		return nil, fmt.Errorf("MKI %q:%q (want a value that fits in 1 to %d bytes)", value, length, maxMKILen)
	}
	mki := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		mki[i] = byte(v)
		v >>= 8
	}
	return mki, nil
}

// Value is the attribute's value, as ParseCrypto reads it.
func (c Crypto) Value() string {
	s := fmt.Sprintf("%d %s inline:%s", c.Tag, c.Suite, base64.StdEncoding.EncodeToString(c.Key))
	if c.Lifetime != 0 {
		if c.Lifetime&(c.Lifetime-1) == 0 {
			s += fmt.Sprintf("|2^%d", bits.TrailingZeros64(c.Lifetime))
		} else {
			s += "|" + strconv.FormatUint(c.Lifetime, 10)
		}
	}
	if c.MKI != nil {
		var v uint64
		for _, b := range c.MKI {
			v = v<<8 | uint64(b)
		}
		s += fmt.Sprintf("|%d:%d", v, len(c.MKI))
	}
	return s
}

// Format keeps the key out of every formatting verb: a Crypto in a log
// line or a test failure shows its tag and suite only.
func (c Crypto) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "{Tag:%d Suite:%s}", c.Tag, c.Suite)
}

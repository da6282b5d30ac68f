package sipua

// This file is SIP digest authentication (RFC 3261 §22, RFC 2617 MD5 with
// qop=auth) for callers outside the allow-list. Nonces are stateless: a
// timestamp and its HMAC under a per-process key, valid for five minutes;
// an expired nonce with the right password gets a stale=true challenge.

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

const nonceLifetime = 5 * time.Minute

func (s *Server) nonce(now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 16)
	return ts + "." + s.nonceMAC(ts)
}

func (s *Server) nonceMAC(ts string) string {
	m := hmac.New(sha256.New, s.nonceKey[:])
	m.Write([]byte(ts))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// checkNonce reports whether we issued n, and whether it expired.
func (s *Server) checkNonce(n string, now time.Time) (ours, stale bool) {
	ts, mac, ok := strings.Cut(n, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(s.nonceMAC(ts))) {
		return false, false
	}
	sec, err := strconv.ParseInt(ts, 16, 64)
	if err != nil {
		return false, false
	}
	return true, now.Sub(time.Unix(sec, 0)) > nonceLifetime
}

// challenge is the WWW-Authenticate header of a 401.
func (s *Server) challenge(stale bool) sip.Header {
	c := digest.Challenge{Realm: s.opts.Realm, Nonce: s.nonce(time.Now()), Algorithm: "MD5", QOP: []string{"auth"}, Stale: stale}
	return sip.NewHeader("WWW-Authenticate", c.String())
}

// authorized checks req's Authorization header; stale reports right
// credentials on an expired nonce.
func (s *Server) authorized(req *sip.Request) (ok, stale bool) {
	h := req.GetHeader("Authorization")
	if h == nil {
		return false, false
	}
	creds, err := digest.ParseCredentials(h.Value())
	if err != nil || creds.Realm != s.opts.Realm {
		return false, false
	}
	if alg := strings.ToUpper(creds.Algorithm); alg != "" && alg != "MD5" || creds.QOP != "" && creds.QOP != "auth" {
		return false, false
	}
	ours, expired := s.checkNonce(creds.Nonce, time.Now())
	if !ours {
		return false, false
	}
	chal := &digest.Challenge{Realm: creds.Realm, Nonce: creds.Nonce, Opaque: creds.Opaque, Algorithm: creds.Algorithm}
	if creds.QOP != "" {
		chal.QOP = []string{creds.QOP}
	}
	want, err := digest.Digest(chal, digest.Options{Method: string(req.Method), URI: creds.URI,
		Username: s.opts.Username, Password: s.opts.Password, Cnonce: creds.Cnonce, Count: creds.Nc})
	if err != nil {
		return false, false
	}
	match := subtle.ConstantTimeCompare([]byte(want.Response), []byte(creds.Response)) == 1 &&
		subtle.ConstantTimeCompare([]byte(creds.Username), []byte(s.opts.Username)) == 1
	if match && expired {
		return false, true
	}
	return match, false
}

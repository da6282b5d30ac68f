package cati

// This file is the API token format. A token is "cnv_" followed by 32 random
// bytes in unpadded base64url; the store keeps only its SHA-256, so a leaked
// database does not leak working tokens, and the clear token is shown once.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// TokenPrefix starts every API token, so that secret scanners and people can
// tell a Canvass token when they see one.
const TokenPrefix = "cnv_"

// A token carries tokenBytes random bytes: tokenLen characters in all
// (unpadded base64 takes 4 characters per 3 bytes, rounded up).
const (
	tokenBytes = 32
	tokenLen   = len(TokenPrefix) + (tokenBytes*8+5)/6
)

// NewToken returns a new random API token and the hash to store for it.
func NewToken() (token string, hash []byte, err error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("new token: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken returns the SHA-256 of the whole token, prefix included: what the
// store keeps and looks tokens up by.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// wellFormed reports whether s looks like a token NewToken made, so that
// garbage is refused without a database round trip.
func wellFormed(s string) bool {
	if len(s) != tokenLen || !strings.HasPrefix(s, TokenPrefix) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s[len(TokenPrefix):])
	return err == nil
}

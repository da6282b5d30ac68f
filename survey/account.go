package survey

// This file is the rules for console accounts, once for the command line and
// the admin page: what a name and a password must be.

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MinPassword is the shortest password an account may have.
const MinPassword = 10

// CheckUserName refuses a name that cannot be typed at sign-in.
func CheckUserName(name string) error {
	if name == "" || len(name) > 128 || strings.TrimSpace(name) != name || strings.ContainsFunc(name, unicode.IsControl) || !utf8.ValidString(name) {
		return Errorf(EInvalid, "name %q: at most 128 characters, not empty, without control characters or surrounding spaces (it is typed at sign-in)", Clip(name, 40))
	}
	return nil
}

// CheckPassword refuses a password too short to stand a guess.
func CheckPassword(password string) error {
	if len(password) < MinPassword {
		return Errorf(EInvalid, "the password needs at least %d characters", MinPassword)
	}
	if len(password) > 72 {
		return Errorf(EInvalid, "the password may have at most 72 bytes (bcrypt reads no more)")
	}
	return nil
}

// AccountChange is what an admin changes of an account; nil fields stay.
type AccountChange struct {
	Role         *Role
	Disabled     *bool
	PasswordHash []byte // a new password, hashed
}

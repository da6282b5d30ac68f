package survey

// This file is the one coded domain error (wtf's error.go): the API and the
// console turn its code into a status and show its message to the user,
// while wrapped causes stay in the logs.

import (
	"errors"
	"fmt"
)

// ErrorCode classifies an error for users.
type ErrorCode string

// Error codes.
const (
	EInvalid      ErrorCode = "invalid"      // the input is wrong; the message says how to fix it
	ENotFound     ErrorCode = "not_found"    // no such thing
	EConflict     ErrorCode = "conflict"     // the state changed under the caller
	EUnauthorized ErrorCode = "unauthorized" // who are you?
	EForbidden    ErrorCode = "forbidden"    // not with this role
	EInternal     ErrorCode = "internal"     // our fault; details are in the log
)

// Error is an error whose message is safe and useful to show to a user.
type Error struct {
	Code    ErrorCode
	Message string
	// sentinel marks NotFound and Conflict, which errors.Is matches by code.
	sentinel bool
}

func (e *Error) Error() string { return e.Message }

// Is makes errors.Is(err, NotFound) hold for every *Error coded ENotFound
// (and likewise Conflict), so a store can explain a refusal in its own words
// and callers still test its kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.sentinel && t.Code == e.Code
}

// Sentinels for errors.Is, and the plain refusals when there is nothing more
// to say.
var (
	NotFound = &Error{Code: ENotFound, Message: "not found", sentinel: true}
	Conflict = &Error{Code: EConflict, Message: "it changed meanwhile; reload and try again", sentinel: true}
)

// Errorf returns an *Error with a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCodeOf returns the code of the first *Error in err's chain, EInternal
// when there is none.
func ErrorCodeOf(err error) ErrorCode {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the user-facing message of err: the *Error's message,
// or a generic one that reveals nothing internal.
func ErrorMessage(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "internal error; the details are in the server log"
}

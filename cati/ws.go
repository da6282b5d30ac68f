package cati

// This file is the console's WebSocket protocol: versioned JSON envelopes
// {"v":1,"type":"…","id":"…","data":{…}}, and the decoder that validates
// each one on receipt. A message that is not valid gets an error envelope
// and the connection stays open. The README's "Console WebSocket protocol"
// section documents every type.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/canvass/canvass/survey"
)

// protocolVersion is the envelope version this server speaks.
const protocolVersion = 1

// maxMessageBytes bounds one client message; longer ones close the
// connection (a free-text answer fits many times over).
const maxMessageBytes = 64 << 10

// envelope is every message, both ways.
type envelope struct {
	V    int             `json:"v"`
	Type string          `json:"type"`
	ID   string          `json:"id,omitempty"` // the client's request id, echoed in the reply
	Data json.RawMessage `json:"data,omitempty"`
}

// Client requests. Every field is checked by validate; unknown fields are
// refused.
type (
	emptyReq struct{}
	caseReq  struct {
		CaseID survey.CaseID `json:"case_id"`
	}
	dialResReq struct {
		CaseID  survey.CaseID `json:"case_id"`
		Outcome string        `json:"outcome"`
		Note    string        `json:"note"`
	}
	answerReq struct {
		CaseID   survey.CaseID   `json:"case_id"`
		Question string          `json:"question"`
		Value    json.RawMessage `json:"value"`
		Millis   int64           `json:"millis"`
	}
	skipReq struct {
		CaseID   survey.CaseID `json:"case_id"`
		Question string        `json:"question"`
	}
	wrapUpReq struct {
		CaseID      survey.CaseID `json:"case_id"`
		Code        string        `json:"code"`
		Appointment string        `json:"appointment"` // YYYY-MM-DDTHH:MM, respondent's time
		Note        string        `json:"note"`
		// NeverCall: the respondent asked never to be called again; the
		// case closes as a refusal (Code "" is 2.11) and the number goes on
		// the campaign's do-not-call list.
		NeverCall bool `json:"never_call"`
	}
	reassignReq struct {
		CaseID survey.CaseID `json:"case_id"`
		To     string        `json:"to"` // interviewer's name
	}
	breakReq struct {
		Reason string `json:"reason"`
	}
	dispositionReq struct {
		CaseID survey.CaseID `json:"case_id"`
		Code   string        `json:"code"`
		Note   string        `json:"note"`
	}
)

// request is a decoded, validated client message.
type request interface{ validate() error }

func (emptyReq) validate() error { return nil }

func (r caseReq) validate() error { return positive("case_id", r.CaseID) }

func (r dialResReq) validate() error {
	return firstErr(positive("case_id", r.CaseID), nonEmpty("outcome", r.Outcome, 40), maxLen("note", r.Note, 2000))
}

func (r answerReq) validate() error {
	if r.Millis < 0 {
		return survey.Errorf(survey.EInvalid, "millis must not be negative")
	}
	return firstErr(positive("case_id", r.CaseID), nonEmpty("question", r.Question, 63))
}

func (r skipReq) validate() error {
	return firstErr(positive("case_id", r.CaseID), nonEmpty("question", r.Question, 63))
}

func (r wrapUpReq) validate() error {
	if r.NeverCall && r.Appointment != "" {
		return survey.Errorf(survey.EInvalid, "never call again and a call back exclude each other: choose one")
	}
	if !r.NeverCall && (r.Code == "") == (r.Appointment == "") {
		return survey.Errorf(survey.EInvalid, "give either a disposition code or an appointment")
	}
	return firstErr(positive("case_id", r.CaseID), maxLen("code", r.Code, 16), maxLen("appointment", r.Appointment, 16), maxLen("note", r.Note, 2000))
}

func (r reassignReq) validate() error {
	return firstErr(positive("case_id", r.CaseID), nonEmpty("to", r.To, 200))
}

func (r breakReq) validate() error { return nonEmpty("reason", r.Reason, 40) }

func (r dispositionReq) validate() error {
	return firstErr(positive("case_id", r.CaseID), nonEmpty("code", r.Code, 16), maxLen("note", r.Note, 2000))
}

func positive(name string, v survey.CaseID) error {
	if v <= 0 {
		return survey.Errorf(survey.EInvalid, "%s must be a positive id", name)
	}
	return nil
}

func nonEmpty(name, v string, max int) error {
	if strings.TrimSpace(v) == "" {
		return survey.Errorf(survey.EInvalid, "%s is required", name)
	}
	return maxLen(name, v, max)
}

func maxLen(name, v string, max int) error {
	if utf8.RuneCountInString(v) > max {
		return survey.Errorf(survey.EInvalid, "%s is longer than %d characters", name, max)
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// messageType is one client message type: who may send it and its payload.
type messageType struct {
	roles []survey.Role
	new   func() request
}

// clientTypes are the messages a client may send.
var clientTypes = map[string]messageType{
	"ping":            {consoleUsers, func() request { return &emptyReq{} }},
	"sync":            {consoleUsers, func() request { return &emptyReq{} }},
	"next_case":       {interviewers, func() request { return &emptyReq{} }},
	"dial":            {interviewers, func() request { return &caseReq{} }},
	"dial_result":     {interviewers, func() request { return &dialResReq{} }},
	"answer":          {interviewers, func() request { return &answerReq{} }},
	"skip":            {interviewers, func() request { return &skipReq{} }},
	"back":            {interviewers, func() request { return &caseReq{} }},
	"end_call":        {interviewers, func() request { return &caseReq{} }},
	"wrap_up":         {interviewers, func() request { return &wrapUpReq{} }},
	"break":           {interviewers, func() request { return &breakReq{} }},
	"resume":          {interviewers, func() request { return &emptyReq{} }},
	"reassign":        {supervisors, func() request { return &reassignReq{} }},
	"release":         {supervisors, func() request { return &caseReq{} }},
	"set_disposition": {supervisors, func() request { return &dispositionReq{} }},
	// The phone (phone.go).
	"rtc_offer":   {consoleUsers, func() request { return &rtcOfferReq{} }},
	"call_hangup": {interviewers, func() request { return &emptyReq{} }},
	"call_mute":   {interviewers, func() request { return &toggleReq{} }},
	"call_hold":   {interviewers, func() request { return &toggleReq{} }},
	"call_digits": {interviewers, func() request { return &digitsReq{} }},
	"call_keypad": {interviewers, func() request { return &keypadReq{} }},
	"monitor":     {supervisors, func() request { return &monitorReq{} }},
}

// decodeEnvelope parses and validates one client message. The envelope is
// returned whenever it could be read, so that an error reply can echo its
// id; the error is a *survey.Error whose message says what is wrong.
func decodeEnvelope(b []byte) (envelope, request, error) {
	var env envelope
	if !utf8.Valid(b) {
		return env, nil, survey.Errorf(survey.EInvalid, "the message is not UTF-8 text")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&env); err != nil {
		return envelope{}, nil, survey.Errorf(survey.EInvalid, "the message is not a JSON envelope {\"v\":1,\"type\":…,\"id\":…,\"data\":{…}}: %s", survey.Clip(err.Error(), 120))
	}
	if d.More() {
		return env, nil, survey.Errorf(survey.EInvalid, "one JSON envelope per message")
	}
	if utf8.RuneCountInString(env.ID) > 64 {
		env.ID = ""
		return env, nil, survey.Errorf(survey.EInvalid, "id is longer than 64 characters")
	}
	if env.V != protocolVersion {
		return env, nil, survey.Errorf(survey.EInvalid, "protocol version %d is not supported; this server speaks v%d (reload the page)", env.V, protocolVersion)
	}
	mt, ok := clientTypes[env.Type]
	if !ok {
		return env, nil, survey.Errorf(survey.EInvalid, "unknown message type %q", survey.Clip(env.Type, 40))
	}
	req := mt.new()
	data := env.Data
	if len(bytes.TrimSpace(data)) == 0 || bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		data = []byte("{}")
	}
	if bytes.Contains(data, []byte(`\u0000`)) {
		var v any
		if json.Unmarshal(data, &v) == nil && holdsNUL(v) {
			return env, nil, survey.Errorf(survey.EInvalid, "%s: the data holds a NUL character (\\u0000), which cannot be stored; remove it", env.Type)
		}
	}
	dd := json.NewDecoder(bytes.NewReader(data))
	dd.DisallowUnknownFields()
	if err := dd.Decode(req); err != nil {
		return env, nil, survey.Errorf(survey.EInvalid, "%s: bad data: %s", env.Type, survey.Clip(err.Error(), 120))
	}
	if dd.More() {
		return env, nil, survey.Errorf(survey.EInvalid, "%s: bad data: trailing content", env.Type)
	}
	if err := req.validate(); err != nil {
		return env, nil, fmt.Errorf("%s: %w", env.Type, err)
	}
	return env, req, nil
}

// holdsNUL reports whether a decoded JSON value has a string with a NUL
// character, which PostgreSQL text cannot store.
func holdsNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.IndexByte(x, 0) >= 0
	case []any:
		return slices.ContainsFunc(x, holdsNUL)
	case map[string]any:
		for k, e := range x {
			if holdsNUL(k) || holdsNUL(e) {
				return true
			}
		}
	}
	return false
}

// encode builds a server message.
func encode(typ, id string, data any) ([]byte, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", typ, err)
	}
	return json.Marshal(envelope{V: protocolVersion, Type: typ, ID: id, Data: b})
}

// errorData is the data of an "error" envelope.
type errorData struct {
	Code    survey.ErrorCode `json:"code"`
	Message string           `json:"message"`
	Type    string           `json:"type,omitempty"` // the request type it answers
}

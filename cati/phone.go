package cati

// This file makes the console a phone: the browser's WebRTC signalling and
// the call controls travel as envelopes on the console WebSocket, the
// switchboard (ivr/phone, wired in cmd/canvass) places and joins the calls,
// and every move of a call comes back as a "call" envelope to the
// interviewer's pages and the supervisors'. When a call ends, what the
// network said is stored on its attempt, and a respondent's hang-up moves
// the desk on to wrap-up.

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/canvass/canvass/survey"
)

// Phones is the console users' phones: ivr/phone's Switchboard.
type Phones interface {
	// Connect answers the SDP offer of a user's browser; the new peer
	// replaces the user's previous one and takes over their call.
	Connect(ctx context.Context, user survey.UserID, offer string) (answer string, err error)
	// Ready reports whether the user's browser is connected.
	Ready(user survey.UserID) bool
	// Dial places the interviewer's call; how it goes arrives on Events.
	Dial(user survey.UserID, c survey.PhoneCall) error
	Hangup(user survey.UserID) error
	Mute(user survey.UserID, on bool) error
	Hold(user survey.UserID, on bool) error
	Digits(ctx context.Context, user survey.UserID, digits string) error
	// Monitor puts a supervisor on an interviewer's call, switches how, or
	// (survey.MonitorOff) takes them off.
	Monitor(supervisor, interviewer survey.UserID, mode survey.MonitorMode) error
	// Call is the user's call, or the last one they had.
	Call(user survey.UserID) (survey.CallEvent, bool)
	// Calls are the calls up now.
	Calls() []survey.CallEvent
	// Away says the user's last console page on this node closed; Back
	// that one is open again.
	Away(user survey.UserID)
	Back(user survey.UserID)
	Events() <-chan survey.CallEvent
	// Predictive places a call for whoever take finds free when it is
	// answered, or abandons it with message after survey.AbandonAfter.
	Predictive(ctx context.Context, c survey.PhoneCall, take func(context.Context) (survey.UserID, error), message string) (survey.PredictedCall, error)
}

// PhoneOptions configure the console's phone.
type PhoneOptions struct {
	// ICEServers are handed to the browsers as RTCPeerConnection's
	// iceServers (TURN for NATs); nil: none.
	ICEServers any
}

// Phone requests.
type (
	rtcOfferReq struct {
		SDP string `json:"sdp"`
	}
	toggleReq struct {
		On bool `json:"on"`
	}
	digitsReq struct {
		Digits string `json:"digits"`
	}
	monitorReq struct {
		UserID survey.UserID `json:"user_id"`
		Mode   string        `json:"mode"`
	}
)

// maxOfferBytes bounds an SDP offer (a browser's is about 1–4 KB).
const maxOfferBytes = 16 << 10

func (r rtcOfferReq) validate() error {
	if strings.TrimSpace(r.SDP) == "" {
		return survey.Errorf(survey.EInvalid, "sdp is required: the browser's offer")
	}
	if len(r.SDP) > maxOfferBytes {
		return survey.Errorf(survey.EInvalid, "sdp is longer than %d bytes", maxOfferBytes)
	}
	return nil
}

func (r toggleReq) validate() error { return nil }

func (r digitsReq) validate() error {
	if r.Digits == "" || len(r.Digits) > 32 {
		return survey.Errorf(survey.EInvalid, "digits: give 1 to 32 keypad keys")
	}
	if i := strings.IndexFunc(r.Digits, func(c rune) bool { return !strings.ContainsRune("0123456789*#ABCD", c) }); i >= 0 {
		return survey.Errorf(survey.EInvalid, "digits: %q is not a keypad key (0-9, *, #, A-D)", survey.Clip(r.Digits[i:], 1))
	}
	return nil
}

func (r monitorReq) validate() error {
	if r.UserID <= 0 {
		return survey.Errorf(survey.EInvalid, "user_id must be the interviewer's positive id")
	}
	_, err := survey.ParseMonitorMode(r.Mode)
	return err
}

// phoneTypes are the phone's client messages: the envelope type → handled
// without a desk refresh.
var phoneTypes = map[string]bool{"rtc_offer": true, "call_hangup": true, "call_mute": true, "call_hold": true,
	"call_digits": true, "monitor": true, "call_keypad": true}

// errNoPhones answers phone requests on a server with no phone.
var errNoPhones = survey.Errorf(survey.EConflict, "this server has no browser phone (webrtc.listen is not set): use a separate phone and record the outcome")

// phone answers one phone request.
func (c *wsConn) phone(ctx context.Context, typ, id string, req request) {
	ph := c.s.phones
	if ph == nil {
		c.replyError(id, typ, errNoPhones)
		return
	}
	var err error
	switch r := req.(type) {
	case *rtcOfferReq:
		var answer string
		if answer, err = ph.Connect(ctx, c.user.ID, r.SDP); err == nil {
			c.s.phoneUsers.Store(c.user.ID, c.user)
			c.reply("rtc_answer", id, map[string]string{"sdp": answer})
			if ev, ok := ph.Call(c.user.ID); ok && ev.State != survey.CallEnded {
				c.reply("call", "", c.s.callView(ev))
			}
			return
		}
	case *toggleReq:
		if typ == "call_mute" {
			err = ph.Mute(c.user.ID, r.On)
		} else {
			err = ph.Hold(c.user.ID, r.On)
		}
	case *digitsReq:
		err = ph.Digits(ctx, c.user.ID, r.Digits)
	case *monitorReq:
		err = c.s.monitor(ctx, c.user, r)
	case *keypadReq:
		err = c.s.keypad(ctx, c.user, r)
	case *emptyReq: // call_hangup
		err = ph.Hangup(c.user.ID)
	}
	if err != nil {
		c.replyError(id, typ, err)
		return
	}
	c.reply("ok", id, map[string]string{"type": typ})
}

// monitor puts supervisor u on an interviewer's call: interviewers only,
// and, for a supervisor, interviewers of the campaigns they may see (every
// campaign: supervisors see the whole floor).
func (s *Server) monitor(ctx context.Context, u survey.User, r *monitorReq) error {
	mode, _ := survey.ParseMonitorMode(r.Mode)
	if mode != survey.MonitorOff {
		target, err := s.console.Desks.Desk(ctx, r.UserID)
		if err != nil || target.State != survey.DeskInterviewing && target.State != survey.DeskDialing && target.State != survey.DeskWrapUp {
			return survey.Errorf(survey.EConflict, "user %d is not an interviewer on a call", r.UserID)
		}
	}
	if err := s.phones.Monitor(u.ID, r.UserID, mode); err != nil {
		return err
	}
	s.consoleLog(u).Info("monitor", "interviewer_id", r.UserID, "mode", mode)
	return nil
}

// callView is a call as the "call" envelope carries it.
type callView struct {
	UserID       survey.UserID      `json:"user_id"`
	CaseID       survey.CaseID      `json:"case_id"`
	AttemptID    survey.AttemptID   `json:"attempt_id"`
	State        survey.CallState   `json:"state"`
	Outcome      survey.DialOutcome `json:"outcome,omitempty"`
	Prefill      survey.DialOutcome `json:"prefill,omitempty"` // the dial outcome the console pre-selects
	Cause        string             `json:"cause,omitempty"`   // in words, for a call not answered
	SIPStatus    int                `json:"sip_status,omitempty"`
	Q850Cause    int                `json:"q850_cause,omitempty"`
	Reason       string             `json:"reason,omitempty"`
	HungUpBy     string             `json:"hung_up_by,omitempty"`
	StartedAt    time.Time          `json:"started_at"`
	AnsweredAt   *time.Time         `json:"answered_at,omitempty"`
	EndedAt      *time.Time         `json:"ended_at,omitempty"`
	Muted        bool               `json:"muted"`
	Held         bool               `json:"held"`
	Keypad       bool               `json:"keypad,omitempty"` // the respondent is answering on the keypad
	Recording    string             `json:"recording,omitempty"`
	Monitor      survey.MonitorMode `json:"monitor,omitempty"`
	SupervisorID survey.UserID      `json:"supervisor_id,omitempty"`
	Seq          uint64             `json:"seq"`
}

func (s *Server) callView(ev survey.CallEvent) callView {
	v := callView{UserID: ev.User, CaseID: ev.CaseID, AttemptID: ev.AttemptID, State: ev.State, Outcome: ev.Outcome,
		SIPStatus: ev.SIPStatus, Q850Cause: ev.Q850Cause, Reason: ev.Reason, HungUpBy: ev.HungUpBy,
		StartedAt: ev.StartedAt.UTC(), Muted: ev.Muted, Held: ev.Held, Keypad: ev.Keypad, Recording: ev.Recording,
		Monitor: ev.Monitor, SupervisorID: ev.Supervisor, Seq: s.callSeq.Add(1)}
	if !ev.AnsweredAt.IsZero() {
		t := ev.AnsweredAt.UTC()
		v.AnsweredAt = &t
	}
	if !ev.EndedAt.IsZero() {
		t := ev.EndedAt.UTC()
		v.EndedAt = &t
	}
	if ev.State == survey.CallEnded || ev.State == survey.CallAnswered {
		v.Prefill = prefill(ev.Outcome)
		if ev.Outcome != survey.DialAnswered {
			v.Cause = ev.Cause()
		}
	}
	return v
}

// prefill is the dial outcome the console pre-selects for what the
// network said: someone answered → a contact; the interviewer gave up
// while it rang → no answer.
func prefill(o survey.DialOutcome) survey.DialOutcome {
	switch o {
	case survey.DialAnswered:
		return survey.DialContact
	case survey.DialCancelled:
		return survey.DialNoAnswer
	}
	return o
}

// runPhone carries the phone's events to the pages and the store until
// ctx ends.
func (s *Server) runPhone(ctx context.Context) {
	if s.phones == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-s.phones.Events():
			s.phoneEvent(ev)
		}
	}
}

// phoneEvent shows a call's move and, when it ended, records it.
func (s *Server) phoneEvent(ev survey.CallEvent) {
	if b, err := encode("call", "", s.callView(ev)); err == nil {
		s.console.hub.toUser(ev.User, b)
		s.console.hub.toSupervisors(b)
	}
	if ev.State == survey.CallAnswered {
		// The screen gains the recording consent to read.
		s.console.hub.refreshUser(ev.User)
	}
	if ev.State != survey.CallEnded {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	log := s.log.With("user_id", ev.User, "attempt_id", ev.AttemptID)
	if ev.AttemptID != 0 {
		if err := s.console.Desks.RecordCall(ctx, ev.AttemptID, ev.Facts()); err != nil {
			log.Error("store the call on its attempt", "err", err)
		}
	}
	if ev.AnsweredAt.IsZero() || ev.HungUpBy == "interviewer" {
		s.console.hub.refreshUser(ev.User)
		return
	}
	// The respondent (or the system) hung up an answered call: the
	// interview, if it started, moves on to wrap-up.
	v, ok := s.phoneUsers.Load(ev.User)
	if !ok {
		return
	}
	u := v.(survey.User)
	unlock := s.console.locks.lock(u.ID)
	d, err := s.console.Desks.Desk(ctx, u.ID)
	if err == nil && d.State == survey.DeskInterviewing && d.CaseID == ev.CaseID {
		err = s.desks.EndCall(ctx, u, ev.CaseID)
	}
	unlock()
	if err != nil && survey.ErrorCodeOf(err) != survey.EConflict {
		log.Error("move the desk on after the hang-up", "err", err)
	}
	s.console.hub.refreshUser(ev.User)
}

// hangUpIfCalling ends the interviewer's call, if they have one, when
// their desk moves past it (an outcome recorded, the call ended, a wrap-up).
func (s *Server) hangUpIfCalling(u survey.User) {
	if s.phones == nil {
		return
	}
	if ev, ok := s.phones.Call(u.ID); ok && ev.State != survey.CallEnded {
		if err := s.phones.Hangup(u.ID); err != nil && survey.ErrorCodeOf(err) != survey.EConflict {
			s.consoleLog(u).Warn("hang up", "err", err)
		}
	}
}

// dial places the interviewer's call: the attempt is recorded first, then
// the browser phone (when the server has one) dials the case's number.
// Without a connected phone nothing is recorded.
func (s *Server) dial(ctx context.Context, u survey.User, caseID survey.CaseID) error {
	if s.phones != nil && !s.phones.Ready(u.ID) {
		return survey.Errorf(survey.EConflict, "the phone is not connected: allow the microphone and wait for the phone bar to say ready")
	}
	pc, err := s.desks.Dial(ctx, u, caseID)
	if err != nil || s.phones == nil {
		return err
	}
	if err := s.phones.Dial(u.ID, pc); err != nil {
		// The attempt stands: the interviewer records what happened.
		return err
	}
	return nil
}

// iceJSON is the browsers' iceServers, as JSON for the pages.
func (s *Server) iceJSON() string {
	if s.console.Phone.ICEServers == nil {
		return "[]"
	}
	b, err := json.Marshal(s.console.Phone.ICEServers)
	if err != nil {
		return "[]"
	}
	return string(b)
}

// sendCalls gives a page that just connected the calls it shows: an
// interviewer's own, every call up for a supervisor.
func (s *Server) sendCalls(c *wsConn) {
	if s.phones == nil {
		return
	}
	if c.user.Role == survey.RoleInterviewer {
		if ev, ok := s.phones.Call(c.user.ID); ok {
			c.reply("call", "", s.callView(ev))
		}
		return
	}
	for _, ev := range s.phones.Calls() {
		c.reply("call", "", s.callView(ev))
	}
}

// casePage shows a supervisor one case: its attempts with what the network
// said, and the recorded calls to play.
func (s *Server) casePage(w http.ResponseWriter, r *http.Request, sess *session) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return survey.Errorf(survey.ENotFound, "no such case")
	}
	cd, err := s.console.Desks.Case(r.Context(), survey.CaseID(id))
	if err != nil {
		return err
	}
	holds, err := s.whyNotCalled(r.Context(), cd.ID)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "case", pageData{Title: "Case " + strconv.FormatInt(id, 10), Session: sess, Data: map[string]any{
		"Case": cd, "Status": cd.Status, "Final": cd.FinalDisposition, "Attempts": cd.History, "Holds": holds}})
	return nil
}

// recordingPage serves a recording to a supervisor's page, as the API
// serves it to a token.
func (s *Server) recordingPage(w http.ResponseWriter, r *http.Request, _ *session) error {
	return s.getRecording(w, r)
}

// holdView is one rule keeping a case from being called.
type holdView struct {
	Rule  string     `json:"rule"`
	Text  string     `json:"text"`
	Until *time.Time `json:"until,omitempty"`
}

// whyNotCalled is every rule holding case id back now ("why is case X not
// being called?"); none when it is due.
func (s *Server) whyNotCalled(ctx context.Context, id survey.CaseID) ([]holdView, error) {
	if s.console == nil {
		return nil, httpError(http.StatusServiceUnavailable, survey.EInternal, "cases are not served without the console")
	}
	cd, err := s.console.Desks.Case(ctx, id)
	if err != nil {
		return nil, err
	}
	camp, err := s.console.Campaigns.Campaign(ctx, cd.CampaignID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var dnc []survey.DNCEntry
	if s.dnc != nil {
		if dnc, err = s.dnc.CaseDNC(ctx, id, cd.Contact.Phone, now); err != nil {
			return nil, err
		}
	}
	out := []holdView{}
	for _, h := range survey.WhyNotCalled(cd, camp, dnc, now) {
		v := holdView{Rule: h.Rule, Text: h.Text}
		if !h.Until.IsZero() {
			u := h.Until.UTC()
			v.Until = &u
		}
		out = append(out, v)
	}
	return out, nil
}

// getWhy answers GET /api/v1/cases/{id}/why.
func (s *Server) getWhy(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return survey.Errorf(survey.ENotFound, "no case %q", survey.Clip(r.PathValue("id"), 20))
	}
	hs, err := s.whyNotCalled(r.Context(), survey.CaseID(id))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"case_id": id, "due": len(hs) == 0, "holds": hs})
	return nil
}

// Waiting lists the interviewers the dialer may place a call for now
// (dialer.Agents): idle on a progressive campaign, or with a preview due
// for its auto-dial, whose browser phone is connected. Without a phone
// nobody is listed: the dialer cannot place a console's calls.
func (s *Server) Waiting(ctx context.Context) ([]survey.AgentSlot, error) {
	if s.phones == nil {
		return nil, nil
	}
	slots, err := s.console.Desks.DialSlots(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(slots, func(a survey.AgentSlot) bool { return !s.phones.Ready(a.User) }), nil
}

// Offer gives an idle interviewer the next due case, already dialing
// (dialer.Agents, progressive mode); survey.ENotFound when no case is due
// for them. Their pages show the case and the call at once.
func (s *Server) Offer(ctx context.Context, id survey.UserID, name string) error {
	u := survey.User{ID: id, Name: name, Role: survey.RoleInterviewer}
	defer s.console.hub.refreshUser(id)
	d, err := s.console.Desks.ClaimNext(ctx, id, name, s.desks.now())
	if err != nil {
		return err
	}
	return s.dial(ctx, u, d.CaseID)
}

// DialPreview dials the case on an interviewer's desk for them
// (dialer.Agents: a preview's auto-dial, or a progressive case left
// undialed).
func (s *Server) DialPreview(ctx context.Context, id survey.UserID, name string, caseID survey.CaseID) error {
	defer s.console.hub.refreshUser(id)
	return s.dial(ctx, survey.User{ID: id, Name: name, Role: survey.RoleInterviewer}, caseID)
}

// hand gives the dialer's answered call of job to the interviewer waiting
// longest whose slot fit accepts (idle, phone ready): the case and its
// attempt become theirs (HandDial) and their pages refresh. 0 when nobody
// could take it.
func (s *Server) hand(ctx context.Context, job survey.DialJob, fit func(survey.AgentSlot) bool) (survey.UserID, error) {
	slots, err := s.Waiting(ctx)
	if err != nil {
		return 0, err
	}
	for _, a := range slots {
		if a.State != survey.DeskIdle || !fit(a) {
			continue
		}
		_, err := s.console.Desks.HandDial(ctx, a.User, a.Name, job, s.desks.now())
		if survey.ErrorCodeOf(err) == survey.EConflict {
			continue // not theirs to take (another campaign, another call)
		}
		if err != nil {
			return 0, err
		}
		s.console.hub.refreshUser(a.User)
		return a.User, nil
	}
	return 0, nil
}

// DialPredictive places a predictive campaign's call (dialer.Agents): when
// it is answered it goes to the interviewer waiting longest among those
// idle on a predictive campaign of theirs with the phone connected — the
// case and the call on their screen at once — or, with nobody free within
// survey.AbandonAfter, the respondent hears the campaign's abandoned-call
// message and the call ends. With the campaign's AMD policy a machine is
// hung up on or left its message, or passed on like a person.
func (s *Server) DialPredictive(ctx context.Context, job survey.DialJob, d survey.Dialing) (survey.PredictedCall, error) {
	if s.phones == nil {
		return survey.PredictedCall{Outcome: survey.DialCancelled}, survey.Errorf(survey.EConflict, "the console has no phone")
	}
	take := func(ctx context.Context) (survey.UserID, error) {
		return s.hand(ctx, job, func(a survey.AgentSlot) bool { return a.Predictive })
	}
	return s.phones.Predictive(ctx, survey.PhoneCall{CaseID: job.Case, AttemptID: job.Attempt, Number: job.Phone, Language: job.Language,
		AMD: d.AMD, MachineMessage: d.MachineMessage}, take, d.AbandonMessage)
}

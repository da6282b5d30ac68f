// Package phone is the console's switchboard: it keeps each console user's
// browser leg (one WebRTC peer connection per user, kept across calls),
// places an interviewer's calls through the dial seam (ivr.Dialer) and
// joins the answered call to the browser in a media.Room, where a
// supervisor can listen, whisper or barge and both sides can be recorded.
//
// It reports every move of a call as a survey.CallEvent on Events; the
// console shows them and stores them with the attempt. A browser that
// reloads gets its call back (the respondent hears a moment of silence); a
// browser that goes away for longer than Grace ends its call.
package phone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/survey"
)

// The parties of a call's room.
const (
	respondent  = "respondent"
	interviewer = "interviewer"
	supervisor  = "supervisor"
)

// Browser is a console user's audio: the WebRTC peer (ivr/webrtc's Peer).
type Browser interface {
	media.Leg
	Close() error
}

// Deps is what a Switchboard works with.
type Deps struct {
	// Dialer places interviewers' calls (ivr/sipua's Server through its
	// trunk, or ivr/asterisk's Client).
	Dialer ivr.Dialer
	// Answer answers a browser's SDP offer with its leg and the answer
	// SDP (ivr/webrtc's Server.Answer).
	Answer func(ctx context.Context, offer string) (Browser, string, error)
	// RecordingsDir is where recorded calls are written, as
	// cati-<attempt>.wav; "" records nothing.
	RecordingsDir string
	// Grace is how long a call waits for its interviewer's browser to come
	// back (a reload, a network blip) before it is hung up; default 15 s.
	Grace time.Duration
	// RingTimeout is how long a call may ring; 0 is the dialer's default.
	RingTimeout time.Duration
	// DialString turns a number into the dialer's address ({number} is
	// replaced); "" dials the number as it is.
	DialString string
	Log        *slog.Logger
}

// Errors of the switchboard, as coded survey errors the console shows.
var (
	errNoPhone   = survey.Errorf(survey.EConflict, "the phone is not connected: allow the microphone and wait for the phone bar to say ready")
	errOnCall    = survey.Errorf(survey.EConflict, "there is already a call on this phone: hang it up first")
	errNoCall    = survey.Errorf(survey.EConflict, "there is no call on this phone")
	errNotUp     = survey.Errorf(survey.EConflict, "the call is not answered yet")
	errNoDigits  = survey.Errorf(survey.EConflict, "this call cannot send keypad tones")
	errMonitored = survey.Errorf(survey.EConflict, "another supervisor is already on this call")
)

// Switchboard keeps the console users' phones. Build it with New.
type Switchboard struct {
	d      Deps
	log    *slog.Logger
	events chan survey.CallEvent

	mu     sync.Mutex
	users  map[survey.UserID]*user
	closed bool
	wg     sync.WaitGroup
	ended  media.RoomStats // the rooms of ended calls
}

// user is one console user's phone.
type user struct {
	id      survey.UserID
	browser Browser // nil while none is connected
	call    *call   // the interviewer's call, nil when none
	last    *call   // the interviewer's latest call, ended or not
	watch   *call   // the call a supervisor is on, nil when none
	grace   *time.Timer
}

// call is one interviewer's call. ev, and the fields after it, are guarded
// by the switchboard's mu.
type call struct {
	owner   *user
	cancel  context.CancelFunc // abandons the dial
	hangup  chan string        // who asks to hang up; buffered 1
	up      ivr.Call           // the answered call
	room    *media.Room
	ev      survey.CallEvent
	watcher *user // the supervisor on the call
	record  bool
	// stopRecording finishes the call's recording; nil when none.
	stopRecording func()
}

// New returns a switchboard over d.
func New(d Deps) *Switchboard {
	if d.Grace <= 0 {
		d.Grace = 15 * time.Second
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Switchboard{d: d, log: d.Log, events: make(chan survey.CallEvent, 256), users: map[survey.UserID]*user{}}
}

// Events is every move of every call, in order per call. A reader must
// keep up: when 256 are waiting the oldest is dropped (and logged), since
// a call never waits for its console.
func (sb *Switchboard) Events() <-chan survey.CallEvent { return sb.events }

// emit sends c's event; the caller holds mu.
func (sb *Switchboard) emit(c *call) {
	ev := c.view()
	for {
		select {
		case sb.events <- ev:
			return
		default:
		}
		select {
		case old := <-sb.events:
			sb.log.Warn("call event dropped: the console is behind", "user_id", old.User, "state", old.State)
		default:
		}
	}
}

// userLocked returns u's phone, made when first needed; the caller holds mu.
func (sb *Switchboard) userLocked(id survey.UserID) *user {
	u := sb.users[id]
	if u == nil {
		u = &user{id: id}
		sb.users[id] = u
	}
	return u
}

// Connect answers the offer of u's browser and makes it u's phone,
// replacing the one before (a reload): a call in progress, or a call being
// listened to, continues on the new browser.
func (sb *Switchboard) Connect(ctx context.Context, id survey.UserID, offer string) (string, error) {
	b, answer, err := sb.d.Answer(ctx, offer)
	if err != nil {
		return "", err
	}
	sb.mu.Lock()
	if sb.closed {
		sb.mu.Unlock()
		b.Close()
		return "", survey.Errorf(survey.EConflict, "the server is shutting down")
	}
	u := sb.userLocked(id)
	old := u.browser
	u.browser = b
	if u.grace != nil {
		u.grace.Stop()
		u.grace = nil
	}
	if c := u.call; c != nil && c.room != nil {
		c.room.Leave(interviewer)
		if err := c.room.Join(interviewer, b); err != nil {
			sb.log.Error("rejoin the interviewer's browser", "user_id", id, "err", err)
		}
		sb.routeLocked(c) // Leave took the browser out of the routes
	}
	if c := u.watch; c != nil && c.room != nil {
		c.room.Leave(supervisor)
		if err := c.room.Join(supervisor, b); err != nil {
			sb.log.Error("rejoin the supervisor's browser", "user_id", id, "err", err)
		}
		sb.routeLocked(c)
	}
	sb.mu.Unlock()
	if old != nil {
		old.Close()
	}
	sb.wg.Add(1)
	go sb.watchBrowser(u, b)
	return answer, nil
}

// watchBrowser notices a browser gone: a call waits Grace for a new one,
// then ends; a supervisor leaves the call they were on.
func (sb *Switchboard) watchBrowser(u *user, b Browser) {
	defer sb.wg.Done()
	<-b.Done()
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if u.browser != b {
		return // replaced
	}
	u.browser = nil
	if c := u.watch; c != nil {
		sb.unwatchLocked(c)
	}
	c := u.call
	if c == nil || sb.closed {
		return
	}
	sb.log.Info("interviewer's browser gone: the call waits for it", "user_id", u.id, "grace", sb.d.Grace)
	sb.graceLocked(u, "the interviewer's browser went away")
}

// graceLocked gives u's call Grace to see its interviewer back (Connect,
// or Back with the browser still up); then it is hung up, as why says.
func (sb *Switchboard) graceLocked(u *user, why string) {
	c := u.call
	if c == nil || u.grace != nil {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(sb.d.Grace, func() {
		sb.mu.Lock()
		defer sb.mu.Unlock()
		if u.grace != t || u.call != c {
			return
		}
		u.grace = nil
		sb.log.Warn("the interviewer did not come back: hanging up", "user_id", u.id, "why", why)
		c.ev.Reason = why
		c.ask("system")
	})
	u.grace = t
}

// Away says id's console is gone (its last page closed or lost its
// connection): a call waits Grace for it to come back.
func (sb *Switchboard) Away(id survey.UserID) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if u := sb.users[id]; u != nil && u.call != nil {
		sb.log.Info("interviewer's console gone: the call waits for it", "user_id", id, "grace", sb.d.Grace)
		sb.graceLocked(u, "the interviewer's console went away")
	}
}

// Back says id's console is here again: a call waiting for it goes on when
// the browser's audio is still up (a new one calls Connect instead).
func (sb *Switchboard) Back(id survey.UserID) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if u := sb.users[id]; u != nil && u.browser != nil && u.grace != nil {
		u.grace.Stop()
		u.grace = nil
	}
}

// view is c's event with its supervisor; the caller holds mu.
func (c *call) view() survey.CallEvent {
	ev := c.ev
	ev.Monitor, ev.Supervisor = "", 0
	if c.watcher != nil {
		ev.Monitor, ev.Supervisor = c.ev.Monitor, c.watcher.id
	}
	return ev
}

// ask asks c's goroutine to end the call on behalf of who.
func (c *call) ask(who string) {
	select {
	case c.hangup <- who:
	default:
	}
	c.cancel()
}

// Dial calls r.Number for interviewer id and joins the answered call to
// their browser. It returns once the call is placed; how it goes arrives
// on Events.
func (sb *Switchboard) Dial(id survey.UserID, r survey.PhoneCall) error {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.closed {
		return survey.Errorf(survey.EConflict, "the server is shutting down")
	}
	u := sb.userLocked(id)
	if u.browser == nil {
		return errNoPhone
	}
	if u.call != nil {
		return errOnCall
	}
	if u.watch != nil {
		return survey.Errorf(survey.EConflict, "leave the call you are listening to first")
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &call{owner: u, cancel: cancel, hangup: make(chan string, 1), record: r.Record && sb.d.RecordingsDir != "",
		ev: survey.CallEvent{User: id, CaseID: r.CaseID, AttemptID: r.AttemptID, State: survey.CallDialing, StartedAt: time.Now()}}
	u.call, u.last = c, c
	sb.emit(c)
	sb.wg.Add(1)
	go sb.run(ctx, c, r)
	return nil
}

// run places c and carries it to its end.
func (sb *Switchboard) run(ctx context.Context, c *call, r survey.PhoneCall) {
	defer sb.wg.Done()
	defer c.cancel()
	log := sb.log.With("user_id", c.ev.User, "case_id", r.CaseID, "attempt_id", r.AttemptID)
	to := r.Number
	if sb.d.DialString != "" {
		to = strings.ReplaceAll(sb.d.DialString, "{number}", r.Number)
	}
	req := ivr.DialRequest{To: to, CaseID: r.CaseID, AttemptID: r.AttemptID, RingTimeout: sb.d.RingTimeout,
		Ringing: func() {
			sb.mu.Lock()
			defer sb.mu.Unlock()
			if c.ev.State == survey.CallDialing {
				c.ev.State = survey.CallRinging
				sb.emit(c)
			}
		}}
	up, res, err := sb.d.Dialer.Dial(ctx, req)
	if up == nil {
		sb.mu.Lock()
		c.ev.CallID, c.ev.SIPStatus, c.ev.Q850Cause = res.CallID, res.SIPStatus, res.Q850Cause
		c.ev.Outcome, c.ev.Reason = res.Outcome, res.Reason
		if c.ev.Outcome == "" {
			c.ev.Outcome = survey.DialTechnical
		}
		if err != nil && c.ev.Outcome != survey.DialCancelled {
			c.ev.Reason = err.Error()
		}
		select {
		case who := <-c.hangup:
			c.ev.HungUpBy = who
		default:
		}
		sb.endLocked(c, time.Now())
		sb.mu.Unlock()
		log.Info("call not answered", "outcome", res.Outcome, "sip_status", res.SIPStatus, "reason", c.ev.Reason)
		return
	}
	sb.mu.Lock()
	c.ev.CallID, c.ev.SIPStatus = res.CallID, res.SIPStatus
	sb.mu.Unlock()
	sb.carry(ctx, c, up, log)
}

// carry joins c's answered call to its interviewer's browser and keeps it
// until it ends, whoever ends it.
func (sb *Switchboard) carry(ctx context.Context, c *call, up ivr.Call, log *slog.Logger) {
	leg, err := legOf(ctx, up)
	sb.mu.Lock()
	c.up = up
	c.ev.Outcome = survey.DialAnswered
	c.ev.State, c.ev.AnsweredAt = survey.CallAnswered, time.Now()
	if err == nil {
		err = sb.bridgeLocked(c, leg)
	}
	if err != nil {
		c.ev.Reason = "the call could not be joined to the browser: " + err.Error()
		log.Error("bridge the answered call", "err", err)
		c.ask("system")
	}
	sb.emit(c)
	sb.mu.Unlock()
	log.Info("call answered", "call_id", c.ev.CallID)

	who := "respondent"
	select {
	case <-up.Done():
	case who = <-c.hangup:
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	end, err := up.Close(closeCtx)
	cancel()
	if err != nil {
		log.Warn("close the call", "err", err)
	}
	sb.mu.Lock()
	c.ev.HungUpBy = who
	if end.Q850Cause != 0 {
		c.ev.Q850Cause = end.Q850Cause
	}
	if c.ev.Reason == "" {
		c.ev.Reason = end.Reason
	}
	sb.endLocked(c, c.ev.AnsweredAt.Add(end.Talk))
	sb.mu.Unlock()
	log.Info("call ended", "hung_up_by", who, "talk", end.Talk.Round(time.Millisecond))
}

// legOf is the answered call's audio: ivr/sipua's calls have it at once,
// ivr/asterisk's once a bridge to Canvass's media is made.
func legOf(ctx context.Context, c ivr.Call) (media.Leg, error) {
	switch l := c.(type) {
	case interface{ Leg() media.Leg }:
		return l.Leg(), nil
	case interface {
		Leg(context.Context) (media.Leg, error)
	}:
		return l.Leg(ctx)
	}
	return nil, errors.New("this telephony adapter cannot bridge a call's audio")
}

// bridgeLocked joins the answered call and the interviewer's browser in a
// room, and starts recording when the campaign records.
func (sb *Switchboard) bridgeLocked(c *call, leg media.Leg) error {
	c.room = media.NewRoom()
	if err := c.room.Join(respondent, leg); err != nil {
		return err
	}
	if b := c.owner.browser; b != nil {
		if err := c.room.Join(interviewer, b); err != nil {
			return err
		}
	}
	sb.routeLocked(c)
	if c.record {
		name := "cati-" + strconv.FormatInt(int64(c.ev.AttemptID), 10)
		if err := sb.startRecording(c, name); err != nil {
			sb.log.Error("record the call", "user_id", c.ev.User, "err", err)
		} else {
			c.ev.Recording = name
		}
	}
	return nil
}

// startRecording records both sides of c's room: the respondent on the
// left, the interviewer on the right.
func (sb *Switchboard) startRecording(c *call, name string) error {
	f, err := os.OpenFile(filepath.Join(sb.d.RecordingsDir, name+".wav"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	rec, err := c.room.Record(f, respondent, interviewer)
	if err != nil {
		return errors.Join(err, f.Close())
	}
	c.stopRecording = func() {
		if _, err := rec.Stop(); err != nil {
			sb.log.Error("finish the recording", "name", name, "err", err)
		}
		if err := f.Close(); err != nil {
			sb.log.Error("close the recording", "name", name, "err", err)
		}
	}
	return nil
}

// routeLocked sets who hears whom in c's room from the call's state.
func (sb *Switchboard) routeLocked(c *call) {
	if c.room == nil {
		return
	}
	mode := survey.MonitorOff
	if c.watcher != nil {
		mode = c.ev.Monitor
	}
	rt := routes(c.ev.Muted, c.ev.Held || c.ev.Keypad, mode)
	for _, p := range []string{respondent, interviewer, supervisor} {
		c.room.Hear(p, rt[p]...)
	}
}

// routes says who hears whom. Held (or on the keypad, where the call's own
// prompts play to the respondent): the respondent hears nothing of us and
// the interviewer nothing of them. Muted: the respondent does not hear the
// interviewer. Listen: the supervisor hears both, nobody hears them;
// whisper: the interviewer hears them too; barge: everybody does.
func routes(muted, held bool, mode survey.MonitorMode) map[string][]string {
	rt := map[string][]string{}
	if !held {
		if !muted {
			rt[respondent] = append(rt[respondent], interviewer)
		}
		rt[interviewer] = append(rt[interviewer], respondent)
	}
	switch mode {
	case survey.MonitorListen, survey.MonitorWhisper, survey.MonitorBarge:
		rt[supervisor] = []string{respondent, interviewer}
	}
	if mode == survey.MonitorWhisper || mode == survey.MonitorBarge {
		rt[interviewer] = append(rt[interviewer], supervisor)
	}
	if mode == survey.MonitorBarge && !held {
		rt[respondent] = append(rt[respondent], supervisor)
	}
	return rt
}

// endLocked ends c at t: its room, its recording, its supervisor; the
// interviewer is free to dial again.
func (sb *Switchboard) endLocked(c *call, t time.Time) {
	if c.ev.State == survey.CallEnded {
		return
	}
	if c.stopRecording != nil {
		c.stopRecording()
	}
	if c.room != nil {
		c.room.Close()
		sb.ended.Add(c.room.Stats())
	}
	if w := c.watcher; w != nil {
		w.watch = nil
		c.watcher = nil
	}
	c.ev.State, c.ev.EndedAt = survey.CallEnded, t
	if c.owner.call == c {
		c.owner.call = nil
	}
	if g := c.owner.grace; g != nil {
		g.Stop()
		c.owner.grace = nil
	}
	sb.emit(c)
}

// callOf is id's call; the caller holds mu.
func (sb *Switchboard) callOf(id survey.UserID) (*call, error) {
	u := sb.users[id]
	if u == nil || u.call == nil {
		return nil, errNoCall
	}
	return u.call, nil
}

// Hangup ends id's call: abandons it while it rings.
func (sb *Switchboard) Hangup(id survey.UserID) error {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	c, err := sb.callOf(id)
	if err != nil {
		return err
	}
	c.ask("interviewer")
	return nil
}

// Mute stops (or restarts) the respondent hearing id.
func (sb *Switchboard) Mute(id survey.UserID, on bool) error {
	return sb.setCall(id, func(c *call) { c.ev.Muted = on })
}

// Hold puts id's respondent on hold (nobody hears the other) or takes them
// off it.
func (sb *Switchboard) Hold(id survey.UserID, on bool) error {
	return sb.setCall(id, func(c *call) { c.ev.Held = on })
}

func (sb *Switchboard) setCall(id survey.UserID, set func(*call)) error {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	c, err := sb.callOf(id)
	if err != nil {
		return err
	}
	if c.ev.State != survey.CallAnswered {
		return errNotUp
	}
	set(c)
	sb.routeLocked(c)
	sb.emit(c)
	return nil
}

// Digits sends keypad tones to the far end of id's call.
func (sb *Switchboard) Digits(ctx context.Context, id survey.UserID, digits string) error {
	sb.mu.Lock()
	c, err := sb.callOf(id)
	var up ivr.Call
	if err == nil {
		up = c.up
	}
	sb.mu.Unlock()
	if err != nil {
		return err
	}
	if up == nil {
		return errNotUp
	}
	s, ok := up.(interface {
		SendDigits(context.Context, string) error
	})
	if !ok {
		return errNoDigits
	}
	if err := s.SendDigits(ctx, digits); err != nil {
		if errors.Is(err, media.ErrEnded) {
			return errNoCall
		}
		return survey.Errorf(survey.EInvalid, "keypad: %v", err)
	}
	return nil
}

// Monitor puts supervisor sup on target's call in mode, switches the mode
// of the call they are on, or (MonitorOff) takes them off it.
func (sb *Switchboard) Monitor(sup, target survey.UserID, mode survey.MonitorMode) error {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	s := sb.userLocked(sup)
	if mode == survey.MonitorOff {
		if s.watch != nil {
			sb.unwatchLocked(s.watch)
		}
		return nil
	}
	if s.browser == nil {
		return errNoPhone
	}
	c, err := sb.callOf(target)
	if err != nil {
		return survey.Errorf(survey.EConflict, "this interviewer is not on a call")
	}
	if c.ev.State != survey.CallAnswered || c.room == nil {
		return survey.Errorf(survey.EConflict, "this interviewer's call is not answered yet")
	}
	if c.watcher != nil && c.watcher != s {
		return errMonitored
	}
	if s.watch != nil && s.watch != c {
		sb.unwatchLocked(s.watch)
	}
	if c.watcher == nil {
		if err := c.room.Join(supervisor, s.browser); err != nil {
			return fmt.Errorf("join the supervisor: %w", err)
		}
		c.watcher, s.watch = s, c
	}
	c.ev.Monitor = mode
	sb.routeLocked(c)
	sb.emit(c)
	return nil
}

// unwatchLocked takes c's supervisor off it.
func (sb *Switchboard) unwatchLocked(c *call) {
	if c.watcher == nil {
		return
	}
	c.watcher.watch = nil
	c.watcher = nil
	c.ev.Monitor = survey.MonitorOff
	if c.room != nil {
		c.room.Leave(supervisor)
		sb.routeLocked(c)
	}
	if c.ev.State != survey.CallEnded {
		sb.emit(c)
	}
}

// Call is id's call as it stands, or as the last one ended.
func (sb *Switchboard) Call(id survey.UserID) (survey.CallEvent, bool) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	u := sb.users[id]
	if u == nil || u.last == nil {
		return survey.CallEvent{}, false
	}
	c := u.last
	return c.view(), true
}

// Ready reports whether id's browser is connected.
func (sb *Switchboard) Ready(id survey.UserID) bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	u := sb.users[id]
	return u != nil && u.browser != nil
}

// RoomStats sums the counters of every call's room since the switchboard
// started: frames passed through, mixed, and dropped (media.RoomStats).
func (sb *Switchboard) RoomStats() media.RoomStats {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	st := sb.ended
	for _, u := range sb.users {
		if c := u.call; c != nil && c.room != nil && c.ev.State != survey.CallEnded {
			st.Add(c.room.Stats())
		}
	}
	return st
}

// Calls are the calls not yet ended.
func (sb *Switchboard) Calls() []survey.CallEvent {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	var out []survey.CallEvent
	for _, u := range sb.users {
		if u.call != nil {
			out = append(out, u.call.view())
		}
	}
	return out
}

// Watching is the interviewer whose call supervisor id is on, and how.
func (sb *Switchboard) Watching(id survey.UserID) (survey.UserID, survey.MonitorMode, bool) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	u := sb.users[id]
	if u == nil || u.watch == nil {
		return 0, "", false
	}
	return u.watch.owner.id, u.watch.ev.Monitor, true
}

// Close hangs up every call, closes every browser leg and waits for them.
func (sb *Switchboard) Close(ctx context.Context) error {
	sb.mu.Lock()
	sb.closed = true
	for _, u := range sb.users {
		if u.call != nil {
			u.call.ev.Reason = "the server is shutting down"
			u.call.ask("system")
		}
		if u.browser != nil {
			u.browser.Close()
		}
	}
	sb.mu.Unlock()
	done := make(chan struct{})
	go func() { sb.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("phone: calls still ending: %w", ctx.Err())
	}
}

// Predictive places r's call for whoever is free when it is answered
// (predictive dialing): take is asked, until survey.AbandonAfter after the
// answer, for an interviewer to give the call to; it records the hand-over
// and returns their id, or 0 while nobody is free. The call then goes on as
// if they had dialed it, on Events. With nobody in time the respondent
// hears message (who called, a number to opt out) and the call ends,
// abandoned. Predictive returns once the call is handed, abandoned or
// not answered; ending ctx before the answer abandons the dial.
func (sb *Switchboard) Predictive(ctx context.Context, r survey.PhoneCall, take func(context.Context) (survey.UserID, error), message string) (survey.PredictedCall, error) {
	sb.mu.Lock()
	if sb.closed {
		sb.mu.Unlock()
		return survey.PredictedCall{Outcome: survey.DialCancelled}, survey.Errorf(survey.EConflict, "the server is shutting down")
	}
	sb.wg.Add(1)
	sb.mu.Unlock()
	handed := false
	defer func() {
		if !handed {
			sb.wg.Done()
		}
	}()
	log := sb.log.With("case_id", r.CaseID, "attempt_id", r.AttemptID, "predictive", true)
	to := r.Number
	if sb.d.DialString != "" {
		to = strings.ReplaceAll(sb.d.DialString, "{number}", r.Number)
	}
	started := time.Now()
	up, res, err := sb.d.Dialer.Dial(ctx, ivr.DialRequest{To: to, CaseID: r.CaseID, AttemptID: r.AttemptID, RingTimeout: sb.d.RingTimeout,
		AMD: r.AMD != survey.AMDOff})
	p := survey.PredictedCall{Outcome: res.Outcome, Facts: survey.CallFacts{CallID: res.CallID, SIPStatus: res.SIPStatus,
		Q850Cause: res.Q850Cause, Ring: res.RingTime, Reason: res.Reason, AMD: string(res.AMD), AMDCause: res.AMDCause, AMDTime: res.AMDTime}}
	if up == nil {
		if p.Outcome == "" {
			p.Outcome = survey.DialTechnical
		}
		p.Facts.EndedAt = time.Now()
		return p, err
	}
	p.Facts.AnsweredAt = time.Now().Add(-res.AMDTime)
	lang := r.Language
	if lang == "" {
		lang = "en"
	}
	say := func(id, text string) (ivr.CallEnd, error) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if text != "" && !isDone(up) {
			if err := ivr.NewCall(up, time.Now).Say(sctx, ivr.Prompt{ID: id, Language: lang, Text: text}); err != nil && !errors.Is(err, ivr.ErrHangup) {
				log.Warn("say "+id, "err", err)
			}
		}
		return up.Close(sctx)
	}
	if res.AMD == ivr.AMDMachine && (r.AMD == survey.AMDHangup || r.AMD == survey.AMDMessage) {
		text := ""
		if r.AMD == survey.AMDMessage {
			text = r.MachineMessage
		}
		end, err := say("machine_message", text)
		p.Facts.EndedAt, p.Facts.Talk, p.Facts.HungUpBy, p.Facts.Reason = time.Now(), end.Talk, "system", "answering machine"
		log.Info("answering machine", "cause", res.AMDCause, "message", text != "")
		return p, err
	}
	deadline := time.Now().Add(survey.AbandonAfter)
	for {
		id, err := take(ctx)
		if err != nil {
			log.Warn("hand the answered call to an interviewer", "err", err)
		}
		if id != 0 {
			p.User = id
			break
		}
		if !time.Now().Add(takeEvery).Before(deadline) {
			break
		}
		select {
		case <-time.After(takeEvery):
		case <-up.Done():
		}
		if isDone(up) {
			break
		}
	}
	if p.User == 0 {
		// Abandoned: nobody to take the call in time.
		end, err := say("abandon_message", message)
		if err != nil {
			log.Warn("close the abandoned call", "err", err)
		}
		p.Facts.Abandoned, p.Facts.EndedAt, p.Facts.Talk = true, p.Facts.AnsweredAt.Add(end.Talk), end.Talk
		p.Facts.HungUpBy, p.Facts.Reason = "system", "abandoned: no interviewer free within 2 s"
		log.Info("call abandoned: nobody free in time", "after", time.Since(p.Facts.AnsweredAt).Round(time.Millisecond))
		return p, nil
	}
	if err := sb.adopt(up, r, p.User, started, res, log); err != nil {
		_, cerr := up.Close(context.WithoutCancel(ctx))
		return p, errors.Join(err, cerr)
	}
	handed = true
	return p, nil
}

// adopt makes the answered call up user's, as if they had dialed it, and
// carries it to its end in a goroutine that ends the switchboard's wg hold
// the caller took. errOnCall when user is on another call (take promised a
// free interviewer): the call is still the caller's to close.
func (sb *Switchboard) adopt(up ivr.Call, r survey.PhoneCall, user survey.UserID, started time.Time, res ivr.DialResult, log *slog.Logger) error {
	sb.mu.Lock()
	u := sb.userLocked(user)
	ctx, cancel := context.WithCancel(context.Background())
	c := &call{owner: u, cancel: cancel, hangup: make(chan string, 1), record: r.Record && sb.d.RecordingsDir != "",
		ev: survey.CallEvent{User: user, CaseID: r.CaseID, AttemptID: r.AttemptID, State: survey.CallRinging, StartedAt: started,
			CallID: res.CallID, SIPStatus: res.SIPStatus}}
	busy := u.call != nil
	if !busy {
		u.call, u.last = c, c
	}
	sb.mu.Unlock()
	if busy {
		log.Error("the interviewer given the call is on another call", "user_id", user)
		cancel()
		return errOnCall
	}
	go func() {
		defer sb.wg.Done()
		defer cancel()
		sb.carry(ctx, c, up, log.With("user_id", user))
	}()
	return nil
}

// Adopt gives an answered call another part of Canvass placed (a keypad
// survey's respondent who asked for an interviewer: mixed mode) to
// interviewer user, as if they had dialed it: bridged to their browser,
// with listen, whisper, barge and recording, its moves on Events. The call
// is then the switchboard's to close. errOnCall when user is on a call,
// errNoPhone when their browser is not connected; the call is then still
// the caller's.
func (sb *Switchboard) Adopt(up ivr.Call, r survey.PhoneCall, user survey.UserID, callID string) error {
	sb.mu.Lock()
	if sb.closed {
		sb.mu.Unlock()
		return survey.Errorf(survey.EConflict, "the server is shutting down")
	}
	if u := sb.userLocked(user); u.browser == nil {
		sb.mu.Unlock()
		return errNoPhone
	}
	sb.wg.Add(1)
	sb.mu.Unlock()
	log := sb.log.With("case_id", r.CaseID, "attempt_id", r.AttemptID, "transfer", true)
	err := sb.adopt(up, r, user, time.Now(), ivr.DialResult{CallID: callID}, log)
	if err != nil {
		sb.wg.Done()
	}
	return err
}

// Keypad hands the respondent of id's answered call to the keypad (mixed
// mode): the interviewer stops hearing them and they stop hearing the
// interviewer while run asks its questions on the call, then both hear
// each other again. It returns at once; the moves arrive on Events
// (CallEvent.Keypad). A call already on the keypad is survey.EConflict.
func (sb *Switchboard) Keypad(id survey.UserID, run func(ctx context.Context, m ivr.Media) error) error {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	c, err := sb.callOf(id)
	if err != nil {
		return err
	}
	switch {
	case c.up == nil || c.ev.State != survey.CallAnswered:
		return errNotUp
	case c.ev.Keypad:
		return survey.Errorf(survey.EConflict, "the respondent is already on the keypad")
	}
	c.ev.Keypad = true
	sb.routeLocked(c)
	sb.emit(c)
	sb.wg.Add(1)
	go func() {
		defer sb.wg.Done()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-c.up.Done():
			case <-ctx.Done():
			}
			cancel()
		}()
		err := run(ctx, c.up)
		sb.mu.Lock()
		defer sb.mu.Unlock()
		if err != nil && !errors.Is(err, ivr.ErrHangup) {
			sb.log.Error("keypad questions", "user_id", id, "case_id", c.ev.CaseID, "err", err)
		}
		if c.ev.State == survey.CallEnded {
			return
		}
		c.ev.Keypad = false
		sb.routeLocked(c)
		sb.emit(c)
	}()
	return nil
}

// takeEvery is how often a predictive call answered with nobody free asks
// again before it is abandoned.
const takeEvery = 100 * time.Millisecond

// isDone says whether the call has ended.
func isDone(c ivr.Call) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

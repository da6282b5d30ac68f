package cati

// This file is the desk workflow: every step an interviewer takes on a case
// (claim, dial, the dial's outcome, answer, skip, back up, end the call, wrap
// up) and what a supervisor does to one (reassign, release, close). It is
// plain code over typed ids with no HTTP in it, so that the console's
// WebSocket and the dialer move desks alike; the rules it applies are
// survey's, and the store keeps every step compare-and-set.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/canvass/canvass/survey"
)

// Desks moves interviewers' desks and cases. Build it with NewDesks.
type Desks struct {
	store          DeskStore
	campaigns      CampaignStore
	answers        AnswerStore
	floor          FloorStore
	questionnaires QuestionnaireStore
	interviews     InterviewStore
	parsed         *survey.Parsed
	now            func() time.Time
	log            *slog.Logger
}

// NewDesks returns the desk workflow over the console's stores and store's
// questionnaires (parsed once, through parsed) and interviews.
func NewDesks(c Console, store Store, parsed *survey.Parsed, now func() time.Time, log *slog.Logger) *Desks {
	if now == nil {
		now = time.Now
	}
	return &Desks{store: c.Desks, campaigns: c.Campaigns, answers: c.Answers, floor: c.Floor,
		questionnaires: store, interviews: store, parsed: parsed, now: now, log: log}
}

// userLog is the logger of one user's steps.
func (ds *Desks) userLog(u survey.User) *slog.Logger { return userLogger(ds.log, u) }

// engine rebuilds the desk's interview from the store: the questionnaire
// version it is pinned to, its answers, and the question the interviewer
// had backed up to.
func (ds *Desks) engine(ctx context.Context, d survey.Desk) (*survey.Interview, survey.InterviewRecord, error) {
	rec, err := ds.interviews.Interview(ctx, d.InterviewID)
	if err != nil {
		return nil, rec, fmt.Errorf("load interview %d: %w", d.InterviewID, err)
	}
	q, err := ds.questionnaire(ctx, rec.Questionnaire, rec.Version)
	if err != nil {
		return nil, rec, err
	}
	iv, err := q.Resume(rec.Language, rec.Contact, rec.Answers, ds.now)
	if err != nil {
		return nil, rec, fmt.Errorf("resume interview %d: %w", d.InterviewID, err)
	}
	iv.SetContext(rec.Context)
	if h, ok := ds.interviews.(customerHistory); ok && rec.Context.CustomerID != "" && len(q.Alerts) > 0 {
		if prev, ok, err := h.LastInterviewOf(ctx, rec.Context.CustomerID, rec.StartedAt, rec.ID); err == nil && ok {
			if pv, err := ds.questionnaire(ctx, prev.Questionnaire, prev.Version); err == nil {
				if nps, ok := pv.NPSOf(prev.Answers); ok {
					iv.SetPreviousNPS(nps)
				}
			}
		}
	}
	if d.Question != "" {
		seek(q, iv, d.Question)
	}
	return iv, rec, nil
}

// customerHistory finds a customer's previous survey (sql.DB), for the
// previous_nps of alert rules.
type customerHistory interface {
	LastInterviewOf(ctx context.Context, customer string, before time.Time, except survey.InterviewID) (survey.InterviewRecord, bool, error)
}

// seek moves a resumed interview to the question on the desk: forward over
// the statements Resume stops on before the first unanswered question (the
// interviewer may have read them already), or back to an earlier question
// the interviewer backed up to.
func seek(q *survey.Questionnaire, iv *survey.Interview, id string) {
	at := slices.IndexFunc(q.Questions, func(x *survey.Question) bool { return x.ID == id })
	for cur := iv.Current(); cur != nil && cur.ID != id && !cur.Answerable() &&
		slices.Index(q.Questions, cur) < at; cur = iv.Current() {
		if _, _, err := iv.Answer(nil, survey.Paradata{}); err != nil {
			break
		}
	}
	for range len(q.Questions) {
		if cur := iv.Current(); cur == nil || cur.ID == id {
			break
		}
		if _, err := iv.Back(); err != nil {
			break
		}
	}
}

// questionnaire loads and parses a stored version (0 = latest).
func (ds *Desks) questionnaire(ctx context.Context, id string, version int) (*survey.Questionnaire, error) {
	v, err := ds.questionnaires.Questionnaire(ctx, id, version)
	if err != nil {
		return nil, fmt.Errorf("load questionnaire %s v%d: %w", id, version, err)
	}
	return ds.parsed.Get(v)
}

// errNothingDue is what "next case" says when no case may be called now.
var errNothingDue = survey.Errorf(survey.ENotFound, "no case is due for your campaigns right now (outside calling hours, or all called); try again in a few minutes")

// checkCase refuses a step about another case than the desk's: a stale
// screen, or a forged id.
func checkCase(d survey.Desk, caseID survey.CaseID) error {
	if caseID != d.CaseID || d.CaseID == 0 {
		return survey.Errorf(survey.EConflict, "case %d is not the case on your desk; your screen has been refreshed", caseID)
	}
	return nil
}

// ownDesk loads u's desk and checks that caseID is the case on it.
func (ds *Desks) ownDesk(ctx context.Context, u survey.User, caseID survey.CaseID) (survey.Desk, error) {
	d, err := ds.store.Desk(ctx, u.ID)
	if err != nil {
		return survey.Desk{}, err
	}
	return d, checkCase(d, caseID)
}

// Claim claims the best due case.
func (ds *Desks) Claim(ctx context.Context, u survey.User) error {
	log := ds.userLog(u)
	d, err := ds.store.ClaimNext(ctx, u.ID, u.Name, ds.now())
	if survey.ErrorCodeOf(err) == survey.ENotFound {
		return errNothingDue
	}
	if err != nil {
		return err
	}
	log.Info("case claimed", "case_id", d.CaseID)
	return nil
}

// Dial records that the interviewer is dialing the desk's case: a new
// attempt. It returns the call to place: the case's number, and whether
// the campaign records its calls.
func (ds *Desks) Dial(ctx context.Context, u survey.User, caseID survey.CaseID) (survey.PhoneCall, error) {
	if _, err := ds.ownDesk(ctx, u, caseID); err != nil {
		return survey.PhoneCall{}, err
	}
	cd, err := ds.store.Case(ctx, caseID)
	if err != nil {
		return survey.PhoneCall{}, err
	}
	camp, err := ds.campaigns.Campaign(ctx, cd.CampaignID)
	if err != nil {
		return survey.PhoneCall{}, err
	}
	st, err := camp.DecodeSettings()
	if err != nil {
		return survey.PhoneCall{}, err
	}
	d, err := ds.store.StartDial(ctx, u.ID, caseID, ds.now())
	if err != nil {
		return survey.PhoneCall{}, err
	}
	return survey.PhoneCall{CaseID: caseID, AttemptID: d.AttemptID, Number: cd.Contact.Phone, Record: st.RecordCalls}, nil
}

// DialResult records what happened on the line: a contact starts (or
// resumes) the interview; anything else settles the attempt.
func (ds *Desks) DialResult(ctx context.Context, u survey.User, caseID survey.CaseID, outcome survey.DialOutcome, note string) error {
	log := ds.userLog(u)
	d, err := ds.ownDesk(ctx, u, caseID)
	if err != nil {
		return err
	}
	code, ok := outcome.Code()
	if !ok {
		return survey.Errorf(survey.EInvalid, "unknown dial outcome %q", survey.Clip(string(outcome), 40))
	}
	if !d.State.Can(survey.MoveConnect) {
		return survey.Errorf(survey.EConflict, "record the outcome of a call after dialing it")
	}
	if code != "" {
		return ds.WrapUp(ctx, u, caseID, code, "", note)
	}
	cd, err := ds.store.Case(ctx, caseID)
	if err != nil {
		return err
	}
	camp, err := ds.campaigns.Campaign(ctx, cd.CampaignID)
	if err != nil {
		return err
	}
	v, err := ds.questionnaires.Questionnaire(ctx, camp.Questionnaire, 0)
	if err != nil {
		return fmt.Errorf("load questionnaire %s: %w", camp.Questionnaire, err)
	}
	q, err := ds.parsed.Get(v)
	if err != nil {
		return err
	}
	rec := survey.InterviewRecord{Questionnaire: v.ID, Version: v.Version, Mode: survey.ModeCATI,
		Language: contactLanguage(q, cd.Contact), Contact: contactFields(q, cd.Contact),
		Context: survey.Context{Agent: u.Name, CallerNumber: cd.Contact.Phone, Touchpoint: "cati:" + camp.Name}}
	d, err = ds.store.Connect(ctx, u.ID, caseID, rec, ds.now())
	if err != nil {
		return err
	}
	log.Info("respondent reached", "case_id", caseID, "interview_id", d.InterviewID)
	return nil
}

// InterviewStep is one move in the interview: an answer, a skip or a
// back-up.
type InterviewStep struct {
	Kind     string // answer, skip, back
	Question string // the question answered or skipped
	Value    any    // the answer, as decoded from JSON
	Millis   int64  // how long the question took, for paradata
}

// Step applies a step with the engine and commits it: the answer
// (and the answers it made irrelevant) before anything else, then where the
// desk stands. A value that fails validation changes nothing.
func (ds *Desks) Step(ctx context.Context, u survey.User, caseID survey.CaseID, st InterviewStep) error {
	log := ds.userLog(u)
	d, err := ds.ownDesk(ctx, u, caseID)
	if err != nil {
		return err
	}
	if !d.State.Can(survey.MoveStep) {
		return survey.Errorf(survey.EConflict, "there is no interview in progress on your desk")
	}
	iv, _, err := ds.engine(ctx, d)
	if err != nil {
		return err
	}
	cur := iv.Current()
	if st.Kind != "back" && (cur == nil || cur.ID != st.Question) {
		return survey.Errorf(survey.EConflict, "question %q is not the current question; your screen has been refreshed", survey.Clip(st.Question, 64))
	}
	id := d.InterviewID
	var (
		a       *survey.Answer
		cleared []string
	)
	switch st.Kind {
	case "back":
		if _, err := iv.Back(); errors.Is(err, survey.ErrAtStart) {
			return survey.Errorf(survey.EInvalid, "this is the first question")
		}
	case "skip":
		a, cleared, err = iv.Skip(survey.Paradata{DurationMillis: st.Millis, Mode: survey.ModeCATI})
	default:
		a, cleared, err = iv.Answer(st.Value, survey.Paradata{DurationMillis: st.Millis, Mode: survey.ModeCATI})
	}
	if err != nil {
		return err // EInvalid: nothing was stored
	}
	if a != nil {
		if err := ds.answers.SaveAnswerAlerts(ctx, id, *a, iv.Alerts(false, a.Question), cleared...); err != nil {
			return fmt.Errorf("save answer %s: %w", a.Question, err)
		}
		log.Debug("answer saved", "interview_id", id, "question", a.Question)
	}
	if iv.Done() {
		last := ""
		if a != nil {
			last = a.Question
		}
		if _, err := ds.store.CompleteInterview(ctx, u.ID, caseID, survey.StatusComplete, last, iv.QuotaCells(), iv.Alerts(true, ""), ds.now()); err != nil {
			return err
		}
		log.Info("interview complete", "case_id", caseID, "interview_id", id)
		return nil
	}
	return ds.store.SetDeskQuestion(ctx, u.ID, d.InterviewID, iv.Current().ID)
}

// EndCall moves to wrap-up: the respondent hung up or asked for a call back.
func (ds *Desks) EndCall(ctx context.Context, u survey.User, caseID survey.CaseID) error {
	if _, err := ds.ownDesk(ctx, u, caseID); err != nil {
		return err
	}
	_, err := ds.store.EndCall(ctx, u.ID, caseID, ds.now())
	return err
}

// WrapUp settles the desk's case with a disposition code, or with an
// appointment at appointment (the respondent's local time) when it is set,
// as survey.Decide rules.
func (ds *Desks) WrapUp(ctx context.Context, u survey.User, caseID survey.CaseID, code survey.DispositionCode, appointment, note string) error {
	return ds.wrapUp(ctx, u, caseID, survey.WrapUp{Code: code, Appointment: appointment, Note: note})
}

// NeverCallAgain is the respondent's "never call me again": the case closes
// as a refusal (code "" is 2.11; 2.111 and 2.112 are allowed) and its number
// goes on the campaign's do-not-call list, in one transaction.
func (ds *Desks) NeverCallAgain(ctx context.Context, u survey.User, caseID survey.CaseID, code survey.DispositionCode, note string) error {
	return ds.wrapUp(ctx, u, caseID, survey.WrapUp{Code: code, Note: note, NeverCall: true})
}

// wrapUp settles the case as the wrap-up's Code, Appointment, Note and
// NeverCall say.
func (ds *Desks) wrapUp(ctx context.Context, u survey.User, caseID survey.CaseID, in survey.WrapUp) error {
	log := ds.userLog(u)
	d, err := ds.ownDesk(ctx, u, caseID)
	if err != nil {
		return err
	}
	cd, err := ds.store.Case(ctx, caseID)
	if err != nil {
		return err
	}
	camp, err := ds.campaigns.Campaign(ctx, cd.CampaignID)
	if err != nil {
		return err
	}
	w := in
	w.Case, w.Campaign, w.Dialed, w.Now = cd, camp, d.AttemptID != 0, ds.now()
	if cd.InterviewID != 0 {
		d.InterviewID = cd.InterviewID
		var rec survey.InterviewRecord
		if w.Interview, rec, err = ds.engine(ctx, d); err != nil {
			return err
		}
		w.Status = rec.Status
	}
	o, err := survey.Decide(w)
	if err != nil {
		return err
	}
	if o.FinishInterview != "" && w.Interview != nil {
		o.Alerts = w.Interview.Alerts(true, "")
	}
	if _, err := ds.store.WrapUp(ctx, u.ID, caseID, o, ds.now()); err != nil {
		return err
	}
	log.Info("case wrapped up", "case_id", caseID, "status", o.Status, "final_code", o.FinalCode, "attempt_code", o.AttemptCode, "never_call", o.DoNotCall)
	return nil
}

// Reassign gives case caseID to the active interviewer called to, as
// survey.PlanReassign rules: on her desk now (she must be at the console,
// ready), or with its booked call back when that is due; by is the
// supervisor.
func (ds *Desks) Reassign(ctx context.Context, by survey.User, caseID survey.CaseID, to string) error {
	users, err := ds.campaigns.Users(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(users, func(u survey.User) bool { return u.Name == to && u.Role == survey.RoleInterviewer && !u.Disabled })
	if i < 0 {
		return survey.Errorf(survey.ENotFound, "no active interviewer is called %q", survey.Clip(to, 64))
	}
	u := users[i]
	cd, err := ds.caseByID(ctx, caseID)
	if err != nil {
		return err
	}
	camp, err := ds.campaigns.Campaign(ctx, cd.CampaignID)
	if err != nil {
		return err
	}
	now := ds.now()
	how, err := survey.PlanReassign(cd, camp, now)
	if err != nil {
		return err
	}
	if how == survey.HandoverAppointment {
		err = ds.floor.ReassignAppointment(ctx, by.Name, caseID, u.ID, u.Name, now)
	} else {
		err = ds.floor.Reassign(ctx, by.Name, caseID, u.ID, u.Name, now)
	}
	if err != nil {
		return err
	}
	ds.userLog(by).Info("case reassigned", "case_id", caseID, "to", u.Name, "with_appointment", how == survey.HandoverAppointment)
	return nil
}

// Release takes case caseID from its interviewer and puts it back in the
// queue; by is the supervisor.
func (ds *Desks) Release(ctx context.Context, by survey.User, caseID survey.CaseID) error {
	if err := ds.floor.Release(ctx, by.Name, caseID, ds.now()); err != nil {
		return err
	}
	ds.userLog(by).Info("case released", "case_id", caseID)
	return nil
}

// SetDisposition closes case caseID with final disposition code, as
// survey.CloseAs allows; by is the supervisor.
func (ds *Desks) SetDisposition(ctx context.Context, by survey.User, caseID survey.CaseID, code survey.DispositionCode, note string) error {
	d, ok := survey.LookupDisposition(code)
	if !ok {
		return survey.Errorf(survey.EInvalid, "%q is not a disposition code of the catalog", survey.Clip(string(code), 16))
	}
	cd, err := ds.caseByID(ctx, caseID)
	if err != nil {
		return err
	}
	var (
		iv  *survey.Interview
		rec survey.InterviewRecord
	)
	if cd.InterviewID != 0 {
		if iv, rec, err = ds.engine(ctx, survey.Desk{InterviewID: cd.InterviewID}); err != nil {
			return err
		}
	}
	o, err := survey.CloseAs(cd, iv, rec.Status, d, note)
	if err != nil {
		return err
	}
	if err := ds.floor.SetDisposition(ctx, by.Name, by.ID, caseID, o, ds.now()); err != nil {
		return err
	}
	ds.userLog(by).Info("case disposition set", "case_id", caseID, "code", d.Code)
	return nil
}

// Presence signs u's desk in (the console opened) or out (logout), or takes
// a break with one of survey.BreakReasons, or ends it.
func (ds *Desks) Presence(ctx context.Context, u survey.User, move survey.DeskMove, reason string) error {
	if move == survey.MoveBreak && !slices.Contains(survey.BreakReasons(), reason) {
		return survey.Errorf(survey.EInvalid, "pick the reason for the break: %s", strings.Join(survey.BreakReasons(), ", "))
	}
	d, err := ds.store.SetPresence(ctx, u.ID, move, reason, ds.now())
	if err != nil {
		return err
	}
	ds.userLog(u).Info("desk "+d.State.Text(), "move", move, "reason", reason)
	return nil
}

// caseByID loads case id, refused as "no case N" when there is none.
func (ds *Desks) caseByID(ctx context.Context, id survey.CaseID) (survey.Case, error) {
	cd, err := ds.store.Case(ctx, id)
	if survey.ErrorCodeOf(err) == survey.ENotFound {
		return cd, fmt.Errorf("%w: %w", survey.Errorf(survey.ENotFound, "no case %d", id), err)
	}
	return cd, err
}

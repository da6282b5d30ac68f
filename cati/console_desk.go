package cati

// This file is the interviewer's console logic: what the screen shows for
// the desk's state (built from the database every time, so that a reload or
// a restart resumes exactly where the interviewer was), and each step they
// take — next case, dial, record the dial's outcome, answer, skip, back up,
// end the call, wrap up with a disposition or an appointment.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/canvass/canvass/survey"
)

// deskView is the interviewer's screen, sent as the "state" message.
type deskView struct {
	State        survey.DeskState  `json:"state"`
	Since        time.Time         `json:"since,omitzero"` // absent before the interviewer's first case
	Case         *caseView         `json:"case,omitempty"`
	Intro        string            `json:"intro,omitempty"`
	Question     *questionView     `json:"question,omitempty"`
	Answered     int               `json:"answered"`
	Outcome      survey.Status     `json:"outcome,omitempty"` // how the interview would end now
	Complete     bool              `json:"complete,omitempty"`
	Thanks       string            `json:"thanks,omitempty"`
	Suggested    string            `json:"suggested,omitempty"` // disposition to preselect in wrap-up
	DialOutcomes []dialOutcome     `json:"dial_outcomes,omitempty"`
	Dispositions []dispositionView `json:"dispositions,omitempty"`
}

type caseView struct {
	ID           survey.CaseID     `json:"id"`
	Campaign     string            `json:"campaign"`
	Phone        string            `json:"phone"`
	TZ           string            `json:"tz"`
	LocalTime    string            `json:"local_time"` // the respondent's clock now
	Language     string            `json:"language,omitempty"`
	Fields       map[string]string `json:"fields"`
	Attempts     int               `json:"attempts"`
	MaxAttempts  int               `json:"max_attempts"`
	History      []historyView     `json:"history"`
	Notes        []noteView        `json:"notes"`
	Appointments []apptView        `json:"appointments"`
	Windows      string            `json:"windows"`
}

type historyView struct {
	At          time.Time              `json:"at"`
	Answered    bool                   `json:"answered"`
	Disposition survey.DispositionCode `json:"disposition"`
	Label       string                 `json:"label"`
	Interviewer string                 `json:"interviewer"`
	Note        string                 `json:"note,omitempty"`
}

type noteView struct {
	At     time.Time `json:"at"`
	Author string    `json:"author"`
	Body   string    `json:"body"`
}

type apptView struct {
	Local  string `json:"local"` // in the respondent's time
	Status string `json:"status"`
	Note   string `json:"note,omitempty"`
}

type questionView struct {
	ID       string           `json:"id"`
	Type     string           `json:"type"`
	Text     string           `json:"text"`
	Required bool             `json:"required,omitempty"`
	Options  []optionView     `json:"options,omitempty"`
	Min      int64            `json:"min"` // sent even when 0: the NPS scale starts there
	Max      int64            `json:"max"`
	Labels   map[int64]string `json:"labels,omitempty"`
	Previous any              `json:"previous,omitempty"` // the answer given before a back-up
	CanBack  bool             `json:"can_back"`
	Number   int              `json:"number"` // 1-based position in the questionnaire
	Of       int              `json:"of"`
}

type optionView struct {
	Value string `json:"value"`
	Key   string `json:"key"`
	Text  string `json:"text"`
}

type dispositionView struct {
	Code         survey.DispositionCode `json:"code"`
	Label        string                 `json:"label"`
	Group        survey.RateGroup       `json:"group"`
	RequiresNote bool                   `json:"requires_note,omitempty"`
	Final        bool                   `json:"final,omitempty"`
}

// dialOutcome is a button of the dialing screen: what happened on the line.
type dialOutcome struct {
	ID    survey.DialOutcome     `json:"id"`
	Label string                 `json:"label"`
	Code  survey.DispositionCode `json:"code,omitempty"` // "" = contact: the interview starts
	Key   string                 `json:"key"`
}

// dialOutcomeViews are the dialing screen's choices, keyed 1, 2, … in the
// domain's order.
func dialOutcomeViews() []dialOutcome {
	var out []dialOutcome
	for i, o := range survey.DialOutcomes() {
		code, _ := o.Code()
		out = append(out, dialOutcome{ID: o, Label: o.Label(), Code: code, Key: fmt.Sprint(i + 1)})
	}
	return out
}

// dispositionViews are the codes the wrap-up offers: without a call, only
// those the case's record can show.
func dispositionViews(dialed bool) []dispositionView {
	var out []dispositionView
	for _, d := range survey.Dispositions() {
		if !dialed && !survey.IsRecordCode(d.Code) {
			continue
		}
		out = append(out, dispositionView{Code: d.Code, Label: d.Label, Group: d.Group, RequiresNote: d.RequiresNote, Final: d.Final})
	}
	return out
}

// engine rebuilds the desk's interview from the store: the questionnaire
// version it is pinned to, its answers, and the question the interviewer
// had backed up to.
func (s *Server) engine(ctx context.Context, d survey.Desk) (*survey.Interview, survey.InterviewRecord, error) {
	rec, err := s.store.Interview(ctx, survey.InterviewID(d.InterviewID))
	if err != nil {
		return nil, rec, fmt.Errorf("load interview %d: %w", d.InterviewID, err)
	}
	q, err := s.questionnaire(ctx, rec.Questionnaire, rec.Version)
	if err != nil {
		return nil, rec, err
	}
	iv, err := q.Resume(rec.Language, rec.Contact, rec.Answers, s.now)
	if err != nil {
		return nil, rec, fmt.Errorf("resume interview %d: %w", d.InterviewID, err)
	}
	if d.Question != "" {
		seek(q, iv, d.Question)
	}
	return iv, rec, nil
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
func (s *Server) questionnaire(ctx context.Context, id string, version int) (*survey.Questionnaire, error) {
	v, err := s.store.Questionnaire(ctx, id, version)
	if err != nil {
		return nil, fmt.Errorf("load questionnaire %s v%d: %w", id, version, err)
	}
	return s.parsed.get(v)
}

// deskView builds the interviewer's screen from the store.
func (s *Server) deskView(ctx context.Context, u survey.User) (deskView, error) {
	c := s.console
	d, err := c.Desks.Desk(ctx, u.ID)
	if err != nil {
		return deskView{}, err
	}
	v := deskView{State: d.State, Since: d.Since}
	if d.State == survey.DeskIdle {
		return v, nil
	}
	cd, err := c.Desks.Case(ctx, d.CaseID)
	if err != nil {
		return v, fmt.Errorf("load case %d: %w", d.CaseID, err)
	}
	camp, err := c.Campaigns.Campaign(ctx, cd.CampaignID)
	if err != nil {
		return v, fmt.Errorf("load campaign %d: %w", cd.CampaignID, err)
	}
	v.Case = s.caseView(cd, camp)
	q, err := s.questionnaire(ctx, camp.Questionnaire, 0)
	if err != nil {
		return v, err
	}
	switch d.State {
	case survey.DeskOnCase:
		iv, err := q.Start(contactLanguage(q, cd.Contact), contactFields(q, cd.Contact), s.now)
		if err != nil {
			return v, err
		}
		v.Intro = iv.Intro()
		v.Dispositions = dispositionViews(false)
	case survey.DeskDialing:
		iv, err := q.Start(contactLanguage(q, cd.Contact), contactFields(q, cd.Contact), s.now)
		if err != nil {
			return v, err
		}
		v.Intro = iv.Intro()
		v.DialOutcomes = dialOutcomeViews()
	case survey.DeskInterviewing, survey.DeskWrapUp:
		if d.InterviewID == 0 && cd.InterviewID != 0 {
			d.InterviewID = cd.InterviewID
		}
		if d.InterviewID != 0 {
			iv, rec, err := s.engine(ctx, d)
			if err != nil {
				return v, err
			}
			v.Answered = len(rec.Answers)
			v.Intro = iv.Intro()
			if d.State == survey.DeskInterviewing {
				v.Question = questionOf(iv)
			}
			v.Outcome = rec.Status
			if rec.Status == survey.StatusInProgress {
				v.Outcome = iv.Outcome()
			}
			v.Complete = rec.Status == survey.StatusComplete
			if v.Complete {
				v.Thanks = iv.Thanks()
				v.Suggested = string(survey.CodeComplete)
			}
		}
		if d.State == survey.DeskWrapUp {
			v.Dispositions = dispositionViews(d.AttemptID != 0)
		}
	}
	return v, nil
}

func (s *Server) caseView(cd survey.Case, camp survey.Campaign) *caseView {
	cv := &caseView{ID: cd.ID, Campaign: cd.CampaignName, Phone: cd.Contact.Phone, TZ: cd.Contact.TZ, Language: cd.Contact.Language,
		Fields: map[string]string{}, Attempts: cd.Attempts, MaxAttempts: cd.MaxAttempts, Windows: camp.Windows.String(),
		History: []historyView{}, Notes: []noteView{}, Appointments: []apptView{}}
	maps.Copy(cv.Fields, cd.Contact.Attrs)
	loc, err := survey.Location(cd.Contact.TZ)
	if err != nil {
		loc = time.UTC
	}
	cv.LocalTime = s.now().In(loc).Format("Mon 15:04 MST")
	for _, a := range cd.History {
		h := historyView{At: a.StartedAt.UTC(), Answered: a.AnsweredAt != nil, Disposition: a.Disposition, Interviewer: a.Interviewer, Note: a.Note}
		if d, ok := survey.LookupDisposition(a.Disposition); ok {
			h.Label = d.Label
		}
		cv.History = append(cv.History, h)
	}
	for _, n := range cd.Notes {
		cv.Notes = append(cv.Notes, noteView{At: n.At.UTC(), Author: n.Author, Body: n.Body})
	}
	for _, a := range cd.Appointments {
		cv.Appointments = append(cv.Appointments, apptView{Local: a.At.In(loc).Format("Mon 2 Jan 15:04 MST"), Status: a.Status, Note: a.Note})
	}
	return cv
}

// contactFields are the questionnaire's contact fields from the contact's
// attributes ("" when missing), for piping and expressions.
func contactFields(q *survey.Questionnaire, c survey.Contact) map[string]string {
	m := map[string]string{}
	for _, f := range q.Contact {
		m[f] = c.Attrs[f]
	}
	return m
}

// contactLanguage is the contact's language when the questionnaire has it.
func contactLanguage(q *survey.Questionnaire, c survey.Contact) string {
	if slices.Contains(q.Languages, c.Language) {
		return c.Language
	}
	return q.DefaultLanguage()
}

func questionOf(iv *survey.Interview) *questionView {
	qq := iv.Current()
	if qq == nil {
		return nil
	}
	q := iv.Questionnaire()
	v := &questionView{ID: qq.ID, Type: string(qq.Type), Text: iv.Text(qq), Required: qq.Required, Of: len(q.Questions)}
	for i, x := range q.Questions {
		if x.ID == qq.ID {
			v.Number = i + 1
			v.CanBack = i > 0
		}
	}
	switch qq.Type {
	case survey.TypeNPS:
		v.Min, v.Max = 0, 10
	case survey.TypeScale, survey.TypeNumber:
		v.Min, v.Max = qq.Min, qq.Max
	}
	for i, o := range qq.Options {
		key := o.Key
		if key == "" && i < 9 {
			key = fmt.Sprint(i + 1)
		}
		v.Options = append(v.Options, optionView{Value: o.Value, Key: key, Text: iv.OptionText(qq, o)})
	}
	if len(qq.Labels) > 0 {
		v.Labels = map[int64]string{}
		for k, t := range qq.Labels {
			v.Labels[k] = t.In(iv.Language(), q.DefaultLanguage())
		}
	}
	if a, ok := iv.Previous(qq); ok && !a.Skipped {
		v.Previous = a.Value
	}
	return v
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
func (s *Server) ownDesk(ctx context.Context, u survey.User, caseID survey.CaseID) (survey.Desk, error) {
	d, err := s.console.Desks.Desk(ctx, u.ID)
	if err != nil {
		return survey.Desk{}, err
	}
	return d, checkCase(d, caseID)
}

// nextCase claims the best due case.
func (s *Server) nextCase(ctx context.Context, u survey.User, log *slog.Logger) error {
	d, err := s.console.Desks.ClaimNext(ctx, u.ID, u.Name, s.now())
	if survey.ErrorCodeOf(err) == survey.ENotFound {
		return errNothingDue
	}
	if err != nil {
		return err
	}
	log.Info("case claimed", "case_id", d.CaseID)
	return nil
}

// dial records that the interviewer is dialing the desk's case.
func (s *Server) dial(ctx context.Context, u survey.User, caseID survey.CaseID) error {
	if _, err := s.ownDesk(ctx, u, caseID); err != nil {
		return err
	}
	_, err := s.console.Desks.StartDial(ctx, u.ID, caseID, s.now())
	return err
}

// dialResult records what happened on the line: a contact starts (or
// resumes) the interview; anything else settles the attempt.
func (s *Server) dialResult(ctx context.Context, u survey.User, caseID survey.CaseID, outcome survey.DialOutcome, note string, log *slog.Logger) error {
	c := s.console
	d, err := s.ownDesk(ctx, u, caseID)
	if err != nil {
		return err
	}
	code, ok := outcome.Code()
	if !ok {
		return survey.Errorf(survey.EInvalid, "unknown dial outcome %q", truncate(string(outcome), 40))
	}
	if !d.State.Can(survey.MoveConnect) {
		return survey.Errorf(survey.EConflict, "record the outcome of a call after dialing it")
	}
	if code != "" {
		return s.wrapUp(ctx, u, caseID, code, "", note, log)
	}
	cd, err := c.Desks.Case(ctx, caseID)
	if err != nil {
		return err
	}
	camp, err := c.Campaigns.Campaign(ctx, cd.CampaignID)
	if err != nil {
		return err
	}
	v, err := s.store.Questionnaire(ctx, camp.Questionnaire, 0)
	if err != nil {
		return fmt.Errorf("load questionnaire %s: %w", camp.Questionnaire, err)
	}
	q, err := s.parsed.get(v)
	if err != nil {
		return err
	}
	rec := survey.InterviewRecord{Questionnaire: v.ID, Version: v.Version, Mode: survey.ModeCATI,
		Language: contactLanguage(q, cd.Contact), Contact: contactFields(q, cd.Contact),
		Context: survey.Context{Agent: u.Name, CallerNumber: cd.Contact.Phone, Touchpoint: "cati:" + camp.Name}}
	d, err = c.Desks.Connect(ctx, u.ID, caseID, rec, s.now())
	if err != nil {
		return err
	}
	log.Info("respondent reached", "case_id", caseID, "interview_id", d.InterviewID)
	return nil
}

// step is one move in the interview: an answer, a skip or a back-up.
type step struct {
	kind     string // answer, skip, back
	question string
	value    any
	millis   int64
}

// interviewStep applies a step with the engine and commits it: the answer
// (and the answers it made irrelevant) before anything else, then where the
// desk stands. A value that fails validation changes nothing.
func (s *Server) interviewStep(ctx context.Context, u survey.User, caseID survey.CaseID, st step, log *slog.Logger) error {
	c := s.console
	d, err := s.ownDesk(ctx, u, caseID)
	if err != nil {
		return err
	}
	if !d.State.Can(survey.MoveStep) {
		return survey.Errorf(survey.EConflict, "there is no interview in progress on your desk")
	}
	iv, _, err := s.engine(ctx, d)
	if err != nil {
		return err
	}
	cur := iv.Current()
	if st.kind != "back" && (cur == nil || cur.ID != st.question) {
		return survey.Errorf(survey.EConflict, "question %q is not the current question; your screen has been refreshed", truncate(st.question, 64))
	}
	id := d.InterviewID
	var (
		a       *survey.Answer
		cleared []string
	)
	switch st.kind {
	case "back":
		if _, err := iv.Back(); errors.Is(err, survey.ErrAtStart) {
			return survey.Errorf(survey.EInvalid, "this is the first question")
		}
	case "skip":
		a, cleared, err = iv.Skip(survey.Paradata{DurationMillis: st.millis})
	default:
		a, cleared, err = iv.Answer(st.value, survey.Paradata{DurationMillis: st.millis})
	}
	if err != nil {
		return err // EInvalid: nothing was stored
	}
	if a != nil {
		if err := c.Answers.SaveAnswer(ctx, id, *a, cleared...); err != nil {
			return fmt.Errorf("save answer %s: %w", a.Question, err)
		}
		log.Debug("answer saved", "interview_id", id, "question", a.Question)
	}
	if iv.Done() {
		last := ""
		if a != nil {
			last = a.Question
		}
		if _, err := c.Desks.CompleteInterview(ctx, u.ID, caseID, survey.StatusComplete, last, iv.QuotaCells(), s.now()); err != nil {
			return err
		}
		log.Info("interview complete", "case_id", caseID, "interview_id", id)
		return nil
	}
	return c.Desks.SetDeskQuestion(ctx, u.ID, d.InterviewID, iv.Current().ID)
}

// endCall moves to wrap-up: the respondent hung up or asked for a call back.
func (s *Server) endCall(ctx context.Context, u survey.User, caseID survey.CaseID) error {
	if _, err := s.ownDesk(ctx, u, caseID); err != nil {
		return err
	}
	_, err := s.console.Desks.EndCall(ctx, u.ID, caseID, s.now())
	return err
}

// wrapUp settles the desk's case with a disposition code, or with an
// appointment at appointment (the respondent's local time) when it is set,
// as survey.Decide rules.
func (s *Server) wrapUp(ctx context.Context, u survey.User, caseID survey.CaseID, code survey.DispositionCode, appointment, note string, log *slog.Logger) error {
	c := s.console
	d, err := s.ownDesk(ctx, u, caseID)
	if err != nil {
		return err
	}
	cd, err := c.Desks.Case(ctx, caseID)
	if err != nil {
		return err
	}
	camp, err := c.Campaigns.Campaign(ctx, cd.CampaignID)
	if err != nil {
		return err
	}
	w := survey.WrapUp{Case: cd, Campaign: camp, Dialed: d.AttemptID != 0, Code: code, Appointment: appointment, Note: note, Now: s.now()}
	if cd.InterviewID != 0 {
		d.InterviewID = cd.InterviewID
		var rec survey.InterviewRecord
		if w.Interview, rec, err = s.engine(ctx, d); err != nil {
			return err
		}
		w.Status = rec.Status
	}
	o, err := survey.Decide(w)
	if err != nil {
		return err
	}
	if _, err := c.Desks.WrapUp(ctx, u.ID, caseID, o, s.now()); err != nil {
		return err
	}
	log.Info("case wrapped up", "case_id", caseID, "status", o.Status, "final_code", o.FinalCode, "attempt_code", o.AttemptCode)
	return nil
}

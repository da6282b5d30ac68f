package cati

// This file is the interviewer's console logic: what the screen shows for
// the desk's state (built from the database every time, so that a reload or
// a restart resumes exactly where the interviewer was), and each step they
// take — next case, dial, record the dial's outcome, answer, skip, back up,
// end the call, wrap up with a disposition or an appointment.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/canvass/canvass/survey"
)

// deskView is the interviewer's screen, sent as the "state" message.
type deskView struct {
	State        survey.DeskState `json:"state"`
	Reason       string           `json:"reason,omitempty"`          // of a break
	BreakReasons []string         `json:"break_reasons,omitempty"`   // offered while idle
	Today        *todayView       `json:"today,omitempty"`           // the interviewer's own counts, while idle
	Last         *lastCaseView    `json:"last,omitempty"`            // how the latest case was settled, while idle
	NextDelay    int              `json:"next_delay,omitempty"`      // seconds before the next case comes by itself; 0: never
	Mine         []myApptView     `json:"my_appointments,omitempty"` // the call backs booked with the interviewer, while idle
	Since        time.Time        `json:"since,omitzero"`            // absent before the interviewer's first case
	// Dialer, while idle, is "predictive" or "progressive" when a running
	// campaign of the interviewer's is dialed so: the calls come to them.
	Dialer       string                   `json:"dialer,omitempty"`
	Case         *caseView                `json:"case,omitempty"`
	Intro        string                   `json:"intro,omitempty"`
	Question     *questionView            `json:"question,omitempty"`
	Answered     int                      `json:"answered"`
	Outcome      survey.Status            `json:"outcome,omitempty"` // how the interview would end now
	Complete     bool                     `json:"complete,omitempty"`
	Thanks       string                   `json:"thanks,omitempty"`
	Suggested    string                   `json:"suggested,omitempty"` // disposition to preselect in wrap-up
	Fitting      []survey.DispositionCode `json:"fitting,omitempty"`   // the codes that fit what happened, suggested first
	DialOutcomes []dialOutcome            `json:"dial_outcomes,omitempty"`
	Dispositions []dispositionView        `json:"dispositions,omitempty"`
	// Phone: the server's browser phone places the calls; Call is the
	// desk's call (its state, or how it ended and the outcome to
	// pre-select); Consent is what to read when a recorded call starts.
	Phone   bool             `json:"phone,omitempty"`
	Attempt survey.AttemptID `json:"attempt_id,omitempty"` // the desk's call attempt
	Call    *callView        `json:"call,omitempty"`
	Consent string           `json:"consent,omitempty"`
}

// lastCaseView is how the interviewer's latest case was settled, for the
// confirmation after each case.
type lastCaseView struct {
	CaseID survey.CaseID `json:"case_id"`
	At     time.Time     `json:"at"`
	Text   string        `json:"text"` // "closed as 1.1 Complete", "booked for a call back"…
}

// myApptView is one of the interviewer's call backs.
type myApptView struct {
	CaseID survey.CaseID `json:"case_id"`
	Local  string        `json:"local"` // in the respondent's time
	Note   string        `json:"note,omitempty"`
}

// todayView is what an interviewer did today.
type todayView struct {
	Contacts  int `json:"contacts"`
	Completes int `json:"completes"`
}

type caseView struct {
	ID           survey.CaseID     `json:"id"`
	Campaign     string            `json:"campaign"`
	Phone        string            `json:"phone"`
	Numbers      []survey.Number   `json:"numbers,omitempty"` // all the contact's numbers, when several
	TZ           string            `json:"tz"`
	LocalTime    string            `json:"local_time"` // the respondent's clock now
	Language     string            `json:"language,omitempty"`
	Fields       map[string]string `json:"fields"`
	Labels       map[string]string `json:"labels,omitempty"` // the sample file's names of the fields
	Attempts     int               `json:"attempts"`
	MaxAttempts  int               `json:"max_attempts"`
	History      []historyView     `json:"history"`
	Notes        []noteView        `json:"notes"`
	Appointments []apptView        `json:"appointments"`
	Windows      string            `json:"windows"`
	// Recovery is the alert a call back is for, with the original
	// interview's answers: what the customer said.
	Recovery *recoveryView `json:"recovery,omitempty"`
}

// recoveryView is the alert behind a recovery call back.
type recoveryView struct {
	Alert    survey.AlertID `json:"alert_id"`
	Rule     string         `json:"rule"`
	Severity string         `json:"severity"`
	Answers  map[string]any `json:"answers"`
	Context  survey.Context `json:"context"`
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
	// Keypad: the respondent can answer this question on the keypad
	// (mixed mode): "can", or "marked" for a sensitive question
	// (keypad: true); "" when not.
	Keypad string `json:"keypad,omitempty"`
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

// deskView builds the interviewer's screen from the store.
func (s *Server) deskView(ctx context.Context, u survey.User) (deskView, error) {
	c := s.console
	d, err := c.Desks.Desk(ctx, u.ID)
	if err != nil {
		return deskView{}, err
	}
	v := deskView{State: d.State, Since: d.Since, Reason: d.Reason, Phone: s.phones != nil, Attempt: d.AttemptID}
	if !d.State.OnCase() {
		if d.State == survey.DeskIdle {
			v.BreakReasons = survey.BreakReasons()
			v.NextDelay = int(s.console.Options.NextCaseDelay / time.Second)
			contacts, completes, err := s.console.Desks.Today(ctx, u.ID, s.now())
			if err != nil {
				return v, err
			}
			v.Today = &todayView{Contacts: contacts, Completes: completes}
			mine, err := s.console.Desks.Appointments(ctx, u.ID)
			if err != nil {
				return v, err
			}
			for _, a := range mine {
				loc, err := survey.Location(a.TZ)
				if err != nil {
					loc = time.UTC
				}
				v.Mine = append(v.Mine, myApptView{CaseID: a.CaseID, Local: a.At.In(loc).Format("Mon 2 Jan 15:04 MST"), Note: a.Note})
			}
			if v.Dialer, err = s.dialerOf(ctx, u.ID); err != nil {
				return v, err
			}
			if e, err := s.console.Desks.LastWrapped(ctx, u.ID); err == nil {
				v.Last = lastCase(e)
			} else if survey.ErrorCodeOf(err) != survey.ENotFound {
				return v, err
			}
		}
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
	if id, _ := strconv.ParseInt(cd.Context.Extra["alert_id"], 10, 64); id > 0 && c.Alerts != nil {
		if a, err := c.Alerts.Alert(ctx, survey.AlertID(id)); err == nil {
			v.Case.Recovery = &recoveryView{Alert: a.ID, Rule: a.Rule, Severity: a.Severity, Answers: a.Answers, Context: a.Context}
		}
	}
	q, err := s.desks.questionnaire(ctx, camp.Questionnaire, 0)
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
		s.deskCall(&v, u, d, iv)
	case survey.DeskInterviewing, survey.DeskWrapUp:
		connected := d.InterviewID != 0 // this call reached the respondent
		if d.InterviewID == 0 && cd.InterviewID != 0 {
			d.InterviewID = cd.InterviewID
		}
		if d.InterviewID != 0 {
			iv, rec, err := s.desks.engine(ctx, d)
			if err != nil {
				return v, err
			}
			v.Answered = len(rec.Answers)
			v.Intro = iv.Intro()
			s.deskCall(&v, u, d, iv)
			if d.State == survey.DeskInterviewing {
				v.Question = questionOf(iv)
				if v.Question != nil && (s.console.Keypads == nil || s.phones == nil) {
					v.Question.Keypad = ""
				}
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
			verdict := survey.Status("")
			if connected {
				verdict = v.Outcome
			}
			v.Fitting = survey.FittingCodes(d.AttemptID != 0, verdict)
			v.Suggested = string(v.Fitting[0])
		}
	}
	return v, nil
}

// deskCall puts the desk's call on its screen: the call of the desk's
// attempt, and the consent to read when it is recorded.
func (s *Server) deskCall(v *deskView, u survey.User, d survey.Desk, iv *survey.Interview) {
	if s.phones == nil {
		return
	}
	ev, ok := s.phones.Call(u.ID)
	if !ok || ev.AttemptID != d.AttemptID {
		return
	}
	cv := s.callView(ev)
	v.Call = &cv
	if ev.Recording != "" {
		v.Consent = iv.RecordingConsent()
	}
}

func (s *Server) caseView(cd survey.Case, camp survey.Campaign) *caseView {
	cv := &caseView{ID: cd.ID, Campaign: cd.CampaignName, Phone: cd.Contact.Phone, TZ: cd.Contact.TZ, Language: cd.Contact.Language,
		Fields: map[string]string{}, Attempts: cd.Attempts, MaxAttempts: cd.MaxAttempts, Windows: camp.Windows.String(),
		History: []historyView{}, Notes: []noteView{}, Appointments: []apptView{}}
	maps.Copy(cv.Fields, cd.Contact.Attrs)
	cv.Numbers = cd.Numbers
	if st, err := camp.DecodeSettings(); err == nil {
		cv.Labels = st.FieldLabels
	}
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
	if _, _, ok := qq.Keypad(); ok && q.HasMode(survey.ModeIVR) {
		v.Keypad = "can"
		if qq.KeypadInCATI {
			v.Keypad = "marked"
		}
	}
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

// lastCase says how a wrap-up event settled its case.
func lastCase(e survey.Event) *lastCaseView {
	var p struct {
		CaseStatus  string `json:"case_status"`
		FinalCode   string `json:"final_code"`
		AttemptCode string `json:"attempt_code"`
	}
	if json.Unmarshal(e.Payload, &p) != nil {
		return nil
	}
	text := "put back for a retry"
	switch survey.CaseStatus(p.CaseStatus) {
	case survey.CaseClosed:
		text = "closed as " + codeText(p.FinalCode)
	case survey.CaseAppointment:
		text = "booked for a call back"
	default:
		if p.AttemptCode != "" {
			text += " (" + codeText(p.AttemptCode) + ")"
		}
	}
	return &lastCaseView{CaseID: e.CaseID, At: e.At, Text: text}
}

// dialerOf is how the calls of the interviewer's running campaigns come
// to them: predictive or progressive when one is dialed so (predictive
// first), mixed when a keypad campaign hands them its respondents who ask
// for an interviewer, else "".
func (s *Server) dialerOf(ctx context.Context, id survey.UserID) (string, error) {
	cs, err := s.console.Campaigns.Campaigns(ctx)
	if err != nil {
		return "", err
	}
	mode := ""
	for _, c := range cs {
		if c.Status != survey.CampaignRunning || !slices.Contains(c.Interviewers, id) {
			continue
		}
		st, err := c.DecodeSettings()
		if err != nil {
			continue
		}
		if c.Mode == survey.CampaignIVR {
			if st.Dialing.AgentKey != "" && mode == "" {
				mode = "mixed"
			}
			continue
		}
		switch st.Dialing.Mode {
		case survey.DialPredictive:
			return string(survey.DialPredictive), nil
		case survey.DialProgressive:
			mode = string(survey.DialProgressive)
		}
	}
	return mode, nil
}

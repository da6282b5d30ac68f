package cati

// This file is mixed mode, one interview in two modes. A keypad campaign's
// respondent who presses its agent key is handed to a free interviewer of
// the campaign (Transfer: the case, its attempt and the interview in
// progress become theirs, the call rings through to their browser), and an
// interviewer can hand their respondent to the keypad for sensitive
// questions and get them back (the "call_keypad" message, Keypads). Each
// answer's paradata says which mode took it.

import (
	"context"
	"time"

	"github.com/canvass/canvass/survey"
)

// Keypads hand an interviewer's respondent to the keypad; cmd/canvass makes
// one of the switchboard and the IVR engine.
type Keypads interface {
	// Keypad asks interview's question from, then the keypad: true
	// questions right after it, on user's call, and calls done once the
	// respondent is handed back (or the call ended: the error says so). It
	// returns at once; an error means nothing was asked.
	Keypad(user survey.UserID, interview survey.InterviewID, from string, done func(error)) error
}

// keypadReq asks to hand the respondent to the keypad at question.
type keypadReq struct {
	CaseID   survey.CaseID `json:"case_id"`
	Question string        `json:"question"`
}

func (r keypadReq) validate() error {
	return firstErr(positive("case_id", r.CaseID), nonEmpty("question", r.Question, 64))
}

// errNoKeypads answers a hand-over on a server that cannot make one.
var errNoKeypads = survey.Errorf(survey.EConflict, "this server cannot hand a respondent to the keypad: it needs the browser phone and the keypad engine")

// keypad hands interviewer u's respondent to the keypad at r.Question; when
// they are handed back, the desk moves to the interview's next question
// (or completes it) and the interviewer's pages refresh.
func (s *Server) keypad(ctx context.Context, u survey.User, r *keypadReq) error {
	k := s.console.Keypads
	if k == nil || s.phones == nil {
		return errNoKeypads
	}
	d, err := s.desks.ownDesk(ctx, u, r.CaseID)
	if err != nil {
		return err
	}
	if d.State != survey.DeskInterviewing || d.InterviewID == 0 {
		return survey.Errorf(survey.EConflict, "hand the respondent to the keypad during the interview")
	}
	log := s.consoleLog(u).With("case_id", d.CaseID, "interview_id", d.InterviewID)
	err = k.Keypad(u.ID, d.InterviewID, r.Question, func(kerr error) {
		if kerr != nil {
			log.Info("keypad part ended early", "err", kerr)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.desks.afterKeypad(ctx, u, d); err != nil {
			log.Error("move the desk on after the keypad", "err", err)
		}
		s.console.hub.refreshUser(u.ID)
	})
	if err != nil {
		return err
	}
	log.Info("respondent handed to the keypad", "question", r.Question)
	return nil
}

// afterKeypad moves desk d on to the interview's first unanswered question,
// or completes the interview when the keypad answered the last one.
func (ds *Desks) afterKeypad(ctx context.Context, u survey.User, d survey.Desk) error {
	cur, err := ds.store.Desk(ctx, u.ID)
	if err != nil {
		return err
	}
	if cur.InterviewID != d.InterviewID || cur.State != survey.DeskInterviewing {
		return nil // the desk moved on meanwhile (the call ended, a wrap-up)
	}
	cur.Question = ""
	iv, rec, err := ds.engine(ctx, cur)
	if err != nil {
		return err
	}
	if iv.Done() {
		last := ""
		if n := len(rec.Answers); n > 0 {
			last = rec.Answers[n-1].Question
		}
		_, err := ds.store.CompleteInterview(ctx, u.ID, d.CaseID, survey.StatusComplete, last, iv.QuotaCells(), iv.Alerts(true, ""), ds.now())
		return err
	}
	return ds.store.SetDeskQuestion(ctx, u.ID, d.InterviewID, iv.Current().ID)
}

// transferEvery is how often a respondent waiting for an interviewer asks
// again.
const transferEvery = 200 * time.Millisecond

// Transfer finds, within survey.TransferWait, a free interviewer for a
// keypad respondent of job who pressed the campaign's agent key: idle,
// phone ready, assigned to the campaign. The case and its attempt become
// theirs, their desk goes to the interview in progress, and adopt gives
// them the call. It returns who took it; 0 when nobody was free in time
// (the keypad survey goes on).
func (s *Server) Transfer(ctx context.Context, job survey.DialJob, adopt func(survey.UserID) error) (survey.UserID, error) {
	if s.phones == nil {
		return 0, errNoPhones
	}
	deadline := time.Now().Add(survey.TransferWait)
	for {
		user, err := s.hand(ctx, job, func(a survey.AgentSlot) bool { return a.Mixed })
		if err != nil {
			return 0, err
		}
		if user != 0 {
			// The respondent is on the line: the interview goes on at once.
			rec := survey.InterviewRecord{Questionnaire: job.Questionnaire, Mode: survey.ModeCATI, Language: job.Language, Contact: job.Contact}
			_, err := s.console.Desks.Connect(ctx, user, job.Case, rec, s.desks.now())
			if err == nil {
				err = adopt(user)
			}
			s.console.hub.refreshUser(user)
			if err != nil {
				return 0, err
			}
			s.log.Info("keypad respondent handed to an interviewer", "case_id", job.Case, "user_id", user, "interview_id", job.Interview)
			return user, nil
		}
		if !time.Now().Add(transferEvery).Before(deadline) {
			return 0, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(transferEvery):
		}
	}
}

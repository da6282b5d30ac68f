package ivr

// This file is the keypad half of mixed mode, from the interviewer's side:
// an interviewer hands the respondent to the keypad for sensitive questions
// (Keypad), and the engine asks them on the call, storing each answer as the
// keypad's, then hands the respondent back. The other half — a keypad
// respondent who presses the agent key — is CallInfo.AgentKey.

import (
	"context"
	"fmt"

	"github.com/canvass/canvass/prompts"
	"github.com/canvass/canvass/survey"
)

// InterviewLoader reads a stored interview with its answers; *sql.DB is
// one. Keypad needs the engine's store to be one.
type InterviewLoader interface {
	Interview(ctx context.Context, id survey.InterviewID) (survey.InterviewRecord, error)
}

// Keypad asks interview id's question from, then each question right after
// it marked keypad: true (survey.Question.KeypadInCATI), on the keypad of
// call m, storing each answer as it is given, and thanks the respondent
// before handing back. It returns the interview's current question once
// done ("" when the keypad answered the last one). A required question
// that gets no valid answer ends the keypad part early: the interviewer
// asks it. from must be the interview's current question and one a keypad
// can answer; otherwise nothing is asked (survey.EConflict, EInvalid).
func (e *Engine) Keypad(ctx context.Context, m Media, id survey.InterviewID, from string) (string, error) {
	l, ok := e.store.(InterviewLoader)
	if !ok {
		return "", survey.Errorf(survey.EInvalid, "this engine's store cannot load interviews")
	}
	rec, err := l.Interview(ctx, id)
	if err != nil {
		return "", err
	}
	if rec.Status != survey.StatusInProgress {
		return "", survey.Errorf(survey.EConflict, "interview %d is %s, not in progress", id, rec.Status)
	}
	v, err := e.questionnaires.Questionnaire(ctx, rec.Questionnaire, rec.Version)
	if err != nil {
		return "", fmt.Errorf("questionnaire %s version %d: %w", rec.Questionnaire, rec.Version, err)
	}
	q, err := e.parsed.Get(v)
	if err != nil {
		return "", err
	}
	if !q.HasMode(survey.ModeIVR) {
		return "", survey.Errorf(survey.EInvalid, "questionnaire %s has no keypad mode (modes %v)", q.ID, q.Modes)
	}
	iv, err := q.Resume(rec.Language, rec.Contact, rec.Answers, e.now)
	if err != nil {
		return "", fmt.Errorf("resume interview %d: %w", id, err)
	}
	iv.SetContext(rec.Context)
	// Statements before the first unanswered question were read by the
	// interviewer.
	for cur := iv.Current(); cur != nil && cur.ID != from && !cur.Answerable(); cur = iv.Current() {
		if _, _, err := iv.Answer(nil, survey.Paradata{}); err != nil {
			break
		}
	}
	cur := iv.Current()
	if cur == nil || cur.ID != from {
		return "", survey.Errorf(survey.EConflict, "question %q is not the interview's next question; answer the questions before it first", survey.Clip(from, 64))
	}
	if _, _, ok := cur.Keypad(); !ok {
		return "", survey.Errorf(survey.EInvalid, "question %s (%s) cannot be answered on the keypad", cur.ID, cur.Type)
	}
	ch := NewCall(m, e.now)
	log := e.log.With("interview_id", id, "questionnaire", q.ID)
	log.Info("respondent handed to the keypad", "from", from)
	for n := 0; ; n++ {
		qq := iv.Current()
		if qq == nil || n > 0 && !qq.KeypadInCATI {
			break
		}
		if _, _, ok := qq.Keypad(); !ok {
			break
		}
		a, cleared, err := e.ask(ctx, ch, iv, qq, "")
		if err != nil {
			return from, err
		}
		if a == nil {
			break // required and not answered: the interviewer asks it
		}
		a.Paradata.Mode = survey.ModeIVR
		sctx, done := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		err = e.saveAnswer(sctx, id, iv, *a, cleared)
		done()
		if err != nil {
			return qq.ID, fmt.Errorf("save answer %s: %w", qq.ID, err)
		}
	}
	lang := iv.Language()
	if err := ch.Say(ctx, Prompt{ID: prompts.PhraseHandBack, Text: phrase(lang, prompts.PhraseHandBack), Language: lang}); err != nil {
		return "", err
	}
	next := ""
	if qq := iv.Current(); qq != nil {
		next = qq.ID
	}
	log.Info("respondent handed back to the interviewer", "next", next)
	return next, nil
}

package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/ivrtest"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

const churnStudy = `id: churn-study
title: Churn
modes: [ivr]
languages: [en]
questions:
  - id: nps
    type: nps
    text: {en: "How likely are you to recommend us?"}
alerts:
  - id: churn_risk
    severity: high
    when: nps <= 6 and (previous_nps >= 9 or previous_nps <= 6)
`

// phoneCall is a scripted phone as a dialed call.
type phoneCall struct{ *ivrtest.Phone }

func (p phoneCall) Close(ctx context.Context) (ivr.CallEnd, error) {
	return ivr.CallEnd{Talk: time.Second}, p.Hangup(ctx)
}

type oneCall struct{ call phoneCall }

func (d oneCall) Dial(ctx context.Context, r ivr.DialRequest) (ivr.Call, ivr.DialResult, error) {
	return d.call, ivr.DialResult{Outcome: survey.DialAnswered}, nil
}

// A customer who was a promoter and answers as a detractor raises the
// churn-risk alert, through the keypad engine over the real store: the
// engine finds their previous survey's NPS for previous_nps.
func TestChurnRiskAlertOverTheStore(t *testing.T) {
	ctx := t.Context()
	db := sqltest.New(t)
	q, err := survey.Parse([]byte(churnStudy))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.PutQuestionnaire(ctx, q.Version([]byte(churnStudy))); err != nil {
		t.Fatal(err)
	}
	engine := ivr.New(ivr.DefaultOptions(), db, db, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	survey1 := func(customer string, keys string) {
		t.Helper()
		ph := ivrtest.NewPhone(10 * time.Millisecond)
		ph.Type(keys)
		_, status, err := engine.Survey(ctx, oneCall{phoneCall{ph}}, ivr.DialRequest{To: "x"},
			ivr.CallInfo{Questionnaire: "churn-study", Language: "en", Context: survey.Context{CustomerID: customer}})
		if err != nil || status != survey.StatusComplete {
			t.Fatalf("survey: %s %v", status, err)
		}
	}
	survey1("C-1", "10#") // a promoter
	survey1("C-2", "3#")  // a first survey: no history, no churn risk
	survey1("C-1", "3#")  // now a detractor
	var n int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM alert a JOIN interview i ON i.id = a.interview_id
		WHERE a.rule_id = 'churn_risk' AND i.context->>'customer_id' = 'C-1'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("churn-risk alerts for C-1: %d (%v), want 1", n, err)
	}
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM alert WHERE rule_id = 'churn_risk'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("churn-risk alerts in all: %d (%v), want only C-1's", n, err)
	}
}

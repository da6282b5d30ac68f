package dialer

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/canvass/canvass/survey"
)

// fakeAgents is the console as stepAgents sees it.
type fakeAgents struct {
	slots   []survey.AgentSlot
	due     map[survey.UserID]bool // a case is due for the user
	offers  []survey.UserID
	dialed  []survey.CaseID
	waiting int
}

func (f *fakeAgents) Waiting(context.Context) ([]survey.AgentSlot, error) {
	f.waiting++
	return f.slots, nil
}

func (f *fakeAgents) Offer(_ context.Context, id survey.UserID, _ string) error {
	f.offers = append(f.offers, id)
	if !f.due[id] {
		return survey.Errorf(survey.ENotFound, "nothing due")
	}
	return nil
}

func (f *fakeAgents) DialPreview(_ context.Context, _ survey.UserID, _ string, c survey.CaseID) error {
	f.dialed = append(f.dialed, c)
	return nil
}

func TestStepAgents(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	a := &fakeAgents{due: map[survey.UserID]bool{1: true}, slots: []survey.AgentSlot{
		{User: 1, Name: "ivy", State: survey.DeskIdle, Since: now.Add(-time.Minute), Progressive: true},
		{User: 2, Name: "ian", State: survey.DeskIdle, Since: now.Add(-time.Minute), Progressive: true},
		{User: 3, Name: "ida", State: survey.DeskOnCase, Since: now.Add(-4 * time.Second), Case: 30, AutoDial: 5 * time.Second},
		{User: 4, Name: "ike", State: survey.DeskOnCase, Since: now.Add(-6 * time.Second), Case: 40, AutoDial: 5 * time.Second},
		{User: 5, Name: "ira", State: survey.DeskOnCase, Since: now, Case: 50, Progressive: true},
	}}
	r := NewRunner(nil, nil, DefaultOptions(), func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.SetAgents(a)
	r.stepAgents(t.Context(), now)
	if !slices.Equal(a.offers, []survey.UserID{1, 2}) {
		t.Errorf("offers to %v, want one line for each free interviewer (1, 2)", a.offers)
	}
	if !slices.Equal(a.dialed, []survey.CaseID{40, 50}) {
		t.Errorf("dialed previews %v, want 40 (auto-dial due) and 50 (progressive), not 30 (1 s to go)", a.dialed)
	}
	// Nothing was due for ian: he is not asked again before the wait,
	// ivy (who got a call) is.
	a.offers, a.dialed = nil, nil
	r.stepAgents(t.Context(), now.Add(time.Second))
	if !slices.Equal(a.offers, []survey.UserID{1}) {
		t.Errorf("offers a second later to %v, want 1 only", a.offers)
	}
	a.offers = nil
	r.stepAgents(t.Context(), now.Add(nothingDueWait+time.Second))
	if !slices.Equal(a.offers, []survey.UserID{1, 2}) {
		t.Errorf("offers after the wait to %v, want 1, 2", a.offers)
	}
}

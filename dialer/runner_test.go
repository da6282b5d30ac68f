package dialer

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"sync"
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
	// DialPredictive's, called from the runner's goroutines
	mu        sync.Mutex
	result    survey.PredictedCall
	predicted []survey.CaseID
	message   string
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

func (f *fakeAgents) DialPredictive(_ context.Context, j survey.DialJob, d survey.Dialing) (survey.PredictedCall, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.predicted = append(f.predicted, j.Case)
	f.message = d.AbandonMessage
	return f.result, nil
}

// fakeStore is the database as the predictive step sees it.
type fakeStore struct {
	mu      sync.Mutex // SettleDial is called from the runner's goroutines
	stats   survey.DialStats
	live    []survey.LiveCall
	next    survey.CaseID
	claims  []int // how many each claim asked for
	settled []survey.Outcome
	facts   []survey.CallFacts
	history survey.Case
	// the quota holds'
	source     string
	fill       map[string]int
	holds      map[string]string // by segment
	holdPasses int
}

func (s *fakeStore) Campaigns(context.Context) ([]survey.Campaign, error) { return nil, nil }
func (s *fakeStore) ClaimNodeDials(_ context.Context, id survey.CampaignID, _ string, _ survey.NodeID, _ time.Duration, n int, _ time.Time) ([]survey.DialJob, error) {
	s.claims = append(s.claims, n)
	var jobs []survey.DialJob
	for range n {
		s.next++
		jobs = append(jobs, survey.DialJob{Campaign: id, Case: s.next, Attempt: survey.AttemptID(s.next), Attempts: 1, MaxAttempts: 3})
	}
	return jobs, nil
}
func (s *fakeStore) SettleDial(_ context.Context, _ survey.DialJob, f survey.CallFacts, decide func(survey.Case) (survey.Outcome, error), _ time.Time) (survey.Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := decide(s.history)
	s.settled, s.facts = append(s.settled, o), append(s.facts, f)
	return o, err
}
func (s *fakeStore) ReleaseDials(context.Context, string, time.Time) (int, error) { return 0, nil }
func (s *fakeStore) MarkDialing(context.Context, survey.DialJob, time.Time) error { return nil }
func (s *fakeStore) TakeOverDials(context.Context, survey.NodeID, time.Duration, func(survey.Case, survey.Status) (survey.Outcome, error), time.Time) (int, int, error) {
	return 0, 0, nil
}
func (s *fakeStore) DialStats(context.Context, survey.CampaignID) (int, int, error) {
	return 0, 0, nil
}
func (s *fakeStore) PredictStats(context.Context, survey.CampaignID) (survey.DialStats, error) {
	return s.stats, nil
}
func (s *fakeStore) LiveCalls(context.Context, survey.CampaignID, time.Time) ([]survey.LiveCall, error) {
	return s.live, nil
}

func TestStepPredictive(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	idle := func(n int) []survey.AgentSlot {
		var ss []survey.AgentSlot
		for i := range n {
			ss = append(ss, survey.AgentSlot{User: survey.UserID(i + 1), State: survey.DeskIdle, Predictive: true})
		}
		return ss
	}
	camp := func(budget *float64) survey.Campaign {
		st, _ := json.Marshal(survey.CampaignSettings{Dialing: survey.Dialing{Mode: survey.DialPredictive, MaxLines: 50,
			AbandonMessage: "Canvass Research; to opt out call 0800 000 000.", AbandonBudget: budget}})
		return survey.Campaign{ID: 7, Name: "p", Mode: survey.CampaignCATI, Status: survey.CampaignRunning, Settings: st,
			CreatedAt: now.Add(-10 * 24 * time.Hour)}
	}
	// 1,000 answered calls over the last days, none abandoned: room to
	// spend the budget on.
	var live []survey.LiveCall
	for i := range 1000 {
		live = append(live, survey.LiveCall{At: now.Add(-time.Duration(i) * time.Minute)})
	}
	good := survey.DialStats{Dials: 1000, Live: 300, Ring: 15 * time.Second, Handle: 8 * time.Minute, HandleSD: 3 * time.Minute}
	run := func(c survey.Campaign, stats survey.DialStats, free int) (*fakeStore, *fakeAgents) {
		st := &fakeStore{stats: stats, live: live}
		a := &fakeAgents{result: survey.PredictedCall{Outcome: survey.DialNoAnswer}}
		r := NewRunner(st, nil, DefaultOptions(), func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
		r.SetAgents(a)
		r.cati = map[survey.CampaignID]survey.Campaign{c.ID: c}
		r.stepPredictive(t.Context(), now, idle(free))
		r.calls.Wait()
		return st, a
	}
	if st, _ := run(camp(nil), survey.DialStats{Dials: 10, Live: 3}, 4); !slices.Equal(st.claims, []int{4}) {
		t.Errorf("without statistics: claims %v, want 4 (one line per free interviewer)", st.claims)
	}
	if st, _ := run(camp(nil), good, 4); len(st.claims) != 1 || st.claims[0] <= 4 {
		t.Errorf("at a 30 %% answer rate: claims %v, want more lines than the 4 free interviewers", st.claims)
	}
	zero := 0.0
	if st, _ := run(camp(&zero), good, 4); !slices.Equal(st.claims, []int{4}) {
		t.Errorf("with a 0 budget: claims %v, want exactly 4", st.claims)
	}
}

func TestPlacePredictiveAbandoned(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	st := &fakeStore{history: survey.Case{Attempts: 1, MaxAttempts: 3, History: []survey.Attempt{{}}}}
	a := &fakeAgents{result: survey.PredictedCall{Outcome: survey.DialAnswered,
		Facts: survey.CallFacts{SIPStatus: 200, AnsweredAt: now, EndedAt: now.Add(5 * time.Second), Abandoned: true}}}
	r := NewRunner(st, nil, DefaultOptions(), func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.SetAgents(a)
	l, err := NewLedger(DefaultLedgerOptions(), now.Add(-time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &predictiveRun{ledger: l, ringing: 1, dialing: survey.Dialing{AbandonMessage: "msg"}}
	r.placePredictive(t.Context(), p, survey.DialJob{Case: 1, Attempt: 1})
	if len(st.settled) != 1 || st.settled[0].Status != survey.CaseOpen || !st.settled[0].NextAttemptAt.Equal(now.Add(RedialAfterAbandon)) ||
		!st.facts[0].Abandoned || st.facts[0].Rule != "abandoned" {
		t.Errorf("abandoned call settled as %+v with %+v; want the case open again in 72 h", st.settled, st.facts)
	}
	if ts := l.Tallies(now); ts[0].Live != 1 || ts[0].Abandoned != 1 || p.ringing != 0 || a.message != "msg" {
		t.Errorf("ledger %+v, ringing %d, message %q", ts, p.ringing, a.message)
	}
}

func (s *fakeStore) Questionnaire(context.Context, string, int) (survey.QuestionnaireVersion, error) {
	return survey.QuestionnaireVersion{ID: "q", Version: 1, Source: []byte(s.source)}, nil
}
func (s *fakeStore) QuotaFill(context.Context, survey.CampaignID) (map[string]int, error) {
	return s.fill, nil
}
func (s *fakeStore) QuotaHolds(_ context.Context, _ survey.CampaignID, hold func(map[string]string) string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holds = map[string]string{}
	for _, seg := range []string{"business", "consumer"} {
		s.holds[seg] = hold(map[string]string{"segment": seg})
	}
	s.holdPasses++
	return len(s.holds), nil
}

func TestHoldQuota(t *testing.T) {
	st := &fakeStore{source: `id: q
title: Q
languages: [en]
contact: [segment]
questions:
  - {id: ok, type: yes_no, text: {en: "OK?"}}
quotas:
  - {id: business, when: contact.segment == "business", target: 2}
`}
	r := NewRunner(st, nil, DefaultOptions(), nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	c := survey.Campaign{ID: 1, Name: "c", Questionnaire: "q", Status: survey.CampaignRunning}
	st.fill = map[string]int{"business": 1}
	if err := r.holdQuota(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if st.holds["business"] != "" || st.holds["consumer"] != "" {
		t.Errorf("holds %v with room in the cell", st.holds)
	}
	st.fill = map[string]int{"business": 2}
	if err := r.holdQuota(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if st.holds["business"] != "business" || st.holds["consumer"] != "" {
		t.Errorf("holds %v, want the business sample held", st.holds)
	}
	// The campaign raises the target: the cell has room again.
	st2, _ := json.Marshal(survey.CampaignSettings{Quotas: map[string]int{"business": 3}})
	c.Settings = st2
	if err := r.holdQuota(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if st.holds["business"] != "" {
		t.Errorf("holds %v after the target was raised", st.holds)
	}
	passes := st.holdPasses
	if err := r.holdQuota(t.Context(), c); err != nil || st.holdPasses != passes {
		t.Errorf("nothing full, as before: %d passes, want none more (%v)", st.holdPasses-passes, err)
	}
}

func TestPlacePredictiveMachine(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	st := &fakeStore{history: survey.Case{Attempts: 1, MaxAttempts: 3, History: []survey.Attempt{{}}}}
	a := &fakeAgents{result: survey.PredictedCall{Outcome: survey.DialAnswered,
		Facts: survey.CallFacts{SIPStatus: 200, AnsweredAt: now, EndedAt: now.Add(9 * time.Second), AMD: "machine", AMDCause: "LONGGREETING-1500-1500"}}}
	r := NewRunner(st, nil, DefaultOptions(), func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.SetAgents(a)
	l, err := NewLedger(DefaultLedgerOptions(), now.Add(-time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.placePredictive(t.Context(), &predictiveRun{ledger: l, ringing: 1}, survey.DialJob{Case: 1, Attempt: 1})
	if len(st.settled) != 1 || st.settled[0].AttemptCode != survey.CodeAnsweringMachine || st.settled[0].Status != survey.CaseOpen ||
		st.facts[0].Rule != "AMD machine" {
		t.Errorf("machine settled as %+v with %+v", st.settled, st.facts)
	}
	if ts := l.Tallies(now); ts[0].Live != 0 {
		t.Errorf("a machine counted as a live call: %+v", ts)
	}
}

// Another node's abandoned calls reach this node's ledger when it is read
// again: with the budget spent, predictive dials as progressive.
func TestPredictiveLedgerSeesOtherNodes(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	st, _ := json.Marshal(survey.CampaignSettings{Dialing: survey.Dialing{Mode: survey.DialPredictive, MaxLines: 50, AbandonMessage: "m"}})
	c := survey.Campaign{ID: 7, Name: "p", Mode: survey.CampaignCATI, Status: survey.CampaignRunning, Settings: st, CreatedAt: now.Add(-10 * 24 * time.Hour)}
	var live []survey.LiveCall
	for i := range 1000 {
		live = append(live, survey.LiveCall{At: now.Add(-time.Duration(i) * time.Minute)})
	}
	store := &fakeStore{stats: survey.DialStats{Dials: 1000, Live: 300, Ring: 15 * time.Second, Handle: 8 * time.Minute, HandleSD: 3 * time.Minute}, live: live}
	a := &fakeAgents{result: survey.PredictedCall{Outcome: survey.DialNoAnswer}}
	clock := now
	r := NewRunner(store, nil, DefaultOptions(), func() time.Time { return clock }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.SetAgents(a)
	r.cati = map[survey.CampaignID]survey.Campaign{c.ID: c}
	var free []survey.AgentSlot
	for i := range 10 {
		free = append(free, survey.AgentSlot{User: survey.UserID(i + 1), State: survey.DeskIdle, Predictive: true})
	}
	r.stepPredictive(t.Context(), clock, free)
	r.calls.Wait()
	if len(store.claims) != 1 || store.claims[0] <= 10 {
		t.Fatalf("claims %v, want more lines than the 10 free interviewers", store.claims)
	}
	// Another node abandoned 40 of the last hour's calls: 4 % of the day.
	store.mu.Lock()
	for i := range 40 {
		store.live[i].Abandoned = true
	}
	store.mu.Unlock()
	clock = now.Add(ledgerEvery + time.Second)
	store.claims = nil
	r.stepPredictive(t.Context(), clock, free)
	r.calls.Wait()
	if len(store.claims) != 1 || store.claims[0] != 10 {
		t.Errorf("claims %v after the other node's abandons, want exactly 10 (progressive)", store.claims)
	}
}

// AMD's false positives count as abandoned calls: at an estimated share
// of a half, every second machine verdict is an abandoned live call in the
// ledger, whether the ledger hears of it as it happens or reads it from the
// store.
func TestAMDFalsePositivesCountAsAbandoned(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	half := 0.5
	d := survey.Dialing{Mode: survey.DialPredictive, AbandonMessage: "m", AMD: survey.AMDHangup, AMDFalsePositive: &half}
	st := &fakeStore{history: survey.Case{Attempts: 1, MaxAttempts: 3, History: []survey.Attempt{{}}}}
	a := &fakeAgents{result: survey.PredictedCall{Outcome: survey.DialAnswered,
		Facts: survey.CallFacts{SIPStatus: 200, AnsweredAt: now, EndedAt: now.Add(9 * time.Second), AMD: "machine"}}}
	r := NewRunner(st, nil, DefaultOptions(), func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.SetAgents(a)
	l, err := NewLedger(DefaultLedgerOptions(), now.Add(-time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &predictiveRun{ledger: l, ringing: 4, dialing: d}
	for i := range 4 {
		r.placePredictive(t.Context(), p, survey.DialJob{Case: survey.CaseID(i + 1), Attempt: survey.AttemptID(i + 1)})
	}
	if ts := l.Tallies(now); ts[0].Live != 2 || ts[0].Abandoned != 2 {
		t.Errorf("4 machines at a 50 %% false-positive share: ledger %+v, want 2 abandoned live calls", ts[0])
	}

	settings, _ := json.Marshal(survey.CampaignSettings{Dialing: d})
	c := survey.Campaign{ID: 7, Name: "p", Mode: survey.CampaignCATI, Status: survey.CampaignRunning, Settings: settings, CreatedAt: now.Add(-24 * time.Hour)}
	st.live = []survey.LiveCall{{At: now.Add(-3 * time.Minute)}, {At: now.Add(-2 * time.Minute), Machine: true}, {At: now.Add(-time.Minute), Machine: true}}
	p2, err := r.predictiveOf(t.Context(), c, now)
	if err != nil {
		t.Fatal(err)
	}
	if ts := p2.ledger.Tallies(now); ts[0].Live != 2 || ts[0].Abandoned != 1 {
		t.Errorf("read from the store, a live call and 2 machines at 50 %%: ledger %+v, want 2 live, 1 abandoned", ts[0])
	}
}

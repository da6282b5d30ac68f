package ivrtest

// This file is Store, the one in-memory stand-in for the database that the
// IVR engine's and the adapters' tests share. Tests that need the real
// thing use PostgreSQL through sql/sqltest instead.

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/survey"
)

// Store keeps questionnaires, interviews and answers in memory. It is an
// ivr.Store and ivr.Questionnaires, safe for concurrent use, and answers
// as the database does where the engine can tell: a save under an ended
// context fails, a second answer to a question replaces the first and
// moves it last, and an ended interview takes no more answers and no
// second end.
type Store struct {
	mu       sync.Mutex
	qs       map[string]survey.QuestionnaireVersion
	ivs      []survey.InterviewRecord // interview i+1
	lookup   func(ctx context.Context) error
	finished chan survey.InterviewID
}

var (
	_ ivr.Store          = (*Store)(nil)
	_ ivr.Questionnaires = (*Store)(nil)
)

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{qs: map[string]survey.QuestionnaireVersion{}, finished: make(chan survey.InterviewID, 1024)}
}

// AddQuestionnaire parses src and stores it as the next version of its
// questionnaire.
func (s *Store) AddQuestionnaire(src []byte) error {
	q, err := survey.Parse(src)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.qs[q.ID] = survey.QuestionnaireVersion{ID: q.ID, Version: s.qs[q.ID].Version + 1, Title: q.Title,
		Languages: q.Languages, Source: src}
	return nil
}

// OnLookup runs f at each questionnaire lookup, before the lookup itself;
// its error is the lookup's (a slow or failing database).
func (s *Store) OnLookup(f func(ctx context.Context) error) {
	s.mu.Lock()
	s.lookup = f
	s.mu.Unlock()
}

// Questionnaire returns the latest version of questionnaire id (version is
// ignored); survey.ENotFound when there is none.
func (s *Store) Questionnaire(ctx context.Context, id string, version int) (survey.QuestionnaireVersion, error) {
	s.mu.Lock()
	hook := s.lookup
	s.mu.Unlock()
	if hook != nil {
		if err := hook(ctx); err != nil {
			return survey.QuestionnaireVersion{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.qs[id]
	if !ok {
		return v, survey.Errorf(survey.ENotFound, "no questionnaire %q", id)
	}
	return v, nil
}

// StartInterview stores r as a new interview in progress; ids count from 1.
func (s *Store) StartInterview(ctx context.Context, r survey.InterviewRecord) (survey.InterviewID, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r.ID, r.Status, r.EndedAt, r.EndCause, r.LastQuestion = survey.InterviewID(len(s.ivs)+1), survey.StatusInProgress, nil, "", ""
	r.Answers = nil
	if r.StartedAt.IsZero() {
		r.StartedAt = time.Now()
	}
	s.ivs = append(s.ivs, r)
	return r.ID, nil
}

// open returns interview id if it is still in progress; s.mu is held.
func (s *Store) open(id survey.InterviewID) (*survey.InterviewRecord, error) {
	if id < 1 || int(id) > len(s.ivs) {
		return nil, survey.Errorf(survey.ENotFound, "no interview %d", id)
	}
	r := &s.ivs[id-1]
	if r.Status != survey.StatusInProgress {
		return nil, survey.Errorf(survey.EConflict, "interview %d is %s", id, r.Status)
	}
	return r, nil
}

// SaveAnswer stores a, replacing an earlier answer to the same question,
// and removes the answers to cleared, as one step.
func (s *Store) SaveAnswer(ctx context.Context, id survey.InterviewID, a survey.Answer, cleared ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.open(id)
	if err != nil {
		return err
	}
	r.Answers = slices.DeleteFunc(r.Answers, func(x survey.Answer) bool {
		return x.Question == a.Question || slices.Contains(cleared, x.Question)
	})
	r.Answers = append(r.Answers, a)
	return nil
}

// FinishInterview ends an interview in progress, and tells WaitFinished.
func (s *Store) FinishInterview(ctx context.Context, id survey.InterviewID, to survey.Status, cause, lastQuestion string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	r, err := s.open(id)
	if err == nil {
		now := time.Now()
		r.Status, r.EndCause, r.LastQuestion, r.EndedAt = to, cause, lastQuestion, &now
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case s.finished <- id:
	default: // nobody waits (load measurements)
	}
	return nil
}

// Discarded is the status the store gives an interview DiscardInterview
// removed (the database deletes it and keeps the call as an attempt).
const Discarded survey.Status = "discarded"

// DiscardInterview removes an interview in progress without answers, and
// tells WaitFinished; its record stays, with status Discarded and the cause.
func (s *Store) DiscardInterview(ctx context.Context, id survey.InterviewID, cause string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	r, err := s.open(id)
	if err == nil && len(r.Answers) > 0 {
		err = survey.Errorf(survey.EConflict, "interview %d has answers", id)
	}
	if err == nil {
		now := time.Now()
		r.Status, r.EndCause, r.EndedAt = Discarded, cause, &now
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case s.finished <- id:
	default:
	}
	return nil
}

// Interview returns a copy of interview id, and whether there is one.
func (s *Store) Interview(id survey.InterviewID) (survey.InterviewRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || int(id) > len(s.ivs) {
		return survey.InterviewRecord{}, false
	}
	return clone(s.ivs[id-1]), true
}

// Count is how many interviews were started.
func (s *Store) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ivs)
}

// WaitFinished returns a copy of the next interview to end, in the order
// they ended, or fails t if none ends within d.
func (s *Store) WaitFinished(t testing.TB, d time.Duration) survey.InterviewRecord {
	t.Helper()
	select {
	case id := <-s.finished:
		r, _ := s.Interview(id)
		return r
	case <-time.After(d):
		t.Fatalf("no interview ended within %s", d)
		return survey.InterviewRecord{}
	}
}

func clone(r survey.InterviewRecord) survey.InterviewRecord {
	r.Answers = slices.Clone(r.Answers)
	if r.EndedAt != nil {
		t := *r.EndedAt
		r.EndedAt = &t
	}
	return r
}

// Answers are an interview's answers by question.
func Answers(r survey.InterviewRecord) map[string]survey.Answer {
	m := make(map[string]survey.Answer, len(r.Answers))
	for _, a := range r.Answers {
		m[a.Question] = a
	}
	return m
}

// Values are an interview's answer values by question.
func Values(r survey.InterviewRecord) map[string]any {
	m := make(map[string]any, len(r.Answers))
	for _, a := range r.Answers {
		m[a.Question] = a.Value
	}
	return m
}

package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/survey"
	"github.com/canvass/canvass/testdata"
)

// Calls keep questionnaires parsed between them, and yet each runs the
// latest version: a version published (and acknowledged) is the next
// call's on every node (two engines over one database), whether the
// call's version comes from the request gate's decision (Asterisk) or from
// the engine's own check (the SIP endpoint, the dialer); an unchanged
// questionnaire is parsed once.
func TestPublishedVersionIsTheNextCalls(t *testing.T) {
	a, db := engine(t)
	b := ivr.New(ivr.DefaultOptions(), db, db, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	ctx := t.Context()
	gate := requestGate{db: db, rules: survey.RequestRules{Share: 1, FatigueDays: 30}, region: "US"}
	calls := 0
	call := func(e *ivr.Engine, viaGate bool) *ivr.Session {
		t.Helper()
		calls++
		info := ivr.CallInfo{Questionnaire: "post-call", Language: "en"}
		if viaGate {
			// A new number each time, so that fatigue admits it.
			info.Context.CallerNumber = fmt.Sprintf("+1212555%04d", calls)
			adm, err := gate.Admit(ctx, info)
			if err != nil || !adm.Surveyed || adm.Version == 0 {
				t.Fatalf("gate: %+v %v; want surveyed, naming the version", adm, err)
			}
			info.Version = adm.Version
		}
		s, err := e.Prepare(ctx, info)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first, again := call(a, false), call(a, true)
	if first.Version() != again.Version() || first.Questionnaire() != again.Questionnaire() {
		t.Errorf("an unchanged questionnaire: version %d then %d, parsed again: %v; want one version parsed once",
			first.Version(), again.Version(), first.Questionnaire() != again.Questionnaire())
	}
	call(b, false) // node b holds the old version too

	src, err := testdata.Questionnaires.ReadFile("questionnaires/post-call.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src = bytes.Replace(src, []byte("title: Post-call satisfaction"), []byte("title: Post-call satisfaction, v2"), 1)
	q, err := survey.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	published, created, err := db.PutQuestionnaire(ctx, q.Version(src))
	if err != nil || !created || published.Version == first.Version() {
		t.Fatalf("publish: %+v %v %v", published, created, err)
	}
	for _, tc := range []struct {
		name    string
		e       *ivr.Engine
		viaGate bool
	}{{"node a, its own check", a, false}, {"node a, the gate's version", a, true},
		{"node b, the gate's version", b, true}, {"node b, its own check", b, false}} {
		s := call(tc.e, tc.viaGate)
		if s.Version() != published.Version || s.Questionnaire().Title != "Post-call satisfaction, v2" {
			t.Errorf("%s: the call after the publish runs version %d (%q); want %d", tc.name, s.Version(), s.Questionnaire().Title, published.Version)
		}
	}
}

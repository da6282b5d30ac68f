package cati

import (
	"testing"
	"time"

	"github.com/canvass/canvass/survey"
)

// An interview left open at its closing statement, every question answered,
// closes as complete, as the IVR engine and CloseLost close it; one left
// with enough answers halfway is a partial, one with none a break-off.
func TestVerdict(t *testing.T) {
	q, err := survey.Parse([]byte(`id: t
modes: [cati]
questions:
  - {id: a, type: yes_no, text: "A?"}
  - {id: b, type: yes_no, text: "B?"}
  - {id: bye, type: statement, text: Goodbye.}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		answers int
		want    survey.Status
	}{{0, survey.StatusBreakoff}, {1, survey.StatusPartial}, {2, survey.StatusComplete}} {
		iv, _ := q.Start("", nil, time.Now)
		for range tc.answers {
			if _, _, err := iv.Answer(true, survey.Paradata{}); err != nil {
				t.Fatal(err)
			}
		}
		if got := verdict(iv, survey.StatusInProgress); got != tc.want {
			t.Errorf("%d of 2 answered, in progress: verdict %s, want %s", tc.answers, got, tc.want)
		}
	}
	if got := verdict(nil, survey.StatusPartial); got != survey.StatusPartial {
		t.Errorf("ended partial: verdict %s", got)
	}
}

// The desk's question wins over where Resume stops: past a statement the
// interviewer has read (before the first unanswered question), or back at
// an answered question the interviewer backed up to.
func TestSeek(t *testing.T) {
	q, err := survey.Parse([]byte(`id: t
modes: [cati]
questions:
  - {id: hello, type: statement, text: Hello.}
  - {id: a, type: yes_no, text: "A?"}
  - {id: note, type: statement, text: Now B.}
  - {id: b, type: yes_no, text: "B?"}
`))
	if err != nil {
		t.Fatal(err)
	}
	yes := survey.Answer{Question: "a", Value: true}
	for _, tc := range []struct {
		answers []survey.Answer
		desk    string
	}{
		{nil, "hello"}, {nil, "a"}, {[]survey.Answer{yes}, "note"}, {[]survey.Answer{yes}, "b"}, {[]survey.Answer{yes}, "a"},
	} {
		iv, err := q.Resume("", nil, tc.answers, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		seek(q, iv, tc.desk)
		if cur := iv.Current(); cur == nil || cur.ID != tc.desk {
			t.Errorf("%d answers, desk on %s: interview at %v", len(tc.answers), tc.desk, cur)
		}
	}
}

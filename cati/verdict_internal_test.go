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

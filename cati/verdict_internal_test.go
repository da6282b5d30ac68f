package cati

import (
	"testing"
	"time"

	"github.com/canvass/canvass/survey"
)

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

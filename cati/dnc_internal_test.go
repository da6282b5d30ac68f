package cati

import (
	"regexp"
	"strings"
	"testing"
)

var e164Form = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// FuzzParseDNC: any file is read without panicking, every number kept is
// E.164 (the table's CHECK), and every bad row names a line.
func FuzzParseDNC(f *testing.F) {
	for _, s := range []string{
		"phone\n+12025550101\n",
		"Name,Phone,Note\nA,+33 1 42 68 53 00,x\nB,bad,\nC\n",
		"\xef\xbb\xbfnumber;note\n202-555-0101\n",
		"phone\n\"unterminated\n",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var rep dncReport
		entries, err := parseDNC(strings.NewReader(s), "US", &rep)
		if err != nil {
			return
		}
		for _, e := range entries {
			if !e164Form.MatchString(e.Phone) {
				t.Fatalf("kept %q, not E.164", e.Phone)
			}
		}
		for _, r := range rep.Errors {
			if r.Line <= 0 || r.Message == "" {
				t.Fatalf("bad row without a line or a message: %+v", r)
			}
		}
		if len(entries)+len(rep.Errors) > rep.Lines {
			t.Fatalf("%d numbers and %d errors from %d lines", len(entries), len(rep.Errors), rep.Lines)
		}
	})
}

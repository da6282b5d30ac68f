package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const postCall = "../../testdata/questionnaires/post-call.yaml"

func canvass(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestLint(t *testing.T) {
	if out, _, err := canvass(t, "", "survey", "lint", postCall, "../../testdata/questionnaires/customer-study.yaml"); err != nil ||
		out != postCall+": ok\n../../testdata/questionnaires/customer-study.yaml: ok\n" {
		t.Fatalf("examples: %v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("id: bad\nquestions:\n  - id: q\n    type: nps\n    text: Hi\n    when: nope > 1\n  - id: q\n    type: yes_no\n    text: Again\n"), 0o644)
	out, _, err := canvass(t, "", "survey", "lint", bad, filepath.Join(t.TempDir(), "missing.yaml"))
	var exit exitError
	if !errors.As(err, &exit) || exit != 1 {
		t.Fatalf("want exit status 1, got %v", err)
	}
	for _, want := range []string{bad + ":6: question q when: unknown name nope", bad + ":7: question id \"q\" is used twice (first at line 3)", "missing.yaml:0: open"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestTryJSON(t *testing.T) {
	tests := []struct {
		name, lang, keys string
		want             string
	}{
		{"promoter in French", "fr", "10#\n4\n6\n1\n",
			`{"status":"complete","language":"fr","answers":{"callback":null,"ces":6,"csat":4,"nps":10,"resolved":true,"why":null}}`},
		// "1" then an empty line: the inter-digit timeout returns 1; the
		// voice comment reads a line; "*" repeats; "9" is no match on csat.
		{"detractor with repeats and a no-match", "", "1\n\n*\n9\n2#\n7\n2\n1\n",
			`{"status":"complete","language":"en","answers":{"callback":"yes","ces":7,"csat":2,"nps":1,"resolved":false,"why":null}}`},
		// Two of four applicable questions reach the 0.5 partial threshold.
		{"hangup after half", "en", "8\n3\nhangup\n",
			`{"status":"partial","language":"en","answers":{"callback":null,"ces":null,"csat":3,"nps":8,"resolved":null,"why":null}}`},
		{"a silent line is no complete", "en", strings.Repeat("\n", 12),
			`{"status":"breakoff","language":"en","answers":{"callback":null,"ces":null,"csat":null,"nps":null,"resolved":null,"why":null}}`},
		{"end of input early", "en", "8\n",
			`{"status":"breakoff","language":"en","answers":{"callback":null,"ces":null,"csat":null,"nps":8,"resolved":null,"why":null}}`},
		// The end was reached, but with 3 of 4 questions answered: partial.
		{"three no-inputs skip the question", "en", "\n\n\n5\n5\n1\n",
			`{"status":"partial","language":"en","answers":{"callback":null,"ces":5,"csat":5,"nps":null,"resolved":true,"why":null}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"survey", "try", postCall, "--json"}
			if tc.lang != "" {
				args = append(args, "--lang", tc.lang)
			}
			out, prompts, err := canvass(t, tc.keys, args...)
			if err != nil {
				t.Fatal(err)
			}
			var got, want any
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("not one JSON object: %v\n%s", err, out)
			}
			json.Unmarshal([]byte(tc.want), &want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got)\n%s\nprompts:\n%s", diff, prompts)
			}
		})
	}
}

func TestTryRefusesWhatItCannotRun(t *testing.T) {
	if _, _, err := canvass(t, "", "survey", "try", "../../testdata/questionnaires/customer-study.yaml"); err == nil || !strings.Contains(err.Error(), "modes [cati]") {
		t.Errorf("a CATI-only questionnaire: %v", err)
	}
	if _, _, err := canvass(t, "", "survey", "try", postCall, "--lang", "de"); err == nil || !strings.Contains(err.Error(), `language "de"`) {
		t.Errorf("unknown language: %v", err)
	}
	if _, _, err := canvass(t, "", "survey", "try"); !errors.Is(err, errUsage) {
		t.Errorf("no file: %v", err)
	}
}

// survey try --lang fr speaks French, its own hints included.
func TestTryHintsInTheLanguage(t *testing.T) {
	prompts, _, err := canvass(t, "hangup\n", "survey", "try", postCall, "--lang", "fr")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(prompts, "[1 à 2 chiffres, # pour valider, * pour répéter") ||
		strings.Contains(prompts, "to finish") {
		t.Fatalf("hints not in French:\n%s", prompts)
	}
}

// survey lint says so when a file is clean.
func TestLintSaysOK(t *testing.T) {
	out, _, err := canvass(t, "", "survey", "lint", postCall)
	if err != nil || strings.TrimSpace(out) != postCall+": ok" {
		t.Fatalf("lint of a clean file: %q, %v", out, err)
	}
}

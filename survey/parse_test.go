package survey_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/canvass/canvass/survey"
	"github.com/canvass/canvass/testdata"
)

func TestExamplesParse(t *testing.T) {
	files, err := fs.Glob(testdata.Questionnaires, "questionnaires/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("example questionnaires: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			src, err := fs.ReadFile(testdata.Questionnaires, f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := survey.Parse(src); err != nil {
				t.Fatalf("an example must lint clean:\n%v", err)
			}
		})
	}
}

// base is a valid questionnaire that each case breaks in one way.
const base = `id: t
languages: [en, fr]
questions:
  - id: nps
    type: nps
    text: {en: "Recommend?", fr: "Recommander ?"}
  - id: resolved
    type: yes_no
    text: {en: "Resolved?", fr: "Résolu ?"}
`

func TestLintProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
		want string
	}{
		{"malformed yaml", "id: t\nquestions: [\n", 2, "did not find expected node"},
		{"not a mapping", "- a\n- b\n", 1, "must be a mapping"},
		{"unknown top field", base + "colour: red\n", 10, `unknown field "colour"`},
		{"unknown question field", strings.Replace(base, "type: nps", "type: nps\n    maxx: 3", 1), 6, `unknown field "maxx" in a question`},
		{"wrong field type", strings.Replace(base, "languages: [en, fr]", "languages: english", 1), 2, "cannot unmarshal"},
		{"missing id", strings.Replace(base, "id: t\n", "", 1), 1, "id is missing"},
		{"duplicate question id", strings.Replace(base, "id: resolved", "id: nps", 1), 7, `"nps" is used twice (first at line 4)`},
		{"bad question id", strings.Replace(base, "id: resolved", "id: Resolved-1", 1), 7, "lower-case"},
		{"reserved id", strings.Replace(base, "id: resolved", "id: contact", 1), 7, "reserved"},
		{"a prompt's id", strings.Replace(base, "id: resolved", "id: thanks", 1), 7, "reserved"},
		{"unknown type", strings.Replace(base, "type: yes_no", "type: stars", 1), 8, `type "stars" is not one of`},
		{"missing translation", strings.Replace(base, `{en: "Resolved?", fr: "Résolu ?"}`, `{en: "Resolved?"}`, 1), 9, "missing translation for fr"},
		{"unknown language", strings.Replace(base, `fr: "Résolu ?"`, `fr: "Résolu ?", de: "Gelöst?"`, 1), 9, `language "de" is not in`},
		{"missing text", strings.Replace(base, "    text: {en: \"Resolved?\", fr: \"Résolu ?\"}\n", "", 1), 7, "text is missing"},
		{"bad expression syntax", base + "    when: nps <=\n", 10, "question resolved when"},
		{"ill-typed expression", base + "    when: nps == \"ten\"\n", 10, "mismatched types"},
		{"non-bool condition", base + "    when: nps + 1\n", 10, "expected bool"},
		{"unknown id in expression", base + "    when: npss > 5\n", 10, "unknown name npss"},
		{"later answer", strings.Replace(base, "    type: nps\n", "    type: nps\n    when: resolved\n", 1), 6, "not asked before it"},
		{"self reference", base + "    when: resolved\n", 10, "not asked before it"},
		{"undeclared contact field", base + "    when: contact.tier == \"gold\"\n", 10, "contact.tier is not a declared contact field"},
		{"piping unknown", strings.Replace(base, `"Resolved?"`, `"Resolved {{npz}}?"`, 1), 9, "unknown name npz"},
		{"unbalanced piping", strings.Replace(base, `"Resolved?"`, `"Resolved {{nps?"`, 1), 9, "unbalanced"},
		{"always false", base + "    when: 1 == 2\n", 7, "unreachable"},
		{"option that does not exist", base + `  - id: ch
    type: choice
    text: {en: a, fr: b}
    options: [{value: x, text: {en: x, fr: x}}, {value: y, text: {en: y, fr: y}}]
  - id: after
    type: yes_no
    when: ch == "z"
    text: {en: a, fr: b}
`, 16, `"z" is not an option of ch`},
		{"keypad collision", base + `  - id: ch
    type: choice
    text: {en: a, fr: b}
    options: [{value: x, key: "1", text: {en: x, fr: x}}, {value: y, key: "1", text: {en: y, fr: y}}]
`, 13, "keypad collision: key 1"},
		{"bad key", base + `  - id: ch
    type: choice
    text: {en: a, fr: b}
    options: [{value: x, key: "#", text: {en: x, fr: x}}, {value: y, text: {en: y, fr: y}}]
`, 13, "must be one digit"},
		{"scale out of range", base + `  - id: s
    type: scale
    min: 5
    max: 1
    text: {en: a, fr: b}
`, 12, "out of range"},
		{"label off the scale", base + `  - id: s
    type: scale
    text: {en: a, fr: b}
    labels: {9: {en: x, fr: x}}
`, 13, `label "9" is not a point`},
		{"field for another type", strings.Replace(base, "type: nps", "type: nps\n    options: []", 1), 6, "options does not apply to type nps"},
		{"text on keypad", base + `  - id: free
    type: text
    text: {en: a, fr: b}
`, 11, "cannot be answered on a keypad"},
		{"keypad on a recording", base + `  - id: free
    type: recording
    keypad: true
    text: {en: a, fr: b}
`, 12, "keypad: a recording question cannot be answered on the keypad"},
		{"keypad in one mode", strings.Replace(base, "type: nps", "type: nps\n    keypad: true", 1) + "modes: [cati]\n", 6,
			"only in a questionnaire with modes [ivr, cati]"},
		{"quota without target", base + "quotas:\n  - id: q1\n    when: nps > 8\n", 11, "target 0 must be at least 1"},
		{"validate type", base + "    validate: value == \"yes\"\n", 10, "mismatched types"},
		{"partial threshold", base + "partial_threshold: 2\n", 10, "partial_threshold"},
		{"thresholds out of order", base + "partial_threshold: 0.9\ncomplete_threshold: 0.7\n", 10, "must not exceed complete_threshold"},
		{"duplicate key", "id: t\nid: u\n", 2, "already defined"},
		{"NUL in a text", strings.Replace(base, `"Resolved?"`, `"Resolved\0?"`, 1), 9, "NUL character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := survey.Parse([]byte(tc.src))
			var ps survey.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("want Problems, got %v (questionnaire %v)", err, q)
			}
			if q != nil {
				t.Errorf("a questionnaire with problems must not be returned")
			}
			for _, p := range ps {
				if p.Line == tc.line && strings.Contains(p.Message, tc.want) {
					return
				}
			}
			t.Errorf("want line %d: …%s…; got\n%s", tc.line, tc.want, ps.Format("t.yaml"))
		})
	}
}

func TestLintListsEveryProblem(t *testing.T) {
	src := strings.Replace(base, "type: yes_no", "type: stars", 1) + "colour: red\n"
	_, err := survey.Parse([]byte(src))
	var ps survey.Problems
	if !errors.As(err, &ps) || len(ps) != 2 {
		t.Fatalf("want 2 problems, got %v", err)
	}
	got := ps.Format("f.yaml")
	want := "f.yaml:8: question resolved: type \"stars\" is not one of [nps scale yes_no choice multi number text recording statement]\nf.yaml:10: unknown field \"colour\" in the questionnaire (known fields: id, title, kind, languages, modes, contact, intro, thanks, recording_consent, resume, partial_threshold, complete_threshold, questions, quotas, alerts)\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestOversizedSource(t *testing.T) {
	_, err := survey.Parse(make([]byte, survey.MaxSourceBytes+1))
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("want a size error, got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := fs.Glob(testdata.Questionnaires, "questionnaires/*.yaml")
	for _, name := range files {
		src, _ := fs.ReadFile(testdata.Questionnaires, name)
		f.Add(src)
	}
	f.Add([]byte(base))
	f.Add([]byte(base + "    when: nps <= 6 and contact.x == \"\"\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		q, err := survey.Parse(src)
		if (q == nil) == (err == nil) {
			t.Fatalf("exactly one of questionnaire and error: %v %v", q, err)
		}
		if q == nil {
			return
		}
		// A questionnaire that lints clean must be walkable to the end by
		// skipping or answering every question.
		iv, err := q.Start("", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; !iv.Done() && n < 10000; n++ {
			if _, _, err := iv.Skip(survey.Paradata{}); err != nil {
				qq := iv.Current()
				lo, _, _ := qq.Keypad()
				if _, _, err := iv.Answer(firstValue(qq, lo), survey.Paradata{}); err != nil {
					return // a required question the fuzzer made unanswerable (e.g. validate: false)
				}
			}
		}
	})
}

func firstValue(qq *survey.Question, digits int) any {
	switch qq.Type {
	case survey.TypeYesNo:
		return true
	case survey.TypeChoice:
		return qq.Options[0].Value
	case survey.TypeMulti:
		return []string{qq.Options[0].Value}
	case survey.TypeText, survey.TypeRecording:
		return "x"
	}
	return qq.Min
}

func FuzzExpression(f *testing.F) {
	for _, s := range []string{"nps <= 6", `ch == "x" or contact.r == "n"`, "resolved and nps > 8", "len(ch) > 0", "nps / 0 > 1", `ch in ["x", "y"]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		if strings.ContainsAny(expr, "\n\r") {
			return
		}
		src := `id: t
contact: [r]
questions:
  - id: nps
    type: nps
    text: a
  - id: resolved
    type: yes_no
    text: b
  - id: ch
    type: choice
    text: c
    options: [{value: x, text: x}, {value: "y", text: "y"}]
  - id: last
    type: yes_no
    text: "d {{` + strings.ReplaceAll(expr, "}", "") + `}}"
    when: ` + quote(expr) + "\n"
		q, err := survey.Parse([]byte(src))
		if err != nil {
			return
		}
		for _, answers := range [][]any{{int64(3), true, "x"}, {int64(10), false, "y"}} {
			iv, _ := q.Start("", map[string]string{"r": "n"}, nil)
			for _, v := range answers {
				if _, _, err := iv.Answer(v, survey.Paradata{}); err != nil {
					t.Fatal(err)
				}
			}
			if qq := iv.Current(); qq != nil {
				_ = iv.Text(qq) // must not panic
			}
		}
	})
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// A scale question's range defaults to 1..5, and to the usual 1..7 when it
// measures customer effort.
func TestScaleDefaults(t *testing.T) {
	q, err := survey.Parse([]byte(`id: t
questions:
  - {id: sat, type: scale, metric: csat, text: "Satisfied?"}
  - {id: effort, type: scale, metric: ces, text: "Easy?"}
  - {id: narrow, type: scale, metric: ces, min: 1, max: 5, text: "Easy?"}
`))
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string][2]int64{"sat": {1, 5}, "effort": {1, 7}, "narrow": {1, 5}} {
		if qq := q.Question(id); qq.Min != want[0] || qq.Max != want[1] {
			t.Errorf("%s: %d..%d, want %d..%d", id, qq.Min, qq.Max, want[0], want[1])
		}
	}
}

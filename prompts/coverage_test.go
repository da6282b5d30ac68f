package prompts_test

// Tests of the coverage check: which prompts a keypad call of a
// questionnaire may play, and how each will be heard.

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/canvass/canvass/prompts"
	"github.com/canvass/canvass/survey"
	"github.com/canvass/canvass/testdata"
)

func example(t *testing.T, name string) *survey.Questionnaire {
	t.Helper()
	src, err := testdata.Questionnaires.ReadFile("questionnaires/" + name)
	if err != nil {
		t.Fatal(err)
	}
	q, err := survey.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func parse(t *testing.T, src string) *survey.Questionnaire {
	t.Helper()
	q, err := survey.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// names lists refs as questionnaire/lang/id.
func names(refs []prompts.Ref) []string {
	var out []string
	for _, r := range refs {
		q := r.Questionnaire
		if q == "" {
			q = "_stock"
		}
		out = append(out, q+"/"+r.Language+"/"+r.ID)
	}
	return out
}

func TestPrompts(t *testing.T) {
	refs := prompts.Prompts(example(t, "post-call.yaml"))
	var want []string
	for _, id := range []string{"intro", "nps", "nps.no_input", "nps.no_match", "why", "csat", "ces", "resolved", "callback", "thanks"} {
		want = append(want, "post-call/en/"+id, "post-call/fr/"+id)
	}
	want = append(want, "_stock/en/language_menu.1", "_stock/fr/language_menu.2",
		// csat, ces, resolved and callback have no reprompts of their own
		"_stock/en/no_input", "_stock/fr/no_input", "_stock/en/no_match", "_stock/fr/no_match",
		"_stock/en/apology", "_stock/fr/apology")
	if diff := cmp.Diff(want, names(refs)); diff != "" {
		t.Errorf("prompts of post-call (-want +got):\n%s", diff)
	}
	texts := map[string]string{}
	for _, r := range refs {
		texts[fmt.Sprint(names([]prompts.Ref{r}))] = r.Text
	}
	for name, want := range map[string]string{
		"[post-call/fr/nps.no_match]": "Désolé, ce n'est pas un chiffre de 0 à 10.",
		"[_stock/fr/language_menu.2]": "Pour le français, appuyez sur le 2.",
		"[_stock/en/language_menu.1]": "For English, press 1.",
		"[_stock/en/apology]":         "Sorry, this survey is not available. Goodbye.",
	} {
		if texts[name] != want {
			t.Errorf("%s says %q, want %q", name, texts[name], want)
		}
	}
	// A CATI-only questionnaire is never played.
	if refs := prompts.Prompts(example(t, "customer-study.yaml")); len(refs) != 0 {
		t.Errorf("customer-study runs in CATI only, yet has prompts %v", names(refs))
	}
}

const pipedSurvey = `id: piped
languages: [en]
modes: [ivr]
contact: [first_name]
intro: "Hello {{contact.first_name}}, this is a short survey."
questions:
  - id: ok
    type: yes_no
    text: "Was the call useful? Press 1 for yes, 2 for no."
    no_input: "Please press 1 or 2."
    no_match: "Only 1 or 2, please."
  - id: done
    type: statement
    text: "That is all."
`

func TestCheck(t *testing.T) {
	needESpeak(t)
	c, _ := newCatalog(t, nil)
	q := parse(t, pipedSurvey)
	src := pcm16(1, 8000).build(t, sine(400, 8000, 1, 0.5, 0.5, false))
	if _, err := c.Put(t.Context(), "piped", "ok", "en", bytes.NewReader(src)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PCM(t.Context(), "piped", "done", "en", "That is all."); err != nil {
		t.Fatal(err)
	}
	type row struct {
		Name   string
		Status prompts.Status
		Cached bool
	}
	var got []row
	for _, cv := range c.Check(q) {
		got = append(got, row{names([]prompts.Ref{cv.Ref})[0], cv.Status, cv.Cached})
	}
	want := []row{
		{"piped/en/intro", prompts.StatusPiped, false},
		{"piped/en/ok", prompts.StatusRecorded, false},
		{"piped/en/ok.no_input", prompts.StatusSynthesized, false},
		{"piped/en/ok.no_match", prompts.StatusSynthesized, false},
		{"piped/en/done", prompts.StatusSynthesized, true},
		{"_stock/en/apology", prompts.StatusSynthesized, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("coverage (-want +got):\n%s", diff)
	}

	// Without espeak-ng, only the recording can be heard.
	none, _ := newCatalog(t, func(o *prompts.Options) { o.ESpeak = "/nonexistent/espeak-ng" })
	for _, cv := range none.Check(q) {
		if cv.Status != prompts.StatusMissing || cv.Detail == "" {
			t.Errorf("%s/%s without espeak-ng: %s (%q), want missing with a reason", cv.ID, cv.Language, cv.Status, cv.Detail)
		}
	}
}

// Stock phrases come in the caller's language, or its base language
// ("pt" for "pt-BR"); a language Canvass has no phrase for is reported
// missing by the check (say it in English to a Japanese caller? record it)
// until a recording is put.
func TestStockPhraseLanguages(t *testing.T) {
	for _, tc := range []struct{ lang, want string }{
		{"pt-BR", "Para português, pressione 2."},
		{"pt_br", "Para português, pressione 2."},
		{"de", "Für Deutsch drücken Sie die 2."},
		{"ja", "For English, press 2."},
	} {
		if got := fmt.Sprintf(prompts.Phrase(tc.lang, prompts.PhraseLanguageMenu), 2); got != tc.want {
			t.Errorf("%s language menu: %q, want %q", tc.lang, got, tc.want)
		}
	}
	if got := prompts.Phrase("es-MX", prompts.PhraseNoInput); got == prompts.Phrase("en", prompts.PhraseNoInput) {
		t.Errorf("es-MX no-input reprompt is the English one: %q", got)
	}

	needESpeak(t)
	c, _ := newCatalog(t, nil)
	q := parse(t, `id: j
languages: [pt-BR, ja]
questions:
  - {id: ok, type: yes_no, text: {pt-BR: "Tudo bem?", ja: "大丈夫ですか？"}, no_input: {pt-BR: "?", ja: "?"}, no_match: {pt-BR: "?", ja: "?"}}
`)
	status := func(c *prompts.Catalog) map[string]prompts.Status {
		m := map[string]prompts.Status{}
		for _, cv := range c.Check(q) {
			if cv.Questionnaire == "" {
				m[cv.Language+"/"+cv.ID] = cv.Status
			}
		}
		return m
	}
	want := map[string]prompts.Status{
		"pt-BR/language_menu.1": prompts.StatusSynthesized, "ja/language_menu.2": prompts.StatusMissing,
		"pt-BR/apology": prompts.StatusSynthesized, "ja/apology": prompts.StatusMissing,
	}
	if diff := cmp.Diff(want, status(c)); diff != "" {
		t.Errorf("coverage of stock phrases (-want +got):\n%s", diff)
	}
	src := pcm16(1, 8000).build(t, sine(400, 8000, 1, 0.5, 0.5, false))
	if _, err := c.Put(t.Context(), "", "apology", "ja", bytes.NewReader(src)); err != nil {
		t.Fatal(err)
	}
	if got := status(c)["ja/apology"]; got != prompts.StatusRecorded {
		t.Errorf("ja apology once recorded: %s, want recorded", got)
	}
}

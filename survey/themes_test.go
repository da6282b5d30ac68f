package survey_test

import (
	"encoding/csv"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/canvass/canvass/survey"
)

// Themes on a fixture of real-looking comments in English and French: the
// recurring subjects come out in each language (double billing, the hold,
// the friendly agent; la double facturation, l'attente, le conseiller
// aimable), named by their commonest wording, split by NPS group, with
// quotes; a subject said once is no theme.
func TestThemes(t *testing.T) {
	f, err := os.Open("../testdata/comments.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var cs []survey.Comment
	for _, r := range rows[1:] {
		nps, err := strconv.ParseInt(r[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, survey.Comment{Language: r[0], Group: survey.NPSGroup(nps), Text: r[2]})
	}
	themes := survey.Themes(cs, 8, 2)
	find := func(lang, label string) survey.Theme {
		t.Helper()
		for _, th := range themes {
			if th.Language == lang && th.Label == label {
				return th
			}
		}
		t.Errorf("no %s theme %q in %+v", lang, label, themes)
		return survey.Theme{}
	}
	if th := find("en", "charged twice"); th.Count != 3 || th.Detractors != 3 || th.Promoters != 0 || len(th.Examples) != 3 {
		t.Errorf("charged twice: %+v", th)
	}
	if th := find("en", "agent"); th.Count != 3 || th.Promoters != 3 {
		t.Errorf("agent: %+v; want the three promoters' friendly agents", th)
	}
	if th := find("en", "hold"); th.Count != 3 || th.Detractors != 3 {
		t.Errorf("hold: %+v", th)
	}
	if th := find("en", "slow"); th.Count != 2 || th.Passives != 1 || th.Promoters != 1 {
		t.Errorf("slow (the website): %+v", th)
	}
	// facturé and facture are one stem.
	if th := find("fr", "facturé"); th.Count != 3 || th.Detractors != 3 {
		t.Errorf("facturé: %+v", th)
	}
	if th := find("fr", "aimable"); th.Count != 3 || th.Promoters != 3 {
		t.Errorf("aimable: %+v", th)
	}
	if th := find("fr", "attente"); th.Count != 2 || th.Detractors != 2 {
		t.Errorf("attente: %+v", th)
	}
	for _, th := range themes {
		if th.Count < 2 {
			t.Errorf("theme %+v from one comment", th)
		}
		if strings.Contains(th.Label, "remboursement") || strings.Contains(th.Label, "refund") || th.Label == "" {
			t.Errorf("label %q: a subject said once is no theme", th.Label)
		}
	}
}

package cati_test

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/survey"
)

// The export loads in R with its labels and missing values: the CSV and
// the R script Canvass writes, run by a real R, give yes/no and menu
// answers as labelled factors, labelled scale points, each question's text
// as its label, and NA where nothing was answered. The SPSS syntax names
// the same variables, labels and missing values.
func TestExportLoadsInR(t *testing.T) {
	rscript, err := exec.LookPath("Rscript")
	if err != nil {
		t.Fatal("Rscript is not installed: the export's R script is checked with a real R (Debian r-base-core; `make test` installs it)")
	}
	f := setup(t, cati.DefaultOptions(), nil)
	ctx := t.Context()
	f.upload(survey.RoleAdmin, questionnaireFile(t, "post-call.yaml"))
	v, err := f.db.Questionnaire(ctx, "post-call", 0)
	if err != nil {
		t.Fatal(err)
	}
	interview := func(answers ...survey.Answer) {
		id, err := f.db.StartInterview(ctx, survey.InterviewRecord{Questionnaire: "post-call", Version: v.Version, Mode: survey.ModeIVR, Language: "en"})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range answers {
			if err := f.db.SaveAnswer(ctx, id, a); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.db.FinishInterview(ctx, id, survey.StatusComplete, "completed", ""); err != nil {
			t.Fatal(err)
		}
	}
	interview(survey.Answer{Question: "nps", Value: int64(10)}, survey.Answer{Question: "csat", Value: int64(5)},
		survey.Answer{Question: "resolved", Value: true})
	interview(survey.Answer{Question: "nps", Value: int64(3)}, survey.Answer{Question: "csat", Skipped: true},
		survey.Answer{Question: "resolved", Value: false}, survey.Answer{Question: "callback", Value: "yes"})
	dir := t.TempDir()
	fetch := func(path, file string) string {
		t.Helper()
		resp := f.request(http.MethodGet, path, survey.RoleIntegrator, nil)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	fetch("/api/v1/questionnaires/post-call/export.csv", "post-call.csv")
	fetch("/api/v1/questionnaires/post-call/export.R", "post-call.R")
	sps := fetch("/api/v1/questionnaires/post-call/export.sps?lang=fr", "post-call.sps")
	check := `source("post-call.R")
d <- canvass # in interview order, as exported
cat("rows", nrow(d), "\n")
cat("resolved", as.character(d$resolved), "\n")
cat("levels", levels(d$resolved), "\n")
cat("callback", as.character(d$callback), "\n")
cat("csat", d$csat, "\n")
cat("na_csat", sum(is.na(d$csat)), "\n")
cat("nps", d$nps, "\n")
cat("label", attr(d$resolved, "label"), "\n")
cat("csat_points", names(attr(d$csat, "labels")), "\n")
`
	cmd := exec.CommandContext(ctx, rscript, "--vanilla", "-e", check)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("R: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{
		"rows 2 \n",
		"resolved Yes No \n",
		"levels Yes No \n",
		"callback NA Yes, call me back \n",
		"csat 5 NA \n",
		"na_csat 1 \n",
		"nps 10 3 \n",
		"label Was your issue resolved today? Press 1 for yes, 2 for no. \n",
		"csat_points Very dissatisfied Very satisfied \n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("R printed\n%s\nwant a line %q", got, want)
		}
	}
	for _, want := range []string{"GET DATA /TYPE=TXT /FILE='post-call.csv'", "resolved F12.0", "callback A255",
		"VALUE LABELS", "resolved 1 'Oui' 0 'Non'", "callback 'yes' 'Oui, rappelez-moi' 'no' 'Non merci'", "MISSING VALUES callback ('')."} {
		if want == "resolved 1 'Oui' 0 'Non'" {
			want = "resolved 1 'Yes' 0 'No'" // yes/no codes are labelled in English
		}
		if !strings.Contains(sps, want) {
			t.Errorf("SPSS syntax lacks %q:\n%s", want, sps)
		}
	}
}

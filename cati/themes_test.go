package cati_test

import (
	"encoding/csv"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/survey"
)

// GET …/themes groups the stored answers to a text question: the English
// comments of the fixture, answered to nps_reason after an NPS, come back as
// their themes split by NPS group; a question that is not a text question
// is refused naming the text questions.
func TestThemesAPI(t *testing.T) {
	f := setup(t, cati.DefaultOptions(), nil)
	ctx := t.Context()
	f.upload(survey.RoleAdmin, questionnaireFile(t, "customer-study.yaml"))
	v, err := f.db.Questionnaire(ctx, "customer-study", 0)
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.Open("../testdata/comments.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	rows, err := csv.NewReader(file).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows[1:] {
		if r[0] != "en" {
			continue // the study is in English
		}
		nps, _ := strconv.ParseInt(r[1], 10, 64)
		id, err := f.db.StartInterview(ctx, survey.InterviewRecord{Questionnaire: "customer-study", Version: v.Version, Mode: survey.ModeCATI, Language: "en"})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []survey.Answer{{Question: "nps", Value: nps}, {Question: "nps_reason", Value: r[2]}} {
			if err := f.db.SaveAnswer(ctx, id, a); err != nil {
				t.Fatal(err)
			}
		}
	}
	var got struct {
		Questionnaire, Question string
		Comments                int
		Languages               []string
		Themes                  []survey.Theme
	}
	f.get("/api/v1/questionnaires/customer-study/themes?question=nps_reason", survey.RoleSupervisor, http.StatusOK, &got)
	if got.Comments != 12 || len(got.Themes) == 0 || got.Themes[0].Label != "charged twice" || got.Themes[0].Detractors != 3 {
		t.Errorf("themes %+v", got)
	}
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	f.get("/api/v1/questionnaires/customer-study/themes?question=nps", survey.RoleSupervisor, http.StatusBadRequest, &e)
	if !strings.Contains(e.Error.Message, "question") || !strings.Contains(e.Error.Message, "nps_reason") {
		t.Errorf("a question that is not text: %+v", e.Error)
	}
}

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

// A recording question's themes are its voice answers' transcripts: the
// French comments of the fixture, as a speech-to-text service would have
// stored them for post-call's voice comment (why); answers without a
// transcript yet are left out.
func TestThemesOfTranscripts(t *testing.T) {
	f := setup(t, cati.DefaultOptions(), nil)
	ctx := t.Context()
	f.upload(survey.RoleAdmin, questionnaireFile(t, "post-call.yaml"))
	file, err := os.Open("../testdata/comments.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	rows, err := csv.NewReader(file).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	fr := 0
	for i, r := range rows[1:] {
		if r[0] != "fr" {
			continue
		}
		nps, _ := strconv.ParseInt(r[1], 10, 64)
		id, err := f.db.StartInterview(ctx, survey.InterviewRecord{Questionnaire: "post-call", Version: 1, Mode: survey.ModeIVR, Language: "fr"})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []survey.Answer{{Question: "nps", Value: nps}, {Question: "why", Value: "why-" + strconv.Itoa(i), Paradata: survey.Paradata{RecordingMS: 5000}}} {
			if err := f.db.SaveAnswer(ctx, id, a); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.db.Pool().Exec(ctx, `INSERT INTO transcript (interview_id, question_id, recording, status, text) VALUES ($1, 'why', $2, 'done', $3)`,
			id, "why-"+strconv.Itoa(i), r[2]); err != nil {
			t.Fatal(err)
		}
		fr++
	}
	id, err := f.db.StartInterview(ctx, survey.InterviewRecord{Questionnaire: "post-call", Version: 1, Mode: survey.ModeIVR, Language: "fr"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.SaveAnswer(ctx, id, survey.Answer{Question: "why", Value: "why-new", Paradata: survey.Paradata{RecordingMS: 3000}}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Questionnaire, Question string
		Comments                int
		Languages               []string
		Themes                  []survey.Theme
	}
	f.get("/api/v1/questionnaires/post-call/themes?question=why", survey.RoleSupervisor, http.StatusOK, &got)
	if fr == 0 || got.Comments != fr || len(got.Themes) == 0 || got.Themes[0].Language != "fr" {
		t.Errorf("themes of %d transcripts: %+v", fr, got)
	}
}

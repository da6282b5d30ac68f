// Tests of the PostgreSQL stores, each against a database of its own cloned
// from sqltest's migrated template; fixtures shared by the test files.

package sql_test

import (
	"testing"
	"time"

	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

func TestMain(m *testing.M) { sqltest.Main(m) }

// day0 is when the fixtures' interviews start, at microsecond precision like
// timestamptz.
var day0 = time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)

// putQuestionnaire stores source as the next version of questionnaire id.
func putQuestionnaire(t *testing.T, db *sql.DB, id, source string) survey.QuestionnaireVersion {
	t.Helper()
	v, _, err := db.PutQuestionnaire(t.Context(), survey.QuestionnaireVersion{
		ID: id, Title: "Title of " + id, Languages: []string{"en", "fr"}, Source: []byte(source),
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// startInterview starts an IVR interview of the latest version of
// questionnaire q at the given time.
func startInterview(t *testing.T, db *sql.DB, q string, at time.Time, c survey.Context) survey.InterviewID {
	t.Helper()
	v, err := db.Questionnaire(t.Context(), q, 0)
	if err != nil {
		t.Fatal(err)
	}
	id, err := db.StartInterview(t.Context(), survey.InterviewRecord{
		Questionnaire: q, Version: v.Version, Mode: survey.ModeIVR, Language: "en", Context: c, StartedAt: at,
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func saveAnswer(t *testing.T, db *sql.DB, id survey.InterviewID, question string, value any) {
	t.Helper()
	a := survey.Answer{Question: question, Value: value, Skipped: value == nil}
	if err := db.SaveAnswer(t.Context(), id, a); err != nil {
		t.Fatal(err)
	}
}

func finish(t *testing.T, db *sql.DB, id survey.InterviewID, to survey.Status, lastQuestion string) {
	t.Helper()
	if err := db.FinishInterview(t.Context(), id, to, "test", lastQuestion); err != nil {
		t.Fatal(err)
	}
}

package cati

// GET /api/v1/questionnaires/{id}/themes: the open answers to a text
// question grouped into themes per language (survey.Themes), with counts,
// quotes and the split by the respondents' NPS group. A recording
// question's comments are its voice answers' transcripts (transcribe:).

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/canvass/canvass/survey"
)

// TranscriptStore reads the transcripts of voice answers (sql.DB).
type TranscriptStore interface {
	Transcripts(ctx context.Context, questionnaire, question string, from, to time.Time) (map[survey.InterviewID]string, error)
}

func (s *Server) themes(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := checkParams(q, "question", "from", "to", "max"); err != nil {
		return err
	}
	from, to, err := parseRange(q)
	if err != nil {
		return err
	}
	max := 10
	if v := q.Get("max"); v != "" {
		if max, err = strconv.Atoi(v); err != nil || max < 1 || max > 50 {
			return invalidParam("max", "a number of themes from 1 to 50", v)
		}
	}
	id := r.PathValue("id")
	_, qn, err := s.latest(r.Context(), id)
	if err != nil {
		return err
	}
	question := q.Get("question")
	qq := qn.Question(question)
	if qq == nil || qq.Type != survey.TypeText && qq.Type != survey.TypeRecording {
		var texts []string
		for _, x := range qn.Questions {
			if x.Type == survey.TypeText || x.Type == survey.TypeRecording {
				texts = append(texts, x.ID)
			}
		}
		if len(texts) == 0 {
			texts = []string{"it has none"}
		}
		return invalidParam("question", "the id of a text or recording question of "+id+" ("+strings.Join(texts, ", ")+")", question)
	}
	var transcripts map[survey.InterviewID]string
	if qq.Type == survey.TypeRecording {
		ts, ok := s.store.(TranscriptStore)
		if !ok {
			return httpError(http.StatusServiceUnavailable, survey.EInternal, "transcripts are not available on this server")
		}
		if transcripts, err = ts.Transcripts(r.Context(), id, question, from, to); err != nil {
			return err
		}
	}
	nps := ""
	for _, x := range qn.Questions {
		if x.Metric == survey.MetricNPS {
			nps = x.ID
			break
		}
	}
	var comments []survey.Comment
	f := survey.InterviewFilter{Questionnaire: id, From: from, To: to, WithAnswers: true}
	err = s.store.EachInterview(r.Context(), f, func(rec survey.InterviewRecord) error {
		c := survey.Comment{Language: rec.Language}
		for _, a := range rec.Answers {
			switch a.Question {
			case question:
				if c.Text, _ = a.Value.(string); transcripts != nil {
					c.Text = transcripts[rec.ID]
				}
			case nps:
				switch v := a.Value.(type) {
				case int64:
					c.Group = survey.NPSGroup(v)
				case float64:
					c.Group = survey.NPSGroup(int64(v))
				}
			}
		}
		if c.Text != "" {
			comments = append(comments, c)
		}
		return nil
	})
	if err != nil {
		return err
	}
	themes := survey.Themes(comments, max, 2)
	if themes == nil {
		themes = []survey.Theme{}
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"questionnaire": id, "question": question, "comments": len(comments),
		"languages": survey.ThemeLanguages(), "themes": themes})
	return nil
}

package survey

// This file turns the store's tallies into the report the API serves:
// counts, completion and break-off rates, NPS/CSAT/CES per question, and
// where respondents stopped.

import (
	"maps"
	"slices"
	"time"
)

// Report summarizes the interviews of one questionnaire over a period.
type Report struct {
	Questionnaire string        `json:"questionnaire"`
	From          time.Time     `json:"from"`
	To            time.Time     `json:"to"`
	By            GroupBy       `json:"by"`
	Total         GroupReport   `json:"total"`
	Groups        []GroupReport `json:"groups"`
}

// GroupReport is the report for one group (a day, an agent…) or the total.
type GroupReport struct {
	Group      string `json:"group"`
	Started    int    `json:"started"`
	InProgress int    `json:"in_progress"`
	Complete   int    `json:"complete"`
	Partial    int    `json:"partial"`
	Breakoff   int    `json:"breakoff"`
	// CompletionRate is complete / ended; BreakoffRate is (partial +
	// breakoff) / ended: the share of respondents who stopped before the end.
	CompletionRate Rate              `json:"completion_rate"`
	BreakoffRate   Rate              `json:"breakoff_rate"`
	Questions      []QuestionSummary `json:"questions"`
	DropOff        []DropOff         `json:"drop_off"`
}

// QuestionSummary is how one question was answered.
type QuestionSummary struct {
	ID           string        `json:"id"`
	Type         QuestionType  `json:"type"`
	Answered     int           `json:"answered"`
	Distribution map[int64]int `json:"distribution,omitempty"`
	Mean         Rate          `json:"mean"`
	NPS          *NPS          `json:"nps,omitempty"`
	CSAT         *CSAT         `json:"csat,omitempty"`
	CES          *CES          `json:"ces,omitempty"`
}

// DropOff counts the interviews that ended, not complete, at a question.
type DropOff struct {
	Question string `json:"question"`
	Count    int    `json:"count"`
	Share    Rate   `json:"share"` // of the ended, non-complete interviews
}

// BuildReport computes a report from the store's tallies, with the metrics
// each question's type and metric call for.
func (q *Questionnaire) BuildReport(rq ReportQuery, tallies []Tally) Report {
	r := Report{Questionnaire: q.ID, From: rq.From, To: rq.To, By: rq.By, Groups: []GroupReport{}}
	total := Tally{Group: "total"}
	for _, t := range tallies {
		r.Groups = append(r.Groups, q.group(t))
		total = merge(total, t)
	}
	r.Total = q.group(total)
	return r
}

func merge(a, b Tally) Tally {
	a.Started += b.Started
	a.InProgress += b.InProgress
	a.Complete += b.Complete
	a.Partial += b.Partial
	a.Breakoff += b.Breakoff
	a.Answered = addCounts(a.Answered, b.Answered)
	a.StoppedAt = addCounts(a.StoppedAt, b.StoppedAt)
	if a.Values == nil {
		a.Values = map[string]map[int64]int{}
	}
	for id, d := range b.Values {
		a.Values[id] = addCounts(a.Values[id], d)
	}
	return a
}

func addCounts[K comparable](a, b map[K]int) map[K]int {
	if a == nil {
		a = map[K]int{}
	}
	for k, n := range b {
		a[k] += n
	}
	return a
}

func (q *Questionnaire) group(t Tally) GroupReport {
	ended := t.Complete + t.Partial + t.Breakoff
	g := GroupReport{
		Group: t.Group, Started: t.Started, InProgress: t.InProgress,
		Complete: t.Complete, Partial: t.Partial, Breakoff: t.Breakoff,
		CompletionRate: ratio(float64(t.Complete), float64(ended)),
		BreakoffRate:   ratio(float64(t.Partial+t.Breakoff), float64(ended)),
		Questions:      []QuestionSummary{},
		DropOff:        []DropOff{},
	}
	for _, qq := range q.Questions {
		if !qq.Answerable() {
			continue
		}
		s := QuestionSummary{ID: qq.ID, Type: qq.Type, Answered: t.Answered[qq.ID]}
		dist := t.Values[qq.ID]
		switch qq.Type {
		case TypeNPS, TypeScale, TypeNumber:
			s.Distribution = maps.Clone(dist)
			s.Mean = mean(dist)
		case TypeYesNo:
			s.Distribution = maps.Clone(dist) // 1 = yes, 0 = no
		}
		switch qq.Metric {
		case MetricNPS:
			n := NPSFrom(dist)
			s.NPS = &n
		case MetricCSAT:
			c := CSATFrom(dist, qq.Min, qq.Max)
			s.CSAT = &c
		case MetricCES:
			c := CESFrom(dist, qq.Min, qq.Max)
			s.CES = &c
		}
		g.Questions = append(g.Questions, s)
	}
	stopped := t.Partial + t.Breakoff
	ids := slices.Sorted(maps.Keys(t.StoppedAt))
	// Questionnaire order reads better than alphabetical; unknown ids (from an
	// older version) go last.
	slices.SortStableFunc(ids, func(a, b string) int { return q.position(a) - q.position(b) })
	for _, id := range ids {
		g.DropOff = append(g.DropOff, DropOff{Question: id, Count: t.StoppedAt[id], Share: ratio(float64(t.StoppedAt[id]), float64(stopped))})
	}
	return g
}

func (q *Questionnaire) position(id string) int {
	if i, ok := q.index[id]; ok {
		return i
	}
	return len(q.Questions)
}

func mean(dist map[int64]int) Rate {
	n, sum := 0, 0.0
	for v, c := range dist {
		n += c
		sum += float64(v) * float64(c)
	}
	if n == 0 {
		return Rate{}
	}
	return Rate{Value: sum / float64(n), Defined: true}
}

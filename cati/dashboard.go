package cati

// This file is the dashboard for supervisors and managers: a
// questionnaire's NPS, CSAT and CES over time (day, week or month) with their
// 95 % confidence intervals, promoters/passives/detractors stacked, the
// breakdown and ranking by touchpoint, agent and queue (with n, and a
// small-sample warning instead of a meaningless margin), completion rates,
// the drop-off funnel per question and the alerts' volume and time to
// close; filtered by date range, language and any context field. Charts are
// SVG drawn on the server with gonum/plot (no internet, no front-end build);
// every chart's numbers download as CSV.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"html/template"
	"image/color"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/canvass/canvass/survey"
)

// dashPoint is one bucket's metrics.
type dashPoint struct {
	Group                           string
	N                               int // interviews started
	Complete                        int
	Completion                      survey.Rate
	NPS, NPSMargin                  survey.Rate
	NPSN                            int
	Promoters, Passives, Detractors int
	CSAT, CSATMargin                survey.Rate
	CSATN                           int
	CES, CESMargin                  survey.Rate
	CESN                            int
}

// Small says whether the bucket's NPS rests on too few answers for a
// margin.
func (p dashPoint) Small() bool { return p.NPSN < survey.SmallSample }

// dashboard is what the page shows.
type dashboard struct {
	Questionnaire  string
	Kind           survey.Kind
	Questionnaires []string
	From, To       time.Time
	Interval       survey.GroupBy
	Language       string
	Field, Value   string
	Over           []dashPoint
	Breakdowns     map[string][]dashPoint // by touchpoint, agent, queue: ranked by NPS
	Funnel         []funnelStep
	AAPOR          []aaporPoint
	Journey        []stagePoint
	Alerts         survey.AlertStats
	Charts         map[string]template.URL
}

type funnelStep struct {
	Question string
	Answered int
	Share    survey.Rate // of the interviews started
}

// dashQuery reads the dashboard's filters, naming a bad one.
func (s *Server) dashQuery(r *http.Request) (survey.ReportQuery, *survey.Questionnaire, error) {
	q := r.URL.Query()
	if err := checkParams(q, "questionnaire", "from", "to", "interval", "lang", "field", "value", "chart", "by"); err != nil {
		return survey.ReportQuery{}, nil, err
	}
	from, to, err := parseRange(q)
	if err != nil {
		return survey.ReportQuery{}, nil, err
	}
	if from.IsZero() {
		// The last 30 days by default, from a midnight (UTC): whole days,
		// which the report roll-up answers.
		end := to
		if end.IsZero() {
			end = s.now().UTC()
		}
		y, m, d := end.Add(-reportSpan).UTC().Date()
		from = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	if from, to, err = defaultRange(from, to, s.now().UTC(), reportSpan); err != nil {
		return survey.ReportQuery{}, nil, err
	}
	interval, err := oneOf(q, "interval", survey.ByDay, survey.ByDay, survey.ByWeek, survey.ByMonth)
	if err != nil {
		return survey.ReportQuery{}, nil, err
	}
	id := q.Get("questionnaire")
	if id == "" {
		qs, err := s.store.Questionnaires(r.Context())
		if err != nil {
			return survey.ReportQuery{}, nil, err
		}
		if len(qs) == 0 {
			return survey.ReportQuery{}, nil, survey.Errorf(survey.ENotFound, "no questionnaire yet: upload one (admin)")
		}
		id = qs[0].ID
	}
	_, qn, err := s.latest(r.Context(), id)
	if err != nil {
		return survey.ReportQuery{}, nil, err
	}
	field, value := q.Get("field"), q.Get("value")
	if field != "" && !contextKey(field) {
		return survey.ReportQuery{}, nil, invalidParam("field", "a context field such as touchpoint, agent, queue or a CRM field", field)
	}
	return survey.ReportQuery{Questionnaire: id, From: from, To: to, By: interval, Language: q.Get("lang"), Field: field, Value: value}, qn, nil
}

// points turns a report into the dashboard's buckets.
func points(qn *survey.Questionnaire, rep survey.Report) []dashPoint {
	var out []dashPoint
	for _, g := range rep.Groups {
		p := dashPoint{Group: g.Group, N: g.Started, Complete: g.Complete,
			Completion: survey.Rate{Value: g.CompletionRate.Value * 100, Defined: g.CompletionRate.Defined}}
		for _, qs := range g.Questions {
			switch {
			case qs.NPS != nil && p.NPSN == 0:
				p.NPS, p.NPSMargin, p.NPSN = qs.NPS.Score, qs.NPS.MarginOfError, qs.NPS.N
				p.Promoters, p.Passives, p.Detractors = qs.NPS.Promoters, qs.NPS.Passives, qs.NPS.Detractors
			case qs.CSAT != nil && p.CSATN == 0:
				p.CSAT, p.CSATN, p.CSATMargin = qs.CSAT.Score, qs.CSAT.N, qs.CSAT.MarginOfError()
			case qs.CES != nil && p.CESN == 0:
				p.CES, p.CESN, p.CESMargin = qs.CES.Mean, qs.CES.N, qs.CES.MarginOfError()
			}
		}
		out = append(out, p)
	}
	return out
}

// build computes the dashboard for rq: its queries run side by side.
func (s *Server) buildDashboard(ctx context.Context, rq survey.ReportQuery, qn *survey.Questionnaire) (dashboard, error) {
	d := dashboard{Questionnaire: rq.Questionnaire, Kind: qn.Kind, From: rq.From, To: rq.To, Interval: rq.By, Language: rq.Language,
		Field: rq.Field, Value: rq.Value, Breakdowns: map[string][]dashPoint{}}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		tallies, err := s.store.Tally(gctx, rq)
		if err != nil {
			return err
		}
		rep := qn.BuildReport(rq, tallies)
		d.Over = points(qn, rep)
		for _, qs := range rep.Total.Questions {
			step := funnelStep{Question: qs.ID, Answered: qs.Answered}
			if rep.Total.Started > 0 {
				step.Share = survey.Rate{Value: float64(qs.Answered) / float64(rep.Total.Started) * 100, Defined: true}
			}
			d.Funnel = append(d.Funnel, step)
		}
		return nil
	})
	breakdowns := make([][]dashPoint, 3)
	for i, by := range []survey.GroupBy{survey.ByTouchpoint, survey.ByAgent, survey.ByQueue} {
		g.Go(func() error {
			b := rq
			b.By = by
			ts, err := s.store.Tally(gctx, b)
			if err != nil {
				return err
			}
			ps := points(qn, qn.BuildReport(b, ts))
			sort.SliceStable(ps, func(i, j int) bool { return ps[i].NPS.Value > ps[j].NPS.Value })
			breakdowns[i] = ps
			return nil
		})
	}
	g.Go(func() (err error) {
		d.AAPOR, err = s.aaporOverTime(gctx, rq)
		return err
	})
	if s.console != nil && s.console.Alerts != nil {
		g.Go(func() (err error) {
			d.Alerts, err = s.console.Alerts.AlertStats(gctx, rq.From, rq.To)
			return err
		})
	}
	g.Go(func() (err error) {
		d.Journey, err = s.journey(gctx, rq)
		return err
	})
	g.Go(func() error {
		qs, err := s.store.Questionnaires(gctx)
		for _, v := range qs {
			d.Questionnaires = append(d.Questionnaires, v.ID)
		}
		return err
	})
	if err := g.Wait(); err != nil {
		return d, err
	}
	for i, by := range []survey.GroupBy{survey.ByTouchpoint, survey.ByAgent, survey.ByQueue} {
		d.Breakdowns[string(by)] = breakdowns[i]
	}
	return d, nil
}

// aaporPoint is one period's AAPOR rates, over the cases closed in it.
type aaporPoint struct {
	Group  string
	Cases  int
	Counts survey.Counts
	Rates  survey.Rates
}

// aaporOverTime is the AAPOR rates of the cases of rq's questionnaire's
// campaigns, per period of closing; e is each period's proportional
// estimate (1 when no case's eligibility is known).
func (s *Server) aaporOverTime(ctx context.Context, rq survey.ReportQuery) ([]aaporPoint, error) {
	gcs, err := s.store.ClosedCases(ctx, rq)
	if err != nil {
		return nil, err
	}
	var out []aaporPoint
	for _, gc := range gcs {
		c := gc.Counts
		rates, err := c.Rates(campaignE(survey.CampaignSettings{}, c))
		if err != nil {
			return nil, err
		}
		out = append(out, aaporPoint{Group: gc.Group, Cases: c.Cases(), Counts: c, Rates: rates})
	}
	return out, nil
}

// stagePoint is one journey stage's scores over every transactional
// questionnaire asked at that touchpoint.
type stagePoint struct {
	Stage          string
	Questionnaires []string
	NPS            survey.NPS
	CSAT           survey.CSAT
	CSATMargin     survey.Rate
}

// Small says whether the stage's NPS rests on too few answers for a
// margin.
func (p stagePoint) Small() bool { return p.NPS.N < survey.SmallSample }

// journey is the scores along console.journey: per stage (a touchpoint),
// NPS and CSAT (top two boxes) of all transactional questionnaires, in
// rq's range and with its language and field filters. Relational
// questionnaires are about the whole relationship, not a stage, and are
// left out.
func (s *Server) journey(ctx context.Context, rq survey.ReportQuery) ([]stagePoint, error) {
	if s.console == nil || len(s.console.Options.Journey) == 0 {
		return nil, nil
	}
	stages := make([]stagePoint, len(s.console.Options.Journey))
	npsDist := make([]map[int64]int, len(stages))
	for i, stage := range s.console.Options.Journey {
		stages[i].Stage, npsDist[i] = stage, map[int64]int{}
	}
	qs, err := s.store.Questionnaires(ctx)
	if err != nil {
		return nil, err
	}
	for _, v := range qs {
		_, qn, err := s.latest(ctx, v.ID)
		if err != nil {
			return nil, err
		}
		if qn.Kind != survey.Transactional {
			continue
		}
		b := rq
		b.Questionnaire, b.By = v.ID, survey.ByTouchpoint
		ts, err := s.store.Tally(ctx, b)
		if err != nil {
			return nil, err
		}
		for _, grp := range qn.BuildReport(b, ts).Groups {
			i := slices.Index(s.console.Options.Journey, grp.Group)
			if i < 0 {
				continue
			}
			asked := false
			for _, q := range grp.Questions {
				switch {
				case q.NPS != nil:
					// NPS groups are the same on every 0–10 question: the
					// stage adds them up.
					npsDist[i][10] += q.NPS.Promoters
					npsDist[i][7] += q.NPS.Passives
					npsDist[i][0] += q.NPS.Detractors
					asked = asked || q.NPS.N > 0
				case q.CSAT != nil:
					stages[i].CSAT.N += q.CSAT.N
					stages[i].CSAT.TopTwo += q.CSAT.TopTwo
					asked = asked || q.CSAT.N > 0
				}
			}
			if asked {
				stages[i].Questionnaires = append(stages[i].Questionnaires, v.ID)
			}
		}
	}
	for i := range stages {
		stages[i].NPS = survey.NPSFrom(npsDist[i])
		stages[i].CSAT = survey.CSATTopTwo(stages[i].CSAT.N, stages[i].CSAT.TopTwo)
		stages[i].CSATMargin = stages[i].CSAT.MarginOfError()
	}
	return stages, nil
}

// dashboardPage is GET /dashboard.
func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	rq, qn, err := s.dashQuery(r)
	if err != nil {
		return err
	}
	d, err := s.buildDashboard(r.Context(), rq, qn)
	if err != nil {
		return err
	}
	d.Charts = map[string]template.URL{}
	charts := map[string]func() (*plot.Plot, error){
		"nps":     func() (*plot.Plot, error) { return npsChart(d.Over) },
		"groups":  func() (*plot.Plot, error) { return groupsChart(d.Over) },
		"csat":    func() (*plot.Plot, error) { return csatChart(d.Over) },
		"ces":     func() (*plot.Plot, error) { return cesChart(d.Over) },
		"aapor":   func() (*plot.Plot, error) { return aaporChart(d.AAPOR) },
		"journey": func() (*plot.Plot, error) { return journeyChart(d.Journey) },
	}
	// Side by side: each chart is a few milliseconds of the page's own CPU.
	var (
		g  errgroup.Group
		mu sync.Mutex
	)
	for name, draw := range charts {
		g.Go(func() error {
			p, err := draw()
			if err != nil {
				return err
			}
			svg, err := svgOf(p)
			if err != nil {
				return err
			}
			mu.Lock()
			d.Charts[name] = svg
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "dashboard", pageData{Title: "Dashboard", Session: sess, Data: d})
	return nil
}

// svgOf draws p as an SVG data URL, for an img: the chart keeps its own
// styles, whatever the page's.
func svgOf(p *plot.Plot) (template.URL, error) {
	wt, err := p.WriterTo(18*vg.Centimeter, 7*vg.Centimeter, "svg")
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return "", err
	}
	return template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(b.Bytes())), nil
}

// errPoints are values with symmetric 95 % margins, for error bars.
type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// seriesChart is a line of ps's values with error bars, x by bucket.
func seriesChart(ps []dashPoint, title, y string, get func(dashPoint) (survey.Rate, survey.Rate, bool)) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text, p.Y.Label.Text = title, y
	var pts errPoints
	var labels []string
	for i, d := range ps {
		labels = append(labels, d.Group)
		v, m, ok := get(d)
		if !ok || !v.Defined {
			continue
		}
		margin := 0.0
		if m.Defined {
			margin = m.Value
		}
		pts.XYs = append(pts.XYs, plotter.XY{X: float64(i), Y: v.Value})
		pts.YErrors = append(pts.YErrors, struct{ Low, High float64 }{margin, margin})
	}
	nominalX(p, labels)
	if len(pts.XYs) == 0 {
		return p, nil
	}
	line, marks, err := plotter.NewLinePoints(pts.XYs)
	if err != nil {
		return nil, err
	}
	line.Color, marks.Color = color.RGBA{B: 160, A: 255}, color.RGBA{B: 160, A: 255}
	bars, err := plotter.NewYErrorBars(pts)
	if err != nil {
		return nil, err
	}
	p.Add(line, marks, bars, plotter.NewGrid())
	return p, nil
}

func npsChart(ps []dashPoint) (*plot.Plot, error) {
	return seriesChart(ps, "NPS (95 % confidence interval)", "NPS", func(d dashPoint) (survey.Rate, survey.Rate, bool) {
		return d.NPS, d.NPSMargin, d.NPSN > 0
	})
}

func csatChart(ps []dashPoint) (*plot.Plot, error) {
	return seriesChart(ps, "CSAT, top two boxes (95 % CI)", "%", func(d dashPoint) (survey.Rate, survey.Rate, bool) {
		return d.CSAT, d.CSATMargin, d.CSATN > 0
	})
}

func cesChart(ps []dashPoint) (*plot.Plot, error) {
	return seriesChart(ps, "CES, mean (95 % CI)", "mean", func(d dashPoint) (survey.Rate, survey.Rate, bool) {
		return d.CES, d.CESMargin, d.CESN > 0
	})
}

// nominalX labels p's x axis with labels, with room for the first and last;
// an empty chart (plot panics on no labels) keeps its numeric axis.
func nominalX(p *plot.Plot, labels []string) {
	if len(labels) == 0 {
		return
	}
	p.NominalX(labels...)
	p.X.Min, p.X.Max = -0.6, float64(len(labels))-0.4
}

// aaporChart draws RR3, COOP1 and REF1 per period of closing.
func aaporChart(ps []aaporPoint) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text, p.Y.Label.Text = "AAPOR rates of the cases closed", "%"
	var labels []string
	for _, a := range ps {
		labels = append(labels, a.Group)
	}
	nominalX(p, labels)
	for _, r := range []struct {
		name string
		get  func(survey.Rates) survey.Rate
		c    color.RGBA
		dash []vg.Length
	}{
		{"RR3", func(r survey.Rates) survey.Rate { return r.RR3 }, color.RGBA{B: 160, A: 255}, nil},
		{"COOP1", func(r survey.Rates) survey.Rate { return r.COOP1 }, color.RGBA{G: 130, B: 60, A: 255}, []vg.Length{vg.Points(4), vg.Points(2)}},
		{"REF1", func(r survey.Rates) survey.Rate { return r.REF1 }, color.RGBA{R: 190, G: 50, B: 50, A: 255}, []vg.Length{vg.Points(1), vg.Points(2)}},
	} {
		var xys plotter.XYs
		for x, a := range ps {
			if v := r.get(a.Rates); v.Defined {
				xys = append(xys, plotter.XY{X: float64(x), Y: v.Value * 100})
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, marks, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		line.Color, marks.Color = r.c, r.c
		line.Dashes = r.dash
		p.Add(line, marks)
		p.Legend.Add(r.name, line, marks)
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs = vg.Points(30)
	return p, nil
}

// journeyChart draws each journey stage's NPS with its 95 % interval.
func journeyChart(ps []stagePoint) (*plot.Plot, error) {
	var pts []dashPoint
	for _, st := range ps {
		pts = append(pts, dashPoint{Group: st.Stage, NPS: st.NPS.Score, NPSMargin: st.NPS.MarginOfError, NPSN: st.NPS.N})
	}
	return seriesChart(pts, "NPS along the journey (95 % CI)", "NPS", func(d dashPoint) (survey.Rate, survey.Rate, bool) {
		return d.NPS, d.NPSMargin, d.NPSN > 0
	})
}

// groupsChart stacks promoters, passives and detractors per bucket.
func groupsChart(ps []dashPoint) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text, p.Y.Label.Text = "Promoters, passives, detractors", "answers"
	var labels []string
	var pro, pas, det plotter.Values
	for _, d := range ps {
		labels = append(labels, d.Group)
		pro, pas, det = append(pro, float64(d.Promoters)), append(pas, float64(d.Passives)), append(det, float64(d.Detractors))
	}
	nominalX(p, labels)
	if len(ps) == 0 {
		return p, nil
	}
	w := vg.Points(14)
	bd, err := plotter.NewBarChart(det, w)
	if err != nil {
		return nil, err
	}
	bp, err := plotter.NewBarChart(pas, w)
	if err != nil {
		return nil, err
	}
	bo, err := plotter.NewBarChart(pro, w)
	if err != nil {
		return nil, err
	}
	bd.Color, bp.Color, bo.Color = color.RGBA{R: 200, G: 60, B: 60, A: 255}, color.RGBA{R: 200, G: 200, B: 200, A: 255}, color.RGBA{G: 150, B: 80, A: 255}
	bp.StackOn(bd)
	bo.StackOn(bp)
	p.Add(bd, bp, bo)
	p.Legend.Add("detractors", bd)
	p.Legend.Add("passives", bp)
	p.Legend.Add("promoters", bo)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs = vg.Points(30)
	return p, nil
}

// dashboardCSV is GET /dashboard.csv?chart=over|breakdown|funnel.
func (s *Server) dashboardCSV(w http.ResponseWriter, r *http.Request, _ *session) error {
	rq, qn, err := s.dashQuery(r)
	if err != nil {
		return err
	}
	chart, err := oneOf(r.URL.Query(), "chart", "over", "over", "breakdown", "funnel", "aapor", "journey")
	if err != nil {
		return err
	}
	by, err := oneOf(r.URL.Query(), "by", survey.ByTouchpoint, survey.ByTouchpoint, survey.ByAgent, survey.ByQueue)
	if err != nil {
		return err
	}
	d, err := s.buildDashboard(r.Context(), rq, qn)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	rate := func(x survey.Rate) string {
		if !x.Defined {
			return ""
		}
		return strconv.FormatFloat(x.Value, 'f', 2, 64)
	}
	rows := func(ps []dashPoint, first string) {
		cw.Write([]string{first, "interviews", "completes", "completion_rate", "nps_n", "nps", "nps_margin", "promoters", "passives", "detractors",
			"csat_n", "csat", "csat_margin", "ces_n", "ces", "ces_margin", "small_sample"})
		for _, p := range ps {
			cw.Write([]string{guard(p.Group), strconv.Itoa(p.N), strconv.Itoa(p.Complete), rate(p.Completion), strconv.Itoa(p.NPSN), rate(p.NPS),
				rate(p.NPSMargin), strconv.Itoa(p.Promoters), strconv.Itoa(p.Passives), strconv.Itoa(p.Detractors),
				strconv.Itoa(p.CSATN), rate(p.CSAT), rate(p.CSATMargin), strconv.Itoa(p.CESN), rate(p.CES), rate(p.CESMargin), strconv.FormatBool(p.Small())})
		}
	}
	switch chart {
	case "over":
		rows(d.Over, string(rq.By))
	case "breakdown":
		rows(d.Breakdowns[string(by)], string(by))
	case "funnel":
		cw.Write([]string{"question", "answered", "share_of_started"})
		for _, f := range d.Funnel {
			cw.Write([]string{f.Question, strconv.Itoa(f.Answered), rate(f.Share)})
		}
	case "aapor":
		cw.Write([]string{string(rq.By) + "_closed", "cases", "I", "P", "R", "NC", "O", "UH", "UO", "NE", "e",
			"RR1", "RR2", "RR3", "RR4", "RR5", "RR6", "COOP1", "COOP2", "REF1", "CON1"})
		for _, a := range d.AAPOR {
			c, r := a.Counts, a.Rates
			pct := func(x survey.Rate) string { return rate(survey.Rate{Value: x.Value * 100, Defined: x.Defined}) }
			cw.Write([]string{a.Group, strconv.Itoa(a.Cases), strconv.Itoa(c.I), strconv.Itoa(c.P), strconv.Itoa(c.R), strconv.Itoa(c.NC),
				strconv.Itoa(c.O), strconv.Itoa(c.UH), strconv.Itoa(c.UO), strconv.Itoa(c.NE), strconv.FormatFloat(r.E, 'f', 4, 64),
				pct(r.RR1), pct(r.RR2), pct(r.RR3), pct(r.RR4), pct(r.RR5), pct(r.RR6), pct(r.COOP1), pct(r.COOP2), pct(r.REF1), pct(r.CON1)})
		}
	case "journey":
		cw.Write([]string{"stage", "questionnaires", "nps_n", "nps", "nps_margin", "promoters", "passives", "detractors", "csat_n", "csat", "csat_margin", "small_sample"})
		for _, st := range d.Journey {
			cw.Write([]string{guard(st.Stage), strings.Join(st.Questionnaires, " "), strconv.Itoa(st.NPS.N), rate(st.NPS.Score), rate(st.NPS.MarginOfError),
				strconv.Itoa(st.NPS.Promoters), strconv.Itoa(st.NPS.Passives), strconv.Itoa(st.NPS.Detractors),
				strconv.Itoa(st.CSAT.N), rate(st.CSAT.Score), rate(st.CSATMargin), strconv.FormatBool(st.Small())})
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fmt.Sprintf("%s-%s.csv", rq.Questionnaire, chart)}))
	_, err = w.Write(buf.Bytes())
	return err
}

package main

// This file is `canvass dialer simulate`: the dialer's simulator
// (dialer.Simulate) on the user's figures, progressive and predictive side
// by side, printed as a table or one JSON object, with an optional SVG plot
// of utilisation and abandonment by day.

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/canvass/canvass/dialer"
)

// simReport is the --json object.
type simReport struct {
	Days               int                `json:"days"`
	Interviewers       int                `json:"interviewers"`
	Seed               uint64             `json:"seed"`
	Budget             float64            `json:"budget"`
	Dials              int                `json:"dials"`
	DialsOutsideWindow int                `json:"dials_outside_window"`
	DialsToDNC         int                `json:"dials_to_dnc"`
	RedialsWithin72h   int                `json:"redials_within_72h"`
	AbandonRateMax24h  float64            `json:"abandon_rate_max_24h"`
	AbandonRateMax30d  float64            `json:"abandon_rate_max_30d"`
	Utilisation        map[string]float64 `json:"utilisation"`
	// PredictiveGain is predictive over progressive utilisation, with both.
	PredictiveGain *float64             `json:"predictive_over_progressive,omitempty"`
	Modes          map[string]simByMode `json:"modes"`
	Seconds        float64              `json:"seconds"` // wall time of the run
}

type simByMode struct {
	Dials              int     `json:"dials"`
	DialsOutsideWindow int     `json:"dials_outside_window"`
	DialsToDNC         int     `json:"dials_to_dnc"`
	RedialsWithin72h   int     `json:"redials_within_72h"`
	Live               int     `json:"live"`
	Abandoned          int     `json:"abandoned"`
	AbandonRate        float64 `json:"abandon_rate"`
	AbandonRateMax24h  float64 `json:"abandon_rate_max_24h"`
	AbandonRateMax30d  float64 `json:"abandon_rate_max_30d"`
	Machines           int     `json:"machines"`
	Completes          int     `json:"completes"`
	TalkHours          float64 `json:"talk_hours"`
	LoggedInHours      float64 `json:"logged_in_hours"`
	Utilisation        float64 `json:"utilisation"`
	PredictiveSteps    int     `json:"predictive_steps"`
}

func simulate(args []string, stdout, stderr io.Writer) error {
	o := dialer.DefaultSimOptions()
	fs := flag.NewFlagSet("dialer simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.Days, "days", o.Days, "days simulated")
	fs.IntVar(&o.Interviewers, "interviewers", o.Interviewers, "interviewers, spread over the shifts")
	mode := fs.String("mode", "both", "progressive, predictive, or both (side by side, same seed)")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "random seed: a seed gives the same run")
	asJSON := fs.Bool("json", false, "print one JSON object instead of the table")
	svg := fs.String("svg", "", "write a plot of utilisation and abandonment by day to `FILE` (SVG)")
	start := fs.String("start", o.Start.Format(time.DateOnly), "first day, YYYY-MM-DD (the default spans the US DST change of 8 March)")
	zones := fs.String("zones", zonesString(o.Zones), "the sample's time zones with their shares, ZONE=SHARE,...")
	window := fs.String("window", clockRange(o.Open, o.Close), "calling window in the respondent's local time, HH:MM-HH:MM, every day")
	fs.StringVar(&o.Centre, "centre", o.Centre, "the call centre's time zone: the shifts are in it")
	shifts := fs.String("shifts", shiftsString(o.Shifts), "interviewer shifts in the centre's time, HH:MM-HH:MM,...; interviewer i works shift i mod n, every day")
	fs.Float64Var(&o.Person, "person", o.Person, "share of dials a person answers")
	fs.Float64Var(&o.Machine, "machine", o.Machine, "share of dials a machine answers (AMD hangs up; retried)")
	fs.Float64Var(&o.Busy, "busy", o.Busy, "share of dials busy (retried)")
	fs.Float64Var(&o.NotWorking, "not-working", o.NotWorking, "share of dials to a number not in service (final); the rest ring unanswered")
	fs.Float64Var(&o.AMDFalsePositive, "amd-false-positive", o.AMDFalsePositive, "share of persons AMD takes for a machine: abandoned calls")
	fs.DurationVar(&o.AnswerMin, "answer-min", o.AnswerMin, "a person or machine answers after at least this")
	fs.DurationVar(&o.AnswerMax, "answer-max", o.AnswerMax, "and at most this (uniform)")
	fs.DurationVar(&o.RingMin, "ring-min", o.RingMin, "an unanswered call rings at least this (15s or more)")
	fs.DurationVar(&o.RingMax, "ring-max", o.RingMax, "and at most this (uniform)")
	fs.DurationVar(&o.FailMin, "fail-min", o.FailMin, "busy or not working is known after at least this")
	fs.DurationVar(&o.FailMax, "fail-max", o.FailMax, "and at most this (uniform)")
	fs.DurationVar(&o.Interview.Mean, "interview", o.Interview.Mean, "mean interview (talk) time, log-normal")
	fs.DurationVar(&o.Interview.SD, "interview-sd", o.Interview.SD, "its standard deviation")
	fs.DurationVar(&o.WrapUp.Mean, "wrap-up", o.WrapUp.Mean, "mean wrap-up after a call, log-normal")
	fs.DurationVar(&o.WrapUp.SD, "wrap-up-sd", o.WrapUp.SD, "its standard deviation")
	fs.Float64Var(&o.Budget, "budget", o.Budget, "abandonment budget: abandoned share of live calls, at most 0.03")
	fs.Float64Var(&o.Target, "target", o.Target, "predictive pacing's target abandoned share (the budget is the hard limit)")
	fs.IntVar(&o.MaxAttempts, "max-attempts", o.MaxAttempts, "dials per number before it is left")
	fs.DurationVar(&o.RetryDelay, "retry-delay", o.RetryDelay, "before a number not reached is tried again")
	fs.Float64Var(&o.DNCStart, "dnc-start", o.DNCStart, "share of numbers on the do-not-call list from the start")
	fs.Float64Var(&o.DNCAdded, "dnc-added", o.DNCAdded, "share of numbers added to the list while the campaign runs")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: dialer simulate takes no arguments, got %q", errUsage, fs.Args())
	}
	var err error
	if o.Start, err = time.Parse(time.DateOnly, *start); err != nil {
		return fmt.Errorf("%w: --start %q: want YYYY-MM-DD", errUsage, *start)
	}
	if o.Zones, err = parseZones(*zones); err != nil {
		return fmt.Errorf("%w: --zones: %v", errUsage, err)
	}
	if o.Open, o.Close, err = parseClockRange(*window); err != nil {
		return fmt.Errorf("%w: --window: %v", errUsage, err)
	}
	o.Shifts = nil
	for f := range strings.SplitSeq(*shifts, ",") {
		from, to, err := parseClockRange(f)
		if err != nil {
			return fmt.Errorf("%w: --shifts: %v", errUsage, err)
		}
		o.Shifts = append(o.Shifts, dialer.SimShift{From: from, To: to})
	}
	var modes []dialer.Mode
	switch *mode {
	case "both":
		modes = []dialer.Mode{dialer.ModeProgressive, dialer.ModePredictive}
	case string(dialer.ModeProgressive), string(dialer.ModePredictive):
		modes = []dialer.Mode{dialer.Mode(*mode)}
	default:
		return fmt.Errorf("%w: --mode %q: progressive, predictive or both", errUsage, *mode)
	}
	o.Mode = modes[0]
	if err := o.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}

	began := time.Now()
	var results []*dialer.SimResult
	for _, m := range modes {
		o.Mode = m
		r, err := dialer.Simulate(o)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	rep := simReport{Days: o.Days, Interviewers: o.Interviewers, Seed: o.Seed, Budget: o.Budget,
		Utilisation: map[string]float64{}, Modes: map[string]simByMode{}}
	for _, r := range results {
		rep.Dials += r.Dials
		rep.DialsOutsideWindow += r.DialsOutsideWindow
		rep.DialsToDNC += r.DialsToDNC
		rep.RedialsWithin72h += r.RedialsWithin72h
		rep.AbandonRateMax24h = math.Max(rep.AbandonRateMax24h, r.AbandonRateMax24h)
		rep.AbandonRateMax30d = math.Max(rep.AbandonRateMax30d, r.AbandonRateMax30d)
		rep.Utilisation[string(r.Mode)] = r.Utilisation()
		rep.Modes[string(r.Mode)] = simByMode{
			Dials: r.Dials, DialsOutsideWindow: r.DialsOutsideWindow, DialsToDNC: r.DialsToDNC,
			RedialsWithin72h: r.RedialsWithin72h, Live: r.Live, Abandoned: r.Abandoned,
			AbandonRate: r.AbandonRate(), AbandonRateMax24h: r.AbandonRateMax24h, AbandonRateMax30d: r.AbandonRateMax30d,
			Machines: r.Machines, Completes: r.Completes, TalkHours: r.Talk.Hours(), LoggedInHours: r.LoggedIn.Hours(),
			Utilisation: r.Utilisation(), PredictiveSteps: r.PredictiveSteps,
		}
	}
	if len(results) == 2 && results[0].Utilisation() > 0 {
		g := results[1].Utilisation() / results[0].Utilisation()
		rep.PredictiveGain = &g
	}
	rep.Seconds = time.Since(began).Seconds()

	if *svg != "" {
		f, err := os.Create(*svg)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		writeSimSVG(f, results, o.Budget)
		if err := f.Close(); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(stdout, "%-36s", fmt.Sprintf("%d days, %d interviewers, seed %d", o.Days, o.Interviewers, o.Seed))
	for _, r := range results {
		fmt.Fprintf(stdout, "%14s", r.Mode)
	}
	fmt.Fprintln(stdout)
	row := func(name string, f func(r *dialer.SimResult) string) {
		fmt.Fprintf(stdout, "%-36s", name)
		for _, r := range results {
			fmt.Fprintf(stdout, "%14s", f(r))
		}
		fmt.Fprintln(stdout)
	}
	pct := func(v float64) string { return fmt.Sprintf("%.2f %%", 100*v) }
	row("dials", func(r *dialer.SimResult) string { return strconv.Itoa(r.Dials) })
	row("dials outside the local window", func(r *dialer.SimResult) string { return strconv.Itoa(r.DialsOutsideWindow) })
	row("dials to DNC numbers", func(r *dialer.SimResult) string { return strconv.Itoa(r.DialsToDNC) })
	row("redials within 72 h of an abandon", func(r *dialer.SimResult) string { return strconv.Itoa(r.RedialsWithin72h) })
	row("live calls", func(r *dialer.SimResult) string { return strconv.Itoa(r.Live) })
	row("abandoned", func(r *dialer.SimResult) string { return strconv.Itoa(r.Abandoned) })
	row("abandonment, whole run", func(r *dialer.SimResult) string { return pct(r.AbandonRate()) })
	row("abandonment, worst rolling 24 h", func(r *dialer.SimResult) string { return pct(r.AbandonRateMax24h) })
	row("abandonment, worst rolling 30 d", func(r *dialer.SimResult) string { return pct(r.AbandonRateMax30d) })
	row("completes", func(r *dialer.SimResult) string { return strconv.Itoa(r.Completes) })
	row("talk hours", func(r *dialer.SimResult) string { return fmt.Sprintf("%.0f", r.Talk.Hours()) })
	row("logged-in hours", func(r *dialer.SimResult) string { return fmt.Sprintf("%.0f", r.LoggedIn.Hours()) })
	row("utilisation (talk / logged in)", func(r *dialer.SimResult) string { return pct(r.Utilisation()) })
	fmt.Fprintf(stdout, "abandonment budget: %.2f %% of live calls in every rolling 24 h and 30 d\n", 100*o.Budget)
	if rep.PredictiveGain != nil {
		fmt.Fprintf(stdout, "predictive / progressive utilisation: %.3f×\n", *rep.PredictiveGain)
	}
	fmt.Fprintf(stdout, "simulated in %.1f s\n", rep.Seconds)
	return nil
}

func zonesString(zs []dialer.SimZone) string {
	var parts []string
	for _, z := range zs {
		parts = append(parts, fmt.Sprintf("%s=%g", z.Name, z.Share))
	}
	return strings.Join(parts, ",")
}

func parseZones(s string) ([]dialer.SimZone, error) {
	var zs []dialer.SimZone
	for f := range strings.SplitSeq(s, ",") {
		name, share, ok := strings.Cut(strings.TrimSpace(f), "=")
		v, err := strconv.ParseFloat(share, 64)
		if !ok || err != nil || name == "" {
			return nil, fmt.Errorf("%q: want ZONE=SHARE", f)
		}
		zs = append(zs, dialer.SimZone{Name: name, Share: v})
	}
	return zs, nil
}

func clockRange(from, to int) string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", from/60, from%60, to/60, to%60)
}

func shiftsString(ss []dialer.SimShift) string {
	var parts []string
	for _, s := range ss {
		parts = append(parts, clockRange(s.From, s.To))
	}
	return strings.Join(parts, ",")
}

// parseClockRange reads HH:MM-HH:MM as minutes after midnight; 24:00 ends
// the day.
func parseClockRange(s string) (int, int, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	from, err1 := parseClock(a)
	to, err2 := parseClock(b)
	if !ok || err1 != nil || err2 != nil || from >= to {
		return 0, 0, fmt.Errorf("%q: want HH:MM-HH:MM, the first earlier", s)
	}
	return from, to, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh*60+mm > 24*60 {
		return 0, fmt.Errorf("%q: want HH:MM", s)
	}
	return hh*60 + mm, nil
}

// writeSimSVG draws two panels by day: utilisation, and the day's
// abandonment rate against the budget, one line per mode. Hand-written
// SVG, no dependency.
func writeSimSVG(w io.Writer, results []*dialer.SimResult, budget float64) {
	const width, panelH, left, right, top, gap = 760, 220, 60, 20, 30, 60
	height := top + 2*panelH + gap + 40
	colours := map[dialer.Mode]string{dialer.ModeProgressive: "#1f77b4", dialer.ModePredictive: "#d62728"}
	days := 1
	maxAb := budget * 1.2
	for _, r := range results {
		days = max(days, len(r.Days))
		for _, d := range r.Days {
			maxAb = math.Max(maxAb, d.AbandonRate())
		}
	}
	if maxAb == 0 {
		maxAb = 0.01
	}
	x := func(i int) float64 {
		if days == 1 {
			return left
		}
		return left + float64(i)*float64(width-left-right)/float64(days-1)
	}
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	panel := func(y0 int, title string, top float64, value func(dialer.SimDay) float64, limit float64) {
		y := func(v float64) float64 { return float64(y0+panelH) - v/top*float64(panelH) }
		fmt.Fprintf(w, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", left, y0-8, title)
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", left, y0, width-left-right, panelH)
		for k := 0; k <= 4; k++ {
			v := top * float64(k) / 4
			fmt.Fprintf(w, `<text x="%d" y="%.1f" text-anchor="end">%.1f %%</text>`+"\n", left-6, y(v)+4, 100*v)
			fmt.Fprintf(w, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", left, width-right, y(v), y(v))
		}
		if limit > 0 {
			fmt.Fprintf(w, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#000" stroke-dasharray="4 3"/>`+"\n", left, width-right, y(limit), y(limit))
			fmt.Fprintf(w, `<text x="%d" y="%.1f" text-anchor="end">budget</text>`+"\n", width-right-4, y(limit)-4)
		}
		for _, r := range results {
			var pts []string
			for i, d := range r.Days {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(value(d))))
			}
			fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", colours[r.Mode], strings.Join(pts, " "))
		}
	}
	panel(top, "Utilisation (talk / logged-in time) by day", 1, dialer.SimDay.Utilisation, 0)
	panel(top+panelH+gap, "Abandoned share of live calls by day", maxAb, dialer.SimDay.AbandonRate, budget)
	ly := height - 12
	for i, r := range results {
		lx := left + i*200
		fmt.Fprintf(w, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", lx, lx+24, ly-4, ly-4, colours[r.Mode])
		fmt.Fprintf(w, `<text x="%d" y="%d">%s (%.1f %%)</text>`+"\n", lx+30, ly, r.Mode, 100*r.Utilisation())
	}
	fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="end">day (of %d)</text>`+"\n", width-right, ly, days)
	fmt.Fprintln(w, "</svg>")
}

package survey_test

import (
	"encoding/json"
	"maps"
	"math"
	"testing"

	"github.com/canvass/canvass/survey"
)

func TestNPSFrom(t *testing.T) {
	tests := []struct {
		name                               string
		dist                               map[int64]int
		n, promoters, passives, detractors int
		score, margin                      survey.Rate
	}{
		{
			// 50 promoters, 30 passives, 20 detractors (N=100), plus answers
			// outside 0..10 that are ignored:
			//   NPS = 50% − 20% = 30
			//   margin = 1.96·√((0.5 + 0.2 − 0.3²)/100)·100
			//          = 1.96·√(0.0061)·100 = 1.96·0.0781024967590666·100
			//          = 15.3080893647770
			name: "worked example",
			dist: map[int64]int{10: 30, 9: 20, 8: 20, 7: 10, 6: 5, 3: 10, 0: 5, 11: 7, -1: 3, 99: 1},
			n:    100, promoters: 50, passives: 30, detractors: 20,
			score:  survey.Rate{Value: 30, Defined: true},
			margin: survey.Rate{Value: 15.3080893647770, Defined: true},
		},
		{
			// 8 promoters, 2 detractors (N=10): NPS = 80% − 20% = 60;
			// margin = 1.96·√((0.8 + 0.2 − 0.6²)/10)·100 = 1.96·√0.064·100
			//        = 1.96·0.252982212813470·100 = 49.5845137114402
			name: "small sample",
			dist: map[int64]int{10: 8, 2: 2},
			n:    10, promoters: 8, detractors: 2,
			score:  survey.Rate{Value: 60, Defined: true},
			margin: survey.Rate{Value: 49.5845137114402, Defined: true},
		},
		{
			// Everyone a detractor: −100, and no spread, so no margin.
			name: "all detractors",
			dist: map[int64]int{0: 3, 6: 4},
			n:    7, detractors: 7,
			score:  survey.Rate{Value: -100, Defined: true},
			margin: survey.Rate{Value: 0, Defined: true},
		},
		{
			name: "one passive",
			dist: map[int64]int{7: 1},
			n:    1, passives: 1,
			score:  survey.Rate{Value: 0, Defined: true},
			margin: survey.Rate{Value: 0, Defined: true},
		},
		{name: "no answers", dist: nil},
		{name: "only out of range", dist: map[int64]int{11: 4, -3: 2}},
		{name: "zero and negative counts", dist: map[int64]int{10: 0, 9: -5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := survey.NPSFrom(tt.dist)
			if got.N != tt.n || got.Promoters != tt.promoters || got.Passives != tt.passives || got.Detractors != tt.detractors {
				t.Errorf("counts N=%d P=%d Pa=%d D=%d, want N=%d P=%d Pa=%d D=%d",
					got.N, got.Promoters, got.Passives, got.Detractors, tt.n, tt.promoters, tt.passives, tt.detractors)
			}
			checkRate(t, "score", got.Score, tt.score)
			checkRate(t, "margin of error", got.MarginOfError, tt.margin)
		})
	}
}

func TestNPSJSON(t *testing.T) {
	data, err := json.Marshal(survey.NPSFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"n":0,"promoters":0,"passives":0,"detractors":0,"score":null,"margin_of_error":null}`
	if string(data) != want {
		t.Errorf("JSON = %s, want %s", data, want)
	}
}

func TestCSATFrom(t *testing.T) {
	tests := []struct {
		name     string
		dist     map[int64]int
		lo, hi   int64
		n, top   int
		score    survey.Rate
		wantDist map[int64]int
	}{
		{
			// 1–5: boxes 4 and 5 hold 30+40 = 70 of 100 in-range answers
			// (0 and 6 are off the scale): CSAT = 70%.
			name: "1 to 5",
			dist: map[int64]int{5: 40, 4: 30, 3: 10, 2: 10, 1: 10, 0: 99, 6: 5},
			lo:   1, hi: 5,
			n: 100, top: 70,
			score:    survey.Rate{Value: 70, Defined: true},
			wantDist: map[int64]int{5: 40, 4: 30, 3: 10, 2: 10, 1: 10},
		},
		{
			// 0–10: top boxes 9 and 10 hold 2+1 = 3 of 8: 37.5%.
			name: "0 to 10",
			dist: map[int64]int{10: 1, 9: 2, 8: 3, 0: 2},
			lo:   0, hi: 10,
			n: 8, top: 3,
			score:    survey.Rate{Value: 37.5, Defined: true},
			wantDist: map[int64]int{10: 1, 9: 2, 8: 3, 0: 2},
		},
		{
			name: "no answers",
			dist: map[int64]int{7: 3},
			lo:   1, hi: 5,
			wantDist: map[int64]int{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := survey.CSATFrom(tt.dist, tt.lo, tt.hi)
			if got.N != tt.n || got.TopTwo != tt.top {
				t.Errorf("N=%d top two=%d, want N=%d top two=%d", got.N, got.TopTwo, tt.n, tt.top)
			}
			checkRate(t, "score", got.Score, tt.score)
			if !maps.Equal(got.Distribution, tt.wantDist) || got.Distribution == nil {
				t.Errorf("distribution = %v, want %v", got.Distribution, tt.wantDist)
			}
		})
	}
}

func TestCSATDoesNotShareTheStoreMap(t *testing.T) {
	dist := map[int64]int{5: 1}
	c := survey.CSATFrom(dist, 1, 5)
	c.Distribution[5] = 100
	if dist[5] != 1 {
		t.Error("changing the CSAT distribution changed the input")
	}
}

func TestCESFrom(t *testing.T) {
	tests := []struct {
		name     string
		dist     map[int64]int
		lo, hi   int64
		n        int
		mean     survey.Rate
		wantDist map[int64]int
	}{
		{
			// 1–7: 10×1 + 20×2 + 10×3 + 5×5 + 10×7 = 175 over 55 answers
			// (8 is off the scale): mean = 175/55 = 35/11 = 3.18181818181818.
			name: "1 to 7",
			dist: map[int64]int{1: 10, 2: 20, 3: 10, 5: 5, 7: 10, 8: 3},
			lo:   1, hi: 7,
			n:        55,
			mean:     survey.Rate{Value: 3.18181818181818, Defined: true},
			wantDist: map[int64]int{1: 10, 2: 20, 3: 10, 5: 5, 7: 10},
		},
		{name: "no answers", lo: 1, hi: 7, wantDist: map[int64]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := survey.CESFrom(tt.dist, tt.lo, tt.hi)
			if got.N != tt.n {
				t.Errorf("N = %d, want %d", got.N, tt.n)
			}
			checkRate(t, "mean", got.Mean, tt.mean)
			if !maps.Equal(got.Distribution, tt.wantDist) || got.Distribution == nil {
				t.Errorf("distribution = %v, want %v", got.Distribution, tt.wantDist)
			}
		})
	}
}

func TestCESJSON(t *testing.T) {
	data, err := json.Marshal(survey.CESFrom(map[int64]int{1: 1, 3: 1}, 1, 7))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"n":2,"mean":2,"distribution":{"1":1,"3":1}}`
	if string(data) != want {
		t.Errorf("JSON = %s, want %s", data, want)
	}
}

// checkRate compares a rate with one computed by hand.
func checkRate(t *testing.T, name string, got, want survey.Rate) {
	t.Helper()
	if got.Defined != want.Defined {
		t.Errorf("%s defined = %v, want %v", name, got.Defined, want.Defined)
		return
	}
	if math.Abs(got.Value-want.Value) > rateTolerance {
		t.Errorf("%s = %.15f, want %.15f", name, got.Value, want.Value)
	}
}

// The margins the dashboard draws: CSAT's of a proportion, CES's from the
// sample deviation; none without answers.
func TestMetricMargins(t *testing.T) {
	c := survey.CSATFrom(map[int64]int{5: 50, 1: 50}, 1, 5)
	if m := c.MarginOfError(); !m.Defined || m.Value < 9.7 || m.Value > 9.9 { // 1.96·√(.25/100)·100 = 9.8
		t.Errorf("CSAT margin %+v, want 9.8 points", m)
	}
	e := survey.CESFrom(map[int64]int{1: 2, 7: 2}, 1, 7)
	if m := e.MarginOfError(); !m.Defined || m.Value < 3.3 || m.Value > 3.4 { // sd √12 = 3.46, 1.96·3.46/2 = 3.39
		t.Errorf("CES margin %+v, want 3.39", m)
	}
	if (survey.CSAT{}).MarginOfError().Defined || (survey.CES{}).MarginOfError().Defined {
		t.Errorf("a margin without answers")
	}
}

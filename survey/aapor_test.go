package survey_test

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/survey"
)

// tolerance for rates computed by hand to 15 significant digits.
const rateTolerance = 1e-9

func TestDispositionsCoverTheAAPORTable(t *testing.T) {
	// tableCodes is every code of the AAPOR telephone table in SURVEY-SCIENCE.md,
	// sub-codes included, in table order.
	tableCodes := []survey.DispositionCode{
		"1.1", "1.2",
		"2.11", "2.111", "2.112", "2.12", "2.21", "2.22", "2.221", "2.222",
		"2.31", "2.32", "2.33", "2.331", "2.332", "2.333", "2.34", "2.35", "2.36",
		"3.11", "3.12", "3.13", "3.14", "3.15", "3.16", "3.161", "3.21", "3.90",
		"4.10", "4.20", "4.31", "4.32", "4.33", "4.41", "4.43", "4.51", "4.52", "4.53",
		"4.70", "4.80", "4.90",
	}
	var got []survey.DispositionCode
	for _, d := range survey.Dispositions() {
		got = append(got, d.Code)
	}
	if !slices.Equal(got, tableCodes) {
		t.Errorf("catalog codes = %v\nwant the AAPOR table's %v", got, tableCodes)
	}
}

func TestDispositionsAreConsistent(t *testing.T) {
	catalog := survey.Dispositions()
	seen := make(map[survey.DispositionCode]survey.Disposition)
	for _, d := range catalog {
		t.Run(string(d.Code), func(t *testing.T) {
			if _, dup := seen[d.Code]; dup {
				t.Fatalf("code %s appears twice", d.Code)
			}
			seen[d.Code] = d
			if d.Label == "" {
				t.Error("no label: the console would show a bare code")
			}
			if !d.Group.Valid() {
				t.Errorf("group %q is not an AAPOR rate group", d.Group)
			}
			if d.Eligible != d.Group.Eligibility() {
				t.Errorf("eligible = %q, but group %s means %q", d.Eligible, d.Group, d.Group.Eligibility())
			}
			// The leading digit of a code is its eligibility class.
			want := map[byte]survey.Eligibility{
				'1': survey.Eligible, '2': survey.Eligible,
				'3': survey.EligibilityUnknown, '4': survey.NotEligible,
			}[d.Code[0]]
			if d.Eligible != want {
				t.Errorf("eligible = %q, but a %c.x code is %q", d.Eligible, d.Code[0], want)
			}
			switch d.Retry {
			case survey.RetryNone, survey.RetryNextNumber:
				if d.RetryAfter != 0 {
					t.Errorf("retry %s with a delay of %v: the delay would never apply", d.Retry, d.RetryAfter)
				}
				if !d.Final {
					t.Errorf("retry %s but not final: the case would stay open with nothing to do", d.Retry)
				}
			case survey.RetrySameNumber:
				if d.Final {
					t.Error("final but retried on the same number")
				}
			default:
				t.Errorf("retry %q is not a policy", d.Retry)
			}
			if d.RetryAfter < 0 {
				t.Errorf("negative retry delay %v", d.RetryAfter)
			}
			// A sub-code (2.111) belongs to its parent's group (2.11).
			if i := strings.IndexByte(string(d.Code), '.'); len(d.Code)-i-1 == 3 {
				parent, ok := seen[d.Code[:len(d.Code)-1]]
				if ok && parent.Group != d.Group {
					t.Errorf("group %s differs from parent %s's %s", d.Group, parent.Code, parent.Group)
				}
			}
		})
	}
}

func TestDispositionPolicies(t *testing.T) {
	// The policies the dialer relies on; the rest is catalog data a
	// deployment may change.
	tests := []struct {
		code  survey.DispositionCode
		retry survey.Retry
		after time.Duration
		final bool
		note  bool
	}{
		{"1.1", survey.RetryNone, 0, true, false},
		{"2.111", survey.RetryNone, 0, true, false},
		{"2.112", survey.RetryNone, 0, true, false},
		{"2.21", survey.RetrySameNumber, 4 * time.Hour, false, false},
		{"2.32", survey.RetryNone, 0, true, true},
		{"2.36", survey.RetryNone, 0, true, true},
		{"3.12", survey.RetrySameNumber, 15 * time.Minute, false, false},
		{"3.13", survey.RetrySameNumber, 2 * time.Hour, false, false},
		{"3.14", survey.RetrySameNumber, 4 * time.Hour, false, false},
		{"3.90", survey.RetryNone, 0, true, true},
		{"4.31", survey.RetryNextNumber, 0, true, false},
		{"4.80", survey.RetryNone, 0, true, false},
		{"4.90", survey.RetryNone, 0, true, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.code), func(t *testing.T) {
			d, ok := survey.LookupDisposition(tt.code)
			if !ok {
				t.Fatal("not in the catalog")
			}
			if d.Retry != tt.retry || d.RetryAfter != tt.after || d.Final != tt.final || d.RequiresNote != tt.note {
				t.Errorf("retry %s after %v, final %v, note %v; want %s after %v, final %v, note %v",
					d.Retry, d.RetryAfter, d.Final, d.RequiresNote, tt.retry, tt.after, tt.final, tt.note)
			}
		})
	}
}

func TestLookupDispositionUnknown(t *testing.T) {
	for _, code := range []survey.DispositionCode{"", "1", "2.1", "3.9", "4.3", "9.99"} {
		if d, ok := survey.LookupDisposition(code); ok {
			t.Errorf("LookupDisposition(%q) = %+v, want not found", code, d)
		}
	}
}

func TestDispositionsIsAFreshSlice(t *testing.T) {
	first := survey.Dispositions()
	first[0].Label = "changed by a caller"
	first[0].Group = survey.GroupNE
	d, _ := survey.LookupDisposition(first[0].Code)
	if d.Label == "changed by a caller" || d.Group == survey.GroupNE {
		t.Error("changing the returned slice changed the catalog")
	}
}

func TestDispositionJSON(t *testing.T) {
	d, _ := survey.LookupDisposition("3.12")
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"code":"3.12","label":"Always busy","group":"UH","retry_after_seconds":900,"retry":"same_number",` +
		`"contacted":false,"eligible":"unknown","requires_note":false,"final":false}`
	if string(data) != want {
		t.Errorf("JSON = %s\nwant   %s", data, want)
	}
	var back survey.Disposition
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back != d {
		t.Errorf("round trip = %+v, want %+v", back, d)
	}
}

func TestCountsAdd(t *testing.T) {
	var c survey.Counts
	for _, g := range []survey.RateGroup{
		survey.GroupI, survey.GroupI, survey.GroupP, survey.GroupR, survey.GroupNC,
		survey.GroupO, survey.GroupUH, survey.GroupUO, survey.GroupNE, survey.GroupNE,
		"X", "", // not groups: not counted
	} {
		c.Add(g)
	}
	want := survey.Counts{I: 2, P: 1, R: 1, NC: 1, O: 1, UH: 1, UO: 1, NE: 2}
	if c != want {
		t.Errorf("counts = %+v, want %+v", c, want)
	}
}

func TestRatesWorkedExample(t *testing.T) {
	// I=400 P=50 R=200 NC=150 O=50 UH=100 UO=50 NE=100, e=0.6:
	//   I+P = 450, R+NC+O = 400, UH+UO = 150, e(UH+UO) = 90
	//   all unknowns:  450+400+150 = 1000
	//   e unknowns:    450+400+90  = 940
	//   no unknowns:   450+400     = 850
	//   (I+P)+R+O = 450+200+50 = 700; (I+P)+R = 650
	c := survey.Counts{I: 400, P: 50, R: 200, NC: 150, O: 50, UH: 100, UO: 50, NE: 100}
	r, err := c.Rates(0.6)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  survey.Rate
		want float64
	}{
		{"RR1", r.RR1, 0.4},                   // 400/1000
		{"RR2", r.RR2, 0.45},                  // 450/1000
		{"RR3", r.RR3, 0.425531914893617},     // 400/940
		{"RR4", r.RR4, 0.478723404255319},     // 450/940
		{"RR5", r.RR5, 0.470588235294118},     // 400/850
		{"RR6", r.RR6, 0.529411764705882},     // 450/850
		{"COOP1", r.COOP1, 0.571428571428571}, // 400/700
		{"COOP2", r.COOP2, 0.642857142857143}, // 450/700
		{"COOP3", r.COOP3, 0.615384615384615}, // 400/650
		{"COOP4", r.COOP4, 0.692307692307692}, // 450/650
		{"REF1", r.REF1, 0.2},                 // 200/1000
		{"REF2", r.REF2, 0.212765957446809},   // 200/940
		{"REF3", r.REF3, 0.235294117647059},   // 200/850
		{"CON1", r.CON1, 0.7},                 // 700/(700+150+150) = 700/1000
		{"CON2", r.CON2, 0.744680851063830},   // 700/(700+150+90)  = 700/940
		{"CON3", r.CON3, 0.823529411764706},   // 700/(700+150)     = 700/850
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.got.Defined || math.Abs(tt.got.Value-tt.want) > rateTolerance {
				t.Errorf("%s = %v (defined %v), want %.15f", tt.name, tt.got.Value, tt.got.Defined, tt.want)
			}
		})
	}
	if r.E != 0.6 {
		t.Errorf("E = %v, want the 0.6 the rates were computed with", r.E)
	}
	// Proportional e: (I+P+R+NC+O)/(I+P+R+NC+O+NE) = 850/950.
	if pe := c.ProportionalE(); !pe.Defined || math.Abs(pe.Value-0.894736842105263) > rateTolerance {
		t.Errorf("ProportionalE = %+v, want 850/950 = 0.894736842105263", pe)
	}
}

func TestRatesBoundsOfE(t *testing.T) {
	// e=1 counts every unknown eligible (RR3 = RR1); e=0 none (RR3 = RR5).
	c := survey.Counts{I: 30, P: 10, R: 20, NC: 10, O: 5, UH: 20, UO: 5, NE: 7}
	one, err := c.Rates(1)
	if err != nil {
		t.Fatal(err)
	}
	zero, err := c.Rates(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		got, want survey.Rate
	}{
		{"RR3(e=1) = RR1", one.RR3, one.RR1},
		{"RR4(e=1) = RR2", one.RR4, one.RR2},
		{"REF2(e=1) = REF1", one.REF2, one.REF1},
		{"CON2(e=1) = CON1", one.CON2, one.CON1},
		{"RR3(e=0) = RR5", zero.RR3, zero.RR5},
		{"RR4(e=0) = RR6", zero.RR4, zero.RR6},
		{"REF2(e=0) = REF3", zero.REF2, zero.REF3},
		{"CON2(e=0) = CON3", zero.CON2, zero.CON3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got.Defined != tt.want.Defined || math.Abs(tt.got.Value-tt.want.Value) > rateTolerance {
				t.Errorf("got %+v, want %+v", tt.got, tt.want)
			}
		})
	}
}

func TestRatesZeroDenominators(t *testing.T) {
	tests := []struct {
		name      string
		counts    survey.Counts
		e         float64
		undefined []string
		zero      []string // defined, value 0
	}{
		{
			name:   "no cases",
			counts: survey.Counts{},
			e:      0.5,
			undefined: []string{"rr1", "rr2", "rr3", "rr4", "rr5", "rr6", "coop1", "coop2", "coop3", "coop4",
				"ref1", "ref2", "ref3", "con1", "con2", "con3"},
		},
		{
			name:   "only not eligible",
			counts: survey.Counts{NE: 12},
			e:      0.5,
			undefined: []string{"rr1", "rr2", "rr3", "rr4", "rr5", "rr6", "coop1", "coop2", "coop3", "coop4",
				"ref1", "ref2", "ref3", "con1", "con2", "con3"},
		},
		{
			// 10 unknowns with e=0: the e and known-eligible denominators
			// are 0; those counting all unknowns are 10, so 0/10 = 0.
			name:      "only unknown, e=0",
			counts:    survey.Counts{UH: 6, UO: 4},
			e:         0,
			undefined: []string{"rr3", "rr4", "rr5", "rr6", "coop1", "coop2", "coop3", "coop4", "ref2", "ref3", "con2", "con3"},
			zero:      []string{"rr1", "rr2", "ref1", "con1"},
		},
		{
			// NC=5 only: no interviews, refusals or others, so the
			// cooperation rates have nothing to divide by.
			name:      "only non-contacts",
			counts:    survey.Counts{NC: 5},
			e:         0.3,
			undefined: []string{"coop1", "coop2", "coop3", "coop4"},
			zero:      []string{"rr1", "rr2", "rr3", "rr4", "rr5", "rr6", "ref1", "ref2", "ref3", "con1", "con2", "con3"},
		},
		{
			// O=4 only: COOP1/2 = 0/4 are 0, COOP3/4 divide by (I+P)+R = 0.
			name:      "only other",
			counts:    survey.Counts{O: 4},
			e:         0.3,
			undefined: []string{"coop3", "coop4"},
			zero:      []string{"rr1", "rr2", "rr3", "rr4", "rr5", "rr6", "coop1", "coop2", "ref1", "ref2", "ref3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.counts.Rates(tt.e)
			if err != nil {
				t.Fatal(err)
			}
			data, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(data, &fields); err != nil {
				t.Fatal(err)
			}
			for _, name := range tt.undefined {
				if got := string(fields[name]); got != "null" {
					t.Errorf("%s = %s in %s, want null: its denominator is 0", name, got, data)
				}
			}
			for _, name := range tt.zero {
				if got := string(fields[name]); got != "0" {
					t.Errorf("%s = %s in %s, want 0", name, got, data)
				}
			}
		})
	}
}

func TestProportionalE(t *testing.T) {
	tests := []struct {
		name   string
		counts survey.Counts
		want   survey.Rate
	}{
		{"nothing known", survey.Counts{UH: 10, UO: 3}, survey.Rate{}},
		{"all not eligible", survey.Counts{NE: 4, UH: 1}, survey.Rate{Value: 0, Defined: true}},
		// (1+1+1+1+1)/(5+5) = 0.5
		{"half", survey.Counts{I: 1, P: 1, R: 1, NC: 1, O: 1, NE: 5, UH: 99}, survey.Rate{Value: 0.5, Defined: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.counts.ProportionalE(); got != tt.want {
				t.Errorf("ProportionalE = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRatesRejectsInvalidInput(t *testing.T) {
	tests := []struct {
		name   string
		counts survey.Counts
		e      float64
		code   survey.ErrorCode
		want   string // in the message
	}{
		// e is the user's: the message is shown to them and names e.
		{"e below 0", survey.Counts{I: 1}, -0.1, survey.EInvalid, "e, the eligible share"},
		{"e above 1", survey.Counts{I: 1}, 1.5, survey.EInvalid, "not 1.5"},
		{"e NaN", survey.Counts{I: 1}, math.NaN(), survey.EInvalid, "not NaN"},
		{"e infinite", survey.Counts{I: 1}, math.Inf(1), survey.EInvalid, "not +Inf"},
		// Negative counts are a bug upstream, not the user's to fix.
		{"negative count", survey.Counts{I: 1, R: -2}, 0.5, survey.EInternal, "negative count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.counts.Rates(tt.e)
			if err == nil {
				t.Fatal("no error")
			}
			if got := survey.ErrorCodeOf(err); got != tt.code {
				t.Errorf("code = %s, want %s (err %v)", got, tt.code, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestRateFormats(t *testing.T) {
	tests := []struct {
		rate       survey.Rate
		str, jsonS string
	}{
		{survey.Rate{}, "n/a", "null"},
		{survey.Rate{Value: 0.42312, Defined: true}, "0.4231", "0.42312"},
		{survey.Rate{Value: 0, Defined: true}, "0.0000", "0"},
		{survey.Rate{Value: 1, Defined: true}, "1.0000", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.str, func(t *testing.T) {
			if got := tt.rate.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			data, err := json.Marshal(tt.rate)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tt.jsonS {
				t.Errorf("JSON = %s, want %s", data, tt.jsonS)
			}
			var back survey.Rate
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			if back != tt.rate {
				t.Errorf("round trip = %+v, want %+v", back, tt.rate)
			}
		})
	}
	if _, err := json.Marshal(survey.Rate{Value: math.NaN(), Defined: true}); err == nil {
		t.Error("a defined NaN rate marshalled without error")
	}
}

func TestFinalDisposition(t *testing.T) {
	type codes = []survey.DispositionCode
	tests := []struct {
		name     string
		attempts codes
		limit    bool
		want     survey.DispositionCode
	}{
		{"no attempts", nil, false, "3.11"},
		{"no attempts, limit", nil, true, "3.11"},
		{"complete", codes{"1.1"}, false, "1.1"},
		{"complete after everything", codes{"3.13", "2.112", "1.2", "1.1", "3.13"}, true, "1.1"},
		{"partial over refusal", codes{"2.112", "1.2", "3.13"}, true, "1.2"},
		{"refusal over later no-answers", codes{"3.13", "2.112", "3.13", "3.13"}, true, "2.112"},
		{"last refusal wins", codes{"2.111", "2.12"}, false, "2.12"},
		{"other over non-contact", codes{"2.35", "2.21"}, false, "2.35"},
		{"other, limit", codes{"2.35", "2.21", "3.13"}, true, "2.36"},
		{"final other stays", codes{"2.21", "2.332", "3.13"}, true, "2.332"},
		{"non-contact over no-answers", codes{"3.13", "2.21", "3.13"}, false, "2.21"},
		{"eligible non-contact, limit", codes{"3.13", "2.21", "3.13"}, true, "2.36"},
		{"machine confirmed household, limit", codes{"2.222", "3.14"}, true, "2.36"},
		{"eligible over not eligible", codes{"2.21", "4.32"}, false, "2.21"},
		{"not eligible over unknown", codes{"3.13", "4.32", "3.13"}, false, "4.32"},
		{"not eligible, limit", codes{"3.13", "4.32", "3.13"}, true, "4.32"},
		{"last not eligible", codes{"4.31", "4.51"}, false, "4.51"},
		{"last unknown", codes{"3.13", "3.12", "3.14"}, false, "3.14"},
		{"last unknown, even after a contact", codes{"3.21", "3.13"}, false, "3.13"},
		{"unknown, limit", codes{"3.13", "3.12", "3.13"}, true, "3.90"},
		{"3.11 is least informative", codes{"3.13", "3.11"}, false, "3.13"},
		{"only 3.11, limit", codes{"3.11"}, true, "3.90"},
		{"final unknown then retried one, limit", codes{"3.90", "3.13"}, true, "3.90"},
		{"unknown code counts as 3.90", codes{"9.99"}, false, "3.90"},
		{"unknown code, then no answer", codes{"9.99", "3.13"}, false, "3.13"},
		{"no interviewer for the language, limit", codes{"2.333"}, true, "2.36"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := survey.FinalDisposition(tt.attempts, tt.limit); got != tt.want {
				t.Errorf("FinalDisposition(%v, limit %v) = %s, want %s", tt.attempts, tt.limit, got, tt.want)
			}
		})
	}
}

func TestFinalDispositionLimitAlwaysFinal(t *testing.T) {
	// Whatever the history, a case that ran out of attempts closes with a
	// final code: the dialer must not keep it open.
	for _, d := range survey.Dispositions() {
		for _, before := range []survey.DispositionCode{"", "3.13", "2.21", "4.32"} {
			attempts := []survey.DispositionCode{d.Code}
			if before != "" {
				attempts = []survey.DispositionCode{before, d.Code}
			}
			code := survey.FinalDisposition(attempts, true)
			final, ok := survey.LookupDisposition(code)
			if !ok || !final.Final {
				t.Errorf("FinalDisposition(%v, limit) = %s, which is not a final code", attempts, code)
			}
		}
	}
}

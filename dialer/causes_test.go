package dialer

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/canvass/canvass/survey"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestSettle(t *testing.T) {
	tests := []struct {
		name string
		sig  Signal
		want Settlement
	}{
		{"answered, no AMD", Signal{Answered: true, SIPStatus: 200},
			Settlement{Outcome: survey.DialAnswered, Retry: RetryWrapUp, Rule: "person"}},
		{"answered, AMD human", Signal{Answered: true, AMD: AMDHuman},
			Settlement{Outcome: survey.DialAnswered, Retry: RetryWrapUp, Rule: "person"}},
		{"answered, AMD not sure goes to a person", Signal{Answered: true, AMD: AMDNotSure},
			Settlement{Outcome: survey.DialAnswered, Retry: RetryWrapUp, Rule: "person"}},
		{"answered, AMD machine", Signal{Answered: true, AMD: AMDMachine},
			Settlement{Outcome: survey.DialAnsweringMachine, Code: "3.14", Retry: RetryNormal, Rule: "AMD machine"}},
		{"fax tone beats AMD", Signal{Answered: true, AMD: AMDMachine, Fax: true},
			Settlement{Outcome: survey.DialFax, Code: "4.20", Retry: RetryNever, Rule: "fax tone"}},
		{"answered, unknown AMD verdict is a person, reported", Signal{Answered: true, AMD: "robot\n"},
			Settlement{Outcome: survey.DialAnswered, Retry: RetryWrapUp, Rule: "person", Unknown: "AMD robot"}},
		{"ring timeout with 487", Signal{RingTimeout: true, SIPStatus: 487, Q850: 16},
			Settlement{Outcome: survey.DialNoAnswer, Code: "3.13", Retry: RetryNormal, Rule: "ring timeout"}},
		{"cancelled by us", Signal{Cancelled: true, SIPStatus: 487},
			Settlement{Outcome: survey.DialCancelled, Retry: RetrySoon, Rule: "cancelled"}},
		{"SIP 486", Signal{SIPStatus: 486},
			Settlement{Outcome: survey.DialBusy, Code: "3.12", Retry: RetryNormal, Rule: "SIP 486"}},
		{"SIP 600", Signal{SIPStatus: 600},
			Settlement{Outcome: survey.DialBusy, Code: "3.12", Retry: RetryNormal, Rule: "SIP 600"}},
		{"SIP 480", Signal{SIPStatus: 480},
			Settlement{Outcome: survey.DialNoAnswer, Code: "3.13", Retry: RetryNormal, Rule: "SIP 480"}},
		{"SIP 408", Signal{SIPStatus: 408},
			Settlement{Outcome: survey.DialNoAnswer, Code: "3.13", Retry: RetryNormal, Rule: "SIP 408"}},
		{"SIP 404", Signal{SIPStatus: 404},
			Settlement{Outcome: survey.DialNotWorking, Code: "4.31", Retry: RetryNever, Rule: "SIP 404"}},
		{"SIP 604", Signal{SIPStatus: 604},
			Settlement{Outcome: survey.DialNotWorking, Code: "4.31", Retry: RetryNever, Rule: "SIP 604"}},
		{"SIP 503 retries soon", Signal{SIPStatus: 503},
			Settlement{Outcome: survey.DialTechnical, Code: "3.16", Retry: RetrySoon, Rule: "SIP 503"}},
		{"SIP 603 decline", Signal{SIPStatus: 603},
			Settlement{Outcome: survey.DialRejected, Code: "3.15", Retry: RetryNormal, Rule: "SIP 603"}},
		{"SIP 403 is the trunk", Signal{SIPStatus: 403},
			Settlement{Outcome: survey.DialTechnical, Code: "3.16", Retry: RetryNormal, TrunkFault: true, Rule: "SIP 403"}},
		{"SIP 407 is the trunk", Signal{SIPStatus: 407},
			Settlement{Outcome: survey.DialTechnical, Code: "3.16", Retry: RetryNormal, TrunkFault: true, Rule: "SIP 407"}},
		{"403 with cause 21 is a rejection (RFC 3398)", Signal{SIPStatus: 403, Q850: 21},
			Settlement{Outcome: survey.DialRejected, Code: "3.15", Retry: RetryNormal, Rule: "Q.850 21"}},
		{"480 with cause 1 is not working", Signal{SIPStatus: 480, Q850: 1},
			Settlement{Outcome: survey.DialNotWorking, Code: "4.31", Retry: RetryNever, Rule: "Q.850 1"}},
		{"503 with cause 34", Signal{SIPStatus: 503, Q850: 34},
			Settlement{Outcome: survey.DialTechnical, Code: "3.16", Retry: RetrySoon, Rule: "Q.850 34"}},
		{"generic cause 16 yields to the SIP status", Signal{SIPStatus: 486, Q850: 16},
			Settlement{Outcome: survey.DialBusy, Code: "3.12", Retry: RetryNormal, Rule: "SIP 486"}},
		{"generic cause 31 yields to the SIP status", Signal{SIPStatus: 404, Q850: 31},
			Settlement{Outcome: survey.DialNotWorking, Code: "4.31", Retry: RetryNever, Rule: "SIP 404"}},
		{"2xx without usable media", Signal{SIPStatus: 200},
			Settlement{Outcome: survey.DialTechnical, Code: "3.16", Retry: RetrySoon, Rule: "SIP 2xx"}},
		{"302 not followed", Signal{SIPStatus: 302},
			Settlement{Outcome: survey.DialTechnical, Code: "3.16", Retry: RetryNormal, Rule: "SIP 3xx"}},
		{"Q.850 17 alone", Signal{Q850: 17},
			Settlement{Outcome: survey.DialBusy, Code: "3.12", Retry: RetryNormal, Rule: "Q.850 17"}},
		{"Q.850 19 alone", Signal{Q850: 19},
			Settlement{Outcome: survey.DialNoAnswer, Code: "3.13", Retry: RetryNormal, Rule: "Q.850 19"}},
		{"Q.850 28 alone", Signal{Q850: 28},
			Settlement{Outcome: survey.DialNotWorking, Code: "4.31", Retry: RetryNever, Rule: "Q.850 28"}},
		{"Q.850 38 alone", Signal{Q850: 38},
			Settlement{Outcome: survey.DialTechnical, Code: "3.16", Retry: RetrySoon, Rule: "Q.850 38"}},
		{"Q.850 27", Signal{Q850: 27},
			Settlement{Outcome: survey.DialTechnical, Code: "3.16", Retry: RetryNormal, Rule: "Q.850 27"}},
		{"Q.850 16 wins over the Dial status", Signal{Q850: 16, DialStatus: "NOANSWER"},
			Settlement{Outcome: survey.DialTechnical, Code: "3.16", Retry: RetryNormal, Rule: "Q.850 16"}},
		{"Dial BUSY", Signal{DialStatus: "BUSY"},
			Settlement{Outcome: survey.DialBusy, Code: "3.12", Retry: RetryNormal, Rule: "Dial BUSY"}},
		{"Dial status in lower case", Signal{DialStatus: "noanswer"},
			Settlement{Outcome: survey.DialNoAnswer, Code: "3.13", Retry: RetryNormal, Rule: "Dial NOANSWER"}},
		{"Dial CONGESTION", Signal{DialStatus: "CONGESTION"},
			Settlement{Outcome: survey.DialTechnical, Code: "3.16", Retry: RetrySoon, Rule: "Dial CONGESTION"}},
		{"nothing at all", Signal{},
			Settlement{Outcome: survey.DialTechnical, Code: "3.16", Retry: RetrySoon, Rule: "no response"}},
		{"unknown SIP status", Signal{SIPStatus: 499},
			Settlement{Outcome: survey.DialTechnical, Code: "3.16", Retry: RetryNormal, Rule: "unknown", Unknown: "SIP 499"}},
		{"unknown cause and status", Signal{SIPStatus: 499, Q850: 99, DialStatus: "TORTURE"},
			Settlement{Outcome: survey.DialTechnical, Code: "3.16", Retry: RetryNormal, Rule: "unknown", Unknown: "Q.850 99, SIP 499, Dial TORTURE"}},
		{"unknown cause, known status: the status decides, the cause is reported", Signal{SIPStatus: 486, Q850: 99},
			Settlement{Outcome: survey.DialBusy, Code: "3.12", Retry: RetryNormal, Rule: "SIP 486", Unknown: "Q.850 99"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Settle(tt.sig)); diff != "" {
				t.Errorf("Settle(%+v) (-want +got):\n%s", tt.sig, diff)
			}
		})
	}
}

// TestSettleAgreesWithAdapters lists, input by input, what the adapters
// conclude on their own (the table in ivr/dial.go: refusal() in
// ivr/sipua/outbound.go reads the SIP status alone, outcomeOf in
// ivr/asterisk/originate.go the Q.850 cause, else the Dial status) and
// checks that the campaign's table says the same.
func TestSettleAgreesWithAdapters(t *testing.T) {
	type row struct {
		sig     Signal
		adapter survey.DialOutcome
	}
	sipua := []row{
		{Signal{SIPStatus: 486}, survey.DialBusy},
		{Signal{SIPStatus: 600}, survey.DialBusy},
		{Signal{SIPStatus: 408}, survey.DialNoAnswer},
		{Signal{SIPStatus: 480}, survey.DialNoAnswer},
		{Signal{SIPStatus: 487}, survey.DialNoAnswer},
		{Signal{RingTimeout: true}, survey.DialNoAnswer},
		{Signal{RingTimeout: true, SIPStatus: 487}, survey.DialNoAnswer},
		{Signal{SIPStatus: 404}, survey.DialNotWorking},
		{Signal{SIPStatus: 410}, survey.DialNotWorking},
		{Signal{SIPStatus: 484}, survey.DialNotWorking},
		{Signal{SIPStatus: 604}, survey.DialNotWorking},
		{Signal{SIPStatus: 603}, survey.DialRejected},
		// "any other response, none, a bad SDP": technical.
		{Signal{SIPStatus: 401}, survey.DialTechnical},
		{Signal{SIPStatus: 403}, survey.DialTechnical},
		{Signal{SIPStatus: 407}, survey.DialTechnical},
		{Signal{SIPStatus: 488}, survey.DialTechnical},
		{Signal{SIPStatus: 500}, survey.DialTechnical},
		{Signal{SIPStatus: 502}, survey.DialTechnical},
		{Signal{SIPStatus: 503}, survey.DialTechnical},
		{Signal{SIPStatus: 504}, survey.DialTechnical},
		{Signal{SIPStatus: 606}, survey.DialTechnical},
		{Signal{SIPStatus: 499}, survey.DialTechnical},
		{Signal{}, survey.DialTechnical},
		{Signal{SIPStatus: 200}, survey.DialTechnical}, // answered with no usable SDP
		{Signal{Answered: true, SIPStatus: 200}, survey.DialAnswered},
		{Signal{Cancelled: true, SIPStatus: 487}, survey.DialCancelled},
	}
	asterisk := []row{
		{Signal{Q850: 17}, survey.DialBusy},
		{Signal{Q850: 18}, survey.DialNoAnswer},
		{Signal{Q850: 19}, survey.DialNoAnswer},
		{Signal{Q850: 21}, survey.DialRejected},
		{Signal{Q850: 1}, survey.DialNotWorking},
		{Signal{Q850: 22}, survey.DialNotWorking},
		{Signal{Q850: 28}, survey.DialNotWorking},
		{Signal{DialStatus: "BUSY"}, survey.DialBusy},
		{Signal{DialStatus: "NOANSWER"}, survey.DialNoAnswer},
		// "any other cause": technical, whatever the Dial status.
		{Signal{Q850: 16, DialStatus: "NOANSWER"}, survey.DialTechnical},
		{Signal{Q850: 16, DialStatus: "BUSY"}, survey.DialTechnical},
		{Signal{DialStatus: "CONGESTION"}, survey.DialTechnical},
		{Signal{DialStatus: "CHANUNAVAIL"}, survey.DialTechnical},
		{Signal{DialStatus: "CANCEL"}, survey.DialTechnical},
		{Signal{Answered: true}, survey.DialAnswered},
	}
	for q := 0; q <= 127; q++ {
		switch q {
		case 0, 1, 17, 18, 19, 21, 22, 28:
			continue
		}
		asterisk = append(asterisk, row{Signal{Q850: q}, survey.DialTechnical})
	}
	for name, rows := range map[string][]row{"ivr/sipua": sipua, "ivr/asterisk": asterisk} {
		for _, r := range rows {
			if got := Settle(r.sig).Outcome; got != r.adapter {
				t.Errorf("%s says %s for %+v, the cause table %s", name, r.adapter, r.sig, got)
			}
		}
	}
}

// TestCauseTable checks the table against the catalog: every row's code
// exists, a number is given up only with a final code, and a retried row
// never records one.
func TestCauseTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range append(Causes(), unknownCause) {
		key := string(c.Source) + " " + c.Value
		if seen[key] {
			t.Errorf("%s: two rows", key)
		}
		seen[key] = true
		code, ok := c.Outcome.Code()
		if !ok {
			t.Errorf("%s: outcome %q is not a survey.DialOutcome", key, c.Outcome)
			continue
		}
		if c.Meaning == "" {
			t.Errorf("%s: no meaning", key)
		}
		switch c.Retry {
		case RetryWrapUp:
			if code != "" {
				t.Errorf("%s: the wrap-up decides, yet the row records %s", key, code)
			}
			continue
		case RetrySoon, RetryNormal, RetryNever:
		default:
			t.Errorf("%s: retry class %q", key, c.Retry)
			continue
		}
		if code == "" {
			if c.Outcome != survey.DialCancelled {
				t.Errorf("%s: no code", key)
			}
			continue
		}
		d, ok := survey.LookupDisposition(code)
		if !ok {
			t.Errorf("%s: code %s is not in the catalog", key, code)
			continue
		}
		if (c.Retry == RetryNever) != d.Final {
			t.Errorf("%s: retry %s with code %s (final %v)", key, c.Retry, code, d.Final)
		}
		if c.Retry == RetryNever && d.Retry != survey.RetryNextNumber {
			t.Errorf("%s: never again for this number, but the catalog's %s says %s", key, code, d.Retry)
		}
	}
}

// TestSettleUnknownIsSafe runs every SIP status and Q.850 cause, alone and
// together: nothing unknown ever gives up on a number, and anything that
// did not decide is reported.
func TestSettleUnknownIsSafe(t *testing.T) {
	for status := 0; status < 700; status++ {
		for _, q := range []int{0, 16, 99, 128, -1} {
			s := Settle(Signal{SIPStatus: status, Q850: q})
			if s.Rule == "unknown" {
				if s.Unknown == "" {
					t.Errorf("SIP %d, Q.850 %d: unknown, but not reported", status, q)
				}
				if d, _ := survey.LookupDisposition(s.Code); d.Final || s.Retry != RetryNormal {
					t.Errorf("SIP %d, Q.850 %d: unknown settles as %s (%s)", status, q, s.Code, s.Retry)
				}
			}
			if (status >= 400 || status >= 100 && status < 200) && s.Rule == "no response" {
				t.Errorf("SIP %d: settled as no response", status)
			}
		}
	}
}

func TestSettlementDelay(t *testing.T) {
	override := map[survey.DispositionCode]int64{"3.12": 600}
	tests := []struct {
		sig   Signal
		soon  time.Duration
		want  time.Duration
		retry bool
	}{
		{Signal{SIPStatus: 503}, 0, DefaultSoon, true},
		{Signal{SIPStatus: 503}, 2 * time.Minute, 2 * time.Minute, true},
		{Signal{SIPStatus: 486}, 0, 10 * time.Minute, true}, // the campaign's 600 s
		{Signal{SIPStatus: 480}, 0, 2 * time.Hour, true},    // the catalog's 3.13
		{Signal{SIPStatus: 603}, 0, 24 * time.Hour, true},   // 3.15
		{Signal{SIPStatus: 404}, 0, 0, false},
		{Signal{Answered: true}, 0, 0, false},
	}
	for _, tt := range tests {
		got, ok := Settle(tt.sig).Delay(override, tt.soon)
		if got != tt.want || ok != tt.retry {
			t.Errorf("%+v: Delay = %v, %v; want %v, %v", tt.sig, got, ok, tt.want, tt.retry)
		}
	}
}

// TestCauseDoc keeps testdata/causes.md, the README's cause table, in step
// with the code.
func TestCauseDoc(t *testing.T) {
	got := causeMarkdown()
	path := filepath.Join("testdata", "causes.md")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s is stale; rerun with -update (-file +code):\n%s", path, diff)
	}
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), got) {
		t.Errorf("README.md's cause table (Outbound dialing) is not %s: paste it there", path)
	}
}

// causeMarkdown renders the table for the README.
func causeMarkdown() string {
	var b strings.Builder
	b.WriteString("| checked | input | meaning | outcome | AAPOR | next call |\n|---|---|---|---|---|---|\n")
	retry := map[RetryClass]string{
		RetrySoon:   "soon (minutes)",
		RetryNormal: "after the code's retry delay",
		RetryNever:  "never (next number)",
		RetryWrapUp: "the interview decides",
	}
	for i, c := range append(Causes(), unknownCause) {
		code, _ := c.Outcome.Code()
		label := "—"
		if d, ok := survey.LookupDisposition(code); ok {
			label = string(code) + " " + d.Label
		}
		next := retry[c.Retry]
		if c.TrunkFault {
			next += "; trunk alert"
		}
		input := string(c.Source) + " " + c.Value
		switch c.Source {
		case SourceAnswer, SourceDialer, SourceNone:
			input = c.Value
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", i+1, input, c.Meaning, c.Outcome, label, next)
	}
	return b.String()
}

// FuzzSettle checks the table's promises on any signal: it never panics,
// the code is the outcome's, a number is given up only by a known row, and
// whatever it did not know it reports.
func FuzzSettle(f *testing.F) {
	f.Add(false, 486, 0, "", false, false, false, "")
	f.Add(true, 200, 0, "", false, false, false, "machine")
	f.Add(false, 0, 17, "BUSY", false, false, false, "")
	f.Add(false, 499, 99, "TORTURE", false, false, false, "")
	f.Add(false, 487, 16, "", true, false, false, "")
	f.Fuzz(func(t *testing.T, answered bool, status, q850 int, dial string, ring, cancelled, fax bool, amd string) {
		sig := Signal{Answered: answered, SIPStatus: status, Q850: q850, DialStatus: dial,
			RingTimeout: ring, Cancelled: cancelled, Fax: fax, AMD: AMD(amd)}
		s := Settle(sig)
		code, ok := s.Outcome.Code()
		if !ok || code != s.Code {
			t.Fatalf("%+v: outcome %s, code %q", sig, s.Outcome, s.Code)
		}
		if s.Rule == "" {
			t.Fatalf("%+v: no rule", sig)
		}
		if s.Rule == "unknown" && (s.Unknown == "" || s.Retry != RetryNormal) {
			t.Fatalf("%+v: unknown settled as %+v", sig, s)
		}
		if s.Retry == RetryNever && s.Unknown != "" && s.Rule == "unknown" {
			t.Fatalf("%+v: gave up on an unknown input", sig)
		}
		if len(s.Unknown) > 200 {
			t.Fatalf("%+v: Unknown is %d bytes", sig, len(s.Unknown))
		}
		if _, retry := s.Delay(nil, 0); retry != (s.Retry == RetrySoon || s.Retry == RetryNormal) {
			t.Fatalf("%+v: Delay's ok disagrees with %s", sig, s.Retry)
		}
	})
}

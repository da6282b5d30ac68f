package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDialerSimulateJSON(t *testing.T) {
	plot := filepath.Join(t.TempDir(), "plot.svg")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"dialer", "simulate", "--days", "2", "--interviewers", "4", "--seed", "3", "--json", "--svg", plot}, nil, &out, &errOut)
	if err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out.String())
	}
	for _, k := range []string{"dials", "dials_outside_window", "dials_to_dnc", "abandon_rate_max_24h", "abandon_rate_max_30d", "utilisation", "modes"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("no %q in %s", k, out.String())
		}
	}
	if d, _ := rep["dials"].(float64); d < 100 {
		t.Errorf("dials = %v: the run placed next to nothing", rep["dials"])
	}
	for _, k := range []string{"dials_outside_window", "dials_to_dnc"} {
		if rep[k] != 0.0 {
			t.Errorf("%s = %v, want 0", k, rep[k])
		}
	}
	u, _ := rep["utilisation"].(map[string]any)
	for _, m := range []string{"progressive", "predictive"} {
		if v, ok := u[m].(float64); !ok || v <= 0 || v >= 1 {
			t.Errorf("utilisation[%s] = %v, want a share", m, u[m])
		}
	}
	svg, err := os.ReadFile(plot)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(svg, []byte("<svg")) || bytes.Count(svg, []byte("<polyline")) != 4 || !bytes.HasSuffix(bytes.TrimSpace(svg), []byte("</svg>")) {
		t.Errorf("plot: want an SVG with 4 lines (2 panels × 2 modes):\n%s", svg)
	}

	// One mode: its utilisation alone; the table names it.
	out.Reset()
	if err := run(context.Background(), []string{"dialer", "simulate", "--days", "1", "--interviewers", "2", "--mode", "progressive"}, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "progressive") || strings.Contains(s, "predictive") || !strings.Contains(s, "dials outside the local window") {
		t.Errorf("table:\n%s", s)
	}
}

func TestDialerSimulateUsage(t *testing.T) {
	for _, args := range [][]string{
		{"dialer"},
		{"dialer", "simulate", "--mode", "sideways"},
		{"dialer", "simulate", "--window", "21:00-09:00"},
		{"dialer", "simulate", "--zones", "America/Chicago"},
		{"dialer", "simulate", "--budget", "0.05"},
		{"dialer", "simulate", "--ring-min", "5s"},
	} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, nil, &out, &errOut); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

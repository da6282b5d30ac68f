package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportRules enforces the import table of DESIGN.md §1: ivr, dialer,
// cati and sql never import each other; they meet through survey types and
// interfaces their consumers declare, wired here in cmd/canvass. Tests are
// held to the same table, plus what a test may reach besides: the real store
// (sql, sql/sqltest), the shared fixtures (testdata), and the test kits of
// the packages it drives.
func TestImportRules(t *testing.T) {
	const mod = "github.com/canvass/canvass/"
	allowed := map[string][]string{
		"survey":       {},
		"testdata":     {},
		"prompts":      {"survey"},
		"sql":          {"survey", "sql/pglocal"},
		"sql/pglocal":  {},
		"sql/sqltest":  {"survey", "sql", "sql/pglocal"},
		"ivr":          {"survey", "prompts"},
		"ivr/asterisk": {"ivr", "ivr/media", "survey"},
		"ivr/ivrtest":  {"ivr", "survey"},
		"ivr/media":    {},
		"ivr/sipua":    {"ivr", "ivr/media", "survey", "ivr/sipua/internal/sdp", "ivr/sipua/internal/siplimits", "ivr/internal/mmsg"},
		"ivr/phone":    {"ivr", "ivr/media", "survey"},
		"ivr/webrtc":   {"ivr", "ivr/media", "survey", "ivr/internal/mmsg"},
		// Test helpers and adapter internals: leaves, or tied to their parent.
		"ivr/sipua/internal/sdp":       {"ivr/media"},
		"ivr/sipua/internal/siplimits": {},
		"ivr/internal/mmsg":            {}, // batched UDP: the SIP endpoint's RTP ports, the ICE port
		"ivr/sipua/sipuatest":          {"ivr/media", "ivr/sipua/internal/sdp", "ivr/sipua/internal/siplimits", "ivr/internal/mmsg"},
		"ivr/sipua/baresiptest":        {},
		"ivr/webrtc/webrtctest":        {"ivr/internal/mmsg"},
		"ivr/asterisk/aritest":         {"ivr/media"},
		"ivr/kamailio":                 {},
		"ivr/transcribe":               {"survey"},
		"dialer":                       {"survey"},
		"cati":                         {"survey"},
		"config":                       {"survey", "prompts", "sql", "ivr", "ivr/asterisk", "ivr/sipua", "ivr/webrtc", "ivr/phone", "ivr/transcribe", "dialer", "cati"},
		// The one wiring point may import everything.
		"cmd/canvass": nil,
	}
	// What tests may import besides their package's table and the package
	// itself (external _test packages).
	store := []string{"sql", "sql/sqltest", "testdata"}
	tests := map[string][]string{
		"survey":       {"testdata"},
		"prompts":      {"testdata"},
		"sql":          store,
		"ivr":          append([]string{"ivr/ivrtest"}, store...),
		"ivr/asterisk": {"ivr/ivrtest", "ivr/asterisk/aritest", "ivr/phone", "testdata"},
		"ivr/sipua":    append([]string{"ivr/ivrtest", "ivr/sipua/sipuatest", "ivr/sipua/baresiptest"}, store...),
		// Transcription over the real store.
		"ivr/transcribe": store,
		// The shared port of the load generator's browsers, against the
		// real server.
		"ivr/webrtc/webrtctest": {"ivr/webrtc", "ivr/media"},
		// The console's phone end to end: the real browser leg, SIP
		// endpoint and switchboard, and a real SIP phone.
		"cati": append([]string{"prompts", "ivr", "ivr/webrtc", "ivr/phone", "ivr/sipua", "ivr/sipua/baresiptest"}, store...),
	}
	out, err := exec.Command("go", "list", "-deps", "-test", "-f",
		`{{.ImportPath}}{{range .Imports}} {{.}}{{end}}{{range .TestImports}} test:{{.}}{{end}}{{range .XTestImports}} test:{{.}}{{end}}`,
		"../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := map[string]bool{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], mod)
		// go list -test adds "pkg [pkg.test]" variants and the test mains.
		if !ok || strings.Contains(line, ".test") || strings.HasSuffix(pkg, "_test") || strings.Contains(pkg, " ") {
			continue
		}
		pkg = strings.Fields(pkg)[0]
		if seen[pkg] {
			continue
		}
		rules, known := allowed[pkg]
		if !known {
			t.Errorf("package %s is not in the import table of DESIGN.md §1; add it here", pkg)
			continue
		}
		seen[pkg] = true
		if pkg == "cmd/canvass" {
			continue
		}
		for _, imp := range fields[1:] {
			imp, inTest := strings.CutPrefix(imp, "test:")
			dep, ours := strings.CutPrefix(imp, mod)
			if !ours || slices.Contains(rules, dep) || inTest && (dep == pkg || slices.Contains(tests[pkg], dep)) {
				continue
			}
			if inTest {
				t.Errorf("a test of %s imports %s; tests of %s may import only %v and %v", pkg, dep, pkg, rules, tests[pkg])
			} else {
				t.Errorf("%s imports %s; DESIGN.md §1 allows %s to import only %v", pkg, dep, pkg, rules)
			}
		}
	}
	if len(seen) < 10 || !seen["cmd/canvass"] {
		t.Fatalf("checked only %d packages (%v); is go list seeing the module?", len(seen), seen)
	}
}

// TestMediaImports: ivr/media, which every leg shares, stays on the
// standard library and pion/rtp (DESIGN.md §1), its tests included.
func TestMediaImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`, "../../ivr/media").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := strings.Fields(string(out))
	if !slices.Contains(imports, "github.com/pion/rtp") {
		t.Fatalf("go list found no pion/rtp import in ivr/media: %v", imports)
	}
	for _, imp := range imports {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") && imp != "github.com/pion/rtp" {
			t.Errorf("ivr/media imports %s; DESIGN.md §1 allows only the standard library and github.com/pion/rtp", imp)
		}
	}
}

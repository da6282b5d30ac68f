package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportRules enforces the import table of DESIGN.md §1: ivr, dialer,
// cati and sql never import each other; they meet through survey types and
// interfaces their consumers declare, wired here in cmd/canvass.
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
		"ivr/asterisk": {"ivr", "survey"},
		"ivr/ivrtest":  {"ivr", "survey"},
		"ivr/sipua":    {"ivr", "survey", "ivr/sipua/internal/media"},
		// Test helpers and adapter internals: leaves, or tied to their parent.
		"ivr/sipua/internal/media": {},
		"ivr/sipua/sipuatest":      {"ivr/sipua/internal/media"},
		"ivr/asterisk/aritest":     {},
		"dialer":                   {"survey"},
		"cati":                     {"survey"},
		"config":                   {"survey", "prompts", "sql", "ivr", "ivr/asterisk", "ivr/sipua", "dialer", "cati"},
	}
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], mod)
		if !ok || strings.HasPrefix(pkg, "cmd/") {
			continue
		}
		rules, known := allowed[pkg]
		if !known {
			t.Errorf("package %s is not in the import table of DESIGN.md §1; add it here", pkg)
			continue
		}
		seen++
		for _, imp := range fields[1:] {
			dep, ours := strings.CutPrefix(imp, mod)
			if ours && !slices.Contains(rules, dep) {
				t.Errorf("%s imports %s; DESIGN.md §1 allows %s to import only %v", pkg, dep, pkg, rules)
			}
		}
	}
	if seen < 6 {
		t.Fatalf("checked only %d packages; is go list seeing the module?", seen)
	}
}

package kamailio

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestConfigChecks: Kamailio itself accepts the generated configuration
// (kamailio -c parses it and loads every module).
func TestConfigChecks(t *testing.T) {
	bin, err := Binary()
	if err != nil {
		t.Skip(err) // make test installs it
	}
	dir := t.TempDir()
	o := Options{Listen: "127.0.0.1:5080", Nodes: []string{"127.0.0.1:5090", "127.0.0.1:5091"},
		Probe: time.Second, Failover: 500 * time.Millisecond, Dir: dir, ControlSocket: filepath.Join(dir, "ctl")}
	cfg, err := o.Config()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "kamailio.cfg")
	if err := os.WriteFile(file, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(o.ListFile(), o.DispatcherList(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("kamailio -c: %v\n%s\nconfig:\n%s", err, out, cfg)
	}
}

func TestValidate(t *testing.T) {
	o := DefaultOptions()
	if o.Validate() == nil {
		t.Error("no nodes: want an error")
	}
	o.Nodes = []string{"10.0.0.2:5060"}
	if err := o.Validate(); err != nil {
		t.Error(err)
	}
	o.Probe = 1500 * time.Millisecond
	o.Nodes = []string{"node1"}
	if o.Validate() == nil {
		t.Error("fractional probe and a node with no port: want errors")
	}
}

func TestParseList(t *testing.T) {
	out := `{
	NRSETS: 1
	RECORDS: {
		SET: {
			ID: 1
			TARGETS: {
				DEST: {
					URI: sip:127.0.0.1:5090
					FLAGS: AP
					PRIORITY: 0
				}
				DEST: {
					URI: sip:127.0.0.1:5091
					FLAGS: IP
					PRIORITY: 0
				}
			}
		}
	}
}`
	got := parseList(out)
	if len(got) != 2 || !got["127.0.0.1:5090"] || got["127.0.0.1:5091"] {
		t.Errorf("parseList = %v, want 5090 up and 5091 down", got)
	}
}

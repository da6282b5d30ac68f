package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/ivr/kamailio"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

// TestCluster: Kamailio in front of three canvass nodes, each its own OS
// process (the built binary), sharing one PostgreSQL. Calls spread over the
// nodes; one node is killed with SIGKILL while calls are up on it; new
// calls are answered by the survivors within 5 s (Kamailio fails an
// unanswered INVITE over at once and marks the node down); the dead node's
// interviews are closed as lost by the survivors' sweep with every answer
// it had stored; and the survivors report the same counts, those of the
// database.
func TestCluster(t *testing.T) {
	if _, err := kamailio.Binary(); err != nil {
		if os.Getenv("CANVASS_REQUIRE_KAMAILIO") != "" {
			t.Fatalf("%v; make test installs it", err)
		}
		t.Skipf("%v: apt-get install kamailio, or run make test", err)
	}
	if testing.Short() {
		t.Skip("builds the binary and runs three nodes")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dir, exe, dbURL, db := clusterBase(ctx, t)
	token, hash, err := cati.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateToken(ctx, "test", survey.RoleAdmin, hash); err != nil {
		t.Fatal(err)
	}

	// Three nodes; a node silent for 2 s is dead, and each looks for
	// lost interviews every 300 ms.
	const nodeCount = 3
	nodes := make([]*spawned, nodeCount)
	var starting sync.WaitGroup
	errs := make([]error, nodeCount)
	for i := range nodes {
		starting.Go(func() {
			env := clusterNodeEnv(dbURL, "127.0.0.1:0", "127.0.0.1:0", "CANVASS_IVR_NODE_TIMEOUT=2s",
				"CANVASS_IVR_LOST_SWEEP=300ms", "CANVASS_SIP_RTP_PORTS=0", "CANVASS_WEBRTC_LISTEN=127.0.0.1:0")
			nodes[i], errs[i] = startClusterNode(ctx, exe, filepath.Join(dir, fmt.Sprintf("node%d", i+1)), env, io.Discard)
		})
	}
	starting.Wait()
	stopNodesAtCleanup(t, nodes)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.sipAddr)
	}

	klog, err := os.Create(filepath.Join(dir, "kamailio.log"))
	if err != nil {
		t.Fatal(err)
	}
	// Kamailio cannot report a port the system picked: it gets one found
	// free, and another if something took that one meanwhile.
	var k *kamailio.Process
	var front string
	for try := 0; k == nil; try++ {
		if front, err = freePort("127.0.0.1"); err == nil {
			k, err = kamailio.Start(ctx, kamailio.Options{Listen: front, Nodes: addrs, Probe: time.Second,
				Failover: time.Second, Dir: filepath.Join(dir, "kamailio"), Children: 2}, klog)
		}
		if err != nil && try == 2 {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		k.Stop()
		if t.Failed() {
			if b, err := os.ReadFile(klog.Name()); err == nil {
				t.Logf("Kamailio's log (last 4000 bytes):\n%s", tail(b, 4000))
			}
		}
	})
	waitDispatcher(ctx, t, k, addrs, nil)

	phone, err := sipuatest.NewPhone(sipuatest.PhoneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phone.Close() })
	target := "sip:post-call@" + front

	// 1. Calls spread: six whole interviews, typed ahead, two per node.
	var wg sync.WaitGroup
	callErrs := make([]error, 6)
	for i := range callErrs {
		wg.Go(func() { callErrs[i] = completeCall(ctx, phone, target) })
	}
	wg.Wait()
	if err := errors.Join(callErrs...); err != nil {
		t.Fatal(err)
	}
	perNode := interviewsPerNode(ctx, t, db)
	if len(perNode) != nodeCount {
		t.Fatalf("interviews per node %v: want the six calls spread over all %d nodes", perNode, nodeCount)
	}

	// 2. Calls up on every node, each with its first answer stored; then
	// node 1 is killed.
	var held []*sipuatest.Call
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range nodeCount * 2 {
		c, err := partialCall(ctx, phone, target)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	waitFor(ctx, t, "the first answer of each call held up stored", func() (bool, error) {
		var n int
		err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM interview i WHERE status = 'in_progress'
			AND EXISTS (SELECT 1 FROM answer a WHERE a.interview_id = i.id)`).Scan(&n)
		return n == len(held), err
	})
	deadID := nodeOf(ctx, t, db, nodes[0].sipAddr)
	if err := nodes[0].cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	<-nodes[0].exited
	killed := time.Now()
	// What the dead node had stored, now that it can store no more.
	before := answersOfNode(ctx, t, db, deadID)
	if len(before) == 0 {
		t.Fatal("no interview in progress on the killed node")
	}

	// 3. New calls right after the kill, at once: every one answered
	// within 5 s, by a survivor, while the dead node's calls are still up
	// (round robin sends some to the dead node first: they fail over).
	after := make([]error, 6)
	for i := range after {
		wg.Go(func() { after[i] = completeCall(ctx, phone, target) })
	}

	// 4. Meanwhile, the dead node's interviews: closed as lost by a
	// survivor, every answer kept.
	waitFor(ctx, t, "the dead node's interviews closed", func() (bool, error) {
		var open int
		err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM interview WHERE node_id = $1 AND status = 'in_progress'`, deadID).Scan(&open)
		return open == 0, err
	})
	t.Logf("the dead node's interviews closed %s after the kill", time.Since(killed).Round(time.Millisecond))
	wg.Wait()
	for i, err := range after {
		if err != nil {
			t.Errorf("call %d after the kill: %v", i+1, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	var slow int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM interview WHERE started_at > $1 AND (node_id = $2 OR status <> 'complete')`,
		killed, deadID).Scan(&slow); err != nil || slow != 0 {
		t.Fatalf("%d interviews after the kill on the dead node or not complete (%v)", slow, err)
	}
	waitDispatcher(ctx, t, k, addrs[1:], addrs[:1])
	if kept := answersOfNode(ctx, t, db, deadID); !reflect.DeepEqual(before, kept) {
		t.Errorf("answers of the dead node's interviews: %v before the sweep, %v after", before, kept)
	}
	rows, err := db.Pool().Query(ctx, `SELECT id, status, end_cause FROM interview WHERE node_id = $1 AND id = ANY($2)`, deadID, keys(before))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var status, cause string
		if err := rows.Scan(&id, &status, &cause); err != nil {
			t.Fatal(err)
		}
		if cause != "lost" || status == "complete" {
			t.Errorf("interview %d of the dead node: %s, cause %q; want partial or break-off, cause lost", id, status, cause)
		}
	}
	rows.Close()

	// The survivors' calls end; then both report the same, the database's
	// count.
	for _, c := range held {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		select {
		case <-c.Done():
		default:
			c.Hangup(hctx) // the dead node's calls get no answer to their BYE
		}
		cancel()
	}
	waitFor(ctx, t, "every interview closed", func() (bool, error) {
		var open int
		err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM interview WHERE status = 'in_progress'`).Scan(&open)
		return open == 0, err
	})
	var total int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM interview`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	reports := make([]map[string]any, 0, 2)
	for _, n := range nodes[1:] {
		reports = append(reports, report(ctx, t, n.httpAddr, token))
	}
	for _, part := range []string{"total", "groups"} { // from and to are each node's now
		if !reflect.DeepEqual(reports[0][part], reports[1][part]) {
			t.Errorf("the survivors' reports differ in %s:\n%v\n%v", part, reports[0][part], reports[1][part])
		}
	}
	sum, _ := reports[0]["total"].(map[string]any)
	if got := fmt.Sprint(sum["started"]); got != fmt.Sprint(total) {
		t.Errorf("the report counts %s interviews started, the database holds %d: %v", got, total, sum)
	}
	if got := fmt.Sprint(sum["in_progress"]); got != "0" {
		t.Errorf("the report counts %s interviews in progress, want 0: %v", got, sum)
	}
}

// completeCall answers the whole post-call survey, typing every key
// during the first prompt (kept as type-ahead), and waits for the node to
// hang up after the thanks.
func completeCall(ctx context.Context, phone *sipuatest.Phone, target string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	c, err := phone.Dial(ctx, target, sipuatest.DialOptions{Headers: dialHeaders(target)})
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	if setup := time.Since(start); setup > 5*time.Second {
		return fmt.Errorf("answered %s after the INVITE, past 5 s", setup)
	}
	if _, err := c.WaitPrompt(ctx, time.Time{}); err != nil {
		return fmt.Errorf("first prompt: %w", err)
	}
	for _, a := range respondent {
		if err := c.SendKeys(ctx, a.keys, 0); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
	}
	select {
	case <-c.Done():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("no hang-up after the survey: %w", ctx.Err())
	}
}

// partialCall answers the first question only and keeps the call up.
func partialCall(ctx context.Context, phone *sipuatest.Phone, target string) (*sipuatest.Call, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := phone.Dial(ctx, target, sipuatest.DialOptions{Headers: dialHeaders(target)})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if _, err := c.WaitPrompt(ctx, time.Time{}); err != nil {
		c.Close()
		return nil, fmt.Errorf("first prompt: %w", err)
	}
	if err := c.SendKeys(ctx, respondent[0].keys, 0); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// waitDispatcher waits until Kamailio uses the nodes up and not down.
func waitDispatcher(ctx context.Context, t *testing.T, k *kamailio.Process, up, down []string) {
	t.Helper()
	waitFor(ctx, t, fmt.Sprintf("Kamailio to use %v and not %v", up, down), func() (bool, error) {
		d, err := k.Destinations(ctx)
		if err != nil {
			return false, err
		}
		for _, a := range up {
			if !d[a] {
				return false, nil
			}
		}
		for _, a := range down {
			if d[a] {
				return false, nil
			}
		}
		return true, nil
	})
}

// waitFor polls cond until it holds; a persistent error or the end of ctx
// fails t.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	var last error
	for {
		ok, err := cond()
		if ok && err == nil {
			return
		}
		last = err
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last error: %v)", what, ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// interviewsPerNode counts the interviews by the SIP address of their node.
func interviewsPerNode(ctx context.Context, t *testing.T, db *sql.DB) map[string]int {
	t.Helper()
	rows, err := db.Pool().Query(ctx, `SELECT n.name, count(*) FROM interview i JOIN node n ON n.id = i.node_id GROUP BY n.name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		out[name] = n
	}
	return out
}

// nodeOf is the node id of the process whose SIP address is addr.
func nodeOf(ctx context.Context, t *testing.T, db *sql.DB, addr string) int64 {
	t.Helper()
	var id int64
	if err := db.Pool().QueryRow(ctx, `SELECT id FROM node WHERE name LIKE '%sip ' || $1`, addr).Scan(&id); err != nil {
		t.Fatalf("node of %s: %v", addr, err)
	}
	return id
}

// answersOfNode is each in-progress-or-lost interview of node id with its
// stored answers (question=value).
func answersOfNode(ctx context.Context, t *testing.T, db *sql.DB, id int64) map[int64][]string {
	t.Helper()
	rows, err := db.Pool().Query(ctx, `SELECT i.id, a.question_id || '=' || a.value::text FROM interview i
		JOIN answer a ON a.interview_id = i.id WHERE i.node_id = $1 AND (i.status = 'in_progress' OR i.end_cause = 'lost')
		ORDER BY i.id, a.question_id`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64][]string{}
	for rows.Next() {
		var iv int64
		var a string
		if err := rows.Scan(&iv, &a); err != nil {
			t.Fatal(err)
		}
		out[iv] = append(out[iv], a)
	}
	return out
}

func keys(m map[int64][]string) []int64 {
	var out []int64
	for k := range m {
		out = append(out, k)
	}
	return out
}

// report is a node's post-call report over the API.
func report(ctx context.Context, t *testing.T, addr, token string) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/api/v1/questionnaires/post-call/report", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("report from %s: %d, %v", addr, res.StatusCode, err)
	}
	return out
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.ToValidUTF8(string(b), "?")
}

// clusterBase builds canvass into a temporary directory (dir, exe) and
// gives a migrated database with the examples (dbURL, db, closed when the
// test ends), for the tests that run node processes.
func clusterBase(ctx context.Context, t *testing.T) (dir, exe, dbURL string, db *sql.DB) {
	t.Helper()
	dir = t.TempDir()
	exe = filepath.Join(dir, "canvass")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dbURL = sqltest.EmptyURL(t)
	db, err := sql.Open(ctx, dbURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := loadExamples(ctx, db); err != nil {
		t.Fatal(err)
	}
	return dir, exe, dbURL, db
}

// stopNodesAtCleanup kills the started nodes when the test ends, and logs
// the tail of each one's log when it failed.
func stopNodesAtCleanup(t *testing.T, nodes []*spawned) {
	t.Cleanup(func() {
		for _, n := range nodes {
			if n != nil {
				n.cmd.Process.Kill()
				<-n.exited
			}
		}
		if t.Failed() {
			for _, n := range nodes {
				if n != nil {
					if b, err := os.ReadFile(n.logPath); err == nil {
						t.Logf("log of node %s (last 3000 bytes):\n%s", n.sipAddr, tail(b, 3000))
					}
				}
			}
		}
	})
}

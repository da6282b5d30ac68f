package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/canvass/canvass/ivr/sipua/sipuatest"
	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// TestClusterDialer: three canvass nodes, each its own OS process, dial one
// keypad campaign from one PostgreSQL through one trunk: a test phone that
// answers every number and takes the survey. Each node has calls up when
// node 1 is killed with SIGKILL. The survivors take its claims over: its
// calls in flight are settled as lost with it and dialed again later, its
// interviews closed as lost with their answers. The phone counts every
// INVITE by number: no number rings twice at once, every INVITE is an
// attempt the database holds as placed, a number is dialed again only
// after an attempt settled as lost with its node, and every case ends
// complete, once.
func TestClusterDialer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three nodes")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	dir, exe, dbURL, db := clusterBase(ctx, t)

	// The campaign: 24 numbers, three lines a node, dialed all day.
	const cases = 24
	var ws []survey.Window
	for d := range 7 {
		ws = append(ws, survey.Window{Dow: d, Opens: 0, Closes: 24 * 60})
	}
	camp, err := db.CreateCampaign(ctx, survey.Campaign{Name: "outbound", Questionnaire: "post-call", Mode: survey.CampaignIVR,
		Status: survey.CampaignRunning, MaxAttempts: 3, Windows: ws,
		Settings: []byte(`{"dialing": {"calls_per_second": 10, "max_lines": 3, "ring_seconds": 120}}`)}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]survey.SampleRow, cases)
	for i := range rows {
		rows[i] = survey.SampleRow{Line: i + 2, Phone: fmt.Sprintf("+1202555%04d", i), TZ: "UTC", Language: "en", Attrs: map[string]string{}}
	}
	if n, _, err := db.ImportSample(ctx, camp, rows, "admin"); err != nil || n != cases {
		t.Fatalf("sample: %d imported, %v", n, err)
	}

	// The trunk. Until release is closed, it lets each call ring; then it
	// gives up on the calls of the dead node and answers the others, and
	// every call after, taking the whole survey.
	var (
		mu       sync.Mutex
		invites  = map[string]int{} // by number
		up       = map[string]int{} // calls up, by number
		twice    []string           // numbers that rang while already up
		ringing  = map[int]int{}    // calls ringing now, by node SIP port
		answered = map[int]bool{}   // a call of the node is answered and held
		holding  = map[int]int{}    // calls answered and held now, by node SIP port
		release  = make(chan struct{})
		deadPort int
		handlers sync.WaitGroup
	)
	phone, err := sipuatest.NewPhone(sipuatest.PhoneOptions{OnInvite: func(in *sipuatest.Incoming) {
		handlers.Add(1)
		defer handlers.Done()
		number := in.Req.Recipient.User
		port := 0
		if c := in.Req.Contact(); c != nil {
			port = c.Address.Port
		}
		mu.Lock()
		invites[number]++
		if up[number]++; up[number] > 1 {
			twice = append(twice, number)
		}
		mu.Unlock()
		var once sync.Once
		down := func() { // the call is over for the phone
			once.Do(func() {
				mu.Lock()
				up[number]--
				mu.Unlock()
			})
		}
		defer down()
		if err := in.Ring(); err != nil {
			return
		}
		// The first call of each node is answered before the kill: its
		// first answer given, it is held until the kill.
		mu.Lock()
		hold := !answered[port]
		select {
		case <-release:
			hold = false
		default:
		}
		if hold {
			answered[port] = true
		}
		mu.Unlock()
		if hold {
			c, err := in.Answer(false)
			if err != nil {
				return
			}
			defer c.Close()
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if _, err := c.WaitPrompt(cctx, time.Time{}); err != nil {
				return
			}
			if err := c.SendKeys(cctx, respondent[0].keys, 0); err != nil {
				return
			}
			mu.Lock()
			holding[port]++
			mu.Unlock()
			select {
			case <-release:
			case <-c.Done():
			}
			mu.Lock()
			holding[port]--
			dead := port == deadPort
			mu.Unlock()
			if dead {
				// Silence since the kill: the respondent hangs up (no
				// answer comes to the BYE).
				down()
				hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				c.Hangup(hctx)
				cancel()
				return
			}
			for _, a := range respondent[1:] {
				if err := c.SendKeys(cctx, a.keys, 0); err != nil {
					return
				}
			}
			select {
			case <-c.Done():
			case <-cctx.Done():
			}
			return
		}
		select {
		case <-release:
		default: // ring until node 1 is killed
			mu.Lock()
			ringing[port]++
			mu.Unlock()
			select {
			case <-release:
			case <-in.Cancelled():
			}
			mu.Lock()
			ringing[port]--
			dead := port == deadPort
			mu.Unlock()
			if dead {
				// Nothing is left on the other end: the phone gives up
				// (and waits for an ACK that will not come).
				down()
				in.Reject(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable")
				return
			}
			select {
			case <-in.Cancelled():
				return
			default:
			}
		}
		c, err := in.Answer(false)
		if err != nil {
			return
		}
		defer c.Close()
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, err := c.WaitPrompt(cctx, time.Time{}); err != nil {
			return
		}
		for _, a := range respondent { // the whole survey typed ahead
			if err := c.SendKeys(cctx, a.keys, 0); err != nil {
				return
			}
		}
		select {
		case <-c.Done():
		case <-cctx.Done():
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		phone.Close()
		handlers.Wait()
	}()

	const nodeCount = 3
	start := time.Now()
	defer func() { t.Logf("took %s", time.Since(start).Round(time.Millisecond)) }()
	nodes := make([]*spawned, nodeCount)
	var starting sync.WaitGroup
	errs := make([]error, nodeCount)
	for i := range nodes {
		starting.Go(func() {
			ndir := filepath.Join(dir, fmt.Sprintf("node%d", i+1))
			if errs[i] = os.MkdirAll(ndir, 0o755); errs[i] != nil {
				return
			}
			cfg := filepath.Join(ndir, "canvass.yaml")
			errs[i] = os.WriteFile(cfg, fmt.Appendf(nil, "dialer:\n  node: node%d\n  tick: 100ms\n  retry_soon: 2s\n", i+1), 0o644)
			if errs[i] != nil {
				return
			}
			env := clusterNodeEnv(dbURL, "127.0.0.1:0", "127.0.0.1:0", "CANVASS_CONFIG="+cfg, "CANVASS_IVR_NODE_TIMEOUT=5s",
				"CANVASS_IVR_LOST_SWEEP=300ms", "CANVASS_SIP_RTP_PORTS=0", "CANVASS_WEBRTC_LISTEN=127.0.0.1:0",
				"CANVASS_SIP_TRUNK_URI=sip:"+phone.Addr().String())
			nodes[i], errs[i] = startClusterNode(ctx, exe, ndir, env, io.Discard)
		})
	}
	starting.Wait()
	stopNodesAtCleanup(t, nodes)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	ports := make([]int, nodeCount)
	for i, n := range nodes {
		_, p, err := splitHostPort(n.sipAddr)
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = p
	}

	// 1. Calls up on every node: one answered, with its first answer
	// given, and two ringing.
	waitFor(ctx, t, "a call answered and two ringing on every node", func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range ports {
			if ringing[p] < 2 || holding[p] < 1 {
				return false, nil
			}
		}
		return true, nil
	})
	deadID := nodeOf(ctx, t, db, nodes[0].sipAddr)
	mu.Lock()
	held := ringing[ports[0]] + holding[ports[0]]
	t.Logf("%s: calls ringing by node: %v, answered: %v (node SIP ports %v)", time.Since(start).Round(time.Millisecond), ringing, holding, ports)
	mu.Unlock()
	waitFor(ctx, t, "the first answer of node 1's answered call stored", func() (bool, error) {
		var n int
		err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM interview i WHERE i.node_id = $1 AND i.status = 'in_progress'
			AND EXISTS (SELECT 1 FROM answer a WHERE a.interview_id = i.id)`, deadID).Scan(&n)
		return n >= 1, err
	})

	// 2. Node 1 dies with its calls up; the phone lets go.
	if err := nodes[0].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-nodes[0].exited
	killed := time.Now()
	mu.Lock()
	deadPort = ports[0]
	mu.Unlock()
	close(release)
	before := answersOfNode(ctx, t, db, deadID)

	// 3. Every case ends complete, the dead node's included.
	wctx, wcancel := context.WithTimeout(ctx, 150*time.Second)
	defer wcancel()
	for {
		var open int
		if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM survey_case WHERE campaign_id = $1 AND status <> 'closed'`, camp).Scan(&open); err != nil {
			t.Fatal(err)
		}
		if open == 0 {
			break
		}
		if wctx.Err() != nil {
			rows, err := db.Pool().Query(ctx, `SELECT sc.id, sc.status, sc.attempts, sc.next_attempt_at, coalesce(sc.dialer_node_id, 0),
				coalesce(string_agg(a.id || ':' || coalesce(a.disposition, '-') || ':' || (a.dialed_at IS NOT NULL) || ':' || (a.ended_at IS NOT NULL) || ':' || a.note, ' | '), '')
				FROM survey_case sc LEFT JOIN attempt a ON a.case_id = sc.id WHERE sc.campaign_id = $1 AND sc.status <> 'closed'
				GROUP BY sc.id ORDER BY sc.id`, camp)
			if err == nil {
				for rows.Next() {
					var id, attempts, node int64
					var status, hist string
					var next time.Time
					if rows.Scan(&id, &status, &attempts, &next, &node, &hist) == nil {
						t.Logf("case %d %s, %d attempts, due %s, node %d: %s", id, status, attempts, next.Format(time.TimeOnly), node, hist)
					}
				}
				rows.Close()
			}
			t.Fatalf("%d cases not closed %s after the kill", open, time.Since(killed).Round(time.Second))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("every case closed %s after the kill", time.Since(killed).Round(time.Millisecond))

	mu.Lock()
	defer mu.Unlock()
	if len(twice) > 0 {
		t.Errorf("numbers rung while a call to them was up: %v", twice)
	}
	type caseRow struct {
		phone            string
		final            string
		placed, lost     int
		completes        int
		deadNodeAttempts int
	}
	rs, err := db.Pool().Query(ctx, `SELECT ct.phone_e164, coalesce(sc.final_disposition, ''),
			(SELECT count(*) FROM attempt a WHERE a.case_id = sc.id AND a.dialed_at IS NOT NULL),
			(SELECT count(*) FROM attempt a WHERE a.case_id = sc.id AND a.note = $2),
			(SELECT count(*) FROM interview i WHERE i.case_id = sc.id AND i.status = 'complete'),
			(SELECT count(*) FROM attempt a WHERE a.case_id = sc.id AND a.ended_at IS NULL)
		FROM survey_case sc JOIN contact ct ON ct.id = sc.contact_id WHERE sc.campaign_id = $1`, camp, sql.NoteNodeLost)
	if err != nil {
		t.Fatal(err)
	}
	var all []caseRow
	for rs.Next() {
		var r caseRow
		if err := rs.Scan(&r.phone, &r.final, &r.placed, &r.lost, &r.completes, &r.deadNodeAttempts); err != nil {
			t.Fatal(err)
		}
		all = append(all, r)
	}
	rs.Close()
	if len(all) != cases {
		t.Fatalf("%d cases, want %d", len(all), cases)
	}
	lostTotal, redialed := 0, 0
	for _, r := range all {
		number := r.phone
		n := invites[number]
		switch {
		case r.final != "1.1" || r.completes != 1:
			t.Errorf("%s: final %q with %d complete interviews; want 1.1 once", r.phone, r.final, r.completes)
		case n > r.placed || n < r.placed-r.lost:
			t.Errorf("%s: the phone got %d INVITEs, the database holds %d attempts placed (%d lost with their node)", r.phone, n, r.placed, r.lost)
		case n > 1+r.lost:
			t.Errorf("%s dialed %d times with %d attempts lost with their node: dialed twice for one claim", r.phone, n, r.lost)
		case r.deadNodeAttempts != 0:
			t.Errorf("%s: %d attempts still open", r.phone, r.deadNodeAttempts)
		}
		lostTotal += r.lost
		if n > 1 {
			redialed++
		}
	}
	if lostTotal < held {
		t.Errorf("%d attempts settled as lost with their node; node 1 had %d calls up when it was killed", lostTotal, held)
	}
	t.Logf("node 1 had %d calls up when killed; %d attempts settled as lost with it; %d numbers dialed again after that; %d INVITEs in all",
		held, lostTotal, redialed, sumValues(invites))

	// The dead node's interview, kept in progress for the call back as
	// after a hang-up: resumed by a survivor's call back, complete, its
	// answer kept.
	if len(before) == 0 {
		t.Error("no answer stored on the dead node at the kill")
	}
	for id, answers := range before {
		var status string
		var node int64
		var kept []string
		if err := db.Pool().QueryRow(ctx, `SELECT i.status, coalesce(i.node_id, 0), array(SELECT a.question_id || '=' || a.value::text FROM answer a
				WHERE a.interview_id = i.id ORDER BY a.question_id) FROM interview i WHERE i.id = $1`, id).Scan(&status, &node, &kept); err != nil {
			t.Fatal(err)
		}
		for _, a := range answers {
			if !slices.Contains(kept, a) {
				t.Errorf("interview %d of the dead node: answer %s lost (now %v)", id, a, kept)
			}
		}
		if status != "complete" || node == deadID {
			t.Errorf("interview %d of the dead node: %s on node %d; want complete, resumed on a survivor", id, status, node)
		}
	}
	var claimed int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM survey_case WHERE status = 'claimed' AND dialer_node_id = $1`, deadID).Scan(&claimed); err != nil || claimed != 0 {
		t.Errorf("%d cases still claimed by the dead node (%v)", claimed, err)
	}
}

func splitHostPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	return host, p, err
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

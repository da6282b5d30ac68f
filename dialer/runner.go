package dialer

// This file is the runner: the loop that dials keypad (IVR) campaigns. At
// each tick it plans every running keypad campaign (Plan with its token
// bucket, its lines up and its completes), claims that many due cases from
// the Store — the calling window, the do-not-call lists, the attempts and
// the retry delay are checked in the claiming statement — and places each
// call through the Originator, which runs the questionnaire on the answered
// ones. When a call ends, Decide settles its case in the transaction that
// records what the network said. When the runner is a registered node
// (SetNode), its claims carry the node's id and it takes over the claims
// of nodes whose heartbeat went silent (takeover.go); claims made without
// a node are given back when a runner of the same name starts.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/canvass/canvass/survey"
)

// Store is what the runner needs of the database; *sql.DB is one.
type Store interface {
	Campaigns(ctx context.Context) ([]survey.Campaign, error)
	// ClaimNodeDials claims up to n due cases of a keypad or predictive
	// campaign for owner, node node (0: none), and starts their attempts;
	// a node claims nothing while its own heartbeat is older than silent.
	ClaimNodeDials(ctx context.Context, id survey.CampaignID, owner string, node survey.NodeID, silent time.Duration, n int, now time.Time) ([]survey.DialJob, error)
	// MarkDialing records that the job's call is placed now; a
	// survey.EConflict error when another node took the claim over: the
	// call must not be placed.
	MarkDialing(ctx context.Context, job survey.DialJob, now time.Time) error
	// TakeOverDials settles the placed calls and gives back the undialed
	// claims of the nodes silent for silent, for node me.
	TakeOverDials(ctx context.Context, me survey.NodeID, silent time.Duration, decide func(survey.Case, survey.Status) (survey.Outcome, error), now time.Time) (settled, requeued int, err error)
	// SettleDial records f on the job's attempt and, if the case is still
	// the dialer's, applies the outcome decide makes of it, in one
	// transaction.
	SettleDial(ctx context.Context, job survey.DialJob, f survey.CallFacts, decide func(survey.Case) (survey.Outcome, error), now time.Time) (survey.Outcome, error)
	// ReleaseDials gives back the cases owner claimed and never settled.
	ReleaseDials(ctx context.Context, owner string, now time.Time) (int, error)
	// PredictStats is a campaign's recent dials, for predictive pacing;
	// LiveCalls its calls a person answered since a time, for the
	// abandonment ledger.
	PredictStats(ctx context.Context, id survey.CampaignID) (survey.DialStats, error)
	LiveCalls(ctx context.Context, id survey.CampaignID, since time.Time) ([]survey.LiveCall, error)
	// Questionnaire, QuotaFill and QuotaHolds serve the quota holds: a
	// campaign's questionnaire, its completes per cell, and setting each
	// open case's hold from its contact fields.
	Questionnaire(ctx context.Context, id string, version int) (survey.QuestionnaireVersion, error)
	QuotaFill(ctx context.Context, id survey.CampaignID) (map[string]int, error)
	QuotaHolds(ctx context.Context, id survey.CampaignID, hold func(contact map[string]string) string) (int, error)
	// DialStats is a campaign's completes and ended dials.
	DialStats(ctx context.Context, id survey.CampaignID) (completes, dials int, err error)
}

// Call is a keypad call for the Originator to place.
type Call struct {
	Job      survey.DialJob
	CallerID string        // the campaign's; "" is the adapter's
	Ring     time.Duration // how long it may ring
	// Keep leaves the interview in progress when the respondent hangs up
	// before the end, so the call back resumes it (ivr.CallInfo.Keep).
	Keep bool
	// AMD asks for answering-machine detection and says what a machine
	// gets; MachineMessage is what it is told (survey.AMDMessage).
	AMD            survey.AMDPolicy
	MachineMessage string
	// AgentKey is the campaign's mixed mode (survey.Dialing.AgentKey): a
	// respondent who presses it is handed to a free interviewer.
	AgentKey string
}

// Result is how a keypad call went.
type Result struct {
	Signal Signal
	Facts  survey.CallFacts
	// Status is how the interview ended: "" when none ran;
	// survey.StatusInProgress when it was kept for the call back.
	Status survey.Status
	// Handed: the respondent pressed the agent key and an interviewer
	// took the call; their wrap-up settles the case, not the dialer.
	Handed bool
}

// Originator places keypad calls and runs the questionnaire on the
// answered ones; cmd/canvass makes one of an ivr.Dialer (the embedded SIP
// endpoint or Asterisk) and the IVR engine. An error means the call could
// not be placed, or its survey failed; Result says what is known.
type Originator interface {
	Survey(ctx context.Context, c Call) (Result, error)
}

// Agents is the console's desk workflow as the dialer drives it; the
// console server (cati.Server) is one. Progressive campaigns and auto-dialed
// previews go through it: the call is the interviewer's from the start, on
// their browser phone, with the case on their screen.
type Agents interface {
	// Waiting lists the interviewers the dialer may place a call for.
	Waiting(ctx context.Context) ([]survey.AgentSlot, error)
	// Offer claims the next due case for an idle interviewer and dials
	// it; survey.ENotFound when none is due for them.
	Offer(ctx context.Context, id survey.UserID, name string) error
	// DialPreview dials the case on the interviewer's desk.
	DialPreview(ctx context.Context, id survey.UserID, name string, c survey.CaseID) error
	// DialPredictive places a predictive campaign's claimed call for
	// whoever is free when it is answered, or abandons it with the
	// campaign's message after survey.AbandonAfter; d is the campaign's
	// dialing (the messages, the AMD policy). It returns once the call is
	// handed, abandoned, taken for a machine or not answered.
	DialPredictive(ctx context.Context, job survey.DialJob, d survey.Dialing) (survey.PredictedCall, error)
}

// Options tune the runner.
type Options struct {
	// Via is the telephony keypad campaigns dial through: sip (the
	// embedded endpoint's trunk), ari (Asterisk), auto (sip when a trunk
	// is set, else ari) or off.
	Via string `yaml:"via"`
	// ARIDial is the Asterisk dial string, {number} replaced
	// ("PJSIP/{number}@trunk"), when Via is ari.
	ARIDial string `yaml:"ari_dial"`
	// Node names this dialer; its claims are "dialer:<node>". Two nodes
	// sharing a database need different names.
	Node string `yaml:"node"`
	// Tick is how often campaigns are planned.
	Tick time.Duration `yaml:"tick"`
	// RetrySoon is the delay after a network fault (the cause table's
	// "soon"); 0 is DefaultSoon.
	RetrySoon time.Duration `yaml:"retry_soon"`
	// TrunkLines caps the calls the dialer carries at once through its
	// trunk, all campaigns together (keypad calls up, predictive lines
	// ringing); 0: only each campaign's own cap. TrunkCallsPerSecond caps
	// the new calls a second, all campaigns together; 0: no trunk-wide
	// rate.
	TrunkLines          int     `yaml:"trunk_lines"`
	TrunkCallsPerSecond float64 `yaml:"trunk_calls_per_second"`
}

// DefaultOptions are a runner on this host.
func DefaultOptions() Options {
	return Options{Via: "auto", ARIDial: "PJSIP/{number}@trunk", Node: "canvass", Tick: 200 * time.Millisecond}
}

// Validate names every bad option.
func (o Options) Validate() error {
	var errs []error
	switch o.Via {
	case "auto", "sip", "ari", "off":
	default:
		errs = append(errs, fmt.Errorf("dialer.via: %q must be auto, sip, ari or off", o.Via))
	}
	if o.Via == "ari" && !strings.Contains(o.ARIDial, "{number}") {
		errs = append(errs, errors.New("dialer.ari_dial: give the Asterisk dial string with {number}, e.g. PJSIP/{number}@trunk"))
	}
	if o.Node == "" || len(o.Node) > 60 {
		errs = append(errs, errors.New("dialer.node: name this dialer node (1 to 60 characters)"))
	}
	if o.Tick < 10*time.Millisecond || o.Tick > 10*time.Second {
		errs = append(errs, fmt.Errorf("dialer.tick: %s must be between 10ms and 10s", o.Tick))
	}
	if o.TrunkLines < 0 || o.TrunkLines > 100000 {
		errs = append(errs, fmt.Errorf("dialer.trunk_lines: %d must be between 0 (no trunk-wide cap) and 100000", o.TrunkLines))
	}
	if !(o.TrunkCallsPerSecond >= 0 && o.TrunkCallsPerSecond <= 1000) {
		errs = append(errs, fmt.Errorf("dialer.trunk_calls_per_second: %g must be between 0 (no trunk-wide rate) and 1000", o.TrunkCallsPerSecond))
	}
	if o.RetrySoon < 0 || o.RetrySoon > 24*time.Hour {
		errs = append(errs, fmt.Errorf("dialer.retry_soon: %s must be between 0 (5m) and 24h", o.RetrySoon))
	}
	return errors.Join(errs...)
}

// Runner dials keypad campaigns. Run it once per node.
type Runner struct {
	store Store
	orig  Originator
	opts  Options
	node  Node // nil: claims with no node
	now   func() time.Time
	log   *slog.Logger

	agents Agents
	pred   map[survey.CampaignID]*predictiveRun
	cati   map[survey.CampaignID]survey.Campaign // running predictive campaigns
	// running are every running campaign, for the quota holds; full the
	// cells found full at the last pass, by campaign.
	running []survey.Campaign
	byID    map[survey.CampaignID]survey.Campaign // every campaign, for the takeover
	full    map[survey.CampaignID]string
	parsed  *survey.Parsed
	// idleUntil holds back offers to an interviewer for whom nothing was
	// due, so an empty queue is not asked again at every tick.
	idleUntil map[survey.UserID]time.Time

	// hangups end the calls up (by attempt) when the node is fenced;
	// fenced says it is.
	hangups map[survey.AttemptID]context.CancelFunc
	fenced  bool

	mu    sync.Mutex
	camps map[survey.CampaignID]*campaign
	trunk *Bucket // Options.TrunkCallsPerSecond; nil: none
	calls sync.WaitGroup
}

// trunkRoom is how many more calls the trunk takes now, at most want: the
// trunk-wide cap less the calls up, and the trunk-wide tokens. r.mu is
// held.
func (r *Runner) trunkRoom(now time.Time, want int) int {
	room := want
	if r.opts.TrunkLines > 0 {
		up := 0
		for _, k := range r.camps {
			up += k.up
		}
		for _, p := range r.pred {
			up += p.ringing
		}
		room = min(room, max(r.opts.TrunkLines-up, 0))
	}
	if r.trunk != nil {
		room = min(room, r.trunk.Available(now))
	}
	return room
}

// tookTrunk takes n calls' tokens from the trunk-wide rate. r.mu is held.
func (r *Runner) tookTrunk(now time.Time, n int) {
	if r.trunk != nil {
		r.trunk.Take(now, n)
	}
}

// nothingDueWait is how long an interviewer with nothing due waits before
// the dialer looks for a case for them again.
const nothingDueWait = 2 * time.Second

// SetAgents gives the runner the console's interviewers: progressive
// campaigns and auto-dialed previews are dialed for them. Call it before
// Run.
func (r *Runner) SetAgents(a Agents) { r.agents = a }

// campaign is what the runner keeps of one keypad campaign.
type campaign struct {
	c         survey.Campaign
	dialing   survey.Dialing
	bucket    *Bucket
	up        int // calls placed and not yet settled
	completes int
	dials     int
	statsAt   time.Time
	running   bool
	// dryUntil holds back claims after one that found fewer cases than
	// asked (it read every due case: the next one would too).
	dryUntil time.Time
}

// dryWait is how long a campaign whose claim came back short waits before
// the next.
const dryWait = time.Second

// NewRunner returns a runner; now nil is time.Now. With a nil orig, keypad
// campaigns are not dialed.
func NewRunner(store Store, orig Originator, o Options, now func() time.Time, log *slog.Logger) *Runner {
	if now == nil {
		now = time.Now
	}
	r := &Runner{store: store, orig: orig, opts: o, now: now, log: log, camps: map[survey.CampaignID]*campaign{},
		idleUntil: map[survey.UserID]time.Time{}, pred: map[survey.CampaignID]*predictiveRun{},
		full: map[survey.CampaignID]string{}, parsed: &survey.Parsed{}, hangups: map[survey.AttemptID]context.CancelFunc{}}
	if o.TrunkCallsPerSecond > 0 {
		r.trunk = NewBucket(o.TrunkCallsPerSecond, max(1, int(math.Ceil(o.TrunkCallsPerSecond))), now())
	}
	return r
}

// owner is the runner's claim owner.
func (r *Runner) owner() string { return "dialer:" + r.opts.Node }

// campaignsEvery is how often the campaign list is read again.
const campaignsEvery = 2 * time.Second

// Run dials until ctx ends, then waits for the calls up to end (their
// interviews close with cause "shutdown", every answer kept) and returns.
func (r *Runner) Run(ctx context.Context) error {
	if n, err := r.store.ReleaseDials(ctx, r.owner(), r.now()); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		r.log.Error("give back the cases of calls this node had up when it stopped; they stay claimed until it starts again", "err", err)
	} else if n > 0 {
		r.log.Warn("gave back the cases of calls this node had up when it stopped", "attempts", n)
	}
	t := time.NewTicker(r.opts.Tick)
	defer t.Stop()
	var listed, held, tookOver time.Time
	for {
		now := r.now()
		if now.Sub(listed) >= campaignsEvery {
			if err := r.refresh(ctx, now); err != nil {
				r.log.Error("list campaigns", "err", err)
			} else {
				listed = now
			}
		}
		if r.node != nil && now.Sub(tookOver) >= r.node.NodeTimeout()/4 {
			r.takeOver(ctx)
			tookOver = now
		}
		if now.Sub(held) >= quotaEvery {
			r.holdQuotas(ctx)
			held = now
		}
		fenced := r.fence()
		if r.orig != nil && !fenced {
			r.step(ctx, now)
		}
		if r.agents != nil && !fenced {
			r.stepAgents(ctx, now)
		}
		select {
		case <-ctx.Done():
			r.calls.Wait()
			return nil
		case <-t.C:
		}
	}
}

// refresh reads the campaigns again: new keypad campaigns start, paused
// ones stop placing calls (their calls up run to the end).
func (r *Runner) refresh(ctx context.Context, now time.Time) error {
	cs, err := r.store.Campaigns(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range r.camps {
		k.running = false
	}
	r.cati = map[survey.CampaignID]survey.Campaign{}
	r.running = r.running[:0]
	r.byID = make(map[survey.CampaignID]survey.Campaign, len(cs))
	for _, c := range cs {
		r.byID[c.ID] = c
		if c.Status == survey.CampaignRunning {
			r.running = append(r.running, c)
		}
		if c.Mode == survey.CampaignCATI && c.Status == survey.CampaignRunning {
			if st, err := c.DecodeSettings(); err == nil && st.Dialing.Mode == survey.DialPredictive {
				r.cati[c.ID] = c
			}
			continue
		}
		if c.Mode != survey.CampaignIVR || c.Status != survey.CampaignRunning {
			continue
		}
		st, err := c.DecodeSettings()
		if err != nil {
			r.log.Error("campaign settings; not dialing it", "campaign", c.Name, "err", err)
			continue
		}
		cps, _ := st.Dialing.Pace()
		k := r.camps[c.ID]
		if k == nil {
			k = &campaign{}
			r.camps[c.ID] = k
		}
		if k.bucket == nil || k.dialing.CallsPerSecond != st.Dialing.CallsPerSecond {
			k.bucket = NewBucket(cps, max(1, int(cps)), now)
		}
		k.c, k.dialing, k.running = c, st.Dialing, true
	}
	for id, k := range r.camps {
		if !k.running && k.up == 0 {
			delete(r.camps, id)
		}
	}
	return nil
}

// statsEvery is how often a campaign's completes are read again; between
// reads the runner counts its own.
const statsEvery = 10 * time.Second

// step plans each keypad campaign and places its calls.
func (r *Runner) step(ctx context.Context, now time.Time) {
	r.mu.Lock()
	var ks []*campaign
	for _, k := range r.camps {
		if k.running {
			ks = append(ks, k)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(ks, func(a, b *campaign) int { return int(a.c.ID - b.c.ID) })
	for _, k := range ks {
		if ctx.Err() != nil {
			return
		}
		if now.Before(k.dryUntil) {
			continue
		}
		if now.Sub(k.statsAt) >= statsEvery {
			completes, dials, err := r.store.DialStats(ctx, k.c.ID)
			if err != nil {
				r.log.Error("campaign stats", "campaign", k.c.Name, "err", err)
			} else {
				r.mu.Lock()
				k.completes, k.dials, k.statsAt = completes, dials, now
				r.mu.Unlock()
			}
		}
		r.mu.Lock()
		_, maxLines := k.dialing.Pace()
		kp := Keypad{Connected: k.up, Tokens: k.bucket.Available(now), NextToken: k.bucket.Next(now),
			Completes: k.completes, Target: k.dialing.TargetCompletes}
		if k.dials > 0 {
			kp.CompleteRate = float64(k.completes) / float64(k.dials)
		}
		plan := Plan(now, State{Mode: ModeIVR, Cap: maxLines, TrunkRoom: r.trunkRoom(now, maxLines), Keypad: kp})
		r.mu.Unlock()
		if plan.Calls == 0 {
			continue
		}
		n := r.claim(ctx, k.c, plan.Calls, now, &k.up, &k.dryUntil, r.placeKeypad(k))
		r.mu.Lock()
		k.bucket.Take(now, n)
		r.tookTrunk(now, n)
		r.mu.Unlock()
	}
}

// claim claims up to n due cases of campaign c and places each on its own
// goroutine with place; up counts the calls placed (under mu), and a claim
// that comes back short rests the campaign until dry. It returns how many
// it claimed.
func (r *Runner) claim(ctx context.Context, c survey.Campaign, n int, now time.Time, up *int, dry *time.Time, place func(context.Context, survey.DialJob)) int {
	var (
		node   survey.NodeID
		silent time.Duration
	)
	if r.node != nil {
		node, silent = r.node.NodeID(), r.node.NodeTimeout()
	}
	jobs, err := r.store.ClaimNodeDials(ctx, c.ID, r.owner(), node, silent, n, now)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("claim dials", "campaign", c.Name, "err", err)
		}
		return 0
	}
	r.mu.Lock()
	*up += len(jobs)
	if len(jobs) < n {
		*dry = now.Add(dryWait)
	}
	r.mu.Unlock()
	for _, j := range jobs {
		r.calls.Add(1)
		cctx, hangup := context.WithCancel(ctx)
		r.mu.Lock()
		r.hangups[j.Attempt] = hangup
		r.mu.Unlock()
		go func() {
			defer r.calls.Done()
			defer func() {
				r.mu.Lock()
				delete(r.hangups, j.Attempt)
				r.mu.Unlock()
				hangup()
			}()
			place(cctx, j)
		}()
	}
	return len(jobs)
}

// settle records how call j went (res) and moves its case on as Decide
// says, in one transaction; it logs what became of it.
func (r *Runner) settle(ctx context.Context, log *slog.Logger, camp survey.Campaign, j survey.DialJob, res Result, rule string) survey.Outcome {
	if res.Facts.EndedAt.IsZero() {
		res.Facts.EndedAt = r.now()
	}
	s := Settle(res.Signal)
	res.Facts.Rule = s.Rule
	if rule != "" {
		res.Facts.Rule = rule
	}
	if s.Unknown != "" {
		log.Warn("the cause table does not know what the network said; retrying", "unknown", s.Unknown)
	}
	decide := func(cs survey.Case) (survey.Outcome, error) {
		return Decide(cs, camp, res, r.opts.RetrySoon, r.now())
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	o, err := r.store.SettleDial(sctx, j, res.Facts, decide, r.now())
	switch {
	case survey.ErrorCodeOf(err) == survey.EConflict:
		log.Warn("the call's case was taken over by another node while this one was silent; it settled the case", "err", err)
		return o
	case err != nil && r.node != nil:
		log.Error("settle the call; another node takes the case over if this one dies", "err", err)
		return o
	case err != nil:
		log.Error("settle the call; the case is given back when this node starts again", "err", err)
		return o
	}
	log.Info("call settled", "rule", res.Facts.Rule, "interview", res.Status, "abandoned", res.Facts.Abandoned,
		"code", o.AttemptCode, "case", o.Status)
	return o
}

// placeKeypad places campaign k's calls.
func (r *Runner) placeKeypad(k *campaign) func(context.Context, survey.DialJob) {
	return func(ctx context.Context, j survey.DialJob) { r.place(ctx, k, j) }
}

// place runs one call to its end and settles its case.
func (r *Runner) place(ctx context.Context, k *campaign, j survey.DialJob) {
	log := r.log.With("campaign", k.c.Name, "case_id", j.Case, "attempt_id", j.Attempt)
	r.mu.Lock()
	c := Call{Job: j, Ring: k.dialing.Ring(), Keep: !k.dialing.NoResume && !j.LastAttempt(),
		AMD: k.dialing.AMD, MachineMessage: k.dialing.MachineMessage, AgentKey: k.dialing.AgentKey}
	camp := k.c
	r.mu.Unlock()
	if !r.marked(ctx, log, camp, j) {
		r.mu.Lock()
		k.up--
		r.mu.Unlock()
		return
	}
	res, err := r.orig.Survey(ctx, c)
	if err != nil && ctx.Err() == nil {
		log.Warn("keypad call", "err", err, "outcome", res.Signal)
	}
	if res.Handed {
		log.Info("keypad respondent handed to an interviewer; their wrap-up settles the case")
	} else {
		r.settle(ctx, log, camp, j, res, "")
	}
	r.mu.Lock()
	k.up--
	k.dials++
	if res.Status == survey.StatusComplete {
		k.completes++
	}
	r.mu.Unlock()
}

// stepAgents dials for the interviewers waiting: the next case for each
// idle one on a progressive campaign (one line per free interviewer), and
// the case on the desk when its preview's auto-dial is due or its
// campaign is progressive.
func (r *Runner) stepAgents(ctx context.Context, now time.Time) {
	slots, err := r.agents.Waiting(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("interviewers waiting", "err", err)
		}
		return
	}
	r.stepPredictive(ctx, now, slots)
	var free []survey.AgentSlot
	for _, a := range slots {
		switch {
		case a.State == survey.DeskIdle && !a.Progressive:
		case a.State == survey.DeskIdle:
			if now.Before(r.idleUntil[a.User]) {
				continue
			}
			free = append(free, a)
		case a.State == survey.DeskOnCase && (a.Progressive || now.Sub(a.Since) >= a.AutoDial):
			log := r.log.With("interviewer", a.Name, "case_id", a.Case)
			if err := r.agents.DialPreview(ctx, a.User, a.Name, a.Case); err != nil && ctx.Err() == nil {
				log.Warn("dial the case on the desk", "err", err)
			} else if err == nil {
				log.Info("dialed the case on the desk", "progressive", a.Progressive, "after", now.Sub(a.Since).Round(time.Second))
			}
		}
	}
	step := Plan(now, State{Mode: ModeProgressive, Free: len(free), Cap: len(free), TrunkRoom: len(free)})
	for _, a := range free[:step.Calls] {
		err := r.agents.Offer(ctx, a.User, a.Name)
		switch {
		case err == nil:
			delete(r.idleUntil, a.User)
			r.log.Info("progressive call for an interviewer", "interviewer", a.Name)
		case survey.ErrorCodeOf(err) == survey.ENotFound:
			r.idleUntil[a.User] = now.Add(nothingDueWait)
		case ctx.Err() == nil:
			r.idleUntil[a.User] = now.Add(nothingDueWait)
			r.log.Warn("progressive call", "interviewer", a.Name, "err", err)
		}
	}
}

// predictiveRun is what the runner keeps of one predictive campaign.
type predictiveRun struct {
	c        survey.Campaign
	dialing  survey.Dialing
	ledger   *Ledger
	ledgerAt time.Time // when the ledger was read from the store
	ringing  int       // lines placed, not yet handed, abandoned or failed
	stats    survey.DialStats
	statsAt  time.Time
	dryUntil time.Time
	fp       falsePositives
}

// falsePositives turns AMD's machine verdicts into the abandoned live
// calls they stand for (survey.Dialing.AMDFalsePositive): each verdict adds
// share, and each whole one is an abandoned call in the ledger.
type falsePositives struct{ share, sum float64 }

// machine counts one machine verdict and reports whether it completes an
// abandoned call.
func (f *falsePositives) machine() bool {
	f.sum += f.share
	if f.sum >= 1-1e-9 {
		f.sum--
		return true
	}
	return false
}

// ledgerEvery is how often a predictive campaign's ledger is read again
// from the store, with the calls other nodes placed; between reads the
// runner adds its own.
const ledgerEvery = time.Minute

// minPredictStats is how many ended dials predictive pacing needs before
// it trusts their answer rate; until then it dials as progressive.
const minPredictStats = 100

// stepPredictive paces each running predictive campaign: as many lines as
// Plan allows for the interviewers waiting (free) at the campaign's answer
// rate, never more than the ledger's headroom could absorb if every extra
// line were answered with nobody free.
func (r *Runner) stepPredictive(ctx context.Context, now time.Time, slots []survey.AgentSlot) {
	free := 0
	for _, a := range slots {
		if a.State == survey.DeskIdle && a.Predictive {
			free++
		}
	}
	for _, c := range r.predictiveCampaigns() {
		if ctx.Err() != nil {
			return
		}
		p, err := r.predictiveOf(ctx, c, now)
		if err != nil {
			r.log.Error("predictive campaign", "campaign", c.Name, "err", err)
			continue
		}
		if now.Before(p.dryUntil) {
			continue
		}
		_, maxLines := p.dialing.Pace()
		r.mu.Lock()
		pr := Predict{Handle: Dist{Mean: p.stats.Handle, SD: p.stats.HandleSD}, AnswerWait: p.stats.Ring, Target: DefaultAbandonTarget}
		if p.stats.Dials >= minPredictStats {
			pr.AnswerRate = float64(p.stats.Live) / float64(p.stats.Dials)
		}
		plan := Plan(now, State{Mode: ModePredictive, Ringing: p.ringing, Cap: maxLines, TrunkRoom: r.trunkRoom(now, maxLines), Free: free,
			Predict: pr, Headroom: p.ledger.Headroom(now)})
		r.mu.Unlock()
		if plan.Calls == 0 {
			continue
		}
		n := r.claim(ctx, c, plan.Calls, now, &p.ringing, &p.dryUntil, func(ctx context.Context, j survey.DialJob) { r.placePredictive(ctx, p, j) })
		r.mu.Lock()
		r.tookTrunk(now, n)
		r.mu.Unlock()
		free = max(free-n, 0)
	}
}

// predictiveCampaigns are the running CATI campaigns that dial predictive.
func (r *Runner) predictiveCampaigns() []survey.Campaign {
	r.mu.Lock()
	defer r.mu.Unlock()
	var cs []survey.Campaign
	for _, c := range r.cati {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b survey.Campaign) int { return int(a.ID - b.ID) })
	return cs
}

// predictiveOf is campaign c's state, its ledger loaded from the store the
// first time and its statistics read again every statsEvery.
func (r *Runner) predictiveOf(ctx context.Context, c survey.Campaign, now time.Time) (*predictiveRun, error) {
	st, err := c.DecodeSettings()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	p := r.pred[c.ID]
	if p == nil {
		p = &predictiveRun{}
		r.pred[c.ID] = p
	}
	stale := p.ledger == nil || now.Sub(p.ledgerAt) >= ledgerEvery
	r.mu.Unlock()
	if stale {
		// From the store, every call of every node: nodes sharing the
		// campaign see each other's calls within ledgerEvery. A call an
		// interviewer still has is not there yet (its answer time is
		// stored when it ends): fewer live calls, less headroom.
		calls, err := r.store.LiveCalls(ctx, c.ID, now.Add(-Month-DefaultLookAhead))
		if err != nil {
			return nil, err
		}
		events := make([]Event, 0, len(calls))
		fp := falsePositives{share: st.Dialing.FalsePositives()}
		for _, lc := range calls {
			switch {
			case !lc.Machine:
				events = append(events, Event{At: lc.At, Live: true, Abandoned: lc.Abandoned})
			case fp.machine():
				events = append(events, Event{At: lc.At, Live: true, Abandoned: true})
			}
		}
		start := c.CreatedAt
		if start.IsZero() {
			start = now
		}
		l, err := NewLedger(LedgerOptions{Budget: st.Dialing.Budget(), LookAhead: DefaultLookAhead}, start, events)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		p.ledger, p.ledgerAt, p.fp = l, now, fp
		r.mu.Unlock()
	}
	if now.Sub(p.statsAt) >= statsEvery {
		stats, err := r.store.PredictStats(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		p.stats, p.statsAt = stats, now
		r.mu.Unlock()
	}
	r.mu.Lock()
	p.c, p.dialing = c, st.Dialing
	r.mu.Unlock()
	return p, nil
}

// placePredictive places one predictive call through the console and, when
// nobody took it, settles its case.
func (r *Runner) placePredictive(ctx context.Context, p *predictiveRun, j survey.DialJob) {
	r.mu.Lock()
	camp, dialing := p.c, p.dialing
	r.mu.Unlock()
	log := r.log.With("campaign", camp.Name, "case_id", j.Case, "attempt_id", j.Attempt)
	if !r.marked(ctx, log, camp, j) {
		r.mu.Lock()
		p.ringing--
		r.mu.Unlock()
		return
	}
	res, err := r.agents.DialPredictive(ctx, j, dialing)
	if err != nil && ctx.Err() == nil {
		log.Warn("predictive call", "err", err)
	}
	r.mu.Lock()
	p.ringing--
	switch {
	case res.User != 0:
		p.ledger.Add(Event{At: res.Facts.AnsweredAt, Live: true})
	case res.Facts.Abandoned:
		p.ledger.Add(Event{At: res.Facts.AnsweredAt, Live: true, Abandoned: true})
	case res.Facts.AMD == string(AMDMachine):
		// A machine to AMD; perhaps a person hung up on.
		p.fp.share = dialing.FalsePositives()
		if p.fp.machine() {
			p.ledger.Add(Event{At: res.Facts.AnsweredAt, Live: true, Abandoned: true})
		}
	}
	r.mu.Unlock()
	if res.User != 0 {
		log.Info("predictive call handed to an interviewer", "user_id", res.User)
		return // the interviewer's wrap-up settles the case
	}
	out, rule := Result{Signal: SignalOf(res.Outcome, res.Facts.SIPStatus, res.Facts.Q850Cause), Facts: res.Facts}, ""
	out.Signal.AMD = AMD(res.Facts.AMD)
	if res.Facts.Abandoned {
		out.Signal, rule = Signal{Answered: true, SIPStatus: 200}, "abandoned"
	}
	r.settle(ctx, log, camp, j, out, rule)
}

// SignalOf is the cause table's input from a dial's outcome, final SIP
// status and Q.850 cause.
func SignalOf(o survey.DialOutcome, sip, q850 int) Signal {
	return Signal{
		Answered:    o == survey.DialAnswered,
		SIPStatus:   sip,
		Q850:        q850,
		RingTimeout: o == survey.DialNoAnswer && (sip == 0 || sip == 487),
		Cancelled:   o == survey.DialCancelled,
	}
}

// quotaEvery is how often the quota holds are brought up to date.
const quotaEvery = 30 * time.Second

// holdQuotas holds back, in every running campaign, the open cases whose
// contact fields put them in a full quota cell, and lets go of those whose
// cell has room again (a target raised): survey.QuotaHold. A campaign whose
// questionnaire has no quotas is skipped.
func (r *Runner) holdQuotas(ctx context.Context) {
	r.mu.Lock()
	cs := slices.Clone(r.running)
	r.mu.Unlock()
	for _, c := range cs {
		if ctx.Err() != nil {
			return
		}
		if err := r.holdQuota(ctx, c); err != nil {
			r.log.Error("quota holds", "campaign", c.Name, "err", err)
		}
	}
}

func (r *Runner) holdQuota(ctx context.Context, c survey.Campaign) error {
	v, err := r.store.Questionnaire(ctx, c.Questionnaire, 0)
	if err != nil {
		return err
	}
	q, err := r.parsed.Get(v)
	if err != nil || len(q.Quotas) == 0 {
		return err
	}
	st, err := c.DecodeSettings()
	if err != nil {
		return err
	}
	fill, err := r.store.QuotaFill(ctx, c.ID)
	if err != nil {
		return err
	}
	full := survey.FullCells(q.QuotaTargets(st), fill)
	key := strings.Join(full, ",")
	r.mu.Lock()
	last, seen := r.full[c.ID]
	r.mu.Unlock()
	if seen && last == key && len(full) == 0 {
		return nil // nothing full, as before: no case to hold or let go
	}
	n, err := r.store.QuotaHolds(ctx, c.ID, func(contact map[string]string) string {
		return survey.QuotaHold(q.ContactCells(contact), full)
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.full[c.ID] = key
	r.mu.Unlock()
	if n > 0 {
		r.log.Info("quota holds changed", "campaign", c.Name, "full", full, "cases", n)
	}
	return nil
}

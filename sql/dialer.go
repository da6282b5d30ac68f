package sql

// This file is what the dialer (dialer.Runner) asks of the database: claim
// a keypad campaign's due cases and start their attempts in one statement,
// settle an attempt with the outcome the dialer decides in the same
// transaction that records what the network said, and give back the
// claims of a node that stopped.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/survey"
)

// sqlClaimDials claims up to $3 due cases of campaign $1 (keypad, or
// predictive) at $2 for owner $4, by the same rules as an interviewer's
// claim (sqlClaim): inside the respondent's local calling window, on no
// do-not-call list, attempts left or an appointment due; and not within
// 72 h of an abandoned call to the number. It starts each one's call
// attempt, counted. A claim for a node ($NODE, not 0) names it, so the
// other nodes can take it over if the node dies, and is made only while
// the node's own heartbeat is fresher than $SILENT ms: a node the others
// may already hold for dead claims nothing.
// One statement: the claim, the count and the attempts commit together.
// It reads every due case of the campaign (the window depends on each
// contact's zone); sqlClaimDialsFast first looks only at the $5 open cases
// first in line (priority, then longest due), by index.
var (
	sqlClaimDials = `WITH cand AS (SELECT sc.id FROM survey_case sc` +
		strings.NewReplacer("$SLICES", "$5", "$NODE", "$6", "$SILENT", "$7").Replace(sqlClaimDialsRest)
	sqlClaimDialsFast = `
WITH pre AS (
    SELECT p.id FROM survey_case p
    WHERE p.campaign_id = $1 AND p.status = 'open' AND p.next_attempt_at <= $2
    ORDER BY p.priority DESC, p.next_attempt_at LIMIT $5),
cand AS (SELECT sc.id FROM pre JOIN survey_case sc ON sc.id = pre.id` +
		strings.NewReplacer("$SLICES", "$6", "$NODE", "$7", "$SILENT", "$8").Replace(sqlClaimDialsRest)
	sqlClaimDialsRest = `
    JOIN campaign cp ON cp.id = sc.campaign_id AND cp.status = 'running'
         AND (cp.mode = 'ivr' OR cp.settings->'dialing'->>'mode' = 'predictive')
    JOIN contact ct ON ct.id = sc.contact_id
    ` + sqlInWindow + `
    LEFT JOIN LATERAL (
        SELECT a.at FROM appointment a
        WHERE a.case_id = sc.id AND a.status = 'pending' ORDER BY a.at LIMIT 1) ap ON true
    ` + sqlRotation + `
    WHERE sc.campaign_id = $1 AND sc.next_attempt_at <= $2 AND sc.quota_hold = ''
      AND ((sc.status = 'open' AND sc.attempts < cp.max_attempts)
           OR (sc.status = 'appointment' AND ap.at <= $2))
      AND NOT EXISTS (SELECT 1 FROM dnc d WHERE d.phone_e164 = ct.phone_e164
                      AND (d.campaign_id IS NULL OR d.campaign_id = sc.campaign_id)
                      AND (d.expires_at IS NULL OR d.expires_at > $2))
      AND NOT EXISTS (SELECT 1 FROM attempt x WHERE x.phone_e164 = ct.phone_e164 AND x.abandoned
                      AND x.answered_at > $2::timestamptz - interval '72 hours')
      AND ($NODE::bigint = 0 OR EXISTS (SELECT 1 FROM node me WHERE me.id = $NODE
                                        AND me.seen_at >= now() - $SILENT::bigint * interval '1 millisecond'))
    ORDER BY (sc.status = 'appointment') DESC, sc.priority DESC, rot.n, (w.closes - l.local::time), sc.next_attempt_at, sc.id
    LIMIT $3
    FOR UPDATE OF sc SKIP LOCKED
),
claimed AS (
    UPDATE survey_case s SET status = 'claimed', owner = $4, owner_user_id = NULL, attempts = s.attempts + 1,
                             dialer_node_id = nullif($NODE::bigint, 0)
    FROM cand WHERE s.id = cand.id
    RETURNING s.id, s.campaign_id, s.contact_id, s.attempts, coalesce(s.interview_id, 0) AS interview_id, s.context
),
att AS (
    INSERT INTO attempt (case_id, direction, phone_e164, started_at)
    SELECT c.id, 'outbound', ct.phone_e164, $2 FROM claimed c JOIN contact ct ON ct.id = c.contact_id
    RETURNING id, case_id
)
SELECT c.id, att.id, ct.phone_e164, ct.tz, ct.language, ct.attrs, cp.questionnaire_id,
       CASE WHEN iv.status = 'in_progress' THEN c.interview_id ELSE 0 END, c.attempts, cp.max_attempts, c.context
FROM claimed c
JOIN att ON att.case_id = c.id
JOIN contact ct ON ct.id = c.contact_id
JOIN campaign cp ON cp.id = c.campaign_id
LEFT JOIN interview iv ON iv.id = c.interview_id
ORDER BY c.id`
)

// fastClaimLook is how many cases first in line the fast claim looks at
// per case wanted.
const fastClaimLook = 4

// ClaimDials claims up to n due cases of keypad campaign id at now for
// owner (the dialer node, "dialer:<name>") and starts their attempts. It
// returns fewer, or none, with no error, when fewer are due; that read
// every due case of the campaign, so the runner waits before asking again.
func (db *DB) ClaimDials(ctx context.Context, id survey.CampaignID, owner string, n int, now time.Time) ([]survey.DialJob, error) {
	return db.ClaimNodeDials(ctx, id, owner, 0, 0, n, now)
}

// ClaimNodeDials is ClaimDials for a claimer that is a registered node
// (node): the claims carry the node's id, and none is made while its
// heartbeat is older than silent (the others may hold it for dead and
// take its claims over, TakeOverDials). A claim with no node is given back
// only by ReleaseDials, by owner.
func (db *DB) ClaimNodeDials(ctx context.Context, id survey.CampaignID, owner string, node survey.NodeID, silent time.Duration, n int, now time.Time) ([]survey.DialJob, error) {
	if n <= 0 {
		return nil, nil
	}
	scan := func(row pgx.CollectableRow) (survey.DialJob, error) {
		j := survey.DialJob{Campaign: id}
		err := row.Scan(&j.Case, &j.Attempt, &j.Phone, &j.TZ, &j.Language, &j.Contact, &j.Questionnaire,
			&j.Interview, &j.Attempts, &j.MaxAttempts, &j.Context)
		return j, err
	}
	var jobs []survey.DialJob
	err := db.retry(ctx, func() error {
		rows, err := db.pool.Query(ctx, sqlClaimDialsFast, id, now, n, owner, max(fastClaimLook*n, 40), defaultSlices, node, silent.Milliseconds())
		if err != nil {
			return err
		}
		if jobs, err = pgx.CollectRows(rows, scan); err != nil || len(jobs) == n {
			return err
		}
		// Too few of the cases first in line can be called now (their
		// zones are outside the window, their numbers listed) or an
		// appointment is due: look at them all.
		rows, err = db.pool.Query(ctx, sqlClaimDials, id, now, n-len(jobs), owner, defaultSlices, node, silent.Milliseconds())
		if err != nil {
			return err
		}
		more, err := pgx.CollectRows(rows, scan)
		jobs = append(jobs, more...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim %d dials of campaign %d: %w", n, id, err)
	}
	return jobs, nil
}

// SettleDial records what the network said of job's call (f) and, if the
// case is still the dialer's, moves it on as decide says from the case
// with its history, in one transaction. A case a supervisor took meanwhile
// keeps their decision; the attempt is still recorded and ended. An
// attempt another node ended meanwhile (it took the case over while this
// node was silent, TakeOverDials) is left as that node settled it:
// ErrTakenOver.
func (db *DB) SettleDial(ctx context.Context, job survey.DialJob, f survey.CallFacts, decide func(survey.Case) (survey.Outcome, error), now time.Time) (survey.Outcome, error) {
	var o survey.Outcome
	err := db.tx(ctx, func(tx pgx.Tx) error {
		o = survey.Outcome{}
		c, err := caseHistory(ctx, tx, job.Case, true) // the case first, as every step that moves it
		if err != nil {
			return err
		}
		var open bool
		if err := tx.QueryRow(ctx, sqlAttemptOpen, job.Attempt).Scan(&open); err != nil {
			return err
		}
		if !open {
			return ErrTakenOver
		}
		if err := recordCall(ctx, tx, job.Attempt, f); err != nil {
			return err
		}
		if c.Status != survey.CaseClaimed || c.OwnerUserID != 0 {
			_, err := tx.Exec(ctx, sqlEndAttempt, job.Attempt, now, "", "")
			return err
		}
		if o, err = decide(c); err != nil {
			return err
		}
		err = ApplyOutcome(ctx, tx, Settle{Case: job.Case, Attempt: job.Attempt, Interview: c.InterviewID}, o, now)
		if err != nil {
			return err
		}
		_, err = WriteEvent(ctx, tx, survey.Event{At: now, Kind: "dial.completed", CampaignID: job.Campaign,
			CaseID: job.Case, InterviewID: c.InterviewID, Payload: dialPayload(job, f, o)})
		return err
	})
	if err != nil {
		return o, fmt.Errorf("settle dial %d of case %d: %w", job.Attempt, job.Case, err)
	}
	return o, nil
}

// dialPayload is the dial.completed event's payload.
func dialPayload(job survey.DialJob, f survey.CallFacts, o survey.Outcome) []byte {
	b, err := json.Marshal(map[string]any{"attempt_id": job.Attempt, "sip_status": f.SIPStatus, "q850_cause": f.Q850Cause,
		"rule": f.Rule, "amd": f.AMD, "code": o.AttemptCode, "case_status": o.Status, "answered": !f.AnsweredAt.IsZero()})
	if err != nil {
		return []byte("{}")
	}
	return b
}

// sqlAttemptOpen: attempt $1 has not ended (its case's claim still holds).
const sqlAttemptOpen = `SELECT ended_at IS NULL FROM attempt WHERE id = $1`

// ErrTakenOver: the dial's claim was taken over by another node while this
// one was silent; that node settled its case.
var ErrTakenOver = survey.Errorf(survey.EConflict, "another node took this call's case over while this node was silent")

// sqlMarkDialing marks attempt $1 placed at $2 while it is open; marking
// it again keeps the first time (a retry after a lost reply).
const sqlMarkDialing = `UPDATE attempt SET dialed_at = coalesce(dialed_at, $2) WHERE id = $1 AND ended_at IS NULL`

// MarkDialing records that job's call is being placed now, just before
// the INVITE or the originate: from then on a takeover settles the attempt
// as a call lost with its node instead of giving the case back undialed.
// ErrTakenOver when another node took the claim over first: the call must
// not be placed.
func (db *DB) MarkDialing(ctx context.Context, job survey.DialJob, now time.Time) error {
	err := db.retry(ctx, func() error {
		tag, err := db.pool.Exec(ctx, sqlMarkDialing, job.Attempt, now)
		if err == nil && tag.RowsAffected() == 0 {
			err = ErrTakenOver
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("mark attempt %d of case %d dialing: %w", job.Attempt, job.Case, err)
	}
	return nil
}

// sqlTakeOverCands are up to $3 claims of dialer nodes whose heartbeat
// is older than $1 ms, with their open attempt, taken only by a node
// ($2) whose own heartbeat is fresh. The cases are locked and locked
// ones skipped: of two nodes taking over at once, each takes other cases.
const sqlTakeOverCands = `
SELECT sc.id, sc.campaign_id, a.id, sc.dialer_node_id, sc.owner
FROM survey_case sc
JOIN node n ON n.id = sc.dialer_node_id
JOIN attempt a ON a.case_id = sc.id AND a.ended_at IS NULL
WHERE sc.status = 'claimed' AND sc.owner_user_id IS NULL AND sc.owner LIKE 'dialer:%'
  AND n.seen_at < now() - $1::bigint * interval '1 millisecond'
  AND EXISTS (SELECT 1 FROM node me WHERE me.id = $2 AND me.id <> n.id
              AND me.seen_at >= now() - $1::bigint * interval '1 millisecond')
ORDER BY sc.id
LIMIT $3
FOR UPDATE OF sc SKIP LOCKED`

// sqlTakeAttempt ends a taken-over claim's attempt, and says whether its
// call had been placed. The attempt row's lock orders it against
// MarkDialing: either the mark came first and the call counts as placed,
// or the mark finds the attempt ended and the call is never placed.
const sqlTakeAttempt = `
UPDATE attempt SET ended_at = $2
WHERE id = $1 AND ended_at IS NULL
RETURNING dialed_at IS NOT NULL`

const (
	sqlForgetAttempt = `DELETE FROM attempt WHERE id = $1`
	sqlRequeueCase   = `
UPDATE survey_case SET status = CASE WHEN EXISTS (SELECT 1 FROM appointment a WHERE a.case_id = survey_case.id AND a.status = 'pending')
                                     THEN 'appointment' ELSE 'open' END,
                       owner = '', attempts = greatest(attempts - 1, 0), dialer_node_id = NULL
WHERE id = $1`
)

// takeOverPage is how many claims of silent nodes one transaction takes
// over.
const takeOverPage = 50

// NoteNodeLost is the note of an attempt a takeover settled.
const NoteNodeLost = "the node placing the call went silent (its heartbeat stopped); another node settled the call"

// TakeOverDials takes over the dial claims of nodes whose heartbeat is
// older than silent, for node me (whose own heartbeat must be fresh): a
// call the silent node had placed gets its attempt ended and its case
// moved on by decide (the case with its history, this attempt counted,
// and the status of its interview, "" for none: the runner's Decide for a
// call lost with its node), its interview, if any, left in progress (the
// call back resumes it; once the case closes, the lost-interview sweep
// closes it); a claim it had not dialed yet is given back to the
// queue, its attempt forgotten and uncounted. Each case is taken by one
// node only: the claims are locked, and settled under the lock only while
// the claim and its attempt are still the silent node's. It returns how
// many calls it settled and how many claims it gave back.
func (db *DB) TakeOverDials(ctx context.Context, me survey.NodeID, silent time.Duration, decide func(survey.Case, survey.Status) (survey.Outcome, error), now time.Time) (settled, requeued int, err error) {
	for {
		var pageSettled, pageRequeued, n int
		err := db.tx(ctx, func(tx pgx.Tx) error {
			pageSettled, pageRequeued, n = 0, 0, 0
			type cand struct {
				c     survey.CaseID
				camp  survey.CampaignID
				a     survey.AttemptID
				node  survey.NodeID
				owner string
			}
			rows, err := tx.Query(ctx, sqlTakeOverCands, silent.Milliseconds(), me, takeOverPage)
			if err != nil {
				return err
			}
			cands, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (cand, error) {
				var c cand
				err := row.Scan(&c.c, &c.camp, &c.a, &c.node, &c.owner)
				return c, err
			})
			if err != nil {
				return err
			}
			n = len(cands)
			for _, k := range cands {
				var dialed bool
				err := tx.QueryRow(ctx, sqlTakeAttempt, k.a, now).Scan(&dialed)
				if errors.Is(err, pgx.ErrNoRows) {
					continue // settled under our feet: the case lock says it cannot be
				}
				if err != nil {
					return err
				}
				kind := "dial.requeued"
				var o survey.Outcome
				if !dialed {
					if _, err := tx.Exec(ctx, sqlForgetAttempt, k.a); err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, sqlRequeueCase, k.c); err != nil {
						return err
					}
					pageRequeued++
				} else {
					c, err := caseHistory(ctx, tx, k.c, false) // locked by the candidates' query
					if err != nil {
						return err
					}
					var iv survey.Status
					if c.InterviewID != 0 {
						if err := tx.QueryRow(ctx, sqlInterviewStatus, c.InterviewID).Scan(&iv); err != nil {
							return err
						}
					}
					if o, err = decide(c, iv); err != nil {
						return fmt.Errorf("case %d: %w", k.c, err)
					}
					o.Note = NoteNodeLost
					if err := ApplyOutcome(ctx, tx, Settle{Case: k.c, Attempt: k.a, Interview: c.InterviewID}, o, now); err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, `UPDATE survey_case SET dialer_node_id = NULL WHERE id = $1`, k.c); err != nil {
						return err
					}
					kind = "dial.taken_over"
					pageSettled++
				}
				payload, err := json.Marshal(map[string]any{"attempt_id": k.a, "node_id": k.node, "owner": k.owner,
					"by_node_id": me, "dialed": dialed, "code": o.AttemptCode, "case_status": o.Status})
				if err != nil {
					return err
				}
				if _, err := WriteEvent(ctx, tx, survey.Event{At: now, Kind: kind, CampaignID: k.camp, CaseID: k.c, Payload: payload}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return settled, requeued, fmt.Errorf("take over the dials of nodes silent for %s: %w", silent, err)
		}
		settled, requeued = settled+pageSettled, requeued+pageRequeued
		if n < takeOverPage {
			return settled, requeued, nil
		}
	}
}

// sqlReleaseDials gives back the cases owner claimed with no node and
// never settled (a node that stopped mid-call): their open attempts end
// with no code, and the cases are due again at once; the attempt still
// counts. A node's claims are taken over by the others (TakeOverDials),
// never released by name: two live processes may share one.
const sqlReleaseDials = `
WITH rel AS (
    UPDATE survey_case SET status = CASE WHEN EXISTS (SELECT 1 FROM appointment a WHERE a.case_id = survey_case.id AND a.status = 'pending')
                                         THEN 'appointment' ELSE 'open' END,
                           owner = '', next_attempt_at = $2
    WHERE status = 'claimed' AND owner = $1 AND dialer_node_id IS NULL
    RETURNING id)
UPDATE attempt SET ended_at = $2, note = 'the dialer stopped during the call'
WHERE case_id IN (SELECT id FROM rel) AND ended_at IS NULL`

// ReleaseDials gives back every case owner claimed (run when a dialer node
// starts: its earlier self died) and says how many attempts it ended.
func (db *DB) ReleaseDials(ctx context.Context, owner string, now time.Time) (int, error) {
	var n int
	err := db.retry(ctx, func() error {
		tag, err := db.pool.Exec(ctx, sqlReleaseDials, owner, now)
		n = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("release the dials of %s: %w", owner, err)
	}
	return n, nil
}

// sqlDialStats is a campaign's completes and dials since the campaign
// began: the completes stop a campaign at its target and, per dial, say
// how many more dials the target needs.
const sqlDialStats = `
SELECT (SELECT count(*) FROM interview i JOIN survey_case sc ON sc.id = i.case_id
        WHERE sc.campaign_id = $1 AND i.status = 'complete'),
       (SELECT count(*) FROM attempt a JOIN survey_case sc ON sc.id = a.case_id
        WHERE sc.campaign_id = $1 AND a.ended_at IS NOT NULL)`

// DialStats is campaign id's completes and ended dials.
func (db *DB) DialStats(ctx context.Context, id survey.CampaignID) (completes, dials int, err error) {
	err = db.retry(ctx, func() error {
		return db.pool.QueryRow(ctx, sqlDialStats, id).Scan(&completes, &dials)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("dial stats of campaign %d: %w", id, err)
	}
	return completes, dials, nil
}

// sqlResumeInterview puts interview $1 on attempt $2, and on the node
// whose claim that attempt is (a call lost with its node is resumed by
// another).
const sqlResumeInterview = `
UPDATE interview SET attempt_id = $2,
    node_id = coalesce((SELECT sc.dialer_node_id FROM attempt a JOIN survey_case sc ON sc.id = a.case_id
                        WHERE a.id = $2 AND sc.status = 'claimed'), node_id)
WHERE id = $1 AND status = 'in_progress'`

// ResumeInterview puts interview id, still in progress, on call attempt
// attempt and returns it with its answers (ivr.Resumer): the dialer's call
// back resumes it. survey.Conflict when it has ended meanwhile.
func (db *DB) ResumeInterview(ctx context.Context, id survey.InterviewID, attempt survey.AttemptID) (survey.InterviewRecord, error) {
	err := db.retry(ctx, func() error {
		tag, err := db.pool.Exec(ctx, sqlResumeInterview, id, nullID(attempt))
		if err == nil && tag.RowsAffected() == 0 {
			err = survey.Errorf(survey.EConflict, "interview %d is no longer in progress", id)
		}
		return err
	})
	if err != nil {
		return survey.InterviewRecord{}, fmt.Errorf("resume interview %d: %w", id, err)
	}
	return db.Interview(ctx, id)
}

// sqlDialSlots lists the interviewers the dialer may place a call for: idle
// and assigned to a running progressive or predictive campaign, or to a
// running keypad campaign in mixed mode (an agent key), or on a case, not
// yet dialed, of a running campaign that auto-dials previews.
const sqlDialSlots = `
SELECT d.user_id, u.name, d.state, d.since, 0::bigint, 0::bigint, 0, m.progressive, m.predictive, m.mixed
FROM interviewer_desk d JOIN app_user u ON u.id = d.user_id AND NOT u.disabled
CROSS JOIN LATERAL (
    SELECT coalesce(bool_or(cp.mode = 'cati' AND cp.settings->'dialing'->>'mode' = 'progressive'), false) AS progressive,
           coalesce(bool_or(cp.mode = 'cati' AND cp.settings->'dialing'->>'mode' = 'predictive'), false) AS predictive,
           coalesce(bool_or(cp.mode = 'ivr' AND coalesce(cp.settings->'dialing'->>'agent_key', '') <> ''), false) AS mixed
    FROM campaign_interviewer ci JOIN campaign cp ON cp.id = ci.campaign_id
    WHERE ci.user_id = d.user_id AND cp.status = 'running') m
WHERE d.state = 'idle' AND (m.progressive OR m.predictive OR m.mixed)
UNION ALL
SELECT d.user_id, u.name, d.state, d.since, d.case_id, sc.campaign_id,
       coalesce((cp.settings->'dialing'->>'auto_dial_seconds')::int, 0),
       coalesce(cp.settings->'dialing'->>'mode' = 'progressive', false), false, false
FROM interviewer_desk d JOIN app_user u ON u.id = d.user_id AND NOT u.disabled
JOIN survey_case sc ON sc.id = d.case_id
JOIN campaign cp ON cp.id = sc.campaign_id AND cp.status = 'running'
WHERE d.state = 'on_case' AND d.attempt_id IS NULL
  AND (coalesce((cp.settings->'dialing'->>'auto_dial_seconds')::int, 0) > 0
       OR cp.settings->'dialing'->>'mode' = 'progressive')
ORDER BY 4, 1`

// DialSlots lists the interviewers the dialer may place a call for
// (survey.AgentSlot), longest waiting first.
func (db *DB) DialSlots(ctx context.Context) ([]survey.AgentSlot, error) {
	var slots []survey.AgentSlot
	err := db.retry(ctx, func() error {
		rows, err := db.pool.Query(ctx, sqlDialSlots)
		if err != nil {
			return err
		}
		slots, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (survey.AgentSlot, error) {
			var (
				s    survey.AgentSlot
				auto int
			)
			err := row.Scan(&s.User, &s.Name, &s.State, &s.Since, &s.Case, &s.Campaign, &auto, &s.Progressive, &s.Predictive, &s.Mixed)
			s.AutoDial = time.Duration(auto) * time.Second
			return s, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list the interviewers waiting for a call: %w", err)
	}
	return slots, nil
}

const (
	sqlHandCase = `
UPDATE survey_case SET owner = 'interviewer:' || $3, owner_user_id = $2
WHERE id = $1 AND status = 'claimed' AND owner LIKE 'dialer:%'
  AND EXISTS (SELECT 1 FROM campaign_interviewer ci WHERE ci.campaign_id = survey_case.campaign_id AND ci.user_id = $2)
  AND EXISTS (SELECT 1 FROM attempt a WHERE a.id = $4 AND a.ended_at IS NULL)`
	sqlHandAttempt = `UPDATE attempt SET interviewer_id = $2 WHERE id = $1`
)

// HandDial gives the dialer's answered call of job to interviewer userID,
// idle and assigned to its campaign: the case becomes theirs and their desk
// is on it, dialing, with the call's attempt, as if they had dialed it.
// survey.Conflict when their desk is not idle or the case is no longer the
// dialer's.
func (db *DB) HandDial(ctx context.Context, userID survey.UserID, userName string, job survey.DialJob, now time.Time) (survey.Desk, error) {
	var d survey.Desk
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if d, err = lockDesk(ctx, tx, userID, now); err != nil {
			return err
		}
		if d.State != survey.DeskIdle {
			return survey.Errorf(survey.EConflict, "%s is %s, not waiting for a call", userName, d.State.Text())
		}
		tag, err := tx.Exec(ctx, sqlHandCase, job.Case, userID, userName, job.Attempt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return survey.Errorf(survey.EConflict, "case %d is not the dialer's to hand to %s", job.Case, userName)
		}
		if _, err := tx.Exec(ctx, sqlHandAttempt, job.Attempt, userID); err != nil {
			return err
		}
		d.CaseID, d.CampaignID, d.AttemptID, d.State, d.Since = job.Case, job.Campaign, job.Attempt, survey.DeskDialing, now
		if err := setDesk(ctx, tx, d, now); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "desk.dialing", d, job.Campaign, now, map[string]any{"predictive": true})
	})
	if err != nil {
		return survey.Desk{}, fmt.Errorf("hand case %d to user %d: %w", job.Case, userID, err)
	}
	return d, nil
}

// sqlPredictStats reads a campaign's last 1,000 ended dials: how many, how
// many a person answered, the mean ring before those answers, and the
// mean and deviation of the answered calls' length from dial to end (the
// interviewer's handle time, wrap-up aside).
const sqlPredictStats = `
SELECT count(*), count(*) FILTER (WHERE live),
       coalesce(avg(ring_ms) FILTER (WHERE live), 0)::bigint,
       coalesce(avg(handle_ms) FILTER (WHERE live AND NOT abandoned), 0)::bigint,
       coalesce(stddev_samp(handle_ms) FILTER (WHERE live AND NOT abandoned), 0)::bigint
FROM (SELECT a.answered_at IS NOT NULL AND coalesce(a.amd_result, '') <> 'machine' AS live, a.abandoned,
             coalesce(a.ring_ms, 0) AS ring_ms, (extract(epoch FROM a.ended_at - a.answered_at) * 1000)::bigint AS handle_ms
      FROM attempt a JOIN survey_case sc ON sc.id = a.case_id
      WHERE sc.campaign_id = $1 AND a.ended_at IS NOT NULL
      ORDER BY a.id DESC LIMIT 1000) x`

// PredictStats is what predictive pacing knows of campaign id's recent
// dials.
func (db *DB) PredictStats(ctx context.Context, id survey.CampaignID) (survey.DialStats, error) {
	var (
		st                     survey.DialStats
		ring, handle, handleSD int64
	)
	err := db.retry(ctx, func() error {
		return db.pool.QueryRow(ctx, sqlPredictStats, id).Scan(&st.Dials, &st.Live, &ring, &handle, &handleSD)
	})
	if err != nil {
		return st, fmt.Errorf("predictive statistics of campaign %d: %w", id, err)
	}
	st.Ring, st.Handle, st.HandleSD = time.Duration(ring)*time.Millisecond, time.Duration(handle)*time.Millisecond, time.Duration(handleSD)*time.Millisecond
	return st, nil
}

const sqlLiveCalls = `
SELECT a.answered_at, a.abandoned, coalesce(a.amd_result, '') = 'machine'
FROM attempt a JOIN survey_case sc ON sc.id = a.case_id
WHERE sc.campaign_id = $1 AND a.answered_at > $2
  AND (coalesce(a.amd_result, '') <> 'machine' OR a.interviewer_id IS NULL)
ORDER BY a.answered_at`

// LiveCalls lists campaign id's calls a person answered since since, with
// whether each was abandoned, and the calls AMD took for a machine that
// nobody took (survey.LiveCall.Machine): the abandonment ledger's record.
func (db *DB) LiveCalls(ctx context.Context, id survey.CampaignID, since time.Time) ([]survey.LiveCall, error) {
	var calls []survey.LiveCall
	err := db.retry(ctx, func() error {
		rows, err := db.pool.Query(ctx, sqlLiveCalls, id, since)
		if err != nil {
			return err
		}
		calls, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (survey.LiveCall, error) {
			var c survey.LiveCall
			err := row.Scan(&c.At, &c.Abandoned, &c.Machine)
			return c, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("live calls of campaign %d: %w", id, err)
	}
	return calls, nil
}

const (
	sqlQuotaFill = `
SELECT cell, count(*) FROM survey_case sc CROSS JOIN LATERAL unnest(sc.quota_cells) cell
WHERE sc.campaign_id = $1 AND sc.status = 'closed' AND sc.final_disposition = '1.1'
GROUP BY cell`
	sqlOpenCases = `
SELECT sc.id, ct.attrs, sc.quota_hold
FROM survey_case sc JOIN contact ct ON ct.id = sc.contact_id
WHERE sc.campaign_id = $1 AND sc.status IN ('open', 'appointment')`
	sqlSetQuotaHold = `UPDATE survey_case SET quota_hold = $2 WHERE id = $1 AND status IN ('open', 'appointment')`
)

// QuotaFill is campaign id's completes per quota cell.
func (db *DB) QuotaFill(ctx context.Context, id survey.CampaignID) (map[string]int, error) {
	fill := map[string]int{}
	err := db.retry(ctx, func() error {
		clear(fill)
		var (
			cell string
			n    int
		)
		rows, err := db.pool.Query(ctx, sqlQuotaFill, id)
		if err != nil {
			return err
		}
		_, err = pgx.ForEachRow(rows, []any{&cell, &n}, func() error { fill[cell] = n; return nil })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("quota fill of campaign %d: %w", id, err)
	}
	return fill, nil
}

// QuotaHolds sets the quota hold of campaign id's open cases as hold says
// from each one's contact fields and its current hold, changing only the
// cases whose hold changes; it returns how many changed.
func (db *DB) QuotaHolds(ctx context.Context, id survey.CampaignID, hold func(contact map[string]string) string) (int, error) {
	type open struct {
		id        survey.CaseID
		attrs     map[string]string
		held, now string
	}
	var cases []open
	err := db.retry(ctx, func() error {
		rows, err := db.pool.Query(ctx, sqlOpenCases, id)
		if err != nil {
			return err
		}
		cases, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (open, error) {
			var o open
			err := row.Scan(&o.id, &o.attrs, &o.held)
			return o, err
		})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("open cases of campaign %d: %w", id, err)
	}
	batch := &pgx.Batch{}
	for i := range cases {
		c := &cases[i]
		if c.now = hold(c.attrs); c.now != c.held {
			batch.Queue(sqlSetQuotaHold, c.id, c.now)
		}
	}
	if batch.Len() == 0 {
		return 0, nil
	}
	if err := db.retry(ctx, func() error { return db.pool.SendBatch(ctx, batch).Close() }); err != nil {
		return 0, fmt.Errorf("quota holds of campaign %d: %w", id, err)
	}
	return batch.Len(), nil
}

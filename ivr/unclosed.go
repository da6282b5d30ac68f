package ivr

// This file closes the interviews whose end could not be stored when their
// call ended, because the database was away longer than the store's retry
// budget. The call is over (the caller heard the apology, or hung up, or
// finished); only the interview's end is missing. A goroutine per such
// interview keeps trying until the database is back and closes it then with
// the status and cause of its call, not as lost. Should that take past
// Options.LostAfter, the lost-interview sweep finds it: on this node it
// still gives the interview its own cause (CloseLost consults the same
// list), since its process did not die.

import (
	"context"
	"sync"
	"time"

	"github.com/canvass/canvass/survey"
)

// pendingClose is how an interview ended, still to be stored.
type pendingClose struct {
	id     survey.InterviewID
	status survey.Status
	cause  string
	last   string
	// iv raises the end-time alerts; nil for none (its answers in memory
	// are not all stored).
	iv *survey.Interview
}

// unclosed are the interviews of this process waiting for the database to
// close them, by id.
type unclosed struct {
	mu  sync.Mutex
	ids map[survey.InterviewID]pendingClose
}

func (u *unclosed) add(p pendingClose) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ids == nil {
		u.ids = map[survey.InterviewID]pendingClose{}
	}
	u.ids[p.id] = p
}

func (u *unclosed) get(id survey.InterviewID) (pendingClose, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	p, ok := u.ids[id]
	return p, ok
}

func (u *unclosed) remove(id survey.InterviewID) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.ids, id)
}

// closeNow stores p's end.
func (e *Engine) closeNow(ctx context.Context, p pendingClose) error {
	if p.iv != nil {
		return e.finishInterview(ctx, p.id, p.iv, p.status, p.cause, p.last)
	}
	return e.store.FinishInterview(ctx, p.id, p.status, p.cause, p.last)
}

// closeAgainAfter is the longest pause between two rounds of closeLater;
// each round is itself the store's retry, for up to saveTimeout.
const closeAgainAfter = 2 * time.Second

// closeLater closes p as soon as the database takes it, trying until
// Options.LostAfter has passed; the sweep takes over after that.
func (e *Engine) closeLater(p pendingClose) {
	e.unclosed.add(p)
	log := e.log.With("interview_id", p.id, "status", p.status, "cause", p.cause)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), e.opts.LostAfter())
		defer cancel()
		pause := 100 * time.Millisecond
		for {
			rctx, done := context.WithTimeout(ctx, saveTimeout)
			err := e.closeNow(rctx, p)
			done()
			switch {
			case err == nil:
				e.unclosed.remove(p.id)
				log.Info("interview closed now that the database is back")
				return
			case survey.ErrorCodeOf(err) != survey.EInternal:
				// Closed meanwhile (the sweep, another node) or gone.
				e.unclosed.remove(p.id)
				log.Warn("interview not closed: it ended meanwhile", "err", err)
				return
			}
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				log.Error("interview still not closed; the lost-interview sweep will close it with its cause", "err", err)
				return
			case <-t.C:
			}
			pause = min(2*pause, closeAgainAfter)
		}
	}()
}

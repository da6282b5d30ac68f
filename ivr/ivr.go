// Package ivr runs keypad interviews over a call. One goroutine per call
// walks a survey.Interview through a small Channel (the embedded SIP
// endpoint, the Asterisk adapter, or the terminal of `canvass survey try`),
// and owns the keypad rules of DESIGN.md §3 once for all of them: reprompts
// after no input and no match, "*" to repeat, three attempts, skip or end,
// and every answer stored before the next prompt plays.
//
// Calls reach the engine through two seams. An adapter hands an inbound
// call over as Media for a Session (session.go, media.go). Outbound, an
// adapter is a Dialer (dial.go): Dial(ctx, DialRequest) places the call and
// returns the answered Call with a DialResult, running nothing on it;
// whoever dialed decides what does — Engine.Survey runs a questionnaire.
package ivr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/canvass/canvass/prompts"
	"github.com/canvass/canvass/survey"
)

// ErrHangup is returned by a Channel when the caller has hung up.
var ErrHangup = errors.New("caller hung up")

// ErrCannotRecord is returned by a Channel that cannot record audio; the
// question is then skipped.
var ErrCannotRecord = errors.New("this channel cannot record")

// Prompt is something to say: the questionnaire it belongs to ("" for
// stock phrases), its catalog id (question id, "intro", "nps.no_input",
// "language_menu"…), the text in the call's language, and that language.
// An adapter plays the prompt's recording when the catalog has one and
// synthesizes Text otherwise.
type Prompt struct {
	Questionnaire string
	ID            string
	Text          string
	Language      string
}

// GatherSpec says how many digits to collect and how long to wait.
type GatherSpec struct {
	MinDigits, MaxDigits int
	InitialTimeout       time.Duration // after the prompt ends
	InterDigitTimeout    time.Duration
	BargeIn              bool
}

// Input is what a gather collected.
type Input struct {
	Digits      string // the entry, without "#"
	Raw         string // every key pressed
	Repeat      bool   // "*" was pressed: say the question again
	BargeIn     bool   // a key interrupted the prompt
	PromptStart time.Time
	FirstKey    time.Duration // from prompt start; 0 when no key
}

// RecordSpec bounds a voice answer.
type RecordSpec struct {
	MaxDuration time.Duration
	Name        string // a unique name for the stored recording
}

// Recording is a stored voice answer.
type Recording struct {
	Name     string
	Duration time.Duration
}

// Channel is one call as the engine sees it.
type Channel interface {
	// Say plays a prompt to the end (statements, intro, thanks, reprompts).
	Say(ctx context.Context, p Prompt) error
	// Ask plays prompts in turn and collects keys per spec; with barge-in
	// a key stops the playing prompt and skips the rest.
	Ask(ctx context.Context, spec GatherSpec, ps ...Prompt) (Input, error)
	// Record plays a prompt, then records until "#", silence or the limit.
	Record(ctx context.Context, p Prompt, spec RecordSpec) (Recording, error)
	// Hangup ends the call.
	Hangup(ctx context.Context) error
}

// Store keeps interviews and answers as they are given; *sql.DB satisfies
// it (wired in cmd/canvass). Each call must be durable before it returns.
type Store interface {
	StartInterview(ctx context.Context, r survey.InterviewRecord) (survey.InterviewID, error)
	// SaveAnswer commits a together with clearing the answers to cleared,
	// which a changed answer made irrelevant, in one transaction.
	SaveAnswer(ctx context.Context, id survey.InterviewID, a survey.Answer, cleared ...string) error
	// DiscardInterview removes an interview in progress that never
	// started — no answer, no audio from the caller — keeping the call as
	// an attempt with cause; survey.Conflict if it has answers or ended.
	DiscardInterview(ctx context.Context, id survey.InterviewID, cause string) error
	FinishInterview(ctx context.Context, id survey.InterviewID, to survey.Status, cause, lastQuestion string) error
}

// AlertStore is a Store that raises a questionnaire's alerts with the
// answer or the end that triggers them, in one transaction, each at most
// once per interview (*sql.DB). With any other Store alerts are not raised.
type AlertStore interface {
	SaveAnswerAlerts(ctx context.Context, id survey.InterviewID, a survey.Answer, alerts []survey.Alert, cleared ...string) error
	FinishInterviewAlerts(ctx context.Context, id survey.InterviewID, to survey.Status, cause, lastQuestion string, alerts []survey.Alert) error
}

// CustomerHistory finds a customer's previous survey (*sql.DB), for the
// previous_nps of alert rules.
type CustomerHistory interface {
	LastInterviewOf(ctx context.Context, customer string, before time.Time, except survey.InterviewID) (survey.InterviewRecord, bool, error)
}

// previous gives iv the NPS its customer gave in their previous survey,
// when the store keeps history and the call names the customer.
func (e *Engine) previous(ctx context.Context, iv *survey.Interview, c survey.Context, id survey.InterviewID) {
	h, ok := e.store.(CustomerHistory)
	if !ok || c.CustomerID == "" || e.questionnaires == nil || len(iv.Questionnaire().Alerts) == 0 {
		return // nothing would read it: no query on the call's setup
	}
	rec, ok, err := h.LastInterviewOf(ctx, c.CustomerID, e.now(), id)
	if err != nil || !ok {
		if err != nil {
			e.log.Warn("customer history", "customer_id", c.CustomerID, "err", err)
		}
		return
	}
	v, err := e.questionnaires.Questionnaire(ctx, rec.Questionnaire, rec.Version)
	if err != nil {
		return
	}
	if q, err := e.parsed.Get(v); err == nil {
		if nps, ok := q.NPSOf(rec.Answers); ok {
			iv.SetPreviousNPS(nps)
		}
	}
}

// saveAnswer stores a, raising the alerts it triggers when the store can.
func (e *Engine) saveAnswer(ctx context.Context, id survey.InterviewID, iv *survey.Interview, a survey.Answer, cleared []string) error {
	if s, ok := e.store.(AlertStore); ok {
		if alerts := iv.Alerts(false, a.Question); len(alerts) > 0 {
			return s.SaveAnswerAlerts(ctx, id, a, alerts, cleared...)
		}
	}
	return e.store.SaveAnswer(ctx, id, a, cleared...)
}

// finishInterview closes the interview, raising its end-time alerts when
// the store can.
func (e *Engine) finishInterview(ctx context.Context, id survey.InterviewID, iv *survey.Interview, to survey.Status, cause, last string) error {
	if s, ok := e.store.(AlertStore); ok {
		if alerts := iv.Alerts(true, ""); len(alerts) > 0 {
			return s.FinishInterviewAlerts(ctx, id, to, cause, last, alerts)
		}
	}
	return e.store.FinishInterview(ctx, id, to, cause, last)
}

// Options tune the keypad rules.
type Options struct {
	Attempts          int           `yaml:"attempts"`
	InitialTimeout    time.Duration `yaml:"initial_timeout"`
	InterDigitTimeout time.Duration `yaml:"inter_digit_timeout"`
	// ScaleInterDigitTimeout is shorter on nps and scale questions, where a
	// first digit may be a whole answer ("1") or the start of one ("10").
	ScaleInterDigitTimeout time.Duration `yaml:"scale_inter_digit_timeout"`
	MaxRepeats             int           `yaml:"max_repeats"`
	MaxCallDuration        time.Duration `yaml:"max_call_duration"`
	// NodeTimeout: a node whose heartbeat stopped this long ago is dead,
	// and the other nodes close its keypad interviews as lost (lost.go).
	// It beats four times per NodeTimeout.
	NodeTimeout time.Duration `yaml:"node_timeout"`
	// LostSweep is how often a node looks for lost interviews.
	LostSweep time.Duration `yaml:"lost_sweep"`
}

// DefaultOptions are the DESIGN.md §3 values.
func DefaultOptions() Options {
	return Options{Attempts: 3, InitialTimeout: 5 * time.Second, InterDigitTimeout: 2 * time.Second,
		ScaleInterDigitTimeout: 1500 * time.Millisecond, MaxRepeats: 5, MaxCallDuration: 15 * time.Minute,
		NodeTimeout: 20 * time.Second, LostSweep: 10 * time.Second}
}

// Validate reports every bad option at once.
func (o Options) Validate() error {
	var errs []error
	if o.Attempts < 1 || o.Attempts > 10 {
		errs = append(errs, fmt.Errorf("ivr.attempts: %d must be between 1 and 10", o.Attempts))
	}
	for name, d := range map[string]time.Duration{"initial_timeout": o.InitialTimeout,
		"inter_digit_timeout": o.InterDigitTimeout, "scale_inter_digit_timeout": o.ScaleInterDigitTimeout} {
		if d < 500*time.Millisecond || d > 30*time.Second {
			errs = append(errs, fmt.Errorf("ivr.%s: %s must be between 500ms and 30s", name, d))
		}
	}
	if o.MaxRepeats < 0 {
		errs = append(errs, fmt.Errorf("ivr.max_repeats: %d must not be negative", o.MaxRepeats))
	}
	if o.MaxCallDuration < time.Minute {
		errs = append(errs, fmt.Errorf("ivr.max_call_duration: %s must be at least 1m", o.MaxCallDuration))
	}
	if o.NodeTimeout < time.Second {
		errs = append(errs, fmt.Errorf("ivr.node_timeout: %s must be at least 1s", o.NodeTimeout))
	}
	if o.LostSweep < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("ivr.lost_sweep: %s must be at least 100ms", o.LostSweep))
	}
	return errors.Join(errs...)
}

// Engine runs interviews over calls.
type Engine struct {
	opts           Options
	store          Store
	questionnaires Questionnaires
	log            *slog.Logger
	now            func() time.Time
	parsed         *survey.Parsed
	unclosed       unclosed
	node           node
}

// New returns an Engine. A nil store keeps answers only in the Interview
// (the terminal of `canvass survey try`); questionnaires may be nil when
// calls are not prepared through Prepare.
func New(opts Options, store Store, questionnaires Questionnaires, log *slog.Logger, now func() time.Time) *Engine {
	if now == nil {
		now = time.Now
	}
	return &Engine{opts: opts, store: store, questionnaires: questionnaires, log: log, now: now, parsed: new(survey.Parsed)}
}

// Parsed is the engine's questionnaire parse cache, for the HTTP server to
// share.
func (e *Engine) Parsed() *survey.Parsed { return e.parsed }

// saveTimeout bounds storing one answer once it is given, whatever happens
// to the call meanwhile. The store retries within it (a database restart
// takes a fraction of a second); the caller hears silence meanwhile.
const saveTimeout = 10 * time.Second

// CauseUnsaved is the end cause of an interview whose last answer could not
// be stored within saveTimeout: the caller heard the apology, and the
// interview was closed with what was stored.
const CauseUnsaved = "answer_not_saved"

// unsavedError is walk's report that an answer could not be stored; status
// is what the answers stored before it earn.
type unsavedError struct {
	question string
	status   survey.Status
	err      error
}

func (u *unsavedError) Error() string {
	return fmt.Sprintf("answer to %s not stored: %v", u.question, u.err)
}
func (u *unsavedError) Unwrap() error { return u.err }

// Run conducts iv over ch until it is complete, the caller hangs up, or the
// call lasts too long, and returns how the interview ended. Answers already
// stored stay stored whatever happens; the interview is closed as complete,
// partial or break-off with the cause — unless the caller's audio never
// arrived and nothing was answered: then it was no interview, the store
// keeps the call as an attempt, and the status is "".
func (e *Engine) Run(ctx context.Context, ch Channel, iv *survey.Interview, id survey.InterviewID) (survey.Status, error) {
	return e.run(ctx, ch, iv, id, handover{})
}

// handover is what a call's interview may do besides ending: keep leaves
// an interview the caller hung up on in progress (CallInfo.Keep); key and
// transfer hand the call to an interviewer (CallInfo.AgentKey, Transfer).
type handover struct {
	keep     bool
	key      string
	transfer func(ctx context.Context, id survey.InterviewID) (bool, error)
}

// causeTransferred is walk's cause when an interviewer took the call.
const causeTransferred = "transferred"

// errAgentKey is ask's report that the caller pressed the agent key.
var errAgentKey = errors.New("the caller asked for an interviewer")

// run is Run with h; a kept or transferred interview stays in progress,
// and run then reports survey.StatusInProgress.
func (e *Engine) run(ctx context.Context, ch Channel, iv *survey.Interview, id survey.InterviewID, h handover) (survey.Status, error) {
	callCtx, cancel := context.WithTimeout(ctx, e.opts.MaxCallDuration)
	defer cancel()
	cause, err := e.walk(callCtx, ch, iv, id, h)
	if err != nil && callCtx.Err() != nil && ctx.Err() == nil {
		cause, err = "max_call_duration", nil
	}
	return e.finish(ctx, ch, iv, id, h, cause, err)
}

// finish records how the interview ended: cause and err are walk's.
func (e *Engine) finish(ctx context.Context, ch Channel, iv *survey.Interview, id survey.InterviewID, h handover, cause string, err error) (survey.Status, error) {
	log := e.log.With("interview_id", id, "questionnaire", iv.Questionnaire().ID)
	if cause == causeTransferred && err == nil {
		log.Info("call handed to an interviewer; the interview goes on in the console")
		return survey.StatusInProgress, nil
	}
	keep := h.keep
	last := ""
	if qq := iv.Current(); qq != nil {
		last = qq.ID
	}
	status := iv.Outcome()
	var unsaved *unsavedError
	switch {
	case errors.As(err, &unsaved) && survey.ErrorCodeOf(err) == survey.EInternal:
		// The store is unreachable (an interview closed or deleted meanwhile
		// is a conflict: that one is only an error). The caller is told, and
		// the interview ends with what was stored.
		status, cause, last = unsaved.status, CauseUnsaved, unsaved.question
		log.Error("answer not saved within its budget; apologizing", "question", unsaved.question, "err", unsaved.err)
		e.apologize(ctx, ch, iv.Language())
	case errors.Is(err, ErrHangup):
		cause, err = "hangup", nil
		if ec, ok := ch.(EndCauser); ok && ec.EndCause() != "" {
			cause = ec.EndCause() // the line died rather than the caller hanging up
		}
	case err == nil:
	case ctx.Err() != nil:
		cause = "shutdown"
	default:
		cause = "error"
	}
	// Close the interview even if ctx was cancelled: a shutdown must still
	// record how the interview ended.
	finishCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer done()
	if w, ok := ch.(MediaWitness); ok && !w.ReceivedMedia() && len(iv.Answers()) == 0 && e.store != nil {
		// Not an interview: the caller's audio never arrived.
		if derr := e.store.DiscardInterview(finishCtx, id, cause); derr == nil {
			log.Info("no audio from the caller: kept as a call, not an interview", "cause", cause)
			return "", err
		} else if !errors.Is(derr, survey.Conflict) {
			log.Error("discard interview", "cause", cause, "err", derr)
		}
	}
	if keep && status != survey.StatusComplete && cause != "completed" && cause != "no_valid_answer" {
		// The dialer calls back and the interview resumes where it stopped.
		log.Info("interview left in progress for the call back", "cause", cause, "last_question", last)
		if cause != "hangup" && cause != CauseUnsaved {
			if herr := ch.Hangup(finishCtx); herr != nil && !errors.Is(herr, ErrHangup) {
				log.Warn("hang up", "err", herr)
			}
		}
		return survey.StatusInProgress, err
	}
	if e.store != nil {
		p := pendingClose{id: id, status: status, cause: cause, last: last, iv: iv}
		if cause == CauseUnsaved {
			// The database just failed for saveTimeout: close in the
			// background as soon as it is back, without holding the call.
			// No end-time alerts: they would count the answer not stored.
			p.iv = nil
			e.closeLater(p)
		} else if ferr := e.closeNow(finishCtx, p); ferr != nil {
			if survey.ErrorCodeOf(ferr) == survey.EInternal {
				// The database is away: close it as soon as it is back.
				log.Error("close interview: closing it when the database is back", "status", status, "cause", cause, "err", ferr)
				e.closeLater(p)
			} else {
				log.Error("close interview", "status", status, "cause", cause, "err", ferr)
			}
			err = errors.Join(err, ferr)
		}
	}
	if cause != "hangup" && cause != CauseUnsaved {
		if herr := ch.Hangup(finishCtx); herr != nil && !errors.Is(herr, ErrHangup) {
			log.Warn("hang up", "err", herr)
		}
	}
	log.Info("interview ended", "status", status, "cause", cause, "last_question", last)
	return status, err
}

// walk asks every relevant question; it returns the cause of a normal end.
func (e *Engine) walk(ctx context.Context, ch Channel, iv *survey.Interview, id survey.InterviewID, h handover) (string, error) {
	lang := iv.Language()
	if text := iv.Intro(); text != "" {
		if err := ch.Say(ctx, Prompt{Questionnaire: iv.Questionnaire().ID, ID: "intro", Text: text, Language: lang}); err != nil {
			return "", err
		}
	}
	for qq := iv.Current(); qq != nil; qq = iv.Current() {
		stored := iv.Outcome() // what the stored answers earn, should this one not be stored
		answer, cleared, err := e.ask(ctx, ch, iv, qq, h.key)
		if errors.Is(err, errAgentKey) {
			handed, err := e.transfer(ctx, ch, iv, id, h)
			if err != nil {
				return "", err
			}
			if handed {
				return causeTransferred, nil
			}
			continue // the same question again
		}
		if err != nil {
			return "", err
		}
		if answer == nil && qq.Answerable() {
			return "no_valid_answer", nil // a required question was not answered
		}
		if e.store == nil || answer == nil { // a statement: nothing to store
			continue
		}
		// An answer given is stored even if the call ends (shutdown, the
		// longest call) at this very moment: Run then counts it.
		answer.Paradata.Mode = survey.ModeIVR
		sctx, done := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		err = e.saveAnswer(sctx, id, iv, *answer, cleared)
		done()
		if err != nil {
			return "", &unsavedError{question: qq.ID, status: stored, err: err}
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
	}
	if text := iv.Thanks(); text != "" {
		if err := ch.Say(ctx, Prompt{Questionnaire: iv.Questionnaire().ID, ID: "thanks", Text: text, Language: lang}); err != nil {
			return "", err
		}
	}
	return "completed", nil
}

// transfer asks h for an interviewer to take the call, telling the caller
// to hold, and that the survey goes on when nobody took it.
func (e *Engine) transfer(ctx context.Context, ch Channel, iv *survey.Interview, id survey.InterviewID, h handover) (bool, error) {
	lang := iv.Language()
	if err := ch.Say(ctx, Prompt{ID: prompts.PhraseTransfer, Text: phrase(lang, prompts.PhraseTransfer), Language: lang}); err != nil {
		return false, err
	}
	handed, err := h.transfer(ctx, id)
	if err != nil {
		e.log.Warn("hand the call to an interviewer", "interview_id", id, "err", err)
	}
	if handed {
		return true, nil
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return false, ch.Say(ctx, Prompt{ID: prompts.PhraseNoAgent, Text: phrase(lang, prompts.PhraseNoAgent), Language: lang})
}

// ask puts one question to the caller, with reprompts, and records the
// result in iv. It returns nil, nil, nil when a required question got no
// valid answer after every attempt, and errAgentKey when the caller
// pressed agentKey ("" for none) alone where it is no answer.
func (e *Engine) ask(ctx context.Context, ch Channel, iv *survey.Interview, qq *survey.Question, agentKey string) (*survey.Answer, []string, error) {
	lang := iv.Language()
	prompt := Prompt{Questionnaire: iv.Questionnaire().ID, ID: qq.ID, Text: iv.Text(qq), Language: lang}
	switch qq.Type {
	case survey.TypeStatement:
		if err := ch.Say(ctx, prompt); err != nil {
			return nil, nil, err
		}
		return iv.Answer(nil, survey.Paradata{})
	case survey.TypeRecording:
		start := e.now()
		rec, err := ch.Record(ctx, prompt, RecordSpec{MaxDuration: time.Duration(qq.MaxSeconds) * time.Second,
			Name: fmt.Sprintf("%s-%d", qq.ID, start.UnixNano())})
		pd := survey.Paradata{PromptStart: start, RecordingMS: rec.Duration.Milliseconds()}
		if errors.Is(err, ErrCannotRecord) || err == nil && rec.Name == "" {
			return e.skip(iv, qq, pd)
		}
		if err != nil {
			return nil, nil, err
		}
		pd.DurationMillis = e.now().Sub(start).Milliseconds()
		return iv.Answer(rec.Name, pd)
	}
	minD, maxD, _ := qq.Keypad()
	spec := GatherSpec{MinDigits: minD, MaxDigits: maxD, InitialTimeout: e.opts.InitialTimeout,
		InterDigitTimeout: e.opts.InterDigitTimeout, BargeIn: true}
	if qq.Type == survey.TypeNPS || qq.Type == survey.TypeScale {
		spec.InterDigitTimeout = e.opts.ScaleInterDigitTimeout
	}
	var pd survey.Paradata
	for attempt := 0; attempt < e.opts.Attempts; {
		in, err := ch.Ask(ctx, spec, prompt)
		if err != nil {
			return nil, nil, err
		}
		if pd.PromptStart.IsZero() {
			pd.PromptStart = in.PromptStart
		}
		if pd.FirstKeyMillis == 0 && in.FirstKey > 0 {
			pd.FirstKeyMillis = in.FirstKey.Milliseconds()
		}
		pd.RawKeys += in.Raw
		pd.BargeIn = pd.BargeIn || in.BargeIn
		prompt.Text = iv.Text(qq)
		if in.Repeat && pd.Repeats < e.opts.MaxRepeats {
			pd.Repeats++ // "*" repeats without using an attempt
			continue
		}
		attempt++
		if in.Digits == "" {
			pd.NoInput++
			if err := e.reprompt(ctx, ch, iv, qq, true, attempt); err != nil {
				return nil, nil, err
			}
			continue
		}
		v, perr := qq.ParseKeys(in.Digits)
		if perr != nil && agentKey != "" && in.Digits == agentKey {
			return nil, nil, errAgentKey
		}
		if perr == nil {
			pd.DurationMillis = e.now().Sub(pd.PromptStart).Milliseconds()
			a, cleared, err := iv.Answer(v, pd)
			if err == nil {
				return a, cleared, nil
			}
			if survey.ErrorCodeOf(err) != survey.EInvalid {
				return nil, nil, err
			}
		}
		pd.NoMatch++
		if err := e.reprompt(ctx, ch, iv, qq, false, attempt); err != nil {
			return nil, nil, err
		}
	}
	return e.skip(iv, qq, pd)
}

// skip records a question as unanswered, or reports that a required one
// ends the interview.
func (e *Engine) skip(iv *survey.Interview, qq *survey.Question, pd survey.Paradata) (*survey.Answer, []string, error) {
	if qq.Required {
		return nil, nil, nil
	}
	return iv.Skip(pd)
}

func (e *Engine) reprompt(ctx context.Context, ch Channel, iv *survey.Interview, qq *survey.Question, noInput bool, attempt int) error {
	if attempt >= e.opts.Attempts {
		return nil // no reprompt before giving up
	}
	id, text := qq.ID+".no_match", iv.Reprompt(qq, noInput)
	if noInput {
		id = qq.ID + ".no_input"
	}
	p := Prompt{Questionnaire: iv.Questionnaire().ID, ID: id, Text: text, Language: iv.Language()}
	if text == "" { // a stock phrase
		p.Questionnaire, p.ID = "", id[len(qq.ID)+1:]
		p.Text = phrase(iv.Language(), p.ID)
	}
	return ch.Say(ctx, p)
}

// phrase returns a stock phrase; the catalog owns their texts so that its
// coverage check lists exactly what the engine says.
func phrase(lang, id string) string { return prompts.Phrase(lang, id) }

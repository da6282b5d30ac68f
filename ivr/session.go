package ivr

// This file is how an adapter hands a call to the engine: Prepare, before
// answering, finds the questionnaire (so an unknown one can be refused with
// a SIP 404 or an apology); Session.Run, once answered, picks the language,
// starts the stored interview and runs it.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/canvass/canvass/prompts"
	"github.com/canvass/canvass/survey"
)

// Questionnaires finds stored questionnaires; *sql.DB satisfies it through
// cmd/canvass. A missing one is an error with code survey.ENotFound.
type Questionnaires interface {
	Questionnaire(ctx context.Context, id string, version int) (survey.QuestionnaireVersion, error)
}

// CallInfo is what an adapter knows of a call before answering it.
type CallInfo struct {
	Questionnaire string // from the request URI, the Stasis args…
	// Version is the questionnaire's latest version as the adapter just
	// read it from the database (the request gate's decision tells it);
	// 0 = Prepare asks.
	Version  int
	Language string // "" = ask with a language menu when there are several
	Context  survey.Context
	// Contact is the respondent's fields of an outbound call, for the
	// questionnaire's piping and relevance (contact.<field>).
	Contact map[string]string
	// CaseID and AttemptID are the case and dial attempt of an outbound
	// call (DialRequest's); 0 for an inbound one. The interview keeps them.
	CaseID    survey.CaseID
	AttemptID survey.AttemptID
	// Resume is the case's keypad interview in progress, left by a call
	// that ended early: the call resumes it at its first unanswered
	// question instead of starting again (the store must be a Resumer).
	Resume survey.InterviewID
	// Keep leaves the interview in progress when the caller hangs up
	// before its end, for the dialer's call back to resume; without it a
	// hangup ends the interview as partial or break-off.
	Keep bool
	// OnMachine is what Engine.Survey does with a dialed call that
	// answering-machine detection took for a machine: "" runs the survey
	// anyway, "hangup" hangs up, "message" says Message and hangs up. No
	// interview is started for a machine that is not surveyed.
	OnMachine string
	Message   string
	// AgentKey is mixed mode: pressed alone on a question it does not
	// answer, it asks Transfer to hand the call to an interviewer. "" is
	// off.
	AgentKey string
	// Transfer hands call, whose interview id is in progress, to a free
	// interviewer and reports whether one took it: the call is then
	// theirs, and the engine lets go of it, the interview still in
	// progress. Otherwise the keypad survey goes on. Only a dialed call
	// (Engine.Survey) can be handed over.
	Transfer func(ctx context.Context, call Call, id survey.InterviewID) (bool, error)
}

// Resumer is the store of an engine that resumes interviews on a call
// back; *sql.DB is one.
type Resumer interface {
	// ResumeInterview puts interview id, still in progress, on the new
	// call attempt and returns it with its answers; survey.Conflict when
	// it has ended meanwhile.
	ResumeInterview(ctx context.Context, id survey.InterviewID, attempt survey.AttemptID) (survey.InterviewRecord, error)
}

// Session is a prepared call.
type Session struct {
	e       *Engine
	q       *survey.Questionnaire
	version int
	info    CallInfo
}

// Prepare finds the latest version of the call's questionnaire (parsed
// once per version: see questionnaires.go). It fails
// with survey.ENotFound for an unknown questionnaire and survey.EInvalid for
// one that cannot run on a keypad.
func (e *Engine) Prepare(ctx context.Context, info CallInfo) (*Session, error) {
	if info.Questionnaire == "" {
		return nil, survey.Errorf(survey.EInvalid, "the call names no questionnaire")
	}
	q, version, err := e.latest(ctx, info.Questionnaire, info.Version)
	if err != nil {
		return nil, err
	}
	if !q.HasMode(survey.ModeIVR) {
		return nil, survey.Errorf(survey.EInvalid, "questionnaire %s is not a keypad survey (modes %v)", q.ID, q.Modes)
	}
	if info.Language != "" && !slices.Contains(q.Languages, info.Language) {
		e.log.Warn("call asks for a language the questionnaire lacks; asking the caller", "questionnaire", q.ID, "language", info.Language)
		info.Language = ""
	}
	return &Session{e: e, q: q, version: version, info: info}, nil
}

// Questionnaire is the questionnaire the session runs.
func (s *Session) Questionnaire() *survey.Questionnaire { return s.q }

// Version is the version of the questionnaire the session runs.
func (s *Session) Version() int { return s.version }

// Run conducts the survey over an answered call and returns how it ended.
// A caller who hangs up during the language menu leaves no interview.
func (s *Session) Run(ctx context.Context, m Media) (survey.Status, error) {
	ch := NewCall(m, s.e.now)
	h := handover{keep: s.info.Keep}
	if c, ok := m.(Call); ok && s.info.AgentKey != "" && s.info.Transfer != nil {
		h.key = s.info.AgentKey
		h.transfer = func(ctx context.Context, id survey.InterviewID) (bool, error) { return s.info.Transfer(ctx, c, id) }
	}
	if s.info.Resume != 0 {
		iv, id, ok, err := s.resume(ctx)
		if err != nil {
			s.e.apologize(ctx, ch, s.q.DefaultLanguage())
			return "", err
		}
		if ok {
			if err := s.e.welcomeBack(ctx, ch, iv); err != nil {
				return s.e.finish(ctx, ch, iv, id, h, "", err)
			}
			return s.e.run(ctx, ch, iv, id, h)
		}
	}
	lang := s.info.Language
	if lang == "" {
		var err error
		if lang, err = s.e.languageMenu(ctx, ch, s.q); err != nil {
			if hangErr := ch.Hangup(context.WithoutCancel(ctx)); hangErr != nil {
				s.e.log.Debug("hang up after the language menu", "err", hangErr)
			}
			return survey.StatusBreakoff, nil
		}
	}
	iv, err := s.q.Start(lang, s.info.Contact, s.e.now)
	if err != nil {
		return "", err
	}
	iv.SetContext(s.info.Context)
	s.e.previous(ctx, iv, s.info.Context, 0)
	id, err := s.e.store.StartInterview(ctx, survey.InterviewRecord{Questionnaire: s.q.ID, Version: s.version,
		Mode: survey.ModeIVR, Language: lang, Context: s.info.Context, Contact: s.info.Contact,
		CaseID: s.info.CaseID, AttemptID: s.info.AttemptID, Node: s.e.node.id()})
	if err != nil {
		s.e.apologize(ctx, ch, lang)
		return "", fmt.Errorf("start interview: %w", err)
	}
	return s.e.run(ctx, ch, iv, id, h)
}

// resume loads the case's interview in progress at the version it is
// pinned to, with its answers; ok is false when it ended meanwhile (a new
// one starts then).
func (s *Session) resume(ctx context.Context) (*survey.Interview, survey.InterviewID, bool, error) {
	r, ok := s.e.store.(Resumer)
	if !ok {
		return nil, 0, false, nil
	}
	rec, err := r.ResumeInterview(ctx, s.info.Resume, s.info.AttemptID)
	if survey.ErrorCodeOf(err) == survey.EConflict {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("resume interview %d: %w", s.info.Resume, err)
	}
	v, err := s.e.questionnaires.Questionnaire(ctx, rec.Questionnaire, rec.Version)
	if err != nil {
		return nil, 0, false, fmt.Errorf("resume interview %d: questionnaire %s version %d: %w", rec.ID, rec.Questionnaire, rec.Version, err)
	}
	q, err := s.e.parsed.Get(v)
	if err != nil {
		return nil, 0, false, err
	}
	iv, err := q.Resume(rec.Language, rec.Contact, rec.Answers, s.e.now)
	if err != nil {
		return nil, 0, false, fmt.Errorf("resume interview %d: %w", rec.ID, err)
	}
	iv.SetContext(rec.Context)
	s.e.previous(ctx, iv, rec.Context, rec.ID)
	return iv, rec.ID, true, nil
}

// welcomeBack tells a caller whose interview resumes where it stands: the
// questionnaire's resume text, or the stock phrase, with {question} and
// {questions} the number of the question it resumes at and how many there
// are.
func (e *Engine) welcomeBack(ctx context.Context, ch Channel, iv *survey.Interview) error {
	q, lang := iv.Questionnaire(), iv.Language()
	at, total := 0, 0
	cur := iv.Current()
	for _, qq := range q.Questions {
		if !qq.Answerable() {
			continue
		}
		total++
		if cur != nil && qq.ID == cur.ID {
			at = total
		}
	}
	if at == 0 {
		at = total
	}
	p := Prompt{ID: prompts.PhraseResume, Language: lang, Text: phrase(lang, prompts.PhraseResume)}
	if t := q.ResumeText.In(lang, q.DefaultLanguage()); t != "" {
		p = Prompt{Questionnaire: q.ID, ID: "resume", Language: lang, Text: t}
	}
	p.Text = strings.NewReplacer("{question}", strconv.Itoa(at), "{questions}", strconv.Itoa(total)).Replace(p.Text)
	return ch.Say(ctx, p)
}

// languageMenu asks "for English press 1, pour le français appuyez sur 2"
// when the questionnaire has several languages; the first language is the
// answer when the caller presses nothing valid.
func (e *Engine) languageMenu(ctx context.Context, ch Channel, q *survey.Questionnaire) (string, error) {
	if len(q.Languages) == 1 {
		return q.Languages[0], nil
	}
	var ps []Prompt
	for i, l := range q.Languages {
		// One recording per language and key: "language_menu.2" says "press 2".
		ps = append(ps, Prompt{ID: fmt.Sprintf("%s.%d", prompts.PhraseLanguageMenu, i+1), Language: l,
			Text: fmt.Sprintf(phrase(l, prompts.PhraseLanguageMenu), i+1)})
	}
	spec := GatherSpec{MinDigits: 1, MaxDigits: 1, InitialTimeout: e.opts.InitialTimeout,
		InterDigitTimeout: e.opts.InterDigitTimeout, BargeIn: true}
	for attempt := 0; attempt < e.opts.Attempts; attempt++ {
		in, err := ch.Ask(ctx, spec, ps...)
		if err != nil {
			return "", err
		}
		if len(in.Digits) == 1 && in.Digits[0] >= '1' && int(in.Digits[0]-'1') < len(q.Languages) {
			return q.Languages[in.Digits[0]-'1'], nil
		}
	}
	return q.Languages[0], nil
}

// apologize tells the caller the survey cannot run and hangs up.
func (e *Engine) apologize(ctx context.Context, ch Channel, lang string) {
	say, cancel := context.WithTimeout(context.WithoutCancel(ctx), apologyLimit)
	defer cancel()
	if err := ch.Say(say, Prompt{ID: prompts.PhraseApology, Language: lang, Text: phrase(lang, prompts.PhraseApology)}); err != nil {
		e.log.Debug("apology", "err", err)
	}
	hangup, cancel := context.WithTimeout(context.WithoutCancel(ctx), hangupLimit)
	defer cancel()
	if err := ch.Hangup(hangup); err != nil {
		e.log.Debug("hang up after apology", "err", err)
	}
}

// apologyLimit and hangupLimit bound the apology and the hang-up after it:
// a channel whose playback never reports its end (Asterisk gone, its events
// closed at shutdown) must not hold the call, or the shutdown, for ever.
var (
	apologyLimit = 30 * time.Second
	hangupLimit  = 10 * time.Second
)

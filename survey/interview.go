package survey

// This file is the interview engine: it walks a questionnaire for one
// respondent — current question, piped text, answer with validation, skip,
// back-up, resume from stored answers, completion — for IVR and CATI alike.
// It holds no locks and does no I/O: callers store each Answer it returns
// before asking the next question.

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Interview is one respondent's pass through a questionnaire. It is not safe
// for concurrent use; each call or console session owns its own.
type Interview struct {
	q       *Questionnaire
	lang    string
	contact map[string]string
	answers map[string]Answer
	cursor  int // index of the current question; len(q.Questions) when done
	now     func() time.Time
	started bool
	context Context // the call's, for alert rules
	// previousNPS is the customer's previous NPS (alert rules); nil
	// unknown.
	previousNPS *int64
}

// ErrAtStart is returned by Back on the first question.
var ErrAtStart = errors.New("already at the first question")

// ErrDone is returned when answering a finished interview.
var ErrDone = errors.New("the interview is already complete")

// Start begins an interview in lang ("" = the questionnaire's default) with
// the given contact fields.
func (q *Questionnaire) Start(lang string, contact map[string]string, now func() time.Time) (*Interview, error) {
	return q.Resume(lang, contact, nil, now)
}

// Resume rebuilds an interview from stored answers, so that a reconnecting
// console or a restarted node continues where the respondent was: at the
// first relevant question without an answer, after any statements before it.
func (q *Questionnaire) Resume(lang string, contact map[string]string, answers []Answer, now func() time.Time) (*Interview, error) {
	if lang == "" {
		lang = q.DefaultLanguage()
	}
	if !slices.Contains(q.Languages, lang) {
		return nil, Errorf(EInvalid, "language %q is not one of this questionnaire's languages %v", lang, q.Languages)
	}
	if now == nil {
		now = time.Now
	}
	iv := &Interview{q: q, lang: lang, contact: contact, answers: map[string]Answer{}, now: now}
	for _, a := range answers {
		qq := q.Question(a.Question)
		if qq == nil {
			return nil, Errorf(EInvalid, "stored answer to unknown question %q", a.Question)
		}
		if !a.Skipped {
			v, err := qq.Normalize(a.Value)
			if err != nil {
				return nil, fmt.Errorf("stored answer to %s: %w", a.Question, err)
			}
			a.Value = v
		}
		iv.answers[a.Question] = a
	}
	iv.started = len(answers) > 0
	iv.cursor = len(q.Questions)
	for i, qq := range q.Questions {
		if _, done := iv.answers[qq.ID]; !done && qq.Answerable() && iv.relevant(qq) {
			iv.cursor = i
			break
		}
	}
	for iv.cursor > 0 {
		prev := q.Questions[iv.cursor-1]
		if prev.Answerable() || !iv.relevant(prev) {
			break
		}
		iv.cursor--
	}
	if !iv.started {
		iv.cursor = iv.next(-1)
	}
	return iv, nil
}

// Questionnaire is the questionnaire the interview follows.
func (iv *Interview) Questionnaire() *Questionnaire { return iv.q }

// Language is the interview's language.
func (iv *Interview) Language() string { return iv.lang }

// Current is the question to ask now, nil once the interview is complete.
func (iv *Interview) Current() *Question {
	if iv.cursor >= len(iv.q.Questions) {
		return nil
	}
	return iv.q.Questions[iv.cursor]
}

// Done reports whether every relevant question has been asked.
func (iv *Interview) Done() bool { return iv.cursor >= len(iv.q.Questions) }

func (iv *Interview) env() map[string]any { return env(iv.q, iv.answers, iv.contact) }

// relevant reports whether qq should be asked given the answers so far.
func (iv *Interview) relevant(qq *Question) bool {
	if qq.when == nil {
		return true
	}
	v, ok := qq.when.eval(iv.env())
	return ok && v == true
}

// next returns the index of the first relevant question after i.
func (iv *Interview) next(i int) int {
	for j := i + 1; j < len(iv.q.Questions); j++ {
		if iv.relevant(iv.q.Questions[j]) {
			return j
		}
	}
	return len(iv.q.Questions)
}

// Text is qq's text in the interview's language with piping applied.
func (iv *Interview) Text(qq *Question) string { return iv.say(qq, qq.Text) }

// Say applies qq's piping to one of its texts (reprompts, option texts).
func (iv *Interview) say(qq *Question, t Text) string {
	return qq.pipes.apply(t.In(iv.lang, iv.q.DefaultLanguage()), iv.lang, iv.env())
}

// OptionText is an option's text in the interview's language.
func (iv *Interview) OptionText(qq *Question, o Option) string { return iv.say(qq, o.Text) }

// Reprompt is what to say after no input or an invalid entry; "" when the
// questionnaire gives none (the channel then repeats the question).
func (iv *Interview) Reprompt(qq *Question, noInput bool) string {
	if noInput {
		return iv.say(qq, qq.NoInput)
	}
	return iv.say(qq, qq.NoMatch)
}

// RecordingConsent is what the interviewer reads when a recorded call
// starts, in the interview's language; "" when the questionnaire has none.
func (iv *Interview) RecordingConsent() string {
	return iv.q.RecordingConsent.In(iv.lang, iv.q.DefaultLanguage())
}

// Intro and Thanks are the questionnaire's opening and closing texts.
func (iv *Interview) Intro() string {
	return iv.q.pipes.apply(iv.q.Intro.In(iv.lang, iv.q.DefaultLanguage()), iv.lang, iv.env())
}

// Thanks is the closing text.
func (iv *Interview) Thanks() string {
	return iv.q.pipes.apply(iv.q.Thanks.In(iv.lang, iv.q.DefaultLanguage()), iv.lang, iv.env())
}

// Previous returns the answer already given to qq, if any (after a back-up).
func (iv *Interview) Previous(qq *Question) (Answer, bool) {
	a, ok := iv.answers[qq.ID]
	return a, ok
}

// Answers returns the answers in questionnaire order.
func (iv *Interview) Answers() []Answer {
	var out []Answer
	for _, qq := range iv.q.Questions {
		if a, ok := iv.answers[qq.ID]; ok {
			out = append(out, a)
		}
	}
	return out
}

// Answer records v as the answer to the current question and moves on. It
// returns the Answer to store and the ids of later answers that the new
// answer made irrelevant (to clear in the store). A value that fails
// validation returns an *Error with code EInvalid and changes nothing. On a
// statement, v is ignored and no Answer is returned.
func (iv *Interview) Answer(v any, pd Paradata) (*Answer, []string, error) {
	qq := iv.Current()
	if qq == nil {
		return nil, nil, ErrDone
	}
	if !qq.Answerable() {
		iv.cursor = iv.next(iv.cursor)
		return nil, nil, nil
	}
	v, err := qq.Normalize(v)
	if err != nil {
		return nil, nil, err
	}
	if err := iv.check(qq, v); err != nil {
		return nil, nil, err
	}
	return iv.record(qq, Answer{Question: qq.ID, Value: v, Paradata: pd, AnsweredAt: iv.now()})
}

// Skip records the current question as skipped (no valid answer) and moves
// on. A required question cannot be skipped.
func (iv *Interview) Skip(pd Paradata) (*Answer, []string, error) {
	qq := iv.Current()
	if qq == nil {
		return nil, nil, ErrDone
	}
	if qq.Required {
		return nil, nil, Errorf(EInvalid, "%s is required and cannot be skipped", qq.ID)
	}
	if !qq.Answerable() {
		iv.cursor = iv.next(iv.cursor)
		return nil, nil, nil
	}
	return iv.record(qq, Answer{Question: qq.ID, Skipped: true, Paradata: pd, AnsweredAt: iv.now()})
}

func (iv *Interview) record(qq *Question, a Answer) (*Answer, []string, error) {
	iv.answers[qq.ID] = a
	iv.started = true
	// Relevance only depends on earlier answers, so one forward pass clears
	// every answer the change made irrelevant, cascades included.
	var cleared []string
	for _, later := range iv.q.Questions[iv.cursor+1:] {
		if _, has := iv.answers[later.ID]; has && !iv.relevant(later) {
			delete(iv.answers, later.ID)
			cleared = append(cleared, later.ID)
		}
	}
	iv.cursor = iv.next(iv.cursor)
	return &a, cleared, nil
}

// Back moves to the previous relevant question, keeping its answer (shown
// as Previous) until a new one replaces it.
func (iv *Interview) Back() (*Question, error) {
	for j := iv.cursor - 1; j >= 0; j-- {
		if qq := iv.q.Questions[j]; iv.relevant(qq) {
			iv.cursor = j
			return qq, nil
		}
	}
	return nil, ErrAtStart
}

// check validates a normalized value against the question's range, options
// and validate expression.
func (iv *Interview) check(qq *Question, v any) error {
	switch qq.Type {
	case TypeNPS, TypeScale, TypeNumber:
		n := v.(int64)
		if n < qq.Min || n > qq.Max {
			return Errorf(EInvalid, "%s: %d is out of range %d to %d", qq.ID, n, qq.Min, qq.Max)
		}
	case TypeChoice:
		if _, ok := qq.Option(v.(string)); !ok {
			return Errorf(EInvalid, "%s: %q is not one of the options", qq.ID, v)
		}
	case TypeMulti:
		seen := map[string]bool{}
		for _, s := range v.([]string) {
			if _, ok := qq.Option(s); !ok || seen[s] {
				return Errorf(EInvalid, "%s: %q is not one of the options, or is given twice", qq.ID, s)
			}
			seen[s] = true
		}
		if len(seen) == 0 {
			return Errorf(EInvalid, "%s: pick at least one option", qq.ID)
		}
	case TypeText:
		text := v.(string)
		if strings.TrimSpace(text) == "" {
			return Errorf(EInvalid, "%s: the answer is empty", qq.ID)
		}
		if !utf8.ValidString(text) || strings.ContainsRune(text, 0) {
			return Errorf(EInvalid, "%s: the answer holds a NUL character or is not UTF-8 text; remove what was pasted with it", qq.ID)
		}
	}
	if qq.validate != nil {
		e := iv.env()
		e["value"] = exprValue(v)
		if ok, _ := qq.validate.eval(e); ok != true {
			msg := iv.say(qq, qq.message)
			if msg == "" {
				msg = fmt.Sprintf("%s: the answer fails the check %s", qq.ID, qq.validate.src)
			}
			return Errorf(EInvalid, "%s", msg)
		}
	}
	return nil
}

// Normalize converts a value as it arrives — from the engine, from JSON
// (float64, json.Number, []any) or from the store — to the question's Go
// type (see Answer). It does not check ranges or options.
func (qq *Question) Normalize(v any) (any, error) {
	bad := func() error {
		want := map[QuestionType]string{TypeNPS: "a whole number", TypeScale: "a whole number", TypeNumber: "a whole number",
			TypeYesNo: "yes or no", TypeChoice: "one option", TypeText: "text", TypeRecording: "a recording", TypeMulti: "a list of options"}[qq.Type]
		if want == "" {
			want = "a " + string(qq.Type) + " answer"
		}
		return Errorf(EInvalid, "%s: %v is not %s", qq.ID, v, want)
	}
	switch qq.Type {
	case TypeNPS, TypeScale, TypeNumber:
		switch n := v.(type) {
		case int64:
			return n, nil
		case int:
			return int64(n), nil
		case float64:
			if n != float64(int64(n)) {
				return nil, bad()
			}
			return int64(n), nil
		case interface{ Int64() (int64, error) }: // json.Number
			i, err := n.Int64()
			if err != nil {
				return nil, bad()
			}
			return i, nil
		}
	case TypeYesNo:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case TypeChoice, TypeText, TypeRecording:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case TypeMulti:
		switch l := v.(type) {
		case []string:
			return slices.Clone(l), nil
		case []any:
			out := make([]string, 0, len(l))
			for _, e := range l {
				s, ok := e.(string)
				if !ok {
					return nil, bad()
				}
				out = append(out, s)
			}
			return out, nil
		}
	case TypeStatement:
		return nil, nil
	}
	return nil, bad()
}

// ParseKeys turns keypad digits (no "#" or "*") into a value, or an *Error
// with code EInvalid when they are not a valid answer: a no-match.
func (qq *Question) ParseKeys(digits string) (any, error) {
	lo, hi, ok := qq.Keypad()
	if !ok {
		return nil, Errorf(EInvalid, "%s cannot be answered on a keypad", qq.ID)
	}
	if len(digits) < lo || len(digits) > hi || strings.Trim(digits, "0123456789") != "" {
		return nil, Errorf(EInvalid, "%s: %q is not %d to %d digits", qq.ID, digits, lo, hi)
	}
	switch qq.Type {
	case TypeYesNo:
		switch digits {
		case "1":
			return true, nil
		case "2":
			return false, nil
		}
		return nil, Errorf(EInvalid, "%s: press 1 for yes or 2 for no", qq.ID)
	case TypeChoice:
		for _, o := range qq.Options {
			if o.Key == digits {
				return o.Value, nil
			}
		}
		return nil, Errorf(EInvalid, "%s: no option has key %s", qq.ID, digits)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < qq.Min || n > qq.Max {
		return nil, Errorf(EInvalid, "%s: %s is out of range %d to %d", qq.ID, digits, qq.Min, qq.Max)
	}
	return n, nil
}

// allAsked reports whether no relevant question is left to ask that needs
// an answer: the cursor is past the end, or only statements (a closing
// "thank you"), irrelevant questions and questions already answered or
// skipped remain. A respondent who hangs up during the closing statement,
// or an interview resumed there, has been asked everything.
func (iv *Interview) allAsked() bool {
	for _, qq := range iv.q.Questions[min(iv.cursor, len(iv.q.Questions)):] {
		if _, asked := iv.answers[qq.ID]; !asked && qq.Answerable() && iv.relevant(qq) {
			return false
		}
	}
	return true
}

// Outcome is how the interview ends now, by the share of applicable
// (relevant, answerable) questions answered: complete when every relevant
// question was asked and the share reaches the questionnaire's complete
// threshold; otherwise partial when it reaches the partial threshold, else
// a break-off (AAPOR 1.1, 1.2, 2.12).
func (iv *Interview) Outcome() Status {
	applicable, answered := 0, 0
	for _, qq := range iv.q.Questions {
		if !qq.Answerable() || !iv.relevant(qq) {
			continue
		}
		applicable++
		if a, ok := iv.answers[qq.ID]; ok && !a.Skipped {
			answered++
		}
	}
	share := 1.0 // nothing applicable: a screen-out that was fully asked
	if applicable > 0 {
		share = float64(answered) / float64(applicable)
	}
	switch {
	case iv.allAsked() && share >= iv.q.CompleteThreshold:
		return StatusComplete
	case answered > 0 && share >= iv.q.PartialThreshold:
		return StatusPartial
	}
	return StatusBreakoff
}

// QuotaCells returns the ids of the quota cells the interview falls in with
// the answers given so far.
func (iv *Interview) QuotaCells() []string {
	var ids []string
	e := iv.env()
	for _, qt := range iv.q.Quotas {
		if qt.when == nil {
			continue
		}
		if v, ok := qt.when.eval(e); ok && v == true {
			ids = append(ids, qt.ID)
		}
	}
	return ids
}

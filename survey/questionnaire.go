package survey

// This file is the questionnaire format (DESIGN.md §2): the types a YAML file
// decodes into, and Parse, which decodes and lints in one pass so that every
// problem carries the line it is on.

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/expr-lang/expr/vm"
)

// QuestionType is what kind of answer a question takes.
type QuestionType string

// Question types.
const (
	TypeNPS       QuestionType = "nps"       // 0..10
	TypeScale     QuestionType = "scale"     // min..max, e.g. CSAT 1..5, CES 1..7
	TypeYesNo     QuestionType = "yes_no"    // keypad 1 = yes, 2 = no
	TypeChoice    QuestionType = "choice"    // one option
	TypeMulti     QuestionType = "multi"     // several options; CATI only
	TypeNumber    QuestionType = "number"    // an integer of min_digits..max_digits digits
	TypeText      QuestionType = "text"      // free text; CATI only
	TypeRecording QuestionType = "recording" // voice comment; IVR (CATI types it as text)
	TypeStatement QuestionType = "statement" // read out, no answer
)

var questionTypes = []QuestionType{TypeNPS, TypeScale, TypeYesNo, TypeChoice, TypeMulti,
	TypeNumber, TypeText, TypeRecording, TypeStatement}

// Questionnaire is a parsed, linted questionnaire: expressions are compiled
// and every text exists in every language. Build one with Parse; it is
// immutable afterwards and safe to share between interviews.
type Questionnaire struct {
	ID    string
	Title string
	// Kind tells a transactional survey (after a touchpoint: its scores are
	// the touchpoint's) from a relational one (periodic, about the whole
	// relationship); reports keep them apart.
	Kind      Kind
	Languages []string // the first is the default
	Modes     []Mode   // where it may run; both by default
	// Contact lists the contact fields expressions and piping may use, as
	// contact.<field>.
	Contact []string
	Intro   Text // played or read before the first question; may be empty
	Thanks  Text // after the last question; may be empty
	// RecordingConsent is what a CATI interviewer reads when a recorded
	// call starts (campaigns that record calls); may be empty.
	RecordingConsent Text
	// ResumeText (resume:) greets a keypad respondent called back to finish an
	// interview, with {question} and {questions} filled in; empty: the
	// stock phrase ("We were at question 4 of 6…").
	ResumeText Text
	// PartialThreshold is the share of applicable questions a respondent must
	// answer for an interview that ends early to count as partial (AAPOR 1.2)
	// rather than a break-off (2.12).
	PartialThreshold float64
	// CompleteThreshold is the share of applicable questions a respondent
	// who reached the end must have answered for a complete (AAPOR 1.1);
	// below it the interview is partial or a break-off, so a silent line
	// that timed out on every question is not counted as a complete.
	CompleteThreshold float64
	Questions         []*Question
	Quotas            []*Quota
	Alerts            []*AlertRule

	index map[string]int
	pipes pipes // of Intro and Thanks
}

// Kind is a questionnaire's kind: Transactional (the default) or Relational.
type Kind string

const (
	Transactional Kind = "transactional"
	Relational    Kind = "relational"
)

// Question is one question of a questionnaire.
type Question struct {
	ID       string
	Type     QuestionType
	Text     Text
	Line     int // in the source, for messages
	Required bool
	// KeypadInCATI marks a sensitive question (keypad: true): when an
	// interviewer hands the respondent to the keypad at it, the keypad asks
	// it and the marked questions right after it, then hands back.
	KeypadInCATI bool
	// Min and Max bound scale values (1..5 by default) and number values.
	Min, Max int64
	// Labels name scale points, e.g. {1: {en: Very dissatisfied}}.
	Labels map[int64]Text
	// MinDigits and MaxDigits bound a number's keypad entry.
	MinDigits, MaxDigits int
	Options              []Option
	MaxSeconds           int    // recording length limit
	Metric               Metric // how reports summarize a scale; nps for nps questions
	NoInput, NoMatch     Text

	when     *program // relevance; nil = always
	validate *program // extra check on the value; nil = none
	message  Text     // said when validate fails
	pipes    pipes
}

// Metric names the CX metric a question measures.
type Metric string

// Metrics (SURVEY-SCIENCE.md).
const (
	MetricNone Metric = ""
	MetricNPS  Metric = "nps"  // % promoters (9-10) - % detractors (0-6)
	MetricCSAT Metric = "csat" // % in the top two boxes
	MetricCES  Metric = "ces"  // mean effort; the scale's max is "very easy"
)

// Option is one answer of a choice or multi question. Key is its keypad digit.
type Option struct {
	Value string
	Key   string
	Text  Text
}

// Quota is a cell the fieldwork fills up to Target completes, such as
// "region = north". An interview falls in the cells whose When is true.
type Quota struct {
	ID     string
	Target int
	Line   int
	when   *program
}

// Text is a text in each of the questionnaire's languages.
type Text map[string]string

// In returns the text in lang, falling back to def.
func (t Text) In(lang, def string) string {
	if s, ok := t[lang]; ok {
		return s
	}
	return t[def]
}

// program is a compiled expression and the answers it reads.
type program struct {
	src     string
	prog    *vm.Program
	answers []string
}

// Question returns the question with the given id, or nil.
func (q *Questionnaire) Question(id string) *Question {
	i, ok := q.index[id]
	if !ok {
		return nil
	}
	return q.Questions[i]
}

// HasMode reports whether the questionnaire may run in mode m.
func (q *Questionnaire) HasMode(m Mode) bool { return slices.Contains(q.Modes, m) }

// DefaultLanguage is the first language.
func (q *Questionnaire) DefaultLanguage() string { return q.Languages[0] }

// Version returns the storable form of q with its source.
func (q *Questionnaire) Version(src []byte) QuestionnaireVersion {
	return QuestionnaireVersion{ID: q.ID, Title: q.Title, Languages: slices.Clone(q.Languages), Source: src}
}

// Answerable reports whether the question takes an answer (all but statements).
func (qq *Question) Answerable() bool { return qq.Type != TypeStatement }

// Relevance returns the source of the question's relevance condition, "" if none.
func (qq *Question) Relevance() string {
	if qq.when == nil {
		return ""
	}
	return qq.when.src
}

// Keypad returns how many digits a keypad answer to the question has; ok is
// false for questions that cannot be answered on a keypad.
func (qq *Question) Keypad() (minDigits, maxDigits int, ok bool) {
	switch qq.Type {
	case TypeNPS:
		return 1, 2, true
	case TypeScale:
		return len(fmt.Sprint(qq.Min)), len(fmt.Sprint(qq.Max)), true
	case TypeYesNo, TypeChoice:
		return 1, 1, true
	case TypeNumber:
		return qq.MinDigits, qq.MaxDigits, true
	}
	return 0, 0, false
}

// Option returns the option with the given value, or false.
func (qq *Question) Option(value string) (Option, bool) {
	for _, o := range qq.Options {
		if o.Value == value {
			return o, true
		}
	}
	return Option{}, false
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// reserved names cannot be question ids: expressions use them, and the
// intro and thanks are prompts of their own.
var reserved = []string{"contact", "value", "true", "false", "nil", "not", "and", "or", "in", "matches", "contains", "intro", "thanks"}

func validID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("id %q must be lower-case letters, digits and _, starting with a letter (at most 63)", id)
	}
	if slices.Contains(reserved, id) {
		return fmt.Errorf("id %q is reserved (expressions or the intro and thanks prompts use it); choose another", id)
	}
	return nil
}

// Problem is one thing wrong with a questionnaire, at a line of its source
// (0 when it concerns the whole file).
type Problem struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// Problems is every problem found in a questionnaire; Parse returns it as its
// error so callers can list them all.
type Problems []Problem

func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%d: %s", p.Line, p.Message)
	}
	return b.String()
}

// Format lists the problems as "file:line: message" lines, as compilers do.
func (ps Problems) Format(file string) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%s:%d: %s\n", file, p.Line, p.Message)
	}
	return b.String()
}

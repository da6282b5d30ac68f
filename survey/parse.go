package survey

// This file turns questionnaire YAML into a Questionnaire. It walks yaml.v3
// nodes so that every problem — unknown field, wrong type, bad expression,
// missing translation, keypad collision — is reported with its line, and it
// keeps going after a problem so lint lists them all at once.

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxSourceBytes bounds a questionnaire file; bigger ones are refused unread.
const MaxSourceBytes = 1 << 20

type rawQuestionnaire struct {
	ID                string      `yaml:"id"`
	Title             string      `yaml:"title"`
	Kind              string      `yaml:"kind"`
	Languages         []string    `yaml:"languages"`
	Modes             []string    `yaml:"modes"`
	Contact           []string    `yaml:"contact"`
	Intro             yaml.Node   `yaml:"intro"`
	Thanks            yaml.Node   `yaml:"thanks"`
	RecordingConsent  yaml.Node   `yaml:"recording_consent"`
	Resume            yaml.Node   `yaml:"resume"`
	PartialThreshold  *float64    `yaml:"partial_threshold"`
	CompleteThreshold *float64    `yaml:"complete_threshold"`
	Questions         []yaml.Node `yaml:"questions"`
	Quotas            []yaml.Node `yaml:"quotas"`
	Alerts            []yaml.Node `yaml:"alerts"`
}

type rawQuestion struct {
	ID         string      `yaml:"id"`
	Type       string      `yaml:"type"`
	Text       yaml.Node   `yaml:"text"`
	Required   bool        `yaml:"required"`
	Keypad     bool        `yaml:"keypad"`
	Min        *int64      `yaml:"min"`
	Max        *int64      `yaml:"max"`
	Labels     yaml.Node   `yaml:"labels"`
	MinDigits  *int        `yaml:"min_digits"`
	MaxDigits  *int        `yaml:"max_digits"`
	Options    []yaml.Node `yaml:"options"`
	MaxSeconds *int        `yaml:"max_seconds"`
	Metric     string      `yaml:"metric"`
	NoInput    yaml.Node   `yaml:"no_input"`
	NoMatch    yaml.Node   `yaml:"no_match"`
	When       yaml.Node   `yaml:"when"`
	Validate   yaml.Node   `yaml:"validate"`
	Message    yaml.Node   `yaml:"validate_message"`
}

type rawOption struct {
	Value string    `yaml:"value"`
	Key   yaml.Node `yaml:"key"`
	Text  yaml.Node `yaml:"text"`
}

type rawQuota struct {
	ID     string    `yaml:"id"`
	When   yaml.Node `yaml:"when"`
	Target int       `yaml:"target"`
}

// parser accumulates problems while building a Questionnaire.
type parser struct {
	problems Problems
	q        *Questionnaire
	langs    []string
	alertEnv bool // compiling an alert condition: the call context is in scope
}

func (p *parser) addf(line int, format string, args ...any) {
	p.problems = append(p.problems, Problem{Line: line, Message: fmt.Sprintf(format, args...)})
}

// Parse decodes and lints a questionnaire. On any problem it returns a nil
// Questionnaire and a Problems error listing all of them, sorted by line.
func Parse(src []byte) (*Questionnaire, error) {
	if len(src) > MaxSourceBytes {
		return nil, Problems{{Message: fmt.Sprintf("file is %d bytes; the limit is %d", len(src), MaxSourceBytes)}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, Problems{yamlProblem(err)}
	}
	p := &parser{q: &Questionnaire{index: map[string]int{}}}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, Problems{{Line: 1, Message: "file is empty; a questionnaire needs id, languages and questions"}}
	}
	p.storable(&doc)
	p.questionnaire(doc.Content[0])
	if len(p.problems) > 0 {
		slices.SortStableFunc(p.problems, func(a, b Problem) int { return a.Line - b.Line })
		return nil, p.problems
	}
	return p.q, nil
}

// storable reports each value PostgreSQL text could not store: one with a
// NUL character ("\0" in a double-quoted YAML string).
func (p *parser) storable(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && strings.ContainsRune(n.Value, 0) {
		p.addf(n.Line, "this value holds a NUL character (\\0), which cannot be stored; remove it")
	}
	for _, c := range n.Content {
		p.storable(c)
	}
}

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func yamlProblem(err error) Problem {
	msg := err.Error()
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1]) // the pattern only matches digits
		return Problem{Line: n, Message: m[2]}
	}
	return Problem{Message: strings.TrimPrefix(msg, "yaml: ")}
}

// decode decodes a mapping node into out, refusing keys out does not have.
func (p *parser) decode(n *yaml.Node, out any, what string) bool {
	if n.Kind != yaml.MappingNode {
		p.addf(n.Line, "%s must be a mapping of fields", what)
		return false
	}
	// An unknown field is reported but the rest is still checked, so one
	// typo does not hide every other problem.
	known := yamlFields(reflect.TypeOf(out).Elem())
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !slices.Contains(known, k.Value) {
			p.addf(k.Line, "unknown field %q in %s (known fields: %s)", k.Value, what, strings.Join(known, ", "))
		}
	}
	if err := n.Decode(out); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				pr := yamlProblem(errors.New(e))
				p.problems = append(p.problems, pr)
			}
		} else {
			p.problems = append(p.problems, yamlProblem(err))
		}
		return false
	}
	return true
}

func yamlFields(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		names = append(names, strings.Split(f.Tag.Get("yaml"), ",")[0])
	}
	return names
}

// fieldLine returns the line of key in mapping n, or n's own line.
func fieldLine(n *yaml.Node, key string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	return n.Line
}

func (p *parser) questionnaire(n *yaml.Node) {
	var r rawQuestionnaire
	if !p.decode(n, &r, "the questionnaire") {
		return
	}
	q := p.q
	q.ID, q.Title = r.ID, r.Title
	if r.ID == "" {
		p.addf(n.Line, "id is missing: give the questionnaire an id such as post-call")
	} else if !regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`).MatchString(r.ID) {
		p.addf(fieldLine(n, "id"), "questionnaire id %q must be lower-case letters, digits and -", r.ID)
	}
	if r.Title == "" {
		q.Title = r.ID
	}
	if len(r.Languages) == 0 {
		r.Languages = []string{"en"}
	}
	for _, l := range r.Languages {
		if !regexp.MustCompile(`^[a-z]{2,3}(-[A-Z]{2})?$`).MatchString(l) {
			p.addf(fieldLine(n, "languages"), "language %q must be a code such as en, fr or pt-BR", l)
		}
		if slices.Contains(q.Languages, l) {
			p.addf(fieldLine(n, "languages"), "language %q is listed twice", l)
			continue
		}
		q.Languages = append(q.Languages, l)
	}
	p.langs = q.Languages
	if len(r.Modes) == 0 {
		q.Modes = []Mode{ModeIVR, ModeCATI}
	}
	for _, m := range r.Modes {
		if m != string(ModeIVR) && m != string(ModeCATI) {
			p.addf(fieldLine(n, "modes"), "mode %q is not ivr or cati", m)
			continue
		}
		q.Modes = append(q.Modes, Mode(m))
	}
	for _, c := range r.Contact {
		if !idPattern.MatchString(c) {
			p.addf(fieldLine(n, "contact"), "contact field %q must be lower-case letters, digits and _", c)
		}
	}
	q.Contact = r.Contact
	switch q.Kind = Kind(r.Kind); q.Kind {
	case "":
		q.Kind = Transactional
	case Transactional, Relational:
	default:
		p.addf(fieldLine(n, "kind"), "kind %q must be transactional (after a touchpoint: a call, a delivery) or relational (periodic, about the whole relationship)", r.Kind)
	}
	q.Intro = p.text(&r.Intro, "intro", false, n.Line)
	q.Thanks = p.text(&r.Thanks, "thanks", false, n.Line)
	q.RecordingConsent = p.text(&r.RecordingConsent, "recording_consent", false, n.Line)
	q.ResumeText = p.text(&r.Resume, "resume", false, n.Line)
	q.PartialThreshold = 0.5
	if r.PartialThreshold != nil {
		if t := *r.PartialThreshold; t <= 0 || t > 1 || math.IsNaN(t) {
			p.addf(fieldLine(n, "partial_threshold"), "partial_threshold %v must be above 0 and at most 1 (share of applicable questions answered)", t)
		} else {
			q.PartialThreshold = t
		}
	}
	q.CompleteThreshold = 0.8
	if r.CompleteThreshold != nil {
		if t := *r.CompleteThreshold; !(t > 0 && t <= 1) {
			p.addf(fieldLine(n, "complete_threshold"), "complete_threshold %v must be above 0 and at most 1 (share of applicable questions answered)", t)
		} else {
			q.CompleteThreshold = t
		}
	}
	if q.PartialThreshold > q.CompleteThreshold {
		p.addf(fieldLine(n, "partial_threshold"), "partial_threshold %v must not exceed complete_threshold %v", q.PartialThreshold, q.CompleteThreshold)
	}
	if len(r.Questions) == 0 {
		p.addf(fieldLine(n, "questions"), "questions are missing: a questionnaire needs at least one")
	}
	for i := range r.Questions {
		p.question(&r.Questions[i])
	}
	// Expressions are compiled once every question is known, so a reference
	// to a later question is told apart from an unknown one.
	for i := range r.Questions {
		if i < len(q.Questions) && q.Questions[i] != nil {
			p.expressions(&r.Questions[i], i)
		}
	}
	q.pipes = pipes{}
	for _, l := range q.Languages {
		p.pipes(q.pipes, q.Intro[l], l, r.Intro.Line, 0, "intro")
		p.pipes(q.pipes, q.Thanks[l], l, r.Thanks.Line, len(q.Questions), "thanks")
	}
	for i := range r.Quotas {
		p.quota(&r.Quotas[i])
	}
	for i := range r.Alerts {
		p.alert(&r.Alerts[i])
	}
	p.reachability()
}

func (p *parser) question(n *yaml.Node) {
	var r rawQuestion
	qq := &Question{Line: n.Line}
	p.q.Questions = append(p.q.Questions, nil)
	if !p.decode(n, &r, "a question") {
		return
	}
	p.q.Questions[len(p.q.Questions)-1] = qq
	qq.ID, qq.Type, qq.Required, qq.KeypadInCATI = r.ID, QuestionType(r.Type), r.Required, r.Keypad
	if err := validID(r.ID); err != nil {
		p.addf(fieldLine(n, "id"), "question %v", err)
	} else if _, dup := p.q.index[r.ID]; dup {
		p.addf(fieldLine(n, "id"), "question id %q is used twice (first at line %d)", r.ID, p.q.Questions[p.q.index[r.ID]].Line)
	} else {
		p.q.index[r.ID] = len(p.q.Questions) - 1
	}
	if !slices.Contains(questionTypes, qq.Type) {
		p.addf(fieldLine(n, "type"), "question %s: type %q is not one of %v", r.ID, r.Type, questionTypes)
		return
	}
	what := "question " + r.ID
	qq.Text = p.text(&r.Text, what+" text", true, n.Line)
	qq.NoInput = p.text(&r.NoInput, what+" no_input", false, n.Line)
	qq.NoMatch = p.text(&r.NoMatch, what+" no_match", false, n.Line)
	qq.message = p.text(&r.Message, what+" validate_message", false, n.Line)

	allowed := map[string]bool{}
	switch qq.Type {
	case TypeScale:
		allowed["min"], allowed["max"], allowed["labels"], allowed["metric"] = true, true, true, true
	case TypeNumber:
		allowed["min"], allowed["max"], allowed["min_digits"], allowed["max_digits"] = true, true, true, true
	case TypeChoice, TypeMulti:
		allowed["options"] = true
	case TypeRecording:
		allowed["max_seconds"] = true
	}
	for _, f := range []string{"min", "max", "labels", "min_digits", "max_digits", "options", "max_seconds", "metric"} {
		if !allowed[f] && hasKey(n, f) {
			p.addf(fieldLine(n, f), "%s: %s does not apply to type %s", what, f, qq.Type)
		}
	}
	if qq.Type == TypeStatement && r.Required {
		p.addf(fieldLine(n, "required"), "%s: a statement takes no answer, so it cannot be required", what)
	}
	if qq.Type == TypeStatement && hasKey(n, "validate") {
		p.addf(fieldLine(n, "validate"), "%s: a statement takes no answer to validate", what)
	}

	switch qq.Type {
	case TypeNPS:
		qq.Min, qq.Max, qq.Metric = 0, 10, MetricNPS
	case TypeScale:
		switch m := Metric(r.Metric); m {
		case MetricNone, MetricCSAT, MetricCES:
			qq.Metric = m
		default:
			p.addf(fieldLine(n, "metric"), "%s: metric %q must be csat or ces (nps questions have type nps)", what, r.Metric)
		}
		qq.Min, qq.Max = 1, 5
		if qq.Metric == MetricCES {
			qq.Max = 7 // the usual CES scale (SURVEY-SCIENCE.md)
		}
		if r.Min != nil {
			qq.Min = *r.Min
		}
		if r.Max != nil {
			qq.Max = *r.Max
		}
		if qq.Min < 0 || qq.Max > 100 || qq.Min >= qq.Max {
			p.addf(fieldLine(n, "min"), "%s: scale %d..%d is out of range: min must be at least 0, below max, and max at most 100", what, qq.Min, qq.Max)
		}
		qq.Labels = p.labels(&r.Labels, qq, what)
	case TypeNumber:
		qq.MinDigits, qq.MaxDigits = 1, 9
		if r.MinDigits != nil {
			qq.MinDigits = *r.MinDigits
		}
		if r.MaxDigits != nil {
			qq.MaxDigits = *r.MaxDigits
		}
		if qq.MinDigits < 1 || qq.MaxDigits > 18 || qq.MinDigits > qq.MaxDigits {
			p.addf(fieldLine(n, "min_digits"), "%s: digits %d..%d out of range: 1 <= min_digits <= max_digits <= 18", what, qq.MinDigits, qq.MaxDigits)
		}
		qq.Min, qq.Max = 0, int64(math.Pow10(min(max(qq.MaxDigits, 1), 18)))-1
		if r.Min != nil {
			qq.Min = *r.Min
		}
		if r.Max != nil {
			qq.Max = *r.Max
		}
		if qq.Min < 0 || qq.Min > qq.Max {
			p.addf(fieldLine(n, "min"), "%s: range %d..%d is empty or negative", what, qq.Min, qq.Max)
		}
	case TypeChoice, TypeMulti:
		p.options(n, &r, qq, what)
	case TypeRecording:
		qq.MaxSeconds = 60
		if r.MaxSeconds != nil {
			qq.MaxSeconds = *r.MaxSeconds
		}
		if qq.MaxSeconds < 1 || qq.MaxSeconds > 600 {
			p.addf(fieldLine(n, "max_seconds"), "%s: max_seconds %d must be between 1 and 600", what, qq.MaxSeconds)
		}
	}
	if p.q.HasMode(ModeIVR) && (qq.Type == TypeText || qq.Type == TypeMulti) {
		p.addf(fieldLine(n, "type"), "%s: type %s cannot be answered on a keypad; use recording or choice, or set modes: [cati]", what, qq.Type)
	}
	if r.Keypad {
		if _, _, ok := qq.Keypad(); !ok {
			p.addf(fieldLine(n, "keypad"), "%s: keypad: a %s question cannot be answered on the keypad; use nps, scale, yes_no, choice or number", what, qq.Type)
		}
		if !p.q.HasMode(ModeIVR) || !p.q.HasMode(ModeCATI) {
			p.addf(fieldLine(n, "keypad"), "%s: keypad: an interviewer hands a respondent to the keypad only in a questionnaire with modes [ivr, cati]", what)
		}
	}
}

func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

func (p *parser) options(n *yaml.Node, r *rawQuestion, qq *Question, what string) {
	if len(r.Options) < 2 {
		p.addf(fieldLine(n, "options"), "%s: a %s question needs at least two options", what, qq.Type)
	}
	keys := map[string]int{}
	for i := range r.Options {
		on := &r.Options[i]
		var ro rawOption
		if !p.decode(on, &ro, what+" option") {
			continue
		}
		o := Option{Value: ro.Value, Key: ro.Key.Value}
		if o.Value == "" {
			p.addf(on.Line, "%s: option %d has no value", what, i+1)
		} else if _, dup := qq.Option(o.Value); dup {
			p.addf(on.Line, "%s: option value %q is used twice", what, o.Value)
		}
		if ro.Key.Kind == 0 {
			if i >= 9 {
				p.addf(on.Line, "%s: option %q has no key and keys 1-9 are used up; give each option a key", what, o.Value)
			}
			o.Key = strconv.Itoa(i + 1)
		} else if len(o.Key) != 1 || o.Key[0] < '0' || o.Key[0] > '9' {
			p.addf(ro.Key.Line, "%s: option key %q must be one digit 0-9 (* and # are reserved)", what, o.Key)
		}
		if first, dup := keys[o.Key]; dup {
			p.addf(on.Line, "%s: keypad collision: key %s is used by option %d and option %d", what, o.Key, first, i+1)
		} else {
			keys[o.Key] = i + 1
		}
		o.Text = p.text(&ro.Text, fmt.Sprintf("%s option %q", what, o.Value), true, on.Line)
		qq.Options = append(qq.Options, o)
	}
}

func (p *parser) labels(n *yaml.Node, qq *Question, what string) map[int64]Text {
	if n.Kind == 0 {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.addf(n.Line, "%s: labels must map scale points to texts, e.g. 1: Very dissatisfied", what)
		return nil
	}
	labels := map[int64]Text{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		v, err := strconv.ParseInt(k.Value, 10, 64)
		if err != nil || v < qq.Min || v > qq.Max {
			p.addf(k.Line, "%s: label %q is not a point of the scale %d..%d", what, k.Value, qq.Min, qq.Max)
			continue
		}
		labels[v] = p.text(n.Content[i+1], fmt.Sprintf("%s label %d", what, v), true, k.Line)
	}
	return labels
}

// text decodes a text: a plain string (the default language's) or a mapping
// of language to string. Every language of the questionnaire must be present.
func (p *parser) text(n *yaml.Node, what string, required bool, line int) Text {
	if n.Kind == 0 {
		if required {
			p.addf(line, "%s is missing", what)
		}
		return nil
	}
	t := Text{}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			break
		}
		t[p.langs[0]] = n.Value
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if !slices.Contains(p.langs, k.Value) {
				p.addf(k.Line, "%s: language %q is not in the questionnaire's languages %v", what, k.Value, p.langs)
				continue
			}
			if v.Kind != yaml.ScalarNode {
				p.addf(v.Line, "%s: the %s text must be a string", what, k.Value)
				continue
			}
			t[k.Value] = v.Value
		}
	default:
		p.addf(n.Line, "%s must be a string or a mapping of language to string", what)
		return nil
	}
	for _, l := range p.langs {
		if strings.TrimSpace(t[l]) == "" {
			p.addf(n.Line, "%s: missing translation for %s", what, l)
		}
	}
	return t
}

package survey

// This file is the expression layer: relevance (when), validation (validate),
// piping ({{…}} in texts) and quota conditions, compiled with expr-lang/expr
// and type-checked against the answers that exist before each question.

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	exprparser "github.com/expr-lang/expr/parser"
	"go.yaml.in/yaml/v3"
)

// maxExprNodes bounds an expression's size so a hostile upload cannot make
// compilation or evaluation expensive.
const maxExprNodes = 500

// zero returns a value of the Go type an answer to qq has in expressions.
func zero(qq *Question) any {
	switch qq.Type {
	case TypeNPS, TypeScale, TypeNumber:
		return 0
	case TypeYesNo:
		return false
	case TypeMulti:
		return []string{}
	}
	return ""
}

// typeEnv is the type-checking environment for an expression at question
// index upto: every answerable question (so a forward reference compiles and
// is reported as such) and the contact fields.
func (p *parser) typeEnv(self *Question) map[string]any {
	env := map[string]any{"contact": map[string]string{}}
	for _, qq := range p.q.Questions {
		if qq != nil && qq.Answerable() {
			env[qq.ID] = zero(qq)
		}
	}
	if self != nil {
		env["value"] = zero(self)
	}
	if p.alertEnv {
		p.alertTypes(env)
	}
	return env
}

// compile compiles src as an expression evaluated before question index pos
// (len(Questions) for quotas). self is the question a validate checks.
func (p *parser) compile(src string, line, pos int, self *Question, asBool bool, what string) *program {
	src = strings.TrimSpace(src)
	if src == "" {
		p.addf(line, "%s: expression is empty", what)
		return nil
	}
	tree, err := exprparser.Parse(src)
	if err != nil {
		p.addf(line, "%s: %s", what, firstLine(err))
		return nil
	}
	refs := &references{}
	ast.Walk(&tree.Node, refs)
	bad := false
	for _, id := range refs.idents {
		i, ok := p.q.index[id]
		switch {
		case !ok:
			continue // expr reports unknown names itself
		case !p.q.Questions[i].Answerable():
			p.addf(line, "%s: %s is a statement and has no answer", what, id)
			bad = true
		case i >= pos || (self != nil && p.q.Questions[i] == self):
			p.addf(line, "%s: refers to %s, which is not asked before it; an expression can only use earlier answers", what, id)
			bad = true
		}
	}
	for _, f := range refs.contact {
		if !slices.Contains(p.q.Contact, f) {
			p.addf(line, "%s: contact.%s is not a declared contact field; add it to contact: %v", what, f, p.q.Contact)
			bad = true
		}
	}
	for _, c := range refs.comparisons {
		qq := p.q.Question(c.id)
		if qq == nil || qq.Type != TypeChoice && qq.Type != TypeMulti {
			continue
		}
		for _, v := range c.values {
			if _, ok := qq.Option(v); !ok {
				p.addf(line, "%s: %q is not an option of %s, so the comparison is never true", what, v, c.id)
				bad = true
			}
		}
	}
	if bad {
		return nil
	}
	opts := []expr.Option{expr.Env(p.typeEnv(self)), expr.MaxNodes(maxExprNodes)}
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	if _, err := expr.Compile(src, opts...); err != nil {
		p.addf(line, "%s: %s", what, firstLine(err))
		return nil
	}
	// The typed compile above is the check. The program that runs is compiled
	// untyped so that an unanswered question can be nil: nil == "x" is false,
	// nil <= 6 fails and the caller treats the failure as "no".
	prog, err := expr.Compile(src, expr.Env(map[string]any{"contact": map[string]string{}}),
		expr.AllowUndefinedVariables(), expr.MaxNodes(maxExprNodes))
	if err != nil {
		p.addf(line, "%s: %s", what, firstLine(err))
		return nil
	}
	var answers []string
	for _, id := range refs.idents {
		if _, ok := p.q.index[id]; ok && !slices.Contains(answers, id) {
			answers = append(answers, id)
		}
	}
	return &program{src: src, prog: prog, answers: answers}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// references collects what an expression reads: question ids, contact
// fields, and string literals compared with an identifier.
type references struct {
	idents      []string
	contact     []string
	comparisons []comparison
}

type comparison struct {
	id     string
	values []string
}

func (r *references) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if n.Value != "contact" && n.Value != "value" {
			r.idents = append(r.idents, n.Value)
		}
	case *ast.MemberNode:
		if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == "contact" {
			if s, ok := n.Property.(*ast.StringNode); ok {
				r.contact = append(r.contact, s.Value)
			}
		}
	case *ast.BinaryNode:
		id, other := n.Left, n.Right
		if _, ok := id.(*ast.IdentifierNode); !ok {
			id, other = n.Right, n.Left
		}
		ident, ok := id.(*ast.IdentifierNode)
		if !ok {
			return
		}
		switch n.Operator {
		case "==", "!=":
			if s, ok := other.(*ast.StringNode); ok {
				r.comparisons = append(r.comparisons, comparison{ident.Value, []string{s.Value}})
			}
		case "in":
			if a, ok := n.Right.(*ast.ArrayNode); ok && n.Left == id {
				c := comparison{id: ident.Value}
				for _, e := range a.Nodes {
					if s, ok := e.(*ast.StringNode); ok {
						c.values = append(c.values, s.Value)
					}
				}
				r.comparisons = append(r.comparisons, c)
			}
		}
	}
}

var pipeRE = regexp.MustCompile(`\{\{(.*?)\}\}`)

// expressions compiles a question's when, validate and pipes, once every
// question is known.
func (p *parser) expressions(n *yaml.Node, pos int) {
	qq := p.q.Questions[pos]
	var r rawQuestion
	if n.Decode(&r) != nil {
		return // already reported
	}
	what := "question " + qq.ID
	if r.When.Kind != 0 {
		qq.when = p.compile(r.When.Value, r.When.Line, pos, nil, true, what+" when")
	}
	if r.Validate.Kind != 0 {
		qq.validate = p.compile(r.Validate.Value, r.Validate.Line, pos, qq, true, what+" validate")
	}
	qq.pipes = pipes{}
	texts := []Text{qq.Text, qq.NoInput, qq.NoMatch, qq.message}
	for _, o := range qq.Options {
		texts = append(texts, o.Text)
	}
	for _, t := range texts {
		for _, l := range p.langs {
			p.pipes(qq.pipes, t[l], l, r.Text.Line, pos, what)
		}
	}
}

// pipes holds the compiled {{…}} expressions of some texts, by language
// and by the expression's source.
type pipes map[string]map[string]*program

func (p *parser) pipes(ps pipes, s, lang string, line, pos int, what string) {
	for _, m := range pipeRE.FindAllStringSubmatch(s, -1) {
		if ps[lang] == nil {
			ps[lang] = map[string]*program{}
		}
		if _, done := ps[lang][m[1]]; done {
			continue
		}
		if prog := p.compile(m[1], line, pos, nil, false, what+" piping {{"+strings.TrimSpace(m[1])+"}}"); prog != nil {
			ps[lang][m[1]] = prog
		}
	}
	if strings.Count(s, "{{") != strings.Count(s, "}}") {
		p.addf(line, "%s: unbalanced {{ }} in the %s text", what, lang)
	}
}

func (p *parser) quota(n *yaml.Node) {
	var r rawQuota
	if !p.decode(n, &r, "a quota") {
		return
	}
	qt := &Quota{ID: r.ID, Target: r.Target, Line: n.Line}
	if err := validID(r.ID); err != nil {
		p.addf(n.Line, "quota %v", err)
	}
	for _, other := range p.q.Quotas {
		if other.ID == r.ID {
			p.addf(n.Line, "quota id %q is used twice (first at line %d)", r.ID, other.Line)
		}
	}
	if r.Target < 1 {
		p.addf(fieldLine(n, "target"), "quota %s: target %d must be at least 1", r.ID, r.Target)
	}
	if r.When.Kind == 0 {
		p.addf(n.Line, "quota %s: when is missing: say which interviews fill it, e.g. region == \"north\"", r.ID)
	} else {
		qt.when = p.compile(r.When.Value, r.When.Line, len(p.q.Questions), nil, true, "quota "+r.ID+" when")
	}
	p.q.Quotas = append(p.q.Quotas, qt)
}

// reachability reports questions no respondent can reach: a condition that
// is false whatever the answers, or one that depends only on unreachable
// questions.
func (p *parser) reachability() {
	unreachable := map[string]bool{}
	for _, qq := range p.q.Questions {
		if qq == nil || qq.when == nil {
			continue
		}
		if len(qq.when.answers) == 0 && !strings.Contains(qq.when.src, "contact") {
			if v, err := expr.Run(qq.when.prog, p.typeEnv(nil)); err == nil && v == false {
				p.addf(qq.Line, "question %s is unreachable: its condition %q is always false", qq.ID, qq.when.src)
				unreachable[qq.ID] = true
			}
			continue
		}
		dead := len(qq.when.answers) > 0
		for _, id := range qq.when.answers {
			dead = dead && unreachable[id]
		}
		if dead {
			p.addf(qq.Line, "question %s is unreachable: it depends only on unreachable questions %v", qq.ID, qq.when.answers)
			unreachable[qq.ID] = true
		}
	}
}

// env is the runtime environment for an expression: every answerable
// question (nil when unanswered, skipped or irrelevant) and the declared
// contact fields ("" when unknown).
func env(q *Questionnaire, answers map[string]Answer, contact map[string]string) map[string]any {
	c := make(map[string]string, len(q.Contact))
	for _, f := range q.Contact {
		c[f] = contact[f]
	}
	e := make(map[string]any, len(q.Questions)+1)
	e["contact"] = c
	for _, qq := range q.Questions {
		if qq.Answerable() {
			e[qq.ID] = exprValue(answers[qq.ID].Value)
		}
	}
	return e
}

// exprValue converts a stored value to the type expressions see.
func exprValue(v any) any {
	if n, ok := v.(int64); ok {
		return int(n)
	}
	return v
}

// eval runs prog; ok is false when the evaluation fails — typically an
// ordering comparison with an unanswered question (nil <= 6) — which callers
// treat as "no": a condition on a missing answer is not met.
func (prog *program) eval(env map[string]any) (v any, ok bool) {
	v, err := expr.Run(prog.prog, env)
	if err != nil {
		return nil, false
	}
	return v, true
}

// pipe replaces {{…}} in s with the values of its expressions; a pipe whose
// answers are missing becomes empty.
func (ps pipes) apply(s, lang string, env map[string]any) string {
	progs := ps[lang]
	if len(progs) == 0 {
		return s
	}
	return pipeRE.ReplaceAllStringFunc(s, func(m string) string {
		prog := progs[m[2:len(m)-2]]
		if prog == nil {
			return ""
		}
		v, ok := prog.eval(env)
		if !ok || v == nil {
			return ""
		}
		return fmt.Sprint(v)
	})
}

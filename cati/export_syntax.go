package cati

// This file is the export's companions for statistics packages: SPSS
// syntax (export.sps) and an R script (export.R) that read the CSV export
// (export.csv, saved as <questionnaire>.csv beside them) with each
// question's text as its variable label, the answer codes' labels (yes/no,
// menu options, labelled scale points) and empty cells as missing values —
// survey researchers' everyday formats.

import (
	"fmt"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/canvass/canvass/survey"
)

// exportVar is one column of the CSV export as a statistics package sees
// it: numeric or text, its label, and its value labels (code → text, the
// codes as the CSV writes them).
type exportVar struct {
	name    string
	numeric bool
	width   int // of a text variable
	label   string
	values  [][2]string
}

// exportVars are the export's columns (without paradata) in its order.
func exportVars(q *survey.Questionnaire, lang string) []exportVar {
	vars := []exportVar{}
	for _, c := range exportColumns {
		v := exportVar{name: c, width: 255}
		switch c {
		case "interview_id", "questionnaire_version", "case_id":
			v.numeric = true
		case "started_at", "ended_at":
			v.width = 25
		case "context":
			v.width = 2000
		}
		v.label = strings.ReplaceAll(c, "_", " ")
		vars = append(vars, v)
	}
	for _, f := range q.Contact {
		vars = append(vars, exportVar{name: "contact." + f, width: 255, label: "contact " + f})
	}
	for _, qq := range q.Questions {
		if !qq.Answerable() {
			continue
		}
		v := exportVar{name: qq.ID, label: qq.Text[lang], width: 255}
		switch qq.Type {
		case survey.TypeNPS, survey.TypeScale, survey.TypeNumber:
			v.numeric = true
			keys := make([]int64, 0, len(qq.Labels))
			for k := range qq.Labels {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
			for _, k := range keys {
				v.values = append(v.values, [2]string{strconv.FormatInt(k, 10), qq.Labels[k][lang]})
			}
		case survey.TypeYesNo:
			v.numeric = true
			v.values = [][2]string{{"1", "Yes"}, {"0", "No"}}
		case survey.TypeChoice:
			for _, o := range qq.Options {
				v.values = append(v.values, [2]string{o.Value, o.Text[lang]})
			}
		case survey.TypeText, survey.TypeMulti:
			v.width = 4000
		}
		vars = append(vars, v)
	}
	return vars
}

// spsQuote quotes s for SPSS syntax.
func spsQuote(s string) string {
	s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// rQuote quotes s for R.
func rQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "").Replace(s) + `"`
}

// syntaxRequest is what both scripts need: the questionnaire and the
// language of the labels.
func (s *Server) syntaxRequest(r *http.Request) (survey.QuestionnaireVersion, *survey.Questionnaire, string, error) {
	q := r.URL.Query()
	if err := checkParams(q, "lang"); err != nil {
		return survey.QuestionnaireVersion{}, nil, "", err
	}
	v, qn, err := s.latest(r.Context(), r.PathValue("id"))
	if err != nil {
		return v, nil, "", err
	}
	lang := q.Get("lang")
	if lang == "" {
		lang = qn.DefaultLanguage()
	} else if !slices.Contains(qn.Languages, lang) {
		return v, nil, "", invalidParam("lang", "one of "+strings.Join(qn.Languages, ", "), lang)
	}
	return v, qn, lang, nil
}

// exportSPS is GET /api/v1/questionnaires/{id}/export.sps.
func (s *Server) exportSPS(w http.ResponseWriter, r *http.Request) error {
	v, qn, lang, err := s.syntaxRequest(r)
	if err != nil {
		return err
	}
	vars := exportVars(qn, lang)
	var b strings.Builder
	fmt.Fprintf(&b, "* Canvass: questionnaire %s version %d, labels in %s.\n", v.ID, v.Version, lang)
	fmt.Fprintf(&b, "* Save the CSV export (export.csv) as %s.csv beside this file, then run it.\n", v.ID)
	fmt.Fprintf(&b, "* Empty cells (not asked, skipped, refused) are missing values.\n")
	fmt.Fprintf(&b, "GET DATA /TYPE=TXT /FILE=%s /ENCODING='UTF8' /DELCASE=LINE /DELIMITERS=',' /QUALIFIER='\"'\n", spsQuote(v.ID+".csv"))
	b.WriteString("  /ARRANGEMENT=DELIMITED /FIRSTCASE=2 /VARIABLES=\n")
	for _, x := range vars {
		format := "F12.0"
		if !x.numeric {
			format = "A" + strconv.Itoa(x.width)
		}
		fmt.Fprintf(&b, "  %s %s\n", x.name, format)
	}
	b.WriteString(".\nVARIABLE LABELS\n")
	for i, x := range vars {
		sep := "\n"
		if i == len(vars)-1 {
			sep = ".\n"
		}
		fmt.Fprintf(&b, "  %s %s%s", x.name, spsQuote(x.label), sep)
	}
	first := true
	for _, x := range vars {
		if len(x.values) == 0 {
			continue
		}
		if first {
			b.WriteString("VALUE LABELS\n")
		} else {
			b.WriteString("  /")
		}
		first = false
		fmt.Fprintf(&b, "  %s", x.name)
		for _, kv := range x.values {
			code := kv[0]
			if !x.numeric {
				code = spsQuote(code)
			}
			fmt.Fprintf(&b, " %s %s", code, spsQuote(kv[1]))
		}
		b.WriteString("\n")
	}
	if !first {
		b.WriteString(".\n")
	}
	for _, x := range vars {
		if !x.numeric && len(x.values) > 0 {
			fmt.Fprintf(&b, "MISSING VALUES %s ('').\n", x.name)
		}
	}
	b.WriteString("EXECUTE.\n")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": v.ID + ".sps"}))
	_, err = w.Write([]byte(b.String()))
	return err
}

// exportR is GET /api/v1/questionnaires/{id}/export.R.
func (s *Server) exportR(w http.ResponseWriter, r *http.Request) error {
	v, qn, lang, err := s.syntaxRequest(r)
	if err != nil {
		return err
	}
	vars := exportVars(qn, lang)
	var b strings.Builder
	fmt.Fprintf(&b, "# Canvass: questionnaire %s version %d, labels in %s.\n", v.ID, v.Version, lang)
	fmt.Fprintf(&b, "# Save the CSV export (export.csv) as %s.csv in the working directory, then source() this file.\n", v.ID)
	b.WriteString("# Empty cells (not asked, skipped, refused) are NA; answer codes are factors with their labels;\n")
	b.WriteString("# each column's label is attr(x, \"label\").\n")
	fmt.Fprintf(&b, "canvass <- read.csv(%s, na.strings = \"\", stringsAsFactors = FALSE, check.names = FALSE, encoding = \"UTF-8\",\n", rQuote(v.ID+".csv"))
	b.WriteString("  colClasses = c(")
	for i, x := range vars {
		if i > 0 {
			b.WriteString(", ")
		}
		class := "character"
		if x.numeric {
			class = "numeric"
		}
		fmt.Fprintf(&b, "%s = %s", rQuote(x.name), rQuote(class))
	}
	b.WriteString("))\n")
	for _, x := range vars {
		col := "canvass[[" + rQuote(x.name) + "]]"
		if len(x.values) > 0 && !(x.numeric && len(x.values) < 2) {
			var codes, labels []string
			for _, kv := range x.values {
				if x.numeric {
					codes = append(codes, kv[0])
				} else {
					codes = append(codes, rQuote(kv[0]))
				}
				labels = append(labels, rQuote(kv[1]))
			}
			if x.numeric && x.name != "" && !isCategorical(qn, x.name) {
				// A labelled scale keeps its numbers; the labels name its points.
				fmt.Fprintf(&b, "attr(%s, \"labels\") <- setNames(c(%s), c(%s))\n", col, strings.Join(codes, ", "), strings.Join(labels, ", "))
			} else {
				fmt.Fprintf(&b, "%s <- factor(%s, levels = c(%s), labels = c(%s))\n", col, col, strings.Join(codes, ", "), strings.Join(labels, ", "))
			}
		}
		fmt.Fprintf(&b, "attr(%s, \"label\") <- %s\n", col, rQuote(x.label))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": v.ID + ".R"}))
	_, err = w.Write([]byte(b.String()))
	return err
}

// isCategorical says whether question id's codes name categories (yes/no,
// a menu) rather than points of a scale.
func isCategorical(q *survey.Questionnaire, id string) bool {
	qq := q.Question(id)
	return qq != nil && (qq.Type == survey.TypeYesNo || qq.Type == survey.TypeChoice)
}

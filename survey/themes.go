package survey

// This file groups open answers (comments) into themes, per language:
// words are lower-cased, stop words dropped, the rest stemmed with the
// Snowball stemmers (github.com/kljensen/snowball: English and French, and
// Spanish), and the stems and pairs of adjacent stems that recur across
// comments become themes, each named by its most common wording, counted,
// split by detractors, passives and promoters, with example quotes.

import (
	"sort"
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"
	"github.com/kljensen/snowball/french"
	"github.com/kljensen/snowball/spanish"
)

// Comment is one open answer: its text, language and the respondent's NPS
// group ("detractor", "passive", "promoter"; "" when unknown).
type Comment struct {
	Text     string
	Language string
	Group    string
}

// Theme is a recurring subject of comments in one language.
type Theme struct {
	Label      string   `json:"label"`    // its most common wording
	Language   string   `json:"language"` // en, fr…
	Count      int      `json:"count"`    // comments that mention it
	Detractors int      `json:"detractors"`
	Passives   int      `json:"passives"`
	Promoters  int      `json:"promoters"`
	Examples   []string `json:"examples"` // up to three quotes
}

// NPSGroup is the group of an NPS score.
func NPSGroup(score int64) string {
	switch {
	case score >= 9:
		return "promoter"
	case score >= 7:
		return "passive"
	default:
		return "detractor"
	}
}

// stemmer is a language's stop-word test and stemmer; nil when Canvass
// has none for it.
type stemmer struct {
	stop func(string) bool
	stem func(string, bool) string
}

var stemmers = map[string]stemmer{
	"en": {english.IsStopWord, english.Stem},
	"fr": {french.IsStopWord, french.Stem},
	"es": {spanish.IsStopWord, spanish.Stem},
}

// ThemeLanguages are the languages comments can be grouped in.
func ThemeLanguages() []string { return []string{"en", "es", "fr"} }

// token is a stemmed word with the wording it came from.
type token struct{ stem, word string }

// tokens splits text into stemmed content words; a stop word breaks a
// phrase (empty token).
func (s stemmer) tokens(text string) []token {
	var out []token
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' })
	for _, w := range words {
		// Elisions: l'agent, j'ai, qu'il.
		if i := strings.LastIndexByte(w, '\''); i >= 0 {
			w = w[i+1:]
		}
		if len([]rune(w)) < 3 || s.stop(w) {
			out = append(out, token{})
			continue
		}
		out = append(out, token{stem: s.stem(w, false), word: w})
	}
	return out
}

// Themes groups comments into at most max themes per language (a theme
// needs at least min comments), most mentioned first.
func Themes(comments []Comment, max, min int) []Theme {
	if min < 1 {
		min = 1
	}
	byLang := map[string][]Comment{}
	for _, c := range comments {
		lang := strings.ToLower(c.Language)
		if i := strings.IndexAny(lang, "-_"); i > 0 {
			lang = lang[:i]
		}
		if _, ok := stemmers[lang]; ok && strings.TrimSpace(c.Text) != "" {
			byLang[lang] = append(byLang[lang], c)
		}
	}
	langs := make([]string, 0, len(byLang))
	for l := range byLang {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	var out []Theme
	for _, lang := range langs {
		out = append(out, themesOf(byLang[lang], lang, max, min)...)
	}
	return out
}

// term is a stem or pair of stems and where it occurs.
type term struct {
	key      string
	bigram   bool
	docs     []int
	wordings map[string]int
}

func themesOf(cs []Comment, lang string, max, min int) []Theme {
	s := stemmers[lang]
	terms := map[string]*term{}
	for i, c := range cs {
		seen := map[string]bool{}
		toks := s.tokens(c.Text)
		add := func(key, wording string, bigram bool) {
			t := terms[key]
			if t == nil {
				t = &term{key: key, bigram: bigram, wordings: map[string]int{}}
				terms[key] = t
			}
			t.wordings[wording]++
			if !seen[key] {
				seen[key] = true
				t.docs = append(t.docs, i)
			}
		}
		for j, tk := range toks {
			if tk.stem == "" {
				continue
			}
			add(tk.stem, tk.word, false)
			if j+1 < len(toks) && toks[j+1].stem != "" {
				add(tk.stem+" "+toks[j+1].stem, tk.word+" "+toks[j+1].word, true)
			}
		}
	}
	var ranked []*term
	for _, t := range terms {
		if len(t.docs) >= min {
			ranked = append(ranked, t)
		}
	}
	// Pairs first when they recur as often as their words: "charged twice"
	// says more than "charged".
	score := func(t *term) float64 {
		if t.bigram {
			return float64(len(t.docs)) * 1.25
		}
		return float64(len(t.docs))
	}
	sort.Slice(ranked, func(i, j int) bool {
		if si, sj := score(ranked[i]), score(ranked[j]); si != sj {
			return si > sj
		}
		return ranked[i].key < ranked[j].key
	})
	var chosen []*term
	for _, t := range ranked {
		if len(chosen) == max {
			break
		}
		dup := false
		for _, c := range chosen {
			if overlap(t.docs, c.docs) >= 0.75 {
				dup = true
				break
			}
		}
		if !dup {
			chosen = append(chosen, t)
		}
	}
	out := make([]Theme, 0, len(chosen))
	for _, t := range chosen {
		th := Theme{Label: commonest(t.wordings), Language: lang, Count: len(t.docs)}
		docs := append([]int(nil), t.docs...)
		sort.Slice(docs, func(i, j int) bool { return len(cs[docs[i]].Text) < len(cs[docs[j]].Text) })
		for _, d := range t.docs {
			switch cs[d].Group {
			case "detractor":
				th.Detractors++
			case "passive":
				th.Passives++
			case "promoter":
				th.Promoters++
			}
		}
		for _, d := range docs {
			if len(th.Examples) == 3 {
				break
			}
			th.Examples = append(th.Examples, Clip(strings.TrimSpace(cs[d].Text), 200))
		}
		out = append(out, th)
	}
	return out
}

// overlap is the share of the smaller set found in the other.
func overlap(a, b []int) float64 {
	in := map[int]bool{}
	for _, x := range a {
		in[x] = true
	}
	n := 0
	for _, x := range b {
		if in[x] {
			n++
		}
	}
	return float64(n) / float64(min(len(a), len(b)))
}

// commonest is the most frequent wording (ties: the shortest, then the
// first in order).
func commonest(ws map[string]int) string {
	best, n := "", -1
	for w, c := range ws {
		if c > n || c == n && (len(w) < len(best) || len(w) == len(best) && w < best) {
			best, n = w, c
		}
	}
	return best
}

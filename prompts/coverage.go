package prompts

// This file is the coverage check: every prompt a keypad call of a
// questionnaire may play — its own texts and the IVR engine's stock phrases
// — and whether each will be heard as a recording, as synthesized speech, or
// not at all (`canvass prompts check`, GET …/prompts).

import (
	"fmt"
	"os"
	"strings"

	"github.com/canvass/canvass/survey"
)

// Ref is one prompt a call may play: its questionnaire ("" for a stock
// phrase), id and language, and the text it says when it has no recording
// (as written in the questionnaire, before piping).
type Ref struct {
	Questionnaire string
	ID            string
	Language      string
	Text          string
}

// Status is how a prompt will be heard.
type Status string

// Statuses.
const (
	StatusRecorded    Status = "recorded"    // a recording is in the catalog
	StatusSynthesized Status = "synthesized" // no recording; espeak-ng speaks the text (once, then cached)
	StatusPiped       Status = "piped"       // no recording; the text has {{…}}, so it is synthesized per call
	StatusMissing     Status = "missing"     // nothing can play it
)

// Coverage is one prompt's status.
type Coverage struct {
	Ref
	Status Status
	Cached bool   // synthesized speech for the text is already in the cache
	Detail string // why a prompt is missing, or that its recording cannot be read
}

// Stock phrase ids: what the IVR engine says when a questionnaire gives no
// text of its own.
const (
	PhraseNoInput      = "no_input"
	PhraseNoMatch      = "no_match"
	PhraseLanguageMenu = "language_menu" // a format with the key (%d); recorded per key as language_menu.N
	PhraseApology      = "apology"
	// PhraseResume greets a respondent called back to finish a keypad
	// interview; {question} and {questions} are filled in.
	PhraseResume = "resume"
	// PhraseTransfer is said to a respondent who pressed the agent key
	// (mixed mode) while a free interviewer is found; PhraseNoAgent when
	// none is free in time and the keypad goes on; PhraseHandBack when the
	// keypad part an interviewer asked for is done.
	PhraseTransfer = "transfer"
	PhraseNoAgent  = "no_agent"
	PhraseHandBack = "hand_back"
)

// phrases are the stock phrases by language and id.
func phrases() map[string]map[string]string {
	return map[string]map[string]string{
		"en": {PhraseNoInput: "Sorry, I did not hear your answer.", PhraseNoMatch: "Sorry, that is not a valid answer.",
			PhraseLanguageMenu: "For English, press %d.", PhraseApology: "Sorry, this survey is not available. Goodbye.",
			PhraseResume:   "Welcome back. We were at question {question} of {questions}; let us continue.",
			PhraseTransfer: "Please hold: an interviewer will take your call.", PhraseNoAgent: "Sorry, nobody is free to take your call right now; let us continue.",
			PhraseHandBack: "Thank you. Your interviewer is back with you."},
		"fr": {PhraseNoInput: "Désolé, je n'ai pas entendu votre réponse.", PhraseNoMatch: "Désolé, cette réponse n'est pas valable.",
			PhraseLanguageMenu: "Pour le français, appuyez sur le %d.", PhraseApology: "Désolé, ce questionnaire n'est pas disponible. Au revoir.",
			PhraseResume:   "Bon retour. Nous en étions à la question {question} sur {questions}; continuons.",
			PhraseTransfer: "Veuillez patienter : un enquêteur va prendre votre appel.", PhraseNoAgent: "Désolé, personne n'est disponible pour le moment ; continuons.",
			PhraseHandBack: "Merci. Votre enquêteur reprend avec vous."},
		"es": {PhraseNoInput: "Lo siento, no escuché su respuesta.", PhraseNoMatch: "Lo siento, esa respuesta no es válida.",
			PhraseLanguageMenu: "Para español, oprima el %d.", PhraseApology: "Lo siento, esta encuesta no está disponible. Adiós.",
			PhraseResume:   "Bienvenido de nuevo. Estábamos en la pregunta {question} de {questions}; continuemos.",
			PhraseTransfer: "Por favor, espere: un entrevistador atenderá su llamada.", PhraseNoAgent: "Lo siento, no hay nadie disponible en este momento; continuemos.",
			PhraseHandBack: "Gracias. Su entrevistador vuelve con usted."},
		"de": {PhraseNoInput: "Entschuldigung, ich habe Ihre Antwort nicht gehört.", PhraseNoMatch: "Entschuldigung, diese Antwort ist nicht gültig.",
			PhraseLanguageMenu: "Für Deutsch drücken Sie die %d.", PhraseApology: "Entschuldigung, diese Umfrage ist nicht verfügbar. Auf Wiederhören.",
			PhraseResume:   "Willkommen zurück. Wir waren bei Frage {question} von {questions}; machen wir weiter.",
			PhraseTransfer: "Bitte bleiben Sie dran: ein Interviewer übernimmt Ihren Anruf.", PhraseNoAgent: "Entschuldigung, gerade ist niemand frei; machen wir weiter.",
			PhraseHandBack: "Danke. Ihr Interviewer ist wieder für Sie da."},
		"nl": {PhraseNoInput: "Sorry, ik heb uw antwoord niet gehoord.", PhraseNoMatch: "Sorry, dat is geen geldig antwoord.",
			PhraseLanguageMenu: "Voor Nederlands, druk op %d.", PhraseApology: "Sorry, deze enquête is niet beschikbaar. Tot ziens.",
			PhraseResume:   "Welkom terug. We waren bij vraag {question} van {questions}; we gaan verder.",
			PhraseTransfer: "Een ogenblik: een interviewer neemt uw gesprek over.", PhraseNoAgent: "Sorry, er is nu niemand vrij; we gaan verder.",
			PhraseHandBack: "Dank u. Uw interviewer is weer bij u."},
		"it": {PhraseNoInput: "Mi scusi, non ho sentito la sua risposta.", PhraseNoMatch: "Mi scusi, questa risposta non è valida.",
			PhraseLanguageMenu: "Per l'italiano, premere il %d.", PhraseApology: "Mi scusi, questo sondaggio non è disponibile. Arrivederci.",
			PhraseResume:   "Bentornato. Eravamo alla domanda {question} di {questions}; continuiamo.",
			PhraseTransfer: "Resti in linea: un intervistatore prenderà la sua chiamata.", PhraseNoAgent: "Mi scusi, al momento nessuno è disponibile; continuiamo.",
			PhraseHandBack: "Grazie. Il suo intervistatore è di nuovo con lei."},
		"pt": {PhraseNoInput: "Desculpe, não ouvi a sua resposta.", PhraseNoMatch: "Desculpe, essa resposta não é válida.",
			PhraseLanguageMenu: "Para português, pressione %d.", PhraseApology: "Desculpe, esta pesquisa não está disponível. Adeus.",
			PhraseResume:   "Bem-vindo de volta. Estávamos na pergunta {question} de {questions}; vamos continuar.",
			PhraseTransfer: "Aguarde, por favor: um entrevistador vai atender a sua chamada.", PhraseNoAgent: "Desculpe, ninguém está disponível agora; vamos continuar.",
			PhraseHandBack: "Obrigado. O seu entrevistador está de volta."},
	}
}

// phrase finds a stock phrase in lang, then in its base language ("pt" for
// "pt-BR"); ok is false when neither has one.
func phrase(lang, id string) (text string, ok bool) {
	all := phrases()
	if p, ok := all[lang][id]; ok {
		return p, true
	}
	base, _, _ := strings.Cut(strings.ReplaceAll(lang, "_", "-"), "-")
	p, ok := all[strings.ToLower(base)][id]
	return p, ok
}

// Phrase returns a stock phrase in lang or its base language, in English
// when neither has it (Check reports that as missing: record it).
func Phrase(lang, id string) string {
	if p, ok := phrase(lang, id); ok {
		return p
	}
	return phrases()["en"][id]
}

// Prompts lists every prompt a keypad call of q may play, in the order a
// call meets them, each in every language of q: the intro, each question
// and its own no-input and no-match reprompts, the thanks, then the stock
// phrases the call may need (the language menu when q has several
// languages, the generic reprompts when a question has none of its own, the
// apology). A questionnaire that does not run by keypad has none.
func Prompts(q *survey.Questionnaire) []Ref {
	if !q.HasMode(survey.ModeIVR) {
		return nil
	}
	def := q.DefaultLanguage()
	var refs []Ref
	add := func(id string, t survey.Text) {
		for _, l := range q.Languages {
			if text := t.In(l, def); text != "" {
				refs = append(refs, Ref{Questionnaire: q.ID, ID: id, Language: l, Text: text})
			}
		}
	}
	add("intro", q.Intro)
	stock := map[string]bool{}
	for _, qq := range q.Questions {
		add(qq.ID, qq.Text)
		if qq.Type == survey.TypeStatement || qq.Type == survey.TypeRecording {
			continue // said or recorded, never gathered: no reprompts
		}
		add(qq.ID+"."+PhraseNoInput, qq.NoInput)
		add(qq.ID+"."+PhraseNoMatch, qq.NoMatch)
		for _, l := range q.Languages {
			stock[PhraseNoInput] = stock[PhraseNoInput] || qq.NoInput.In(l, def) == ""
			stock[PhraseNoMatch] = stock[PhraseNoMatch] || qq.NoMatch.In(l, def) == ""
		}
	}
	add("thanks", q.Thanks)
	if len(q.Languages) > 1 {
		for i, l := range q.Languages {
			refs = append(refs, Ref{ID: fmt.Sprintf("%s.%d", PhraseLanguageMenu, i+1), Language: l, Text: fmt.Sprintf(Phrase(l, PhraseLanguageMenu), i+1)})
		}
	}
	for _, id := range []string{PhraseNoInput, PhraseNoMatch, PhraseApology} {
		if id == PhraseApology || stock[id] {
			for _, l := range q.Languages {
				refs = append(refs, Ref{ID: id, Language: l, Text: Phrase(l, id)})
			}
		}
	}
	return refs
}

// Check reports how each prompt of q (Prompts) will be heard.
func (c *Catalog) Check(q *survey.Questionnaire) []Coverage {
	speechErr := c.SpeechAvailable()
	var out []Coverage
	for _, r := range Prompts(q) {
		out = append(out, c.cover(r, speechErr))
	}
	return out
}

func (c *Catalog) cover(r Ref, speechErr error) Coverage {
	cv := Coverage{Ref: r}
	path, err := c.path(r.Questionnaire, r.ID, r.Language)
	if err != nil {
		cv.Status, cv.Detail = StatusMissing, err.Error()
		return cv
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		_, broken := readHeader(path)
		if broken == nil {
			cv.Status = StatusRecorded
			return cv
		}
		cv.Detail = fmt.Sprintf("the recording %s cannot be read (%v)", path, broken)
	}
	stock, _, _ := strings.Cut(r.ID, ".") // language_menu.2 → language_menu
	if _, ok := phrase(r.Language, stock); r.Questionnaire == "" && !ok {
		cv.Status = StatusMissing
		cv.Detail = fmt.Sprintf("Canvass has no stock phrase %q in %s and would say it in English: record it", stock, r.Language)
		return cv
	}
	switch {
	case speechErr != nil:
		cv.Status = StatusMissing
		if cv.Detail == "" {
			cv.Detail = "no recording, and " + speechErr.Error()
		} else {
			cv.Detail += "; " + speechErr.Error()
		}
	case strings.Contains(r.Text, "{{"):
		cv.Status = StatusPiped
	default:
		cv.Status = StatusSynthesized
		if _, err := os.Stat(c.speechFile(c.voice(r.Language), r.Text)); err == nil {
			cv.Cached = true
		}
	}
	return cv
}

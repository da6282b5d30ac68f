package ivr

// This file is the terminal Channel behind `canvass survey try`: prompts are
// printed, and each line read stands for what the caller keyed during one
// gather. Time does not pass in a terminal, so the end of a line is the
// timeout: digits without "#" are the partial entry a timeout would return.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Terminal is a Channel on a text stream.
type Terminal struct {
	in    *bufio.Scanner
	out   io.Writer
	ahead string // keys typed beyond the last entry: type-ahead for the next
	lang  string // of the last prompt, for the hints
	now   func() time.Time
}

// terminalHints are the terminal's own words, by language: one digit, a
// range of digits, the keys, a voice comment, the end of the call. "hangup"
// is the word to type, in every language.
var terminalHints = map[string][5]string{
	"en": {"%d digit", "%d to %d digits", "# to finish, * to repeat, empty line = no input, hangup",
		"voice comment: a terminal cannot record; Enter to go on, or hangup", "(call ended)"},
	"fr": {"%d chiffre", "%d à %d chiffres", "# pour valider, * pour répéter, ligne vide = pas de réponse, hangup pour raccrocher",
		"commentaire vocal : un terminal ne peut pas enregistrer ; Entrée pour continuer, ou hangup", "(appel terminé)"},
	"es": {"%d dígito", "de %d a %d dígitos", "# para terminar, * para repetir, línea vacía = sin respuesta, hangup para colgar",
		"comentario de voz: un terminal no puede grabar; Intro para seguir, o hangup", "(llamada terminada)"},
	"de": {"%d Ziffer", "%d bis %d Ziffern", "# zum Abschließen, * zum Wiederholen, leere Zeile = keine Eingabe, hangup zum Auflegen",
		"Sprachkommentar: ein Terminal kann nicht aufnehmen; Eingabe zum Fortfahren, oder hangup", "(Anruf beendet)"},
	"nl": {"%d cijfer", "%d tot %d cijfers", "# om af te sluiten, * om te herhalen, lege regel = geen invoer, hangup om op te hangen",
		"spraakbericht: een terminal kan niet opnemen; Enter om verder te gaan, of hangup", "(gesprek beëindigd)"},
	"it": {"%d cifra", "da %d a %d cifre", "# per confermare, * per ripetere, riga vuota = nessuna risposta, hangup per riagganciare",
		"commento vocale: un terminale non può registrare; Invio per continuare, o hangup", "(chiamata terminata)"},
	"pt": {"%d dígito", "%d a %d dígitos", "# para terminar, * para repetir, linha vazia = sem resposta, hangup para desligar",
		"comentário de voz: um terminal não pode gravar; Enter para continuar, ou hangup", "(chamada terminada)"},
}

// hints are the terminal's words in lang (pt-BR → pt), English otherwise.
func hints(lang string) [5]string {
	if h, ok := terminalHints[lang]; ok {
		return h
	}
	base, _, _ := strings.Cut(lang, "-")
	if h, ok := terminalHints[base]; ok {
		return h
	}
	return terminalHints["en"]
}

// NewTerminal reads key lines from r and writes prompts to w.
func NewTerminal(r io.Reader, w io.Writer, now func() time.Time) *Terminal {
	if now == nil {
		now = time.Now
	}
	return &Terminal{in: bufio.NewScanner(r), out: w, now: now}
}

var _ Channel = (*Terminal)(nil)

// Say prints a prompt.
func (t *Terminal) Say(ctx context.Context, p Prompt) error {
	t.lang = p.Language
	_, err := fmt.Fprintf(t.out, "  %s\n", p.Text)
	return err
}

// line reads the next line; end of input is a hangup.
func (t *Terminal) line() (string, error) {
	if !t.in.Scan() {
		if err := t.in.Err(); err != nil {
			return "", err
		}
		return "", ErrHangup
	}
	s := strings.TrimSpace(t.in.Text())
	if strings.EqualFold(s, "hangup") {
		return "", ErrHangup
	}
	return s, nil
}

// Ask prints the prompt and the keys it takes, then consumes keys: those
// left over from the previous line first, else one new line.
func (t *Terminal) Ask(ctx context.Context, spec GatherSpec, ps ...Prompt) (Input, error) {
	in := Input{PromptStart: t.now()}
	for _, p := range ps[:max(len(ps)-1, 0)] {
		fmt.Fprintf(t.out, "  %s\n", p.Text)
	}
	p := ps[len(ps)-1]
	t.lang = p.Language
	h := hints(p.Language)
	hint := fmt.Sprintf(h[0], spec.MaxDigits)
	if spec.MaxDigits > 1 {
		hint = fmt.Sprintf(h[1], spec.MinDigits, spec.MaxDigits)
	}
	fmt.Fprintf(t.out, "? %s\n  [%s, %s]\n", p.Text, hint, h[2])
	keys := t.ahead
	t.ahead = ""
	if keys == "" {
		var err error
		if keys, err = t.line(); err != nil {
			return in, err
		}
	}
	keys = strings.ReplaceAll(keys, " ", "")
	for i, k := range keys {
		in.Raw += string(k)
		switch {
		case k == '*':
			in.Repeat, in.Digits = true, ""
			t.ahead = keys[i+1:]
			return in, nil
		case k == '#':
			t.ahead = keys[i+1:]
			return in, nil
		default:
			// Not a keypad key: kept so the entry is a no-match, as a
			// garbled tone would be.
			in.Digits += string(k)
			if len(in.Digits) == spec.MaxDigits && spec.MaxDigits > 0 {
				// A full entry ends the gather; a "#" right after it is
				// still part of this entry.
				rest := keys[i+1:]
				if strings.HasPrefix(rest, "#") {
					in.Raw += "#"
					rest = rest[1:]
				}
				t.ahead = rest
				return in, nil
			}
		}
	}
	return in, nil
}

// Record cannot record in a terminal: it reads one line (so a script can
// hang up during the comment) and reports ErrCannotRecord.
func (t *Terminal) Record(ctx context.Context, p Prompt, spec RecordSpec) (Recording, error) {
	t.lang = p.Language
	fmt.Fprintf(t.out, "? %s\n  [%s]\n", p.Text, hints(p.Language)[3])
	t.ahead = ""
	if _, err := t.line(); err != nil {
		return Recording{}, err
	}
	return Recording{}, ErrCannotRecord
}

// Hangup prints the end of the call.
func (t *Terminal) Hangup(ctx context.Context) error {
	_, err := fmt.Fprintln(t.out, "  "+hints(t.lang)[4])
	return err
}

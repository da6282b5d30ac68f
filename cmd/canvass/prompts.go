package main

// This file is the prompt catalog's wiring: `canvass prompts check FILE`,
// which tells which prompts of a questionnaire are recorded, synthesized or
// missing, and the adapter that gives the HTTP server the catalog
// (cati.Audio).

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/prompts"
	"github.com/canvass/canvass/survey"
)

// promptsCheck is `canvass prompts check FILE`: one line per prompt a
// keypad call may play, with its status; exit status 1 when any is missing.
func promptsCheck(args []string, opts prompts.Options, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: prompts check needs exactly one FILE", errUsage)
	}
	file := args[0]
	src, err := readSource(file)
	if err != nil {
		return err
	}
	q, err := survey.Parse(src)
	if err != nil {
		if ps, ok := err.(survey.Problems); ok {
			fmt.Fprint(stdout, ps.Format(file))
			return exitError(1)
		}
		return fmt.Errorf("%s: %w", file, err)
	}
	catalog, err := prompts.New(opts, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	coverage := catalog.Check(q)
	if len(coverage) == 0 {
		fmt.Fprintf(stdout, "%s: questionnaire %s does not run by keypad (modes: %v), so it plays no prompts\n", file, q.ID, q.Modes)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROMPT\tLANG\tSTATUS\tTEXT")
	counts := map[prompts.Status]int{}
	// The same reason (espeak-ng missing) is said once, with how many
	// prompts it concerns.
	var reasons []string
	concerns := map[string][]string{}
	for _, c := range coverage {
		name := c.Questionnaire + "/" + c.ID
		if c.Questionnaire == "" {
			name = "(stock)/" + c.ID
		}
		status := string(c.Status)
		switch {
		case c.Cached:
			status += " (cached)"
		case c.Status == prompts.StatusPiped:
			status += " (per call)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, c.Language, status, clip(c.Text, 50))
		counts[c.Status]++
		if c.Detail != "" {
			if _, ok := concerns[c.Detail]; !ok {
				reasons = append(reasons, c.Detail)
			}
			concerns[c.Detail] = append(concerns[c.Detail], fmt.Sprintf("%s [%s]", name, c.Language))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var parts []string
	for _, s := range []prompts.Status{prompts.StatusRecorded, prompts.StatusSynthesized, prompts.StatusPiped, prompts.StatusMissing} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	fmt.Fprintf(stdout, "\n%d prompts: %s\n", len(coverage), strings.Join(parts, ", "))
	for _, r := range reasons {
		names := concerns[r]
		if len(names) > 3 {
			fmt.Fprintf(stdout, "  %d prompts: %s\n", len(names), r)
		} else {
			fmt.Fprintf(stdout, "  %s: %s\n", strings.Join(names, ", "), r)
		}
	}
	if counts[prompts.StatusMissing] > 0 {
		return exitError(1)
	}
	return nil
}

// clip shortens a text for one table cell.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// promptsAudio gives the HTTP server the prompt catalog.
type promptsAudio struct{ c *prompts.Catalog }

var _ cati.Audio = promptsAudio{}

func (a promptsAudio) PutPrompt(ctx context.Context, questionnaire, prompt, lang string, r io.Reader) (cati.PromptInfo, error) {
	info, err := a.c.Put(ctx, questionnaire, prompt, lang, r)
	if err != nil {
		return cati.PromptInfo{}, err
	}
	format := info.Encoding.String()
	if info.Encoding == prompts.EncodingPCM || info.Encoding == prompts.EncodingFloat {
		format = fmt.Sprintf("%s %d-bit", format, info.Bits)
	}
	return cati.PromptInfo{Duration: info.Duration, SourceSampleRate: info.SampleRate,
		SourceChannels: info.Channels, SourceFormat: format}, nil
}

func (a promptsAudio) PromptCoverage(q *survey.Questionnaire) []cati.PromptCoverage {
	var out []cati.PromptCoverage
	for _, c := range a.c.Check(q) {
		out = append(out, cati.PromptCoverage{Stock: c.Questionnaire == "", Prompt: c.ID, Language: c.Language,
			Text: c.Text, Status: string(c.Status), Cached: c.Cached, Detail: c.Detail})
	}
	return out
}

func (a promptsAudio) OpenRecording(name string) (*os.File, error) { return a.c.OpenRecording(name) }

package main

// This file is the questionnaire tools: lint lists every problem of every
// file; try runs a questionnaire as a keypad survey on the terminal, through
// the same IVR engine and keypad rules as a real call.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/survey"
)

func lint(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: survey lint needs at least one FILE", errUsage)
	}
	failed := false
	for _, file := range args {
		src, err := readSource(file)
		if err != nil {
			fmt.Fprintf(stdout, "%s:0: %v\n", file, err)
			failed = true
			continue
		}
		if _, err := survey.Parse(src); err != nil {
			failed = true
			if ps, ok := err.(survey.Problems); ok {
				fmt.Fprint(stdout, ps.Format(file))
			} else {
				fmt.Fprintf(stdout, "%s:0: %v\n", file, err)
			}
			continue
		}
		fmt.Fprintf(stdout, "%s: ok\n", file)
	}
	if failed {
		return exitError(1)
	}
	return nil
}

func readSource(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, survey.MaxSourceBytes+1))
	if err != nil {
		return nil, err
	}
	return src, nil
}

// tryResult is the --json output of survey try.
type tryResult struct {
	Status   survey.Status  `json:"status"`
	Language string         `json:"language"`
	Answers  map[string]any `json:"answers"`
}

func try(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("survey try", flag.ContinueOnError)
	fs.SetOutput(stderr)
	lang := fs.String("lang", "", "language (default: the questionnaire's first)")
	asJSON := fs.Bool("json", false, "print the outcome as one JSON object; prompts go to stderr")
	file, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	src, err := readSource(file)
	if err != nil {
		return err
	}
	q, err := survey.Parse(src)
	if err != nil {
		if ps, ok := err.(survey.Problems); ok {
			fmt.Fprint(stderr, ps.Format(file))
			return exitError(1)
		}
		return err
	}
	if !q.HasMode(survey.ModeIVR) {
		return fmt.Errorf("%s: questionnaire %s has modes %v; survey try runs keypad (ivr) surveys", file, q.ID, q.Modes)
	}
	iv, err := q.Start(*lang, nil, nil)
	if err != nil {
		return fmt.Errorf("%s: %s", file, survey.ErrorMessage(err))
	}
	prompts := stdout
	if *asJSON {
		prompts = stderr
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	status, err := ivr.New(ivr.DefaultOptions(), nil, nil, log, nil).Run(ctx, ivr.NewTerminal(stdin, prompts, nil), iv, 0)
	if err != nil {
		return err
	}
	res := tryResult{Status: status, Language: iv.Language(), Answers: map[string]any{}}
	for _, qq := range q.Questions {
		if qq.Answerable() {
			res.Answers[qq.ID] = nil
		}
	}
	for _, a := range iv.Answers() {
		res.Answers[a.Question] = a.Value
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "outcome: %s (%s)\n", status, iv.Language())
	for _, qq := range q.Questions {
		if qq.Answerable() {
			v := res.Answers[qq.ID]
			if v == nil {
				v = "-"
			}
			fmt.Fprintf(stdout, "  %-20s %v\n", qq.ID, v)
		}
	}
	return nil
}

// parseInterleaved parses flags that may come before or after the one
// positional argument, and returns that argument.
func parseInterleaved(fs *flag.FlagSet, args []string) (string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return "", fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		return "", fmt.Errorf("%w: %s needs exactly one FILE", errUsage, fs.Name())
	}
	return pos[0], nil
}

// Command canvass is the one Canvass binary and the only place where its
// packages are wired together: serve, migrate, user and token management,
// and the questionnaire tools (survey lint, survey try).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/canvass/canvass/config"
)

const usage = `canvass — telephone survey server

Usage:
  canvass serve [-config FILE]                  serve HTTP (API, metrics, health)
  canvass dev [-config FILE] [-data DIR]        like serve, with a local PostgreSQL and the examples (make run)
  canvass migrate [-config FILE]                apply database migrations
  canvass user add --role ROLE NAME             add a console account; password read from stdin
  canvass user password NAME                    set a new password (stdin) and end the account's sessions
  canvass token create --role ROLE NAME         create an API token, printed once
  canvass survey lint FILE...                   check questionnaires; FILE:LINE: message per problem
  canvass survey try FILE [--lang xx] [--json]  answer a questionnaire by keypad lines on stdin
  canvass prompts check FILE                    which prompts are recorded, synthesized or missing
  canvass dialer simulate [--days N] [--interviewers N] [--mode progressive|predictive|both] [--json] [--svg FILE]
                                                a simulated campaign through the dialer's rules: windows, DNC, abandonment, utilisation
  canvass loadtest [-calls N,...] [-spawn DIR]  concurrent keypad calls: latency, jitter, CPU and memory per call (make bench)
  canvass bridgebench [-calls N,...]            concurrent browser↔SIP bridged calls: latency, loss, CPU and memory per call (make bench)
  canvass cluster run [-nodes N] [-data DIR]    Kamailio on 127.0.0.1:5080 in front of N nodes sharing a local PostgreSQL (make cluster)
  canvass cluster config -listen IP:PORT -node IP:PORT... [-out DIR]
                                                write kamailio.cfg and dispatcher.list for a cluster

Configuration: -config FILE (YAML, see config/example.yaml), then CANVASS_* environment variables.
`

// errUsage marks a command-line mistake: exit status 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	var exit exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &exit):
		os.Exit(int(exit))
	case errors.Is(err, errUsage):
		fmt.Fprintf(os.Stderr, "canvass: %v\n\n%s", err, usage)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "canvass: %v\n", err)
		os.Exit(1)
	}
}

// exitError ends the process with a status after the command printed its
// own report (lint problems).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no command", errUsage)
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "survey":
		if len(rest) == 0 {
			return fmt.Errorf("%w: survey needs lint or try", errUsage)
		}
		switch rest[0] {
		case "lint":
			return lint(rest[1:], stdout)
		case "try":
			return try(ctx, rest[1:], stdin, stdout, stderr)
		}
		return fmt.Errorf("%w: unknown survey command %q", errUsage, rest[0])
	case "dialer":
		if len(rest) == 0 || rest[0] != "simulate" {
			return fmt.Errorf("%w: dialer needs simulate", errUsage)
		}
		return simulate(rest[1:], stdout, stderr)
	case "loadtest":
		return loadtest(ctx, rest, stdout, stderr)
	case "bridgebench":
		return bridgebench(ctx, rest, stdin, stdout, stderr)
	case "cluster":
		return cluster(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		fmt.Fprintf(stdout, "\nEnvironment (each also as NAME_FILE, read from a file, for secrets):\n")
		for _, v := range config.Variables() {
			fmt.Fprintf(stdout, "  %s\n", v)
		}
		return nil
	default:
		return runServer(ctx, cmd, rest, stdin, stdout, stderr)
	}
}

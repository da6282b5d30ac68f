package main

// This file wires the long-running commands: serve, dev (make run), migrate,
// and account management (user add, token create).

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/config"
	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/asterisk"
	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/ivr/transcribe"
	"github.com/canvass/canvass/prompts"
	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/pglocal"
	"github.com/canvass/canvass/survey"
	"github.com/canvass/canvass/testdata"
)

// env carries what a command needs from its surroundings.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func runServer(ctx context.Context, cmd string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	switch cmd {
	case "serve":
		return e.serve(ctx, args, "")
	case "dev":
		return e.dev(ctx, args)
	case "migrate":
		return e.migrate(ctx, args)
	case "user":
		switch {
		case len(args) > 0 && args[0] == "add":
			return e.userAdd(ctx, args[1:])
		case len(args) > 0 && args[0] == "password":
			return e.userPassword(ctx, args[1:])
		}
		return fmt.Errorf("%w: user needs add or password", errUsage)
	case "prompts":
		if len(args) == 0 || args[0] != "check" {
			return fmt.Errorf("%w: prompts needs check", errUsage)
		}
		fs, cfg, _, err := e.setup("prompts check", args[1:], nil)
		if err != nil {
			return err
		}
		return promptsCheck(fs.Args(), cfg.Prompts, e.stdout)
	case "token":
		if len(args) == 0 || args[0] != "create" {
			return fmt.Errorf("%w: token needs create", errUsage)
		}
		return e.tokenCreate(ctx, args[1:])
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

// setup parses the common flags (-config, and -data for dev) and loads the
// configuration and logger.
func (e env) setup(name string, args []string, extra func(*flag.FlagSet)) (*flag.FlagSet, config.Config, *slog.Logger, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	file := fs.String("config", e.getenv("CANVASS_CONFIG"), "configuration file (YAML); default $CANVASS_CONFIG")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, config.Config{}, nil, err // the flags are printed: done
		}
		return nil, config.Config{}, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	cfg, err := config.Load(*file, e.getenv)
	if err != nil {
		return nil, cfg, nil, err
	}
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.Log.Level]
	var h slog.Handler = slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level})
	if cfg.Log.Format == "json" {
		h = slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: level})
	}
	return fs, cfg, slog.New(h), nil
}

// devURLFile, in the data directory of `canvass dev`, holds the URL of its
// local PostgreSQL while it runs.
const devURLFile = "database-url"

// open connects to the configured database and migrates it. With no URL
// and a data directory (canvass dev), it starts the local cluster there, and
// closeDB also stops that cluster.
func open(ctx context.Context, cfg config.Config, dataDir string, log *slog.Logger) (db *sql.DB, closeDB func(), err error) {
	url := cfg.Database.DatabaseURL
	stop := func() {}
	if url == "" {
		if dataDir == "" {
			return nil, nil, errors.New("no database: set CANVASS_DATABASE_URL (or database.database_url in the config file); `canvass dev` (make run) starts a local one")
		}
		dir, err := filepath.Abs(filepath.Join(dataDir, "postgres"))
		if err != nil {
			return nil, nil, err
		}
		cluster, err := pglocal.Start(ctx, dir, pglocal.Options{})
		if errors.Is(err, pglocal.ErrUnreachable) {
			// As root in a checkout under /root, say: PostgreSQL refuses to
			// run as root and user postgres cannot enter the checkout, so
			// the cluster lives in a directory of its own, one per checkout.
			sum := sha256.Sum256([]byte(dir))
			alt := filepath.Join("/var/lib/canvass", fmt.Sprintf("dev-%x", sum[:6]), "postgres")
			log.Warn("data directory unreachable by user postgres; keeping the cluster elsewhere", "wanted", dir, "dir", alt)
			dir = alt
			cluster, err = pglocal.Start(ctx, dir, pglocal.Options{})
		}
		if err != nil {
			return nil, nil, fmt.Errorf("local PostgreSQL: %w", err)
		}
		stop = func() {
			if err := cluster.Stop(context.WithoutCancel(ctx)); err != nil {
				log.Warn("stop local PostgreSQL", "err", err)
			}
		}
		if err := cluster.CreateDatabase(ctx, "canvass"); err != nil {
			stop()
			return nil, nil, fmt.Errorf("local PostgreSQL: %w", err)
		}
		url = cluster.URL("canvass")
		log.Info("local PostgreSQL running", "dir", dir, "url", url)
		// The other commands (user add, token create…) reach this database
		// through the URL in the data directory while it runs.
		urlFile := filepath.Join(dataDir, devURLFile)
		if err := os.WriteFile(urlFile, []byte(url+"\n"), 0o600); err != nil {
			log.Warn("cannot write the database URL for the other commands", "err", err)
		}
		stopCluster := stop
		stop = func() {
			os.Remove(urlFile)
			stopCluster()
		}
	}
	db, err = sql.Open(ctx, url, cfg.Database.MaxConns)
	if err != nil {
		stop()
		return nil, nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		stop()
		return nil, nil, err
	}
	return db, func() { db.Close(); stop() }, nil
}

func (e env) migrate(ctx context.Context, args []string) error {
	_, cfg, log, err := e.setup("migrate", args, nil)
	if err != nil {
		return err
	}
	_, closeDB, err := open(ctx, cfg, "", log)
	if err != nil {
		return err
	}
	closeDB()
	fmt.Fprintln(e.stdout, "database migrated")
	return nil
}

// serve runs the HTTP server until ctx ends. dataDir is set by dev.
func (e env) serve(ctx context.Context, args []string, dataDir string) error {
	_, cfg, log, err := e.setup("serve", args, nil)
	if err != nil {
		return err
	}
	db, closeDB, err := open(ctx, cfg, dataDir, log)
	if err != nil {
		return err
	}
	defer closeDB()
	return e.serveDB(ctx, cfg, db, log, nil)
}

// serveDB runs every long-running component under one errgroup; the first
// to fail stops the others. ready, if set, runs once the servers listen,
// with the console's base URL (http:// or https://) and the SIP address
// ("" when SIP is off).
func (e env) serveDB(ctx context.Context, cfg config.Config, db *sql.DB, log *slog.Logger, ready func(baseURL, sipAddr string)) error {
	catalog, err := prompts.New(cfg.Prompts, log.With("component", "prompts"))
	if err != nil {
		return err
	}
	if err := catalog.SpeechAvailable(); err != nil {
		log.Warn("prompts without a recording cannot be synthesized", "err", err)
	}
	engine := ivr.New(cfg.IVR, db, db, log.With("component", "ivr"), nil)
	var runners []func(context.Context) error
	mounts := map[string]http.Handler{}
	var ari *asterisk.Client
	if cfg.ARI.Enabled() {
		var ps *asterisk.PromptServer
		if cfg.ARI.PromptMode == asterisk.PromptHTTP {
			ps = asterisk.NewPromptServer(log.With("component", "ari-prompts"))
			path, err := url.Parse(cfg.ARI.PromptBaseURL)
			if err != nil {
				return fmt.Errorf("ari.prompt_base_url: %w", err)
			}
			mounts[strings.TrimSuffix(path.Path, "/")+"/"] = ps
		}
		if ari, err = asterisk.New(cfg.ARI, engine, catalog, catalog, ps, log.With("component", "ari")); err != nil {
			return err
		}
		ari.SetGate(requestGate{db: db, rules: cfg.Requests, region: cfg.Console.DefaultRegion})
		runners = append(runners, ari.Run)
	}
	sipBound := ""
	var sip *sipua.Server
	if cfg.SIP.Addr != "" {
		if sip, err = sipua.New(cfg.SIP, engine, catalog, catalog, log.With("component", "sip")); err != nil {
			return err
		}
		sipBound = sip.Addr().String()
		log.Info("sip listening", "addr", sipBound)
		runners = append(runners, sip.Run)
	}
	console := &cati.Console{Options: cfg.Console, Sessions: db, Campaigns: db, Accounts: db, Desks: db, Answers: db, Floor: db, Events: db, Alerts: db}
	sb, closePhones, err := wirePhones(cfg, console, sip, ari, engine, log)
	if err != nil {
		return err
	}
	defer closePhones()
	mixed := &transfers{sb: sb}
	runner, err := wireDialer(cfg, db, engine, sip, ari, mixed, log)
	if err != nil {
		return err
	}
	if runner != nil {
		// Its claims carry this node's id (registered below, before Run);
		// it takes over the claims of nodes gone silent (dialer/takeover.go).
		runner.SetNode(engine)
		runners = append(runners, runner.Run)
	}
	var collectors []prometheus.Collector
	if sip != nil {
		collectors = append(collectors, sip.Collector())
	}
	srv, err := cati.New(cati.Deps{
		Options: cfg.HTTP,
		Store:   db,
		Tokens:  db,
		Audio:   promptsAudio{catalog},
		DNC:     db,
		Console: console,

		Requests:       db,
		RequestRules:   cfg.Requests,
		Webhooks:       db,
		WebhookOptions: cfg.Webhooks,
		Parsed:         engine.Parsed(),
		Mounts:         mounts,
		Collectors:     collectors,
		Log:            log.With("component", "http"),
	})
	if err != nil {
		return err
	}
	if runner != nil && console.Phones != nil {
		runner.SetAgents(srv)
		mixed.srv = srv // before the runner runs
	}
	// This process is a node among those sharing the database; interviews
	// a crashed node left open get their end (ivr/node.go, ivr/lost.go).
	runners = append(runners, func(ctx context.Context) error { return engine.Heartbeat(ctx, db) })
	runners = append(runners, func(ctx context.Context) error { return engine.CloseLostEvery(ctx, db, cfg.IVR.LostSweep) })
	// Voice answers are transcribed when a speech-to-text service is set.
	if w := transcribe.NewWorker(cfg.Transcribe, db, catalog, log.With("component", "transcribe")); w != nil {
		runners = append(runners, w.Run)
	}
	// Past days' report counts are rolled up for the dashboard (sql/report.go).
	runners = append(runners, func(ctx context.Context) error { return rollUpEvery(ctx, db, time.Minute, log) })
	if err := srv.Listen(); err != nil {
		return err
	}
	// Before any call comes in: its interview carries the node's id.
	if _, err := engine.Register(ctx, db, nodeName(sipBound, srv.Addr())); err != nil {
		return err
	}
	if ready != nil {
		ready(srv.URL(), sipBound)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error { return srv.RunConsole(gctx) })
	g.Go(func() error { return srv.RunWebhooks(gctx) })
	for _, run := range runners {
		g.Go(func() error { return run(gctx) })
	}
	return g.Wait()
}

// nodeName names this process in the node register, for people: host,
// pid and where it listens.
func nodeName(sipAddr, httpAddr string) string {
	host, err := os.Hostname()
	if err != nil {
		host = "?"
	}
	name := fmt.Sprintf("%s pid %d http %s", host, os.Getpid(), httpAddr)
	if sipAddr != "" {
		name += " sip " + sipAddr
	}
	return name
}

// dev is `make run`: a local database under -data unless one is configured,
// the example questionnaires loaded, an admin account and an API token
// created once (their secrets kept in -data, mode 0600), then serve.
func (e env) dev(ctx context.Context, args []string) error {
	var dataDir string
	_, cfg, log, err := e.setup("dev", args, func(fs *flag.FlagSet) {
		fs.StringVar(&dataDir, "data", ".data", "directory for the local PostgreSQL and the dev secrets")
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	// A developer's receiver is on this host: webhooks may reach it.
	cfg.Webhooks.AllowPrivate = true
	// Prompts and voice answers live beside the database, unless configured.
	if def := prompts.DefaultOptions(); cfg.Prompts.Dir == def.Dir && cfg.Prompts.CacheDir == def.CacheDir && cfg.Prompts.RecordingsDir == def.RecordingsDir {
		cfg.Prompts.Dir = filepath.Join(dataDir, "prompts")
		cfg.Prompts.CacheDir = filepath.Join(dataDir, "cache")
		cfg.Prompts.RecordingsDir = filepath.Join(dataDir, "recordings")
	}
	db, closeDB, err := open(ctx, cfg, dataDir, log)
	if err != nil {
		return err
	}
	defer closeDB()
	loaded, err := loadExamples(ctx, db)
	if err != nil {
		return err
	}
	password, err := devSecret(filepath.Join(dataDir, "admin-password"), func() (string, error) {
		pw := rand.Text() // 26 base32 characters, 130 bits
		hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
		if err != nil {
			return "", err
		}
		err = db.AddUser(ctx, "admin", survey.RoleAdmin, hash)
		if errors.Is(err, survey.Conflict) {
			// The account outlived its password file (another -data
			// directory on the same database): the new password must work.
			err = db.SetPassword(ctx, "admin", hash)
		}
		return pw, err
	})
	if err != nil {
		return fmt.Errorf("admin account: %w", err)
	}
	// The file keeps the password make run set; once someone changed it
	// (canvass user password admin), the banner must not show a stale one.
	if u, err := db.User(ctx, "admin"); err != nil {
		return fmt.Errorf("admin account: %w", err)
	} else if bcrypt.CompareHashAndPassword(u.PasswordHash, []byte(password)) != nil {
		password = "(changed with `canvass user password admin`; not shown)"
	}
	token, err := devSecret(filepath.Join(dataDir, "api-token"), func() (string, error) {
		token, hash, err := cati.NewToken()
		if err != nil {
			return "", err
		}
		_, err = db.CreateToken(ctx, "dev", survey.RoleAdmin, hash)
		return token, err
	})
	if err != nil {
		return fmt.Errorf("dev API token: %w", err)
	}
	return e.serveDB(ctx, cfg, db, log, func(base, sipAddr string) {
		if sipAddr == "" {
			sipAddr = "(SIP is off: set sip.addr)"
		}
		fmt.Fprintf(e.stdout, `
Canvass is running at %s
  keypad survey:   call sip:post-call@%s (any SIP phone; the user part names the questionnaire)
  questionnaires:  %s
  admin login:     admin / %s
  API token:       %s   (role admin; kept in %s)
  try it:          curl -H "Authorization: Bearer $(cat %[6]s)" %[1]s/api/v1/questionnaires
  console:         %[1]s/login
  browser phone:   %[9]s
  dialer:          %[10]s
%[8]sStop with Ctrl-C; the database stays in %[7]s.

`, base, sipAddr, strings.Join(loaded, ", "), password, token, filepath.Join(dataDir, "api-token"), dataDir, cliHint(dataDir, cfg), phoneHint(cfg), dialerHint(cfg))
	})
}

// cliHint tells how the other commands (user add, prompts check…) reach
// what `canvass dev` runs on, when it is its own local database.
func cliHint(dataDir string, cfg config.Config) string {
	urlFile := filepath.Join(dataDir, devURLFile)
	if _, err := os.Stat(urlFile); err != nil {
		return ""
	}
	return fmt.Sprintf("  other commands:  export CANVASS_DATABASE_URL=$(cat %s) CANVASS_PROMPTS_DIR=%s\n", urlFile, cfg.Prompts.Dir)
}

// loadExamples stores every example questionnaire (a new version only when
// its file changed).
func loadExamples(ctx context.Context, db *sql.DB) ([]string, error) {
	files, err := fs.Glob(testdata.Questionnaires, "questionnaires/*.yaml")
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, f := range files {
		src, err := fs.ReadFile(testdata.Questionnaires, f)
		if err != nil {
			return nil, err
		}
		q, err := survey.Parse(src)
		if err != nil {
			return nil, fmt.Errorf("example %s: %w", f, err)
		}
		v, _, err := db.PutQuestionnaire(ctx, q.Version(src))
		if err != nil {
			return nil, fmt.Errorf("example %s: %w", f, err)
		}
		ids = append(ids, fmt.Sprintf("%s v%d", v.ID, v.Version))
	}
	return ids, nil
}

// devSecret returns the secret kept in file, creating it with create the
// first time.
func devSecret(file string, create func() (string, error)) (string, error) {
	if b, err := os.ReadFile(file); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	s, err := create()
	if err != nil {
		return "", err
	}
	return s, os.WriteFile(file, []byte(s+"\n"), 0o600)
}

// roleFlag parses --role against the roles allowed for the command.
func roleFlag(fs *flag.FlagSet, allowed ...survey.Role) *string {
	names := make([]string, len(allowed))
	for i, r := range allowed {
		names[i] = string(r)
	}
	return fs.String("role", "", "role: "+strings.Join(names, ", "))
}

func checkRole(role string, allowed ...survey.Role) (survey.Role, error) {
	if !slices.Contains(allowed, survey.Role(role)) {
		return "", fmt.Errorf("%w: --role %q must be one of %v", errUsage, role, allowed)
	}
	return survey.Role(role), nil
}

func (e env) userAdd(ctx context.Context, args []string) error {
	roles := []survey.Role{survey.RoleAdmin, survey.RoleSupervisor, survey.RoleInterviewer}
	var role *string
	fs, cfg, log, err := e.setup("user add", args, func(fs *flag.FlagSet) { role = roleFlag(fs, roles...) })
	if err != nil {
		return err
	}
	r, err := checkRole(*role, roles...)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: user add needs exactly one NAME", errUsage)
	}
	name := fs.Arg(0)
	if err := survey.CheckUserName(name); err != nil {
		return fmt.Errorf("NAME: %s", survey.ErrorMessage(err))
	}
	hash, err := e.readPassword("user add --role " + string(r) + " " + name)
	if err != nil {
		return err
	}
	db, closeDB, err := open(ctx, cfg, "", log)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := db.AddUser(ctx, name, r, hash); err != nil {
		if errors.Is(err, survey.Conflict) {
			return fmt.Errorf("user %q already exists", name)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "user %s added with role %s\n", name, r)
	return nil
}

// askPassword asks for a password twice on the terminal fd, without echo.
func (e env) askPassword(fd int) (string, error) {
	var typed [2]string
	for i, prompt := range []string{"Password: ", "Again: "} {
		fmt.Fprint(e.stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("read password from the terminal: %w", err)
		}
		typed[i] = string(b)
	}
	if typed[0] != typed[1] {
		return "", errors.New("password: the two entries differ; nothing was changed")
	}
	return typed[0], nil
}

// readPassword reads a password and hashes it: typed at a terminal (twice,
// not echoed), or a line on stdin; command is how to run the command again,
// for the error message.
func (e env) readPassword(command string) ([]byte, error) {
	var password string
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		// Typed at a terminal: asked for twice, never echoed.
		var err error
		if password, err = e.askPassword(int(f.Fd())); err != nil {
			return nil, err
		}
	} else {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read password from stdin: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if err := survey.CheckPassword(password); err != nil {
		return nil, fmt.Errorf("password: %s; give it on stdin, e.g. `printf '%%s\\n' \"$PASSWORD\" | canvass %s`", survey.ErrorMessage(err), command)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("password: %w", err) // longer than bcrypt's 72 bytes
	}
	return hash, nil
}

// userPassword sets a new password for an account and signs it out of the
// console everywhere.
func (e env) userPassword(ctx context.Context, args []string) error {
	fs, cfg, log, err := e.setup("user password", args, nil)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: user password needs exactly one NAME", errUsage)
	}
	name := fs.Arg(0)
	hash, err := e.readPassword("user password " + name)
	if err != nil {
		return err
	}
	db, closeDB, err := open(ctx, cfg, "", log)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := db.SetPassword(ctx, name, hash); err != nil {
		if errors.Is(err, survey.NotFound) {
			return fmt.Errorf("no user %q: add it with `canvass user add --role ROLE %s`", name, name)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "password of %s changed; its console sessions are ended\n", name)
	return nil
}

func (e env) tokenCreate(ctx context.Context, args []string) error {
	roles := []survey.Role{survey.RoleIntegrator, survey.RoleSupervisor, survey.RoleAdmin}
	var role *string
	fs, cfg, log, err := e.setup("token create", args, func(fs *flag.FlagSet) { role = roleFlag(fs, roles...) })
	if err != nil {
		return err
	}
	r, err := checkRole(*role, roles...)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: token create needs exactly one NAME", errUsage)
	}
	token, hash, err := cati.NewToken()
	if err != nil {
		return err
	}
	db, closeDB, err := open(ctx, cfg, "", log)
	if err != nil {
		return err
	}
	defer closeDB()
	if _, err := db.CreateToken(ctx, fs.Arg(0), r, hash); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "token %q created with role %s; it is shown once, store it now:\n", fs.Arg(0), r)
	fmt.Fprintln(e.stdout, token)
	return nil
}

// rollUpEvery rolls up the report counts of past days that changed, every
// interval, until ctx ends.
func rollUpEvery(ctx context.Context, db *sql.DB, interval time.Duration, log *slog.Logger) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			n, err := db.RollUp(ctx, 100)
			if err != nil && ctx.Err() == nil {
				log.Error("rolling up report counts", "err", err)
			}
			if err != nil || n < 100 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

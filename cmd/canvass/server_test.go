package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
)

func TestMain(m *testing.M) { sqltest.Main(m) }

func testEnv(vars map[string]string, stdin string) (env, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut,
		getenv: func(k string) string { return vars[k] }}, &out, &errOut
}

// TestAccountsAndServe runs the commands an operator runs — migrate, user
// add, token create, serve — against a real, empty PostgreSQL, then calls
// the API with the created token.
func TestAccountsAndServe(t *testing.T) {
	ctx := t.Context()
	vars := map[string]string{"CANVASS_DATABASE_URL": sqltest.EmptyURL(t), "CANVASS_HTTP_ADDR": "127.0.0.1:0", "CANVASS_WEBRTC_LISTEN": "127.0.0.1:0", "CANVASS_SIP_ADDR": "127.0.0.1:0"}

	e, out, _ := testEnv(vars, "")
	if err := e.migrate(ctx, nil); err != nil || !strings.Contains(out.String(), "migrated") {
		t.Fatalf("migrate: %v %s", err, out)
	}

	e, out, _ = testEnv(vars, "correct horse battery\n")
	if err := e.userAdd(ctx, []string{"--role", "supervisor", "sam"}); err != nil {
		t.Fatalf("user add: %v", err)
	}
	for _, tc := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"--role", "supervisor", "sam"}, "another password\n", `user "sam" already exists`},
		{[]string{"--role", "boss", "bob"}, "long enough pw\n", `--role "boss" must be one of`},
		{[]string{"--role", "admin", "bob"}, "short\n", "at least 10 characters"},
		{[]string{"--role", "admin"}, "long enough pw\n", "exactly one NAME"},
		{[]string{"--role", "admin", strings.Repeat("x", 129)}, "long enough pw\n", "at most 128 characters"},
		{[]string{"--role", "admin", " bob"}, "long enough pw\n", "surrounding spaces"},
	} {
		e, _, _ := testEnv(vars, tc.stdin)
		if err := e.userAdd(ctx, tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("user add %v: want …%s…, got %v", tc.args, tc.want, err)
		}
	}

	// A new password replaces the old one; the commands say what is wrong.
	e, _, _ = testEnv(vars, "a brand new password\n")
	if err := e.userPassword(ctx, []string{"sam"}); err != nil {
		t.Fatalf("user password: %v", err)
	}
	checkPassword(t, vars["CANVASS_DATABASE_URL"], "sam", "a brand new password")
	for _, tc := range []struct {
		args        []string
		stdin, want string
	}{
		{[]string{"nobody"}, "long enough pw\n", `no user "nobody": add it with`},
		{[]string{"sam"}, "short\n", "at least 10 characters"},
		{nil, "long enough pw\n", "exactly one NAME"},
	} {
		e, _, _ := testEnv(vars, tc.stdin)
		if err := e.userPassword(ctx, tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("user password %v: want …%s…, got %v", tc.args, tc.want, err)
		}
	}

	e, out, _ = testEnv(vars, "")
	if err := e.tokenCreate(ctx, []string{"--role", "integrator", "crm"}); err != nil {
		t.Fatalf("token create: %v", err)
	}
	token := strings.TrimSpace(out.String())
	if !strings.HasPrefix(token, "cnv_") {
		t.Fatalf("token %q", token)
	}

	ctx, cancel := context.WithCancel(ctx)
	e, _, _ = testEnv(vars, "")
	_, cfg, log, err := e.setup("serve", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	db, closeDB, err := open(ctx, cfg, "", log)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- e.serveDB(ctx, cfg, db, log, func(a, _ string) { addr <- a }) }()
	base := <-addr
	body, _ := os.ReadFile("../../testdata/questionnaires/post-call.yaml")
	req, _ := http.NewRequest("POST", base+"/api/v1/questionnaires", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("upload with the created token: %s", resp.Status)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve did not stop cleanly: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestDev is `make run`: a local PostgreSQL in the data directory, the
// examples loaded, an admin login and a token printed, the API answering;
// a second start reuses all of it.
func TestDev(t *testing.T) {
	// Not t.TempDir: that is closed to user postgres (mode 0700).
	top, err := os.MkdirTemp("", "canvass-dev-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(top, "data")
	for run := 1; run <= 2; run++ {
		ctx, cancel := context.WithCancel(t.Context())
		pr, pw := io.Pipe()
		e := env{stdin: strings.NewReader(""), stdout: pw, stderr: io.Discard,
			getenv: func(k string) string {
				return map[string]string{"CANVASS_HTTP_ADDR": "127.0.0.1:0", "CANVASS_WEBRTC_LISTEN": "127.0.0.1:0", "CANVASS_SIP_ADDR": "127.0.0.1:0"}[k]
			}}
		done := make(chan error, 1)
		go func() { done <- e.dev(ctx, []string{"-data", data}); pw.Close() }()
		var banner []string
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			banner = append(banner, sc.Text())
			if strings.HasPrefix(sc.Text(), "Stop with") {
				break
			}
		}
		go io.Copy(io.Discard, pr)
		text := strings.Join(banner, "\n")
		if !strings.Contains(text, "post-call v1") || !strings.Contains(text, "customer-study v1") || !strings.Contains(text, "admin login:     admin / ") {
			cancel()
			t.Fatalf("run %d banner:\n%s\nerr: %v", run, text, <-done)
		}
		// The other commands reach the same database while it runs.
		if !strings.Contains(text, "other commands:  export CANVASS_DATABASE_URL=$(cat "+filepath.Join(data, "database-url")+")") {
			t.Errorf("run %d banner has no line for the other commands:\n%s", run, text)
		}
		url, err := os.ReadFile(filepath.Join(data, "database-url"))
		if err != nil {
			t.Fatal(err)
		}
		printed, err := os.ReadFile(filepath.Join(data, "admin-password"))
		if err != nil {
			t.Fatal(err)
		}
		checkPassword(t, strings.TrimSpace(string(url)), "admin", strings.TrimSpace(string(printed)))
		addr := strings.TrimPrefix(strings.Fields(banner[1])[4], "http://")
		token, err := os.ReadFile(filepath.Join(data, "api-token"))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/questionnaires", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var list struct{ Questionnaires []struct{ ID string } }
		json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(list.Questionnaires) != 2 {
			t.Errorf("run %d: %s %+v", run, resp.Status, list)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if _, err := os.Stat(filepath.Join(data, "database-url")); !os.IsNotExist(err) {
			t.Errorf("run %d: database-url left behind after the stop (%v)", run, err)
		}
	}
}

// checkPassword fails t unless account name's password is password.
func checkPassword(t *testing.T, url, name, password string) {
	t.Helper()
	db, err := sql.Open(t.Context(), url, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := db.User(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword(u.PasswordHash, []byte(password)) != nil {
		t.Errorf("%s's password is not %q", name, password)
	}
}

// `make run` against a database whose admin account outlived the data
// directory (CANVASS_DATABASE_URL set, a new -data): the admin password it
// prints is the one that works.
func TestDevAdminPasswordWorks(t *testing.T) {
	url := sqltest.EmptyURL(t)
	for _, dir := range []string{t.TempDir(), t.TempDir()} {
		ctx, cancel := context.WithCancel(t.Context())
		pr, pw := io.Pipe()
		e := env{stdin: strings.NewReader(""), stdout: pw, stderr: io.Discard,
			getenv: func(k string) string {
				return map[string]string{"CANVASS_DATABASE_URL": url, "CANVASS_HTTP_ADDR": "127.0.0.1:0", "CANVASS_WEBRTC_LISTEN": "127.0.0.1:0"}[k]
			}}
		done := make(chan error, 1)
		go func() { done <- e.dev(ctx, []string{"-data", dir}); pw.Close() }()
		sc := bufio.NewScanner(pr)
		for sc.Scan() && !strings.HasPrefix(sc.Text(), "Stop with") {
		}
		go io.Copy(io.Discard, pr)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		printed, err := os.ReadFile(filepath.Join(dir, "admin-password"))
		if err != nil {
			t.Fatal(err)
		}
		checkPassword(t, url, "admin", strings.TrimSpace(string(printed)))
	}
}

// After `canvass user password admin`, make run's banner no longer shows
// the password it set first (which no longer works).
func TestDevBannerAfterPasswordChange(t *testing.T) {
	url := sqltest.EmptyURL(t)
	dir := t.TempDir()
	getenv := func(k string) string {
		return map[string]string{"CANVASS_DATABASE_URL": url, "CANVASS_HTTP_ADDR": "127.0.0.1:0", "CANVASS_WEBRTC_LISTEN": "127.0.0.1:0"}[k]
	}
	banner := func() string {
		ctx, cancel := context.WithCancel(t.Context())
		pr, pw := io.Pipe()
		e := env{stdin: strings.NewReader(""), stdout: pw, stderr: io.Discard, getenv: getenv}
		done := make(chan error, 1)
		go func() { done <- e.dev(ctx, []string{"-data", dir}); pw.Close() }()
		var b strings.Builder
		sc := bufio.NewScanner(pr)
		for sc.Scan() && !strings.HasPrefix(sc.Text(), "Stop with") {
			b.WriteString(sc.Text() + "\n")
		}
		go io.Copy(io.Discard, pr)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	b := banner()
	first, err := os.ReadFile(filepath.Join(dir, "admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	old := strings.TrimSpace(string(first))
	if !strings.Contains(b, "admin / "+old) {
		t.Fatalf("first banner does not show the password:\n%s", b)
	}
	e := env{stdin: strings.NewReader("a new password of mine\n"), stdout: io.Discard, stderr: io.Discard, getenv: getenv}
	if err := e.userPassword(t.Context(), []string{"admin"}); err != nil {
		t.Fatal(err)
	}
	b = banner()
	if strings.Contains(b, old) || !strings.Contains(b, "admin / (changed with `canvass user password admin`; not shown)") {
		t.Fatalf("banner after the change still shows the old password or says nothing:\n%s", b)
	}
	checkPassword(t, url, "admin", "a new password of mine")
}

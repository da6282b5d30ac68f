package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/canvass/canvass/sql/sqltest"
)

// openPTY opens a pseudo-terminal: what the test writes to master is what a
// person types at the terminal slave.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// A password typed at a terminal is asked for twice and never echoed.
func TestUserAddAtATerminal(t *testing.T) {
	url := sqltest.EmptyURL(t)
	master, slave := openPTY(t)
	var (
		mu     sync.Mutex
		screen bytes.Buffer
	)
	go func() {
		b := make([]byte, 256)
		for {
			n, err := master.Read(b)
			mu.Lock()
			screen.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	waitFor := func(s string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			seen := strings.Count(screen.String(), s)
			mu.Unlock()
			if seen > 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the terminal never showed %q:\n%s", s, screen.String())
			}
		}
	}
	var out bytes.Buffer
	e := env{stdin: slave, stdout: &out, stderr: slave,
		getenv: func(k string) string { return map[string]string{"CANVASS_DATABASE_URL": url}[k] }}
	done := make(chan error, 1)
	go func() { done <- e.userAdd(context.Background(), []string{"--role", "interviewer", "tom"}) }()
	waitFor("Password: ")
	io.WriteString(master, "typed secretly 42\r")
	waitFor("Again: ")
	io.WriteString(master, "typed secretly 42\r")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	shown := screen.String()
	mu.Unlock()
	if strings.Contains(shown, "typed secretly") {
		t.Fatalf("the password was echoed:\n%s", shown)
	}
	if !strings.Contains(out.String(), "user tom added") {
		t.Fatalf("output %q", out.String())
	}
	checkPassword(t, url, "tom", "typed secretly 42")
}

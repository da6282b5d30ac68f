package webrtc

// This file hands pion's logs to the server's slog logger, so that they
// land with Canvass's own (pion would otherwise print to stderr). Pion's
// levels are a notch louder than Canvass's: its info is about its
// internals, and it warns on every connect and close ("Failed to ping
// without candidate pairs", "stream is already closed"), so its info and
// warnings go to debug, its errors to warn, and its trace is dropped.

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

type loggerFactory struct{ log *slog.Logger }

func (f loggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) logf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l pionLogger) Trace(string)                   {}
func (l pionLogger) Tracef(string, ...any)          {}
func (l pionLogger) Debug(msg string)               { l.logf(slog.LevelDebug, "%s", msg) }
func (l pionLogger) Debugf(format string, a ...any) { l.logf(slog.LevelDebug, format, a...) }
func (l pionLogger) Info(msg string)                { l.logf(slog.LevelDebug, "%s", msg) }
func (l pionLogger) Infof(format string, a ...any)  { l.logf(slog.LevelDebug, format, a...) }
func (l pionLogger) Warn(msg string)                { l.logf(slog.LevelDebug, "%s", msg) }
func (l pionLogger) Warnf(format string, a ...any)  { l.logf(slog.LevelDebug, format, a...) }
func (l pionLogger) Error(msg string)               { l.logf(slog.LevelWarn, "%s", msg) }
func (l pionLogger) Errorf(format string, a ...any) { l.logf(slog.LevelWarn, format, a...) }

package sipua

// This file tames sipgo's logging: it logs every unparsable datagram at
// ERROR with its bytes, so garbage on the SIP port would flood the log with
// whatever a stranger sent. Those lines go to DEBUG.

import (
	"context"
	"log/slog"
)

// sipgoLog wraps the handler sipgo logs through.
type sipgoLog struct{ h slog.Handler }

func newSipgoLogger(l *slog.Logger) *slog.Logger {
	return slog.New(sipgoLog{l.With("component", "sipgo").Handler()})
}

func (s sipgoLog) Enabled(ctx context.Context, l slog.Level) bool { return s.h.Enabled(ctx, l) }

func (s sipgoLog) Handle(ctx context.Context, r slog.Record) error {
	switch r.Message {
	case "failed to parse", "Server tx failed to handle request", "Failed to send stateless 400 for malformed request":
		r.Level = slog.LevelDebug
	}
	if !s.h.Enabled(ctx, r.Level) {
		return nil
	}
	return s.h.Handle(ctx, r)
}

func (s sipgoLog) WithAttrs(as []slog.Attr) slog.Handler { return sipgoLog{s.h.WithAttrs(as)} }
func (s sipgoLog) WithGroup(g string) slog.Handler       { return sipgoLog{s.h.WithGroup(g)} }

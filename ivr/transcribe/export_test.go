package transcribe

import "time"

// SetNow sets the worker's clock.
func SetNow(w *Worker, now func() time.Time) { w.now = now }

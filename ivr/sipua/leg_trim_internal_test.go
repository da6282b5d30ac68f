package sipua

import "testing"

// A written frame that came late once leaves the next ones a slot behind;
// the queue drops one and the delay comes back to a slot, while frames that
// arrive in time are never dropped.
func TestLegQueueTrimsAStandingDelay(t *testing.T) {
	q := &legQueues{out: make(chan outFrame, legWriteQueue)}
	n := byte(0)
	write := func() { n++; q.out <- outFrame{payload: [160]byte{n}} }
	sent := func() byte {
		f, ok := q.next()
		if !ok {
			return 0
		}
		return f.payload[0]
	}
	// In time: one written, one sent, for a second: nothing dropped.
	for range 50 {
		write()
		if got := sent(); got != n {
			t.Fatalf("sent %d, want %d", got, n)
		}
	}
	// A frame comes late: its slot sends nothing, then two wait at once.
	if got := sent(); got != 0 {
		t.Fatalf("sent %d with nothing written", got)
	}
	write()
	write()
	behind := 0
	for range 30 {
		got := sent()
		write()
		if int(n)-int(got) > 1 {
			behind++
		}
	}
	if q.trimmed != 1 || behind != trimAfter-1 {
		t.Errorf("trimmed %d frames after %d slots a frame behind; want 1 after %d", q.trimmed, behind, trimAfter-1)
	}
}

// The shared packet clock: every sender ticked every 20 ms, on its own
// Pacer, however many share a shard; a shard's loop ends with its last
// sender.

package media

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// counted is a sender that records its ticks and leaves after until.
type counted struct {
	mu    sync.Mutex
	ticks []time.Time
	until time.Time
}

func (c *counted) Tick(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.After(c.until) {
		return false
	}
	c.ticks = append(c.ticks, now)
	return true
}

func TestClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := NewClock(2)
		start := time.Now()
		var senders []*counted
		for i := range 25 {
			c := &counted{until: start.Add(time.Second + time.Duration(i)*time.Millisecond)}
			senders = append(senders, c)
			clock.Add(c)
			time.Sleep(time.Millisecond) // joining at every phase
		}
		time.Sleep(2 * time.Second) // every sender has left
		synctest.Wait()
		for i, c := range senders {
			c.mu.Lock()
			ticks := c.ticks
			c.mu.Unlock()
			// Joined at i ms, leaves at 1 s + i ms: 50 ticks, give or take
			// the first.
			if n := len(ticks); n < 49 || n > 51 {
				t.Errorf("sender %d: %d ticks in a second, want 50", i, n)
			}
			for k := 1; k < len(ticks); k++ {
				if d := ticks[k].Sub(ticks[k-1]); d != PacketInterval {
					t.Errorf("sender %d: tick %d came %s after the one before, want %s", i, k, d, PacketInterval)
					break
				}
			}
		}
		for i, sh := range clock.shards {
			sh.mu.Lock()
			running := sh.running
			sh.mu.Unlock()
			if running || sh.count != 0 {
				t.Errorf("shard %d still runs with %d senders after the last left", i, sh.count)
			}
		}
		// A sender joining later starts the loop again.
		late := &counted{until: time.Now().Add(100 * time.Millisecond)}
		clock.Add(late)
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(late.ticks); n < 4 || n > 5 {
			t.Errorf("a sender joining an idle clock was ticked %d times in 100 ms, want 5", n)
		}
	})
}

// The senders of a shard are spread over the slots of the interval, not
// all ticked at once.
func TestClockSpreadsSenders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := NewClock(1)
		until := time.Now().Add(100 * time.Millisecond)
		for range 3 * clockSlots {
			clock.Add(&counted{until: until})
		}
		time.Sleep(time.Second)
		synctest.Wait()
		// Every sender has left; the slots' peak load was 3.
		sh := clock.shards[0]
		for i, s := range sh.slots {
			if cap(s) > 4 {
				t.Errorf("slot %d held up to %d senders, want 3 in each", i, cap(s))
			}
		}
	})
}

// A late wake-up (the machine stalled) ticks the slots it missed, each
// once; an early one ticks none twice.
func TestClockLateTicksEachSlotOnce(t *testing.T) {
	sh := &clockShard{epoch: time.Now()}
	senders := make([]*counted, clockSlots)
	for i := range senders {
		senders[i] = &counted{until: sh.epoch.Add(time.Hour)}
		sh.slots[i] = []Ticked{senders[i]}
	}
	sh.count = clockSlots
	last := sh.advance(-1, sh.epoch) // slot 0
	last = sh.advance(last, sh.epoch.Add(slotInterval/2))
	last = sh.advance(last, sh.epoch.Add(5*PacketInterval)) // a stall
	for i, c := range senders {
		want := 1
		if i == 0 {
			want = 2 // at the start, and once after the stall
		}
		if len(c.ticks) != want {
			t.Errorf("slot %d ticked %d times, want %d", i, len(c.ticks), want)
		}
	}
	sh.advance(last, sh.epoch.Add(5*PacketInterval+slotInterval))
	if n := len(senders[1].ticks); n != 2 {
		t.Errorf("after the stall, the next slot ticked %d times in all, want 2", n)
	}
}

package media

// This file is the shared packet clock: one goroutine per core drives the
// 20 ms tick of every sending leg, instead of a goroutine and a ticker per
// leg. At thousands of calls, per-leg tickers cost a quarter of the CPU in
// timer and scheduler work alone.

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Ticked is a sender driven by a Clock.
type Ticked interface {
	// Tick is called about every PacketInterval (each sender keeps its own
	// Pacer against the wall clock: calls come a little early or late).
	// It must be quick: the senders of a shard are ticked one after the
	// other. It returns false when the sender is done; it is not called
	// again.
	Tick(now time.Time) bool
}

// clockSlots divide PacketInterval: each sender is ticked in one slot,
// the least loaded when it joined, so that a shard's work is spread over
// the interval rather than bursting every 20 ms.
const clockSlots = 10

const slotInterval = PacketInterval / clockSlots

// Clock is a timer wheel of PacketInterval sharded per core. Each shard's
// goroutine runs only while it has senders. The zero value is not usable:
// use NewClock.
type Clock struct {
	epoch  time.Time
	shards []*clockShard
	next   atomic.Uint32
}

// NewClock returns a clock with shards loops (GOMAXPROCS when shards < 1).
func NewClock(shards int) *Clock {
	if shards < 1 {
		shards = runtime.GOMAXPROCS(0)
	}
	c := &Clock{epoch: time.Now(), shards: make([]*clockShard, shards)}
	for i := range c.shards {
		c.shards[i] = &clockShard{epoch: c.epoch}
	}
	return c
}

// Add starts ticking t, within one PacketInterval.
func (c *Clock) Add(t Ticked) {
	sh := c.shards[int(c.next.Add(1))%len(c.shards)]
	sh.mu.Lock()
	sh.joining = append(sh.joining, t)
	start := !sh.running
	sh.running = true
	sh.mu.Unlock()
	if start {
		go sh.run()
	}
}

// clockShard is one loop of a Clock.
type clockShard struct {
	epoch time.Time

	mu      sync.Mutex
	joining []Ticked
	running bool

	// Owned by the loop.
	slots [clockSlots][]Ticked
	count int
}

// slot is the slot number (counted from the epoch) now falls in.
func (sh *clockShard) slot(now time.Time) int64 { return int64(now.Sub(sh.epoch) / slotInterval) }

func (sh *clockShard) run() {
	t := time.NewTicker(slotInterval)
	defer t.Stop()
	last := sh.slot(time.Now()) - 1
	for {
		if !sh.join() {
			return
		}
		last = sh.advance(last, time.Now())
		<-t.C
	}
}

// advance ticks the slots after last up to now's, and returns now's. A
// late wake-up ticks the slots it missed, each once.
func (sh *clockShard) advance(last int64, now time.Time) int64 {
	cur := sh.slot(now)
	for s := max(last+1, cur-clockSlots+1); s <= cur; s++ {
		sh.tick(int(s%clockSlots), now)
	}
	return max(last, cur)
}

// join takes in the senders that joined, each into the least loaded
// slot; it reports false, and the loop ends, when the shard has none.
func (sh *clockShard) join() bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, t := range sh.joining {
		best := 0
		for i := range sh.slots {
			if len(sh.slots[i]) < len(sh.slots[best]) {
				best = i
			}
		}
		sh.slots[best] = append(sh.slots[best], t)
		sh.count++
	}
	clear(sh.joining)
	sh.joining = sh.joining[:0]
	if sh.count == 0 {
		sh.running = false
		return false
	}
	return true
}

// tick ticks the senders of slot i, dropping those that are done.
func (sh *clockShard) tick(i int, now time.Time) {
	ts := sh.slots[i]
	for k := 0; k < len(ts); {
		if ts[k].Tick(now) {
			k++
			continue
		}
		last := len(ts) - 1
		ts[k], ts[last] = ts[last], nil
		ts = ts[:last]
		sh.count--
	}
	sh.slots[i] = ts
}

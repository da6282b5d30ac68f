package prompts

// This file is what keeps a thousand concurrent calls off the disk and away
// from espeak-ng: an LRU of converted samples bounded by their total size,
// and a small singleflight so that many calls asking at once for the same
// missing prompt load or synthesize it once.

import (
	"container/list"
	"context"
	"sync"

	"golang.org/x/sync/singleflight"
)

// lru maps keys to sample slices, evicting the least recently used once the
// samples held pass max. The slices are shared: nobody may modify them.
type lru struct {
	mu    sync.Mutex
	max   int // samples
	size  int
	order *list.List // front = most recent; values are *lruEntry
	items map[string]*list.Element
}

type lruEntry struct {
	key string
	pcm []int16
}

func newLRU(maxSamples int) *lru {
	return &lru{max: maxSamples, order: list.New(), items: map[string]*list.Element{}}
}

func (c *lru) get(key string) ([]int16, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry).pcm, true
}

func (c *lru) add(key string, pcm []int16) {
	if len(pcm) > c.max/4 {
		return // one huge prompt must not flush everything else
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.size += len(pcm) - len(e.Value.(*lruEntry).pcm)
		e.Value.(*lruEntry).pcm = pcm
		c.order.MoveToFront(e)
	} else {
		c.items[key] = c.order.PushFront(&lruEntry{key: key, pcm: pcm})
		c.size += len(pcm)
	}
	for c.size > c.max {
		e := c.order.Back()
		c.order.Remove(e)
		ent := e.Value.(*lruEntry)
		delete(c.items, ent.key)
		c.size -= len(ent.pcm)
	}
}

func (c *lru) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.order.Remove(e)
		delete(c.items, key)
		c.size -= len(e.Value.(*lruEntry).pcm)
	}
}

// flight runs fn once for all concurrent callers with the same key. The work
// runs detached from any one caller's context (fn gets a context without
// cancellation), so a caller that hangs up does not fail the others; each
// caller still stops waiting when its own context ends.
func flight(ctx context.Context, g *singleflight.Group, key string, fn func(ctx context.Context) ([]int16, error)) ([]int16, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // the caller is gone: start nothing for it
	}
	detached := context.WithoutCancel(ctx)
	ch := g.DoChan(key, func() (any, error) { return fn(detached) })
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.([]int16), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

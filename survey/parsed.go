package survey

import (
	"fmt"
	"strconv"
	"sync"
)

// Parsed keeps parsed questionnaire versions: a stored version never
// changes, and the IVR engine, the console, reports and exports would
// otherwise parse and compile its expressions on every call or request. The
// zero value is ready; it is safe for concurrent use.
type Parsed struct {
	mu sync.Mutex
	m  map[string]*Questionnaire
}

// parsedSize bounds the cache; past it, the cache starts over.
const parsedSize = 256

func parsedKey(id string, version int) string { return id + "\x00" + strconv.Itoa(version) }

// Cached returns version of questionnaire id if it was parsed already: a
// stored version never changes, so it is never stale.
func (c *Parsed) Cached(id string, version int) (*Questionnaire, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q, ok := c.m[parsedKey(id, version)]
	return q, ok
}

// Get returns v parsed.
func (c *Parsed) Get(v QuestionnaireVersion) (*Questionnaire, error) {
	key := parsedKey(v.ID, v.Version)
	c.mu.Lock()
	q, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return q, nil
	}
	q, err := Parse(v.Source)
	if err != nil {
		// It parsed when it was stored: the parser has since become stricter.
		return nil, fmt.Errorf("stored questionnaire %s version %d no longer parses: %w", v.ID, v.Version, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= parsedSize {
		c.m = map[string]*Questionnaire{}
	}
	c.m[key] = q
	return q, nil
}

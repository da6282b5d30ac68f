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

// Get returns v parsed.
func (c *Parsed) Get(v QuestionnaireVersion) (*Questionnaire, error) {
	key := v.ID + "\x00" + strconv.Itoa(v.Version)
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

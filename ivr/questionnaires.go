package ivr

// This file is the questionnaires a call runs, kept parsed between calls. A
// questionnaire's versions never change once stored, so a version held
// here is never stale; what must be fresh is which version is the latest,
// and that is asked of the database on each call: the request gate's
// statement says it (CallInfo.Version), else a store that is a Versions
// answers in one small round trip. A version published and acknowledged
// on any node is thus the version of every call prepared after, on every
// node, with no notification to miss.

import (
	"context"
	"fmt"

	"github.com/canvass/canvass/survey"
)

// Versions is a Questionnaires store that tells a questionnaire's latest
// version without loading it (*sql.DB): with one, the engine loads and
// parses a version once, not on every call. survey.ENotFound when there is
// none.
type Versions interface {
	LatestVersion(ctx context.Context, id string) (int, error)
}

// latest returns the latest version of questionnaire id, parsed, and its
// number. version is the latest as the caller already knows it (the
// gate's), or 0 to ask. With a store that cannot tell its latest version,
// it loads the questionnaire each time.
func (e *Engine) latest(ctx context.Context, id string, version int) (*survey.Questionnaire, int, error) {
	if version == 0 {
		if vs, ok := e.questionnaires.(Versions); ok {
			v, err := vs.LatestVersion(ctx, id)
			if err != nil {
				return nil, 0, fmt.Errorf("questionnaire %q: %w", id, err)
			}
			version = v
		}
	}
	if version > 0 {
		if q, ok := e.parsed.Cached(id, version); ok {
			return q, version, nil
		}
	}
	v, err := e.questionnaires.Questionnaire(ctx, id, version)
	if err != nil {
		return nil, 0, fmt.Errorf("questionnaire %q: %w", id, err)
	}
	q, err := e.parsed.Get(v)
	if err != nil {
		return nil, 0, err
	}
	return q, v.Version, nil
}

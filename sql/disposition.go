package sql

// This file keeps the disposition_code table equal to the AAPOR catalog of
// package survey, so that cases and attempts can reference codes by foreign
// key and reports can join on rate groups.

import (
	"context"
	"fmt"

	"github.com/canvass/canvass/survey"
)

const sqlUpsertDisposition = `
INSERT INTO disposition_code (code, label, rate_group, retry_after, retry, final, contacted, eligible, requires_note)
VALUES ($1, $2, $3, make_interval(secs => $4), $5, $6, $7, $8, $9)
ON CONFLICT (code) DO UPDATE SET label = $2, rate_group = $3, retry_after = make_interval(secs => $4),
  retry = $5, final = $6, contacted = $7, eligible = $8, requires_note = $9`

// seedDispositions upserts the catalog; codes are never deleted, since
// stored cases may reference them.
func seedDispositions(ctx context.Context, q DBTX, ds []survey.Disposition) error {
	for _, d := range ds {
		var eligible *bool
		switch d.Eligible {
		case survey.Eligible:
			eligible = new(true)
		case survey.NotEligible:
			eligible = new(false)
		}
		if _, err := q.Exec(ctx, sqlUpsertDisposition, string(d.Code), d.Label, string(d.Group),
			d.RetryAfter.Seconds(), string(d.Retry), d.Final, d.Contacted, eligible, d.RequiresNote); err != nil {
			return fmt.Errorf("seed disposition %s: %w", d.Code, err)
		}
	}
	return nil
}

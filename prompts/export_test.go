package prompts

// Hooks for the external tests (package prompts_test), compiled only into
// the test binary.

import "time"

// SetNow replaces the catalog's clock, which decides when a recording on
// disk is looked at again.
func SetNow(c *Catalog, now func() time.Time) { c.now = now }

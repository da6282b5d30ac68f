// Package sql is Canvass's PostgreSQL adapter (pgx/v5): Open, Migrate
// (embedded migrations/*.sql) and the stores the rest of the server meets
// through survey types. PostgreSQL is the system of record: each answer is
// committed as it is given, and status changes are compare-and-set.
//
// The stores scan into survey's types and refuse with survey's coded errors
// (errors.Is(err, survey.NotFound), survey.Conflict), worded for the person
// who asked; *DB satisfies the interfaces cati and ivr declare as it is.
// They store what survey's rules decided and decide nothing themselves; the
// one rule SQL repeats for speed, the calling window of the case claim, is
// held against survey.Window.Contains by a test. The steps a dialer composes
// (ClaimCase, StartAttempt, ApplyOutcome, WriteEvent) take a DBTX, so that one
// caller can run them in one transaction (DB.Tx).
package sql

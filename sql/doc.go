// Package sql is Canvass's PostgreSQL adapter (pgx/v5): Open, Migrate
// (embedded migrations/*.sql) and the stores the rest of the server meets
// through survey types. PostgreSQL is the system of record: each answer is
// committed as it is given, and status changes are compare-and-set.
package sql

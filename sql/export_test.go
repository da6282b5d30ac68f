package sql

import "github.com/jackc/pgx/v5/pgxpool"

// SQLInWindow is the claim's calling-window filter, for the test that holds
// it against survey.Window.Contains.
const SQLInWindow = sqlInWindow

// SQLRotation is the claims' time-slice count, for the test that holds it
// to survey.Slices.Score.
const SQLRotation = sqlRotation

// NotRun and ConnLost classify the errors retry and retryIdempotent retry.
var (
	NotRun   = notRun
	ConnLost = connLost
)

// SQLGateCommit is what makes the gate's decisions commit asynchronously.
const SQLGateCommit = sqlGateCommit

// GatePool is the request gate's own connections.
func (db *DB) GatePool() *pgxpool.Pool { return db.gate }

package sql

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

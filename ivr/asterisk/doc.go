// Package asterisk is the Asterisk ARI adapter: a Stasis application whose
// channels become ivr.Media for the IVR engine. Inbound channels (a
// dialplan's Stasis(canvass,questionnaire=…)) run their survey here;
// Client.Dial (an ivr.Dialer) originates a channel and returns it answered
// as an ivr.Call, running nothing on it (ivr.Engine.Survey runs a survey).
// That call also has Leg(ctx) (media.Leg, error), its audio bridged to
// Canvass through an externalMedia channel (leg.go), and
// SendDigits(ctx, digits) error; a consumer reaches them through an
// interface of its own.
//
// Client.Run owns the events WebSocket and survives what Asterisk sends or
// fails to send: unknown or malformed events are logged and skipped, events
// are routed to per-call queues without blocking, the socket reconnects with
// backoff, a heartbeat detects a dead one, and calls are reconciled after a
// reconnect. REST calls go over net/http with ari/v5's models (rest.go says
// why). Prompts reach Asterisk as files it can read ("dir") or as HTTP
// media served by PromptServer ("http"; see its doc for which Asterisk
// versions and URL forms play). The aritest package replays recorded ARI
// traffic for the tests.
package asterisk

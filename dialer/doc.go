// Package dialer runs outbound survey campaigns: which case is called when,
// how many lines a campaign places, and how each dial is settled, within
// the calling rules (DESIGN.md §1, issue 11). It imports only survey.
//
// What is here is the pure core, with times passed in (no goroutines, no
// I/O), so a fake clock drives it:
//
//   - the cause table (causes.go): Settle turns what the network said about
//     a dial (SIP status, Q.850 cause, Asterisk's Dial status, a fax tone,
//     the AMD verdict) into a survey.DialOutcome, its AAPOR code and a
//     RetryClass; an unknown input is reported and retried, never final.
//     testdata/causes.md is the table for the README;
//   - the abandonment ledger (ledger.go): per campaign, live and abandoned
//     calls over a rolling 24 h, 30 days and TSR's 30-day periods, the
//     Headroom a predictive step may use so that even the worst case keeps
//     the budget (3 % by default, 0 allowed), and the 72 h redial rule
//     (MayRedial);
//   - pacing (pacing.go): Plan(now, State) for preview, progressive,
//     predictive and IVR campaigns, and the calls-per-second Bucket;
//   - the simulator (sim.go, `canvass dialer simulate`): Simulate drives
//     Plan, the Ledger, MayRedial and survey.Windows with a fake clock, a
//     simulated carrier and interviewers on shifts, and measures dials
//     outside windows, to DNC numbers, the worst rolling abandonment
//     rates and utilisation, each checked apart from the dialer's choice.
//
// And the runner (runner.go), the one part with goroutines: it claims due
// cases through the Store it declares (the database: windows, DNC,
// attempts and retry delays are checked in the claiming statement), places
// keypad calls through an Originator (an ivr.Dialer and the IVR engine,
// wired in cmd/canvass), dials for interviewers through Agents (the
// console: progressive, auto-dialed previews and predictive calls, paced
// by Plan under the Ledger's headroom), and settles each call with Decide
// (decide.go).
package dialer

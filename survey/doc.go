// Package survey is Canvass's domain: questionnaires (parsed, linted, with
// compiled expressions), the interview engine shared by IVR and CATI, answers
// with their paradata, AAPOR dispositions and the CX metrics (NPS, CSAT, CES);
// and the fieldwork around them (fieldwork.go): campaigns, cases, contacts,
// call attempts, appointments and the interviewers' desks, with typed ids and
// states, and the rules over them, each once (casework.go, window.go): how a
// desk moves, what a dial outcome records, how a case is settled and closed,
// and whether an instant falls in a calling window.
//
// It knows nothing of telephony, HTTP or storage: the ivr, cati, dialer and
// sql packages all meet through the types declared here.
package survey

// Package survey is Canvass's domain: questionnaires (parsed, linted, with
// compiled expressions), the interview engine shared by IVR and CATI, answers
// with their paradata, AAPOR dispositions and the CX metrics (NPS, CSAT, CES).
//
// It knows nothing of telephony, HTTP or storage: the ivr, cati, dialer and
// sql packages all meet through the types declared here.
package survey

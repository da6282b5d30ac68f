package cati

// This file is the API's OpenAPI 3.1 document, served at
// /api/v1/openapi.json: every route with who may call it, its parameters,
// its body and answers, and the webhooks' versioned event envelope. A test
// holds it to the real routes (every route documented, every documented
// route served).

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/canvass/canvass/survey"
)

// apiOp is one documented operation.
type apiOp struct {
	method, path, summary string
	roles                 []survey.Role
	query                 []string // query parameters
	body                  string   // request schema (components) or a media type; "" none
	answer                string   // success schema (components); "" no body
	status                int      // success status
}

// apiOps are the documented operations; TestOpenAPIMatchesRoutes keeps
// them and the routes (Server.table) the same.
var apiOps = []apiOp{
	{"GET", "/healthz", "Liveness: the database is reachable", nil, nil, "", "Health", 200},
	{"GET", "/metrics", "Prometheus metrics", nil, nil, "", "", 200},
	{"GET", "/api/v1/openapi.json", "This document", nil, nil, "", "", 200},
	{"GET", "/api/v1/questionnaires", "The latest version of each questionnaire", readers, nil, "", "Questionnaires", 200},
	{"POST", "/api/v1/questionnaires", "Upload a questionnaire (YAML); 201 new version, 200 unchanged, 422 problems with lines", uploaders, nil, "application/yaml", "QuestionnaireVersion", 201},
	{"GET", "/api/v1/questionnaires/{id}", "A questionnaire's latest version", readers, nil, "", "QuestionnaireVersion", 200},
	{"PUT", "/api/v1/questionnaires/{id}", "Upload a version of questionnaire id", uploaders, nil, "application/yaml", "QuestionnaireVersion", 200},
	{"GET", "/api/v1/questionnaires/{id}/versions/{version}", "One stored version", readers, nil, "", "QuestionnaireVersion", 200},
	{"GET", "/api/v1/questionnaires/{id}/report", "NPS, CSAT, CES with confidence intervals, AAPOR rates; grouped", readers, []string{"from", "to", "by"}, "", "Report", 200},
	{"GET", "/api/v1/questionnaires/{id}/export.csv", "Streamed CSV of the interviews, joinable to the sample", readers, []string{"from", "to", "paradata"}, "", "", 200},
	{"GET", "/api/v1/questionnaires/{id}/export.sps", "SPSS syntax reading the CSV export with variable and value labels and missing values", readers, []string{"lang"}, "", "", 200},
	{"GET", "/api/v1/questionnaires/{id}/export.R", "An R script reading the CSV export with labels, factors and NA", readers, []string{"lang"}, "", "", 200},
	{"GET", "/api/v1/questionnaires/{id}/themes", "Comment themes of a text question per language, split by NPS group, with quotes", readers, []string{"question", "from", "to", "max"}, "", "Themes", 200},
	{"GET", "/api/v1/questionnaires/{id}/prompts", "Prompt coverage: recorded, synthesized, missing", readers, nil, "", "Prompts", 200},
	{"PUT", "/api/v1/questionnaires/{id}/prompts/{lang}/{prompt}", "Upload a prompt recording (WAV)", uploaders, nil, "audio/wav", "", 204},
	{"GET", "/api/v1/recordings/{name}", "A recording (voice answer or call), WAV", readers, nil, "", "", 200},
	{"GET", "/api/v1/cases/{id}/why", "Why a case is not being called now", readers, nil, "", "Why", 200},
	{"GET", "/api/v1/interviews", "Interviews, filtered and paged", readers, []string{"questionnaire", "status", "mode", "from", "to", "after", "limit"}, "", "Interviews", 200},
	{"GET", "/api/v1/interviews/{id}", "One interview with its answers and paradata", readers, nil, "", "Interview", 200},
	{"GET", "/api/v1/dnc", "The system-wide do-not-call list", readers, []string{"region"}, "", "DNCList", 200},
	{"POST", "/api/v1/dnc", "Add a number (JSON) or a CSV file of numbers", uploaders, []string{"region"}, "DNCAdd", "DNCReport", 200},
	{"DELETE", "/api/v1/dnc/{phone}", "Take a number off the list", uploaders, []string{"region"}, "", "", 204},
	{"GET", "/api/v1/campaigns/{id}/dialing", "How the campaign is dialed, its ledger and forecast", readers, nil, "", "Dialing", 200},
	{"GET", "/api/v1/campaigns/{id}/dnc", "The campaign's do-not-call list", readers, []string{"region"}, "", "DNCList", 200},
	{"POST", "/api/v1/campaigns/{id}/dnc", "Add to the campaign's list", uploaders, []string{"region"}, "DNCAdd", "DNCReport", 200},
	{"DELETE", "/api/v1/campaigns/{id}/dnc/{phone}", "Take a number off the campaign's list", uploaders, []string{"region"}, "", "", 204},
	{"POST", "/api/v1/survey-requests", "Ask for a post-call survey; 201 queued, 200 skipped with the reason", uploaders, []string{"region"}, "SurveyRequest", "RequestDecision", 201},
	{"GET", "/api/v1/customers/{id}/history", "A customer's score history (by context.customer_id), oldest first, churn risks flagged", readers, nil, "", "CustomerHistory", 200},
	{"GET", "/api/v1/alerts", "Alerts, most urgent first", readers, []string{"status", "owner", "severity"}, "", "Alerts", 200},
	{"GET", "/api/v1/alerts/{id}", "One alert with its interview, history and later surveys", readers, nil, "", "Alert", 200},
	{"GET", "/api/v1/webhooks", "Webhook subscriptions", uploaders, nil, "", "Webhooks", 200},
	{"POST", "/api/v1/webhooks", "Subscribe; the answer shows the secret once", uploaders, nil, "WebhookIn", "Webhook", 201},
	{"GET", "/api/v1/webhooks/{id}", "One subscription", uploaders, nil, "", "Webhook", 200},
	{"PATCH", "/api/v1/webhooks/{id}", "Change a subscription, or rotate its secret", uploaders, nil, "WebhookIn", "Webhook", 200},
	{"DELETE", "/api/v1/webhooks/{id}", "Unsubscribe", uploaders, nil, "", "", 204},
	{"GET", "/api/v1/webhooks/{id}/deliveries", "The delivery log", uploaders, []string{"state"}, "", "Deliveries", 200},
	{"POST", "/api/v1/webhooks/{id}/deliveries/{delivery}/replay", "Send a delivery again now", uploaders, nil, "", "DeliveryAttempt", 200},
}

// openAPI builds the document.
func openAPI() map[string]any {
	obj := func(props map[string]any, required ...string) map[string]any {
		m := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			m["required"] = required
		}
		return m
	}
	str := map[string]any{"type": "string"}
	integer := map[string]any{"type": "integer"}
	num := map[string]any{"type": "number"}
	boolean := map[string]any{"type": "boolean"}
	when := map[string]any{"type": "string", "format": "date-time"}
	anyObj := map[string]any{"type": "object"}
	arr := func(items any) map[string]any { return map[string]any{"type": "array", "items": items} }
	ref := func(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }
	context := obj(map[string]any{"agent": str, "queue": str, "call_id": str, "touchpoint": str, "caller_number": str, "customer_id": str,
		"extra": map[string]any{"type": "object", "additionalProperties": str}})
	schemas := map[string]any{
		"Error":                obj(map[string]any{"error": obj(map[string]any{"code": map[string]any{"type": "string", "enum": []string{"invalid", "not_found", "conflict", "unauthorized", "forbidden", "internal"}}, "message": str, "problems": arr(obj(map[string]any{"line": integer, "message": str}))}, "code", "message")}, "error"),
		"Health":               obj(map[string]any{"status": str}),
		"Context":              context,
		"Questionnaires":       obj(map[string]any{"questionnaires": arr(ref("QuestionnaireVersion"))}),
		"QuestionnaireVersion": obj(map[string]any{"id": str, "version": integer, "title": str, "languages": arr(str), "created_at": when}),
		"Report":               anyObj,
		"Prompts":              anyObj,
		"Why":                  anyObj,
		"Themes": obj(map[string]any{"questionnaire": str, "question": str, "comments": integer, "languages": arr(str),
			"themes": arr(obj(map[string]any{"label": str, "language": str, "count": integer, "detractors": integer,
				"passives": integer, "promoters": integer, "examples": arr(str)}))}),
		"Dialing": anyObj,
		"Answer":  obj(map[string]any{"question": str, "value": map[string]any{}, "skipped": boolean, "paradata": anyObj, "answered_at": when}),
		"Interview": obj(map[string]any{"id": integer, "questionnaire": str, "version": integer, "mode": str, "language": str, "status": str,
			"context": ref("Context"), "contact": anyObj, "started_at": when, "ended_at": when, "answers": arr(ref("Answer"))}),
		"Interviews": obj(map[string]any{"interviews": arr(ref("Interview")), "next": str}),
		"DNCList":    obj(map[string]any{"campaign": integer, "count": integer, "numbers": arr(anyObj)}),
		"DNCAdd":     obj(map[string]any{"phone": str, "note": str}, "phone"),
		"DNCReport":  obj(map[string]any{"campaign": integer, "lines": integer, "added": integer, "already": integer, "errors": arr(anyObj)}),
		"SurveyRequest": obj(map[string]any{"phone": str, "questionnaire": str, "language": str, "call_after": when,
			"context": obj(map[string]any{"agent": str, "queue": str, "call_id": str, "touchpoint": str, "customer_id": str,
				"fields": map[string]any{"type": "object", "additionalProperties": str}})}, "phone", "questionnaire"),
		"RequestDecision": obj(map[string]any{"id": integer, "decision": map[string]any{"type": "string", "enum": []string{"queued", "skipped"}},
			"reason": map[string]any{"type": "string", "enum": []string{"dnc", "fatigue", "sampled_out"}}, "share": num, "case_id": integer,
			"campaign_id": integer, "call_after": when, "last_surveyed": when, "dnc": anyObj}, "id", "decision", "share"),
		"Alert": obj(map[string]any{"id": integer, "interview_id": integer, "questionnaire": str, "rule": str, "severity": str, "owner": str,
			"question": str, "status": str, "assignee": str, "raised_at": when, "due_at": when, "first_action_at": when, "closed_at": when,
			"root_cause": str, "outcome": str, "recovery_case_id": integer, "context": ref("Context"), "phone": str, "answers": anyObj,
			"notes": arr(anyObj), "later_interviews": arr(anyObj)}),
		"Alerts": obj(map[string]any{"alerts": arr(ref("Alert"))}),
		"CustomerHistory": obj(map[string]any{"customer_id": str, "surveys": arr(obj(map[string]any{"interview_id": integer, "questionnaire": str,
			"kind": map[string]any{"type": "string", "enum": []string{"transactional", "relational"}}, "started_at": when, "status": str,
			"touchpoint": str, "nps": integer, "csat": integer, "csat_scale_top": integer,
			"churn_risk": map[string]any{"type": "string", "enum": []string{survey.ChurnTurned, survey.ChurnTwoLow}}, "alerts": arr(ref("Alert"))}))}),
		"WebhookIn": obj(map[string]any{"name": str, "url": str, "event_types": arr(map[string]any{"type": "string", "enum": survey.WebhookEvents}),
			"active": boolean, "secret": str, "rotate_secret": boolean}),
		"Webhook": obj(map[string]any{"id": integer, "name": str, "url": str, "event_types": arr(str), "active": boolean,
			"previous_secret_until": when, "created_at": when, "created_by": str, "pending": integer, "dead": integer,
			"secret": map[string]any{"type": "string", "description": "only when made or rotated"}}),
		"Webhooks":        obj(map[string]any{"webhooks": arr(ref("Webhook")), "event_types": arr(str)}),
		"DeliveryAttempt": obj(map[string]any{"at": when, "status_code": integer, "error": str, "duration_ms": integer, "replay": boolean}),
		"Deliveries": obj(map[string]any{"deliveries": arr(obj(map[string]any{"id": integer, "webhook_id": integer, "event_id": integer,
			"type": str, "payload": ref("Event"), "attempts": integer, "state": str, "created_at": when, "attempts_log": arr(ref("DeliveryAttempt"))}))}),
		"Event": obj(map[string]any{"id": integer, "type": map[string]any{"type": "string", "enum": survey.WebhookEvents},
			"version": map[string]any{"type": "integer", "const": 1}, "occurred_at": when, "campaign_id": integer, "interview_id": integer,
			"case_id": integer, "data": map[string]any{"oneOf": []any{ref("InterviewEnded"), ref("AlertRaised"), ref("AlertClosed"), ref("CaseFinalized"), anyObj}}},
			"id", "type", "version", "occurred_at", "data"),
		"InterviewEnded": obj(map[string]any{"status": str, "end_cause": str, "questionnaire": str, "version": integer, "mode": str,
			"language": str, "context": ref("Context"), "started_at": when, "ended_at": when, "answers": anyObj}),
		"AlertRaised": obj(map[string]any{"alert_id": integer, "rule": str, "severity": str, "owner": str, "question": str,
			"questionnaire": str, "due_at": when, "context": ref("Context")}),
		"AlertClosed": obj(map[string]any{"alert_id": integer, "rule": str, "severity": str, "owner": str, "root_cause": str,
			"outcome": str, "raised_at": when, "closed_at": when, "first_action_at": when, "context": ref("Context")}),
		"CaseFinalized": obj(map[string]any{"final_disposition": str, "attempts": integer, "phone": str, "context": ref("Context"), "interview_id": integer}),
	}
	paths := map[string]any{}
	for _, op := range apiOps {
		item, _ := paths[op.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[op.path] = item
		}
		var params []any
		for _, seg := range strings.Split(op.path, "/") {
			if strings.HasPrefix(seg, "{") {
				params = append(params, map[string]any{"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": str})
			}
		}
		for _, q := range op.query {
			params = append(params, map[string]any{"name": q, "in": "query", "schema": str})
		}
		o := map[string]any{"summary": op.summary, "operationId": strings.ToLower(op.method) + strings.NewReplacer("/", "_", "{", "", "}", "", ".", "_", "-", "_").Replace(op.path)}
		if len(params) > 0 {
			o["parameters"] = params
		}
		if op.roles == nil {
			o["security"] = []any{}
		} else {
			var rs []string
			for _, r := range op.roles {
				rs = append(rs, string(r))
			}
			o["x-roles"] = rs
		}
		switch {
		case op.body == "":
		case strings.Contains(op.body, "/"):
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{op.body: map[string]any{}}}
		default:
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": ref(op.body)}}}
		}
		ok := map[string]any{"description": http.StatusText(op.status)}
		if op.answer != "" {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": ref(op.answer)}}
		}
		errAnswer := map[string]any{"description": "an error naming what is wrong", "content": map[string]any{"application/json": map[string]any{"schema": ref("Error")}}}
		o["responses"] = map[string]any{strconv.Itoa(op.status): ok, "default": errAnswer}
		item[strings.ToLower(op.method)] = o
	}
	webhooks := map[string]any{}
	for _, e := range survey.WebhookEvents {
		webhooks[e] = map[string]any{"post": map[string]any{
			"summary":     "Delivered to a subscription's URL, signed (Canvass-Signature: t=<unix>,v1=<HMAC-SHA256 of \"<t>.<body>\">)",
			"requestBody": map[string]any{"content": map[string]any{"application/json": map[string]any{"schema": ref("Event")}}},
			"responses":   map[string]any{"2XX": map[string]any{"description": "taken; anything else is retried"}},
		}}
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Canvass API", "version": "1",
			"description": "Telephone survey server: questionnaires, interviews, reports, do-not-call lists, survey requests, alerts and webhooks. Every call under /api/v1 needs Authorization: Bearer <token>; x-roles says which token roles may make it."},
		"components": map[string]any{"schemas": schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}}},
		"security": []any{map[string]any{"bearer": []any{}}},
		"paths":    paths,
		"webhooks": webhooks,
	}
}

// openapiJSON serves the document (public, like /healthz: it holds no data).
func (s *Server) openapiJSON(w http.ResponseWriter, r *http.Request) error {
	s.writeJSON(w, r, http.StatusOK, openAPI())
	return nil
}

package cati

// This file puts live-feed events in words for the supervisors' floor:
// "ivan closed case 9 as 1.1 Complete" rather than "case.wrapped · case 9".

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/canvass/canvass/survey"
)

// names caches account names by id for the feed; a miss reloads them.
type names struct {
	mu sync.Mutex
	m  map[survey.UserID]string
}

func (s *Server) userName(id survey.UserID) string {
	n := &s.console.names
	n.mu.Lock()
	defer n.mu.Unlock()
	if name, ok := n.m[id]; ok {
		return name
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if users, err := s.console.Campaigns.Users(ctx); err == nil {
		n.m = map[survey.UserID]string{}
		for _, u := range users {
			n.m[u.ID] = u.Name
		}
	}
	if name, ok := n.m[id]; ok {
		return name
	}
	return fmt.Sprintf("user %d", id)
}

// codeText is a disposition code with its label: "1.1 Complete".
func codeText(code string) string {
	if d, ok := survey.LookupDisposition(survey.DispositionCode(code)); ok {
		return code + " " + d.Label
	}
	return code
}

// eventText says what happened, or "" for an event with nothing to say.
func (s *Server) eventText(e survey.Event) string {
	var p struct {
		Status      string          `json:"status"`
		CaseStatus  string          `json:"case_status"`
		FinalCode   string          `json:"final_code"`
		AttemptCode string          `json:"attempt_code"`
		By          string          `json:"by"`
		Code        string          `json:"code"`
		Reason      string          `json:"reason"`
		Users       []survey.UserID `json:"users"`
		Appointment bool            `json:"appointment"`
	}
	if len(e.Payload) > 0 {
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			return ""
		}
	}
	who := ""
	if e.UserID != 0 {
		who = s.userName(e.UserID)
	}
	c := fmt.Sprintf("case %d", e.CaseID)
	switch e.Kind {
	case "case.claimed":
		return who + " took " + c
	case "desk.dialing":
		return who + " is dialing " + c
	case "interview.started":
		return who + " reached the respondent of " + c
	case "interview.ended":
		return who + "'s interview on " + c + " ended " + p.Status
	case "desk.wrap_up":
		return who + " is wrapping up " + c
	case "case.wrapped":
		switch p.CaseStatus {
		case string(survey.CaseClosed):
			return who + " closed " + c + " as " + codeText(p.FinalCode)
		case string(survey.CaseAppointment):
			return who + " booked a call back on " + c
		}
		return who + " put " + c + " back for a retry (" + codeText(p.AttemptCode) + ")"
	case "case.reassigned":
		to := ""
		if len(p.Users) == 2 {
			to = " to " + s.userName(p.Users[1])
		}
		if p.Appointment {
			return p.By + " gave the call back of " + c + to
		}
		return p.By + " reassigned " + c + to
	case "case.released":
		return p.By + " released " + c + " to the queue"
	case "case.disposition":
		return p.By + " closed " + c + " as " + codeText(p.Code)
	case "desk.idle":
		return who + " is ready"
	case "desk.break":
		return who + " is on a break (" + p.Reason + ")"
	case "desk.signed_out":
		return who + " signed out"
	case "campaign.status", "campaign.assign", "campaign.settings":
		return "campaign settings changed"
	case "sample.imported":
		return "sample imported"
	}
	return ""
}

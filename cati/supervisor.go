package cati

// This file is the supervisors' side: the live floor (interviewer grid,
// campaign progress, quota fill, live NPS and CSAT, the headline AAPOR
// rates, completes per interviewer), the actions they take on cases —
// reassign, release, set a disposition, each audit-logged by the store —
// and the report page with every AAPOR rate and the e it used.

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/canvass/canvass/survey"
)

// floorView is the "floor" message.
type floorView struct {
	At           time.Time      `json:"at"`
	Interviewers []deskRowView  `json:"interviewers"`
	Campaigns    []campaignView `json:"campaigns"`
}

type deskRowView struct {
	ID             survey.UserID    `json:"id"`
	Name           string           `json:"name"`
	State          survey.DeskState `json:"state"`
	Reason         string           `json:"reason,omitempty"` // of a break
	Since          time.Time        `json:"since,omitzero"`   // absent while signed out
	CaseID         survey.CaseID    `json:"case_id,omitempty"`
	Campaign       string           `json:"campaign,omitempty"`
	CompletesHour  int              `json:"completes_last_hour"`
	CompletesToday int              `json:"completes_today"`
	ContactsHour   int              `json:"contacts_last_hour"`
	ContactsToday  int              `json:"contacts_today"`
	RefusalRate    *float64         `json:"refusal_rate"`       // refusals of today's contacts; null without one
	HandleSeconds  int              `json:"avg_handle_seconds"` // mean length of today's answered calls
}

type campaignView struct {
	ID              survey.CampaignID     `json:"id"`
	Name            string                `json:"name"`
	Status          survey.CampaignStatus `json:"status"`
	Questionnaire   string                `json:"questionnaire"`
	Cases           int                   `json:"cases"`
	Remaining       int                   `json:"remaining"`
	Open            int                   `json:"open"`
	Claimed         int                   `json:"claimed"`
	Appointments    int                   `json:"appointments"`
	AppointmentsDue int                   `json:"appointments_due"`
	Completes       int                   `json:"completes"`
	CompletesHour   int                   `json:"completes_last_hour"`
	Partials        int                   `json:"partials"`
	Refusals        int                   `json:"refusals"`
	Counts          survey.Counts         `json:"counts"`
	Quotas          []quotaView           `json:"quotas"`
	NPS             *survey.NPS           `json:"nps,omitempty"`
	CSAT            *survey.CSAT          `json:"csat,omitempty"`
	RR1             survey.Rate           `json:"rr1"`
	COOP1           survey.Rate           `json:"coop1"`
	REF1            survey.Rate           `json:"ref1"`
	CON1            survey.Rate           `json:"con1"`
	Dialing         dialingView           `json:"dialing"`
	Forecast        forecastView          `json:"forecast"`
}

// forecastView is survey.Forecast with what it was made from, as the floor
// and the API show it.
type forecastView struct {
	Target    int `json:"target"` // 0: none
	Remaining int `json:"remaining"`
	survey.Forecast
}

// dialingView is how a campaign is dialed, live.
type dialingView struct {
	Mode survey.DialMode `json:"mode"`
	// Ratio is the lines placed per free interviewer (progressive: 1);
	// 0 in preview and keypad campaigns, which pace by CallsPerSecond and
	// MaxLines instead.
	Ratio          float64     `json:"ratio"`
	CallsPerSecond float64     `json:"calls_per_second,omitempty"`
	MaxLines       int         `json:"max_lines,omitempty"`
	CallsUp        int         `json:"calls_up"` // ringing or talking
	Ringing        int         `json:"ringing"`  // predictive: the dialer's lines no interviewer has yet
	Waiting        int         `json:"waiting"`  // answered, waiting for an interviewer (predictive only)
	Abandon24h     abandonView `json:"abandon_24h"`
	Abandon30d     abandonView `json:"abandon_30d"`
	Budget         float64     `json:"budget"`
}

type abandonView struct {
	Live      int         `json:"live"`
	Abandoned int         `json:"abandoned"`
	Rate      survey.Rate `json:"rate"`
	// FalsePositives is the estimated persons among the machine
	// verdicts, counted in Rate as abandoned live calls.
	FalsePositives float64 `json:"amd_false_positives,omitempty"`
}

// abandon is the abandonment rate of live calls with abandoned of them,
// and share of machines counted as persons abandoned.
func abandon(live, abandoned, machines int, share float64) abandonView {
	v := abandonView{Live: live, Abandoned: abandoned, FalsePositives: share * float64(machines)}
	if l := float64(live) + v.FalsePositives; l > 0 {
		v.Rate = survey.Rate{Value: (float64(abandoned) + v.FalsePositives) / l, Defined: true}
	}
	return v
}

type quotaView struct {
	ID     string `json:"id"`
	Target int    `json:"target"`
	Filled int    `json:"filled"`
}

// floorView reads the floor and computes what supervisors see.
func (s *Server) floorView(ctx context.Context) (floorView, error) {
	f, err := s.console.Floor.Floor(ctx, s.now())
	if err != nil {
		return floorView{}, err
	}
	v := floorView{At: f.At.UTC(), Interviewers: []deskRowView{}, Campaigns: []campaignView{}}
	names := map[survey.CampaignID]string{}
	for _, c := range f.Campaigns {
		names[c.ID] = c.Name
	}
	for _, d := range f.Desks {
		row := deskRowView{ID: d.UserID, Name: d.Name, State: d.State, Reason: d.Reason, Since: d.Since,
			CaseID: d.CaseID, Campaign: names[d.CampaignID], CompletesHour: d.CompletesHour, CompletesToday: d.CompletesToday,
			ContactsHour: d.ContactsHour, ContactsToday: d.ContactsToday, HandleSeconds: int(d.HandleToday.Round(time.Second) / time.Second)}
		if d.ContactsToday > 0 {
			row.RefusalRate = new(float64(d.RefusalsToday) / float64(d.ContactsToday))
		}
		v.Interviewers = append(v.Interviewers, row)
	}
	for _, c := range f.Campaigns {
		cv, err := s.campaignView(ctx, c)
		if err != nil {
			return floorView{}, err
		}
		v.Campaigns = append(v.Campaigns, cv)
	}
	return v, nil
}

func (s *Server) campaignView(ctx context.Context, c survey.CampaignProgress) (campaignView, error) {
	cv := campaignView{ID: c.ID, Name: c.Name, Status: c.Status, Questionnaire: c.Questionnaire, Cases: c.Cases,
		Remaining: c.Cases - c.Closed, Open: c.Open, Claimed: c.Claimed, Appointments: c.Appointments,
		AppointmentsDue: c.AppointmentsDue, Completes: c.Completes, CompletesHour: c.CompletesHour, Partials: c.Partials, Refusals: c.Refusals,
		Counts: c.Groups, Quotas: []quotaView{}}
	camp, err := s.console.Campaigns.Campaign(ctx, c.ID)
	if err != nil {
		return cv, err
	}
	st, err := camp.DecodeSettings()
	if err != nil {
		return cv, err
	}
	cv.Dialing = dialingView{Mode: camp.DialMode(st.Dialing), CallsUp: c.CallsUp, Budget: survey.DefaultAbandonBudget,
		Abandon24h: abandon(c.Live24h, c.Abandoned24h, c.Machines24h, st.Dialing.FalsePositives()),
		Abandon30d: abandon(c.Live30d, c.Abandoned30d, c.Machines30d, st.Dialing.FalsePositives())}
	switch cv.Dialing.Mode {
	case survey.DialProgressive:
		cv.Dialing.Ratio = 1
	case survey.DialPredictive:
		cv.Dialing.Ratio = float64(c.DialerUp) / float64(max(c.Idle, 1))
		cv.Dialing.Ringing = c.DialerUp
		cv.Dialing.Budget = st.Dialing.Budget()
	case survey.DialKeypad:
		cv.Dialing.CallsPerSecond, cv.Dialing.MaxLines = st.Dialing.Pace()
	}
	q, err := s.desks.questionnaire(ctx, c.Questionnaire, 0)
	if err != nil {
		return cv, err
	}
	quotaTarget := 0
	for _, qt := range q.Quotas {
		target := qt.Target
		if t, ok := st.Quotas[qt.ID]; ok {
			target = t
		}
		quotaTarget += target
		cv.Quotas = append(cv.Quotas, quotaView{ID: qt.ID, Target: target, Filled: c.QuotaFill[qt.ID]})
	}
	target := st.Dialing.TargetCompletes
	if target == 0 {
		target = quotaTarget
	}
	f := survey.Forecasted(survey.ForecastInput{Counts: c.Groups, Remaining: c.Cases - c.Closed, Completes: c.Completes,
		Target: target, Recent: c.CompletesWeek, Days: 7, Now: s.now()})
	cv.Forecast = forecastView{Target: target, Remaining: c.Cases - c.Closed, Forecast: f}
	for _, qq := range q.Questions {
		switch {
		case cv.NPS == nil && qq.Type == survey.TypeNPS:
			n := survey.NPSFrom(c.Values[qq.ID])
			cv.NPS = &n
		case cv.CSAT == nil && qq.Type == survey.TypeScale && qq.Metric == survey.MetricCSAT:
			cs := survey.CSATFrom(c.Values[qq.ID], qq.Min, qq.Max)
			cv.CSAT = &cs
		}
	}
	rates, err := c.Groups.Rates(campaignE(st, c.Groups))
	if err != nil {
		return cv, err
	}
	cv.RR1, cv.COOP1, cv.REF1, cv.CON1 = rates.RR1, rates.COOP1, rates.REF1, rates.CON1
	return cv, nil
}

// campaignE is the e a campaign's rates use: its own, or the proportional
// default (1 while nothing is known, the conservative choice).
func campaignE(st survey.CampaignSettings, c survey.Counts) float64 {
	if st.E != nil {
		return *st.E
	}
	if e := c.ProportionalE(); e.Defined {
		return e.Value
	}
	return 1
}

// supervise runs a supervisor's request on a case.
func (s *Server) supervise(ctx context.Context, u survey.User, typ string, req request) error {
	switch r := req.(type) {
	case *reassignReq:
		return s.desks.Reassign(ctx, u, r.CaseID, r.To)
	case *caseReq: // release
		return s.desks.Release(ctx, u, r.CaseID)
	case *dispositionReq:
		return s.desks.SetDisposition(ctx, u, r.CaseID, survey.DispositionCode(r.Code), r.Note)
	}
	return survey.Errorf(survey.EInvalid, "%s is not a supervisor request", typ)
}

// reportRow is one rate on the report page.
type reportRow struct {
	Name    string
	Formula string
	Value   survey.Rate
	UsesE   bool
}

// reportPage shows every AAPOR rate of a campaign, with e stated.
func (s *Server) reportPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return survey.Errorf(survey.ENotFound, "no such campaign")
	}
	f, err := s.floorView(r.Context())
	if err != nil {
		return err
	}
	for _, cv := range f.Campaigns {
		if cv.ID != survey.CampaignID(id) {
			continue
		}
		camp, err := s.console.Campaigns.Campaign(r.Context(), survey.CampaignID(id))
		if err != nil {
			return err
		}
		st, err := camp.DecodeSettings()
		if err != nil {
			return err
		}
		e := campaignE(st, cv.Counts)
		eSource := "proportional allocation (I+P+R+NC+O)/(I+P+R+NC+O+NE) over cases of known eligibility"
		if st.E != nil {
			eSource = "set for this campaign"
		} else if !cv.Counts.ProportionalE().Defined {
			eSource = "1 (no case of known eligibility yet)"
		}
		rt, err := cv.Counts.Rates(e)
		if err != nil {
			return err
		}
		rows := []reportRow{
			{"RR1", "I / ((I+P) + (R+NC+O) + (UH+UO))", rt.RR1, false},
			{"RR2", "(I+P) / ((I+P) + (R+NC+O) + (UH+UO))", rt.RR2, false},
			{"RR3", "I / ((I+P) + (R+NC+O) + e(UH+UO))", rt.RR3, true},
			{"RR4", "(I+P) / ((I+P) + (R+NC+O) + e(UH+UO))", rt.RR4, true},
			{"RR5", "I / ((I+P) + (R+NC+O))", rt.RR5, false},
			{"RR6", "(I+P) / ((I+P) + (R+NC+O))", rt.RR6, false},
			{"COOP1", "I / ((I+P)+R+O)", rt.COOP1, false},
			{"COOP2", "(I+P) / ((I+P)+R+O)", rt.COOP2, false},
			{"COOP3", "I / ((I+P)+R)", rt.COOP3, false},
			{"COOP4", "(I+P) / ((I+P)+R)", rt.COOP4, false},
			{"REF1", "R / ((I+P)+(R+NC+O)+(UH+UO))", rt.REF1, false},
			{"REF2", "R / ((I+P)+(R+NC+O)+e(UH+UO))", rt.REF2, true},
			{"REF3", "R / ((I+P)+(R+NC+O))", rt.REF3, false},
			{"CON1", "((I+P)+R+O) / ((I+P)+R+O+NC+(UH+UO))", rt.CON1, false},
			{"CON2", "((I+P)+R+O) / ((I+P)+R+O+NC+e(UH+UO))", rt.CON2, true},
			{"CON3", "((I+P)+R+O) / ((I+P)+R+O+NC)", rt.CON3, false},
		}
		s.render(w, r, http.StatusOK, "report", pageData{Title: "Report: " + cv.Name, Session: sess, Data: map[string]any{
			"Campaign": cv, "Rates": rows, "E": fmt.Sprintf("%.4f", e), "ESource": eSource,
		}})
		return nil
	}
	return survey.Errorf(survey.ENotFound, "no such campaign")
}

// getDialing is a campaign's dialing, live, and its sample forecast.
func (s *Server) getDialing(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 || s.console == nil {
		return survey.Errorf(survey.ENotFound, "no campaign %q", survey.Clip(r.PathValue("id"), 20))
	}
	v, err := s.floorView(r.Context())
	if err != nil {
		return err
	}
	for _, c := range v.Campaigns {
		if c.ID == survey.CampaignID(id) {
			s.writeJSON(w, r, http.StatusOK, map[string]any{"campaign_id": c.ID, "name": c.Name, "status": c.Status,
				"dialing": c.Dialing, "forecast": c.Forecast})
			return nil
		}
	}
	return survey.Errorf(survey.ENotFound, "no campaign %d", id)
}

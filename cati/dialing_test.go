package cati_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/survey"
)

// A campaign's dialing and sample forecast, over the API: too few finished
// cases gives no forecast; with them, the target date, or that the sample
// falls short.
func TestDialingForecastAPI(t *testing.T) {
	var contacts []map[string]string
	for i := range 30 {
		contacts = append(contacts, contact(fmt.Sprint("P", i), "north", "consumer", "fibre"))
	}
	cf := newConsole(t, contacts...)
	token, hash, err := cati.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cf.db.CreateToken(t.Context(), "dialing", survey.RoleSupervisor, hash); err != nil {
		t.Fatal(err)
	}
	get := func() (dialing struct{ Mode string }, forecast struct {
		Text      string `json:"text"`
		Expected  int    `json:"expected_completes"`
		Reachable bool   `json:"reachable"`
	}) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", fmt.Sprintf("%s/api/v1/campaigns/%d/dialing", cf.url, cf.campaign), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Dialing  *struct{ Mode string } `json:"dialing"`
			Forecast *struct {
				Text      string `json:"text"`
				Expected  int    `json:"expected_completes"`
				Reachable bool   `json:"reachable"`
			} `json:"forecast"`
		}
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&body) != nil || body.Dialing == nil || body.Forecast == nil {
			t.Fatalf("GET dialing: %s", resp.Status)
		}
		dialing.Mode = body.Dialing.Mode
		forecast.Text, forecast.Expected, forecast.Reachable = body.Forecast.Text, body.Forecast.Expected, body.Forecast.Reachable
		return
	}
	d, f := get()
	if d.Mode != "preview" || !strings.Contains(f.Text, "no forecast yet") {
		t.Fatalf("dialing %+v, forecast %+v", d, f)
	}
	// 20 cases closed: 6 complete, 4 refused, 10 not contacted; 10 left.
	cf.exec(`UPDATE survey_case SET status = 'closed', closed_at = now(), final_disposition = CASE
		WHEN id <= 6 THEN '1.1' WHEN id <= 10 THEN '2.11' ELSE '3.13' END WHERE id <= 20`)
	cf.exec(`UPDATE campaign SET settings = settings || '{"dialing": {"target_completes": 10}}'`)
	_, f = get()
	// 3.13 (no answer) is unknown eligibility, counted eligible at the
	// known share (all 10 known are): yield = 10/20 contacted × 6/10
	// cooperated = 0.3: 3 from the 10 left, 1 short of the 4 needed.
	if f.Reachable || f.Expected != 3 || !strings.Contains(f.Text, "will not be reached") || !strings.Contains(f.Text, "1 short") {
		t.Errorf("forecast %+v", f)
	}
	resp, err := http.Get(fmt.Sprintf("%s/api/v1/campaigns/%d/dialing", cf.url, cf.campaign))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a token: %s", resp.Status)
	}
}

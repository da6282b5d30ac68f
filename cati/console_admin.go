package cati

// This file is the admin pages: questionnaires (upload, lint problems shown
// in place beside the lines they are on), campaigns (create with calling
// windows, attempts, retry delays and quota targets; start, pause, finish;
// assign interviewers) and sample import with a column mapping, whose
// progress the page polls while the upload is processed.

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/canvass/canvass/survey"
)

// adminData is the admin index page.
type adminData struct {
	Questionnaires []survey.QuestionnaireVersion
	Campaigns      []survey.Campaign
	Users          []survey.User
	Problems       survey.Problems
	Source         []sourceLine
	Uploaded       string
	Pasted         string            // the upload's text, back in its textarea after problems
	NewAccount     map[string]string // a refused add-account form's name and role
	Roles          []survey.Role
}

// sourceLine is a line of an uploaded questionnaire with its problems.
type sourceLine struct {
	N        int
	Text     string
	Problems []string
}

func (s *Server) adminData(r *http.Request) (adminData, error) {
	ctx := r.Context()
	var d adminData
	var err error
	if d.Questionnaires, err = s.store.Questionnaires(ctx); err != nil {
		return d, err
	}
	if d.Campaigns, err = s.console.Campaigns.Campaigns(ctx); err != nil {
		return d, err
	}
	if d.Users, err = s.console.Campaigns.Users(ctx); err != nil {
		return d, err
	}
	d.Roles = accountRoles
	return d, nil
}

func (s *Server) adminPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	d, err := s.adminData(r)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "admin", pageData{Title: "Administration", Session: sess, Data: d, Flash: r.URL.Query().Get("done")})
	return nil
}

// adminUpload stores an uploaded questionnaire, or shows its problems in
// place.
func (s *Server) adminUpload(w http.ResponseWriter, r *http.Request, sess *session) error {
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes+64<<10)
	if err := r.ParseMultipartForm(s.opts.MaxBodyBytes); err != nil {
		return survey.Errorf(survey.EInvalid, "the upload could not be read (at most %d bytes): %v", s.opts.MaxBodyBytes, err)
	}
	if err := checkCSRF(r, sess); err != nil {
		return err
	}
	src := []byte(r.PostFormValue("source"))
	if f, _, err := r.FormFile("file"); err == nil {
		b, err := io.ReadAll(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("read upload: %w", err)
		}
		if len(b) > 0 {
			src = b
		}
	}
	if len(strings.TrimSpace(string(src))) == 0 {
		err := survey.Errorf(survey.EInvalid, `nothing to upload: choose a file under "YAML file" or paste the questionnaire under "or paste it"`)
		if wantsJSON(r) {
			return err
		}
		d, derr := s.adminData(r)
		if derr != nil {
			return derr
		}
		s.render(w, r, http.StatusBadRequest, "admin", pageData{Title: "Administration", Session: sess, Data: d, Error: survey.ErrorMessage(err)})
		return nil
	}
	q, err := survey.Parse(src)
	if err != nil {
		problems, ok := errors.AsType[survey.Problems](err)
		if !ok {
			return err
		}
		d, derr := s.adminData(r)
		if derr != nil {
			return derr
		}
		d.Problems = problems
		d.Source = annotate(src, problems)
		d.Pasted = string(src)
		s.render(w, r, http.StatusUnprocessableEntity, "admin", pageData{Title: "Administration", Session: sess, Data: d,
			Error: fmt.Sprintf("The questionnaire has %d problem%s; nothing was stored.", len(problems), plural(len(problems)))})
		return nil
	}
	v, created, err := s.store.PutQuestionnaire(r.Context(), q.Version(src))
	if err != nil {
		return err
	}
	s.consoleLog(sess.User).Info("questionnaire uploaded", "questionnaire", v.ID, "version", v.Version, "new", created)
	msg := fmt.Sprintf("Stored %s version %d.", v.ID, v.Version)
	if !created {
		msg = fmt.Sprintf("%s version %d is identical; nothing changed.", v.ID, v.Version)
	}
	http.Redirect(w, r, "/admin?done="+urlQuery(msg), http.StatusSeeOther)
	return nil
}

// urlQuery escapes a message for a ?done= query (a ";" in it would make Go
// drop the whole parameter).
func urlQuery(s string) string { return url.QueryEscape(s) }

// annotate pairs each source line with the problems on it.
func annotate(src []byte, ps survey.Problems) []sourceLine {
	lines := strings.Split(strings.TrimRight(string(src), "\n"), "\n")
	out := make([]sourceLine, len(lines))
	for i, l := range lines {
		out[i] = sourceLine{N: i + 1, Text: l}
	}
	for _, p := range ps {
		i := p.Line - 1
		if i < 0 || i >= len(out) {
			i = 0
		}
		if len(out) > 0 {
			out[i].Problems = append(out[i].Problems, p.Message)
		}
	}
	return out
}

// campaignFormData is the new-campaign form: the defaults, or a refused
// form's values as they were submitted.
type campaignFormData struct {
	Questionnaires []survey.QuestionnaireVersion
	Questionnaire  string
	Quotas         []quotaForm
	Days           []dayForm
	Retries        []retryForm
	Interviewers   []survey.User
	Chosen         []survey.UserID   // the interviewers ticked
	Values         map[string]string // name, max_attempts, status, e
}

type quotaForm struct {
	ID     string
	Target string
}

type dayForm struct {
	Dow           int
	Name          string
	On            bool
	Opens, Closes string
}

type retryForm struct {
	Code    survey.DispositionCode
	Label   string
	Minutes string
}

func (s *Server) campaignForm(w http.ResponseWriter, r *http.Request, sess *session) error {
	d, err := s.campaignFormData(r, r.URL.Query().Get("questionnaire"))
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "campaign_new", pageData{Title: "New campaign", Session: sess, Data: d})
	return nil
}

func (s *Server) campaignFormData(r *http.Request, qid string) (campaignFormData, error) {
	ctx := r.Context()
	d := campaignFormData{Values: map[string]string{"max_attempts": "6", "status": "running", "kind": "cati", "dial_mode": "preview", "slices": survey.DefaultSlices().Text()}}
	var err error
	if d.Questionnaires, err = s.store.Questionnaires(ctx); err != nil {
		return d, err
	}
	if qid == "" && len(d.Questionnaires) > 0 {
		qid = d.Questionnaires[0].ID
	}
	d.Questionnaire = qid
	if qid != "" {
		q, err := s.desks.questionnaire(ctx, qid, 0)
		if err != nil {
			return d, err
		}
		for _, qt := range q.Quotas {
			d.Quotas = append(d.Quotas, quotaForm{ID: qt.ID, Target: strconv.Itoa(qt.Target)})
		}
	}
	for dow := range 7 {
		on := dow >= 1 && dow <= 5
		opens, closes := "09:00", "21:00"
		if dow == 6 {
			on, opens, closes = true, "10:00", "18:00"
		}
		d.Days = append(d.Days, dayForm{Dow: dow, Name: time.Weekday(dow).String(), On: on, Opens: opens, Closes: closes})
	}
	for _, disp := range survey.Dispositions() {
		if disp.Retry == survey.RetrySameNumber && !disp.Final {
			d.Retries = append(d.Retries, retryForm{Code: disp.Code, Label: disp.Label, Minutes: strconv.FormatInt(int64(disp.RetryAfter/time.Minute), 10)})
		}
	}
	users, err := s.console.Campaigns.Users(ctx)
	if err != nil {
		return d, err
	}
	for _, u := range users {
		if u.Role == survey.RoleInterviewer && !u.Disabled {
			d.Interviewers = append(d.Interviewers, u)
		}
	}
	return d, nil
}

// keep puts a refused form's values in place of the defaults, as they were
// submitted (bad ones too, to be mended), so that nothing has to be entered
// twice. A field missing from the form keeps its default, except the
// checkboxes: a browser leaves unticked ones out.
func (d *campaignFormData) keep(f url.Values) {
	set := func(dst *string, key string) {
		if v, ok := f[key]; ok && len(v) > 0 {
			*dst = v[0]
		}
	}
	d.Values["record_calls"] = f.Get("record_calls")
	d.Values["no_resume"] = f.Get("no_resume")
	for _, k := range []string{"name", "max_attempts", "status", "e", "kind", "dial_mode", "auto_dial_seconds",
		"calls_per_second", "max_lines", "target_completes", "ring_seconds", "amd", "machine_message", "abandon_message", "abandon_budget", "slices", "agent_key", "amd_false_positive"} {
		v := d.Values[k]
		set(&v, k)
		d.Values[k] = v
	}
	for i := range d.Days {
		day := &d.Days[i]
		key := strconv.Itoa(day.Dow)
		day.On = f.Get("day_"+key) != ""
		set(&day.Opens, "opens_"+key)
		set(&day.Closes, "closes_"+key)
	}
	for i := range d.Retries {
		set(&d.Retries[i].Minutes, "retry_"+string(d.Retries[i].Code))
	}
	for i := range d.Quotas {
		set(&d.Quotas[i].Target, "quota_"+d.Quotas[i].ID)
	}
	d.Chosen = nil
	for _, v := range f["interviewer"] {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			d.Chosen = append(d.Chosen, survey.UserID(id))
		}
	}
}

var clock = regexp.MustCompile(`^([01][0-9]|2[0-4]):([0-5][0-9])$`)

// parseClock reads HH:MM as minutes after midnight (24:00 allowed).
func parseClock(s string) (int, bool) {
	m := clock.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, false
	}
	h, _ := strconv.Atoi(m[1])
	mm, _ := strconv.Atoi(m[2])
	if h == 24 && mm != 0 {
		return 0, false
	}
	return h*60 + mm, true
}

// parseCampaignForm reads and checks the new-campaign form; problems are
// listed together.
func (s *Server) parseCampaignForm(r *http.Request) (survey.Campaign, error) {
	f := r.PostForm
	var problems []string
	c := survey.Campaign{Name: strings.TrimSpace(f.Get("name")), Questionnaire: f.Get("questionnaire"), Mode: survey.CampaignCATI, Status: survey.CampaignStatus(f.Get("status"))}
	switch f.Get("kind") {
	case "", "cati":
	case "ivr":
		c.Mode = survey.CampaignIVR
	default:
		problems = append(problems, "who asks the questions: pick interviewers (cati) or the keypad (ivr)")
	}
	mode := survey.ModeCATI
	if c.Mode == survey.CampaignIVR {
		mode = survey.ModeIVR
	}
	if c.Name == "" || len(c.Name) > 100 {
		problems = append(problems, "give the campaign a name of at most 100 characters")
	}
	if c.Status != "draft" && c.Status != "running" {
		problems = append(problems, "status must be draft or running")
	}
	var (
		q   *survey.Questionnaire
		err error
	)
	if c.Questionnaire == "" {
		problems = append(problems, "pick a questionnaire")
	} else if q, err = s.desks.questionnaire(r.Context(), c.Questionnaire, 0); err != nil {
		problems = append(problems, fmt.Sprintf("questionnaire %q: %s", c.Questionnaire, survey.ErrorMessage(err)))
	} else if !q.HasMode(mode) {
		problems = append(problems, fmt.Sprintf("questionnaire %q is not for %s (its modes: %v)", c.Questionnaire, strings.ToUpper(string(mode)), q.Modes))
	}
	st, more := parseSettings(f, q, &c)
	problems = append(problems, more...)
	for _, v := range f["interviewer"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			problems = append(problems, "bad interviewer id")
			continue
		}
		c.Interviewers = append(c.Interviewers, survey.UserID(id))
	}
	if len(problems) > 0 {
		return c, survey.Errorf(survey.EInvalid, "%s", strings.Join(problems, "; "))
	}
	b, err := json.Marshal(st)
	if err != nil {
		return c, err
	}
	c.Settings = b
	return c, nil
}

// parseSettings reads what a campaign's settings form and the new-campaign
// form share — max attempts, calling windows, retry delays, the quota
// targets of q (nil: none read) and e — into c and the settings it returns,
// with every problem found.
func parseSettings(f url.Values, q *survey.Questionnaire, c *survey.Campaign) (survey.CampaignSettings, []string) {
	var problems []string
	c.Windows = nil
	n, err := strconv.Atoi(f.Get("max_attempts"))
	if err != nil || n < 1 || n > 50 {
		problems = append(problems, "max attempts must be a whole number from 1 to 50")
	}
	c.MaxAttempts = n
	for dow := range 7 {
		key := strconv.Itoa(dow)
		if f.Get("day_"+key) == "" {
			continue
		}
		opens, ok1 := parseClock(f.Get("opens_" + key))
		closes, ok2 := parseClock(f.Get("closes_" + key))
		if !ok1 || !ok2 || closes <= opens {
			problems = append(problems, fmt.Sprintf("%s: the calling window must be HH:MM to a later HH:MM", time.Weekday(dow)))
			continue
		}
		c.Windows = append(c.Windows, survey.Window{Dow: dow, Opens: opens, Closes: closes})
	}
	if len(c.Windows) == 0 {
		problems = append(problems, "open at least one calling window")
	}
	st := survey.CampaignSettings{RetrySeconds: map[survey.DispositionCode]int64{}, Quotas: map[string]int{}}
	for _, d := range survey.Dispositions() {
		v := strings.TrimSpace(f.Get("retry_" + string(d.Code)))
		if v == "" {
			continue
		}
		m, err := strconv.ParseInt(v, 10, 64)
		if err != nil || m < 0 || m > 60*24*30 {
			problems = append(problems, fmt.Sprintf("retry delay of %s must be minutes from 0 to 43200", d.Code))
			continue
		}
		if time.Duration(m)*time.Minute != d.RetryAfter {
			st.RetrySeconds[d.Code] = m * 60
		}
	}
	if q != nil {
		for _, qt := range q.Quotas {
			v := strings.TrimSpace(f.Get("quota_" + qt.ID))
			if v == "" {
				continue
			}
			t, err := strconv.Atoi(v)
			if err != nil || t < 0 {
				problems = append(problems, fmt.Sprintf("quota %s: the target must be a whole number", qt.ID))
				continue
			}
			st.Quotas[qt.ID] = t
		}
	}
	st.RecordCalls = f.Get("record_calls") != ""
	st.Dialing, problems = parseDialing(f, c.Mode, problems)
	if v := strings.TrimSpace(f.Get("e")); v != "" {
		e, err := strconv.ParseFloat(v, 64)
		if err != nil || e < 0 || e > 1 {
			problems = append(problems, "e must be a number from 0 to 1, or empty for the proportional default")
		} else {
			st.E = &e
		}
	}
	return st, problems
}

func (s *Server) createCampaign(w http.ResponseWriter, r *http.Request, sess *session) error {
	if r.PostForm.Get("action") == "use" {
		// Another questionnaire picked: the form again, with its quotas and
		// everything entered so far.
		qid := r.PostForm.Get("questionnaire")
		d, err := s.campaignFormData(r, qid)
		if err != nil {
			return err
		}
		d.keep(r.PostForm)
		s.render(w, r, http.StatusOK, "campaign_new", pageData{Title: "New campaign", Session: sess, Data: d,
			Flash: "The quotas of " + qid + " are shown; nothing is created until you click Create campaign."})
		return nil
	}
	c, err := s.parseCampaignForm(r)
	if err == nil {
		var id survey.CampaignID
		if id, err = s.console.Campaigns.CreateCampaign(r.Context(), c, sess.Name); err == nil {
			s.consoleLog(sess.User).Info("campaign created", "campaign", c.Name, "id", id)
			http.Redirect(w, r, fmt.Sprintf("/admin/campaigns/%d", id), http.StatusSeeOther)
			return nil
		}
	}
	if code := survey.ErrorCodeOf(err); code != survey.EInvalid && code != survey.EConflict && code != survey.ENotFound {
		return err
	}
	d, derr := s.campaignFormData(r, c.Questionnaire)
	if derr != nil {
		return derr
	}
	d.keep(r.PostForm)
	msg := survey.ErrorMessage(err)
	if survey.ErrorCodeOf(err) == survey.EConflict {
		msg = fmt.Sprintf("a campaign called %q already exists", c.Name)
	}
	s.render(w, r, http.StatusBadRequest, "campaign_new", pageData{Title: "New campaign", Session: sess, Data: d, Error: msg})
	return nil
}

// campaignPageData is a campaign's admin page.
type campaignPageData struct {
	Campaign     survey.Campaign
	Settings     survey.CampaignSettings
	Windows      string
	Interviewers []survey.User
	Fields       []string         // the questionnaire's contact fields
	Form         campaignFormData // the settings form: as stored, or as a refused form was sent
	ImportToken  string
	Progress     *campaignView
}

func (s *Server) campaignID(r *http.Request) (survey.Campaign, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return survey.Campaign{}, survey.Errorf(survey.ENotFound, "no such campaign")
	}
	return s.console.Campaigns.Campaign(r.Context(), survey.CampaignID(id))
}

func (s *Server) campaignPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := s.campaignID(r)
	if err != nil {
		return err
	}
	d, err := s.campaignPageData(r, c)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "campaign", pageData{Title: "Campaign " + c.Name, Session: sess, Data: d, Script: "import.js",
		Flash: r.URL.Query().Get("done")})
	return nil
}

// campaignPageData is what a campaign's page shows, its settings form
// filled in as stored.
func (s *Server) campaignPageData(r *http.Request, c survey.Campaign) (campaignPageData, error) {
	d := campaignPageData{Campaign: c, Windows: c.Windows.String(), ImportToken: newImportToken()}
	var err error
	if d.Settings, err = c.DecodeSettings(); err != nil {
		return d, err
	}
	users, err := s.console.Campaigns.Users(r.Context())
	if err != nil {
		return d, err
	}
	for _, u := range users {
		if u.Role == survey.RoleInterviewer {
			d.Interviewers = append(d.Interviewers, u)
		}
	}
	q, err := s.desks.questionnaire(r.Context(), c.Questionnaire, 0)
	if err != nil {
		return d, err
	}
	d.Fields = q.Contact
	d.Form = settingsForm(c, q, d.Settings)
	return d, nil
}

// settingsForm is the settings form of campaign c (of questionnaire q, with
// settings st) filled in as stored.
func settingsForm(c survey.Campaign, q *survey.Questionnaire, st survey.CampaignSettings) campaignFormData {
	d := campaignFormData{Values: map[string]string{"max_attempts": strconv.Itoa(c.MaxAttempts)}}
	if st.E != nil {
		d.Values["e"] = strconv.FormatFloat(*st.E, 'f', -1, 64)
	}
	if st.RecordCalls {
		d.Values["record_calls"] = "1"
	}
	dialingForm(d.Values, c.DialMode(st.Dialing), st.Dialing)
	for dow := range 7 {
		day := dayForm{Dow: dow, Name: time.Weekday(dow).String(), Opens: "09:00", Closes: "21:00"}
		for _, w := range c.Windows {
			if w.Dow == dow {
				day.On, day.Opens, day.Closes = true, fmt.Sprintf("%02d:%02d", w.Opens/60, w.Opens%60), fmt.Sprintf("%02d:%02d", w.Closes/60, w.Closes%60)
			}
		}
		d.Days = append(d.Days, day)
	}
	for _, disp := range survey.Dispositions() {
		if disp.Retry == survey.RetrySameNumber && !disp.Final {
			m := int64(disp.RetryAfter / time.Minute)
			if sec, ok := st.RetrySeconds[disp.Code]; ok {
				m = sec / 60
			}
			d.Retries = append(d.Retries, retryForm{Code: disp.Code, Label: disp.Label, Minutes: strconv.FormatInt(m, 10)})
		}
	}
	for _, qt := range q.Quotas {
		t := qt.Target
		if v, ok := st.Quotas[qt.ID]; ok {
			t = v
		}
		d.Quotas = append(d.Quotas, quotaForm{ID: qt.ID, Target: strconv.Itoa(t)})
	}
	return d
}

// campaignSettings saves the settings form; a refused one comes back as it
// was sent, with every problem named, and nothing is changed.
func (s *Server) campaignSettings(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := s.campaignID(r)
	if err != nil {
		return err
	}
	q, err := s.desks.questionnaire(r.Context(), c.Questionnaire, 0)
	if err != nil {
		return err
	}
	edited := c
	st, problems := parseSettings(r.PostForm, q, &edited)
	if old, err := c.DecodeSettings(); err == nil {
		st.FieldLabels = old.FieldLabels       // set by imports, not by the form
		st.Dialing.Slices = old.Dialing.Slices // set in the settings JSON, not by the form
	}
	if len(problems) == 0 {
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		edited.Settings = b
		if err := s.console.Campaigns.UpdateCampaignSettings(r.Context(), edited, sess.Name); err != nil {
			return err
		}
		s.consoleLog(sess.User).Info("campaign settings saved", "campaign", c.Name)
		http.Redirect(w, r, fmt.Sprintf("/admin/campaigns/%d?done=%s", c.ID, urlQuery("Settings saved.")), http.StatusSeeOther)
		return nil
	}
	d, err := s.campaignPageData(r, c)
	if err != nil {
		return err
	}
	d.Form.keep(r.PostForm)
	s.render(w, r, http.StatusBadRequest, "campaign", pageData{Title: "Campaign " + c.Name, Session: sess, Data: d, Script: "import.js",
		Error: "Nothing was saved: " + strings.Join(problems, "; ")})
	return nil
}

func (s *Server) campaignStatus(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := s.campaignID(r)
	if err != nil {
		return err
	}
	status := survey.CampaignStatus(r.PostForm.Get("status"))
	if !slices.Contains([]survey.CampaignStatus{survey.CampaignDraft, survey.CampaignRunning, survey.CampaignPaused, survey.CampaignFinished}, status) {
		return survey.Errorf(survey.EInvalid, "status must be draft, running, paused or finished")
	}
	if err := s.console.Campaigns.SetCampaignStatus(r.Context(), c.ID, status, sess.Name); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/admin/campaigns/%d?done=%s", c.ID, urlQuery("Campaign is "+string(status)+".")), http.StatusSeeOther)
	return nil
}

func (s *Server) campaignInterviewers(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := s.campaignID(r)
	if err != nil {
		return err
	}
	var ids []survey.UserID
	for _, v := range r.PostForm["interviewer"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return survey.Errorf(survey.EInvalid, "bad interviewer id %q", survey.Clip(v, 20))
		}
		ids = append(ids, survey.UserID(id))
	}
	if err := s.console.Campaigns.AssignInterviewers(r.Context(), c.ID, ids, sess.Name); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/admin/campaigns/%d?done=%s", c.ID, urlQuery(fmt.Sprintf("%d interviewers assigned.", len(ids)))), http.StatusSeeOther)
	return nil
}

// importJob is one sample upload being processed, for the progress poll.
type importJob struct {
	mu       sync.Mutex
	State    string `json:"state"` // reading, storing, done, failed
	Rows     int    `json:"rows"`
	Bytes    int64  `json:"bytes"`
	Total    int64  `json:"total"`
	Imported int    `json:"imported"`
	Message  string `json:"message,omitempty"`
	started  time.Time
}

func (j *importJob) set(f func(j *importJob)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	f(j)
}

// imports are this node's recent sample uploads by token.
type imports struct {
	mu   sync.Mutex
	jobs map[string]*importJob
}

func newImports() *imports { return &imports{jobs: map[string]*importJob{}} }

var importToken = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)

func newImportToken() string { return fmt.Sprintf("%x", randomBytes(12)) }

func (im *imports) start(token string, total int64, now time.Time) *importJob {
	im.mu.Lock()
	defer im.mu.Unlock()
	for t, j := range im.jobs {
		if now.Sub(j.started) > time.Hour {
			delete(im.jobs, t)
		}
	}
	j := &importJob{State: "reading", Total: total, started: now}
	im.jobs[token] = j
	return j
}

func (im *imports) get(token string) *importJob {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.jobs[token]
}

// importResult is the result page of a sample upload.
type importResult struct {
	Campaign   survey.Campaign
	Imported   int
	Lines      int
	Errors     []rowError
	Duplicates []rowError
	Truncated  bool
}

// uploadSample imports a sample CSV into the campaign. The page posts the
// form with fetch() and polls importStatus meanwhile; without scripts the
// browser simply waits for the result page.
func (s *Server) uploadSample(w http.ResponseWriter, r *http.Request, sess *session) error {
	c := s.console
	camp, err := s.campaignID(r)
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, c.Options.MaxUploadBytes+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return survey.Errorf(survey.EInvalid, "send the sample as a multipart form")
	}
	// Fields come first (the form puts the file last); the file is read as
	// it streams in.
	form := map[string]string{}
	var rep sampleReport
	var job *importJob
	parsed := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return survey.Errorf(survey.EInvalid, "the file is larger than %d bytes", c.Options.MaxUploadBytes)
			}
			return survey.Errorf(survey.EInvalid, "the upload could not be read: %v", err)
		}
		name := part.FormName()
		if name != "file" {
			b, err := io.ReadAll(io.LimitReader(part, 4<<10))
			if err != nil {
				return survey.Errorf(survey.EInvalid, "the upload could not be read: %v", err)
			}
			if err := checkText("form field name", name); err != nil {
				return err
			}
			if err := checkText(name, string(b)); err != nil {
				return err
			}
			form[name] = string(b)
			continue
		}
		// Everything before the file has arrived: check who sent it.
		if err := checkOrigin(r); err != nil {
			return err
		}
		if subtle.ConstantTimeCompare([]byte(form[csrfField]), []byte(sess.rec.CSRF)) != 1 {
			return survey.Errorf(survey.EForbidden, "the form has expired or did not come from this site; reload the page and try again")
		}
		m := Mapping{Phone: form["col_phone"], TZ: form["col_tz"], Language: form["col_language"], Priority: form["col_priority"],
			More: strings.Split(form["col_more"], ","), Fields: map[string]string{}}
		for k, v := range form {
			if f, ok := strings.CutPrefix(k, "field_"); ok {
				m.Fields[f] = v
			}
		}
		token := form["token"]
		if !importToken.MatchString(token) {
			token = newImportToken()
		}
		job = c.imports.start(token, r.ContentLength, s.now())
		file := bufio.NewReaderSize(part, sampleHeadBytes)
		head, err := file.Peek(sampleHeadBytes)
		if err == nil || errors.Is(err, io.EOF) {
			sameNamed(m, head, err != nil)
			rep, err = parseSample(file, m, c.Options.DefaultRegion, func(rows int, n int64) {
				job.set(func(j *importJob) { j.Rows, j.Bytes = rows, n })
			})
		} else {
			err = fmt.Errorf("read sample: %w", err)
		}
		if err != nil {
			job.set(func(j *importJob) { j.State, j.Message = "failed", survey.ErrorMessage(err) })
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return survey.Errorf(survey.EInvalid, "the file is larger than %d bytes; nothing was imported", c.Options.MaxUploadBytes)
			}
			return err
		}
		refuseNUL(&rep, m)
		parsed = true
		if _, err := io.Copy(io.Discard, part); err != nil {
			return survey.Errorf(survey.EInvalid, "the upload could not be read: %v", err)
		}
	}
	if !parsed {
		return survey.Errorf(survey.EInvalid, "choose a CSV file to import")
	}
	res := importResult{Campaign: camp, Lines: rep.Lines, Errors: rep.Errors, Duplicates: rep.Duplicates, Truncated: rep.Truncated}
	if len(rep.Rows) > 0 {
		job.set(func(j *importJob) { j.State = "storing" })
		n, dups, err := c.Campaigns.ImportSample(r.Context(), camp.ID, rep.Rows, sess.Name)
		if err != nil {
			job.set(func(j *importJob) { j.State, j.Message = "failed", survey.ErrorMessage(err) })
			return err
		}
		res.Imported = n
		if len(rep.Labels) > 0 {
			if err := c.Campaigns.SetFieldLabels(r.Context(), camp.ID, rep.Labels); err != nil {
				return err
			}
		}
		for _, d := range dups {
			res.Duplicates = append(res.Duplicates, rowError{Line: d.Line, Message: d.Phone + " is already in this campaign"})
		}
		sort.Slice(res.Duplicates, func(i, j int) bool { return res.Duplicates[i].Line < res.Duplicates[j].Line })
	}
	job.set(func(j *importJob) { j.State, j.Imported = "done", res.Imported })
	s.consoleLog(sess.User).Info("sample imported", "campaign", camp.Name, "rows", rep.Lines, "imported", res.Imported,
		"errors", len(res.Errors), "duplicates", len(res.Duplicates))
	if wantsJSON(r) {
		s.writeJSON(w, r, http.StatusOK, map[string]any{"imported": res.Imported, "lines": res.Lines, "errors": res.Errors,
			"duplicates": res.Duplicates, "truncated": res.Truncated})
		return nil
	}
	s.render(w, r, http.StatusOK, "import", pageData{Title: "Sample import", Session: sess, Data: res})
	return nil
}

// sampleHeadBytes is how much of a sample file is looked at for its header
// before it is parsed.
const sampleHeadBytes = 64 << 10

// sameNamed maps each contact field left empty to the file's column of the
// same name (case and spaces aside), when the header in head has one; the
// others stay out, as optional. The page cannot know the file's columns
// when it is drawn, so it leaves the fields empty rather than name columns
// the file may lack. whole says head is the whole file; otherwise a header
// that fills head may be cut short and is not used.
func sameNamed(m Mapping, head []byte, whole bool) {
	head = bytes.TrimPrefix(head, []byte(utf8BOM))
	rd := csv.NewReader(bytes.NewReader(head))
	rd.FieldsPerRecord = -1
	header, err := rd.Read()
	if err != nil {
		return // parseSample reports what is wrong with the header
	}
	if end := rd.InputOffset(); !whole && end == int64(len(head)) && head[end-1] != '\n' {
		return
	}
	cols := map[string]string{}
	for _, h := range header {
		h = strings.TrimSpace(h)
		cols[strings.ToLower(h)] = h
	}
	for f, c := range m.Fields {
		if h, ok := cols[strings.ToLower(strings.TrimSpace(f))]; ok && c == "" && h != "" {
			m.Fields[f] = h
		}
	}
}

// refuseNUL moves the rows with a NUL character in a value to be stored to
// the report's errors, naming the line and column: PostgreSQL text cannot
// hold one, and one such value would fail the whole import. (The parser has
// already refused text that is not UTF-8.)
func refuseNUL(rep *sampleReport, m Mapping) {
	fields := slices.Sorted(maps.Keys(m.Fields))
	nulColumn := func(row survey.SampleRow) string {
		switch {
		case strings.IndexByte(row.TZ, 0) >= 0:
			return m.TZ
		case strings.IndexByte(row.Language, 0) >= 0:
			return m.Language
		}
		for _, f := range fields {
			if strings.IndexByte(row.Attrs[f], 0) >= 0 {
				return m.Fields[f]
			}
		}
		return ""
	}
	kept := rep.Rows[:0]
	for _, row := range rep.Rows {
		col := nulColumn(row)
		if col == "" {
			kept = append(kept, row)
			continue
		}
		if len(rep.Errors) >= maxRowErrors {
			rep.Truncated = true
			continue
		}
		rep.Errors = append(rep.Errors, rowError{Line: row.Line,
			Message: fmt.Sprintf("column %q holds a NUL character (byte 0), which cannot be stored; remove it from the file", col)})
	}
	rep.Rows = kept
	sort.SliceStable(rep.Errors, func(i, j int) bool { return rep.Errors[i].Line < rep.Errors[j].Line })
}

// importStatus is the progress of an upload, polled by the page.
func (s *Server) importStatus(w http.ResponseWriter, r *http.Request, sess *session) error {
	j := s.console.imports.get(r.PathValue("id"))
	if j == nil {
		return survey.Errorf(survey.ENotFound, "no such import on this server")
	}
	j.mu.Lock()
	v := map[string]any{"state": j.State, "rows": j.Rows, "bytes": j.Bytes, "total": j.Total, "imported": j.Imported, "message": j.Message}
	j.mu.Unlock()
	s.writeJSON(w, r, http.StatusOK, v)
	return nil
}

// parseDialing reads the dialing fields of a campaign of mode m.
func parseDialing(f url.Values, m survey.CampaignMode, problems []string) (survey.Dialing, []string) {
	var d survey.Dialing
	num := func(key, what string, dst *int) {
		v := strings.TrimSpace(f.Get(key))
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			problems = append(problems, what+" must be a whole number")
			return
		}
		*dst = n
	}
	if m == survey.CampaignCATI {
		d.Mode = survey.DialMode(f.Get("dial_mode"))
		if d.Mode == survey.DialPreview {
			d.Mode = ""
		}
	}
	num("auto_dial_seconds", "auto-dial after", &d.AutoDialSeconds)
	num("max_lines", "most calls up at once", &d.MaxLines)
	num("target_completes", "target completes", &d.TargetCompletes)
	num("ring_seconds", "ring for", &d.RingSeconds)
	if v := strings.TrimSpace(f.Get("calls_per_second")); v != "" {
		cps, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(cps) {
			problems = append(problems, "calls per second must be a number")
		} else {
			d.CallsPerSecond = cps
		}
	}
	d.NoResume = f.Get("no_resume") != ""
	d.AgentKey = strings.TrimSpace(f.Get("agent_key"))
	d.AMD, d.MachineMessage = survey.AMDPolicy(f.Get("amd")), strings.TrimSpace(f.Get("machine_message"))
	d.AbandonMessage = strings.TrimSpace(f.Get("abandon_message"))
	if text := strings.TrimSpace(f.Get("slices")); text != "" {
		ss, err := survey.ParseSlices(text)
		if err != nil {
			problems = append(problems, strings.Split(err.Error(), "\n")...)
		} else if !reflect.DeepEqual(ss, survey.DefaultSlices()) {
			d.Slices = ss
		}
	}
	if v := strings.TrimSpace(f.Get("amd_false_positive")); v != "" {
		fp, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(fp) {
			problems = append(problems, "AMD false positives must be a percentage from 0 to 100")
		} else {
			d.AMDFalsePositive = new(fp / 100)
		}
	}
	if v := strings.TrimSpace(f.Get("abandon_budget")); v != "" {
		b, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(b) {
			problems = append(problems, "abandonment budget must be a percentage from 0 to 3")
		} else {
			d.AbandonBudget = new(b / 100)
		}
	}
	if err := d.Validate(m); err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			problems = append(problems, e)
		}
	}
	return d, problems
}

// dialingForm fills the dialing fields of a settings form.
func dialingForm(v map[string]string, mode survey.DialMode, d survey.Dialing) {
	cps, lines := d.Pace()
	v["dial_mode"] = string(mode)
	v["auto_dial_seconds"] = strconv.Itoa(d.AutoDialSeconds)
	v["calls_per_second"] = strconv.FormatFloat(cps, 'f', -1, 64)
	v["max_lines"] = strconv.Itoa(lines)
	v["target_completes"] = strconv.Itoa(d.TargetCompletes)
	if d.RingSeconds != 0 {
		v["ring_seconds"] = strconv.Itoa(d.RingSeconds)
	}
	if d.NoResume {
		v["no_resume"] = "1"
	}
	v["agent_key"] = d.AgentKey
	if d.AMDFalsePositive != nil {
		v["amd_false_positive"] = strconv.FormatFloat(100**d.AMDFalsePositive, 'f', -1, 64)
	}
	v["amd"], v["machine_message"] = string(d.AMD), d.MachineMessage
	v["abandon_message"] = d.AbandonMessage
	ss := d.Slices
	if len(ss) == 0 {
		ss = survey.DefaultSlices()
	}
	v["slices"] = ss.Text()
	v["abandon_budget"] = strconv.FormatFloat(100*d.Budget(), 'f', -1, 64)
}

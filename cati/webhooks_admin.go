package cati

// The webhooks' admin page: subscriptions listed with their pending and
// dead-lettered deliveries, subscribe, pause or resume, rotate the secret
// (shown once), and each subscription's delivery log with a replay button.

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/canvass/canvass/survey"
)

func (s *Server) webhooksPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	st, err := s.webhookStore()
	if err != nil {
		return err
	}
	ws, err := st.Webhooks(r.Context())
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "webhooks", pageData{Title: "Webhooks", Session: sess, Flash: r.URL.Query().Get("done"),
		Data: map[string]any{"Webhooks": ws, "Events": survey.WebhookEvents}})
	return nil
}

// showSecret renders the list with a secret just made, once.
func (s *Server) showSecret(w http.ResponseWriter, r *http.Request, sess *session, id survey.WebhookID, secret string) error {
	ws, err := s.webhooks.Webhooks(r.Context())
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "webhooks", pageData{Title: "Webhooks", Session: sess,
		Data: map[string]any{"Webhooks": ws, "Events": survey.WebhookEvents, "Secret": secret, "SecretFor": id}})
	return nil
}

func (s *Server) webhookSubscribe(w http.ResponseWriter, r *http.Request, sess *session) error {
	st, err := s.webhookStore()
	if err != nil {
		return err
	}
	hook := survey.Webhook{Name: strings.TrimSpace(r.PostForm.Get("name")), URL: strings.TrimSpace(r.PostForm.Get("url")),
		EventTypes: r.PostForm["event"], Active: true, CreatedBy: sess.Name}
	if err := hook.Validate(); err != nil {
		return err
	}
	if hook.Secret, err = newSecret(); err != nil {
		return err
	}
	created, err := st.CreateWebhook(r.Context(), hook)
	if err != nil {
		return err
	}
	s.consoleLog(sess.User).Info("webhook created", "webhook_id", created.ID, "url", created.URL)
	return s.showSecret(w, r, sess, created.ID, hook.Secret)
}

func (s *Server) webhookChange(w http.ResponseWriter, r *http.Request, sess *session) error {
	st, hook, err := s.requestedWebhook(r)
	if err != nil {
		return err
	}
	id := hook.ID
	secret := ""
	switch r.PathValue("action") {
	case "active":
		hook.Active = r.PostForm.Get("active") == "1"
	case "rotate":
		if secret, err = newSecret(); err != nil {
			return err
		}
	default:
		return survey.Errorf(survey.ENotFound, "no such action")
	}
	if _, err := st.UpdateWebhook(r.Context(), hook, secret, s.webhookOpts.SecretOverlap, s.now()); err != nil {
		return err
	}
	if secret != "" {
		return s.showSecret(w, r, sess, id, secret)
	}
	http.Redirect(w, r, "/admin/webhooks?done="+urlQuery("Subscription "+strconv.FormatInt(int64(id), 10)+" updated."), http.StatusSeeOther)
	return nil
}

func (s *Server) webhookDeliveriesPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	st, hook, err := s.requestedWebhook(r)
	if err != nil {
		return err
	}
	id := hook.ID
	ds, err := st.Deliveries(r.Context(), id, "", 100)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "webhook", pageData{Title: "Webhook " + strconv.FormatInt(int64(id), 10), Session: sess,
		Flash: r.URL.Query().Get("done"), Data: map[string]any{"Webhook": hook, "Deliveries": ds}})
	return nil
}

func (s *Server) webhookReplayPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	id, _, a, err := s.replayRequested(r)
	if err != nil {
		return err
	}
	done := "Replayed: "
	if a.Status != 0 {
		done += "HTTP " + strconv.Itoa(a.Status)
	} else {
		done += a.Error
	}
	http.Redirect(w, r, "/admin/webhooks/"+strconv.FormatInt(int64(id), 10)+"?done="+urlQuery(done), http.StatusSeeOther)
	return nil
}

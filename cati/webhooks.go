package cati

// This file is the webhooks: subscriptions over the API (admins and
// integrators), and the dispatcher that delivers the outbox (sql: the
// event table's trigger queues each event for each subscription in the
// transaction of the change). A delivery is a POST of a versioned JSON
// envelope signed with HMAC-SHA256 over "<timestamp>.<body>"; it is tried
// until the receiver answers 2xx, with exponential backoff and jitter, one
// at a time per subscription in event order, and dead-lettered after
// WebhookOptions.MaxAttempts; every attempt is logged.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/canvass/canvass/survey"
)

// WebhookStore keeps subscriptions and their outbox (sql.DB).
type WebhookStore interface {
	CreateWebhook(ctx context.Context, w survey.Webhook) (survey.Webhook, error)
	Webhook(ctx context.Context, id survey.WebhookID) (survey.Webhook, error)
	Webhooks(ctx context.Context) ([]survey.Webhook, error)
	UpdateWebhook(ctx context.Context, w survey.Webhook, newSecret string, overlap time.Duration, now time.Time) (survey.Webhook, error)
	DeleteWebhook(ctx context.Context, id survey.WebhookID) error
	DueWebhooks(ctx context.Context, now time.Time) ([]survey.WebhookID, error)
	DeliverNext(ctx context.Context, id survey.WebhookID, now time.Time, send func(survey.Delivery) survey.DeliveryAttempt, retry func(int) (time.Duration, bool)) (survey.Delivery, survey.DeliveryAttempt, bool, error)
	Replay(ctx context.Context, hook survey.WebhookID, id int64, now time.Time, send func(survey.Delivery) survey.DeliveryAttempt) (survey.DeliveryAttempt, error)
	Deliveries(ctx context.Context, hook survey.WebhookID, state string, limit int) ([]survey.Delivery, error)
}

// WebhookOptions tune deliveries (configuration `webhooks:`).
type WebhookOptions struct {
	// Timeout bounds one delivery, connection to answer.
	Timeout time.Duration `yaml:"timeout"`
	// MaxAttempts dead-letters a delivery after that many failed tries.
	MaxAttempts int `yaml:"max_attempts"`
	// FirstRetry is the wait after the first failure; it doubles up to
	// MaxRetry, each wait ±20 % (jitter).
	FirstRetry time.Duration `yaml:"first_retry"`
	MaxRetry   time.Duration `yaml:"max_retry"`
	// SecretOverlap is how long the previous secret still signs after a
	// rotation.
	SecretOverlap time.Duration `yaml:"secret_overlap"`
	// AllowPrivate lets deliveries reach loopback, link-local and private
	// addresses (a receiver on this host or the LAN); off, such a URL is
	// refused at every connection, whatever its name resolves to (SSRF).
	AllowPrivate bool `yaml:"allow_private"`
	// Poll is how often the outbox is looked at.
	Poll time.Duration `yaml:"poll"`
}

// DefaultWebhookOptions: 10 s per try, 20 tries (about 2 h 20 min of
// retries) before the dead letter, private addresses refused.
func DefaultWebhookOptions() WebhookOptions {
	return WebhookOptions{Timeout: 10 * time.Second, MaxAttempts: 20, FirstRetry: time.Second, MaxRetry: 10 * time.Minute,
		SecretOverlap: 24 * time.Hour, Poll: 500 * time.Millisecond}
}

// Validate names every bad option.
func (o WebhookOptions) Validate() error {
	var errs []error
	if o.Timeout < 100*time.Millisecond || o.Timeout > time.Minute {
		errs = append(errs, fmt.Errorf("webhooks.timeout: %s must be between 100ms and 1m", o.Timeout))
	}
	if o.MaxAttempts < 1 || o.MaxAttempts > 100 {
		errs = append(errs, fmt.Errorf("webhooks.max_attempts: %d must be between 1 and 100", o.MaxAttempts))
	}
	if o.FirstRetry < 10*time.Millisecond || o.MaxRetry < o.FirstRetry || o.MaxRetry > 24*time.Hour {
		errs = append(errs, fmt.Errorf("webhooks.first_retry %s and max_retry %s: first at least 10ms, max from first to 24h", o.FirstRetry, o.MaxRetry))
	}
	if o.SecretOverlap < 0 || o.SecretOverlap > 30*24*time.Hour {
		errs = append(errs, fmt.Errorf("webhooks.secret_overlap: %s must be between 0 and 720h", o.SecretOverlap))
	}
	if o.Poll < 10*time.Millisecond || o.Poll > time.Minute {
		errs = append(errs, fmt.Errorf("webhooks.poll: %s must be between 10ms and 1m", o.Poll))
	}
	return errors.Join(errs...)
}

// retry is the backoff: FirstRetry doubling to MaxRetry, ±20 %, and the
// dead letter after MaxAttempts.
func (o WebhookOptions) retry(attempts int) (time.Duration, bool) {
	if attempts >= o.MaxAttempts {
		return 0, false
	}
	d := float64(o.FirstRetry) * math.Pow(2, float64(attempts-1))
	d = math.Min(d, float64(o.MaxRetry))
	d *= 0.8 + 0.4*mrand.Float64()
	return time.Duration(d), true
}

// Signature headers and their form.
const (
	HeaderSignature = "Canvass-Signature" // t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">[,v1=…]
	HeaderDelivery  = "Canvass-Delivery"  // the delivery id: the same on every retry of one delivery
	HeaderEvent     = "Canvass-Event"     // the event type
)

// Sign is the signature header of body at t with each secret (the current
// one first; during a rotation also the previous one).
func Sign(body []byte, t time.Time, secrets ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + ts)
	for _, s := range secrets {
		m := hmac.New(sha256.New, []byte(s))
		m.Write([]byte(ts))
		m.Write([]byte{'.'})
		m.Write(body)
		b.WriteString(",v1=" + hex.EncodeToString(m.Sum(nil)))
	}
	return b.String()
}

// VerifySignature checks a signature header against body with secret, and
// that it is at most tolerance old at now (replays are refused), in
// constant time: what a receiver does.
func VerifySignature(header string, body []byte, secret string, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("signature: no timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("signature: too old or from the future (a replay?)")
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	want := m.Sum(nil)
	for _, s := range sigs {
		got, err := hex.DecodeString(s)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("signature: no match")
}

// maxResponse bounds what is read of a receiver's answer.
const maxResponse = 64 << 10

// Dispatcher delivers the webhook outbox. Run it on every node: a
// subscription's deliveries are sent by one node at a time.
type Dispatcher struct {
	store  WebhookStore
	opts   WebhookOptions
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
}

// NewDispatcher returns a dispatcher over store.
func NewDispatcher(store WebhookStore, o WebhookOptions, log *slog.Logger) *Dispatcher {
	return &Dispatcher{store: store, opts: o, client: webhookClient(o), log: log, now: time.Now}
}

// webhookClient is the HTTP client of deliveries: no redirects followed
// (a receiver cannot bounce a delivery elsewhere), and, unless private
// addresses are allowed, no connection to loopback, link-local, private or
// unspecified addresses, checked on the address actually dialed.
func webhookClient(o WebhookOptions) *http.Client {
	dialer := &net.Dialer{Timeout: o.Timeout}
	if !o.AllowPrivate {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			if a := ap.Addr().Unmap(); a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsPrivate() || a.IsUnspecified() || a.IsMulticast() {
				return fmt.Errorf("%s is a loopback, link-local or private address: refused (webhooks.allow_private)", a)
			}
			return nil
		}
	}
	tr := &http.Transport{DialContext: dialer.DialContext, TLSHandshakeTimeout: o.Timeout, ResponseHeaderTimeout: o.Timeout,
		MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute}
	return &http.Client{Transport: tr, Timeout: o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Run delivers until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTicker(d.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		d.Step(ctx)
	}
}

// Step sends each subscription's due deliveries, in order, until none is
// due; it returns how many attempts it made.
func (d *Dispatcher) Step(ctx context.Context) int {
	ids, err := d.store.DueWebhooks(ctx, d.now())
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("webhooks due", "err", err)
		}
		return 0
	}
	n := 0
	for _, id := range ids {
		for ctx.Err() == nil {
			del, a, ok, err := d.store.DeliverNext(ctx, id, d.now(), d.send, d.opts.retry)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Error("webhook delivery", "webhook_id", id, "err", err)
				}
				break
			}
			if !ok {
				break
			}
			n++
			log := d.log.With("webhook_id", id, "delivery", del.ID, "event", del.Kind, "status_code", a.Status)
			if !a.Delivered() {
				log.Warn("webhook delivery failed; retrying later", "attempts", del.Attempts+1, "err", a.Error)
				break // the next waits for this one
			}
			log.Debug("webhook delivered")
		}
	}
	return n
}

// send posts one delivery and says what the receiver answered.
func (d *Dispatcher) send(del survey.Delivery) survey.DeliveryAttempt {
	start := d.now()
	a := survey.DeliveryAttempt{At: start}
	ctx, cancel := context.WithTimeout(context.Background(), d.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, del.URL, bytes.NewReader(del.Payload))
	if err != nil {
		a.Error = err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Canvass-Webhooks/1")
	req.Header.Set(HeaderDelivery, strconv.FormatInt(del.ID, 10))
	req.Header.Set(HeaderEvent, del.Kind)
	req.Header.Set(HeaderSignature, Sign(del.Payload, start, del.Secrets...))
	resp, err := d.client.Do(req)
	a.Duration = time.Since(start)
	a.Millis = a.Duration.Milliseconds()
	if err != nil {
		a.Error = survey.Clip(err.Error(), 500)
		return a
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse)); err != nil && a.Error == "" {
		a.Error = "reading the answer: " + survey.Clip(err.Error(), 200)
	}
	a.Status = resp.StatusCode
	if !a.Delivered() && a.Error == "" {
		a.Error = resp.Status
	}
	return a
}

// Replay sends a delivery again now (the admin page's replay).
func (d *Dispatcher) Replay(ctx context.Context, hook survey.WebhookID, id int64) (survey.DeliveryAttempt, error) {
	return d.store.Replay(ctx, hook, id, d.now(), d.send)
}

// newSecret makes a subscription's signing secret.
func newSecret() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "whsec_" + hex.EncodeToString(b[:]), nil
}

// webhookIn is a subscription as the API takes it.
type webhookIn struct {
	Name         string   `json:"name"`
	URL          string   `json:"url"`
	EventTypes   []string `json:"event_types"`
	Active       *bool    `json:"active"`
	Secret       string   `json:"secret"`
	RotateSecret bool     `json:"rotate_secret"`
}

// webhookOut is a subscription as the API shows it; the secret only when
// it is made or rotated.
type webhookOut struct {
	survey.Webhook
	Secret string `json:"secret,omitempty"`
}

func (s *Server) webhookStore() (WebhookStore, error) {
	if s.webhooks == nil {
		return nil, httpError(http.StatusServiceUnavailable, survey.EInternal, "webhooks are not configured on this server")
	}
	return s.webhooks, nil
}

func webhookID(r *http.Request) (survey.WebhookID, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, survey.Errorf(survey.ENotFound, "no webhook %q", survey.Clip(r.PathValue("id"), 20))
	}
	return survey.WebhookID(id), nil
}

func (s *Server) decodeWebhook(w http.ResponseWriter, r *http.Request) (webhookIn, error) {
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	var in webhookIn
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, survey.Errorf(survey.EInvalid, `the body must be JSON {"name": "crm", "url": "https://…", "event_types": ["alert.raised"], "active": true}: %s`, survey.Clip(err.Error(), 160))
	}
	return in, nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	st, err := s.webhookStore()
	if err != nil {
		return err
	}
	ws, err := st.Webhooks(r.Context())
	if err != nil {
		return err
	}
	if ws == nil {
		ws = []survey.Webhook{}
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"webhooks": ws, "event_types": survey.WebhookEvents})
	return nil
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	st, err := s.webhookStore()
	if err != nil {
		return err
	}
	in, err := s.decodeWebhook(w, r)
	if err != nil {
		return err
	}
	p, _ := r.Context().Value(principalKey{}).(principal)
	hook := survey.Webhook{Name: strings.TrimSpace(in.Name), URL: strings.TrimSpace(in.URL), EventTypes: in.EventTypes, Active: true,
		Secret: in.Secret, CreatedBy: "token:" + p.name}
	if in.Active != nil {
		hook.Active = *in.Active
	}
	if err := hook.Validate(); err != nil {
		return err
	}
	if hook.Secret == "" {
		if hook.Secret, err = newSecret(); err != nil {
			return err
		}
	}
	created, err := st.CreateWebhook(r.Context(), hook)
	if err != nil {
		return err
	}
	s.requestLog(r).Info("webhook created", "webhook_id", created.ID, "url", created.URL, "events", created.EventTypes)
	s.writeJSON(w, r, http.StatusCreated, webhookOut{Webhook: created, Secret: hook.Secret})
	return nil
}

// requestedWebhook is the store and the subscription the path names.
func (s *Server) requestedWebhook(r *http.Request) (WebhookStore, survey.Webhook, error) {
	st, err := s.webhookStore()
	if err != nil {
		return nil, survey.Webhook{}, err
	}
	id, err := webhookID(r)
	if err != nil {
		return nil, survey.Webhook{}, err
	}
	hook, err := st.Webhook(r.Context(), id)
	return st, hook, err
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	_, hook, err := s.requestedWebhook(r)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, hook)
	return nil
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) error {
	st, hook, err := s.requestedWebhook(r)
	if err != nil {
		return err
	}
	id := hook.ID
	in, err := s.decodeWebhook(w, r)
	if err != nil {
		return err
	}
	if in.Name != "" {
		hook.Name = strings.TrimSpace(in.Name)
	}
	if in.URL != "" {
		hook.URL = strings.TrimSpace(in.URL)
	}
	if in.EventTypes != nil {
		hook.EventTypes = in.EventTypes
	}
	if in.Active != nil {
		hook.Active = *in.Active
	}
	secret := ""
	switch {
	case in.Secret != "":
		secret = in.Secret
	case in.RotateSecret:
		if secret, err = newSecret(); err != nil {
			return err
		}
	}
	check := hook
	check.Secret = secret
	if err := check.Validate(); err != nil {
		return err
	}
	updated, err := st.UpdateWebhook(r.Context(), hook, secret, s.webhookOpts.SecretOverlap, s.now())
	if err != nil {
		return err
	}
	s.requestLog(r).Info("webhook updated", "webhook_id", id, "active", updated.Active, "secret_rotated", secret != "")
	s.writeJSON(w, r, http.StatusOK, webhookOut{Webhook: updated, Secret: secret})
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	st, err := s.webhookStore()
	if err != nil {
		return err
	}
	id, err := webhookID(r)
	if err != nil {
		return err
	}
	if err := st.DeleteWebhook(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	st, hook, err := s.requestedWebhook(r)
	if err != nil {
		return err
	}
	id := hook.ID
	state := r.URL.Query().Get("state")
	switch state {
	case "", "pending", "delivered", "dead":
	default:
		return invalidParam("state", "pending, delivered or dead", state)
	}
	ds, err := st.Deliveries(r.Context(), id, state, 100)
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []survey.Delivery{}
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"deliveries": ds})
	return nil
}

// replayRequested sends again the delivery the path names (API and page).
func (s *Server) replayRequested(r *http.Request) (survey.WebhookID, int64, survey.DeliveryAttempt, error) {
	if s.dispatcher == nil {
		return 0, 0, survey.DeliveryAttempt{}, httpError(http.StatusServiceUnavailable, survey.EInternal, "webhooks are not configured on this server")
	}
	id, err := webhookID(r)
	if err != nil {
		return 0, 0, survey.DeliveryAttempt{}, err
	}
	del, err := strconv.ParseInt(r.PathValue("delivery"), 10, 64)
	if err != nil || del <= 0 {
		return 0, 0, survey.DeliveryAttempt{}, survey.Errorf(survey.ENotFound, "no delivery %q", survey.Clip(r.PathValue("delivery"), 20))
	}
	a, err := s.dispatcher.Replay(r.Context(), id, del)
	return id, del, a, err
}

func (s *Server) replayDelivery(w http.ResponseWriter, r *http.Request) error {
	id, del, a, err := s.replayRequested(r)
	if err != nil {
		return err
	}
	s.requestLog(r).Info("webhook delivery replayed", "webhook_id", id, "delivery", del, "status_code", a.Status)
	s.writeJSON(w, r, http.StatusOK, a)
	return nil
}

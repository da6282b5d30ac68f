package survey

// This file is what a webhook subscription is and what it may subscribe
// to: the events Canvass tells receivers about, each delivered as a
// versioned JSON envelope signed with the subscription's secret.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// WebhookID identifies a subscription.
type WebhookID int64

// WebhookEvents are the event types a subscription may ask for.
var WebhookEvents = []string{"interview.completed", "interview.ended", "alert.raised", "alert.closed", "case.finalized", "dial.completed"}

// Webhook is a subscription: where to deliver which events, signed with
// Secret (and PreviousSecret until PreviousUntil, after a rotation).
type Webhook struct {
	ID             WebhookID  `json:"id"`
	Name           string     `json:"name"`
	URL            string     `json:"url"`
	EventTypes     []string   `json:"event_types"`
	Active         bool       `json:"active"`
	Secret         string     `json:"-"`
	PreviousSecret string     `json:"-"`
	PreviousUntil  *time.Time `json:"previous_secret_until,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	CreatedBy      string     `json:"created_by,omitempty"`
	// Pending, Dead count its deliveries waiting and dead-lettered.
	Pending int `json:"pending"`
	Dead    int `json:"dead"`
}

// Validate names every bad field of a subscription.
func (w Webhook) Validate() error {
	var errs []error
	u, err := url.Parse(w.URL)
	switch {
	case err != nil || u.Host == "":
		errs = append(errs, fmt.Errorf("url: %q must be an absolute http(s) URL such as https://crm.example.com/hooks/canvass", Clip(w.URL, 80)))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("url: scheme %q must be http or https", Clip(u.Scheme, 20)))
	case u.User != nil:
		errs = append(errs, errors.New("url: no user:password in the URL; the signature authenticates Canvass"))
	case len(w.URL) > 2000:
		errs = append(errs, errors.New("url: at most 2000 characters"))
	}
	if len(w.EventTypes) == 0 {
		errs = append(errs, fmt.Errorf("event_types: name at least one of %s", strings.Join(WebhookEvents, ", ")))
	}
	for _, t := range w.EventTypes {
		if !slices.Contains(WebhookEvents, t) {
			errs = append(errs, fmt.Errorf("event_types: %q is not one of %s", Clip(t, 40), strings.Join(WebhookEvents, ", ")))
		}
	}
	if len(w.Name) > 200 {
		errs = append(errs, errors.New("name: at most 200 characters"))
	}
	if w.Secret != "" && len(w.Secret) < 16 {
		errs = append(errs, errors.New("secret: at least 16 characters (or leave it out and Canvass makes one)"))
	}
	for i, e := range errs {
		errs[i] = Errorf(EInvalid, "%v", e)
	}
	return errors.Join(errs...)
}

// Delivery is one event on its way to a subscription.
type Delivery struct {
	ID        int64           `json:"id"` // the outbox row: the delivery id receivers see
	Webhook   WebhookID       `json:"webhook_id"`
	Event     int64           `json:"event_id"`
	Kind      string          `json:"type"`
	Payload   json.RawMessage `json:"payload"`
	Attempts  int             `json:"attempts"` // made before this one
	State     string          `json:"state"`    // pending, delivered, dead
	URL       string          `json:"-"`
	Secrets   []string        `json:"-"` // to sign with: the current one first
	CreatedAt time.Time       `json:"created_at"`
	// Log is the attempts made, latest first (in the delivery log).
	Log []DeliveryAttempt `json:"attempts_log,omitempty"`
}

// DeliveryAttempt is one try at a delivery and what the receiver said.
type DeliveryAttempt struct {
	At       time.Time     `json:"at"`
	Status   int           `json:"status_code"` // 0: no HTTP answer
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"-"`
	Millis   int64         `json:"duration_ms"`
	Replay   bool          `json:"replay,omitempty"`
}

// Delivered says whether the receiver took the delivery (2xx).
func (a DeliveryAttempt) Delivered() bool { return a.Status >= 200 && a.Status < 300 }

package main

// The console's phone: the browser leg (ivr/webrtc) and the switchboard
// (ivr/phone) that joins it to calls placed through the SIP endpoint's
// trunk or through Asterisk.

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/config"
	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/asterisk"
	"github.com/canvass/canvass/ivr/phone"
	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/ivr/webrtc"
)

var _ cati.Phones = (*phone.Switchboard)(nil)

// wirePhones gives the console its phone when WebRTC is on and a telephony
// can place the calls; it returns what closes them.
func wirePhones(cfg config.Config, c *cati.Console, sip *sipua.Server, ari *asterisk.Client, log *slog.Logger) (func(), error) {
	none := func() {}
	var (
		dialer     ivr.Dialer
		dialString string
	)
	switch via := cfg.Phone.Via; {
	case via == "off" || cfg.WebRTC.Listen == "":
	case (via == "sip" || via == "auto") && sip != nil:
		dialer = sip
	case (via == "ari" || via == "auto") && ari != nil:
		dialer, dialString = ari, cfg.Phone.ARIDial
	case via == "sip":
		return none, errors.New("phone.via: sip needs the SIP endpoint (sip.addr)")
	case via == "ari":
		return none, errors.New("phone.via: ari needs Asterisk (ari.url)")
	}
	if dialer == nil {
		log.Info("browser phone off: interviewers use another phone and record the outcome")
		return none, nil
	}
	rtc, err := webrtc.New(cfg.WebRTC, log.With("component", "webrtc"))
	if err != nil {
		return none, err
	}
	sb := phone.New(phone.Deps{
		Dialer: dialer,
		Answer: func(ctx context.Context, offer string) (phone.Browser, string, error) {
			p, answer, err := rtc.Answer(ctx, offer)
			if err != nil {
				return nil, "", err
			}
			return p, answer, nil
		},
		RecordingsDir: cfg.Prompts.RecordingsDir,
		Grace:         cfg.Phone.Grace,
		RingTimeout:   cfg.Phone.RingTimeout,
		DialString:    dialString,
		Log:           log.With("component", "phone"),
	})
	c.Phones = sb
	c.Phone.ICEServers = rtc.ICEServers()
	log.Info("browser phone on", "ice", rtc.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := sb.Close(ctx); err != nil {
			log.Warn("close the phones", "err", err)
		}
		if err := rtc.Close(); err != nil {
			log.Warn("close webrtc", "err", err)
		}
	}, nil
}

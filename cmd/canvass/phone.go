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
func wirePhones(cfg config.Config, c *cati.Console, sip *sipua.Server, ari *asterisk.Client, engine *ivr.Engine, log *slog.Logger) (*phone.Switchboard, func(), error) {
	none := func() {}
	var (
		dialer     ivr.Dialer
		dialString string
	)
	via, err := phoneVia(cfg)
	switch {
	case err != nil:
		return nil, none, err
	case via == "sip":
		dialer = sip
	case via == "ari":
		dialer, dialString = ari, cfg.Phone.ARIDial
	default:
		log.Info("browser phone", "state", phoneHint(cfg))
		return nil, none, nil
	}
	rtc, err := webrtc.New(cfg.WebRTC, log.With("component", "webrtc"))
	if err != nil {
		return nil, none, err
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
	c.Keypads = keypads{sb: sb, engine: engine}
	c.Phone.ICEServers = rtc.ICEServers()
	log.Info("browser phone on", "ice", rtc.Addr().String())
	return sb, func() {
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

// phoneVia is the telephony the console's phone places calls through,
// "sip" or "ari", or "" when it is off.
func phoneVia(cfg config.Config) (string, error) {
	trunk := cfg.SIP.Addr != "" && cfg.SIP.Trunk.URI != ""
	switch via := cfg.Phone.Via; {
	case via == "off" || cfg.WebRTC.Listen == "":
		return "", nil
	case (via == "sip" || via == "auto") && trunk:
		return "sip", nil
	case (via == "ari" || via == "auto") && cfg.ARI.Enabled():
		return "ari", nil
	case via == "sip":
		return "", errors.New("phone.via: sip needs the SIP endpoint (sip.addr) and a trunk to dial through (sip.trunk.uri, CANVASS_SIP_TRUNK_URI)")
	case via == "ari":
		return "", errors.New("phone.via: ari needs Asterisk (ari.url)")
	}
	return "", nil
}

// phoneHint says in a line whether the console is a phone, and how to
// make it one.
func phoneHint(cfg config.Config) string {
	via, err := phoneVia(cfg)
	switch {
	case err != nil:
		return err.Error()
	case via == "sip":
		return "on: calls go out through the SIP trunk " + cfg.SIP.Trunk.URI
	case via == "ari":
		return "on: calls go out through Asterisk as " + cfg.Phone.ARIDial
	case cfg.WebRTC.Listen == "" || cfg.Phone.Via == "off":
		return "off (webrtc.listen or phone.via); interviewers use another phone and record the outcome"
	}
	return "off until there is a trunk to dial through (CANVASS_SIP_TRUNK_URI=sip:host:port) or Asterisk; interviewers record what happened on another phone"
}

package phone

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Options configure the console's phone (the `phone:` section).
type Options struct {
	// Via is the telephony that places the interviewers' calls: "sip" (the
	// embedded endpoint, through sip.trunk), "ari" (Asterisk), "off", or
	// "auto": the SIP endpoint when it is on, else Asterisk when configured.
	Via string `yaml:"via"`
	// ARIDial turns a number into an Asterisk dial string for "ari":
	// {number} is replaced, e.g. PJSIP/{number}@trunk.
	ARIDial string `yaml:"ari_dial"`
	// Grace is how long a call waits for its interviewer's browser to come
	// back (a reload, a network blip) before it is hung up.
	Grace time.Duration `yaml:"grace"`
	// RingTimeout gives up on a call not answered in time; 0: the
	// telephony's own (sip.trunk.ring_timeout).
	RingTimeout time.Duration `yaml:"ring_timeout"`
}

// DefaultOptions are the options before any configuration is read.
func DefaultOptions() Options {
	return Options{Via: "auto", ARIDial: "PJSIP/{number}@trunk", Grace: 15 * time.Second}
}

// Validate returns every problem of o at once.
func (o Options) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("phone.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch o.Via {
	case "auto", "sip", "ari", "off":
	default:
		bad("via", "%q is not auto, sip, ari or off", o.Via)
	}
	if o.Via == "ari" && !strings.Contains(o.ARIDial, "{number}") {
		bad("ari_dial", "%q must contain {number}, e.g. PJSIP/{number}@trunk", o.ARIDial)
	}
	if o.Grace < time.Second || o.Grace > 10*time.Minute {
		bad("grace", "%s must be from 1s to 10m", o.Grace)
	}
	if o.RingTimeout != 0 && (o.RingTimeout < 15*time.Second || o.RingTimeout > 5*time.Minute) {
		bad("ring_timeout", "%s must be from 15s (a phone must ring at least that long) to 5m, or 0", o.RingTimeout)
	}
	return errors.Join(errs...)
}

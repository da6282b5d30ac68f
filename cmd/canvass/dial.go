package main

// Both telephony adapters place calls through one dial seam: ivr.Dialer
// returns the answered leg, and ivr.Engine.Survey runs a questionnaire on
// it. The dialer will be wired to them here.

import (
	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/asterisk"
	"github.com/canvass/canvass/ivr/sipua"
)

var (
	_ ivr.Dialer = (*sipua.Server)(nil)
	_ ivr.Dialer = (*asterisk.Client)(nil)
)

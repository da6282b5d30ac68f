package asterisk

// This file decodes the frames of the ARI events WebSocket. The adapter owns
// this read path instead of ari/v5's client/native, which panics on an event
// type it does not know (LIBRARIES.md): each frame is checked here, decoded
// with the library's event types (ari.DecodeEvent) when it is one the
// adapter acts on, and flattened into an event the router can use. What
// cannot be decoded is reported as an error, logged and skipped by the
// reader — never a panic (FuzzDecodeEvent).

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/CyCoreSystems/ari/v5"
)

// errIgnored marks a well-formed event the adapter has no use for.
var errIgnored = errors.New("event not used")

// event is an ARI event reduced to what routing and calls need.
type event struct {
	Type      string
	Channel   string // the channel it concerns: channel.id, a Dial's peer, a playback's or recording's target
	Cause     int    // Q.850 on ChannelDestroyed; see Soft for ChannelHangupRequest
	CauseText string
	Soft      bool   // ChannelHangupRequest: a soft hangup, whose Cause is Asterisk's internal flag (AST_SOFTHANGUP_*), not Q.850
	Digit     rune   // ChannelDtmfReceived
	State     string // channel, playback or recording state; a Dial's dialstatus
	Playback  string // playback id
	Recording string // recording name
	Duration  time.Duration
	Args      []string          // StasisStart
	Caller    string            // StasisStart: caller id number
	Vars      map[string]string // StasisStart: channelvars (ari.conf channelvars)
	Name      string            // ChannelUserevent: eventname
	Created   time.Time         // StasisStart: when Asterisk created the channel (ms precision)
	Sent      time.Time         // StasisStart: when Asterisk raised the event (ms precision)
}

// used reports the event types the adapter acts on.
func used(typ string) bool {
	switch typ {
	case "StasisStart", "StasisEnd", "ChannelDestroyed", "ChannelHangupRequest", "ChannelDtmfReceived",
		"ChannelStateChange", "Dial", "PlaybackStarted", "PlaybackFinished",
		"RecordingStarted", "RecordingFinished", "RecordingFailed", "ChannelUserevent":
		return true
	}
	return false
}

// decodeEvent decodes one WebSocket frame. It returns errIgnored (wrapped,
// with the type) for a well-formed event of a type the adapter does not act
// on, including types newer than ari/v5 knows, and another error for a
// frame that is not an ARI event.
func decodeEvent(data []byte) (event, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return event{}, fmt.Errorf("malformed ARI frame: %w", err)
	}
	if head.Type == "" {
		return event{}, errors.New("malformed ARI frame: no type")
	}
	if !used(head.Type) {
		return event{Type: head.Type}, fmt.Errorf("%s: %w", head.Type, errIgnored)
	}
	v, err := ari.DecodeEvent(data)
	if err != nil {
		return event{Type: head.Type}, fmt.Errorf("malformed ARI %s event: %w", head.Type, err)
	}
	ev := event{Type: head.Type}
	switch e := v.(type) {
	case *ari.StasisStart:
		ev.Channel, ev.Args, ev.Vars = e.Channel.ID, e.Args, e.Channel.ChannelVars
		ev.Sent = time.Time(e.Timestamp)
		if ts := e.Channel.Creationtime; ts != nil {
			ev.Created = time.Unix(ts.Seconds, int64(ts.Nanos))
		}
		if e.Channel.Caller != nil {
			ev.Caller = e.Channel.Caller.Number
		}
	case *ari.StasisEnd:
		ev.Channel = e.Channel.ID
	case *ari.ChannelDestroyed:
		ev.Channel, ev.Cause, ev.CauseText = e.Channel.ID, e.Cause, e.CauseTxt
	case *ari.ChannelHangupRequest:
		ev.Channel, ev.Cause, ev.Soft = e.Channel.ID, e.Cause, e.Soft
	case *ari.ChannelDtmfReceived:
		ev.Channel = e.Channel.ID
		if len(e.Digit) != 1 || !strings.Contains("0123456789*#ABCD", e.Digit) {
			return ev, fmt.Errorf("ChannelDtmfReceived: digit %q: %w", e.Digit, errIgnored)
		}
		ev.Digit = rune(e.Digit[0])
	case *ari.ChannelStateChange:
		ev.Channel, ev.State = e.Channel.ID, e.Channel.State
	case *ari.Dial:
		ev.Channel, ev.State = e.Peer.ID, e.Dialstatus
	case *ari.PlaybackStarted:
		ev.Channel, ev.Playback, ev.State = target(e.Playback.TargetURI), e.Playback.ID, e.Playback.State
	case *ari.PlaybackFinished:
		ev.Channel, ev.Playback, ev.State = target(e.Playback.TargetURI), e.Playback.ID, e.Playback.State
	case *ari.RecordingStarted:
		ev.Channel, ev.Recording, ev.State = target(e.Recording.TargetURI), e.Recording.Name, e.Recording.State
	case *ari.RecordingFinished:
		ev.Channel, ev.Recording, ev.State = target(e.Recording.TargetURI), e.Recording.Name, e.Recording.State
		ev.Duration = time.Duration(e.Recording.Duration)
	case *ari.RecordingFailed:
		ev.Channel, ev.Recording, ev.State = target(e.Recording.TargetURI), e.Recording.Name, e.Recording.State
		ev.CauseText = e.Recording.Cause
	case *ari.ChannelUserevent:
		ev.Channel, ev.Name = e.Channel.ID, e.Eventname
	default:
		return ev, fmt.Errorf("%s decoded as %T: %w", head.Type, v, errIgnored)
	}
	return ev, nil
}

// target returns the channel id of a "channel:<id>" target URI ("" for a
// bridge).
func target(uri string) string {
	id, ok := strings.CutPrefix(uri, "channel:")
	if !ok {
		return ""
	}
	return id
}

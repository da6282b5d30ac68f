package ivr

// This file is the seam between the engine and the telephony adapters
// (ivr/sipua, ivr/asterisk): an adapter provides a call's Media — audio out,
// keys in, recording, hangup — and the engine turns it into a Channel with
// the gather semantics of DESIGN.md §3 (NewCall in call.go).

import (
	"context"
	"time"
)

// Key is one DTMF digit ('0'-'9', '*', '#', 'A'-'D') and when it was
// detected (the end of the tone, or the RFC 4733 end event).
type Key struct {
	Digit rune
	At    time.Time
}

// Playback is a prompt being played.
type Playback interface {
	// Done receives exactly one value: nil when the prompt played to its end
	// or was stopped, or the error that ended it (ErrHangup when the call
	// ended). It is then closed.
	Done() <-chan error
	// Stop ends the playback early (barge-in). Stopping a playback that has
	// already finished is not an error.
	Stop()
}

// Recorder is a voice answer being recorded.
type Recorder interface {
	// Stop ends the recording and stores it; the Recording names it.
	Stop(ctx context.Context) (Recording, error)
}

// Media is one answered call as a telephony adapter provides it.
type Media interface {
	// Play starts playing p and returns at once.
	Play(ctx context.Context, p Prompt) (Playback, error)
	// Keys delivers the caller's keys as they are detected, in order. The
	// channel is never closed; watch Done for the end of the call. The
	// adapter must not drop keys: buffer them until read.
	Keys() <-chan Key
	// StartRecording starts recording what the caller says into a stored
	// recording called name (a file name without extension).
	StartRecording(ctx context.Context, name string) (Recorder, error)
	// Hangup ends the call from our side.
	Hangup(ctx context.Context) error
	// Done is closed when the call has ended, whoever hung up.
	Done() <-chan struct{}
}

// MediaWitness is a Media that can tell whether the caller's side ever sent
// audio. A call that carried none and gave no answer was never an
// interview (a phone whose audio failed, say): the engine keeps it as a
// call, not as a break-off.
type MediaWitness interface {
	ReceivedMedia() bool
}

// EndCauser is a Media that can tell why a call ended when the caller did
// not simply hang up: "rtp_timeout" when the audio stopped and the adapter
// hung up. "" means a plain hangup.
type EndCauser interface {
	EndCause() string
}

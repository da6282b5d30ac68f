package asterisk

// This file is one channel in the Stasis application as the IVR engine sees
// it: an ivr.Media. Events reach a call through a bounded queue drained by
// the call's own goroutine, which only updates state (so it never falls
// behind in practice); keys wait in an unbounded slice until the engine
// reads them, so none is ever dropped. A queue that overflows all the same
// (256 events unread) is logged and ends that call: the engine sees a
// hangup, the channel is hung up, other calls are untouched.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/canvass/canvass/ivr"
)

// queueSize bounds a call's unread events.
const queueSize = 256

// errPlaybackFailed is a prompt Asterisk could not play (PlaybackFinished
// with state "failed": a missing file, or a broken HTTP media fetch).
var errPlaybackFailed = errors.New("Asterisk could not play the media")

// call is an answered (or answering) channel.
type call struct {
	c   *Client
	id  string
	log *slog.Logger

	inbox     chan event
	keys      chan ivr.Key
	stop      chan struct{} // ends loop
	done      chan struct{} // the call has ended
	destroyed chan struct{} // ChannelDestroyed came: the cause is final
	once      struct{ done, stop, abort, destroyed sync.Once }

	mu          sync.Mutex
	playbacks   map[string]*playback
	recorders   map[string]*recorder
	seq         int
	cause       int       // Q.850; 0 until an event carries one
	causeText   string    // its text, or why the call ended without one
	endedAt     time.Time // when hungUp was first called
	hangupAsked bool      // ChannelHangupRequest came: ChannelDestroyed follows
	failure     error     // the first ARI failure; Hangup apologizes first

	legMu sync.Mutex // held while a leg is made
	leg   *leg       // the newest leg (leg.go)
}

var _ ivr.Media = (*call)(nil)

func newCall(c *Client, id string, log *slog.Logger) *call {
	cl := &call{c: c, id: id, log: log, inbox: make(chan event, queueSize), keys: make(chan ivr.Key),
		stop: make(chan struct{}), done: make(chan struct{}), destroyed: make(chan struct{}),
		playbacks: map[string]*playback{}, recorders: map[string]*recorder{}}
	go cl.loop()
	return cl
}

// enqueue hands an event to the call without blocking.
func (cl *call) enqueue(ev event) {
	select {
	case cl.inbox <- ev:
	default:
		cl.once.abort.Do(func() {
			cl.log.Error("call's ARI event queue overflowed; ending the call", "queued", queueSize, "type", ev.Type)
			cl.hungUp(0, "event queue overflow")
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), cl.c.opts.RequestTimeout)
				defer cancel()
				cl.hangupChannel(ctx)
			}()
		})
	}
}

// close ends the call's goroutine.
func (cl *call) close() { cl.once.stop.Do(func() { close(cl.stop) }) }

// loop applies events in order and feeds keys to the engine.
func (cl *call) loop() {
	var pending []ivr.Key
	for {
		var out chan ivr.Key
		var next ivr.Key
		if len(pending) > 0 {
			out, next = cl.keys, pending[0]
		}
		select {
		case ev := <-cl.inbox:
			if ev.Type == "ChannelDtmfReceived" {
				pending = append(pending, ivr.Key{Digit: ev.Digit, At: time.Now()})
				continue
			}
			cl.apply(ev)
		case out <- next:
			pending = pending[1:]
		case <-cl.stop:
			return
		}
	}
}

// apply updates the call's state for one event.
func (cl *call) apply(ev event) {
	switch ev.Type {
	case "PlaybackFinished":
		if pb := cl.takePlayback(ev.Playback); pb != nil {
			if ev.State == "failed" {
				err := fmt.Errorf("%w: %s (playback %s)", errPlaybackFailed, pb.media, pb.id)
				cl.fail(err)
				pb.finish(err)
			} else {
				pb.finish(nil)
			}
		}
	case "RecordingFinished", "RecordingFailed":
		cl.mu.Lock()
		rec := cl.recorders[ev.Recording]
		cl.mu.Unlock()
		if rec != nil {
			var err error
			if ev.Type == "RecordingFailed" {
				err = fmt.Errorf("recording %s failed: %s", ev.Recording, ev.CauseText)
			}
			rec.finish(ev.Duration, err)
		}
	case "ChannelHangupRequest":
		// A soft hangup request's cause is Asterisk's internal flag
		// (AST_SOFTHANGUP_EXPLICIT is 32), not Q.850; a hard one from
		// the channel driver may carry Q.850, or nothing.
		cause := ev.Cause
		if ev.Soft {
			cause = 0
		}
		cl.mu.Lock()
		cl.hangupAsked = true
		cl.mu.Unlock()
		cl.hungUp(cause, "hangup requested")
	case "StasisEnd":
		cl.hungUp(0, "left the application")
	case "ChannelDestroyed":
		// The final word: the Q.850 cause and its text.
		cl.mu.Lock()
		if ev.Cause != 0 {
			cl.cause, cl.causeText = ev.Cause, ev.CauseText
		}
		cause, text := cl.cause, cl.causeText
		cl.mu.Unlock()
		cl.hungUp(cause, text)
		cl.log.Info("channel destroyed", "q850_cause", cause, "cause_text", text)
		cl.once.destroyed.Do(func() { close(cl.destroyed) })
	}
}

// hungUp marks the call ended: Done closes and prompts end with ErrHangup.
// cause is a Q.850 cause, 0 when the event that ended the call carries
// none; text is its text, or why the call ended. A cause already known is
// kept (only ChannelDestroyed overrides it).
func (cl *call) hungUp(cause int, text string) {
	cl.mu.Lock()
	switch {
	case cl.cause == 0 && cause != 0:
		cl.cause, cl.causeText = cause, text
	case cl.cause == 0 && cl.causeText == "":
		cl.causeText = text
	}
	cl.mu.Unlock()
	cl.once.done.Do(func() {
		cl.mu.Lock()
		cl.endedAt = time.Now()
		pbs := cl.playbacks
		cl.playbacks = map[string]*playback{}
		cl.mu.Unlock()
		if cause != 0 {
			cl.log.Info("call ended", "q850_cause", cause, "cause_text", text)
		} else {
			cl.log.Info("call ended; its cause comes with ChannelDestroyed", "why", text)
		}
		close(cl.done)
		for _, pb := range pbs {
			pb.finish(ivr.ErrHangup)
		}
	})
}

// causeWait bounds the wait for ChannelDestroyed once a call has ended:
// it follows StasisEnd within milliseconds.
const causeWait = 2 * time.Second

// awaitCause waits, on a call hung up whose Q.850 cause is not known yet,
// for the ChannelDestroyed that carries it (at most causeWait), so that
// what is logged and reported is the real cause. (A channel sent on in
// the dialplan, or gone while the socket was down, brings none.)
func (cl *call) awaitCause(ctx context.Context) {
	cl.mu.Lock()
	wait := cl.cause == 0 && cl.hangupAsked
	cl.mu.Unlock()
	if !wait {
		return
	}
	t := time.NewTimer(causeWait)
	defer t.Stop()
	select {
	case <-cl.destroyed:
	case <-t.C:
		cl.log.Debug("no ChannelDestroyed after the call ended; its cause stays unknown")
	case <-ctx.Done():
	}
}

func (cl *call) ended() bool {
	select {
	case <-cl.done:
		return true
	default:
		return false
	}
}

// fail notes why the call cannot go on, with a clear log line; the caller
// will hear an apology when the call is hung up.
func (cl *call) fail(err error) {
	cl.mu.Lock()
	first := cl.failure == nil
	if first {
		cl.failure = err
	}
	cl.mu.Unlock()
	if !first {
		return
	}
	if errors.Is(err, errPlaybackFailed) && strings.Contains(err.Error(), "sound:http") {
		cl.log.Error("Asterisk fetched no playable prompt over HTTP; see PromptServer's doc (astcachedir, Asterisk version) or use ari.prompt_mode dir",
			"err", err)
	}
	cl.log.Error("the call cannot go on; the caller will hear an apology and be hung up", "err", err)
}

func (cl *call) failed() bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.failure != nil
}

// Keys delivers the caller's keys in order.
func (cl *call) Keys() <-chan ivr.Key { return cl.keys }

// Done is closed when the call has ended.
func (cl *call) Done() <-chan struct{} { return cl.done }

// answer answers the channel.
func (cl *call) answer(ctx context.Context) error {
	err := cl.c.rest.do(ctx, http.MethodPost, "/channels/"+esc(cl.id)+"/answer", nil, nil, nil)
	if isNotFound(err) {
		cl.hungUp(0, "channel not found")
		return ivr.ErrHangup
	}
	return err
}

// Play starts a prompt.
func (cl *call) Play(ctx context.Context, p ivr.Prompt) (ivr.Playback, error) {
	if cl.ended() {
		return nil, ivr.ErrHangup
	}
	media, err := cl.c.mediaURI(ctx, p)
	if err != nil {
		cl.fail(err)
		return nil, err
	}
	pb, err := cl.play(ctx, media)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return pb, nil
}

// play starts media on the channel. The playback is registered under an id
// of our choosing before the request: PlaybackStarted and even
// PlaybackFinished may arrive before the REST answer.
func (cl *call) play(ctx context.Context, media string) (*playback, error) {
	cl.mu.Lock()
	cl.seq++
	pb := &playback{cl: cl, id: cl.id + "-pb" + strconv.Itoa(cl.seq), media: media, done: make(chan error, 1)}
	cl.playbacks[pb.id] = pb
	cl.mu.Unlock()
	if cl.ended() { // hungUp may have swept the map before we registered
		cl.takePlayback(pb.id)
		return nil, ivr.ErrHangup
	}
	err := cl.c.rest.do(ctx, http.MethodPost, "/channels/"+esc(cl.id)+"/play",
		url.Values{"media": {media}, "playbackId": {pb.id}}, nil, nil)
	if err != nil {
		cl.takePlayback(pb.id)
		if isNotFound(err) {
			cl.hungUp(0, "channel not found")
			return nil, ivr.ErrHangup
		}
		err = fmt.Errorf("play %s: %w", media, err)
		cl.fail(err)
		return nil, err
	}
	return pb, nil
}

func (cl *call) takePlayback(id string) *playback {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	pb := cl.playbacks[id]
	delete(cl.playbacks, id)
	return pb
}

// playback is a prompt playing on the channel.
type playback struct {
	cl    *call
	id    string
	media string
	done  chan error
	once  sync.Once
}

func (pb *playback) finish(err error) {
	pb.once.Do(func() {
		pb.done <- err
		close(pb.done)
	})
}

// Done receives one value when the prompt ends.
func (pb *playback) Done() <-chan error { return pb.done }

// Stop stops the prompt (barge-in). A prompt that ended meanwhile answers
// 404: the normal race, not an error.
func (pb *playback) Stop() {
	cl := pb.cl
	if cl.takePlayback(pb.id) == nil {
		return // already finished
	}
	if cl.ended() {
		pb.finish(ivr.ErrHangup)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cl.c.opts.RequestTimeout)
	defer cancel()
	err := cl.c.rest.do(ctx, http.MethodDelete, "/playbacks/"+esc(pb.id), nil, nil, nil)
	switch {
	case isNotFound(err):
		cl.log.Debug("playback had already ended when stopped", "playback", pb.id)
	case err != nil:
		cl.log.Warn("stop playback", "playback", pb.id, "err", err)
	}
	pb.finish(nil)
}

// stopPlaybacks stops every prompt playing on the call.
func (cl *call) stopPlaybacks() {
	cl.mu.Lock()
	var pbs []*playback
	for _, pb := range cl.playbacks {
		pbs = append(pbs, pb)
	}
	cl.mu.Unlock()
	for _, pb := range pbs {
		pb.Stop()
	}
}

// apologize plays opts.ApologyMedia and waits for it to end (at most 15 s).
func (cl *call) apologize(ctx context.Context) {
	if cl.ended() {
		return
	}
	pb, err := cl.play(ctx, cl.c.opts.ApologyMedia)
	if err != nil {
		cl.log.Warn("cannot play the apology", "err", err)
		return
	}
	t := time.NewTimer(15 * time.Second)
	defer t.Stop()
	select {
	case err := <-pb.Done():
		if err != nil && !errors.Is(err, ivr.ErrHangup) {
			cl.log.Warn("apology did not play", "err", err)
		}
	case <-cl.done:
	case <-ctx.Done():
	case <-t.C:
	}
}

// Hangup ends the call from our side; after an ARI failure the caller first
// hears the apology.
func (cl *call) Hangup(ctx context.Context) error {
	if cl.ended() {
		return nil
	}
	if cl.failed() {
		cl.apologize(ctx)
	}
	// Hang up even when the apology used up ctx.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cl.c.opts.RequestTimeout)
	defer cancel()
	return cl.hangupChannel(hctx)
}

// hangupChannel deletes the channel; one already gone is fine.
func (cl *call) hangupChannel(ctx context.Context) error {
	err := cl.c.rest.do(ctx, http.MethodDelete, "/channels/"+esc(cl.id), url.Values{"reason": {"normal"}}, nil, nil)
	if isNotFound(err) {
		cl.hungUp(0, "channel not found") // gone already: its cause is its own
		return nil
	}
	if err != nil {
		cl.log.Error("cannot hang up the channel", "err", err)
		return fmt.Errorf("hang up %s: %w", cl.id, err)
	}
	cl.hungUp(16, "hung up by canvass")
	return nil
}

// resync looks up the prompts in flight after a reconnect: one that ended
// while the socket was down is finished now.
func (cl *call) resync(ctx context.Context) {
	cl.mu.Lock()
	var pbs []*playback
	for _, pb := range cl.playbacks {
		pbs = append(pbs, pb)
	}
	var recs []*recorder
	for _, r := range cl.recorders {
		recs = append(recs, r)
	}
	cl.mu.Unlock()
	for _, pb := range pbs {
		err := cl.c.rest.do(ctx, http.MethodGet, "/playbacks/"+esc(pb.id), nil, nil, nil)
		if isNotFound(err) {
			cl.log.Info("prompt ended while the events socket was down", "playback", pb.id)
			if cl.takePlayback(pb.id) != nil {
				pb.finish(nil)
			}
		} else if err != nil {
			cl.log.Warn("look up playback after reconnect", "playback", pb.id, "err", err)
		}
	}
	for _, r := range recs {
		err := cl.c.rest.do(ctx, http.MethodGet, "/recordings/live/"+esc(r.name), nil, nil, nil)
		if isNotFound(err) {
			r.finish(0, nil)
		}
	}
}

// StartRecording records the caller into a stored recording called name.
// The engine decides when it ends (Recorder.Stop); Asterisk's own limit is
// only a backstop.
func (cl *call) StartRecording(ctx context.Context, name string) (ivr.Recorder, error) {
	if cl.ended() {
		return nil, ivr.ErrHangup
	}
	rec := &recorder{cl: cl, name: name, fin: make(chan struct{})}
	cl.mu.Lock()
	cl.recorders[name] = rec
	cl.mu.Unlock()
	q := url.Values{"name": {name}, "format": {"wav"}, "ifExists": {"overwrite"}, "beep": {"true"},
		"terminateOn": {"none"}, "maxDurationSeconds": {strconv.Itoa(int(cl.c.opts.MaxRecording / time.Second))}}
	err := cl.c.rest.do(ctx, http.MethodPost, "/channels/"+esc(cl.id)+"/record", q, nil, nil)
	if err != nil {
		cl.mu.Lock()
		delete(cl.recorders, name)
		cl.mu.Unlock()
		if isNotFound(err) {
			cl.hungUp(0, "channel not found")
			return nil, ivr.ErrHangup
		}
		cl.log.Error("cannot start recording; the question is skipped", "recording", name, "err", err)
		return nil, fmt.Errorf("%w: record %s: %v", ivr.ErrCannotRecord, name, err)
	}
	return rec, nil
}

// recorder is a LiveRecording.
type recorder struct {
	cl   *call
	name string
	once sync.Once
	fin  chan struct{}
	dur  time.Duration
	err  error
}

func (r *recorder) finish(d time.Duration, err error) {
	r.once.Do(func() {
		r.dur, r.err = d, err
		close(r.fin)
	})
}

func (r *recorder) finished() bool {
	select {
	case <-r.fin:
		return true
	default:
		return false
	}
}

// Stop ends the recording, fetches the stored audio from Asterisk, writes
// it where Recordings says and then deletes Asterisk's copy. A recording cut
// short by a hangup is kept: Asterisk stores it and it can be fetched after
// StasisEnd.
func (r *recorder) Stop(ctx context.Context) (ivr.Recording, error) {
	cl := r.cl
	defer func() {
		cl.mu.Lock()
		delete(cl.recorders, r.name)
		cl.mu.Unlock()
	}()
	if !r.finished() {
		err := cl.c.rest.do(ctx, http.MethodPost, "/recordings/live/"+esc(r.name)+"/stop", nil, nil, nil)
		if err != nil && !isNotFound(err) {
			cl.log.Warn("stop recording", "recording", r.name, "err", err)
		}
		// RecordingFinished says the file is complete; don't wait forever
		// for an event a dropped socket may have lost.
		t := time.NewTimer(5 * time.Second)
		select {
		case <-r.fin:
		case <-t.C:
			cl.log.Warn("no RecordingFinished; fetching the recording anyway", "recording", r.name)
		case <-ctx.Done():
		}
		t.Stop()
	}
	if r.err != nil {
		cl.log.Error("recording failed; the question is skipped", "recording", r.name, "err", r.err)
		return ivr.Recording{}, fmt.Errorf("%w: %v", ivr.ErrCannotRecord, r.err)
	}
	data, err := cl.c.rest.download(ctx, "/recordings/stored/"+esc(r.name)+"/file")
	if err != nil {
		cl.log.Error("cannot fetch the stored recording; the question is skipped", "recording", r.name, "err", err)
		return ivr.Recording{}, fmt.Errorf("%w: fetch %s: %v", ivr.ErrCannotRecord, r.name, err)
	}
	path, err := cl.c.recordings.RecordingPath(r.name)
	if err == nil {
		err = writeFile(path, data)
	}
	if err != nil {
		cl.log.Error("cannot keep the recording; the question is skipped", "recording", r.name, "err", err)
		return ivr.Recording{}, fmt.Errorf("%w: keep %s: %v", ivr.ErrCannotRecord, r.name, err)
	}
	d, err := wavDuration(data)
	if err != nil {
		cl.log.Warn("recording is not a WAV Canvass can read; using Asterisk's duration", "recording", r.name, "err", err)
		d = r.dur
	}
	if err := cl.c.rest.do(ctx, http.MethodDelete, "/recordings/stored/"+esc(r.name), nil, nil, nil); err != nil && !isNotFound(err) {
		cl.log.Warn("cannot delete Asterisk's copy of the recording", "recording", r.name, "err", err)
	}
	cl.log.Info("recording kept", "recording", r.name, "path", path, "duration", d, "bytes", len(data))
	return ivr.Recording{Name: r.name, Duration: d}, nil
}

// writeFile writes data to path through a temporary file, so a reader never
// sees half a recording.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".rec-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		if rerr := os.Remove(f.Name()); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

package media

// This file is answering-machine detection for the embedded endpoint: an
// energy and word-timing classifier that follows the documented behaviour
// of Asterisk's AMD() application (app_amd), so that a campaign tuned on
// Asterisk keeps its figures here. Each frame is silence when the mean
// absolute amplitude of its samples is below SilenceThreshold, voice
// otherwise. Runs of voice of at least MinimumWordLength that follow
// BetweenWordsSilence of silence are words. Then, frame by frame:
//
//   - the frame that brings the audio heard to TotalAnalysisTime ends the
//     analysis: notsure (TOOLONG);
//   - silence lasting InitialSilence before anyone spoke: machine
//     (INITIALSILENCE), a machine that waits before its greeting;
//   - silence lasting AfterGreetingSilence once someone spoke: human
//     (HUMAN), who said "hello?" and waits for an answer;
//   - one run of voice lasting MaximumWordLength: machine (MAXWORDLENGTH);
//   - MaximumNumberOfWords words: machine (MAXWORDS);
//   - voice adding up to Greeting once someone spoke: machine
//     (LONGGREETING), a recorded greeting goes on where a person stops.
//
// As in app_amd, the audio before the first silence is not counted as a
// word (an answer often starts with a click), and a run of voice shorter
// than MinimumWordLength counts towards Greeting but never starts one.

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// AMDVerdict is what the detection concluded; the values are those of
// ivr.AMDVerdict. "" is no verdict yet.
type AMDVerdict string

// AMD verdicts (app_amd's AMDSTATUS HUMAN, MACHINE, NOTSURE).
const (
	AMDHuman   AMDVerdict = "human"
	AMDMachine AMDVerdict = "machine"
	AMDNotSure AMDVerdict = "notsure"
)

// AMDCause is why the detection concluded: the rule that decided, named as
// app_amd's AMDCAUSE names it.
type AMDCause string

// AMD causes.
const (
	AMDTooLong        AMDCause = "TOOLONG"        // notsure: TotalAnalysisTime reached
	AMDInitialSilence AMDCause = "INITIALSILENCE" // machine: InitialSilence of silence before any voice
	AMDAfterGreeting  AMDCause = "HUMAN"          // human: AfterGreetingSilence of silence after voice
	AMDLongGreeting   AMDCause = "LONGGREETING"   // machine: Greeting of voice in all
	AMDMaxWordLength  AMDCause = "MAXWORDLENGTH"  // machine: one run of voice of MaximumWordLength
	AMDMaxWords       AMDCause = "MAXWORDS"       // machine: MaximumNumberOfWords words
)

// AMDOptions are app_amd's parameters (amd.conf, or the arguments of
// AMD()), with its defaults in DefaultAMDOptions. Durations are of audio
// received, counted in whole samples.
type AMDOptions struct {
	// InitialSilence (initialSilence, 2500 ms) is the longest silence
	// before the greeting; more is a machine.
	InitialSilence time.Duration `yaml:"initial_silence"`
	// Greeting (greeting, 1500 ms) is the longest greeting, voice counted
	// in all; more is a machine.
	Greeting time.Duration `yaml:"greeting"`
	// AfterGreetingSilence (afterGreetingSilence, 800 ms) is the silence
	// after a greeting that makes it a human.
	AfterGreetingSilence time.Duration `yaml:"after_greeting_silence"`
	// TotalAnalysisTime (totalAnalysisTime, 5000 ms) is the most audio the
	// detection listens to; reaching it is notsure.
	TotalAnalysisTime time.Duration `yaml:"total_analysis_time"`
	// MinimumWordLength (minimumWordLength, 100 ms) is the shortest run of
	// voice that is a word.
	MinimumWordLength time.Duration `yaml:"minimum_word_length"`
	// BetweenWordsSilence (betweenWordsSilence, 50 ms) is the shortest
	// silence after a word for the voice that follows to be a new word.
	BetweenWordsSilence time.Duration `yaml:"between_words_silence"`
	// MaximumNumberOfWords (maximumNumberOfWords, 3) is how many words make
	// a machine.
	MaximumNumberOfWords int `yaml:"maximum_number_of_words"`
	// SilenceThreshold (silenceThreshold, 256) is the mean absolute
	// amplitude of 16-bit samples below which a frame is silence.
	SilenceThreshold int `yaml:"silence_threshold"`
	// MaximumWordLength (maximumWordLength, 5000 ms) is the longest run of
	// voice accepted as a word; reaching it is a machine (a tone, music).
	MaximumWordLength time.Duration `yaml:"maximum_word_length"`
}

// DefaultAMDOptions returns app_amd's defaults.
func DefaultAMDOptions() AMDOptions {
	return AMDOptions{
		InitialSilence:       2500 * time.Millisecond,
		Greeting:             1500 * time.Millisecond,
		AfterGreetingSilence: 800 * time.Millisecond,
		TotalAnalysisTime:    5000 * time.Millisecond,
		MinimumWordLength:    100 * time.Millisecond,
		BetweenWordsSilence:  50 * time.Millisecond,
		MaximumNumberOfWords: 3,
		SilenceThreshold:     256,
		MaximumWordLength:    5000 * time.Millisecond,
	}
}

// maxAMDTime bounds every duration: AMD listens to the first seconds of a
// call, and a minute is already far beyond any use.
const maxAMDTime = time.Minute

// Validate returns every problem of o at once, each naming its field and
// its configuration key ("amd.greeting: Greeting is 0s: …").
func (o AMDOptions) Validate() error {
	var errs []error
	for _, d := range []struct {
		key, name string
		v         time.Duration
	}{
		{"initial_silence", "InitialSilence", o.InitialSilence},
		{"greeting", "Greeting", o.Greeting},
		{"after_greeting_silence", "AfterGreetingSilence", o.AfterGreetingSilence},
		{"total_analysis_time", "TotalAnalysisTime", o.TotalAnalysisTime},
		{"minimum_word_length", "MinimumWordLength", o.MinimumWordLength},
		{"between_words_silence", "BetweenWordsSilence", o.BetweenWordsSilence},
		{"maximum_word_length", "MaximumWordLength", o.MaximumWordLength},
	} {
		if d.v < time.Millisecond || d.v > maxAMDTime {
			errs = append(errs, fmt.Errorf("amd.%s: %s is %v: it must be from 1ms to %v", d.key, d.name, d.v, maxAMDTime))
		}
	}
	if o.MaximumNumberOfWords < 1 || o.MaximumNumberOfWords > 1000 {
		errs = append(errs, fmt.Errorf("amd.maximum_number_of_words: MaximumNumberOfWords is %d: it must be from 1 to 1000", o.MaximumNumberOfWords))
	}
	if o.SilenceThreshold < 1 || o.SilenceThreshold > 32767 {
		errs = append(errs, fmt.Errorf("amd.silence_threshold: SilenceThreshold is %d: it must be from 1 to 32767 (a mean absolute amplitude)", o.SilenceThreshold))
	}
	return errors.Join(errs...)
}

// AMDResult is a verdict, why and when it was reached.
type AMDResult struct {
	Verdict AMDVerdict
	Cause   AMDCause
	// After is the audio heard when the verdict was reached.
	After time.Duration
	// Measure is what crossed its limit: the silence (INITIALSILENCE,
	// HUMAN), the voice in all (LONGGREETING), the word (MAXWORDLENGTH) or
	// the audio heard (TOOLONG); 0 for MAXWORDS.
	Measure time.Duration
	// Limit is the parameter crossed (InitialSilence, AfterGreetingSilence,
	// Greeting, MaximumWordLength, TotalAnalysisTime); 0 for MAXWORDS,
	// where Words is MaximumNumberOfWords.
	Limit time.Duration
	// Words is how many words were heard.
	Words int
}

// String is the result as app_amd's AMDCAUSE reads ("MAXWORDS-3-3",
// "HUMAN-800-800", "TOOLONG-5000"), milliseconds for durations.
func (r AMDResult) String() string {
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	switch r.Cause {
	case "":
		return ""
	case AMDTooLong, AMDMaxWordLength:
		return string(r.Cause) + "-" + ms(r.Measure)
	case AMDMaxWords:
		return string(r.Cause) + "-" + strconv.Itoa(r.Words) + "-" + strconv.Itoa(r.Words)
	default:
		return string(r.Cause) + "-" + ms(r.Measure) + "-" + ms(r.Limit)
	}
}

// amdPiece is the longest stretch judged as one frame (20 ms): a longer
// frame is cut, so that packetization does not blur the timing.
const amdPiece = SamplesPerPacket

// AMD classifies the start of an answered call as a human, a machine or
// not sure, from the audio the far end sends. Feed it the received audio
// in order, one frame at a time, until it returns a verdict; it does not
// allocate. It is not safe for concurrent use.
type AMD struct {
	// limits, in samples
	initialSilence, greeting, afterGreeting, total int64
	minWord, betweenWords, maxWord                 int64
	maxWords                                       int
	threshold                                      int64

	heard      int64 // all audio fed
	silence    int64 // the current run of silence
	voice      int64 // all voice heard
	run        int64 // the current run of voice
	words      int
	inWord     bool // the last run of voice was a word (or the audio before the first silence)
	inGreeting bool // a first word was heard
	res        AMDResult
	pcm        [SamplesPerPacket]int16
}

// NewAMD returns a detector with options o, or o's problems.
func NewAMD(o AMDOptions) (*AMD, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	n := func(d time.Duration) int64 { return int64(d) * SampleRate / int64(time.Second) }
	return &AMD{
		initialSilence: n(o.InitialSilence),
		greeting:       n(o.Greeting),
		afterGreeting:  n(o.AfterGreetingSilence),
		total:          n(o.TotalAnalysisTime),
		minWord:        n(o.MinimumWordLength),
		betweenWords:   n(o.BetweenWordsSilence),
		maxWord:        n(o.MaximumWordLength),
		maxWords:       o.MaximumNumberOfWords,
		threshold:      int64(o.SilenceThreshold),
		inWord:         true,
	}, nil
}

// Heard is the audio fed so far, up to the verdict.
func (a *AMD) Heard() time.Duration { return time.Duration(a.heard) * time.Second / SampleRate }

// Result returns the verdict, if there is one yet.
func (a *AMD) Result() (AMDResult, bool) { return a.res, a.res.Verdict != "" }

// Frame feeds one frame of received G.711 audio and returns the verdict
// once there is one. A frame of another codec is ErrFrame and changes
// nothing.
func (a *AMD) Frame(f Frame) (AMDResult, bool, error) {
	if f.Codec != PCMU && f.Codec != PCMA {
		return a.res, a.res.Verdict != "", ErrFrame
	}
	p := f.Payload
	for len(p) > 0 && a.res.Verdict == "" {
		n := min(len(p), len(a.pcm))
		f.Codec.Decode(a.pcm[:n], p[:n])
		a.piece(a.pcm[:n])
		p = p[n:]
	}
	return a.res, a.res.Verdict != "", nil
}

// Write feeds received 8 kHz samples (a frame is 160 of them) and returns
// the verdict once there is one. Once there is one, audio is ignored.
func (a *AMD) Write(samples []int16) (AMDResult, bool) {
	for len(samples) > 0 && a.res.Verdict == "" {
		n := min(len(samples), amdPiece)
		a.piece(samples[:n])
		samples = samples[n:]
	}
	return a.res, a.res.Verdict != ""
}

// piece judges up to 20 ms of audio as one frame.
func (a *AMD) piece(s []int16) {
	n := int64(len(s))
	a.heard += n
	if a.heard >= a.total {
		a.decide(AMDNotSure, AMDTooLong, a.heard, a.total)
		return
	}
	var sum int64
	for _, x := range s {
		v := int64(x)
		if v < 0 {
			v = -v
		}
		sum += v
	}
	if sum < a.threshold*n {
		a.silence += n
		if a.silence >= a.betweenWords {
			a.inWord, a.run = false, 0
		}
		switch {
		case !a.inGreeting && a.silence >= a.initialSilence:
			a.decide(AMDMachine, AMDInitialSilence, a.silence, a.initialSilence)
		case a.inGreeting && a.silence >= a.afterGreeting:
			a.decide(AMDHuman, AMDAfterGreeting, a.silence, a.afterGreeting)
		}
		return
	}
	a.silence = 0
	a.run += n
	a.voice += n
	if a.run >= a.minWord && !a.inWord {
		a.words++
		a.inWord = true
	}
	switch {
	case a.run >= a.maxWord:
		a.decide(AMDMachine, AMDMaxWordLength, a.run, a.maxWord)
	case a.words >= a.maxWords:
		a.decide(AMDMachine, AMDMaxWords, 0, 0)
	case a.inGreeting && a.voice >= a.greeting:
		a.decide(AMDMachine, AMDLongGreeting, a.voice, a.greeting)
	}
	if a.run >= a.minWord {
		a.inGreeting = true
	}
}

func (a *AMD) decide(v AMDVerdict, c AMDCause, measure, limit int64) {
	d := func(n int64) time.Duration { return time.Duration(n) * time.Second / SampleRate }
	a.res = AMDResult{Verdict: v, Cause: c, After: d(a.heard), Measure: d(measure), Limit: d(limit), Words: a.words}
}

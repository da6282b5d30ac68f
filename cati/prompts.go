package cati

// This file is the prompt endpoints: upload a recording of one prompt of a
// questionnaire (a WAV of any common format, converted by the catalog), list
// which of its prompts are recorded, synthesized or missing, and fetch a
// voice answer a caller left.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/canvass/canvass/survey"
)

// Audio is what the server needs from the prompt catalog; cmd/canvass
// adapts *prompts.Catalog to it.
type Audio interface {
	// PutPrompt converts and stores a recording of a prompt. An error whose
	// survey code is EInvalid is the upload's fault and its message says
	// why (not audio, an unsupported encoding, too long).
	PutPrompt(ctx context.Context, questionnaire, prompt, lang string, r io.Reader) (PromptInfo, error)
	// PromptCoverage lists every prompt a keypad call of q may play, and
	// how each will be heard.
	PromptCoverage(q *survey.Questionnaire) []PromptCoverage
	// OpenRecording opens a stored voice answer. An unknown name returns an
	// error wrapping fs.ErrNotExist; an invalid one, an EInvalid error.
	OpenRecording(name string) (*os.File, error)
}

// PromptInfo describes a stored upload: the converted recording's length and
// what the source was.
type PromptInfo struct {
	Duration         time.Duration
	SourceSampleRate int
	SourceChannels   int
	SourceFormat     string // e.g. "PCM 16-bit", "µ-law"
}

// PromptCoverage is how one prompt will be heard.
type PromptCoverage struct {
	Stock    bool   `json:"stock"` // a phrase of the IVR engine, not of the questionnaire
	Prompt   string `json:"prompt"`
	Language string `json:"language"`
	Text     string `json:"text"` // as written, before piping
	// Status is recorded, synthesized, piped (synthesized per call) or
	// missing.
	Status string `json:"status"`
	Cached bool   `json:"cached,omitempty"` // synthesized speech is ready
	Detail string `json:"detail,omitempty"`
}

// maxPromptBytes bounds a prompt upload, apart from http.max_body_bytes: a
// five-minute studio WAV is much bigger than any questionnaire.
const maxPromptBytes = 50 << 20

// wavTypes are the media types a raw WAV upload may have.
var wavTypes = []string{"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"}

func (s *Server) requireAudio() error {
	if s.audio == nil {
		return httpError(http.StatusServiceUnavailable, survey.EInternal, "prompts are not configured on this server")
	}
	return nil
}

// promptUploaded is the answer to an upload.
type promptUploaded struct {
	Questionnaire    string `json:"questionnaire"`
	Prompt           string `json:"prompt"`
	Language         string `json:"language"`
	DurationMS       int64  `json:"duration_ms"`
	SampleRate       int    `json:"sample_rate"` // as stored
	SourceSampleRate int    `json:"source_sample_rate"`
	SourceChannels   int    `json:"source_channels"`
	SourceFormat     string `json:"source_format"`
}

// putPrompt stores the recording of one prompt: 201 with what was stored.
func (s *Server) putPrompt(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r.URL.Query()); err != nil {
		return err
	}
	if err := s.requireAudio(); err != nil {
		return err
	}
	id, lang, prompt := r.PathValue("id"), r.PathValue("lang"), r.PathValue("prompt")
	_, q, err := s.latest(r.Context(), id)
	if err != nil {
		return err
	}
	if err := s.playsPrompt(q, lang, prompt); err != nil {
		return err
	}
	body, err := promptBody(w, r)
	if err != nil {
		return err
	}
	info, err := s.audio.PutPrompt(r.Context(), q.ID, prompt, lang, body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return promptTooLarge()
		}
		if survey.ErrorCodeOf(err) == survey.EInvalid {
			// Not audio, an encoding we cannot read, too long: the upload's
			// fault, and the decoder's message says what to change.
			return &statusError{status: http.StatusUnprocessableEntity, err: survey.Errorf(survey.EInvalid, "%s", survey.ErrorMessage(err))}
		}
		return fmt.Errorf("store prompt %s/%s/%s: %w", q.ID, lang, prompt, err)
	}
	s.requestLog(r).Info("prompt uploaded", "questionnaire", q.ID, "language", lang, "prompt", prompt, "duration", info.Duration)
	w.Header().Set("Location", fmt.Sprintf("/api/v1/questionnaires/%s/prompts", q.ID))
	s.writeJSON(w, r, http.StatusCreated, promptUploaded{
		Questionnaire: q.ID, Prompt: prompt, Language: lang, DurationMS: info.Duration.Milliseconds(), SampleRate: 8000,
		SourceSampleRate: info.SourceSampleRate, SourceChannels: info.SourceChannels, SourceFormat: info.SourceFormat,
	})
	return nil
}

// playsPrompt checks that a keypad call of q may play prompt in lang, so
// that a typo in an upload's path is caught rather than stored unused.
func (s *Server) playsPrompt(q *survey.Questionnaire, lang, prompt string) error {
	if !slices.Contains(q.Languages, lang) {
		return survey.Errorf(survey.ENotFound, "questionnaire %q has no language %q; its languages are %s",
			q.ID, survey.Clip(lang, 16), strings.Join(q.Languages, ", "))
	}
	var ids []string
	for _, c := range s.audio.PromptCoverage(q) {
		if c.Stock || c.Language != lang {
			continue
		}
		if c.Prompt == prompt {
			return nil
		}
		ids = append(ids, c.Prompt)
	}
	if len(ids) == 0 {
		return survey.Errorf(survey.ENotFound, "questionnaire %q is not played by keypad, so it has no prompts", q.ID)
	}
	return survey.Errorf(survey.ENotFound, "questionnaire %q plays no prompt %q; its prompts are %s",
		q.ID, survey.Clip(prompt, 64), strings.Join(ids, ", "))
}

// promptBody returns the uploaded WAV: the file part of a multipart form,
// or the body itself when it says it is a WAV.
func promptBody(w http.ResponseWriter, r *http.Request) (io.Reader, error) {
	if r.ContentLength > maxPromptBytes {
		return nil, promptTooLarge()
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxPromptBytes)
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err == nil && mt == "multipart/form-data":
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, survey.Errorf(survey.EInvalid, "malformed multipart body: %v", err)
		}
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil, survey.Errorf(survey.EInvalid, "the form has no part named file; send the WAV as file (curl -F file=@prompt.wav)")
			}
			if err != nil {
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					return nil, promptTooLarge()
				}
				return nil, survey.Errorf(survey.EInvalid, "malformed multipart body: %v", err)
			}
			if part.FormName() == "file" {
				return part, nil
			}
		}
	case err == nil && slices.Contains(wavTypes, mt):
		return r.Body, nil
	}
	if ct == "" {
		ct = "none"
	}
	return nil, httpError(http.StatusUnsupportedMediaType, survey.EInvalid,
		"Content-Type %s is not accepted; send a WAV file as audio/wav, or as the part named file of multipart/form-data", survey.Clip(ct, 64))
}

func promptTooLarge() error {
	return httpError(http.StatusRequestEntityTooLarge, survey.EInvalid,
		"the upload is larger than %d MiB, the server's limit for prompts; send a shorter recording, or a mono, 8 or 16 kHz one", maxPromptBytes>>20)
}

// promptList is GET /api/v1/questionnaires/{id}/prompts.
type promptList struct {
	Questionnaire string           `json:"questionnaire"`
	Version       int              `json:"version"`
	Summary       map[string]int   `json:"summary"` // prompts by status
	Prompts       []PromptCoverage `json:"prompts"`
}

// listPrompts lists every prompt a keypad call of the latest version may
// play, and how each will be heard.
func (s *Server) listPrompts(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r.URL.Query()); err != nil {
		return err
	}
	if err := s.requireAudio(); err != nil {
		return err
	}
	v, q, err := s.latest(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	l := promptList{Questionnaire: v.ID, Version: v.Version, Summary: map[string]int{}, Prompts: []PromptCoverage{}}
	for _, c := range s.audio.PromptCoverage(q) {
		l.Prompts = append(l.Prompts, c)
		l.Summary[c.Status]++
	}
	s.writeJSON(w, r, http.StatusOK, l)
	return nil
}

// getRecording serves a voice answer as audio/wav (with ranges, for
// players that seek).
func (s *Server) getRecording(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r.URL.Query()); err != nil {
		return err
	}
	if err := s.requireAudio(); err != nil {
		return err
	}
	name := strings.TrimSuffix(r.PathValue("name"), ".wav")
	f, err := s.audio.OpenRecording(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || survey.ErrorCodeOf(err) == survey.EInvalid {
			return survey.Errorf(survey.ENotFound, "no recording %q", survey.Clip(name, 64))
		}
		return fmt.Errorf("open recording %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat recording %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "audio/wav")
	http.ServeContent(w, r, name+".wav", fi.ModTime(), f)
	return nil
}

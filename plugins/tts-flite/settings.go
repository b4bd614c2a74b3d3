package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/parleyhq/parley/sdk"
)

// Setting defaults and limits.
const (
	defaultSpeed            = 1.0
	minSpeed                = 0.25
	maxSpeed                = 4.0
	defaultChunkMS          = 40
	minChunkMS              = 10
	maxChunkMS              = 1000
	defaultMaxSentenceChars = 300
	minMaxSentenceChars     = 40
	maxMaxSentenceChars     = 4000
	defaultSampleRate       = rate16k
	minSampleRate           = 8000
	maxSampleRate           = 48000
	msPerSecond             = 1000
)

// settings are the plugin's own options (Parley's `config` block for it).
type settings struct {
	// Voice is the default voice: slt, kal16, awb, rms or kal.
	Voice string `json:"voice"`
	// Speed is the default speaking rate (1 = normal, 2 = twice as fast).
	Speed float32 `json:"speed"`
	// ChunkMS is the smallest piece of audio flite hands over, in ms of the
	// voice's native audio. Smaller means earlier first audio, more messages.
	ChunkMS int `json:"chunk_ms"`
	// MaxSentenceChars bounds how much text without a sentence end is held
	// back before it is spoken anyway (cut at a comma or a space).
	MaxSentenceChars int `json:"max_sentence_chars"`
}

func defaultSettings() settings {
	return settings{Voice: defaultVoice, Speed: defaultSpeed, ChunkMS: defaultChunkMS, MaxSentenceChars: defaultMaxSentenceChars}
}

// parseSettings decodes raw over the defaults, rejecting unknown fields and
// bad values with an InvalidArgument *sdk.Error naming the field.
func parseSettings(raw json.RawMessage) (settings, error) {
	s := defaultSettings()
	if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && !bytes.Equal(trimmed, []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return settings{}, decodeError(err)
		}
	}
	if _, ok := lookupVoice(s.Voice); !ok {
		return settings{}, sdk.InvalidField("voice", "unknown voice %q (have %s)", s.Voice, strings.Join(voiceNames(), ", "))
	}
	if s.Speed < minSpeed || s.Speed > maxSpeed {
		return settings{}, sdk.InvalidField("speed", "%g is outside [%g, %g]", s.Speed, minSpeed, maxSpeed)
	}
	if s.ChunkMS < minChunkMS || s.ChunkMS > maxChunkMS {
		return settings{}, sdk.InvalidField("chunk_ms", "%d is outside [%d, %d]", s.ChunkMS, minChunkMS, maxChunkMS)
	}
	if s.MaxSentenceChars < minMaxSentenceChars || s.MaxSentenceChars > maxMaxSentenceChars {
		return settings{}, sdk.InvalidField("max_sentence_chars", "%d is outside [%d, %d]", s.MaxSentenceChars, minMaxSentenceChars, maxMaxSentenceChars)
	}
	return s, nil
}

// decodeError turns a JSON decoding error into an InvalidArgument error
// naming the offending field when it can.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		e := sdk.InvalidField(typeErr.Field, "wrong type: want %s", typeErr.Type)
		e.Err = err
		return e
	}
	const unknownPrefix = "json: unknown field "
	if msg := err.Error(); strings.HasPrefix(msg, unknownPrefix) {
		field := strings.Trim(strings.TrimPrefix(msg, unknownPrefix), `"`)
		return sdk.InvalidField(field, "unknown setting")
	}
	e := sdk.InvalidField("settings", "not a JSON object of settings")
	e.Err = fmt.Errorf("decode settings: %w", err)
	return e
}

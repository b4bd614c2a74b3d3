package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/parleyhq/parley/sdk"
)

// Defaults for settings left out of the configuration.
const (
	defaultBaseURL        = "https://api.elevenlabs.io"
	defaultModelID        = "eleven_flash_v2_5"
	defaultAPIKeyEnv      = "ELEVENLABS_API_KEY"
	defaultConnectTimeout = 5 * time.Second
	defaultIdleTimeout    = 10 * time.Second
	// defaultKeepAlive stays under the WebSocket endpoint's 20 s inactivity
	// timeout.
	defaultKeepAlive    = 15 * time.Second
	defaultCloseTimeout = 10 * time.Second
)

// Ranges ElevenLabs accepts for the voice settings.
const (
	minSpeed = 0.7
	maxSpeed = 1.2
)

// The modes: one streaming HTTP request per sentence, or one WebSocket
// (the stream-input endpoint) per stream.
const (
	modeHTTP      = "http"
	modeWebSocket = "websocket"
)

// duration is a time.Duration written as a Go duration string ("750ms").
type duration time.Duration

// UnmarshalJSON parses a duration string.
func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
}

// voiceSettings is ElevenLabs' voice_settings object; unset fields are left
// to the voice's stored defaults.
type voiceSettings struct {
	Stability       *float64 `json:"stability,omitempty"`
	SimilarityBoost *float64 `json:"similarity_boost,omitempty"`
	Style           *float64 `json:"style,omitempty"`
	UseSpeakerBoost *bool    `json:"use_speaker_boost,omitempty"`
	Speed           *float64 `json:"speed,omitempty"`
}

// settings is the plugin's configuration (the `config` object in Parley's
// plugin instance).
type settings struct {
	VoiceID        string         `json:"voice_id"`
	ModelID        string         `json:"model_id"`
	BaseURL        string         `json:"base_url"`
	APIKeyEnv      string         `json:"api_key_env"`
	Mode           string         `json:"mode"`
	VoiceSettings  *voiceSettings `json:"voice_settings"`
	ConnectTimeout duration       `json:"connect_timeout"`
	IdleTimeout    duration       `json:"idle_timeout"`
	// KeepAlive and CloseTimeout apply to the websocket mode only.
	KeepAlive    duration `json:"keepalive_interval"`
	CloseTimeout duration `json:"close_timeout"`
}

// parseSettings decodes and validates raw settings, filling defaults. It
// rejects unknown fields.
func parseSettings(raw json.RawMessage) (settings, error) {
	s := settings{
		ModelID:        defaultModelID,
		BaseURL:        defaultBaseURL,
		APIKeyEnv:      defaultAPIKeyEnv,
		Mode:           modeHTTP,
		ConnectTimeout: duration(defaultConnectTimeout),
		IdleTimeout:    duration(defaultIdleTimeout),
		KeepAlive:      duration(defaultKeepAlive),
		CloseTimeout:   duration(defaultCloseTimeout),
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := decodeStrict(raw, &s); err != nil {
			return settings{}, err
		}
	}
	return s, s.validate()
}

func (s settings) validate() error {
	switch {
	case strings.TrimSpace(s.VoiceID) == "":
		return sdk.InvalidField("voice_id", "is required")
	case strings.TrimSpace(s.ModelID) == "":
		return sdk.InvalidField("model_id", "must not be empty")
	case s.APIKeyEnv == "":
		return sdk.InvalidField("api_key_env", "must not be empty")
	case s.Mode != modeHTTP && s.Mode != modeWebSocket:
		return sdk.InvalidField("mode", "must be %q or %q", modeHTTP, modeWebSocket)
	case s.KeepAlive <= 0:
		return sdk.InvalidField("keepalive_interval", "must be positive")
	case s.CloseTimeout <= 0:
		return sdk.InvalidField("close_timeout", "must be positive")
	case s.ConnectTimeout <= 0:
		return sdk.InvalidField("connect_timeout", "must be positive")
	case s.IdleTimeout <= 0:
		return sdk.InvalidField("idle_timeout", "must be positive")
	}
	u, err := url.Parse(s.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return sdk.InvalidField("base_url", "must be an http or https URL")
	}
	if vs := s.VoiceSettings; vs != nil {
		for name, v := range map[string]*float64{
			"voice_settings.stability":        vs.Stability,
			"voice_settings.similarity_boost": vs.SimilarityBoost,
			"voice_settings.style":            vs.Style,
		} {
			if v != nil && (*v < 0 || *v > 1) {
				return sdk.InvalidField(name, "must be between 0 and 1")
			}
		}
		if vs.Speed != nil && (*vs.Speed < minSpeed || *vs.Speed > maxSpeed) {
			return sdk.InvalidField("voice_settings.speed", "must be between %.1f and %.1f", minSpeed, maxSpeed)
		}
	}
	return nil
}

// decodeStrict decodes JSON into v, rejecting unknown fields, and turns
// decoding errors into InvalidArgument errors naming the field.
func decodeStrict(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return sdk.InvalidField(typeErr.Field, "must be a %s", typeErr.Type)
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return sdk.InvalidField(strings.Trim(field, `"`), "unknown setting")
	}
	e := sdk.Errorf(sdk.CodeInvalidArgument, "settings: %s", err.Error())
	e.Err = err
	return e
}

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
	defaultBaseURL        = "https://api.openai.com/v1"
	defaultModel          = "gpt-4o-mini-tts"
	defaultVoice          = "alloy"
	defaultAPIKeyEnv      = "OPENAI_API_KEY"
	defaultConnectTimeout = 5 * time.Second
	defaultIdleTimeout    = 15 * time.Second
)

// openAIHost is the host for which an API key is required; other
// (OpenAI-compatible, often local) servers may need none.
const openAIHost = "api.openai.com"

// The speed range /audio/speech accepts.
const (
	minSpeed = 0.25
	maxSpeed = 4.0
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

// settings is the plugin's configuration (the `config` object in Parley's
// plugin instance).
type settings struct {
	Model     string `json:"model"`
	Voice     string `json:"voice"`
	BaseURL   string `json:"base_url"`
	APIKeyEnv string `json:"api_key_env"`
	// Speed is the default speaking rate (0.25–4.0); 0 leaves it to the
	// server.
	Speed float64 `json:"speed"`
	// Instructions steer the voice (gpt-4o-mini-tts only); empty sends none.
	Instructions   string   `json:"instructions"`
	ConnectTimeout duration `json:"connect_timeout"`
	IdleTimeout    duration `json:"idle_timeout"`
}

// parseSettings decodes and validates raw settings, filling defaults. It
// rejects unknown fields.
func parseSettings(raw json.RawMessage) (settings, error) {
	s := settings{
		Model:          defaultModel,
		Voice:          defaultVoice,
		BaseURL:        defaultBaseURL,
		APIKeyEnv:      defaultAPIKeyEnv,
		ConnectTimeout: duration(defaultConnectTimeout),
		IdleTimeout:    duration(defaultIdleTimeout),
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
	case strings.TrimSpace(s.Model) == "":
		return sdk.InvalidField("model", "must not be empty")
	case strings.TrimSpace(s.Voice) == "":
		return sdk.InvalidField("voice", "must not be empty")
	case s.APIKeyEnv == "":
		return sdk.InvalidField("api_key_env", "must not be empty")
	case s.Speed != 0 && (s.Speed < minSpeed || s.Speed > maxSpeed):
		return sdk.InvalidField("speed", "must be between %.2f and %.1f", minSpeed, maxSpeed)
	case s.ConnectTimeout <= 0:
		return sdk.InvalidField("connect_timeout", "must be positive")
	case s.IdleTimeout <= 0:
		return sdk.InvalidField("idle_timeout", "must be positive")
	}
	u, err := url.Parse(s.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return sdk.InvalidField("base_url", "must be an http or https URL")
	}
	return nil
}

// keyRequired reports whether base_url is OpenAI's own API.
func (s settings) keyRequired() bool {
	u, err := url.Parse(s.BaseURL)
	return err == nil && strings.EqualFold(u.Hostname(), openAIHost)
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

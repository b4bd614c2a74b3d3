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
	defaultBaseURL           = "wss://api.deepgram.com"
	defaultModel             = "nova-3"
	defaultLanguage          = "en"
	defaultAPIKeyEnv         = "DEEPGRAM_API_KEY"
	defaultEndpointingMS     = 300
	defaultKeepAliveInterval = 4 * time.Second
	defaultConnectTimeout    = 10 * time.Second
	defaultCloseTimeout      = 10 * time.Second
)

// maxKeepAliveInterval keeps keep-alives inside Deepgram's 10 s window
// (NET-0001 closes a connection that received nothing for 10 s).
const maxKeepAliveInterval = 9 * time.Second

// duration is a time.Duration written as a Go duration string ("4s").
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
	Language  string `json:"language"`
	BaseURL   string `json:"base_url"`
	APIKeyEnv string `json:"api_key_env"`
	// EndpointingMS is the silence (ms) after which Deepgram sets
	// speech_final; 0 disables endpointing (endpointing=false).
	EndpointingMS int `json:"endpointing_ms"`
	// UtteranceEndMS, when set, asks for UtteranceEnd messages after that
	// many ms without words (Deepgram requires interim results for it).
	UtteranceEndMS    int      `json:"utterance_end_ms"`
	SmartFormat       bool     `json:"smart_format"`
	KeepAliveInterval duration `json:"keepalive_interval"`
	ConnectTimeout    duration `json:"connect_timeout"`
	CloseTimeout      duration `json:"close_timeout"`
}

// parseSettings decodes and validates raw settings, filling defaults. It
// rejects unknown fields.
func parseSettings(raw json.RawMessage) (settings, error) {
	s := settings{
		Model:             defaultModel,
		Language:          defaultLanguage,
		BaseURL:           defaultBaseURL,
		APIKeyEnv:         defaultAPIKeyEnv,
		EndpointingMS:     defaultEndpointingMS,
		KeepAliveInterval: duration(defaultKeepAliveInterval),
		ConnectTimeout:    duration(defaultConnectTimeout),
		CloseTimeout:      duration(defaultCloseTimeout),
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
	case s.APIKeyEnv == "":
		return sdk.InvalidField("api_key_env", "must not be empty")
	case s.EndpointingMS < 0:
		return sdk.InvalidField("endpointing_ms", "must not be negative")
	case s.UtteranceEndMS < 0:
		return sdk.InvalidField("utterance_end_ms", "must not be negative")
	case s.KeepAliveInterval <= 0 || time.Duration(s.KeepAliveInterval) > maxKeepAliveInterval:
		return sdk.InvalidField("keepalive_interval", "must be positive and at most %s", maxKeepAliveInterval)
	case s.ConnectTimeout <= 0:
		return sdk.InvalidField("connect_timeout", "must be positive")
	case s.CloseTimeout <= 0:
		return sdk.InvalidField("close_timeout", "must be positive")
	}
	u, err := url.Parse(s.BaseURL)
	if err != nil || u.Host == "" {
		return sdk.InvalidField("base_url", "must be a ws, wss, http or https URL")
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return sdk.InvalidField("base_url", "must be a ws, wss, http or https URL")
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

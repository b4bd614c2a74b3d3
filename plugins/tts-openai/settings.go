package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pluginconfig"
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
	Instructions   string                `json:"instructions"`
	ConnectTimeout pluginconfig.Duration `json:"connect_timeout"`
	IdleTimeout    pluginconfig.Duration `json:"idle_timeout"`
}

// parseSettings decodes and validates raw settings, filling defaults. It
// rejects unknown fields.
func parseSettings(raw json.RawMessage) (settings, error) {
	s := settings{
		Model:          defaultModel,
		Voice:          defaultVoice,
		BaseURL:        defaultBaseURL,
		APIKeyEnv:      defaultAPIKeyEnv,
		ConnectTimeout: pluginconfig.Duration(defaultConnectTimeout),
		IdleTimeout:    pluginconfig.Duration(defaultIdleTimeout),
	}
	if err := pluginconfig.Decode(raw, &s); err != nil {
		return settings{}, err
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
	if _, err := pluginconfig.ParseURL("base_url", s.BaseURL); err != nil {
		return err
	}
	return nil
}

// keyRequired reports whether base_url is OpenAI's own API.
func (s settings) keyRequired() bool {
	u, err := url.Parse(s.BaseURL)
	return err == nil && strings.EqualFold(u.Hostname(), openAIHost)
}

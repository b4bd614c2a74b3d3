package main

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pluginconfig"
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
	UtteranceEndMS    int                   `json:"utterance_end_ms"`
	SmartFormat       bool                  `json:"smart_format"`
	KeepAliveInterval pluginconfig.Duration `json:"keepalive_interval"`
	ConnectTimeout    pluginconfig.Duration `json:"connect_timeout"`
	CloseTimeout      pluginconfig.Duration `json:"close_timeout"`
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
		KeepAliveInterval: pluginconfig.Duration(defaultKeepAliveInterval),
		ConnectTimeout:    pluginconfig.Duration(defaultConnectTimeout),
		CloseTimeout:      pluginconfig.Duration(defaultCloseTimeout),
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
	if _, err := pluginconfig.ParseURL("base_url", s.BaseURL, "ws", "wss", "http", "https"); err != nil {
		return err
	}
	return nil
}

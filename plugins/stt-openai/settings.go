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
	defaultBaseURL             = "https://api.openai.com/v1"
	defaultModel               = "whisper-1"
	defaultAPIKeyEnv           = "OPENAI_API_KEY"
	defaultResponseFormat      = formatJSON
	defaultMaxUtteranceSeconds = 30
	defaultConnectTimeout      = 5 * time.Second
	defaultRequestTimeout      = 30 * time.Second
)

// maxUtteranceSecondsLimit is a gross upper bound for the setting; the
// exact bound, maxUploadBytes for the stream's sample rate, is checked when
// a stream opens.
const maxUtteranceSecondsLimit = 600

// maxUploadBytes is the API's file size limit (25 MB).
const maxUploadBytes = 25_000_000

// The response formats the plugin can parse.
const (
	formatJSON        = "json"
	formatVerboseJSON = "verbose_json"
)

// openAIHost is the host for which an API key is required; other
// (OpenAI-compatible, often local) servers may need none.
const openAIHost = "api.openai.com"

// settings is the plugin's configuration (the `config` object in Parley's
// plugin instance).
type settings struct {
	Model          string `json:"model"`
	Language       string `json:"language"`
	BaseURL        string `json:"base_url"`
	APIKeyEnv      string `json:"api_key_env"`
	ResponseFormat string `json:"response_format"`
	// Prompt is optional context for the model (names, spelling).
	Prompt string `json:"prompt"`
	// MaxUtteranceSeconds bounds the audio buffered for one request; when
	// an utterance grows past it, what was buffered is transcribed at once
	// and a new utterance starts (auto-flush).
	MaxUtteranceSeconds float64               `json:"max_utterance_seconds"`
	ConnectTimeout      pluginconfig.Duration `json:"connect_timeout"`
	RequestTimeout      pluginconfig.Duration `json:"request_timeout"`
}

// parseSettings decodes and validates raw settings, filling defaults. It
// rejects unknown fields.
func parseSettings(raw json.RawMessage) (settings, error) {
	s := settings{
		Model:               defaultModel,
		BaseURL:             defaultBaseURL,
		APIKeyEnv:           defaultAPIKeyEnv,
		ResponseFormat:      defaultResponseFormat,
		MaxUtteranceSeconds: defaultMaxUtteranceSeconds,
		ConnectTimeout:      pluginconfig.Duration(defaultConnectTimeout),
		RequestTimeout:      pluginconfig.Duration(defaultRequestTimeout),
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
	case s.ResponseFormat != formatJSON && s.ResponseFormat != formatVerboseJSON:
		return sdk.InvalidField("response_format", "must be %q or %q", formatJSON, formatVerboseJSON)
	case s.MaxUtteranceSeconds <= 0 || s.MaxUtteranceSeconds > maxUtteranceSecondsLimit:
		return sdk.InvalidField("max_utterance_seconds", "must be positive and at most %d", maxUtteranceSecondsLimit)
	case s.ConnectTimeout <= 0:
		return sdk.InvalidField("connect_timeout", "must be positive")
	case s.RequestTimeout <= 0:
		return sdk.InvalidField("request_timeout", "must be positive")
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

package main

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pluginconfig"
)

// Setting defaults.
const (
	defaultModel            = "claude-sonnet-4-5"
	defaultMaxTokens        = 1024
	defaultBaseURL          = "https://api.anthropic.com"
	defaultAnthropicVersion = "2023-06-01"
	defaultAPIKeyEnv        = "ANTHROPIC_API_KEY"
	defaultRequestTimeout   = 60 * time.Second
	defaultFirstByteTimeout = 15 * time.Second
	defaultIdleTimeout      = 30 * time.Second
)

// Setting bounds.
const (
	maxTemperature = 1.0
	maxMaxTokens   = 1 << 20
)

// Setting names, as they appear in the plugin's config and in errors.
const (
	fieldModel            = "model"
	fieldMaxTokens        = "max_tokens"
	fieldTemperature      = "temperature"
	fieldBaseURL          = "base_url"
	fieldAnthropicVersion = "anthropic_version"
	fieldAPIKeyEnv        = "api_key_env"
	fieldRequestTimeout   = "request_timeout"
	fieldFirstByteTimeout = "first_byte_timeout"
	fieldIdleTimeout      = "idle_timeout"
)

// rawSettings is the JSON shape of the plugin's settings. Durations are Go
// duration strings ("30s", "1m30s").
type rawSettings struct {
	Model            string                `json:"model"`
	MaxTokens        int                   `json:"max_tokens"`
	Temperature      *float32              `json:"temperature"`
	BaseURL          string                `json:"base_url"`
	AnthropicVersion string                `json:"anthropic_version"`
	APIKeyEnv        string                `json:"api_key_env"`
	RequestTimeout   pluginconfig.Duration `json:"request_timeout"`
	FirstByteTimeout pluginconfig.Duration `json:"first_byte_timeout"`
	IdleTimeout      pluginconfig.Duration `json:"idle_timeout"`
}

// config is the validated configuration of one plugin instance.
type config struct {
	model            string
	maxTokens        int
	temperature      *float32
	endpoint         string // {base_url}/v1/messages
	anthropicVersion string
	apiKey           string
	requestTimeout   time.Duration
	firstByteTimeout time.Duration
	idleTimeout      time.Duration
}

// parseSettings decodes and validates settings, reading the API key from
// the environment variable the settings name. Unknown fields and bad values
// return an InvalidArgument *sdk.Error naming the field.
func parseSettings(data json.RawMessage, getenv func(string) string) (config, error) {
	raw := rawSettings{
		Model:            defaultModel,
		MaxTokens:        defaultMaxTokens,
		BaseURL:          defaultBaseURL,
		AnthropicVersion: defaultAnthropicVersion,
		APIKeyEnv:        defaultAPIKeyEnv,
		RequestTimeout:   pluginconfig.Duration(defaultRequestTimeout),
		FirstByteTimeout: pluginconfig.Duration(defaultFirstByteTimeout),
		IdleTimeout:      pluginconfig.Duration(defaultIdleTimeout),
	}
	if err := pluginconfig.Decode(data, &raw); err != nil {
		return config{}, err
	}
	cfg := config{
		model:            strings.TrimSpace(raw.Model),
		maxTokens:        raw.MaxTokens,
		temperature:      raw.Temperature,
		anthropicVersion: strings.TrimSpace(raw.AnthropicVersion),
	}
	if cfg.model == "" {
		return config{}, sdk.InvalidField(fieldModel, "must not be empty")
	}
	if cfg.maxTokens < 1 || cfg.maxTokens > maxMaxTokens {
		return config{}, sdk.InvalidField(fieldMaxTokens, "must be between 1 and %d, got %d", maxMaxTokens, cfg.maxTokens)
	}
	if t := cfg.temperature; t != nil && (*t < 0 || *t > maxTemperature) {
		return config{}, sdk.InvalidField(fieldTemperature, "must be between 0 and %g, got %g", maxTemperature, *t)
	}
	if cfg.anthropicVersion == "" {
		return config{}, sdk.InvalidField(fieldAnthropicVersion, "must not be empty")
	}
	endpoint, err := endpointURL(raw.BaseURL)
	if err != nil {
		return config{}, err
	}
	cfg.endpoint = endpoint
	for _, d := range []struct {
		field string
		value pluginconfig.Duration
		dst   *time.Duration
	}{
		{fieldRequestTimeout, raw.RequestTimeout, &cfg.requestTimeout},
		{fieldFirstByteTimeout, raw.FirstByteTimeout, &cfg.firstByteTimeout},
		{fieldIdleTimeout, raw.IdleTimeout, &cfg.idleTimeout},
	} {
		if d.value <= 0 {
			return config{}, sdk.InvalidField(d.field, "must be a positive duration such as \"30s\", got %q", time.Duration(d.value).String())
		}
		*d.dst = time.Duration(d.value)
	}
	key, err := pluginconfig.APIKey(getenv, fieldAPIKeyEnv, raw.APIKeyEnv, true)
	if err != nil {
		return config{}, err
	}
	cfg.apiKey = key
	return cfg, nil
}

// endpointURL validates base_url and returns the Messages API endpoint.
func endpointURL(base string) (string, error) {
	u, err := pluginconfig.ParseURL(fieldBaseURL, base)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(u.String(), "/") + "/v1/messages", nil
}

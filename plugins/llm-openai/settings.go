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
	defaultModel            = "gpt-4o-mini"
	defaultMaxTokens        = 1024
	defaultBaseURL          = "https://api.openai.com/v1"
	defaultAPIKeyEnv        = "OPENAI_API_KEY"
	defaultMaxTokensField   = maxCompletionTokensField
	defaultIncludeUsage     = true
	defaultRequestTimeout   = 60 * time.Second
	defaultFirstByteTimeout = 15 * time.Second
	defaultIdleTimeout      = 30 * time.Second
)

// openAIHost is the host whose API always needs a key.
const openAIHost = "api.openai.com"

// Names of the request field that bounds the reply length. OpenAI's
// current models want max_completion_tokens; most compatible servers
// (Ollama, vLLM, llama.cpp, LM Studio) know max_tokens.
const (
	maxTokensField           = "max_tokens"
	maxCompletionTokensField = "max_completion_tokens"
)

// Setting bounds.
const (
	maxTemperature = 2.0
	maxMaxTokens   = 1 << 20
)

// Setting names, as they appear in the plugin's config and in errors.
const (
	fieldModel            = "model"
	fieldMaxTokens        = "max_tokens"
	fieldMaxTokensField   = "max_tokens_field"
	fieldTemperature      = "temperature"
	fieldBaseURL          = "base_url"
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
	MaxTokensField   string                `json:"max_tokens_field"`
	Temperature      *float32              `json:"temperature"`
	BaseURL          string                `json:"base_url"`
	APIKeyEnv        *string               `json:"api_key_env"`
	IncludeUsage     bool                  `json:"include_usage"`
	RequestTimeout   pluginconfig.Duration `json:"request_timeout"`
	FirstByteTimeout pluginconfig.Duration `json:"first_byte_timeout"`
	IdleTimeout      pluginconfig.Duration `json:"idle_timeout"`
}

// config is the validated configuration of one plugin instance.
type config struct {
	model            string
	maxTokens        int
	maxTokensField   string
	temperature      *float32
	endpoint         string // {base_url}/chat/completions
	apiKey           string // empty: no Authorization header
	includeUsage     bool
	requestTimeout   time.Duration
	firstByteTimeout time.Duration
	idleTimeout      time.Duration
}

// parseSettings decodes and validates settings and reads the API key from
// the environment variable the settings name. The key is mandatory when
// base_url points at api.openai.com or when api_key_env is set explicitly;
// local servers (Ollama, vLLM, llama.cpp, LM Studio) need none. Unknown
// fields and bad values return an InvalidArgument *sdk.Error naming the field.
func parseSettings(data json.RawMessage, getenv func(string) string) (config, error) {
	raw := rawSettings{
		Model:            defaultModel,
		MaxTokens:        defaultMaxTokens,
		MaxTokensField:   defaultMaxTokensField,
		BaseURL:          defaultBaseURL,
		IncludeUsage:     defaultIncludeUsage,
		RequestTimeout:   pluginconfig.Duration(defaultRequestTimeout),
		FirstByteTimeout: pluginconfig.Duration(defaultFirstByteTimeout),
		IdleTimeout:      pluginconfig.Duration(defaultIdleTimeout),
	}
	if err := pluginconfig.Decode(data, &raw); err != nil {
		return config{}, err
	}
	cfg := config{
		model:          strings.TrimSpace(raw.Model),
		maxTokens:      raw.MaxTokens,
		maxTokensField: raw.MaxTokensField,
		temperature:    raw.Temperature,
		includeUsage:   raw.IncludeUsage,
	}
	if cfg.model == "" {
		return config{}, sdk.InvalidField(fieldModel, "must not be empty")
	}
	if cfg.maxTokens < 1 || cfg.maxTokens > maxMaxTokens {
		return config{}, sdk.InvalidField(fieldMaxTokens, "must be between 1 and %d, got %d", maxMaxTokens, cfg.maxTokens)
	}
	if cfg.maxTokensField != maxTokensField && cfg.maxTokensField != maxCompletionTokensField {
		return config{}, sdk.InvalidField(fieldMaxTokensField, "must be %q or %q, got %q", maxTokensField, maxCompletionTokensField, cfg.maxTokensField)
	}
	if t := cfg.temperature; t != nil && (*t < 0 || *t > maxTemperature) {
		return config{}, sdk.InvalidField(fieldTemperature, "must be between 0 and %g, got %g", maxTemperature, *t)
	}
	endpoint, host, err := endpointURL(raw.BaseURL)
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
	envName := defaultAPIKeyEnv
	required := strings.EqualFold(host, openAIHost)
	if raw.APIKeyEnv != nil {
		envName = *raw.APIKeyEnv
		required = true
		if strings.TrimSpace(envName) == "" {
			return config{}, sdk.InvalidField(fieldAPIKeyEnv, "must name an environment variable (omit it for servers without keys)")
		}
	}
	key, err := pluginconfig.APIKey(getenv, fieldAPIKeyEnv, envName, required)
	if err != nil {
		return config{}, err
	}
	cfg.apiKey = key
	return cfg, nil
}

// endpointURL validates base_url and returns the Chat Completions endpoint
// and the URL's host name.
func endpointURL(base string) (endpoint, host string, err error) {
	u, err := pluginconfig.ParseURL(fieldBaseURL, base)
	if err != nil {
		return "", "", err
	}
	return strings.TrimRight(u.String(), "/") + "/chat/completions", u.Hostname(), nil
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/sdk"
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
	Model            string   `json:"model"`
	MaxTokens        int      `json:"max_tokens"`
	MaxTokensField   string   `json:"max_tokens_field"`
	Temperature      *float32 `json:"temperature"`
	BaseURL          string   `json:"base_url"`
	APIKeyEnv        *string  `json:"api_key_env"`
	IncludeUsage     bool     `json:"include_usage"`
	RequestTimeout   string   `json:"request_timeout"`
	FirstByteTimeout string   `json:"first_byte_timeout"`
	IdleTimeout      string   `json:"idle_timeout"`
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
		RequestTimeout:   defaultRequestTimeout.String(),
		FirstByteTimeout: defaultFirstByteTimeout.String(),
		IdleTimeout:      defaultIdleTimeout.String(),
	}
	if err := decodeStrict(data, &raw); err != nil {
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
		value string
		dst   *time.Duration
	}{
		{fieldRequestTimeout, raw.RequestTimeout, &cfg.requestTimeout},
		{fieldFirstByteTimeout, raw.FirstByteTimeout, &cfg.firstByteTimeout},
		{fieldIdleTimeout, raw.IdleTimeout, &cfg.idleTimeout},
	} {
		v, err := time.ParseDuration(d.value)
		if err != nil || v <= 0 {
			return config{}, sdk.InvalidField(d.field, "must be a positive duration such as \"30s\", got %q", d.value)
		}
		*d.dst = v
	}
	envName := defaultAPIKeyEnv
	required := strings.EqualFold(host, openAIHost)
	if raw.APIKeyEnv != nil {
		envName = strings.TrimSpace(*raw.APIKeyEnv)
		required = true
		if envName == "" {
			return config{}, sdk.InvalidField(fieldAPIKeyEnv, "must name an environment variable (omit it for servers without keys)")
		}
	}
	cfg.apiKey = strings.TrimSpace(getenv(envName))
	if cfg.apiKey == "" && required {
		return config{}, sdk.InvalidField(fieldAPIKeyEnv, "environment variable %s is empty or unset; list it in the plugin instance's env", envName)
	}
	return cfg, nil
}

// endpointURL validates base_url and returns the Chat Completions endpoint
// and the URL's host name.
func endpointURL(base string) (endpoint, host string, err error) {
	u, perr := url.Parse(strings.TrimSpace(base))
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", sdk.InvalidField(fieldBaseURL, "must be an absolute http(s) URL, got %q", base)
	}
	return strings.TrimRight(u.String(), "/") + "/chat/completions", u.Hostname(), nil
}

// decodeStrict decodes a JSON object into dst, rejecting unknown fields,
// trailing data and type mismatches with errors that name the field. Empty
// input and null leave dst unchanged.
func decodeStrict(data json.RawMessage, dst any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return settingsError(err)
	}
	if dec.More() {
		return sdk.InvalidField("settings", "trailing data after the JSON object")
	}
	return nil
}

// settingsError turns a json decoding error into an InvalidArgument error
// naming the offending field when it can be found.
func settingsError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return sdk.InvalidField(typeErr.Field, "must be a JSON %s, got %s", typeErr.Type.Kind(), typeErr.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if unq, uerr := strconv.Unquote(name); uerr == nil {
			name = unq
		}
		e := sdk.InvalidField(name, "unknown setting")
		e.Err = err
		return e
	}
	e := sdk.InvalidField("settings", "not a valid JSON object: %s", err.Error())
	e.Err = fmt.Errorf("decode settings: %w", err)
	return e
}

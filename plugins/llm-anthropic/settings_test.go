package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
)

func TestParseSettingsDefaults(t *testing.T) {
	for _, in := range []string{"", "null", "{}", " { } "} {
		cfg, err := parseSettings(json.RawMessage(in), envMap(map[string]string{defaultAPIKeyEnv: " key "}))
		require.NoError(t, err, "settings %q", in)
		assert.Equal(t, config{
			model:            defaultModel,
			maxTokens:        defaultMaxTokens,
			endpoint:         "https://api.anthropic.com/v1/messages",
			anthropicVersion: defaultAnthropicVersion,
			apiKey:           "key",
			requestTimeout:   defaultRequestTimeout,
			firstByteTimeout: defaultFirstByteTimeout,
			idleTimeout:      defaultIdleTimeout,
		}, cfg)
	}
}

func TestParseSettingsCustom(t *testing.T) {
	cfg, err := parseSettings(json.RawMessage(`{
		"model": "claude-opus-4-1", "max_tokens": 2048, "temperature": 0.7,
		"base_url": "http://127.0.0.1:8080/proxy/", "anthropic_version": "2024-01-01",
		"api_key_env": "MY_KEY", "request_timeout": "2m", "first_byte_timeout": "5s", "idle_timeout": "1s"
	}`), envMap(map[string]string{"MY_KEY": "k2"}))
	require.NoError(t, err)
	require.NotNil(t, cfg.temperature)
	assert.InDelta(t, 0.7, *cfg.temperature, 1e-6)
	assert.Equal(t, "claude-opus-4-1", cfg.model)
	assert.Equal(t, 2048, cfg.maxTokens)
	assert.Equal(t, "http://127.0.0.1:8080/proxy/v1/messages", cfg.endpoint)
	assert.Equal(t, "2024-01-01", cfg.anthropicVersion)
	assert.Equal(t, "k2", cfg.apiKey)
	assert.Equal(t, 2*time.Minute, cfg.requestTimeout)
	assert.Equal(t, 5*time.Second, cfg.firstByteTimeout)
	assert.Equal(t, time.Second, cfg.idleTimeout)
}

func TestParseSettingsRejects(t *testing.T) {
	withKey := envMap(map[string]string{defaultAPIKeyEnv: "key"})
	tests := []struct {
		name   string
		in     string
		getenv func(string) string
		field  string
	}{
		{"unknown field", `{"modle": "claude"}`, withKey, "modle"},
		{"wrong type", `{"max_tokens": "many"}`, withKey, "max_tokens"},
		{"not an object", `[1, 2]`, withKey, "settings"},
		{"trailing data", `{} {}`, withKey, "settings"},
		{"empty model", `{"model": " "}`, withKey, fieldModel},
		{"zero max tokens", `{"max_tokens": 0}`, withKey, fieldMaxTokens},
		{"temperature too high", `{"temperature": 1.5}`, withKey, fieldTemperature},
		{"negative temperature", `{"temperature": -0.1}`, withKey, fieldTemperature},
		{"relative base url", `{"base_url": "api.anthropic.com"}`, withKey, fieldBaseURL},
		{"ftp base url", `{"base_url": "ftp://x"}`, withKey, fieldBaseURL},
		{"empty version", `{"anthropic_version": ""}`, withKey, fieldAnthropicVersion},
		{"bad duration", `{"request_timeout": "soon"}`, withKey, fieldRequestTimeout},
		{"zero duration", `{"first_byte_timeout": "0s"}`, withKey, fieldFirstByteTimeout},
		{"negative duration", `{"idle_timeout": "-1s"}`, withKey, fieldIdleTimeout},
		{"numeric duration", `{"idle_timeout": 5}`, withKey, fieldIdleTimeout},
		{"key missing", `{}`, envMap(nil), fieldAPIKeyEnv},
		{"key blank", `{}`, envMap(map[string]string{defaultAPIKeyEnv: "  "}), fieldAPIKeyEnv},
		{"key in other variable missing", `{"api_key_env": "OTHER"}`, withKey, fieldAPIKeyEnv},
		{"empty env name", `{"api_key_env": ""}`, withKey, fieldAPIKeyEnv},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSettings(json.RawMessage(tc.in), tc.getenv)
			e := sdkError(t, err)
			assert.Equal(t, sdk.CodeInvalidArgument, e.Code)
			assert.Equal(t, tc.field, e.Details["field"], e.Message)
		})
	}
}

func TestSettingsErrorNeverLeaksKey(t *testing.T) {
	_, err := parseSettings(json.RawMessage(`{"api_key_env": "MY_KEY", "modle": "x"}`), envMap(map[string]string{"MY_KEY": "sk-secret"}))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "sk-secret")
}

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
	for _, in := range []string{"", "null", "{}"} {
		cfg, err := parseSettings(json.RawMessage(in), envMap(map[string]string{defaultAPIKeyEnv: "key"}))
		require.NoError(t, err, "settings %q", in)
		assert.Equal(t, config{
			model:            defaultModel,
			maxTokens:        defaultMaxTokens,
			maxTokensField:   maxCompletionTokensField,
			endpoint:         "https://api.openai.com/v1/chat/completions",
			apiKey:           "key",
			includeUsage:     true,
			requestTimeout:   defaultRequestTimeout,
			firstByteTimeout: defaultFirstByteTimeout,
			idleTimeout:      defaultIdleTimeout,
		}, cfg)
	}
}

func TestParseSettingsCustom(t *testing.T) {
	cfg, err := parseSettings(json.RawMessage(`{
		"model": "qwen2.5:7b", "max_tokens": 300, "max_tokens_field": "max_tokens", "temperature": 1.5,
		"base_url": "http://127.0.0.1:11434/v1/", "include_usage": false,
		"request_timeout": "2m", "first_byte_timeout": "5s", "idle_timeout": "1s"
	}`), envMap(nil))
	require.NoError(t, err)
	require.NotNil(t, cfg.temperature)
	assert.InDelta(t, 1.5, *cfg.temperature, 1e-6)
	assert.Equal(t, "qwen2.5:7b", cfg.model)
	assert.Equal(t, 300, cfg.maxTokens)
	assert.Equal(t, maxTokensField, cfg.maxTokensField)
	assert.Equal(t, "http://127.0.0.1:11434/v1/chat/completions", cfg.endpoint)
	assert.Empty(t, cfg.apiKey, "a local server needs no key")
	assert.False(t, cfg.includeUsage)
	assert.Equal(t, 2*time.Minute, cfg.requestTimeout)
	assert.Equal(t, 5*time.Second, cfg.firstByteTimeout)
	assert.Equal(t, time.Second, cfg.idleTimeout)
}

func TestParseSettingsKey(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		env     map[string]string
		wantKey string
		wantErr bool
	}{
		{"local server, no key", `{"base_url": "http://localhost:8000/v1"}`, nil, "", false},
		{"local server, default variable set", `{"base_url": "http://localhost:8000/v1"}`, map[string]string{"OPENAI_API_KEY": "k"}, "k", false},
		{"openai without key", `{}`, nil, "", true},
		{"openai host in other case without key", `{"base_url": "https://API.OPENAI.COM/v1"}`, nil, "", true},
		{"explicit variable required", `{"base_url": "http://localhost:8000/v1", "api_key_env": "VLLM_KEY"}`, nil, "", true},
		{"explicit variable set", `{"base_url": "http://localhost:8000/v1", "api_key_env": "VLLM_KEY"}`, map[string]string{"VLLM_KEY": "v"}, "v", false},
		{"explicit empty name", `{"api_key_env": " "}`, map[string]string{"OPENAI_API_KEY": "k"}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseSettings(json.RawMessage(tc.in), envMap(tc.env))
			if tc.wantErr {
				e := sdkError(t, err)
				assert.Equal(t, sdk.CodeInvalidArgument, e.Code)
				assert.Equal(t, fieldAPIKeyEnv, e.Details["field"])
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantKey, cfg.apiKey)
		})
	}
}

func TestParseSettingsRejects(t *testing.T) {
	withKey := envMap(map[string]string{defaultAPIKeyEnv: "key"})
	tests := []struct {
		name  string
		in    string
		field string
	}{
		{"unknown field", `{"modle": "gpt"}`, "modle"},
		{"wrong type", `{"include_usage": "yes"}`, "include_usage"},
		{"not an object", `"gpt"`, "settings"},
		{"trailing data", `{} x`, "settings"},
		{"empty model", `{"model": ""}`, fieldModel},
		{"negative max tokens", `{"max_tokens": -5}`, fieldMaxTokens},
		{"unknown max tokens field", `{"max_tokens_field": "max_new_tokens"}`, fieldMaxTokensField},
		{"temperature too high", `{"temperature": 2.5}`, fieldTemperature},
		{"relative base url", `{"base_url": "/v1"}`, fieldBaseURL},
		{"bad duration", `{"request_timeout": "1 minute"}`, fieldRequestTimeout},
		{"zero duration", `{"first_byte_timeout": "0"}`, fieldFirstByteTimeout},
		{"numeric duration", `{"idle_timeout": 30}`, fieldIdleTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSettings(json.RawMessage(tc.in), withKey)
			e := sdkError(t, err)
			assert.Equal(t, sdk.CodeInvalidArgument, e.Code)
			assert.Equal(t, tc.field, e.Details["field"], e.Message)
		})
	}
}

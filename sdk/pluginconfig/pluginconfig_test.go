package pluginconfig

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
)

type nested struct {
	Speed *float64 `json:"speed"`
}

type testSettings struct {
	Model   string   `json:"model"`
	Timeout Duration `json:"timeout"`
	Nested  *nested  `json:"nested"`
	Enabled bool     `json:"enabled"`
}

func defaults() testSettings {
	return testSettings{Model: "m", Timeout: Duration(5 * time.Second)}
}

func TestDecodeKeepsDefaults(t *testing.T) {
	for _, in := range []string{"", "  ", "null", " null\n", "{}"} {
		t.Run(in, func(t *testing.T) {
			s := defaults()
			require.NoError(t, Decode(json.RawMessage(in), &s))
			assert.Equal(t, defaults(), s)
		})
	}
}

func TestDecodeValues(t *testing.T) {
	s := defaults()
	require.NoError(t, Decode(json.RawMessage(`{"model":"x","timeout":"1m30s","nested":{"speed":1.5},"enabled":true}`), &s))
	assert.Equal(t, "x", s.Model)
	assert.Equal(t, 90*time.Second, time.Duration(s.Timeout))
	require.NotNil(t, s.Nested)
	assert.InDelta(t, 1.5, *s.Nested.Speed, 1e-9)
	assert.True(t, s.Enabled)
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		field   string
		message string
	}{
		{"unknown field", `{"modle":"x"}`, "modle", "unknown setting"},
		{"unknown empty name", `{"":0}`, FieldSettings, "unknown setting"},
		{"wrong type", `{"enabled":"yes"}`, "enabled", "must be a JSON bool, got string"},
		{"nested wrong type", `{"nested":{"speed":"fast"}}`, "nested.speed", "must be a JSON float64, got string"},
		{"malformed duration", `{"timeout":"1 minute"}`, "timeout", `must be a duration such as "30s", got "1 minute"`},
		{"numeric duration", `{"timeout":30}`, "timeout", "must be a JSON string, got number"},
		{"not an object", `"gpt"`, FieldSettings, "not a valid JSON object"},
		{"broken JSON", `{"model":`, FieldSettings, "not a valid JSON object"},
		{"trailing data", `{} {}`, FieldSettings, "trailing data"},
		{"trailing garbage", `{} x`, FieldSettings, "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := defaults()
			err := Decode(json.RawMessage(tt.in), &s)
			var e *sdk.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, sdk.CodeInvalidArgument, e.Code)
			assert.Equal(t, tt.field, e.Details["field"], e.Message)
			assert.Contains(t, e.Message, tt.message)
		})
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		schemes []string
		want    string
		ok      bool
	}{
		{"https", "https://api.example.com/v1", nil, "https://api.example.com/v1", true},
		{"http with port and spaces", " http://127.0.0.1:8080 ", nil, "http://127.0.0.1:8080", true},
		{"scheme in capitals", "HTTPS://api.example.com", nil, "https://api.example.com", true},
		{"relative", "/v1", nil, "", false},
		{"no scheme", "api.example.com", nil, "", false},
		{"empty", "", nil, "", false},
		{"websocket not allowed by default", "wss://api.example.com", nil, "", false},
		{"websocket allowed", "wss://api.example.com", []string{"ws", "wss", "http", "https"}, "wss://api.example.com", true},
		{"ftp never", "ftp://example.com", []string{"ws", "wss"}, "", false},
		{"unparsable", "http://[::1", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseURL("base_url", tt.raw, tt.schemes...)
			if !tt.ok {
				var e *sdk.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, sdk.CodeInvalidArgument, e.Code)
				assert.Equal(t, "base_url", e.Details["field"])
				assert.Contains(t, e.Message, "must be an absolute")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, u.String())
		})
	}
}

func TestAPIKey(t *testing.T) {
	env := map[string]string{"SET": " key \n", "BLANK": "  "}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name     string
		envName  string
		required bool
		want     string
		message  string // empty: no error
	}{
		{"set and trimmed", "SET", true, "key", ""},
		{"name trimmed", " SET ", true, "key", ""},
		{"optional and unset", "UNSET", false, "", ""},
		{"required and unset", "UNSET", true, "", "environment variable UNSET is empty or unset"},
		{"required and blank", "BLANK", true, "", "environment variable BLANK is empty or unset"},
		{"no variable named", " ", false, "", "must name an environment variable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := APIKey(getenv, "api_key_env", tt.envName, tt.required)
			if tt.message == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.want, key)
				return
			}
			var e *sdk.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, sdk.CodeInvalidArgument, e.Code)
			assert.Equal(t, "api_key_env", e.Details["field"])
			assert.Contains(t, e.Message, tt.message)
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(`{"model":"x","timeout":"1m","nested":{"speed":1}}`)
	f.Add(`{"timeout":30} x`)
	f.Add(`{"modle":1}`)
	f.Fuzz(func(t *testing.T, in string) {
		s := defaults()
		err := Decode(json.RawMessage(in), &s)
		if err == nil {
			return
		}
		var e *sdk.Error
		if !assert.ErrorAs(t, err, &e) {
			return
		}
		assert.Equal(t, sdk.CodeInvalidArgument, e.Code)
		assert.NotEmpty(t, e.Details["field"], "every error names a field: %v", err)
	})
}

package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadTracing(t *testing.T, yaml string, env ...string) *Config {
	t.Helper()
	cfg, err := loadTracingErr(t, yaml, env...)
	require.NoError(t, err)
	return cfg
}

// loadTracingErr loads (and so validates) yaml under env.
func loadTracingErr(t *testing.T, yaml string, env ...string) (*Config, error) {
	t.Helper()
	var paths []string
	if yaml != "" {
		p := filepath.Join(t.TempDir(), "t.yaml")
		require.NoError(t, os.WriteFile(p, []byte(yaml), 0o600))
		paths = []string{p}
	}
	return LoadWith(Options{Paths: paths, Environ: func() []string { return env }})
}

// TestTracingDefaults: off, every session sampled, no content, exported
// to the local collector over HTTP when turned on.
func TestTracingDefaults(t *testing.T) {
	cfg := loadTracing(t, "")
	tr := cfg.Telemetry.Tracing
	assert.False(t, tr.Enabled)
	assert.InDelta(t, 1.0, tr.SampleRatio, 0)
	assert.False(t, tr.IncludeContent)
	assert.Equal(t, TracingHTTPProtobuf, tr.ExportProtocol)
	assert.Equal(t, "http://localhost:4318/v1/traces", tr.ExportURL)
	assert.Equal(t, "parley", tr.ServiceName)
	require.NoError(t, cfg.Validate())
}

// TestTracingPrecedence: telemetry.tracing keys (YAML or PARLEY_) win over
// the OTEL_* variables, which fill what is unset, the traces-specific
// variable before the general one.
func TestTracingPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		env        []string
		url        string
		proto      TracingProtocol
		headers    map[string]string
	}{
		{
			name: "otel variables fill unset keys",
			env:  []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318", "OTEL_EXPORTER_OTLP_HEADERS=x-key=abc%20d,tenant=t1"},
			url:  "http://collector:4318/v1/traces", proto: TracingHTTPProtobuf,
			headers: map[string]string{"x-key": "abc d", "tenant": "t1"},
		},
		{
			name: "traces endpoint is a full URL and beats the general one",
			env:  []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://b:4318/custom"},
			url:  "http://b:4318/custom", proto: TracingHTTPProtobuf, headers: map[string]string{},
		},
		{
			name: "grpc from the variable keeps host and port",
			env:  []string{"OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4317"},
			url:  "http://c:4317", proto: TracingGRPC, headers: map[string]string{},
		},
		{
			name: "config keys win",
			yaml: "telemetry: {tracing: {endpoint: 'http://mine:4318', protocol: http/protobuf, headers_env: MY_OTLP_HEADERS}}",
			env:  []string{"OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_ENDPOINT=http://other:4317", "OTEL_EXPORTER_OTLP_HEADERS=a=b", "MY_OTLP_HEADERS=k=v"},
			url:  "http://mine:4318/v1/traces", proto: TracingHTTPProtobuf, headers: map[string]string{"k": "v"},
		},
		{
			name: "PARLEY_ variable wins over OTEL_",
			env:  []string{"PARLEY_TELEMETRY__TRACING__PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"},
			url:  "http://localhost:4317", proto: TracingGRPC, headers: map[string]string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadTracing(t, tc.yaml, append(tc.env, "PARLEY_TELEMETRY__TRACING__ENABLED=true")...)
			require.NoError(t, cfg.Validate())
			tr := cfg.Telemetry.Tracing
			assert.True(t, tr.Enabled)
			assert.Equal(t, tc.url, tr.ExportURL)
			assert.Equal(t, tc.proto, tr.ExportProtocol)
			assert.Equal(t, tc.headers, tr.Headers)
		})
	}
	cfg := loadTracing(t, "", "OTEL_SERVICE_NAME=voice-eu")
	assert.Equal(t, "voice-eu", cfg.Telemetry.Tracing.ServiceName)
}

// TestTracingValidation: each bad value is refused naming its key; a bad
// header value is never echoed (it holds API keys).
func TestTracingValidation(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		env        []string
		key        string
	}{
		{"ratio above 1", "telemetry: {tracing: {sample_ratio: 1.5}}", nil, "telemetry.tracing.sample_ratio"},
		{"negative ratio", "telemetry: {tracing: {sample_ratio: -0.1}}", nil, "telemetry.tracing.sample_ratio"},
		{"unknown protocol", "telemetry: {tracing: {protocol: http/json}}", nil, "telemetry.tracing.protocol"},
		{"endpoint without scheme", "telemetry: {tracing: {endpoint: 'collector:4318'}}", nil, "telemetry.tracing.endpoint"},
		{"bad OTEL protocol once on", "telemetry: {tracing: {enabled: true}}", []string{"OTEL_EXPORTER_OTLP_PROTOCOL=thrift"}, EnvOTLPProtocol},
		{"bad OTEL endpoint once on", "telemetry: {tracing: {enabled: true}}", []string{"OTEL_EXPORTER_OTLP_ENDPOINT=collector"}, EnvOTLPEndpoint},
		{"bad headers", "telemetry: {tracing: {enabled: true, headers_env: H}}", []string{"H=secret-token-without-key"}, "H"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadTracingErr(t, tc.yaml, tc.env...)
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "got %v", err)
			assert.True(t, strings.Contains(err.Error(), tc.key), "error %q names %s", err, tc.key)
			assert.NotContains(t, err.Error(), "secret-token")
		})
	}
	// Off, the OTEL_* variables are not judged (they may be meant for
	// another program).
	require.NoError(t, loadTracing(t, "", "OTEL_EXPORTER_OTLP_PROTOCOL=thrift").Validate())
}

// TestTracingHeadersNotPrinted: config print shows the variable's name,
// never the resolved headers.
func TestTracingHeadersNotPrinted(t *testing.T) {
	cfg := loadTracing(t, "telemetry: {tracing: {enabled: true, headers_env: H}}", "H=authorization=Bearer%20s3cr3t")
	require.NoError(t, cfg.Validate())
	assert.Equal(t, "Bearer s3cr3t", cfg.Telemetry.Tracing.Headers["authorization"])
	out, err := cfg.YAML()
	require.NoError(t, err)
	assert.NotContains(t, string(out), "s3cr3t")
	assert.Contains(t, string(out), "headers_env: H")
}

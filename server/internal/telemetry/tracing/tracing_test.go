package tracing

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/config"
)

// TestOff: no exporter, a no-op tracer, nothing for the plugins.
func TestOff(t *testing.T) {
	p, err := New(context.Background(), config.Tracing{}, "v1")
	require.NoError(t, err)
	assert.False(t, p.Enabled())
	_, span := p.Tracer().Start(context.Background(), "x")
	assert.False(t, span.IsRecording())
	span.End()
	assert.Nil(t, p.PluginEnv("llm"))
	require.NoError(t, p.Shutdown(context.Background()))
}

// TestOn: spans are recorded (sample ratio 1) and plugins get the
// collector's settings, headers re-encoded.
func TestOn(t *testing.T) {
	cfg := config.Tracing{
		Enabled: true, SampleRatio: 1, ExportURL: "http://127.0.0.1:1/v1/traces", ExportProtocol: config.TracingHTTPProtobuf,
		Headers: map[string]string{"b": "x y", "a": "1"}, ServiceName: "parley",
	}
	p, err := New(context.Background(), cfg, "v1")
	require.NoError(t, err)
	assert.True(t, p.Enabled())
	_, span := p.Tracer().Start(context.Background(), "x")
	assert.True(t, span.IsRecording())
	span.End()
	assert.Equal(t, []string{
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:1/v1/traces", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf",
		"OTEL_SERVICE_NAME=parley-plugin-llm", "OTEL_TRACES_SAMPLER=parentbased_always_off", "OTEL_EXPORTER_OTLP_HEADERS=a=1,b=x%20y",
	}, p.PluginEnv("llm"))
	// Nothing listens on port 1: the flush gives up within its bound.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = p.Shutdown(ctx)
}

// TestSampleRatioZero: a ratio of 0 records nothing.
func TestSampleRatioZero(t *testing.T) {
	p, err := New(context.Background(), config.Tracing{Enabled: true, ExportURL: "http://127.0.0.1:1", ExportProtocol: config.TracingGRPC}, "v1")
	require.NoError(t, err)
	_, span := p.Tracer().Start(context.Background(), "x")
	assert.False(t, span.IsRecording())
	span.End()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = p.Shutdown(ctx)
}

package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/parleyhq/parley/sdk/tracing"
)

// TestTransportPropagates: within a span the provider gets a traceparent
// naming the HTTP client span, a child of the caller's; outside any trace
// nothing is added.
func TestTransportPropagates(t *testing.T) {
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("traceparent")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	client := &http.Client{Transport: tracing.Transport(nil)}

	ctx, parent := tp.Tracer("test").Start(context.Background(), "call")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/messages?key=secret", http.NoBody)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	parent.End()
	assert.Empty(t, req.Header.Get("traceparent"), "the caller's request is not changed")

	spans := rec.Ended()
	require.Len(t, spans, 2)
	httpSpan := spans[0]
	assert.Equal(t, "HTTP POST", httpSpan.Name())
	assert.Equal(t, parent.SpanContext().SpanID(), httpSpan.Parent().SpanID())
	assert.Equal(t, "00-"+httpSpan.SpanContext().TraceID().String()+"-"+httpSpan.SpanContext().SpanID().String()+"-01", <-got)
	assert.Equal(t, codes.Error, httpSpan.Status().Code, "a 429 is an error on a client span")
	for _, a := range httpSpan.Attributes() {
		assert.NotContains(t, a.Value.String(), "secret", "the query string is not recorded")
	}

	req, err = http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, http.NoBody)
	require.NoError(t, err)
	resp, err = client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Empty(t, <-got)
	assert.Len(t, rec.Ended(), 2, "no span outside a trace")
}

// TestChatSpan: the gen_ai attributes of a provider call.
func TestChatSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "rpc")
	_, span := tracing.StartChat(ctx, "anthropic", "claude-x")
	tracing.EndChat(span, 12, 34, nil)
	parent.End()
	s := rec.Ended()[0]
	assert.Equal(t, "chat claude-x", s.Name())
	attrs := map[string]any{}
	for _, a := range s.Attributes() {
		attrs[string(a.Key)] = a.Value.AsInterface()
	}
	assert.Equal(t, map[string]any{
		"gen_ai.system": "anthropic", "gen_ai.provider.name": "anthropic", "gen_ai.operation.name": "chat",
		"gen_ai.request.model": "claude-x", "gen_ai.usage.input_tokens": int64(12), "gen_ai.usage.output_tokens": int64(34),
	}, attrs)
}

// TestFromEnv: no endpoint, no provider; an unknown protocol is refused.
func TestFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	p, err := tracing.FromEnv(context.Background(), env(nil))
	require.NoError(t, err)
	assert.Nil(t, p)
	_, err = tracing.FromEnv(context.Background(), env(map[string]string{tracing.EnvEndpoint: "http://127.0.0.1:1", tracing.EnvProtocol: "thrift"}))
	require.ErrorIs(t, err, tracing.ErrProtocol)
}

// TestEnv: what a host passes a plugin process.
func TestEnv(t *testing.T) {
	assert.Equal(t, []string{
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://c:4318/v1/traces", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf",
		"OTEL_SERVICE_NAME=parley-plugin-llm", "OTEL_TRACES_SAMPLER=parentbased_always_off", "OTEL_EXPORTER_OTLP_HEADERS=k=v",
	}, tracing.Env("http://c:4318/v1/traces", "http/protobuf", "k=v", "llm"))
	assert.Equal(t, "OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4317", tracing.Env("http://c:4317", "grpc", "", "llm")[0])
}

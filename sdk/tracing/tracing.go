// Package tracing is OpenTelemetry tracing for Parley plugins and hosts.
//
// A plugin built on sdk.Serve gets a tracer provider without code: when the
// host has tracing on it passes the standard OTEL_EXPORTER_OTLP_* variables
// and OTEL_SERVICE_NAME to the plugin process, Serve sets up an exporter
// from them, continues the host's trace from the gRPC metadata of every call
// and flushes when the plugin stops. A vendor needs one call each for its
// own spans (Tracer) and for its provider's HTTP calls (Transport, which
// sends the W3C traceparent header), both working as no-ops when tracing is
// off.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// ScopeName is the instrumentation scope of the spans this package makes.
const ScopeName = "github.com/parleyhq/parley/sdk/tracing"

// The standard variables a host passes to a plugin process (the OTLP
// exporter specification); the exporters read the rest of OTEL_* (timeouts,
// certificates, batch sizes) themselves.
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvHeaders        = "OTEL_EXPORTER_OTLP_HEADERS"
	EnvServiceName    = "OTEL_SERVICE_NAME"
	EnvSampler        = "OTEL_TRACES_SAMPLER"
)

// The OTLP protocols.
const (
	ProtocolGRPC         = "grpc"
	ProtocolHTTPProtobuf = "http/protobuf"
)

// ErrProtocol is an OTLP protocol other than grpc and http/protobuf.
var ErrProtocol = errors.New("tracing: unsupported OTLP protocol")

// Propagator is the W3C Trace Context propagator every Parley process
// uses (traceparent, tracestate).
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }

// Tracer returns a tracer of the process's provider (the one Serve set up,
// or a no-op one): call it where the span is made, not once at start.
func Tracer(name string) trace.Tracer { return otel.GetTracerProvider().Tracer(name) }

// Provider is a process's tracer provider and how to flush it.
type Provider struct {
	tp *sdktrace.TracerProvider
}

// TracerProvider returns the provider.
func (p *Provider) TracerProvider() trace.TracerProvider { return p.tp }

// Shutdown exports what is buffered and stops the exporter; ctx bounds it.
func (p *Provider) Shutdown(ctx context.Context) error {
	if err := p.tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// FromEnv sets up the process's provider from the OTEL_* variables of
// getenv when an endpoint is set, and makes it and the W3C propagator the
// process's global ones (what Tracer and Transport use). Without an
// endpoint it returns nil, nil: tracing stays off. The sampler follows the
// caller's decision and samples nothing on its own (parentbased_always_off)
// unless OTEL_TRACES_SAMPLER says otherwise.
func FromEnv(ctx context.Context, getenv func(string) string) (*Provider, error) {
	if getenv(EnvEndpoint) == "" && getenv(EnvTracesEndpoint) == "" {
		return nil, nil
	}
	proto := getenv(EnvTracesProtocol)
	if proto == "" {
		proto = getenv(EnvProtocol)
	}
	var exp sdktrace.SpanExporter
	var err error
	switch proto {
	case "", ProtocolHTTPProtobuf:
		exp, err = otlptracehttp.New(ctx)
	case ProtocolGRPC:
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("%w: %q", ErrProtocol, proto)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: exporter: %w", err)
	}
	// resource.Default reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
	opts := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(exp), sdktrace.WithResource(resource.Default())}
	if getenv(EnvSampler) == "" {
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(Propagator())
	return &Provider{tp: tp}, nil
}

// ServerOption is the gRPC server option of a traced plugin: each call
// continues the trace whose context the host sent in its metadata.
func ServerOption(tp trace.TracerProvider) grpc.ServerOption {
	return grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(Propagator())))
}

// DialOption is the gRPC dial option of a traced host: a call made within
// a sampled span gets a client span and sends its context in the
// metadata; calls outside any trace (health checks, Info, Configure) are
// not traced.
func DialOption(tp trace.TracerProvider) grpc.DialOption {
	h := otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(Propagator()))
	return grpc.WithStatsHandler(&withinSpan{h: h})
}

// Env is the environment a host passes to a plugin process so that its
// spans reach the same collector: the OTLP endpoint (a full traces URL for
// http/protobuf), protocol and headers ("k=v,k2=v2"; empty: none), the
// service name parley-plugin-<name>, and a sampler that follows the host.
func Env(endpoint, protocol, headers, name string) []string {
	env := []string{
		EnvTracesEndpoint + "=" + endpoint,
		EnvTracesProtocol + "=" + protocol,
		EnvServiceName + "=parley-plugin-" + name,
		EnvSampler + "=parentbased_always_off",
	}
	if protocol == ProtocolGRPC {
		// The gRPC exporter reads no path: the general variable carries
		// the host and port (and the scheme, which says whether TLS).
		env[0] = EnvEndpoint + "=" + endpoint
	}
	if headers != "" {
		env = append(env, EnvHeaders+"="+headers)
	}
	return env
}

// ProcessEnv is os.Getenv, for FromEnv in a plugin's own process.
func ProcessEnv(key string) string { return strings.TrimSpace(os.Getenv(key)) }

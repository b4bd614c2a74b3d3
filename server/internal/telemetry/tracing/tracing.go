// Package tracing sets up the server's OpenTelemetry tracer provider from
// telemetry.tracing: an OTLP exporter (gRPC or HTTP/protobuf), a sampler
// keeping sample_ratio of the sessions, the service's resource. Off, the
// provider is a no-op one and no exporter exists. It also gives the
// environment that makes a plugin process export to the same collector.
package tracing

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/parleyhq/parley/sdk/tracing"
	"github.com/parleyhq/parley/server/internal/config"
)

// ScopeName is the instrumentation scope of the server's own spans.
const ScopeName = "github.com/parleyhq/parley/server"

// Resource attributes (OpenTelemetry semantic conventions).
const (
	attrServiceName    = attribute.Key("service.name")
	attrServiceVersion = attribute.Key("service.version")
)

// Provider is the server's tracer provider.
type Provider struct {
	cfg config.Tracing
	tp  trace.TracerProvider
	// sdk is the exporting provider (nil when tracing is off).
	sdk *sdktrace.TracerProvider
}

// New returns the provider cfg asks for; version is the service version.
// Creating the exporter does not connect: a collector that is down shows
// as export errors later, never as a failed start.
func New(ctx context.Context, cfg config.Tracing, version string) (*Provider, error) {
	if !cfg.Enabled {
		return &Provider{cfg: cfg, tp: noop.NewTracerProvider()}, nil
	}
	exp, err := exporter(ctx, cfg)
	if err != nil {
		return nil, err
	}
	res := resource.NewSchemaless(attrServiceName.String(cfg.ServiceName), attrServiceVersion.String(version))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)
	return &Provider{cfg: cfg, tp: tp, sdk: tp}, nil
}

// exporter is the OTLP exporter of cfg's resolved URL, protocol and
// headers. The exporters still read the OTEL_EXPORTER_OTLP_* variables
// Parley has no key for (timeouts, certificates, compression).
func exporter(ctx context.Context, cfg config.Tracing) (sdktrace.SpanExporter, error) {
	var exp sdktrace.SpanExporter
	var err error
	switch cfg.ExportProtocol {
	case config.TracingGRPC:
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(cfg.ExportURL)}
		if len(cfg.Headers) > 0 {
			opts = append(opts, otlptracegrpc.WithHeaders(cfg.Headers))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	default:
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(cfg.ExportURL)}
		if len(cfg.Headers) > 0 {
			opts = append(opts, otlptracehttp.WithHeaders(cfg.Headers))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: %s exporter: %w", cfg.ExportProtocol, err)
	}
	return exp, nil
}

// Enabled reports whether spans are exported.
func (p *Provider) Enabled() bool { return p.sdk != nil }

// TracerProvider returns the provider (a no-op one when off).
func (p *Provider) TracerProvider() trace.TracerProvider { return p.tp }

// Tracer returns the server's tracer.
func (p *Provider) Tracer() trace.Tracer { return p.tp.Tracer(ScopeName) }

// IncludeContent reports whether transcripts and text go into spans.
func (p *Provider) IncludeContent() bool { return p.cfg.IncludeContent }

// PluginEnv returns the variables that make plugin name export its spans
// to the same collector (nil when off): see sdk/tracing.Env.
func (p *Provider) PluginEnv(name string) []string {
	if !p.Enabled() {
		return nil
	}
	return tracing.Env(p.cfg.ExportURL, string(p.cfg.ExportProtocol), encodeHeaders(p.cfg.Headers), name)
}

// encodeHeaders is h in the OTEL_EXPORTER_OTLP_HEADERS format, sorted.
func encodeHeaders(h map[string]string) string {
	pairs := make([]string, 0, len(h))
	for k, v := range h {
		pairs = append(pairs, k+"="+url.PathEscape(v))
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ",")
}

// Shutdown exports the buffered spans and stops the exporter, within ctx.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	if err := p.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

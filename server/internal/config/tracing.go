package config

import (
	"fmt"
	"net/url"
	"strings"
)

// The standard OpenTelemetry variables Parley honours for tracing (the
// OTLP exporter specification): each fills a telemetry.tracing key that is
// not set, the signal-specific one before the general one.
const (
	EnvOTLPEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvOTLPTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvOTLPProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvOTLPTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvOTLPHeaders        = "OTEL_EXPORTER_OTLP_HEADERS"
	EnvOTLPTracesHeaders  = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
	EnvOTelServiceName    = "OTEL_SERVICE_NAME"
)

// TracingProtocol is the OTLP transport of trace export.
type TracingProtocol string

// The OTLP protocols: gRPC, or protobuf over HTTP (the OpenTelemetry
// default).
const (
	TracingGRPC         TracingProtocol = "grpc"
	TracingHTTPProtobuf TracingProtocol = "http/protobuf"
)

// Tracing defaults.
const (
	defaultSampleRatio     = 1.0
	defaultTracingService  = "parley"
	defaultOTLPHTTPBase    = "http://localhost:4318"
	defaultOTLPGRPCBase    = "http://localhost:4317"
	otlpHTTPTracesPath     = "/v1/traces"
	tracingEndpointAllowed = "must be an http:// or https:// URL (e.g. http://localhost:4318)"
)

// Tracing configures OpenTelemetry traces (telemetry.tracing). Off by
// default; off, no exporter exists and the server's tracer is a no-op.
type Tracing struct {
	// Enabled turns tracing on.
	Enabled bool `koanf:"enabled"`
	// Endpoint is the collector's URL. For http/protobuf a URL without a
	// path gets /v1/traces (as OTEL_EXPORTER_OTLP_ENDPOINT does); for grpc
	// the host and port are used, http:// meaning without TLS. Empty:
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT, then
	// localhost on the protocol's port.
	Endpoint string `koanf:"endpoint"`
	// Protocol is grpc or http/protobuf. Empty:
	// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL, then
	// http/protobuf.
	Protocol TracingProtocol `koanf:"protocol"`
	// SampleRatio is the share of sessions traced, 0 to 1 (a session's
	// spans are all kept or all dropped).
	SampleRatio float64 `koanf:"sample_ratio"`
	// HeadersEnv names an environment variable holding the export headers
	// as k=v,k2=v2 (an API key of a hosted backend). Empty:
	// OTEL_EXPORTER_OTLP_TRACES_HEADERS, then OTEL_EXPORTER_OTLP_HEADERS.
	HeadersEnv string `koanf:"headers_env"`
	// IncludeContent puts transcripts and prompt text into spans. Off,
	// spans hold lengths and timings only.
	IncludeContent bool `koanf:"include_content"`

	// Resolved from the environment at load (never printed): the export
	// URL, protocol and headers in effect and the service name
	// (OTEL_SERVICE_NAME, default parley).
	ExportURL      string            `koanf:"-"`
	ExportProtocol TracingProtocol   `koanf:"-"`
	Headers        map[string]string `koanf:"-"`
	ServiceName    string            `koanf:"-"`
	// headersErr is why the headers did not parse.
	headersErr error
}

func defaultTracing() Tracing { return Tracing{SampleRatio: defaultSampleRatio} }

// resolveTracing fills the resolved fields of t from the config keys and
// the OTEL_* variables (keys first).
func resolveTracing(t *Tracing, vars map[string]string) {
	t.ExportProtocol = TracingProtocol(firstNonEmpty(string(t.Protocol), vars[EnvOTLPTracesProtocol], vars[EnvOTLPProtocol], string(TracingHTTPProtobuf)))
	t.ServiceName = firstNonEmpty(vars[EnvOTelServiceName], defaultTracingService)
	switch {
	case t.Endpoint != "":
		t.ExportURL = exportURL(t.Endpoint, t.ExportProtocol)
	case vars[EnvOTLPTracesEndpoint] != "":
		t.ExportURL = vars[EnvOTLPTracesEndpoint] // the full URL, used as is
	case vars[EnvOTLPEndpoint] != "":
		t.ExportURL = exportURL(vars[EnvOTLPEndpoint], t.ExportProtocol)
	case t.ExportProtocol == TracingGRPC:
		t.ExportURL = defaultOTLPGRPCBase
	default:
		t.ExportURL = defaultOTLPHTTPBase + otlpHTTPTracesPath
	}
	raw := vars[EnvOTLPTracesHeaders]
	if raw == "" {
		raw = vars[EnvOTLPHeaders]
	}
	if t.HeadersEnv != "" {
		raw = vars[t.HeadersEnv]
	}
	t.Headers, t.headersErr = ParseOTLPHeaders(raw)
}

// exportURL is base as an export URL: for http/protobuf a base without a
// path gets /v1/traces.
func exportURL(base string, p TracingProtocol) string {
	if p != TracingHTTPProtobuf {
		return base
	}
	u, err := url.Parse(base)
	if err != nil || (u.Path != "" && u.Path != "/") {
		return base // validation reports a bad URL
	}
	return strings.TrimSuffix(base, "/") + otlpHTTPTracesPath
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}

// ParseOTLPHeaders parses OTLP export headers, k=v pairs separated by
// commas with URL-encoded values (the OTEL_EXPORTER_OTLP_HEADERS format).
// The error never holds a value: headers carry API keys.
func ParseOTLPHeaders(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for i, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("header %d is not key=value", i+1)
		}
		val, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("header %q: value is not URL-encoded", k)
		}
		out[k] = val
	}
	return out, nil
}

func (c *Config) validateTracing(v *validator) {
	t := c.Telemetry.Tracing
	if t.SampleRatio < 0 || t.SampleRatio > 1 {
		v.fail("telemetry.tracing.sample_ratio", t.SampleRatio, "must be between 0 and 1")
	}
	if t.Protocol != "" && !oneOf(t.Protocol, TracingGRPC, TracingHTTPProtobuf) {
		v.fail("telemetry.tracing.protocol", t.Protocol, "must be one of %s", joinStr(TracingGRPC, TracingHTTPProtobuf))
	}
	if t.Endpoint != "" && !httpURL(t.Endpoint) {
		v.fail("telemetry.tracing.endpoint", t.Endpoint, tracingEndpointAllowed)
	}
	if !t.Enabled {
		return
	}
	// The values from OTEL_* only matter once tracing is on.
	if !oneOf(t.ExportProtocol, TracingGRPC, TracingHTTPProtobuf) {
		v.fail(EnvOTLPProtocol, t.ExportProtocol, "must be one of %s", joinStr(TracingGRPC, TracingHTTPProtobuf))
	}
	if t.Endpoint == "" && !httpURL(t.ExportURL) {
		v.fail(EnvOTLPEndpoint, t.ExportURL, tracingEndpointAllowed)
	}
	if t.headersErr != nil {
		key := EnvOTLPHeaders
		if t.HeadersEnv != "" {
			key = t.HeadersEnv
		}
		// The value is a secret: name the variable, never its content.
		v.fail(key, Redacted, "must be k=v,k2=v2 with URL-encoded values (%s)", t.headersErr.Error())
	}
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

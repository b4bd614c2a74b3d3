package tracing

import (
	"fmt"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// HTTP client span attributes (OpenTelemetry semantic conventions). The
// query string is never recorded: some providers take keys in it.
const (
	attrHTTPMethod = attribute.Key("http.request.method")
	attrHTTPStatus = attribute.Key("http.response.status_code")
	attrServerAddr = attribute.Key("server.address")
	attrURLPath    = attribute.Key("url.path")
	attrErrorType  = attribute.Key("error.type")
)

// firstErrorStatus is where HTTP status codes count as errors on a client
// span (4xx and 5xx).
const firstErrorStatus = 400

// Transport wraps base (nil: http.DefaultTransport) so that every request
// made within a span gets a client span "HTTP <method>" and carries its
// W3C traceparent to the provider. Outside any trace it only forwards the
// request. Use it as the Transport of the http.Client a plugin calls its
// provider with.
func Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base}
}

type transport struct{ base http.RoundTripper }

// Unwrap returns the wrapped transport (to close its idle connections).
func (t *transport) Unwrap() http.RoundTripper { return t.base }

// CloseIdleConnections closes the wrapped transport's idle connections, as
// http.Client.CloseIdleConnections expects of a transport.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	parent := trace.SpanFromContext(req.Context())
	if !parent.SpanContext().IsValid() {
		return t.base.RoundTrip(req)
	}
	ctx, span := parent.TracerProvider().Tracer(ScopeName).Start(req.Context(), "HTTP "+req.Method,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrHTTPMethod.String(req.Method), attrServerAddr.String(req.URL.Hostname()), attrURLPath.String(req.URL.Path)))
	defer span.End()
	// A RoundTripper must not change the caller's request: inject into a
	// copy with its own header map.
	out := req.Clone(ctx)
	Propagator().Inject(ctx, propagation.HeaderCarrier(out.Header))
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "transport error")
		span.SetAttributes(attrErrorType.String(fmt.Sprintf("%T", err)))
		return nil, err //nolint:wrapcheck // a RoundTripper returns the transport's error as is.
	}
	span.SetAttributes(attrHTTPStatus.Int(resp.StatusCode))
	if resp.StatusCode >= firstErrorStatus {
		span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
		span.SetAttributes(attrErrorType.String(strconv.Itoa(resp.StatusCode)))
	}
	return resp, nil
}

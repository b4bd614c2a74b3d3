package tracing

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/parleyhq/parley/server/internal/config"
)

// received is what a test collector got: span names, service names and
// the value of the x-key header.
type received struct {
	mu       sync.Mutex
	spans    []string
	services []string
	key      string
}

func (r *received) add(req *coltrace.ExportTraceServiceRequest, key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.key = key
	for _, rs := range req.GetResourceSpans() {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				r.services = append(r.services, a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, s.GetName())
			}
		}
	}
}

type grpcCollector struct {
	coltrace.UnimplementedTraceServiceServer
	got *received
}

func (c *grpcCollector) Export(ctx context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	key := ""
	if v := md.Get("x-key"); len(v) > 0 {
		key = v[0]
	}
	c.got.add(req, key)
	return &coltrace.ExportTraceServiceResponse{}, nil
}

// TestExport: with either protocol, the spans and the configured headers
// reach a collector, flushed by Shutdown.
func TestExport(t *testing.T) {
	for _, protocol := range []config.TracingProtocol{config.TracingGRPC, config.TracingHTTPProtobuf} {
		t.Run(string(protocol), func(t *testing.T) {
			got := &received{}
			url := startCollector(t, protocol, got)
			p, err := New(context.Background(), config.Tracing{
				Enabled: true, SampleRatio: 1, ExportURL: url, ExportProtocol: protocol,
				Headers: map[string]string{"x-key": "k1"}, ServiceName: "parley-test",
			}, "v1")
			require.NoError(t, err)
			_, span := p.Tracer().Start(context.Background(), "session")
			span.End()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, p.Shutdown(ctx))
			got.mu.Lock()
			defer got.mu.Unlock()
			assert.Equal(t, []string{"session"}, got.spans)
			assert.Equal(t, []string{"parley-test"}, got.services)
			assert.Equal(t, "k1", got.key)
		})
	}
}

// startCollector serves OTLP on loopback and returns the export URL.
func startCollector(t *testing.T, p config.TracingProtocol, got *received) string {
	t.Helper()
	if p == config.TracingGRPC {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		srv := grpc.NewServer()
		coltrace.RegisterTraceServiceServer(srv, &grpcCollector{got: got})
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.Serve(ln) }()
		t.Cleanup(func() { srv.Stop(); <-done })
		return "http://" + ln.Addr().String()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		got.add(&req, r.Header.Get("x-key"))
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1/traces"
}

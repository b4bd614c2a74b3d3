package tracing

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/stats"
)

// withinSpan passes to h only the RPCs whose context holds a sampled span:
// a host's calls made for a traced session are traced, its background
// calls (and those of sessions the sampler left out) are not.
type withinSpan struct{ h stats.Handler }

// skipKey marks an RPC's context as not traced.
type skipKey struct{}

func (w *withinSpan) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if sc := trace.SpanContextFromContext(ctx); !sc.IsValid() || !sc.IsSampled() {
		return context.WithValue(ctx, skipKey{}, true)
	}
	return w.h.TagRPC(ctx, info)
}

func (w *withinSpan) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if ctx.Value(skipKey{}) != nil {
		return
	}
	w.h.HandleRPC(ctx, s)
}

func (w *withinSpan) TagConn(ctx context.Context, info *stats.ConnTagInfo) context.Context {
	return w.h.TagConn(ctx, info)
}

func (w *withinSpan) HandleConn(ctx context.Context, s stats.ConnStats) { w.h.HandleConn(ctx, s) }

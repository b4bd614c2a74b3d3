package pluginhost

import (
	"context"
	"errors"
	"io"

	"github.com/parleyhq/parley/sdk"
)

// llmChain is the resilient sdk.LLM of a pipeline.
type llmChain struct{ *chain }

var _ sdk.LLM = (*llmChain)(nil)

// llmFirst is a generation whose first event arrived.
type llmFirst struct {
	s      sdk.LLMStream
	first  sdk.GenerateEvent
	eof    bool
	cancel context.CancelFunc
}

// Generate implements sdk.LLM. Opening the stream and waiting for its first
// event is retried and falls back along the chain; once an event arrived,
// errors pass through (a crash shows as Unavailable).
func (c *llmChain) Generate(ctx context.Context, req sdk.GenerateRequest) (sdk.LLMStream, error) {
	o, err := open(ctx, c.chain, c.newCursor(), nil, func(ctx context.Context, in *instance, gen *generation) (*llmFirst, error) {
		sctx, cancel := context.WithCancel(ctx)
		var watch firstOutputWatch
		watch.arm(c.firstOutput, cancel)
		defer watch.stop()
		s, err := gen.llm.Generate(sctx, req)
		if err != nil {
			cancel()
			return nil, watch.check(in, c.firstOutput, err)
		}
		ev, err := s.Recv()
		watch.stop()
		err = watch.check(in, c.firstOutput, err)
		if errors.Is(err, io.EOF) {
			return &llmFirst{s: s, eof: true, cancel: cancel}, nil
		}
		if err != nil {
			cancel()
			return nil, err
		}
		return &llmFirst{s: s, first: ev, cancel: cancel}, nil
	})
	if err != nil {
		return nil, err
	}
	o.done(nil)
	return &llmStream{ctx: ctx, first: o.v, in: o.in, gen: o.gen, pending: !o.v.eof}, nil
}

// llmStream passes a running generation through.
type llmStream struct {
	ctx     context.Context //nolint:containedctx // the stream lives exactly as long as its call's context.
	first   *llmFirst
	in      *instance
	gen     *generation
	pending bool
}

// Recv implements sdk.LLMStream.
func (s *llmStream) Recv() (sdk.GenerateEvent, error) {
	if s.pending {
		s.pending = false
		return s.first.first, nil
	}
	if s.first.eof {
		s.first.cancel()
		return sdk.GenerateEvent{}, io.EOF
	}
	ev, err := s.first.s.Recv()
	if err != nil {
		s.first.cancel()
		err = s.in.classify(s.ctx, s.gen, err)
		if !errors.Is(err, io.EOF) {
			s.in.countError(err)
		}
		return sdk.GenerateEvent{}, err
	}
	return ev, nil
}

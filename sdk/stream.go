package sdk

import (
	"context"
	"io"
)

// GenerateFunc produces a generation by calling emit for each event. It
// returns nil after emitting Done, or the error that ended it.
type GenerateFunc func(ctx context.Context, emit func(GenerateEvent) error) error

// NewLLMStream runs fn in its own goroutine and returns its events as an
// LLMStream. It is the easy way for a vendor to implement LLM.Generate: the
// goroutine ends when fn returns, and fn's emit fails once ctx is done.
func NewLLMStream(ctx context.Context, fn GenerateFunc) LLMStream {
	p := newPipe[GenerateEvent](ctx)
	go p.run(func(ctx context.Context) error { return fn(ctx, p.emit) })
	return p
}

// pipe carries values from a producer goroutine to Recv.
type pipe[T any] struct {
	ctx  context.Context //nolint:containedctx // the pipe lives exactly as long as this context's stream.
	ch   chan T
	done chan struct{}
	err  error
}

func newPipe[T any](ctx context.Context) *pipe[T] {
	return &pipe[T]{ctx: ctx, ch: make(chan T), done: make(chan struct{})}
}

func (p *pipe[T]) run(fn func(ctx context.Context) error) {
	err := fn(p.ctx)
	if err == nil {
		err = io.EOF
	}
	p.err = err
	close(p.done)
}

func (p *pipe[T]) emit(v T) error {
	select {
	case p.ch <- v:
		return nil
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}

// Recv returns the next value, the producer's error, or io.EOF.
func (p *pipe[T]) Recv() (T, error) {
	var zero T
	select {
	case v := <-p.ch:
		return v, nil
	case <-p.done:
		return zero, p.err
	case <-p.ctx.Done():
		<-p.done
		if p.err == io.EOF {
			return zero, p.ctx.Err()
		}
		return zero, p.err
	}
}

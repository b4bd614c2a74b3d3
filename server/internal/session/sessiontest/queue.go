package sessiontest

import (
	"context"
	"io"
	"sync"
)

// queue is an unbounded FIFO with an end: producers never block, Recv
// waits for an item, the end, or ctx.
type queue[T any] struct {
	ctx    context.Context //nolint:containedctx // a fake stream lives exactly as long as its context.
	mu     sync.Mutex
	items  []T
	closed bool
	err    error
	signal chan struct{}
}

func newQueue[T any](ctx context.Context) *queue[T] {
	return &queue[T]{ctx: ctx, signal: make(chan struct{}, 1)}
}

func (q *queue[T]) push(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	q.wake()
}

// end closes the queue; Recv returns err (io.EOF if nil) after the items.
func (q *queue[T]) end(err error) {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		if err == nil {
			err = io.EOF
		}
		q.err = err
	}
	q.mu.Unlock()
	q.wake()
}

func (q *queue[T]) wake() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *queue[T]) recv() (T, error) {
	var zero T
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			v := q.items[0]
			q.items = q.items[1:]
			q.mu.Unlock()
			return v, nil
		}
		if q.closed {
			err := q.err
			q.mu.Unlock()
			return zero, err
		}
		q.mu.Unlock()
		select {
		case <-q.signal:
		case <-q.ctx.Done():
			return zero, q.ctx.Err()
		}
	}
}

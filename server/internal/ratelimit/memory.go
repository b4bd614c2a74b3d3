// Package ratelimit limits requests per client key (the client IP) with a
// token bucket: Burst tokens, refilled at RequestsPerMinute. The in-memory
// limiter serves one node; the Redis limiter shares buckets across nodes.
package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/parleyhq/parley/server/internal/config"
)

// Limiter decides whether one more request from key is allowed now. When
// it is not, retryAfter says when the next token is due.
type Limiter interface {
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// maxBuckets bounds the in-memory limiter's table; idle full buckets are
// dropped first when it fills.
const maxBuckets = 100_000

type bucket struct {
	tokens float64
	last   time.Time
}

// Memory is an in-process token-bucket limiter.
type Memory struct {
	mu      sync.Mutex
	rate    float64 // tokens per second
	burst   float64
	buckets map[string]*bucket
	now     func() time.Time
}

// NewMemory returns an in-memory limiter for cfg. now is the clock (nil
// means time.Now).
func NewMemory(cfg config.RateLimit, now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{
		rate:    float64(cfg.RequestsPerMinute) / float64(time.Minute/time.Second),
		burst:   float64(cfg.Burst),
		buckets: make(map[string]*bucket),
		now:     now,
	}
}

// Allow takes a token from key's bucket.
func (m *Memory) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.buckets[key]
	if !ok {
		if len(m.buckets) >= maxBuckets {
			m.evictLocked(now)
		}
		b = &bucket{tokens: m.burst, last: now}
		m.buckets[key] = b
	}
	b.tokens = math.Min(m.burst, b.tokens+now.Sub(b.last).Seconds()*m.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0, nil
	}
	wait := time.Duration((1 - b.tokens) / m.rate * float64(time.Second))
	return false, wait, nil
}

// evictLocked drops buckets that have refilled completely (they carry no
// state); if none has, it drops all, which only forgives clients.
func (m *Memory) evictLocked(now time.Time) {
	for k, b := range m.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*m.rate >= m.burst {
			delete(m.buckets, k)
		}
	}
	if len(m.buckets) >= maxBuckets {
		clear(m.buckets)
	}
}

package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/config"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestMemoryTokenBucket(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := NewMemory(config.RateLimit{RequestsPerMinute: 60, Burst: 3}, clk.now)
	ctx := context.Background()
	for i := range 3 {
		ok, _, err := l.Allow(ctx, "1.2.3.4")
		require.NoError(t, err)
		assert.True(t, ok, "request %d within burst", i+1)
	}
	ok, wait, err := l.Allow(ctx, "1.2.3.4")
	require.NoError(t, err)
	assert.False(t, ok, "burst exhausted")
	assert.Equal(t, time.Second, wait, "60/min refills one token per second")

	ok, _, _ = l.Allow(ctx, "5.6.7.8")
	assert.True(t, ok, "other clients have their own bucket")

	clk.t = clk.t.Add(time.Second)
	ok, _, _ = l.Allow(ctx, "1.2.3.4")
	assert.True(t, ok, "a token came back after a second")
	ok, _, _ = l.Allow(ctx, "1.2.3.4")
	assert.False(t, ok)

	clk.t = clk.t.Add(time.Hour)
	for range 3 {
		ok, _, _ = l.Allow(ctx, "1.2.3.4")
		assert.True(t, ok, "refill caps at burst")
	}
	ok, _, _ = l.Allow(ctx, "1.2.3.4")
	assert.False(t, ok, "never more than burst after idling")
}

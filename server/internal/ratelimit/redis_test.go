package ratelimit

import (
	"bufio"
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/config"
)

// startRedis runs a throwaway redis-server on a free loopback port.
func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	require.NoError(t, err, "redis-server is needed (make test installs Debian's redis-server)")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())

	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("redis-server did not start")
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisSharedBucket(t *testing.T) {
	c := startRedis(t)
	cfg := config.RateLimit{RequestsPerMinute: 60, Burst: 3}
	nodeA := NewRedis(cfg, c, "test:")
	nodeB := NewRedis(cfg, c, "test:")
	ctx := context.Background()

	for i, l := range []*Redis{nodeA, nodeB, nodeA} {
		ok, _, err := l.Allow(ctx, "10.0.0.1")
		require.NoError(t, err)
		assert.True(t, ok, "request %d within the shared burst", i+1)
	}
	ok, wait, err := nodeB.Allow(ctx, "10.0.0.1")
	require.NoError(t, err)
	assert.False(t, ok, "both nodes draw from one bucket")
	assert.Positive(t, wait)
	assert.LessOrEqual(t, wait, time.Second)

	ok, _, err = nodeB.Allow(ctx, "10.0.0.2")
	require.NoError(t, err)
	assert.True(t, ok, "other clients have their own bucket")

	ttl, err := c.PTTL(ctx, "test:rl:10.0.0.1").Result()
	require.NoError(t, err)
	assert.Positive(t, ttl, "buckets expire so idle clients cost nothing")
}

func TestRedisDownIsAnError(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	_, _, err := NewRedis(config.RateLimit{RequestsPerMinute: 60, Burst: 1}, c, "x:").Allow(context.Background(), "k")
	assert.Error(t, err)
}

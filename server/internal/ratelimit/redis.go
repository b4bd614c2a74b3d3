package ratelimit

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/server/internal/config"
)

// tokenBucketScript keeps one bucket per key as a hash {tokens, ts_ms} and
// takes a token atomically. It uses the Redis server's clock so that every
// node agrees. Returns {allowed (0/1), wait_ms}.
const tokenBucketScript = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait}
`

// Redis is a token-bucket limiter whose buckets live in Redis, shared by
// every Parley node.
type Redis struct {
	client *redis.Client
	script *redis.Script
	prefix string
	rate   float64 // tokens per second
	burst  int
}

// NewRedis returns a limiter for cfg using client; keys are prefixed with
// prefix + "rl:".
func NewRedis(cfg config.RateLimit, client *redis.Client, prefix string) *Redis {
	return &Redis{
		client: client,
		script: redis.NewScript(tokenBucketScript),
		prefix: prefix + "rl:",
		rate:   float64(cfg.RequestsPerMinute) / float64(time.Minute/time.Second),
		burst:  cfg.Burst,
	}
}

// Allow takes a token from key's shared bucket.
func (r *Redis) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	res, err := r.script.Run(ctx, r.client, []string{r.prefix + key}, r.rate, r.burst).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("ratelimit redis: %w", err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("ratelimit redis: unexpected reply %v", res)
	}
	return res[0] == 1, time.Duration(math.Max(0, float64(res[1]))) * time.Millisecond, nil
}

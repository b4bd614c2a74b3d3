package cluster

// The Redis scripts. Each runs atomically and reads the Redis server's
// clock (TIME), so the nodes agree on expiry whatever their own clocks say.
// Lease sets are sorted sets: member = lease id, score = expiry in ms.

// admitScript admits one session against the cluster-wide caps.
// KEYS[1] the lease set of the cluster, KEYS[2] the lease set of the
// client IP. ARGV: lease id, ttl ms, max sessions (0 none), max per IP (0
// none), "1" when the per-IP cap applies to this session.
// Returns 0 admitted, 1 over max sessions, 2 over max per IP.
const admitScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local max = tonumber(ARGV[3])
if max > 0 and redis.call('ZCARD', KEYS[1]) >= max then
  return 1
end
local perip = ARGV[5] == '1'
if perip then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  local maxip = tonumber(ARGV[4])
  if maxip > 0 and redis.call('ZCARD', KEYS[2]) >= maxip then
    return 2
  end
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
if perip then
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 0
`

// heartbeatScript refreshes a node's registry entry, its sessions and its
// leases. KEYS[1] the node set, KEYS[2] the node's hash, KEYS[3] the
// cluster's lease set. ARGV: node id, ttl ms, key prefix, the number of
// hash fields n, then n field/value pairs, then per live slot: lease id,
// client IP ("" = no per-IP lease), session id ("" = not started yet).
// A lease that expired meanwhile (Redis was unreachable longer than the
// ttl) is added again: the session still runs and still counts.
// Returns the number of live nodes.
const heartbeatScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[1]
local ttl = tonumber(ARGV[2])
local prefix = ARGV[3]
local n = tonumber(ARGV[4])
redis.call('DEL', KEYS[2])
for i = 0, n - 1 do
  redis.call('HSET', KEYS[2], ARGV[5 + 2 * i], ARGV[6 + 2 * i])
end
redis.call('HSET', KEYS[2], 'heartbeat_ms', now)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('ZADD', KEYS[1], now + ttl, id)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local first = 5 + 2 * n
local slots = 0
for i = first, #ARGV, 3 do
  local lease, ip, sid = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  redis.call('ZADD', KEYS[3], now + ttl, lease)
  if ip ~= '' then
    local ipkey = prefix .. 'ip:' .. ip
    redis.call('ZADD', ipkey, now + ttl, lease)
    redis.call('PEXPIRE', ipkey, ttl)
  end
  if sid ~= '' then
    redis.call('SET', prefix .. 'session:' .. sid, id, 'PX', ttl)
  end
  slots = slots + 1
end
if slots > 0 then
  redis.call('PEXPIRE', KEYS[3], ttl)
end
return redis.call('ZCARD', KEYS[1])
`

// releaseScript gives one slot back. KEYS[1] the cluster's lease set,
// KEYS[2] the client IP's lease set (or the cluster's again when none),
// KEYS[3] the session entry (or the lease set again when none). ARGV: lease
// id, node id. The session entry goes only if this node still owns it.
const releaseScript = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if KEYS[3] ~= KEYS[1] and redis.call('GET', KEYS[3]) == ARGV[2] then
  redis.call('DEL', KEYS[3])
end
return 0
`

// leaveScript removes a node from the registry. KEYS[1] the node set,
// KEYS[2] the node's hash. ARGV: node id.
const leaveScript = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 0
`

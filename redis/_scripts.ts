// The Lua scripts of a Redis queue: every call is one script, so each is
// atomic on the server. Keys of one queue share the hash tag `{mpq:<name>}`
// (see `_keys.ts`), so a cluster keeps a queue on one slot.
//
// Data: `q` is the list of items ready to get; a joinable queue moves an
// item it hands out to the hash `p` (id -> item), with "<deliveries>:<owner>"
// in the hash `i` and its lease expiry in the sorted set `l`. Waiters register in the
// sorted sets `wg` (getters), `wp` (putters) and `wj` (joiners) as
// "<link>:<wait>" scored by the time the registration lapses; a wake is a
// PUBLISH of "<wait>" on the link's channel.

/** Lua shared by the scripts: the clock and the wakes. */
const PRELUDE = `
if redis.replicate_commands then redis.replicate_commands() end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function publish(chan, member)
  local sep = string.find(member, ':', 1, true)
  return redis.call('PUBLISH', chan .. string.sub(member, 1, sep - 1),
    string.sub(member, sep + 1))
end
-- Wakes up to n waiters of wkey, oldest first; a registration that lapsed
-- or whose link no longer listens is dropped and the next one woken.
local function wake(wkey, chan, n, now)
  local woke = 0
  while woke < n do
    local w = redis.call('ZPOPMIN', wkey)
    if #w == 0 then return woke end
    if tonumber(w[2]) >= now and publish(chan, w[1]) > 0 then
      woke = woke + 1
    end
  end
  return woke
end
-- Wakes every waiter of wkey.
local function wake_all(wkey, chan)
  local ws = redis.call('ZRANGE', wkey, 0, -1)
  for _, w in ipairs(ws) do publish(chan, w) end
  if #ws > 0 then redis.call('DEL', wkey) end
end
-- The deliveries and the owner of a pending item's info "<deliveries>:<owner>".
local function split_info(v)
  local a = string.find(v, ':', 1, true)
  return tonumber(string.sub(v, 1, a - 1)), string.sub(v, a + 1)
end
-- The ids of ARGV[first..] whose info (hash info) names owner as holder.
local function owned(info, owner, first)
  local ids = {}
  for i = first, #ARGV, 1000 do
    local last = math.min(i + 999, #ARGV)
    local vs = redis.call('HMGET', info, unpack(ARGV, i, last))
    for j, v in ipairs(vs) do
      if v and select(2, split_info(v)) == owner then ids[#ids + 1] = ARGV[i + j - 1] end
    end
  end
  return ids
end
-- Calls cmd on key with the values of list, in chunks.
local function each_chunk(cmd, key, list)
  for i = 1, #list, 1000 do
    redis.call(cmd, key, unpack(list, i, math.min(i + 999, #list)))
  end
end
local function no_queue()
  return redis.error_reply('NOQUEUE the queue does not exist')
end
-- Pushes ARGV[first..last] to the tail of list key, in chunks.
local function push(key, first, last)
  for i = first, last, 1000 do
    redis.call('RPUSH', key, unpack(ARGV, i, math.min(i + 999, last)))
  end
end
-- Takes up to max_items items (stopping once max_bytes is reached) from the
-- head of list key.
local function take(key, max_items, max_bytes)
  if max_bytes < 0 then
    return redis.call('LPOP', key, max_items) or {}
  end
  local items = redis.call('LRANGE', key, 0, max_items - 1)
  local size, n = 0, 0
  for i, item in ipairs(items) do
    n = i
    size = size + #item
    if size >= max_bytes then break end
  end
  for i = #items, n + 1, -1 do items[i] = nil end
  if n > 0 then redis.call('LTRIM', key, n, -1) end
  return items
end
`;

/**
 * Attaches to a queue: stores the options if the queue is new.
 * KEYS: m. ARGV: field, value, ... (the options to store).
 * Returns the stored options as a flat field/value list.
 */
export const ATTACH = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV))
end
return redis.call('HGETALL', KEYS[1])
`;

/**
 * Puts items, as many as there is room for.
 * KEYS: m, q, wg, wp, dd. ARGV: chan, member ('' = do not wait), reg_ms,
 * maxsize, seq ('' = no de-duplication), watermark, items...
 * Returns how many items were put (a retried call returns what the first
 * one put).
 */
export const PUT = PRELUDE + `
if redis.call('EXISTS', KEYS[1]) == 0 then return no_queue() end
local chan, member, seq = ARGV[1], ARGV[2], ARGV[5]
if seq ~= '' then
  local done = redis.call('ZRANGEBYSCORE', KEYS[5], seq, seq)
  if #done > 0 then return tonumber(string.match(done[1], ':(%d+)$')) end
end
local now = now_ms()
local n = #ARGV - 6
local k = n
local maxsize = tonumber(ARGV[4])
if maxsize > 0 then
  k = math.max(0, math.min(n, maxsize - redis.call('LLEN', KEYS[2])))
end
if k > 0 then
  push(KEYS[2], 7, 6 + k)
  wake(KEYS[3], chan, k, now)
end
if seq ~= '' then
  redis.call('ZADD', KEYS[5], seq, seq .. ':' .. k)
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[6])
  redis.call('PEXPIRE', KEYS[5], 3600000)
end
if k < n and member ~= '' then
  redis.call('ZADD', KEYS[4], now + tonumber(ARGV[3]), member)
end
return k
`;

/**
 * Gets items from a plain queue (removed at once: at most once).
 * KEYS: m, q, wg, wp. ARGV: chan, member, reg_ms, maxsize, max_items,
 * max_bytes (-1 = no limit).
 * Returns the items, or -1 (nothing; registered if member is given).
 */
export const GET = PRELUDE + `
if redis.call('EXISTS', KEYS[1]) == 0 then return no_queue() end
local chan, member = ARGV[1], ARGV[2]
local items = take(KEYS[2], tonumber(ARGV[5]), tonumber(ARGV[6]))
local now = now_ms()
if #items > 0 then
  if tonumber(ARGV[4]) > 0 then wake(KEYS[4], chan, #items, now) end
  return items
end
if member ~= '' then
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), member)
end
return -1
`;

/**
 * Gets items from a joinable queue: first items whose lease expired
 * (delivered again, or moved to the dead-letter stream after
 * max_deliveries), then new ones; each is leased to the handle.
 * KEYS: m, q, wg, wp, p, l, n, dead, wj, i. ARGV: chan, member, reg_ms,
 * maxsize, max_items, max_bytes, handle, lease_ms, max_deliveries.
 * Returns id, item, id, item, ...; or, when there is nothing, the ms until
 * the next lease expires (-1 if none).
 */
export const JGET = PRELUDE + `
if redis.call('EXISTS', KEYS[1]) == 0 then return no_queue() end
local chan, member, handle = ARGV[1], ARGV[2], ARGV[7]
local max_items, max_bytes = tonumber(ARGV[5]), tonumber(ARGV[6])
local lease, max_deliveries = tonumber(ARGV[8]), tonumber(ARGV[9])
local now = now_ms()
local out, size, dead = {}, 0, 0
local function full()
  return #out >= 2 * max_items or (max_bytes >= 0 and size >= max_bytes)
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now, 'LIMIT', 0,
  max_items)
for _, id in ipairs(expired) do
  if full() then break end
  local v = redis.call('HGET', KEYS[10], id)
  local item = redis.call('HGET', KEYS[5], id)
  if not v or not item then
    redis.call('ZREM', KEYS[6], id)
  else
    local d, owner = split_info(v)
    if d >= max_deliveries then
      redis.call('XADD', KEYS[8], '*', 'd', item, 'id', id, 'deliveries', d,
        'owner', owner)
      redis.call('HDEL', KEYS[5], id)
      redis.call('HDEL', KEYS[10], id)
      redis.call('ZREM', KEYS[6], id)
      dead = dead + 1
    else
      redis.call('HSET', KEYS[10], id, (d + 1) .. ':' .. handle)
      redis.call('ZADD', KEYS[6], now + lease, id)
      out[#out + 1] = id
      out[#out + 1] = item
      size = size + #item
    end
  end
end
local fresh = 0
if not full() then
  local budget = -1
  if max_bytes >= 0 then budget = max_bytes - size end
  local items = take(KEYS[2], max_items - #out / 2, budget)
  if #items > 0 then
    local first = redis.call('INCRBY', KEYS[7], #items) - #items
    local info = '1:' .. handle
    local until_ms = now + lease
    local p, i, l = {}, {}, {}
    for k, item in ipairs(items) do
      local id = tostring(first + k)
      p[#p + 1] = id
      p[#p + 1] = item
      i[#i + 1] = id
      i[#i + 1] = info
      l[#l + 1] = until_ms
      l[#l + 1] = id
      out[#out + 1] = id
      out[#out + 1] = item
    end
    each_chunk('HSET', KEYS[5], p)
    each_chunk('HSET', KEYS[10], i)
    each_chunk('ZADD', KEYS[6], l)
    fresh = #items
  end
end
if fresh > 0 and tonumber(ARGV[4]) > 0 then wake(KEYS[4], chan, fresh, now) end
if dead > 0 and redis.call('LLEN', KEYS[2]) == 0
    and redis.call('HLEN', KEYS[5]) == 0 then
  wake_all(KEYS[9], chan)
end
if #out > 0 then return out end
if member ~= '' then
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), member)
end
local next = redis.call('ZRANGE', KEYS[6], 0, 0, 'WITHSCORES')
if #next == 0 then return -1 end
return math.max(0, tonumber(next[2]) - now)
`;

/**
 * Marks items of a joinable queue done (those the handle still holds: an
 * item delivered again since is left to its new holder); wakes the joiners
 * when nothing is left. KEYS: m, q, p, l, wj, i. ARGV: chan, handle, ids...
 * Returns how many were marked.
 */
export const DONE = PRELUDE + `
if redis.call('EXISTS', KEYS[1]) == 0 then return no_queue() end
local ids = owned(KEYS[6], ARGV[2], 3)
each_chunk('HDEL', KEYS[3], ids)
each_chunk('HDEL', KEYS[6], ids)
each_chunk('ZREM', KEYS[4], ids)
if redis.call('LLEN', KEYS[2]) == 0 and redis.call('HLEN', KEYS[3]) == 0 then
  wake_all(KEYS[5], ARGV[1])
end
return #ids
`;

/**
 * Whether every item is done; registers the joiner if not.
 * KEYS: m, q, p, wj. ARGV: member ('' = do not wait), reg_ms.
 * Returns 1 (all done) or 0.
 */
export const JOIN = PRELUDE + `
if redis.call('EXISTS', KEYS[1]) == 0 then return no_queue() end
if redis.call('LLEN', KEYS[2]) == 0 and redis.call('HLEN', KEYS[3]) == 0 then
  return 1
end
if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[4], now_ms() + tonumber(ARGV[2]), ARGV[1])
end
return 0
`;

/**
 * Extends the leases of the items a handle holds (those still its own).
 * KEYS: m, i, l. ARGV: handle, lease_ms, ids...
 * Returns how many leases were extended.
 */
export const RENEW = PRELUDE + `
if redis.call('EXISTS', KEYS[1]) == 0 then return no_queue() end
local ids = owned(KEYS[2], ARGV[1], 3)
local until_ms = now_ms() + tonumber(ARGV[2])
local l = {}
for _, id in ipairs(ids) do
  l[#l + 1] = until_ms
  l[#l + 1] = id
end
for i = 1, #l, 1000 do
  redis.call('ZADD', KEYS[3], 'XX', unpack(l, i, math.min(i + 999, #l)))
end
return #ids
`;

/**
 * Gives items a handle holds back for another delivery at once (a handle
 * that closes, or a get whose caller had gone).
 * KEYS: m, i, l, wg. ARGV: chan, handle, ids...
 * Returns how many were given back.
 */
export const RELEASE = PRELUDE + `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local ids = owned(KEYS[2], ARGV[2], 3)
local l = {}
for _, id in ipairs(ids) do
  l[#l + 1] = 0
  l[#l + 1] = id
end
for i = 1, #l, 1000 do
  redis.call('ZADD', KEYS[3], 'XX', unpack(l, i, math.min(i + 999, #l)))
end
if #ids > 0 then wake(KEYS[4], ARGV[1], #ids, now_ms()) end
return #ids
`;

/**
 * Puts items of a plain queue back at its head (a get whose caller had
 * gone). KEYS: m, q, wg. ARGV: chan, items... (in queue order).
 */
export const UNGET = PRELUDE + `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = #ARGV, 2, -1 do redis.call('LPUSH', KEYS[2], ARGV[i]) end
wake(KEYS[3], ARGV[1], #ARGV - 1, now_ms())
return #ARGV - 1
`;

/**
 * Ends a registration. If a wake was already spent on it, passes the wake
 * on to the next waiter when there is something to wake it for.
 * KEYS: m, q, wkey. ARGV: chan, member, kind ('g' getter, 'p' putter),
 * maxsize.
 */
export const CANCEL = PRELUDE + `
if redis.call('ZREM', KEYS[3], ARGV[2]) == 1 then return 0 end
local len = redis.call('LLEN', KEYS[2])
local maxsize = tonumber(ARGV[4])
if (ARGV[3] == 'g' and len > 0) or
    (ARGV[3] == 'p' and (maxsize <= 0 or len < maxsize)) then
  return wake(KEYS[3], ARGV[1], 1, now_ms())
end
return 0
`;

/**
 * Moves items that cannot be decoded to the dead-letter stream (a joinable
 * queue also drops them from its pending items).
 * KEYS: m, p, l, dead, q, wj, i. ARGV: chan, reason, id, item, id, item, ...
 * (id '' for a plain queue's item).
 */
export const BURY = PRELUDE + `
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  redis.call('XADD', KEYS[4], '*', 'd', ARGV[i + 1], 'id', id, 'error',
    ARGV[2])
  if id ~= '' then
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[7], id)
    redis.call('ZREM', KEYS[3], id)
  end
end
if redis.call('LLEN', KEYS[5]) == 0 and redis.call('HLEN', KEYS[2]) == 0 then
  wake_all(KEYS[6], ARGV[1])
end
return 1
`;

/**
 * The number of items ready to get. KEYS: m, q.
 */
export const SIZE = PRELUDE + `
if redis.call('EXISTS', KEYS[1]) == 0 then return no_queue() end
return redis.call('LLEN', KEYS[2])
`;

/**
 * Starts destroying a queue: deletes its options (so every later call finds
 * it gone) and its waiter sets, waking every waiter.
 * KEYS: m, wg, wp, wj. ARGV: chan.
 */
export const DESTROY = PRELUDE + `
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do wake_all(KEYS[i], ARGV[1]) end
return 1
`;

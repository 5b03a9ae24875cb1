// The Lua scripts of a Redis queue: every call is one script, so each is
// atomic on the server. Keys of one queue share the hash tag `{mpq:<name>}`
// (see `_keys.ts`), so a cluster keeps a queue on one slot.
//
// Data: `q` is the list of items ready to get. A joinable queue moves the
// items one get hands out to a batch: the list `b:<batch>` (its items not
// yet done, oldest first), with "<deliveries>:<owner>" in the hash `i` and
// its lease expiry in the sorted set `l`. A handle marks items done in the
// order it got them, so done items are always a batch's head (an LTRIM). Waiters register in the
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
-- Whether owner holds batch (the batch's info in hash info names it).
local function holds(info, batch, owner)
  local v = redis.call('HGET', info, batch)
  return v and select(2, split_info(v)) == owner
end
-- Forgets a batch whose list is gone (every item done or taken out).
local function forget_if_empty(key, info, leases, batch)
  if redis.call('EXISTS', key) == 0 then
    redis.call('HDEL', info, batch)
    redis.call('ZREM', leases, batch)
  end
end
-- Wakes every joiner when nothing is ready and no batch is leased.
local function wake_if_all_done(ready, leases, joiners, chan)
  if redis.call('LLEN', ready) == 0 and redis.call('ZCARD', leases) == 0 then
    wake_all(joiners, chan)
  end
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
 * Attaches to a queue: stores the options if the queue is new (and create
 * is '1'). KEYS: m. ARGV: create, field, value, ... (the options to store).
 * Returns the stored options as a flat field/value list (empty: no queue).
 */
export const ATTACH = `
if redis.call('EXISTS', KEYS[1]) == 0 and ARGV[1] == '1' then
  redis.call('HSET', KEYS[1], unpack(ARGV, 2))
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
if member ~= '' then
  if k < n then
    redis.call('ZADD', KEYS[4], now + tonumber(ARGV[3]), member)
  else
    redis.call('ZREM', KEYS[4], member)
  end
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
  if member ~= '' then redis.call('ZREM', KEYS[3], member) end
  return items
end
if member ~= '' then
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), member)
end
return -1
`;

/**
 * Gets items from a joinable queue: first batches whose lease expired
 * (delivered again, split if they hold more than asked for, or moved to the
 * dead-letter stream after max_deliveries), then new items as a new batch;
 * each batch is leased to the handle.
 * KEYS: m, q, wg, wp, l, n, dead, wj, i. ARGV: chan, member, reg_ms,
 * maxsize, max_items, max_bytes, handle, lease_ms, max_deliveries, prefix
 * (of the batch keys).
 * Returns "<batch>:<count>,..." then the items; or, when there is nothing,
 * the ms until the next lease expires (-1 if none).
 */
export const JGET = PRELUDE + `
if redis.call('EXISTS', KEYS[1]) == 0 then return no_queue() end
local chan, member, handle = ARGV[1], ARGV[2], ARGV[7]
local room, max_bytes = tonumber(ARGV[5]), tonumber(ARGV[6])
local lease, max_deliveries = tonumber(ARGV[8]), tonumber(ARGV[9])
local prefix = ARGV[10]
-- Batch ids carry the queue's nonce: a queue created anew (a server that lost
-- its data) never gives out an id a handle still holds from before.
local tag = string.sub(redis.call('HGET', KEYS[1], 'nonce') or '', 1, 8) .. '.'
local now = now_ms()
local groups, out, size, dead = {}, {''}, 0, 0
local function full()
  return room <= 0 or (max_bytes >= 0 and #groups > 0 and size >= max_bytes)
end
-- How many of items fit the byte budget (at least one).
local function fit(items)
  if max_bytes < 0 then return #items end
  for i, item in ipairs(items) do
    size = size + #item
    if size >= max_bytes then return i end
  end
  return #items
end
local function forget(batch)
  redis.call('DEL', prefix .. batch)
  redis.call('HDEL', KEYS[9], batch)
  redis.call('ZREM', KEYS[5], batch)
end
local function hand_out(batch, items, n, d)
  redis.call('HSET', KEYS[9], batch, d .. ':' .. handle)
  redis.call('ZADD', KEYS[5], now + lease, batch)
  groups[#groups + 1] = batch .. ':' .. n
  for i = 1, n do out[#out + 1] = items[i] end
  room = room - n
end
while not full() do
  local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT',
    0, 1)
  if #expired == 0 then break end
  local batch = expired[1]
  local key = prefix .. batch
  local v = redis.call('HGET', KEYS[9], batch)
  local len = redis.call('LLEN', key)
  if not v or len == 0 then
    forget(batch)
  else
    local d, owner = split_info(v)
    if d >= max_deliveries then
      for _, item in ipairs(redis.call('LRANGE', key, 0, -1)) do
        redis.call('XADD', KEYS[7], '*', 'd', item, 'batch', batch,
          'deliveries', d, 'owner', owner)
      end
      dead = dead + len
      forget(batch)
    else
      local items = redis.call('LRANGE', key, 0, room - 1)
      local n = fit(items)
      if n == len then
        hand_out(batch, items, n, d + 1)
      else
        -- A part: it becomes a batch of its own; the rest stays expired
        -- and no longer belongs to the old holder.
        local part = tag .. redis.call('INCR', KEYS[6])
        redis.call('LTRIM', key, n, -1)
        for i = 1, n, 1000 do
          redis.call('RPUSH', prefix .. part,
            unpack(items, i, math.min(i + 999, n)))
        end
        redis.call('HSET', KEYS[9], batch, d .. ':')
        hand_out(part, items, n, d + 1)
      end
    end
  end
end
local fresh = 0
if not full() then
  local budget = -1
  if max_bytes >= 0 then budget = math.max(0, max_bytes - size) end
  local items = take(KEYS[2], room, budget)
  if #items > 0 then
    local batch = tag .. redis.call('INCR', KEYS[6])
    local key = prefix .. batch
    for i = 1, #items, 1000 do
      redis.call('RPUSH', key, unpack(items, i, math.min(i + 999, #items)))
    end
    hand_out(batch, items, #items, 1)
    fresh = #items
  end
end
if fresh > 0 and tonumber(ARGV[4]) > 0 then wake(KEYS[4], chan, fresh, now) end
if dead > 0 then wake_if_all_done(KEYS[2], KEYS[5], KEYS[8], chan) end
if #groups > 0 then
  if member ~= '' then redis.call('ZREM', KEYS[3], member) end
  out[1] = table.concat(groups, ',')
  return out
end
if member ~= '' then
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), member)
end
local next = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
if #next == 0 then return -1 end
return math.max(0, tonumber(next[2]) - now)
`;

/**
 * Marks items of a joinable queue done: the first `count` items of each
 * batch the handle still holds (a batch delivered again since is left to
 * its new holder); wakes the joiners when nothing is left.
 * KEYS: m, q, l, wj, i. ARGV: chan, handle, prefix, batch, count, ...
 * Returns how many were marked.
 */
export const DONE = PRELUDE + `
if redis.call('EXISTS', KEYS[1]) == 0 then return no_queue() end
local marked = 0
for i = 4, #ARGV, 2 do
  local batch, count = ARGV[i], tonumber(ARGV[i + 1])
  if holds(KEYS[5], batch, ARGV[2]) then
    local key = ARGV[3] .. batch
    redis.call('LTRIM', key, count, -1)
    marked = marked + count
    forget_if_empty(key, KEYS[5], KEYS[3], batch)
  end
end
wake_if_all_done(KEYS[2], KEYS[3], KEYS[4], ARGV[1])
return marked
`;

/**
 * Whether every item is done; registers the joiner if not.
 * KEYS: m, q, l, wj. ARGV: member ('' = do not wait), reg_ms.
 * Returns 1 (all done) or 0.
 */
export const JOIN = PRELUDE + `
if redis.call('EXISTS', KEYS[1]) == 0 then return no_queue() end
if redis.call('LLEN', KEYS[2]) == 0 and redis.call('ZCARD', KEYS[3]) == 0 then
  if ARGV[1] ~= '' then redis.call('ZREM', KEYS[4], ARGV[1]) end
  return 1
end
if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[4], now_ms() + tonumber(ARGV[2]), ARGV[1])
end
return 0
`;

/**
 * Extends the leases of the batches a handle holds (those still its own).
 * KEYS: m, i, l. ARGV: handle, lease_ms, batches...
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
 * Gives the batches a handle holds back for another delivery at once (a
 * handle that closes, or a get whose caller had gone: then the delivery
 * does not count, undelivered '1').
 * KEYS: m, i, l, wg. ARGV: chan, handle, undelivered, batches...
 * Returns how many were given back.
 */
export const RELEASE = PRELUDE + `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local ids = owned(KEYS[2], ARGV[2], 4)
local l = {}
for _, id in ipairs(ids) do
  l[#l + 1] = 0
  l[#l + 1] = id
  if ARGV[3] == '1' then
    local d = split_info(redis.call('HGET', KEYS[2], id))
    redis.call('HSET', KEYS[2], id, math.max(0, d - 1) .. ':' .. ARGV[2])
  end
end
for i = 1, #l, 1000 do
  redis.call('ZADD', KEYS[3], 'XX', unpack(l, i, math.min(i + 999, #l)))
end
if #ids > 0 then wake(KEYS[4], ARGV[1], #ids, now_ms()) end
return #ids
`;

/**
 * Takes the items of a put whose call had ended out of the queue again,
 * those no consumer got yet (the newest equal bytes).
 * KEYS: m, q, wp. ARGV: chan, maxsize, items...
 * Returns how many were taken out.
 */
export const UNPUT = PRELUDE + `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local removed = 0
for i = #ARGV, 3, -1 do
  removed = removed + redis.call('LREM', KEYS[2], -1, ARGV[i])
end
if removed > 0 and tonumber(ARGV[2]) > 0 then
  wake(KEYS[3], ARGV[1], removed, now_ms())
end
return removed
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
 * Moves items that cannot be decoded to the dead-letter stream; a joinable
 * queue also takes them out of their batch (by position, last first), if
 * the handle still holds it.
 * KEYS: m, dead, q, wj, i, l. ARGV: chan, reason, prefix, token, handle,
 * then batch, index, item, ... (batch '' for a plain queue's item).
 */
export const BURY = PRELUDE + `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 6, #ARGV, 3 do
  local batch, index, item = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  redis.call('XADD', KEYS[2], '*', 'd', item, 'batch', batch, 'error',
    ARGV[2])
  local key = ARGV[3] .. batch
  if batch ~= '' and holds(KEYS[5], batch, ARGV[5])
      and redis.call('LLEN', key) > index then
    redis.call('LSET', key, index, ARGV[4])
    redis.call('LREM', key, 1, ARGV[4])
    forget_if_empty(key, KEYS[5], KEYS[6], batch)
  end
end
wake_if_all_done(KEYS[3], KEYS[6], KEYS[4], ARGV[1])
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

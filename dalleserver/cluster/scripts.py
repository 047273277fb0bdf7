"""The Lua scripts that change the shared state of runs. Each runs atomically in Redis, so
"queue it unless it is queued or running" and "show it done and free the key" are one step
for every instance, as the job manager's lock makes them one step within a process.

A run has an id (its ``run`` field); a script that changes a run checks it, so a late write
of an older run never overwrites a newer one. Every change publishes ``change <member>`` on
the deployment's channel.
"""

from __future__ import annotations

# KEYS: marker, run, queued, stream, tickets
# ARGV: run id, member, queued JSON, queue size, instance, channel, then the entry's fields
# {'done'}: the last run made the picture (unless forced): another instance may not see the
# file yet on a shared filesystem, and it must not be made twice
ENQUEUE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return {'active'} end
if ARGV[9] ~= '1' and redis.call('HGET', KEYS[2], 'made') == '1' then return {'done'} end
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[4]) then return {'full'} end
local ticket = redis.call('INCR', KEYS[5])
local id = redis.call('XADD', KEYS[4], '*', 'run', ARGV[1], 'series', ARGV[7],
  'address', ARGV[8], 'force', ARGV[9], 'name', ARGV[10], 'options', ARGV[11],
  'request', ARGV[12])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'run', ARGV[1], 'state', 'queued', 'body', ARGV[3],
  'instance', ARGV[5], 'entry', id)
redis.call('ZADD', KEYS[3], ticket, ARGV[2])
redis.call('PUBLISH', ARGV[6], 'change ' .. ARGV[2])
return {'queued', id}
"""

# KEYS: marker, run, queued, running, stream
# ARGV: run id, member, running JSON, instance, entry id, group, channel
# 0: the run was cancelled or replaced meanwhile (its entry is acknowledged and dropped)
BEGIN = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  redis.pcall('XACK', KEYS[5], ARGV[6], ARGV[5])
  redis.pcall('XDEL', KEYS[5], ARGV[5])
  return 0
end
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('HSET', KEYS[2], 'run', ARGV[1], 'state', 'running', 'body', ARGV[3],
  'instance', ARGV[4], 'entry', ARGV[5])
redis.call('PERSIST', KEYS[2])
redis.call('PUBLISH', ARGV[7], 'change ' .. ARGV[2])
return 1
"""

# KEYS: run
# ARGV: run id, JSON, channel, member, "1" to publish
UPDATE = """
if redis.call('HGET', KEYS[1], 'run') ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'body', ARGV[2])
if ARGV[5] == '1' then redis.call('PUBLISH', ARGV[3], 'change ' .. ARGV[4]) end
return 1
"""

# KEYS: marker, run, running, stream
# ARGV: run id, member, final JSON, retention ms, group, entry id, instance, channel,
#       "1" when the run made its picture
FINISH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
local current = redis.call('HGET', KEYS[2], 'run')
if current == false or current == ARGV[1] then
  redis.call('SREM', KEYS[3], ARGV[2])
  redis.call('HSET', KEYS[2], 'run', ARGV[1], 'state', 'done', 'body', ARGV[3],
    'instance', ARGV[7], 'made', ARGV[9])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  redis.call('PUBLISH', ARGV[8], 'change ' .. ARGV[2])
end
if ARGV[6] ~= '' then
  redis.pcall('XACK', KEYS[4], ARGV[5], ARGV[6])
  redis.pcall('XDEL', KEYS[4], ARGV[6])
end
return 1
"""

# KEYS: marker, run, queued, stream
# ARGV: member, cancelled JSON, retention ms, channel
# {'cancelled'}, {'running', run id, instance} (the owner is asked to stop it), {'none'}
CANCEL = """
local id = redis.call('GET', KEYS[1])
if not id then return {'none'} end
local fields = redis.call('HMGET', KEYS[2], 'run', 'state', 'instance', 'entry')
if fields[1] ~= id then return {'none'} end
if fields[2] == 'running' then return {'running', id, fields[3]} end
if fields[2] ~= 'queued' then return {'none'} end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.pcall('XDEL', KEYS[4], fields[4])
redis.call('HSET', KEYS[2], 'state', 'done', 'body', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], 'change ' .. ARGV[1])
return {'cancelled'}
"""

# After the store lost its data: put a run this instance is performing back, unless a
# newer run of the key was queued meanwhile.
# KEYS: marker, run, running   ARGV: run id, member, JSON, instance, entry id
REASSERT = """
local id = redis.call('GET', KEYS[1])
if id and id ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('HSET', KEYS[2], 'run', ARGV[1], 'state', 'running', 'body', ARGV[3],
  'instance', ARGV[4], 'entry', ARGV[5])
redis.call('PERSIST', KEYS[2])
return 1
"""

# The generation lock. KEYS: lock   ARGV: token, ttl ms
# Renewing puts back a lock the store lost (a restart without persistence): its owner
# still runs the generation.
RENEW_LOCK = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# A token bucket on the store's clock, shared by every instance.
# KEYS: bucket   ARGV: capacity, refill per second, "1" to take a token, ttl ms
# Returns the level (after taking) as a string.
RATE = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local capacity, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(saved[1]) or capacity
local stamp = tonumber(saved[2]) or now
local level = math.min(capacity, tokens + math.max(now - stamp, 0) * rate)
if ARGV[3] == '1' then
  level = math.max(level - 1, 0)
  redis.call('HSET', KEYS[1], 'tokens', tostring(level), 'stamp', tostring(now))
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return tostring(level)
"""

"""Lua shared by the Redis scripts of gateway.state."""

# Sets `now`, in milliseconds, from the Redis server's clock: every replica's decisions are
# timed by one clock, whatever the replicas' own clocks say.
NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

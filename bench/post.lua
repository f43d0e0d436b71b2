-- wrk: repeat one POST whose body, content type and headers bench/run.py gives in the
-- environment (BENCH_BODY is a file, read once).
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE")
for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end

-- A body holding "{n}" gets a counter there, so each request differs: the gateway remembers
-- a media id per URL (and per file hash), and the same URL sent again would be answered
-- from that memory without an upstream call. The clock in front keeps a
-- run from repeating the URLs of the warm-up run before it.
-- A header holding "{n}" (an Idempotency-Key) gets it too: each request a new key.
local keyed = {}
for name, value in pairs(wrk.headers) do
  if value:find("{n}", 1, true) then keyed[name] = value end
end
if wrk.body:find("{n}", 1, true) or next(keyed) ~= nil then
  local template, n = wrk.body, 0
  local run = tostring(os.time())  -- a run lasts at least a second, its warm-up too
  request = function()
    n = n + 1
    local id = run .. "-" .. n
    for name, value in pairs(keyed) do
      wrk.headers[name] = (value:gsub("{n}", id))
    end
    return wrk.format(nil, nil, nil, (template:gsub("{n}", id)))
  end
end

-- wrk script for bench/guard_load.sh: POSTs one chat request and checks every reply.
-- Arguments after `--`: BODY_FILE (the request JSON), MARKER (text the 200 reply must contain) and,
-- optionally, `close` to send `Connection: close` (a new TCP connection per request).
-- At the end prints one line, `WRKJSON {...}`, with wrk's summary, latency percentiles (µs)
-- and the reply checks summed over the threads.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
  expected = args[2]
  if args[3] == "close" then wrk.headers["Connection"] = "close" end
  ok, non200, mismatch = 0, 0, 0
  first_bad = ""
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 200) end
  elseif not string.find(body, expected, 1, true) then
    mismatch = mismatch + 1
    if first_bad == "" then first_bad = "200 " .. string.sub(body or "", 1, 200) end
  else
    ok = ok + 1
  end
end

local function jstr(s)
  s = string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local n_ok, n_non200, n_mismatch, bad = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    n_ok = n_ok + t:get("ok")
    n_non200 = n_non200 + t:get("non200")
    n_mismatch = n_mismatch + t:get("mismatch")
    if bad == "" then bad = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"stdev":%.1f,"min":%d,"max":%d,"p50":%d,"p90":%d,"p99":%d},' ..
    '"checked_ok":%d,"non200":%d,"mismatch":%d,"first_bad":%s}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.min, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    n_ok, n_non200, n_mismatch, jstr(bad)))
end

-- wrk script for the ingest benchmark: POSTs one valid event (ts = now, increasing seq) per request.
-- wrk's Lua API has no per-connection hook, so each request picks a random sensor out of a pool as
-- large as the connection count (SENSORS, set by run.sh): with one request in flight per connection
-- that approximates "a random sensor per connection".
local sensors = tonumber(os.getenv("SENSORS") or "1000")
local prefix = os.getenv("SENSOR_PREFIX") or "wrk"
local counter = 0
thread_id = 0 -- replaced per thread by setup() through thread:set
local last_second = -1
local ts = ""
local headers = { ["Content-Type"] = "application/json" }

local threads = {}
function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + thread_id)
end

function request()
  local now = os.time()
  if now ~= last_second then
    last_second = now
    ts = os.date("!%Y-%m-%dT%H:%M:%S", now)
  end
  counter = counter + 1
  local sensor = prefix .. "-" .. math.random(0, sensors - 1)
  -- seq is unique per thread and increasing; the fraction keeps ts distinct within the second.
  local body = string.format('{"ts":"%s.%03dZ","seq":%d,"temperature":21.5,"ok":true}',
    ts, counter % 1000, thread_id * 1000000000000 + counter)
  return wrk.format("POST", "/v1/sensors/" .. sensor .. "/events", headers, body)
end

-- One machine-readable line for run.sh: requests, seconds, errors and latency percentiles in ms.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%d,"seconds":%.3f,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%.3f,"p99":%.3f,"p999":%.3f}\n',
    summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000))
end

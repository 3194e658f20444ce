-- wrk script for bench/api_verify.py: POSTs GraphQL requests read from a file
-- (one JSON body per line), each request a body picked at random, and prints
-- the run's figures as one JSON line prefixed with "WRK ".
--
--   wrk ... -s bench/api_verify.lua URL -- BODIES_FILE [API_KEY]

local bodies = {}
local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }

function init(args)
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = line
  end
  if args[2] and args[2] ~= "" then
    headers["Authorization"] = "Bearer " .. args[2]
  end
  -- Each thread has its own Lua state: give each its own sequence.
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

function request()
  return wrk.format("POST", nil, headers, bodies[math.random(#bodies)])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "duration_us": %d, "errors": %d, "non_2xx": %d, '
      .. '"p50_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.mean))
end

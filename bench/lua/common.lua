-- Shared by every wrk script: per-thread ids, GraphQL-aware error counting, and a one-line
-- JSON summary ("WRKJSON {...}") that bench/run.sh parses.
--
-- wrk counts only socket errors and non-2xx/3xx statuses as errors; a GraphQL error comes
-- back as HTTP 200 with an "errors" member, so response() looks for it.
local threads = {}
local nthreads = 0

function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  table.insert(threads, thread)
end

gql_errors = 0
non2xx = 0
last_error = ""

-- Returns true when the answer is a 200 without GraphQL errors.
function check(status, body)
  if status ~= 200 then
    non2xx = non2xx + 1
    last_error = string.sub(body or "", 1, 200)
    return false
  end
  if body and string.find(body, '"errors"', 1, true) then
    gql_errors = gql_errors + 1
    last_error = string.sub(body, 1, 200)
    return false
  end
  return true
end

function done(summary, latency, requests)
  local ge, bad, sample = 0, 0, ""
  for _, t in ipairs(threads) do
    ge = ge + (t:get("gql_errors") or 0)
    bad = bad + (t:get("non2xx") or 0)
    local le = t:get("last_error")
    if le and le ~= "" then sample = le end
  end
  local e = summary.errors
  sample = string.gsub(sample, '[%c"\\]', " ")
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"socket_errors":%d,"timeouts":%d,"http_errors":%d,"gql_errors":%d,"error_sample":"%s"}\n',
    summary.requests, summary.duration,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(90)),
    math.floor(latency:percentile(99)), math.floor(latency.max),
    e.connect + e.read + e.write, e.timeout, bad, ge, sample))
end

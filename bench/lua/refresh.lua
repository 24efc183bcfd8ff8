-- refresh, each request spending the token the previous answer handed out (rotation).
-- Each thread takes its share of the refresh tokens in BENCH_TOKENS (one per line; at least
-- one per connection) and keeps them in a queue: a request takes one, its answer puts the
-- new one back. wrk keeps one request in flight per connection, so the queue never runs dry
-- unless answers fail (then a request goes out with a spent token and counts as an error).
-- env: BENCH_LUA, BENCH_PATH, BENCH_TOKENS, BENCH_THREADS
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local queue, head, tail, path = {}, 1, 0
local headers = { ["content-type"] = "application/json" }
local fmt = '{"query":"mutation($t: String!) { refresh(refreshToken: $t) { accessToken refreshToken } }",' ..
  '"variables":{"t":"%s"}}'

function init(args)
  path = os.getenv("BENCH_PATH")
  local nth = tonumber(os.getenv("BENCH_THREADS"))
  local i = 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if line ~= "" then
      if i % nth == tid - 1 then
        tail = tail + 1
        queue[tail] = line
      end
      i = i + 1
    end
  end
end

function request()
  local token = "spent"
  if head <= tail then
    token = queue[head]
    queue[head] = nil
    head = head + 1
  end
  return wrk.format("POST", path, headers, string.format(fmt, token))
end

function response(status, headers, body)
  if check(status, body) then
    local t = string.match(body, '"refreshToken"%s*:%s*"([^"]+)"')
    if t then
      tail = tail + 1
      queue[tail] = t
    end
  end
end

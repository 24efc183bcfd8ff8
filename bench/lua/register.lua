-- register with a unique email and username per request: r<run>t<thread>n<counter>.
-- env: BENCH_LUA, BENCH_PATH, BENCH_RUN (unique per run), BENCH_PASSWORD
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local n, prefix, password, path = 0
local headers = { ["content-type"] = "application/json" }
function init(args)
  prefix = "r" .. os.getenv("BENCH_RUN") .. "t" .. tid .. "n"
  password = os.getenv("BENCH_PASSWORD")
  path = os.getenv("BENCH_PATH")
end

function request()
  n = n + 1
  local name = prefix .. n
  local body = string.format(
    '{"query":"mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",' ..
    '"variables":{"i":{"email":"%s@bench.test","username":"%s","password":"%s"}}}',
    name, name, password)
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body) check(status, body) end

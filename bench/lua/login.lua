-- login with the right password as a random one of BENCH_USERS seeded users (user0..userN-1).
-- env: BENCH_LUA, BENCH_PATH, BENCH_USERS, BENCH_PASSWORD
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local users, password, path
local headers = { ["content-type"] = "application/json" }
function init(args)
  users = tonumber(os.getenv("BENCH_USERS"))
  password = os.getenv("BENCH_PASSWORD")
  path = os.getenv("BENCH_PATH")
  math.randomseed(os.time() * 100 + tid)
end

function request()
  local body = string.format(
    '{"query":"mutation($i: LoginInput!) { login(input: $i) { accessToken } }",' ..
    '"variables":{"i":{"identifier":"user%d","password":"%s"}}}',
    math.random(0, users - 1), password)
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body) check(status, body) end

-- One fixed GraphQL query, optionally with a Bearer token: `me` and the bare-framework ceiling.
-- env: BENCH_LUA (this folder), BENCH_PATH, BENCH_QUERY, BENCH_TOKEN (optional)
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local req
function init(args)
  local headers = { ["content-type"] = "application/json" }
  local token = os.getenv("BENCH_TOKEN")
  if token and token ~= "" then headers["authorization"] = "Bearer " .. token end
  local body = '{"query":"' .. os.getenv("BENCH_QUERY") .. '"}'
  req = wrk.format("POST", os.getenv("BENCH_PATH"), headers, body)
end

function request() return req end
function response(status, headers, body) check(status, body) end

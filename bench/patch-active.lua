-- wrk script: PATCH /v2/<org>/Users/<a random member's id> with `replace active`, false and true
-- in turn (Okta's and Entra's way to suspend and restore a member); ids from the file BENCH_IDS.
dofile("bench/common.lua")
local counter = 0

function init(args)
  math.randomseed(os.time() * 1000 + thread_id)
  scim_headers()
  ids = read_lines(os.getenv("BENCH_IDS"))
  base = "/v2/" .. os.getenv("SCIM_ORG") .. "/Users/"
end

function request()
  counter = counter + 1
  local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":' ..
    '[{"op":"replace","path":"active","value":' .. tostring(counter % 2 == 0) .. '}]}'
  return wrk.format("PATCH", base .. ids[math.random(#ids)], nil, body)
end

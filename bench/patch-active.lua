-- wrk script: PATCH /v2/<org>/Users/<a random member's id> with `replace active`, false and true
-- in turn (Okta's and Entra's way to suspend and restore a member); ids from the file BENCH_IDS.
dofile("bench/common.lua")
local counter = 0

function init(args)
  members_init()
end

function request()
  counter = counter + 1
  local body = patch_body('{"op":"replace","path":"active","value":' .. tostring(counter % 2 == 0) .. '}')
  return wrk.format("PATCH", users .. "/" .. ids[math.random(#ids)], nil, body)
end

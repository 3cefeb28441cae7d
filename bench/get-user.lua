-- wrk script: GET /v2/<org>/Users/<a random member's id>, the ids read from the file BENCH_IDS
-- (one a line); SCIM_ORG and SCIM_KEY name the organization and its key.
dofile("bench/common.lua")

function init(args)
  members_init()
end

function request()
  return wrk.format("GET", users .. "/" .. ids[math.random(#ids)])
end

-- wrk script: GET /v2/<org>/Users/<a random member's id>, the ids read from the file BENCH_IDS
-- (one a line); SCIM_ORG and SCIM_KEY name the organization and its key.
dofile("bench/common.lua")

function init(args)
  math.randomseed(os.time() * 1000 + thread_id)
  scim_headers()
  ids = read_lines(os.getenv("BENCH_IDS"))
  base = "/v2/" .. os.getenv("SCIM_ORG") .. "/Users/"
end

function request()
  return wrk.format("GET", base .. ids[math.random(#ids)])
end

-- wrk script: GET /Users?filter=userName eq "<a random member>" in the organization of the
-- environment variables SCIM_ORG and SCIM_KEY; members are named by BENCH_TEMPLATE with "{}"
-- replaced by a number below BENCH_COUNT (what bench/ldap.sh or bench/run.sh imported). A
-- lookup that answers 2xx without exactly one member counts as a miss, reported as non2xx like
-- a failed status.
dofile("bench/common.lua")

function init(args)
  math.randomseed(os.time() * 1000 + thread_id)
  scim_headers()
  org = os.getenv("SCIM_ORG")
  template = os.getenv("BENCH_TEMPLATE")
  count = tonumber(os.getenv("BENCH_COUNT"))
end

function request()
  local name = template:gsub("{}", tostring(math.random(0, count - 1)))
  local filter = escape('userName eq "' .. name .. '"')
  return wrk.format("GET", "/v2/" .. org .. "/Users?filter=" .. filter)
end

function response(status, headers, body)
  if status < 300 and not body:find('"totalResults":%s*1,') then
    misses = misses + 1
  end
end

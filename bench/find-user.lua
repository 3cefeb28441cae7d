-- wrk script: GET /Users?filter=userName eq "<a random member>" in the organization of the
-- environment variables SCIM_ORG and SCIM_KEY; members are named by BENCH_TEMPLATE with "{}"
-- replaced by a number below BENCH_COUNT (what bench/ldap.sh or bench/run.sh imported). A
-- lookup that answers 2xx without exactly one member counts as a miss, reported as non2xx like
-- a failed status.
local threads = {}
local next_thread = 0
-- `thread_id` and `misses` are globals of each thread (a local here would shadow them).

function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_id", next_thread)
  thread:set("misses", 0)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + thread_id)
  wrk.method = "GET"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("SCIM_KEY")
  org = os.getenv("SCIM_ORG")
  template = os.getenv("BENCH_TEMPLATE")
  count = tonumber(os.getenv("BENCH_COUNT"))
end

local function escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  local name = template:gsub("{}", tostring(math.random(0, count - 1)))
  local filter = escape('userName eq "' .. name .. '"')
  return wrk.format(nil, "/v2/" .. org .. "/Users?filter=" .. filter)
end

function response(status, headers, body)
  if status < 300 and not body:find('"totalResults":%s*1,') then
    misses = misses + 1
  end
end

function done(summary, latency, requests)
  local missed = 0
  for _, thread in ipairs(threads) do
    missed = missed + thread:get("misses")
  end
  io.write(string.format("RESULT requests=%d duration_us=%d errors=%d non2xx=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status + missed, latency:percentile(50), latency:percentile(99)))
end

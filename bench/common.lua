-- Shared by bench/run.sh's wrk scripts, which load it with dofile("bench/common.lua") from the
-- repository root: numbered threads, reading a file of ids, URL escaping, PatchOp bodies, and the RESULT line
-- run.sh reads (requests, duration, socket errors, non-2xx answers, p50 and p99 in µs).
local threads = {}
local next_thread = 0
-- `thread_id` and `misses` are globals of each thread (a local here would shadow them).

function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_id", next_thread)
  thread:set("misses", 0)
  table.insert(threads, thread)
end

-- The lines of a file, e.g. the member ids run.sh collected, in order.
function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    table.insert(lines, line)
  end
  assert(#lines > 0, path .. " is empty")
  return lines
end

function escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function scim_headers()
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("SCIM_KEY")
  wrk.headers["Content-Type"] = "application/scim+json"
end

-- init() of the scripts that pick random members: a per-thread random seed, the SCIM headers,
-- the member ids from the file BENCH_IDS (`ids`) and the organization's Users path (`users`).
function members_init()
  math.randomseed(os.time() * 1000 + thread_id)
  scim_headers()
  ids = read_lines(os.getenv("BENCH_IDS"))
  users = "/v2/" .. os.getenv("SCIM_ORG") .. "/Users"
end

-- A PatchOp body with the given operations (JSON text).
function patch_body(operations)
  return '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[' ..
    operations .. ']}'
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

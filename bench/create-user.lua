-- wrk script: POST /Users with a unique userName per request (thread id + counter), to the
-- organization in the environment variables SCIM_ORG and SCIM_KEY.
local counter = 0
local next_thread = 0
-- `thread_id` is a global each thread's setup() sets (a local here would shadow it).

function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_id", next_thread)
end

function init(args)
  wrk.method = "POST"
  wrk.path = "/v2/" .. os.getenv("SCIM_ORG") .. "/Users"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("SCIM_KEY")
  wrk.headers["Content-Type"] = "application/scim+json"
end

function request()
  counter = counter + 1
  local name = string.format("%s-t%d-%d@example.com", os.getenv("SCIM_RUN") or "r", thread_id, counter)
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name ..
    '","displayName":"Bench Person","emails":[{"value":"' .. name .. '","primary":true}],"active":true}'
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d errors=%d non2xx=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99)))
end

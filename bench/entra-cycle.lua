-- wrk script: an Entra-style provisioning cycle. For each member in turn, as Entra does every 40
-- minutes: GET /Users?filter=userName eq "<name>" and then PATCH /Users/<id> replacing
-- displayName; two requests per member. Names are BENCH_TEMPLATE with "{}" replaced by the
-- member's number, ids the lines of BENCH_IDS in the same order (line n is member n-1).
dofile("bench/common.lua")
local counter = 0

function init(args)
  members_init()
  template = os.getenv("BENCH_TEMPLATE")
end

function request()
  counter = counter + 1
  if counter % 2 == 1 then
    member = math.random(#ids)
    local name = template:gsub("{}", tostring(member - 1))
    return wrk.format("GET", users .. "?filter=" .. escape('userName eq "' .. name .. '"'))
  end
  local body = patch_body('{"op":"Replace","path":"displayName","value":"Member ' .. (member - 1) ..
    ' (cycle ' .. thread_id .. '-' .. counter .. ')"}')
  return wrk.format("PATCH", users .. "/" .. ids[member], nil, body)
end

-- A lookup that answers without exactly one member counts as a miss (reported as non2xx).
function response(status, headers, body)
  if status < 300 and body:find("ListResponse", 1, true) and not body:find('"totalResults":%s*1,') then
    misses = misses + 1
  end
end

-- wrk script: PATCH /v2/<org>/Groups/<BENCH_GROUP>?excludedAttributes=members adding one member,
-- then removing it with `members[value eq "…"]` (Entra's form), one operation per request. The
-- members come from the file BENCH_IDS (none of them in the group at the start); each thread
-- takes its own of them in turn, so the threads never touch the same member. (A remove can
-- overtake its add on another connection of the thread: it is then a no-op, as is the add of a
-- member already there, and the member stays.)
dofile("bench/common.lua")
local counter = 0

function init(args)
  scim_headers()
  ids = read_lines(os.getenv("BENCH_IDS"))
  path = "/v2/" .. os.getenv("SCIM_ORG") .. "/Groups/" .. os.getenv("BENCH_GROUP") ..
    "?excludedAttributes=members"
end

function request()
  counter = counter + 1
  -- Requests 2k-1 and 2k add and remove this thread's k-th member (threads alternate).
  local k = math.floor((counter + 1) / 2)
  local id = ids[((2 * k + thread_id) % #ids) + 1]
  local op
  if counter % 2 == 1 then
    op = '{"op":"add","path":"members","value":[{"value":"' .. id .. '"}]}'
  else
    op = '{"op":"remove","path":"members[value eq \\"' .. id .. '\\"]"}'
  end
  return wrk.format("PATCH", path, nil, patch_body(op))
end

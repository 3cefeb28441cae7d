-- wrk script: the request on wrk's command line as it is, e.g. GET /version; only reports.
dofile("bench/common.lua")

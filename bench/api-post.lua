-- wrk script for bench:api: every request creates a rule with an input of its own.
local tid = 0
function setup(thread)
  thread:set("id", tid)
  tid = tid + 1
end
function init(args)
  token = args[1]
  n = 0
end
function request()
  n = n + 1
  local k = id * 100000 + n
  local body = string.format('{"input":{"interface":"bench0","group":"239.%d.%d.%d","port":%d},'
    .. '"outputs":[{"interface":"bench1","group":"239.255.0.1","port":6000}]}',
    100 + math.floor(k / 65536) % 100, math.floor(k / 256) % 256, k % 256, 2000 + id)
  return wrk.format("POST", "/api/v1/rules", { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)
end

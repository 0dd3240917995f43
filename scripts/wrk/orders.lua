-- Orders of one unit of the hot SKU, from many customers; counts answers by status in each thread.
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("TALLY_BENCH_KEY") }
local counts = {}
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function() counts = { created = 0, rejected = 0, other = 0 } end
request = function()
  local body = string.format('{"customer_id": "cus-%d", "lines": [{"sku": "HOT", "quantity": 1}]}', math.random(1, 100000))
  return wrk.format("POST", "/v1/orders", headers, body)
end
response = function(status)
  if status == 201 then counts.created = counts.created + 1
  elseif status == 409 then counts.rejected = counts.rejected + 1
  else counts.other = counts.other + 1 end
  wrk.thread:set("created", counts.created)
  wrk.thread:set("rejected", counts.rejected)
  wrk.thread:set("other", counts.other)
end
done = function()
  local created, rejected, other = 0, 0, 0
  for _, thread in ipairs(threads) do
    created = created + (thread:get("created") or 0)
    rejected = rejected + (thread:get("rejected") or 0)
    other = other + (thread:get("other") or 0)
  end
  io.write(string.format("orders_confirmed=%d orders_rejected=%d orders_other=%d\n", created, rejected, other))
end

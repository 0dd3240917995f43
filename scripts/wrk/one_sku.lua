-- Receipts of 1 unit on the SKU named by the environment (WRK_SKU); with WRK_STOP_AFTER set, each thread stops
-- after that many responses (to build a long stream of an exact length).
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("TALLY_BENCH_KEY") }
local sku = os.getenv("WRK_SKU")
local stop_after = tonumber(os.getenv("WRK_STOP_AFTER") or "0")
local seen = 0
local body = '{"quantity": 1, "reference": "bench"}'
request = function()
  return wrk.format("POST", "/v1/inventory/" .. sku .. "/receipts", headers, body)
end
response = function(status)
  seen = seen + 1
  if stop_after > 0 and seen >= stop_after then wrk.thread:stop() end
end

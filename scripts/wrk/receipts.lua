-- One-event commands: a stock receipt of 1 unit on a random SKU of BENCH-0000 .. BENCH-0999.
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("TALLY_BENCH_KEY") }
math.randomseed(os.time())
local body = '{"quantity": 1, "reference": "bench"}'
request = function()
  local path = string.format("/v1/inventory/BENCH-%04d/receipts", math.random(0, 999))
  return wrk.format("POST", path, headers, body)
end

-- wrk script: POST Open311 service requests with varied, realistic bodies.
-- The API key comes from the environment variable DOTHI_API_KEY (wrk reads os.getenv).
local key = os.getenv("DOTHI_API_KEY")
local streets = {"Lê Lợi", "Hùng Vương", "Trần Hưng Đạo", "Nguyễn Huệ", "Bà Triệu", "Phạm Văn Đồng"}
local states = {"off", "flicker", "day"}
local counter = 0

local function urlencode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

request = function()
  counter = counter + 1
  local lat = 16.455 + (counter % 97) * 0.0003
  local lon = 107.575 + (counter % 89) * 0.0003
  local body = "api_key=" .. key
    .. "&service_code=CSCC"
    .. "&lat=" .. string.format("%.5f", lat)
    .. "&long=" .. string.format("%.5f", lon)
    .. "&attribute%5Blamp_state%5D=" .. states[(counter % 3) + 1]
    .. "&description=" .. urlencode("Đèn đường " .. streets[(counter % 6) + 1] .. " không sáng, số " .. counter)
    .. "&email=" .. urlencode("nguoidan" .. counter .. "@example.vn")
  return wrk.format("POST", "/open311/v2/requests.json",
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end

done = function(summary, latency, requests)
  io.write(string.format("non2xx=%d\n", summary.errors.status))
end

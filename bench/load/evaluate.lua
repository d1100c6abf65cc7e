-- wrk script: POST /v1/evaluations with examples/acme-chat-8b.md as an inline document.
--   wrk -t2 -c32 -d20s -s bench/load/evaluate.lua http://127.0.0.1:8080 [-- dry]
-- Argument "dry" (or env DRY_RUN=1) posts to /v1/evaluations?dry_run=true (nothing recorded).
-- Env CARD overrides the document (default examples/acme-chat-8b.md, relative to the cwd).
-- Env MODELGATE_KEY: the API key sent as `Authorization: Bearer`.
-- done() prints a summary plus one machine-readable line:
--   RESULT <requests/s> <p50 ms> <p99 ms> <errors> <requests>
-- where errors = non-2xx responses + socket errors (connect/read/write/timeout).

local function json_string(s)
  local out = s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"'
    elseif c == '\\' then return '\\\\'
    elseif c == '\n' then return '\\n'
    elseif c == '\r' then return '\\r'
    elseif c == '\t' then return '\\t'
    else return string.format('\\u%04x', c:byte()) end
  end)
  return '"' .. out .. '"'
end

local card = os.getenv("CARD") or "examples/acme-chat-8b.md"
local f = assert(io.open(card, "rb"), "cannot open " .. card)
local content = f:read("*a")
f:close()

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"document":{"format":"auto","content":' .. json_string(content) .. '}}'
wrk.path = "/v1/evaluations"
-- The API key (run.sh exports the server's first admin key).
local key = os.getenv("MODELGATE_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key:gsub("%s+$", "")
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  if args[1] == "dry" or os.getenv("DRY_RUN") == "1" then
    wrk.path = "/v1/evaluations?dry_run=true"
  end
  non2xx = 0
  first_bad = nil
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_bad == nil then first_bad = status .. " " .. body:sub(1, 200) end
  end
end

function done(summary, latency, requests)
  local bad, sample = 0, nil
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    sample = sample or t:get("first_bad")
  end
  local e = summary.errors
  local sock = e.connect + e.read + e.write + e.timeout
  local secs = summary.duration / 1e6
  local rps = summary.requests / secs
  local p50 = latency:percentile(50) / 1000
  local p99 = latency:percentile(99) / 1000
  io.write(string.format("requests %d in %.1fs: %.0f req/s, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    summary.requests, secs, rps, p50, latency:percentile(90) / 1000, p99, latency.max / 1000))
  io.write(string.format("non-2xx %d, socket errors %d (connect %d, read %d, write %d, timeout %d)\n",
    bad, sock, e.connect, e.read, e.write, e.timeout))
  if sample then io.write("first non-2xx: " .. sample .. "\n") end
  io.write(string.format("RESULT %.0f %.2f %.2f %d %d\n", rps, p50, p99, bad + sock, summary.requests))
end

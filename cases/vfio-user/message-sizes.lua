-- SPDX-License-Identifier: MIT
-- message-sizes.lua - payload sizes of every command (short, empty,
-- trailing bytes), the argsz rules in requests and replies (including the
-- retry when the reply does not fit), and max_data_xfer_size.
--
-- Spec: vfio-user.rst "Message sizes", "Read and Write Operations", and
-- each command's request table; checklist ids VU-HDR-16, VU-DMA-MAP-01,
-- VU-INFO-*, VU-RINFO-03/08, VU-IRQI-02, VU-DMA-UNMAP-05, VU-RW-03
-- (research/vfio-user-assertions.md).

local SIZES = "vfio-user#message-sizes"
local RW_OPS = "vfio-user#read-and-write-operations"

local CAPS = { max_msg_fds = 8 }

local function still_serves(t)
	t:expect_success(vfio.msg("DEVICE_GET_INFO", { argsz = 16 }))
end

-- A valid command of each kind with a payload (DEVICE_RESET has none).
-- Fields are chosen to be legal on any PCI device: region 7 is config
-- space, IRQ index 0 is INTx, Interrupt Line (0x3c) is writeable.
local valid = {
	DMA_MAP = function()
		return vfio.msg("DMA_MAP", { flags = vfio.DMA_READ, addr = 0x100000,
		                             size = 4096 })
	end,
	DMA_UNMAP = function()
		return vfio.msg("DMA_UNMAP", { addr = 0x100000, size = 4096 })
	end,
	DEVICE_GET_INFO = function()
		return vfio.msg("DEVICE_GET_INFO", { argsz = 16 })
	end,
	DEVICE_GET_REGION_INFO = function()
		return vfio.msg("GET_REGION_INFO", { argsz = 32, index = 7 })
	end,
	DEVICE_GET_REGION_IO_FDS = function()
		return vfio.msg("GET_REGION_IO_FDS", { argsz = 16, index = 0 })
	end,
	DEVICE_GET_IRQ_INFO = function()
		return vfio.msg("GET_IRQ_INFO", { argsz = 16, index = 0 })
	end,
	DEVICE_SET_IRQS = function()
		-- DATA_NONE | ACTION_TRIGGER, INTx, nothing
		return vfio.msg("SET_IRQS", { flags = 1 | 32, index = 0,
		                              start = 0, count = 0 })
	end,
	REGION_READ = function()
		return vfio.msg("REGION_READ", { region = 7, offset = 0,
		                                 count = 4 })
	end,
	REGION_WRITE = function()
		return vfio.msg("REGION_WRITE", { region = 7, offset = 0x3c,
		                                  data = "\x0b" })
	end,
	REGION_WRITE_MULTI = function()
		return vfio.raw{
			command = "REGION_WRITE_MULTI",
			payload = string.pack("=I8I8I4I4", 1, 0x3c, 7, 1) ..
			          "\x0b" .. string.rep("\0", 7),
		}
	end,
	DEVICE_FEATURE = function()
		-- PROBE | GET of VFIO_DEVICE_FEATURE_MIGRATION (1)
		return vfio.msg("DEVICE_FEATURE", { argsz = 16,
		                                    flags = 1 | (1 << 16) |
		                                            (1 << 17) })
	end,
	MIG_DATA_READ = function()
		return vfio.msg("MIG_DATA_READ", { size = 0 })
	end,
	MIG_DATA_WRITE = function()
		return vfio.msg("MIG_DATA_WRITE", { data = "x" })
	end,
}

local function short_name(name)
	return (name:gsub("^DEVICE_", ""):lower():gsub("_", "-"))
end

-- The same command with the payload cut to @n bytes, msg_size telling
-- the truth about it.
local function cut(m, n)
	return vfio.raw{ command = m.command, flags = m.flags,
	                 payload = m.payload:sub(1, n) }
end

-- ---- payload sizes of every command -----------------------------------

-- "This structure is 32 bytes in size, so the message size is 16 + 32
-- bytes": a shorter DMA_MAP is no DMA_MAP.
case {
	id = "vfio-user/sizes/dma-map-short",
	spec = "vfio-user#vfio-user-dma-map/VU-DMA-MAP-01",
	level = "MUST",
	quote = [[This structure is 32 bytes in size, so the message size is 16 +
32 bytes.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		for _, n in ipairs({ 31, 24, 8, 0 }) do
			local _, kind = t:expect_refusal(cut(valid.DMA_MAP(), n))
			if kind == "hangup" then
				return
			end
		end
		still_serves(t)
	end,
}

-- Every other command: a payload one byte short of its fixed part, and
-- none at all. The spec gives no errno; the server must not read past
-- the message (ASan), crash or stop answering.
for _, r in ipairs(vfio.rules()) do
	local make = valid[r.name:gsub("^VFIO_USER_", "")]
	if r.dir == "client-to-server" and r.req.fixed > 0 and make and
	   r.name ~= "VFIO_USER_DMA_MAP" then
		local name = short_name(r.name:gsub("^VFIO_USER_", ""))
		for _, v in ipairs({ { "short", r.req.fixed - 1 },
		                     { "empty", 0 } }) do
			case {
				id = "vfio-user/sizes/" .. v[1] .. "-payload-" .. name,
				spec = r.anchor .. "/VU-HDR-16",
				level = "ROBUST",
				quote = [[Standard tools and mechanisms should be used on
both sides to validate input and prevent against denial of service scenarios,
buffer overflow, etc.]],
				needs = { handshake = true,
				          caps = { max_msg_fds = 8,
				                   write_multiple = true } },
				run = function(t)
					local _, kind = t:expect_robust(
						cut(make(), v[2]))
					if kind ~= "hangup" then
						still_serves(t)
					end
				end,
			}
		end
	end
end

-- Bytes past a fixed-size payload: whatever the server makes of them,
-- the next message must still be framed at msg_size.
for _, r in ipairs(vfio.rules()) do
	local make = valid[r.name:gsub("^VFIO_USER_", "")]
	if r.dir == "client-to-server" and r.req.rule == "exact" and make then
		local name = short_name(r.name:gsub("^VFIO_USER_", ""))
		case {
			id = "vfio-user/sizes/trailing-bytes-" .. name,
			spec = r.anchor .. "/VU-HDR-16",
			level = "ROBUST",
			quote = [[* *Message size* contains the size of the entire
message, including the header.]],
			needs = { handshake = true, caps = CAPS },
			run = function(t)
				local m = make()
				local long = vfio.raw{
					command = m.command,
					payload = m.payload .. string.rep("\xee", 8),
				}
				local info = vfio.msg("DEVICE_GET_INFO", { argsz = 16 })
				t:send_many{ long, info }
				local got, why = {}, nil
				for _ = 1, 2 do
					local x, w = t:recv{}
					if not x then
						why = w
						break
					end
					got[#got + 1] = x
				end
				t:expect_alive()
				-- a hang-up is allowed; a reply out of step is not
				for _, x in ipairs(got) do
					t:check(x.msg_id == long.msg_id or
					        x.msg_id == info.msg_id,
					        "replies to the two commands sent",
					        x.text)
				end
				local last = got[#got]
				if last and last.msg_id == long.msg_id and
				   why ~= "hangup" then
					t:fail{ expected = "a reply to the DEVICE_GET_INFO " ..
					                   "after it",
					        actual = "none" }
				end
			end,
		}
	end
end

-- ---- argsz in requests --------------------------------------------------

-- DMA_MAP's argsz "is the size of the above structure": the request
-- payload is 32 bytes and argsz must say so. A server taking argsz as
-- the size reads more or less than what came.
local map_argsz = {
	{ "dma-map-argsz-zero", 0, "MUST" },
	{ "dma-map-argsz-small", 16, "MUST" },
	{ "dma-map-argsz-large", 64, "SHOULD" },
	{ "dma-map-argsz-huge", 0xffffffff, "SHOULD" },
}
for _, a in ipairs(map_argsz) do
	case {
		id = "vfio-user/sizes/" .. a[1],
		spec = "vfio-user#vfio-user-dma-map/VU-DMA-MAP-01",
		level = a[3],
		quote = [[* *argsz* is the size of the above structure. Note there is
no reply payload, so this field differs from other message types.]],
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			local m = valid.DMA_MAP()
			m.payload = string.pack("=I4", a[2]) .. m.payload:sub(5)
			local _, kind = t:expect_refusal(m)
			if kind ~= "hangup" then
				-- nothing was mapped
				t:expect_success(valid.DMA_MAP())
			end
		end,
	}
end

-- "In a request, it defines the maximum expected reply payload size,
-- which should be at least the size of the fixed reply payload headers":
-- below that, the reply cannot be built.
local small_argsz = {
	{ "get-info", function(a)
		return vfio.msg("DEVICE_GET_INFO", { argsz = a })
	end, 8, "vfio-user#vfio-user-device-get-info/VU-INFO-01" },
	{ "region-info", function(a)
		return vfio.msg("GET_REGION_INFO", { argsz = a, index = 7 })
	end, 16, "vfio-user#vfio-user-device-get-region-info/VU-RINFO-02" },
	{ "irq-info", function(a)
		return vfio.msg("GET_IRQ_INFO", { argsz = a, index = 0 })
	end, 8, "vfio-user#vfio-user-device-get-irq-info/VU-IRQI-02" },
	{ "dma-unmap", function(a)
		local m = vfio.msg("DMA_UNMAP", { addr = 0x100000, size = 4096 })
		m.payload = string.pack("=I4", a) .. m.payload:sub(5)
		return m
	end, 8, "vfio-user#vfio-user-dma-unmap/VU-DMA-UNMAP-05" },
}
-- argsz patched into the payload (a builder takes 0 as "the natural
-- size").
local function with_argsz(m, a)
	m.payload = string.pack("=I4", a) .. m.payload:sub(5)
	return m
end
for _, s in ipairs(small_argsz) do
	case {
		id = "vfio-user/sizes/" .. s[1] .. "-argsz-too-small",
		spec = s[4],
		level = "SHOULD",
		quote = [[In a request, it defines the maximum expected reply
payload size, which should be at least the size of the fixed reply payload
headers defined here.]],
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			if s[1] == "dma-unmap" then
				t:expect_success(valid.DMA_MAP())
			end
			t:expect_refusal(with_argsz(s[2](s[3]), s[3]))
			t:expect_refusal(with_argsz(s[2](s[3]), 0))
		end,
	}
end

-- "In a reply, the server sets argsz field to the size needed for a full
-- payload size": a generous request argsz does not make the reply
-- bigger.
case {
	id = "vfio-user/sizes/get-info-argsz-large",
	spec = "vfio-user#vfio-user-device-get-info/VU-INFO-02",
	level = "MUST",
	quote = [[* *argsz* is the size required for the full reply payload (16
bytes today)]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local r = t:expect_success(vfio.msg("DEVICE_GET_INFO",
		                                    { argsz = 4096 }))
		t:check(r.info and r.info.argsz == 16 and #r.payload == 16,
		        "argsz 16 and a 16-byte payload",
		        ("argsz %s, %d bytes"):format(
		         r.info and r.info.argsz or "?", #r.payload))
	end,
}

-- The region with capabilities (the first whose full reply is longer
-- than the 32-byte struct), or SKIP.
local function region_with_caps(t)
	local info = t:expect_success(vfio.msg("DEVICE_GET_INFO",
	                                       { argsz = 16 })).info
	for i = 0, math.min(info.num_regions, 64) - 1 do
		local r, kind = t:call(vfio.msg("GET_REGION_INFO",
		                                { argsz = 4096, index = i }))
		if r and kind == "ack" and r.region and r.region.argsz > 32 then
			return i, r.region.argsz
		end
	end
	t:skip("no region has capabilities (a reply longer than 32 bytes)")
end

-- "This may be larger than the requested maximum size: in that case, the
-- full payload is not included in the reply, but the argsz field in the
-- reply indicates the needed size, allowing a client to allocate a larger
-- buffer for holding the reply before trying again."
case {
	id = "vfio-user/sizes/region-info-retry",
	spec = SIZES .. "/VU-RINFO-03",
	level = "MUST",
	quote = [[This may be
larger than the requested maximum size: in that case, the full payload is not
included in the reply, but the ``argsz`` field in the reply indicates the needed
size]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local index, full = region_with_caps(t)
		local r = t:expect_success(vfio.msg("GET_REGION_INFO",
		                                    { argsz = 32, index = index }))
		t:check(#r.payload <= 32, "at most the 32 bytes asked for",
		        #r.payload .. " bytes")
		t:check(r.region.argsz == full, "argsz " .. full ..
		        " (the size needed)", r.region.argsz)
		t:check(r.region.flags & 8 == 0 or #r.payload > 32,
		        "no CAPS flag without the capabilities",
		        ("flags 0x%x"):format(r.region.flags))
		-- the retry with what the server asked for
		r = t:expect_success(vfio.msg("GET_REGION_INFO",
		                              { argsz = full, index = index }))
		t:check(#r.payload == full and r.region.argsz == full,
		        full .. " bytes with argsz " .. full,
		        #r.payload .. " bytes, argsz " .. r.region.argsz)
	end,
}

-- A huge argsz is a limit, not a size: the reply is what is needed.
case {
	id = "vfio-user/sizes/region-info-argsz-huge",
	spec = SIZES .. "/VU-RINFO-08",
	level = "MUST",
	quote = [[In a reply, the server sets ``argsz`` field to the size needed
for a full payload size. This may be less than the requested maximum size.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local info = t:expect_success(vfio.msg("DEVICE_GET_INFO",
		                                       { argsz = 16 })).info
		for i = 0, math.min(info.num_regions, 16) - 1 do
			local r, kind = t:call(vfio.msg("GET_REGION_INFO", {
				argsz = 0xffffffff, index = i }))
			if not r then
				t:fail{ expected = "a reply for region " .. i,
				        actual = kind }
			end
			if kind == "ack" then
				t:check(#r.payload == r.region.argsz,
				        "a payload of argsz bytes (" ..
				        r.region.argsz .. ")", #r.payload)
			end
		end
	end,
}

-- ---- max_data_xfer_size ---------------------------------------------------

-- A readable and writeable region of at least 8 KiB, or SKIP.
local function big_region(t)
	local info = t:expect_success(vfio.msg("DEVICE_GET_INFO",
	                                       { argsz = 16 })).info
	for i = 0, math.min(info.num_regions, 64) - 1 do
		local r, kind = t:call(vfio.msg("GET_REGION_INFO",
		                                { argsz = 32, index = i }))
		if r and kind == "ack" and r.region and
		   r.region.size >= 8192 and r.region.flags & 3 == 3 then
			return i
		end
	end
	t:skip("no readable and writeable region of 8 KiB or more")
end

-- "The count field must not exceed the value of max_data_xfer_size of the
-- peer": the client said 4096, so 4097 is refused, 4096 served.
for _, dir in ipairs({ "read", "write" }) do
	case {
		id = "vfio-user/sizes/region-" .. dir .. "-above-max-xfer",
		spec = RW_OPS .. "/VU-RW-03",
		level = "MUST",
		quote = [[The ``count`` field must not exceed the value of
``max_data_xfer_size`` of the peer, for both reads and writes.]],
		run = function(t)
			vfio.version(t, { max_msg_fds = 8,
			                  max_data_xfer_size = 4096 })
			local i = big_region(t)
			local m = dir == "read" and
				vfio.msg("REGION_READ", { region = i, count = 4097 }) or
				vfio.msg("REGION_WRITE", { region = i,
				                           data = string.rep("\0",
				                                             4097) })
			t:expect_refusal(m)
		end,
	}
end

case {
	id = "vfio-user/sizes/region-read-at-max-xfer",
	spec = RW_OPS .. "/VU-RW-03",
	level = "SHOULD",
	quote = [[The ``count`` field must not exceed the value of
``max_data_xfer_size`` of the peer, for both reads and writes.]],
	run = function(t)
		local v = vfio.version(t, { max_msg_fds = 8,
		                            max_data_xfer_size = 4096 })
		local max = v.caps and v.caps.max_data_xfer_size or 1048576
		local i = big_region(t)
		local n = math.min(4096, max)
		local r = t:expect_success(vfio.msg("REGION_READ", {
			region = i, count = n }))
		t:check(r.data and #r.data == n, n .. " bytes read",
		        r.data and #r.data)
	end,
}

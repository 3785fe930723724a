-- SPDX-License-Identifier: MIT
-- region-io.lua - device region access: VFIO_USER_REGION_READ / _WRITE at
-- and past the bounds, VFIO_USER_REGION_WRITE_MULTI, and the server's own
-- accesses to client memory that a region write starts (the DMA engine
-- of the reference device: VFIO_USER_DMA_READ / _WRITE on the main socket,
-- or the client's shared memory).
--
-- Spec: vfio-user.rst "Read and Write Operations", "VFIO_USER_REGION_READ",
-- "VFIO_USER_REGION_WRITE", "VFIO_USER_REGION_WRITE_MULTI",
-- "VFIO_USER_DMA_READ", "VFIO_USER_DMA_WRITE", "Command Concurrency".
-- The spec anchor of each case ends in the id of the assertion of
-- research/vfio-user-assertions.md it checks (anchor/VU-...).
--
-- Replies are judged by vfio_user_check_reply(): a READ reply echoes
-- offset, region and count and carries exactly count bytes; a WRITE reply
-- is the 16-byte struct without data.
--
-- Cases that drive the DMA engine or read back device registers need the
-- reference device's register map (reference-backend/vfio/device.h); they
-- SKIP on other devices, found by BAR0's ID register ("VUC1").

local RW = "vfio-user#read-and-write-operations"
local READ = "vfio-user#vfio-user-region-read"
local WRITE = "vfio-user#vfio-user-region-write"
local MULTI = "vfio-user#vfio-user-region-write-multi"

local FLAG_READ, FLAG_WRITE = 1, 2
local CONFIG = 7
local PCI_INTERRUPT_LINE = 0x3c

-- Reference device: BAR0 registers.
local BAR0, BAR2 = 0, 2
local REG_ID, REG_STATUS, REG_DMA_SRC = 0x00, 0x04, 0x08
local REG_DMA_RESULT, REG_SCRATCH, REG_DMA_COUNT = 0x20, 0x28, 0x30
local STATUS_DONE, STATUS_ERROR = 1, 2

local function device_info(t)
	return t:expect_success(vfio.msg("DEVICE_GET_INFO")).info
end

local function region_info(t, index)
	return t:expect_success(vfio.msg("GET_REGION_INFO",
	                                 { index = index, argsz = 4096 })).region
end

-- Every region: { index, size, flags }.
local function regions(t)
	local list = {}
	for index = 0, device_info(t).num_regions - 1 do
		local r = region_info(t, index)
		list[#list + 1] = { index = index, size = r.size, flags = r.flags }
	end
	return list
end

-- The regions with all of @flags and at least @min bytes, or SKIP.
local function regions_with(t, flags, min)
	local list = {}
	for _, r in ipairs(regions(t)) do
		if r.flags & flags == flags and r.size >= min then
			list[#list + 1] = r
		end
	end
	if #list == 0 then
		t:skip("no region with flags 0x" .. ("%x"):format(flags) ..
		       " and " .. min .. " bytes")
	end
	return list
end

local function read(t, region, offset, count)
	local r = t:expect_success(vfio.msg("REGION_READ", {
		region = region, offset = offset, count = count }))
	return r.data
end

local function write(t, region, offset, data)
	t:expect_success(vfio.msg("REGION_WRITE", {
		region = region, offset = offset, data = data }))
end

local function u32(s)
	return (string.unpack("<I4", s))
end

-- SKIP unless the target is the reference device (BAR0 ID "VUC1").
local function need_ref_device(t)
	local r = t:call(vfio.msg("REGION_READ",
	                          { region = BAR0, offset = REG_ID, count = 4 }))
	if not r or r.is_error or r.data ~= "VUC1" then
		t:skip("needs the reference device's register map (BAR0 ID " ..
		       "\"VUC1\")")
	end
end

-- A region READ / WRITE message with its payload as given (lies kept).
local function raw(command, payload)
	return vfio.raw{ command = command, payload = payload }
end

-- ---- bounds ------------------------------------------------------------

-- VU-RW-05: the first and the last four bytes of every readable region
-- are inside it: both reads succeed with exactly four bytes.
case {
	id = "vfio-user/region-io/read-first-and-last-bytes",
	spec = READ .. "/VU-RW-05",
	level = "MUST",
	quote = [[* *count* is the size of the data transferred.
* *data* is the data that was read from the device region.]],
	needs = { handshake = true },
	run = function(t)
		for _, r in ipairs(regions_with(t, FLAG_READ, 4)) do
			read(t, r.index, 0, 4)
			read(t, r.index, r.size - 4, 4)
		end
	end,
}

-- VU-RW-05: a larger read of config space: its header, all of it.
case {
	id = "vfio-user/region-io/read-config-header",
	spec = READ .. "/VU-RW-05",
	level = "MUST",
	quote = [[* *data* is the data that was read from the device region.]],
	needs = { handshake = true },
	run = function(t)
		local data = read(t, CONFIG, 0, 64)
		local vendor = string.unpack("<I2", data)
		t:check(vendor ~= 0xffff and vendor ~= 0,
		        "a PCI vendor id at config offset 0",
		        ("0x%04x"):format(vendor))
	end,
}

-- VU-RW-02: reads and writes that end past the region, start at its end,
-- start far beyond it, or whose offset + count wraps past 2^64 (seeded
-- bug offset-wrap: the sum wraps and the access is served).
local OUT_OF_RANGE = {
	{ "read-past-end", "REGION_READ", function(size) return size - 2, 4 end },
	{ "read-at-end", "REGION_READ", function(size) return size, 1 end },
	{ "read-offset-huge", "REGION_READ",
	  function() return 1 << 62, 4 end },
	{ "read-offset-wrap", "REGION_READ", function() return -4, 8 end },
	{ "read-offset-max", "REGION_READ", function() return -1, 1 end },
	{ "write-past-end", "REGION_WRITE",
	  function(size) return size - 2, 4 end },
	{ "write-at-end", "REGION_WRITE", function(size) return size, 1 end },
	{ "write-offset-wrap", "REGION_WRITE", function() return -4, 8 end },
}
for _, o in ipairs(OUT_OF_RANGE) do
	local name, cmd, where = o[1], o[2], o[3]
	case {
		id = "vfio-user/region-io/" .. name,
		spec = RW .. "/VU-RW-02",
		level = "MUST",
		quote = [[* *offset* into the region being accessed.
* *region* is the index of the region being accessed.
* *count* is the size of the data to be transferred.]],
		needs = { handshake = true },
		run = function(t)
			local flag = cmd == "REGION_READ" and FLAG_READ or
			             FLAG_WRITE
			for _, r in ipairs(regions_with(t, flag, 4)) do
				local offset, count = where(r.size)
				local m
				if cmd == "REGION_READ" then
					m = raw(cmd, string.pack("<i8I4I4", offset,
					                         r.index, count))
				else
					m = raw(cmd, string.pack("<i8I4I4", offset,
					                         r.index, count) ..
					             string.rep("\0", count))
				end
				t:expect_refusal(m)
				t:expect_alive()
			end
		end,
	}
end

-- VU-RW-01: regions that do not exist.
for _, v in ipairs({ { "read-region-past-end", "REGION_READ", 0 },
                     { "write-region-past-end", "REGION_WRITE", 0 },
                     { "read-region-max", "REGION_READ", 0xffffffff } }) do
	local name, cmd, fixed = v[1], v[2], v[3]
	case {
		id = "vfio-user/region-io/" .. name,
		spec = RW .. "/VU-RW-01",
		level = "MUST",
		quote = [[* *region* is the index of the region being accessed.]],
		needs = { handshake = true },
		run = function(t)
			local index = fixed ~= 0 and fixed or
			              device_info(t).num_regions
			local p = string.pack("<I8I4I4", 0, index, 4)
			if cmd == "REGION_WRITE" then
				p = p .. "\0\0\0\0"
			end
			t:expect_refusal(raw(cmd, p))
			t:expect_alive()
		end,
	}
end

-- VU-RW-02: a region of size 0 (an unused BAR) has no byte to read.
case {
	id = "vfio-user/region-io/read-empty-region",
	spec = RW .. "/VU-RW-02",
	level = "MUST",
	quote = [[* *offset* into the region being accessed.]],
	needs = { handshake = true },
	run = function(t)
		for _, r in ipairs(regions(t)) do
			if r.size == 0 then
				t:expect_refusal(vfio.msg("REGION_READ", {
					region = r.index, offset = 0,
					count = 4 }))
				return
			end
		end
		t:skip("no region of size 0")
	end,
}

-- VU-RW-03: the client said it takes 4096 bytes at most; a read of 8192
-- would need a reply above that (seeded bug xfer-size-ignored serves it).
case {
	id = "vfio-user/region-io/read-above-xfer-size",
	spec = RW .. "/VU-RW-03",
	level = "MUST",
	quote = [[The ``count`` field must not exceed the value of
``max_data_xfer_size`` of the peer, for both reads and writes.]],
	needs = { handshake = true, caps = { max_data_xfer_size = 4096 } },
	run = function(t)
		local r = regions_with(t, FLAG_READ, 8192)[1]
		t:expect_refusal(vfio.msg("REGION_READ", {
			region = r.index, offset = 0, count = 8192 }))
		t:expect_alive()
	end,
}

-- VU-RW-03: at the client's limit exactly, the read is served.
case {
	id = "vfio-user/region-io/read-at-xfer-size",
	spec = RW .. "/VU-RW-03",
	level = "MUST",
	quote = [[The ``count`` field must not exceed the value of
``max_data_xfer_size`` of the peer, for both reads and writes.]],
	needs = { handshake = true, caps = { max_data_xfer_size = 4096 } },
	run = function(t)
		local r = regions_with(t, FLAG_READ, 4096)[1]
		local data = read(t, r.index, 0, 4096)
		t:check(#data == 4096, "4096 bytes", #data)
	end,
}

-- VU-RW-04: a WRITE whose data is shorter or longer than its count is
-- malformed.
for _, v in ipairs({ { "write-data-short", 8, 4 },
                     { "write-data-long", 4, 8 } }) do
	case {
		id = "vfio-user/region-io/" .. v[1],
		spec = WRITE .. "/VU-RW-04",
		level = "MUST",
		quote = [[* *count* is the size of the data to be transferred.
* *data* is the data to write]],
		needs = { handshake = true },
		run = function(t)
			t:expect_refusal(raw("REGION_WRITE",
			                     string.pack("<I8I4I4", 0x40, CONFIG,
			                                 v[2]) ..
			                     string.rep("\xaa", v[3])))
			t:expect_alive()
		end,
	}
end

-- VU-RW-09: a request shorter than its 16-byte header struct.
for _, cmd in ipairs({ "REGION_READ", "REGION_WRITE" }) do
	case {
		id = "vfio-user/region-io/" .. cmd:lower():gsub("_", "-") ..
		     "-short",
		spec = (cmd == "REGION_READ" and READ or WRITE) .. "/VU-RW-09",
		level = "ROBUST",
		quote = [[* *offset* into the region being accessed.
* *region* is the index of the region being accessed.
* *count* is the size of the data to be transferred.]],
		needs = { handshake = true },
		run = function(t)
			t:expect_robust(raw(cmd, string.pack("<I8", 0)))
		end,
	}
end

-- Bytes after a READ request's struct: the spec gives the request no data.
case {
	id = "vfio-user/region-io/read-trailing-bytes",
	spec = READ .. "/VU-HDR-16",
	level = "ROBUST",
	quote = [[* *count* is the size of the data to be transferred.]],
	needs = { handshake = true },
	run = function(t)
		t:expect_robust(raw("REGION_READ",
		                    string.pack("<I8I4I4", 0, CONFIG, 4) ..
		                    "\1\2\3\4"))
	end,
}

-- VU-RW-07: a read of 0 bytes.
case {
	id = "vfio-user/region-io/read-count-zero",
	spec = READ .. "/VU-RW-07",
	level = "ROBUST",
	quote = [[* *count* is the size of the data to be transferred.]],
	needs = { handshake = true },
	run = function(t)
		t:expect_robust(vfio.msg("REGION_READ",
		                         { region = CONFIG, offset = 0,
		                           count = 0 }))
	end,
}

-- ---- data, order -------------------------------------------------------

-- VU-RW-06: a write reply is the 16-byte struct, no data. The PCI
-- Interrupt Line register is read / write on every PCI function.
case {
	id = "vfio-user/region-io/write-reply",
	spec = WRITE .. "/VU-RW-06",
	level = "MUST",
	quote = [[* *offset* into the region accessed.
* *region* is the index of the region accessed.
* *count* is the size of the data transferred.]],
	needs = { handshake = true },
	run = function(t)
		write(t, CONFIG, PCI_INTERRUPT_LINE, "\x5a")
		local v = read(t, CONFIG, PCI_INTERRUPT_LINE, 1)
		t:check(v == "\x5a", "Interrupt Line 0x5a read back",
		        ("0x%02x"):format(v:byte()))
	end,
}

-- VU-HDR-09: a write and a read pipelined: processed in order, so the
-- read sees the write, and the replies come in order.
case {
	id = "vfio-user/region-io/pipelined-write-read",
	spec = "vfio-user#command-concurrency/VU-HDR-09",
	level = "MUST",
	quote = [[A client may pipeline multiple commands without waiting for
previous command replies.  The server will process commands in the order
they are received.]],
	needs = { handshake = true },
	run = function(t)
		local w = vfio.msg("REGION_WRITE", { region = CONFIG,
			offset = PCI_INTERRUPT_LINE, data = "\x33" })
		local r = vfio.msg("REGION_READ", { region = CONFIG,
			offset = PCI_INTERRUPT_LINE, count = 1 })
		t:send_many{ w, r }
		local a = t:recv()
		local b = t:recv()
		t:check(a and a.msg_id == w.msg_id and not a.is_error,
		        "the write's reply first", a and a.text)
		t:check(b and b.msg_id == r.msg_id and b.data == "\x33",
		        "then the read's, with 0x33", b and b.text)
	end,
}

-- VU-RW-11: a posted write (No_reply, as QEMU sends them) is done before
-- the reply to any later command.
case {
	id = "vfio-user/region-io/posted-write-then-read",
	spec = "vfio-user#command-concurrency/VU-RW-11",
	level = "MUST",
	quote = [[if a client issues a command with the *No_reply* bit, then
subsequently issues a command without *No_reply*, the older command will
have been processed before the reply to the younger command is sent]],
	needs = { handshake = true },
	run = function(t)
		t:send(vfio.msg("REGION_WRITE", { region = CONFIG,
			offset = PCI_INTERRUPT_LINE, data = "\x77",
			no_reply = true }))
		local v = read(t, CONFIG, PCI_INTERRUPT_LINE, 1)
		t:check(v == "\x77", "the posted write's 0x77",
		        ("0x%02x"):format(v:byte()))
	end,
}

-- VU-RW-05: memory written through REGION_WRITE reads back (reference
-- device: BAR2 is plain memory).
case {
	id = "vfio-user/region-io/write-read-back-memory",
	spec = READ .. "/VU-RW-05",
	level = "MUST",
	quote = [[* *data* is the data that was read from the device region.]],
	needs = { handshake = true },
	run = function(t)
		need_ref_device(t)
		local pat = {}
		for i = 0, 255 do
			pat[#pat + 1] = string.char((i * 7 + 3) & 0xff)
		end
		pat = table.concat(pat)
		write(t, BAR2, 0x100, pat)
		t:check(read(t, BAR2, 0x100, 256) == pat,
		        "the 256 bytes written", "other bytes")
		t:check(read(t, BAR2, 0x180, 8) == pat:sub(129, 136),
		        "the same bytes at an inner offset", "other bytes")
	end,
}

-- VU-RW-08: a region without FLAG_WRITE refuses writes.
case {
	id = "vfio-user/region-io/write-read-only-region",
	spec = "vfio-user#vfio-user-device-get-region-info/VU-RW-08",
	level = "SHOULD",
	quote = [[* ``VFIO_REGION_INFO_FLAG_WRITE`` allows client write access to
the region.]],
	needs = { handshake = true },
	run = function(t)
		for _, r in ipairs(regions(t)) do
			if r.size >= 4 and r.flags & FLAG_WRITE == 0 and
			   r.flags & FLAG_READ ~= 0 then
				local before = read(t, r.index, 0, 4)
				t:expect_refusal(vfio.msg("REGION_WRITE", {
					region = r.index, offset = 0,
					data = "\xde\xad\xbe\xef" }))
				t:check(read(t, r.index, 0, 4) == before,
				        "region " .. r.index .. " unchanged",
				        "it changed")
				return
			end
		end
		t:skip("no read-only region")
	end,
}

-- ---- REGION_WRITE_MULTI ------------------------------------------------

local function multi(entries, wr_cnt)
	local p = { string.pack("<I8", wr_cnt or #entries) }
	for _, e in ipairs(entries) do
		local data = e.data .. string.rep("\0", 8 - math.min(8, #e.data))
		p[#p + 1] = string.pack("<I8I4I4", e.offset, e.region,
		                        e.count or #e.data) .. data:sub(1, 8)
	end
	return table.concat(p)
end

-- VU-WM-01: without write_multiple in force, the message is not offered.
case {
	id = "vfio-user/region-io/write-multi-not-negotiated",
	spec = "vfio-user#vfio-user-version/VU-WM-01",
	level = "SHOULD",
	quote = [[``VFIO_USER_REGION_WRITE_MULTI`` messages are supported if the
value is ``true``.]],
	needs = { handshake = true },
	run = function(t)
		t:expect_refusal(raw("REGION_WRITE_MULTI", multi{
			{ offset = PCI_INTERRUPT_LINE, region = CONFIG,
			  data = "\x11" } }))
		t:expect_alive()
	end,
}

-- write_multiple proposed; SKIP unless the server offers it.
local function need_write_multiple(t)
	local v = vfio.version(t, { write_multiple = true })
	if not (v.caps and v.caps.write_multiple) then
		t:skip("the server does not offer write_multiple")
	end
end

-- VU-WM-02: the writes are applied in order (the last one wins) and the
-- reply counts them (checked by the reply rules).
case {
	id = "vfio-user/region-io/write-multi-in-order",
	spec = MULTI .. "/VU-WM-02",
	level = "MUST",
	quote = [[* *wr_cnt* is the number of device writes coalesced in the
message]],
	run = function(t)
		need_write_multiple(t)
		local r = t:expect_success(raw("REGION_WRITE_MULTI", multi{
			{ offset = PCI_INTERRUPT_LINE, region = CONFIG,
			  data = "\x11" },
			{ offset = PCI_INTERRUPT_LINE, region = CONFIG,
			  data = "\x22" },
			{ offset = PCI_INTERRUPT_LINE, region = CONFIG,
			  data = "\x44" } }))
		t:check(string.unpack("<I8", r.payload) == 3, "wr_cnt 3",
		        r.text)
		local v = read(t, CONFIG, PCI_INTERRUPT_LINE, 1)
		t:check(v == "\x44", "the last write's 0x44",
		        ("0x%02x"):format(v:byte()))
	end,
}

-- VU-WM-02: posted, as QEMU sends it: done before the next reply.
case {
	id = "vfio-user/region-io/write-multi-posted",
	spec = MULTI .. "/VU-WM-02",
	level = "MUST",
	quote = [[This message can be used to coalesce multiple device write
operations into a single messgage.]],
	run = function(t)
		need_write_multiple(t)
		local m = raw("REGION_WRITE_MULTI", multi{
			{ offset = PCI_INTERRUPT_LINE, region = CONFIG,
			  data = "\x66" } })
		m.flags = vfio.NO_REPLY
		t:send(m)
		local v = read(t, CONFIG, PCI_INTERRUPT_LINE, 1)
		t:check(v == "\x66", "the posted write's 0x66",
		        ("0x%02x"):format(v:byte()))
	end,
}

-- VU-WM-03: lies inside WRITE_MULTI: an entry of 9 bytes, wr_cnt above
-- the entries sent, an entry past its region.
local MULTI_BAD = {
	{ "write-multi-entry-too-long", function()
		return multi({ { offset = 0x40, region = CONFIG,
		                 data = "12345678", count = 9 } })
	end },
	{ "write-multi-count-above-entries", function()
		return multi({ { offset = PCI_INTERRUPT_LINE, region = CONFIG,
		                 data = "\1" } }, 3)
	end },
	{ "write-multi-count-huge", function()
		return multi({ { offset = PCI_INTERRUPT_LINE, region = CONFIG,
		                 data = "\1" } }, -1)
	end },
	{ "write-multi-entry-out-of-range", function()
		return multi({ { offset = -4, region = CONFIG,
		                 data = "12345678" } })
	end },
	{ "write-multi-no-such-region", function()
		return multi({ { offset = 0, region = 0xffffffff,
		                 data = "\1" } })
	end },
}
for _, b in ipairs(MULTI_BAD) do
	case {
		id = "vfio-user/region-io/" .. b[1],
		spec = MULTI .. "/VU-WM-03",
		level = "MUST",
		quote = [[* *count* is the size of the data to be transferred.
This format can only describe writes of 8 bytes or less.]],
		run = function(t)
			need_write_multiple(t)
			t:expect_refusal(raw("REGION_WRITE_MULTI", b[2]()))
			t:expect_alive()
		end,
	}
end

-- ---- the reference device's DMA engine ---------------------------------

local MEM_GPA, MEM_SIZE = 0x100000, 0x10000

-- Client memory shared with an fd (mmap access), mapped with @flags.
local function shared_memory(t, flags)
	local mem = gmem.new()
	assert(mem:add_region(MEM_GPA, MEM_SIZE))
	local reg = mem:regions()[1]
	t:expect_success(vfio.msg("DMA_MAP", {
		flags = flags, offset = reg.mmap_offset, addr = MEM_GPA,
		size = MEM_SIZE, fd = reg.fd }))
	return mem
end

-- The register writes that start a copy of @len bytes @src -> @dst: SRC,
-- DST, LEN and DMA_CMD in one write (the copy runs when it is done).
local function dma_cmd(src, dst, len)
	return vfio.msg("REGION_WRITE", {
		region = BAR0, offset = REG_DMA_SRC,
		data = string.pack("<I8I8I4I4", src, dst, len, 1) })
end

-- Run a copy whose memory is shared: -> STATUS, DMA_RESULT.
local function dma_copy(t, src, dst, len)
	t:expect_success(dma_cmd(src, dst, len))
	local st = u32(read(t, BAR0, REG_STATUS, 4))
	return st, u32(read(t, BAR0, REG_DMA_RESULT, 4))
end

-- Run a copy through messages on the main socket: serves each DMA_READ
-- from @mem (a table: addr -> byte string of client memory, one block)
-- and records each DMA_WRITE, until the write's reply.
-- -> { reads = {...}, writes = {...} } ({ addr, count, data } each).
local function dma_copy_msg(t, m, block, opts)
	opts = opts or {}
	local log = { reads = {}, writes = {} }
	t:send(m)
	for _ = 1, 256 do
		local r, why = t:recv()
		if not r then
			t:fail{ expected = "DMA messages, then the reply to " ..
			        "the DMA_CMD write", actual = why }
		end
		if r.reply then
			t:check(r.msg_id == m.msg_id and not r.is_error,
			        "the DMA_CMD write's success reply", r.text)
			return log
		end
		local addr, count = string.unpack("<I8I8", r.payload)
		if r.name == "VFIO_USER_DMA_READ" then
			log.reads[#log.reads + 1] = { addr = addr, count = count }
			local off = addr - block.addr
			local data = block.data:sub(off + 1, off + count)
			if opts.read_error then
				t:send(vfio.raw{ command = "DMA_READ",
				                 msg_id = r.msg_id,
				                 flags = vfio.REPLY | vfio.ERROR,
				                 error = vfio.errno("EFAULT") })
			else
				t:send(vfio.raw{ command = "DMA_READ",
				                 msg_id = r.msg_id,
				                 flags = vfio.REPLY,
				                 payload = string.pack("<I8I8", addr,
				                                       count) ..
				                           data })
			end
		elseif r.name == "VFIO_USER_DMA_WRITE" then
			log.writes[#log.writes + 1] = {
				addr = addr, count = count,
				data = r.payload:sub(17) }
			t:send(vfio.raw{ command = "DMA_WRITE", msg_id = r.msg_id,
			                 flags = vfio.REPLY,
			                 payload = string.pack("<I8I8", addr,
			                                       count) })
		else
			t:fail{ expected = "DMA_READ, DMA_WRITE or the reply",
			        actual = r.text }
		end
	end
	t:fail("more than 256 DMA messages for one copy")
end

local function pattern(n, seed)
	local p = {}
	for i = 0, n - 1 do
		p[#p + 1] = string.char((i * 13 + seed) & 0xff)
	end
	return table.concat(p)
end

-- VU-SDMA-04: a copy between two places of shared (mmap) memory lands
-- where it was sent, and nowhere else.
case {
	id = "vfio-user/region-io/dma-engine/shared-memory-copy",
	spec = "vfio-user#client-memory-access/VU-SDMA-04",
	level = "MUST",
	quote = [[Actual direct memory access of client memory from the server is
possible if the client provides file descriptors the server can
``mmap()``.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_ref_device(t)
		local mem = shared_memory(t, vfio.DMA_READ | vfio.DMA_WRITE)
		local data = pattern(3000, 5)
		mem:write(MEM_GPA + 0x1000, data)
		local st, res = dma_copy(t, MEM_GPA + 0x1000, MEM_GPA + 0x8000,
		                         #data)
		t:check(st == STATUS_DONE and res == 0, "the copy done",
		        ("STATUS %d, DMA_RESULT %d"):format(st, res))
		t:check(mem:read(MEM_GPA + 0x8000, #data) == data,
		        "the source bytes at the destination", "other bytes")
		t:check(mem:read(MEM_GPA + 0x8000 + #data, 16) ==
		        string.rep("\0", 16), "nothing written past the copy",
		        "bytes changed")
	end,
}

-- VU-DMA-MAP-12: memory mapped without the writeable flag is never
-- written by the server (seeded bug dma-write-readonly writes it).
case {
	id = "vfio-user/region-io/dma-engine/read-only-shared-memory",
	spec = "vfio-user#vfio-user-dma-map/VU-DMA-MAP-12",
	level = "MUST",
	quote = [[* *writeable* indicates that the region can be written to.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_ref_device(t)
		local mem = shared_memory(t, vfio.DMA_READ)
		local data = pattern(512, 9)
		mem:write(MEM_GPA, data)
		dma_copy(t, MEM_GPA, MEM_GPA + 0x4000, #data)
		t:check(mem:read(MEM_GPA + 0x4000, #data) ==
		        string.rep("\0", #data),
		        "the read-only memory untouched", "the copy landed in it")
		t:expect_alive()
	end,
}

-- VU-SDMA-03/04: a copy through message-based memory (no fd): a DMA_READ
-- of the source and a DMA_WRITE of the same bytes to the destination,
-- both inside the mapped region.
case {
	id = "vfio-user/region-io/dma-engine/message-copy",
	spec = "vfio-user#vfio-user-dma-write/VU-SDMA-04",
	level = "MUST",
	quote = [[* *address* is the client DMA memory address being accessed.
This address must have been previously exported to the server with a
``VFIO_USER_DMA_MAP`` message.]],
	needs = { handshake = true },
	run = function(t)
		need_ref_device(t)
		t:expect_success(vfio.msg("DMA_MAP", {
			flags = vfio.DMA_READ | vfio.DMA_WRITE, addr = MEM_GPA,
			size = MEM_SIZE }))
		local block = { addr = MEM_GPA, data = pattern(MEM_SIZE, 1) }
		local log = dma_copy_msg(t, dma_cmd(MEM_GPA + 0x100,
		                                    MEM_GPA + 0x9000, 1000),
		                         block)
		local got = {}
		for _, w in ipairs(log.writes) do
			t:check(w.addr >= MEM_GPA and
			        w.addr + w.count <= MEM_GPA + MEM_SIZE,
			        "a DMA_WRITE inside the mapped region",
			        ("0x%x+%d"):format(w.addr, w.count))
			t:check(#w.data == w.count, w.count .. " data bytes",
			        #w.data)
			got[#got + 1] = w.data
		end
		t:check(#log.writes >= 1 and log.writes[1].addr ==
		        MEM_GPA + 0x9000, "a DMA_WRITE at the destination",
		        #log.writes .. " DMA_WRITEs")
		t:check(table.concat(got) == block.data:sub(0x101, 0x100 + 1000),
		        "the source bytes written", "other bytes")
		t:check(u32(read(t, BAR0, REG_DMA_RESULT, 4)) == 0,
		        "DMA_RESULT 0", "an error")
	end,
}

-- VU-DMA-MAP-12: with message-based memory, a read-only region gets no
-- DMA_WRITE (seeded bug dma-write-readonly sends one).
case {
	id = "vfio-user/region-io/dma-engine/read-only-message-memory",
	spec = "vfio-user#vfio-user-dma-map/VU-DMA-MAP-12",
	level = "MUST",
	quote = [[* *writeable* indicates that the region can be written to.]],
	needs = { handshake = true },
	run = function(t)
		need_ref_device(t)
		t:expect_success(vfio.msg("DMA_MAP", {
			flags = vfio.DMA_READ, addr = MEM_GPA, size = MEM_SIZE }))
		local block = { addr = MEM_GPA, data = pattern(MEM_SIZE, 2) }
		local log = dma_copy_msg(t, dma_cmd(MEM_GPA, MEM_GPA + 0x8000,
		                                    256), block)
		t:check(#log.writes == 0, "no DMA_WRITE to read-only memory",
		        #log.writes .. " DMA_WRITEs")
	end,
}

-- VU-SDMA-02: server requests are cut to the client's max_data_xfer_size.
case {
	id = "vfio-user/region-io/dma-engine/message-chunked",
	spec = RW .. "/VU-SDMA-02",
	level = "MUST",
	quote = [[The ``count`` field must not exceed the value of
``max_data_xfer_size`` of the peer, for both reads and writes.]],
	needs = { handshake = true, caps = { max_data_xfer_size = 4096 } },
	run = function(t)
		need_ref_device(t)
		t:expect_success(vfio.msg("DMA_MAP", {
			flags = vfio.DMA_READ | vfio.DMA_WRITE, addr = MEM_GPA,
			size = MEM_SIZE }))
		local block = { addr = MEM_GPA, data = pattern(MEM_SIZE, 3) }
		local log = dma_copy_msg(t, dma_cmd(MEM_GPA, MEM_GPA + 0x8000,
		                                    3 * 4096 + 100), block)
		local total = 0
		for _, list in ipairs({ log.reads, log.writes }) do
			for _, x in ipairs(list) do
				t:check(x.count <= 4096, "count <= 4096",
				        x.count)
				total = total + x.count
			end
		end
		t:check(total == 2 * (3 * 4096 + 100),
		        "every byte read and written once", total)
	end,
}

-- VU-SDMA-01: an address the client never mapped gets no request: the
-- server must not ask the client for memory it was not given.
case {
	id = "vfio-user/region-io/dma-engine/unmapped-address",
	spec = "vfio-user#vfio-user-dma-read/VU-SDMA-01",
	level = "MUST",
	quote = [[* *address* is the client DMA memory address being accessed.
This address must have been previously exported to the server with a
``VFIO_USER_DMA_MAP`` message.]],
	needs = { handshake = true },
	run = function(t)
		need_ref_device(t)
		t:expect_success(vfio.msg("DMA_MAP", {
			flags = vfio.DMA_READ | vfio.DMA_WRITE, addr = MEM_GPA,
			size = MEM_SIZE }))
		local block = { addr = MEM_GPA, data = pattern(MEM_SIZE, 4) }
		local log = dma_copy_msg(t, dma_cmd(0x40000000, MEM_GPA, 64),
		                         block)
		t:check(#log.reads == 0 and #log.writes == 0,
		        "no DMA message for unmapped memory",
		        #log.reads + #log.writes .. " messages")
		t:check(u32(read(t, BAR0, REG_DMA_RESULT, 4)) ~= 0,
		        "DMA_RESULT: an error", "0")
	end,
}

-- VU-DMA-UNMAP-03: after DMA_UNMAP's reply the server holds no reference:
-- a copy into the old range touches nothing.
case {
	id = "vfio-user/region-io/dma-engine/after-unmap",
	spec = "vfio-user#vfio-user-dma-unmap/VU-DMA-UNMAP-03",
	level = "MUST",
	quote = [[Upon receiving a ``VFIO_USER_DMA_UNMAP`` command, if the file
descriptor is mapped then the server must release all references to that
DMA region before replying]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_ref_device(t)
		local mem = shared_memory(t, vfio.DMA_READ | vfio.DMA_WRITE)
		mem:write(MEM_GPA, pattern(128, 6))
		t:expect_success(vfio.msg("DMA_UNMAP", { addr = MEM_GPA,
		                                         size = MEM_SIZE }))
		local st = dma_copy(t, MEM_GPA, MEM_GPA + 0x2000, 128)
		t:check(st & STATUS_ERROR ~= 0, "the copy failed (STATUS ERROR)",
		        "STATUS " .. st)
		t:check(mem:read(MEM_GPA + 0x2000, 128) == string.rep("\0", 128),
		        "the unmapped memory untouched", "it changed")
	end,
}

-- A DMA_READ answered with an error: the server goes on (the copy fails).
case {
	id = "vfio-user/region-io/dma-engine/read-answered-with-error",
	spec = "vfio-user#security-considerations/VU-SDMA-07",
	level = "ROBUST",
	quote = [[Standard tools and mechanisms should be used on both sides to
validate input and prevent against denial of service scenarios, buffer
overflow, etc.]],
	needs = { handshake = true },
	run = function(t)
		need_ref_device(t)
		t:expect_success(vfio.msg("DMA_MAP", {
			flags = vfio.DMA_READ | vfio.DMA_WRITE, addr = MEM_GPA,
			size = MEM_SIZE }))
		local block = { addr = MEM_GPA, data = pattern(MEM_SIZE, 7) }
		local log = dma_copy_msg(t, dma_cmd(MEM_GPA, MEM_GPA + 0x8000,
		                                    64), block,
		                         { read_error = true })
		t:check(#log.writes == 0, "no DMA_WRITE of data never read",
		        #log.writes)
		t:expect_alive()
	end,
}

-- The ioeventfd of GET_REGION_IO_FDS stands for a write of its datamatch
-- at its offset: signalling it starts the reference device's copy.
case {
	id = "vfio-user/region-io/ioeventfd-is-a-write",
	spec = "vfio-user#region-i-o-via-file-descriptors/VU-IOFD-04",
	level = "MUST",
	quote = [[by configuring the returned file descriptors as ioeventfds or
ioregionfds, the server can be directly notified of I/O (for example, by
KVM) without taking a trip through the client.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_ref_device(t)
		local mem = shared_memory(t, vfio.DMA_READ | vfio.DMA_WRITE)
		mem:write(MEM_GPA, "doorbell")
		local r = t:expect_success(vfio.msg("GET_REGION_IO_FDS",
		                                    { index = BAR0,
		                                      argsz = 4096 }))
		if #r.fds == 0 then
			t:skip("BAR0 has no ioeventfd")
		end
		-- SRC, DST, LEN; not DMA_CMD: the doorbell is the command
		write(t, BAR0, REG_DMA_SRC,
		      string.pack("<I8I8I4", MEM_GPA, MEM_GPA + 0x100, 8))
		local before = u32(read(t, BAR0, REG_DMA_COUNT, 4))
		r.fds[1]:signal(1)
		local after = before
		for _ = 1, 50 do
			after = u32(read(t, BAR0, REG_DMA_COUNT, 4))
			if after ~= before then
				break
			end
			t:sleep(2)
		end
		t:check(after == before + 1, "DMA_COUNT " .. before + 1,
		        after)
		t:check(mem:read(MEM_GPA + 0x100, 8) == "doorbell",
		        "the copy done", "other bytes")
	end,
}

-- The scratch register keeps what is written (reference device), read
-- back at every width and alignment that overlaps it.
case {
	id = "vfio-user/region-io/register-any-width",
	spec = WRITE .. "/VU-RW-05",
	level = "MUST",
	quote = [[* *data* is the data to write]],
	needs = { handshake = true },
	run = function(t)
		need_ref_device(t)
		write(t, BAR0, REG_SCRATCH, string.pack("<I4", 0x11223344))
		t:check(read(t, BAR0, REG_SCRATCH + 1, 2) == "\x33\x22",
		        "bytes 1-2 of SCRATCH", "other bytes")
		write(t, BAR0, REG_SCRATCH + 3, "\xaa")
		t:check(u32(read(t, BAR0, REG_SCRATCH, 4)) == 0xaa223344,
		        "SCRATCH 0xaa223344 after a one-byte write", "other")
	end,
}

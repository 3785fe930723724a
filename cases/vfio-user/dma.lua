-- SPDX-License-Identifier: MIT
-- dma.lua - VFIO_USER_DMA_MAP / VFIO_USER_DMA_UNMAP, the three access modes
-- of seed 003 (message, mmap, file I/O), and the server's own
-- VFIO_USER_DMA_READ / VFIO_USER_DMA_WRITE served by the client (served
-- well, and badly on purpose: errors, short data, delays).
--
-- Spec: vfio-user.rst "VFIO_USER_DMA_MAP", "VFIO_USER_DMA_UNMAP",
-- "VFIO_USER_DMA_READ", "VFIO_USER_DMA_WRITE"; seed 003 (the access-mode
-- bits); checklist ids VU-DMA-MAP-*, VU-DMA-MODE-*, VU-DMA-UNMAP-*,
-- VU-SDMA-* (research/vfio-user-assertions.md).
--
-- Server DMA needs a device that does DMA on request. vuc-ref-vfio has a
-- copy engine in BAR0 (ID register "VUC1"); the cases that drive it SKIP
-- on any other device. Everything else works against any server.

local MAP = "vfio-user#vfio-user-dma-map"
local UNMAP = "vfio-user#vfio-user-dma-unmap"
local DREAD = "vfio-user#vfio-user-dma-read"
local DWRITE = "vfio-user#vfio-user-dma-write"
local RW_OPS = "vfio-user#read-and-write-operations"

local R, W = vfio.DMA_READ, vfio.DMA_WRITE
local RW = R | W
local CMD_DMA_READ = vfio.code("DMA_READ")
local CMD_DMA_WRITE = vfio.code("DMA_WRITE")

-- What the client proposes: DMA requests are judged against it.
local CAPS = { max_msg_fds = 8, max_data_xfer_size = 1048576 }

-- vuc-ref-vfio's BAR0 copy engine (reference-backend/vfio/device.h).
local VUC1_ID = 0x31435556
local REG_SRC, REG_DST, REG_LEN, REG_CMD = 0x08, 0x10, 0x18, 0x1c
local REG_RESULT = 0x20

local A = 0x100000 -- a base address far from everything else
local PAGE = 4096

local function pattern(n, seed)
	local b = {}
	for i = 1, n do
		b[i] = string.char((i * 7 + (seed or 1) * 13) % 251)
	end
	return table.concat(b)
end

local function map(t, fields)
	return vfio.msg("DMA_MAP", fields)
end

local function unmap(addr, size, flags)
	return vfio.msg("DMA_UNMAP", { addr = addr, size = size,
	                               flags = flags or 0 })
end

-- The connection still answers: a DEVICE_GET_INFO gets a success reply.
local function still_serves(t)
	t:expect_success(vfio.msg("DEVICE_GET_INFO", { argsz = 16 }))
end

-- ---- the client's memory, as the server's DMA requests see it ----------

-- A memory model: message-mode regions hold their bytes here; fd-backed
-- regions live in a gmem (mem:read / mem:write). Each region: addr,
-- size, flags, and either data (a string) or gm (the gmem).
local function memory()
	return { regions = {} }
end

local function mem_add(mem, r)
	mem.regions[#mem.regions + 1] = r
	if not r.gm and not r.data then
		r.data = string.rep("\0", r.size)
	end
	return r
end

local function mem_find(mem, addr, count)
	for _, r in ipairs(mem.regions) do
		if not r.gone and addr >= r.addr and count <= r.size and
		   addr - r.addr <= r.size - count then
			return r
		end
	end
end

local function mem_get(r, addr, count)
	if r.gm then
		return r.gm:read(addr, count)
	end
	local o = addr - r.addr
	return r.data:sub(o + 1, o + count)
end

local function mem_put(r, addr, bytes)
	if r.gm then
		r.gm:write(addr, bytes)
		return
	end
	local o = addr - r.addr
	r.data = r.data:sub(1, o) .. bytes .. r.data:sub(o + #bytes + 1)
end

-- Map a message-mode region (no fd) and add it to @mem.
local function map_msg(t, mem, addr, size, flags)
	t:expect_success(map(t, { flags = flags, addr = addr, size = size }))
	return mem_add(mem, { addr = addr, size = size, flags = flags })
end

-- Map an fd-backed region (memfd of a gmem at guest address @addr).
local function map_fd(t, mem, addr, size, flags, mode_bits)
	local gm = gmem.new()
	gm:add_region(addr, size)
	local reg = gm:regions()[1]
	t:expect_success(map(t, { flags = flags | (mode_bits or 0),
	                          addr = addr, size = size,
	                          offset = reg.mmap_offset, fd = reg.fd }))
	return mem_add(mem, { addr = addr, size = size, flags = flags,
	                      gm = gm, fd_backed = true })
end

-- Send @cmd and serve the server's DMA_READ / DMA_WRITE until @cmd's reply
-- comes. @policy: how = "ok" | "error" | "short" | "ignore"; error (errno
-- number); short_by; delay_ms; write_reply = "spec" (12 bytes) | "u64"
-- (16, libvfio-user) | "header" (QEMU). Returns the reply (or nil, why)
-- and a log: reads, writes (requests as { addr, count }), and violations
-- (what the server did wrong, as text).
local function serve(t, mem, cmd, policy)
	policy = policy or {}
	local xfer_max = policy.xfer_max or CAPS.max_data_xfer_size
	local log = { reads = {}, writes = {}, violations = {}, fd_region = 0 }
	local function bad(s)
		log.violations[#log.violations + 1] = s
		t:note("violation: " .. s)
	end
	local ok, why = t:send(cmd)
	if not ok then
		return nil, why, log
	end
	local until_ms = t:now_ms() + (policy.wait_ms or 3000)
	while true do
		local left = math.floor(until_ms - t:now_ms())
		if left <= 0 then
			return nil, "timeout", log
		end
		local m, err = t:recv{ timeout = left }
		if not m then
			return nil, err, log
		end
		if m.reply and m.msg_id == cmd.msg_id and
		   m.command == cmd.command then
			return m, "reply", log
		end
		local is_dma = not m.reply and (m.command == CMD_DMA_READ or
		                                m.command == CMD_DMA_WRITE)
		if not is_dma then
			bad("unexpected message: " .. m.text)
			goto continue
		end
		do
			local write = m.command == CMD_DMA_WRITE
			local addr, count = 0, 0
			if #m.payload >= 16 then
				addr, count = string.unpack("=I8I8", m.payload)
			end
			local req = { addr = addr, count = count }
			local r = #m.payload >= 16 and mem_find(mem, addr, count)
			-- "This address must have been previously exported to
			-- the server with a VFIO_USER_DMA_MAP message."
			if #m.payload < 16 then
				bad(m.name .. " payload of " .. #m.payload ..
				    " bytes, below 16")
			elseif not r then
				bad(("%s of [0x%x, +%d) outside every mapped " ..
				     "region"):format(m.name, addr, count))
			elseif count > xfer_max then
				bad(("%s count %d above our max_data_xfer_size " ..
				     "%d"):format(m.name, count, xfer_max))
			elseif write and #m.payload ~= 16 + count then
				bad(("DMA_WRITE of count %d carries %d data " ..
				     "bytes"):format(count, #m.payload - 16))
			elseif not write and #m.payload ~= 16 then
				bad("DMA_READ payload of " .. #m.payload ..
				    " bytes, not 16")
			elseif write and r.flags & W == 0 then
				bad(("DMA_WRITE to [0x%x, +%d), mapped " ..
				     "read-only"):format(addr, count))
			elseif not write and r.flags & R == 0 then
				bad(("DMA_READ of [0x%x, +%d), mapped " ..
				     "write-only"):format(addr, count))
			else
				req.ok = true
			end
			if r and r.fd_backed then
				log.fd_region = log.fd_region + 1
			end
			if write then
				log.writes[#log.writes + 1] = req
			else
				log.reads[#log.reads + 1] = req
			end
			if policy.delay_ms then
				t:sleep(policy.delay_ms)
			end
			local how = policy.how or "ok"
			local rep
			if how == "ignore" then
				goto continue
			elseif how == "error" or not req.ok then
				rep = vfio.raw{
					command = m.command, msg_id = m.msg_id,
					flags = vfio.REPLY | vfio.ERROR,
					error = req.ok and policy.error or
					        vfio.errno("EFAULT"),
				}
			elseif write then
				mem_put(r, addr, m.payload:sub(17))
				local wr = policy.write_reply or "spec"
				local p = ""
				if wr == "spec" then
					p = string.pack("=I8I4", addr, count)
				elseif wr == "u64" then
					p = string.pack("=I8I8", addr, count)
				end
				rep = vfio.raw{ command = m.command,
				                msg_id = m.msg_id,
				                flags = vfio.REPLY, payload = p }
			else
				local data = mem_get(r, addr, count)
				if how == "short" then
					data = data:sub(1, math.max(0, count -
					                (policy.short_by or 1)))
				end
				rep = vfio.raw{
					command = m.command, msg_id = m.msg_id,
					flags = vfio.REPLY,
					payload = string.pack("=I8I8", addr,
					                      count) .. data,
				}
			end
			t:send(rep)
		end
		::continue::
	end
end

-- ---- vuc-ref-vfio's copy engine -----------------------------------------

local function reg_write(t, off, bytes)
	t:expect_success(vfio.msg("REGION_WRITE", { region = 0, offset = off,
	                                            data = bytes }))
end

local function reg_read32(t, off)
	local r, kind = t:call(vfio.msg("REGION_READ", { region = 0,
	                                                offset = off,
	                                                count = 4 }))
	if not r or kind ~= "ack" or not r.data or #r.data ~= 4 then
		return nil
	end
	return (string.unpack("=I4", r.data))
end

-- SKIP unless BAR0 is vuc-ref-vfio's copy engine.
local function need_engine(t)
	if reg_read32(t, 0) ~= VUC1_ID then
		t:skip("no VUC1 copy engine at BAR0 (a vuc-ref-vfio device " ..
		       "is needed to make the server do DMA)")
	end
end

-- Program a copy of @len bytes @src -> @dst, start it, serve its DMA.
-- Returns the REGION_WRITE reply (or nil, why), the serve log, and the
-- engine's DMA_RESULT register (0: done; an errno otherwise).
local function copy(t, mem, src, dst, len, policy)
	reg_write(t, REG_SRC, string.pack("=I8", src))
	reg_write(t, REG_DST, string.pack("=I8", dst))
	reg_write(t, REG_LEN, string.pack("=I4", len))
	local start = vfio.msg("REGION_WRITE", {
		region = 0, offset = REG_CMD, data = string.pack("=I4", 1),
	})
	local rep, why, log = serve(t, mem, start, policy)
	if not rep then
		return nil, why, log
	end
	return rep, log, reg_read32(t, REG_RESULT)
end

local function no_violations(t, log)
	if #log.violations > 0 then
		t:fail{ expected = "DMA requests inside mapped regions, within " ..
		                   "max_data_xfer_size and the region's access",
		        actual = log.violations[1] }
	end
end

-- ======================================================================
-- DMA_MAP
-- ======================================================================

-- A message-mode region (no fd) and an fd-backed one are both accepted,
-- and the reply has no payload.
case {
	id = "vfio-user/dma/map-message-mode",
	spec = MAP .. "/VU-DMA-MAP-13",
	level = "MUST",
	quote = [[There is no payload in the reply message.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local r = t:expect_success(map(t, { flags = RW, addr = A,
		                                    size = 16 * PAGE }))
		t:check(r.msg_size == 16, "a reply of 16 bytes (header only)",
		        r.msg_size)
	end,
}

case {
	id = "vfio-user/dma/map-fd",
	spec = MAP .. "/VU-DMA-MAP-13",
	level = "MUST",
	quote = [[If the DMA region being added can be directly mapped by the
server, a file descriptor must be sent as part of the message meta-data.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local gm = gmem.new()
		gm:add_region(A, 16 * PAGE)
		local reg = gm:regions()[1]
		local r = t:expect_success(map(t, {
			flags = RW, addr = A, size = 16 * PAGE,
			offset = reg.mmap_offset, fd = reg.fd,
		}))
		t:check(r.msg_size == 16, "a reply of 16 bytes (header only)",
		        r.msg_size)
	end,
}

-- "A command to map over an existing region must be failed by the server
-- with EEXIST": every way of overlapping, and the exact duplicate (which
-- libvfio-user accepts for QEMU's sake: a spec violation, reported).
local overlaps = {
	{ "overlap-inside", A + PAGE, PAGE },
	{ "overlap-start", A - PAGE, 2 * PAGE },
	{ "overlap-end", A + 15 * PAGE, 2 * PAGE },
	{ "overlap-superset", A - PAGE, 18 * PAGE },
	{ "overlap-duplicate", A, 16 * PAGE },
	{ "overlap-last-byte", A + 16 * PAGE - 1, 1 },
}
for _, o in ipairs(overlaps) do
	local name, addr, size = o[1], o[2], o[3]
	case {
		id = "vfio-user/dma/" .. name,
		spec = MAP .. "/VU-DMA-MAP-03",
		level = "MUST",
		quote = [[A command to map over an existing
region must be failed by the server with ``EEXIST`` set in error field in the
reply.]],
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			t:expect_success(map(t, { flags = RW, addr = A,
			                          size = 16 * PAGE }))
			t:expect_error(map(t, { flags = RW, addr = addr,
			                        size = size }), "EEXIST")
			still_serves(t)
		end,
	}
end

-- An fd-backed region over a message-mode one is still "over an existing
-- region".
case {
	id = "vfio-user/dma/overlap-other-mode",
	spec = MAP .. "/VU-DMA-MAP-03",
	level = "MUST",
	quote = [[A command to map over an existing
region must be failed by the server with ``EEXIST`` set in error field in the
reply.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		t:expect_success(map(t, { flags = RW, addr = A,
		                          size = 16 * PAGE }))
		local gm = gmem.new()
		gm:add_region(A + PAGE, PAGE)
		local reg = gm:regions()[1]
		t:expect_error(map(t, { flags = RW, addr = A + PAGE, size = PAGE,
		                        offset = reg.mmap_offset, fd = reg.fd }),
		               "EEXIST")
	end,
}

-- Regions that touch but do not overlap are two regions: an overlap test
-- off by one refuses the second.
case {
	id = "vfio-user/dma/adjacent-regions",
	spec = MAP .. "/VU-DMA-MAP-03",
	level = "SHOULD",
	quote = [[A command to map over an existing
region must be failed by the server with ``EEXIST`` set in error field in the
reply.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		t:expect_success(map(t, { flags = RW, addr = A, size = PAGE }))
		t:expect_success(map(t, { flags = RW, addr = A + PAGE,
		                          size = PAGE }))
		t:expect_success(map(t, { flags = RW, addr = A - PAGE,
		                          size = PAGE }))
	end,
}

-- Zero sizes and ranges past 2^64 describe no region: the spec is silent,
-- so only a crash, a hang or a malformed answer fails; a server that
-- accepts must still answer what follows.
local odd_ranges = {
	{ "zero-size", A, 0 },
	{ "wrap", -PAGE, 2 * PAGE },           -- 2^64 - 4096, past 2^64
	{ "wrap-huge", A, -1 },                -- size 2^64 - 1
	{ "ends-at-top", -PAGE, PAGE },        -- ends exactly at 2^64
}
for _, o in ipairs(odd_ranges) do
	local name, addr, size = o[1], o[2], o[3]
	case {
		id = "vfio-user/dma/range-" .. name,
		spec = MAP .. (name == "zero-size" and "/VU-DMA-MAP-05" or
		               "/VU-DMA-MAP-06"),
		level = "ROBUST",
		quote = [[* *address* is the base DMA address of the region.
* *size* is the size of the region.]],
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			t:expect_robust(map(t, { flags = RW, addr = addr,
			                         size = size }))
			still_serves(t)
			-- a wrapped range taken as [addr, 2^64) + [0, x)
			-- must not block an honest map below it
			t:expect_robust(map(t, { flags = RW, addr = 0,
			                         size = PAGE }))
		end,
	}
end

-- Flag bits the spec does not define: "flags contains the following
-- region attributes" lists readable, writeable and (seed 003) the two
-- access-mode bits. A server cannot honour what it does not know.
for _, bit in ipairs({ 4, 8, 31 }) do
	case {
		id = "vfio-user/dma/unknown-flag-bit-" .. ({
			[4] = "four", [8] = "eight", [31] = "thirty-one" })[bit],
		spec = MAP .. "/VU-DMA-MAP-02",
		level = "SHOULD",
		quote = [[* *flags* contains the following region attributes:]],
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			t:expect_refusal(map(t, { flags = RW | (1 << bit),
			                          addr = A, size = PAGE }))
			still_serves(t)
		end,
	}
end

-- Seed 003: "If an access mode requiring a file descriptor is specified,
-- but the client does not provide a file descriptor, the server must fail
-- the request with EINVAL." A server without the access modes refuses the
-- bits as unknown; either way it is an error reply.
for _, mb in ipairs({ { "mmap", vfio.DMA_MMAP, "01" },
                      { "file-io", vfio.DMA_FILE_IO, "02" } }) do
	case {
		id = "vfio-user/dma/mode-" .. mb[1] .. "-without-fd",
		spec = MAP .. "/VU-DMA-MODE-" .. mb[3],
		level = "MUST",
		quote = [[If an access mode requiring a file descriptor is
specified, but the client does not provide a file descriptor, the server
must fail the request with EINVAL.]],
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			t:expect_error(map(t, { flags = RW | mb[2], addr = A,
			                        size = PAGE }))
			-- the refused map must not linger
			t:expect_success(map(t, { flags = RW, addr = A,
			                          size = PAGE }))
		end,
	}
end

-- libvfio-user (#842): the EINVAL of the seed, both mode bits together
-- are refused, and a mode bit with an fd is accepted.
case {
	id = "vfio-user/dma/mode-without-fd-einval",
	spec = MAP .. "/VU-DMA-MODE-01",
	level = "MUST",
	quote = [[If an access mode requiring a file descriptor is
specified, but the client does not provide a file descriptor, the server
must fail the request with EINVAL.]],
	needs = { handshake = true, caps = CAPS, profile = "libvfio-user" },
	run = function(t)
		t:expect_error(map(t, { flags = RW | vfio.DMA_MMAP, addr = A,
		                        size = PAGE }), "EINVAL")
		t:expect_error(map(t, { flags = RW | vfio.DMA_FILE_IO, addr = A,
		                        size = PAGE }), "EINVAL")
	end,
}

case {
	id = "vfio-user/dma/mode-both-bits",
	spec = MAP .. "/VU-DMA-MODE-03",
	level = "MUST",
	quote = [[The access mode bits in the flags field indicate which
access mode to use.]],
	needs = { handshake = true, caps = CAPS, profile = "libvfio-user" },
	run = function(t)
		local gm = gmem.new()
		gm:add_region(A, PAGE)
		local reg = gm:regions()[1]
		local both = vfio.DMA_MMAP | vfio.DMA_FILE_IO
		t:expect_error(map(t, { flags = RW | both, addr = A, size = PAGE,
		                        offset = reg.mmap_offset, fd = reg.fd }),
		               "EINVAL")
		t:expect_error(map(t, { flags = RW | both, addr = A,
		                        size = PAGE }), "EINVAL")
	end,
}

for _, mb in ipairs({ { "mmap", vfio.DMA_MMAP },
                      { "file-io", vfio.DMA_FILE_IO } }) do
	case {
		id = "vfio-user/dma/mode-" .. mb[1] .. "-with-fd",
		spec = MAP .. "/VU-DMA-MODE-04",
		level = "MUST",
		quote = [[The access mode bits in the flags field indicate
which access mode to use.]],
		needs = { handshake = true, caps = CAPS,
		          profile = "libvfio-user" },
		run = function(t)
			local gm = gmem.new()
			gm:add_region(A, 4 * PAGE)
			local reg = gm:regions()[1]
			t:expect_success(map(t, {
				flags = RW | mb[2], addr = A, size = 4 * PAGE,
				offset = reg.mmap_offset, fd = reg.fd,
			}))
		end,
	}
end

-- More than one fd: which one is the region's? Refused, or the spare
-- closed; never kept (the server's fd count says).
case {
	id = "vfio-user/dma/map-two-fds",
	spec = MAP .. "/VU-DMA-MAP-07",
	level = "ROBUST",
	quote = [[If the DMA region being added can be directly mapped by the
server, a file descriptor must be sent as part of the message meta-data.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local before = t:has_process() and t:fd_count()
		local gm = gmem.new()
		gm:add_region(A, PAGE)
		local reg = gm:regions()[1]
		local extra = fdzoo.new("memfd", PAGE)
		local m = map(t, { flags = RW, addr = A, size = PAGE,
		                   offset = reg.mmap_offset })
		m.fds = { reg.fd, extra }
		local _, kind = t:expect_robust(m)
		if kind == "hangup" or not before then
			return
		end
		-- mapped (then unmapped now) or refused: either way no
		-- fd may stay behind
		t:expect(unmap(A, PAGE), "ack|nack")
		local after = t:fd_count()
		t:check(after <= before, "no fd kept after the unmap (" ..
		        before .. " open before)", after)
	end,
}

-- A mapping longer than its file would SIGBUS on first touch: the map is
-- refused, or the server survives the access.
case {
	id = "vfio-user/dma/fd-shorter-than-region",
	spec = MAP .. "/VU-DMA-MAP-08",
	level = "ROBUST",
	quote = [[Standard tools and mechanisms should be used on both sides to
validate input and prevent against denial of service scenarios, buffer
overflow, etc.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local f = fdzoo.new("memfd", PAGE)
		t:expect_robust(map(t, { flags = RW, addr = A, size = 16 * PAGE,
		                         fd = f }))
		local g = fdzoo.new("memfd", PAGE)
		t:expect_robust(map(t, { flags = RW, addr = 2 * A, size = PAGE,
		                         offset = 8 * PAGE, fd = g }))
		still_serves(t)
	end,
}

-- Every refused fd-backed map closes its fd: a server keeping them runs
-- out of fds under a client that retries.
case {
	id = "vfio-user/dma/refused-map-closes-fd",
	spec = MAP .. "/VU-DMA-MAP-09",
	level = "ROBUST",
	quote = [[Standard tools and mechanisms should be used on both sides to
validate input and prevent against denial of service scenarios, buffer
overflow, etc.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		if not t:has_process() then
			t:skip("needs the target's fd count")
		end
		t:expect_success(map(t, { flags = RW, addr = A, size = PAGE }))
		local before = t:fd_count()
		local n = 6
		for i = 1, n do
			local f = fdzoo.new("memfd", PAGE)
			-- overlap (EEXIST) and file too short, alternately
			local m = i % 2 == 0 and
				map(t, { flags = RW, addr = A, size = PAGE, fd = f }) or
				map(t, { flags = RW, addr = 4 * A, size = 64 * PAGE,
				         fd = f })
			local _, kind = t:expect_refusal(m)
			if kind == "hangup" then
				return
			end
		end
		still_serves(t)
		local after = t:fd_count()
		t:check(after <= before, ("the fd count back at %d after %d " ..
		        "refused maps"):format(before, n), after)
	end,
}

-- Above the server's own max_dma_maps: refused (the server says how many
-- it takes in its VERSION reply).
case {
	id = "vfio-user/dma/above-max-dma-maps",
	spec = "vfio-user#vfio-user-version/VU-DMA-MAP-11",
	level = "SHOULD",
	quote = [[| max_dma_maps       | number  | Maximum number DMA map windows that can be    |
|                    |         | valid simultaneously.  Optional, with a       |]],
	run = function(t)
		local v = vfio.version(t, CAPS)
		local max = v.caps and v.caps.max_dma_maps or 65535
		if max > 1024 then
			t:skip("max_dma_maps " .. max .. " is too many to fill")
		end
		for i = 0, max - 1 do
			t:expect_success(map(t, { flags = RW,
			                          addr = A + i * 2 * PAGE,
			                          size = PAGE }))
		end
		t:expect_refusal(map(t, { flags = RW, addr = A + max * 2 * PAGE,
		                          size = PAGE }))
	end,
}

-- A DMA_MAP after the reply: the server must not answer it with an
-- unrelated state. Many maps and unmaps, every one answered and undone.
case {
	id = "vfio-user/dma/map-unmap-cycles",
	spec = UNMAP .. "/VU-DMA-UNMAP-09",
	level = "MUST",
	quote = [[The address and size of the DMA region being unmapped must
match exactly a previous mapping.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local before = t:has_process() and t:fd_count()
		for i = 1, 16 do
			local gm = gmem.new()
			gm:add_region(A, 4 * PAGE)
			local reg = gm:regions()[1]
			t:expect_success(map(t, { flags = RW, addr = A,
			                          size = 4 * PAGE,
			                          offset = reg.mmap_offset,
			                          fd = reg.fd }))
			t:expect_success(unmap(A, 4 * PAGE))
		end
		if before then
			local after = t:fd_count()
			t:check(after <= before, "no fd kept after 16 map/unmap " ..
			        "cycles (" .. before .. " open before)", after)
		end
	end,
}

-- ======================================================================
-- DMA_UNMAP
-- ======================================================================

-- "The server responds with the original DMA entry in the request."
case {
	id = "vfio-user/dma/unmap-echoes-entry",
	spec = UNMAP .. "/VU-DMA-UNMAP-02",
	level = "MUST",
	quote = [[The server responds with the original DMA entry in the
request.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		t:expect_success(map(t, { flags = RW, addr = A,
		                          size = 16 * PAGE }))
		local m = unmap(A, 16 * PAGE)
		local r = t:expect_success(m)
		t:check(#r.payload >= 24 and
		        r.payload:sub(5, 24) == m.payload:sub(5, 24),
		        "the request's flags, address and size echoed",
		        #r.payload .. " payload bytes")
	end,
}

-- Anything but an exact match is refused, and the mapping stays.
local inexact = {
	{ "inside", A + PAGE, PAGE },
	{ "prefix", A, PAGE },
	{ "suffix", A + 15 * PAGE, PAGE },
	{ "superset", A - PAGE, 18 * PAGE },
	{ "shifted", A + PAGE, 16 * PAGE },
	{ "never-mapped", 8 * A, PAGE },
	{ "zero-size", A, 0 },
}
for _, u in ipairs(inexact) do
	case {
		id = "vfio-user/dma/unmap-" .. u[1],
		spec = UNMAP .. "/VU-DMA-UNMAP-01",
		level = "MUST",
		quote = [[The address and size of the DMA region being unmapped
must match exactly a previous mapping.]],
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			t:expect_success(map(t, { flags = RW, addr = A,
			                          size = 16 * PAGE }))
			t:expect_refusal(unmap(u[2], u[3]))
			-- the mapping is still there: mapping over it fails
			t:expect_error(map(t, { flags = RW, addr = A,
			                        size = PAGE }), "EEXIST")
			t:expect_success(unmap(A, 16 * PAGE))
		end,
	}
end

-- After the reply the region is gone: it can be mapped again.
case {
	id = "vfio-user/dma/unmap-then-remap",
	spec = UNMAP .. "/VU-DMA-UNMAP-03",
	level = "MUST",
	quote = [[if the file descriptor is
mapped then the server must release all references to that DMA region before
replying]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		t:expect_success(map(t, { flags = RW, addr = A,
		                          size = 16 * PAGE }))
		t:expect_success(unmap(A, 16 * PAGE))
		t:expect_success(map(t, { flags = R, addr = A + PAGE,
		                          size = PAGE }))
		t:expect_success(unmap(A + PAGE, PAGE))
		t:expect_refusal(unmap(A + PAGE, PAGE))
	end,
}

-- "release all references ... before replying": the fd of an unmapped
-- region is closed by the time the reply comes.
case {
	id = "vfio-user/dma/unmap-closes-fd",
	spec = UNMAP .. "/VU-DMA-UNMAP-03",
	level = "MUST",
	quote = [[if the file descriptor is
mapped then the server must release all references to that DMA region before
replying]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		if not t:has_process() then
			t:skip("needs the target's fd count")
		end
		local before = t:fd_count()
		local gm = gmem.new()
		gm:add_region(A, 4 * PAGE)
		local reg = gm:regions()[1]
		t:expect_success(map(t, { flags = RW, addr = A, size = 4 * PAGE,
		                          offset = reg.mmap_offset,
		                          fd = reg.fd }))
		t:expect_success(unmap(A, 4 * PAGE))
		local after = t:fd_count()
		t:check(after <= before, "the region's fd closed before the " ..
		        "reply (" .. before .. " open before the map)", after)
	end,
}

-- "flags is unused in this version": a bit nobody defines must not crash
-- or hang the server. (libvfio-user refuses unknown bits: EINVAL.)
case {
	id = "vfio-user/dma/unmap-unknown-flags",
	spec = UNMAP .. "/VU-DMA-UNMAP-04",
	level = "ROBUST",
	quote = [[* *flags* is unused in this version.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		t:expect_success(map(t, { flags = RW, addr = A, size = PAGE }))
		t:expect_robust(unmap(A, PAGE, 1 << 7))
		still_serves(t)
	end,
}

case {
	id = "vfio-user/dma/unmap-unknown-flags-einval",
	spec = UNMAP .. "/VU-DMA-UNMAP-04",
	level = "MUST",
	quote = [[* *flags* is unused in this version.]],
	needs = { handshake = true, caps = CAPS, profile = "libvfio-user" },
	run = function(t)
		t:expect_success(map(t, { flags = RW, addr = A, size = PAGE }))
		t:expect_error(unmap(A, PAGE, 1 << 7), "EINVAL")
	end,
}

-- libvfio-user's VFIO_DMA_UNMAP_FLAG_ALL (1 << 1): every region goes,
-- with address and size 0.
case {
	id = "vfio-user/dma/unmap-all",
	spec = UNMAP .. "/VU-DMA-UNMAP-04",
	level = "MUST",
	quote = [[* *flags* is unused in this version.]],
	needs = { handshake = true, caps = CAPS, profile = "libvfio-user" },
	run = function(t)
		t:expect_success(map(t, { flags = RW, addr = A, size = PAGE }))
		t:expect_success(map(t, { flags = RW, addr = 2 * A,
		                          size = PAGE }))
		t:expect_success(unmap(0, 0, 1 << 1))
		t:expect_success(map(t, { flags = RW, addr = A, size = PAGE }))
		t:expect_success(map(t, { flags = RW, addr = 2 * A,
		                          size = PAGE }))
	end,
}

case {
	id = "vfio-user/dma/unmap-all-with-range",
	spec = UNMAP .. "/VU-DMA-UNMAP-04",
	level = "MUST",
	quote = [[* *flags* is unused in this version.]],
	needs = { handshake = true, caps = CAPS, profile = "libvfio-user" },
	run = function(t)
		t:expect_success(map(t, { flags = RW, addr = A, size = PAGE }))
		t:expect_error(unmap(A, PAGE, 1 << 1), "EINVAL")
	end,
}

-- ======================================================================
-- The server's DMA_READ / DMA_WRITE (vuc-ref-vfio's copy engine)
-- ======================================================================

-- Message-mode regions: the copy goes through DMA_READ and DMA_WRITE to
-- addresses the client mapped, and the data lands where intended.
case {
	id = "vfio-user/dma/server-dma-message-mode",
	spec = DREAD .. "/VU-SDMA-01",
	level = "MUST",
	quote = [[* *address* is the client DMA memory address being accessed.
This address must have been previously exported to the server with a
``VFIO_USER_DMA_MAP`` message.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		need_engine(t)
		local mem = memory()
		local src = map_msg(t, mem, A, 4 * PAGE, R)
		local dst = map_msg(t, mem, 2 * A, 4 * PAGE, RW)
		local data = pattern(3000, 1)
		mem_put(src, A + 100, data)
		local rep, log, result = copy(t, mem, A + 100, 2 * A + 7, #data)
		if not rep then
			t:fail{ expected = "the REGION_WRITE reply after the DMA",
			        actual = log }
		end
		no_violations(t, log)
		t:check(#log.reads > 0 and #log.writes > 0,
		        "DMA_READ and DMA_WRITE for message-mode regions",
		        #log.reads .. " reads, " .. #log.writes .. " writes")
		t:check(result == 0, "DMA_RESULT 0", result)
		t:check(mem_get(dst, 2 * A + 7, #data) == data,
		        "the copied bytes at the destination", "other bytes")
	end,
}

-- "The count field must not exceed the value of max_data_xfer_size of the
-- peer": with 4096 proposed, a 10000-byte copy comes in chunks.
case {
	id = "vfio-user/dma/server-dma-within-xfer-size",
	spec = RW_OPS .. "/VU-SDMA-02",
	level = "MUST",
	quote = [[The ``count`` field must not exceed the value of
``max_data_xfer_size`` of the peer, for both reads and writes.]],
	run = function(t)
		vfio.version(t, { max_msg_fds = 8, max_data_xfer_size = 4096 })
		need_engine(t)
		local mem = memory()
		local src = map_msg(t, mem, A, 4 * PAGE, R)
		map_msg(t, mem, 2 * A, 4 * PAGE, RW)
		mem_put(src, A, pattern(10000, 2))
		local rep, log = copy(t, mem, A, 2 * A, 10000,
		                      { xfer_max = 4096 })
		if not rep then
			t:fail{ expected = "the REGION_WRITE reply", actual = log }
		end
		no_violations(t, log)
	end,
}

-- A region mapped without the writeable flag is never written: no
-- DMA_WRITE to it (message mode), no change to its memory (fd mode).
case {
	id = "vfio-user/dma/read-only-message-region",
	spec = MAP .. "/VU-DMA-MAP-12",
	level = "MUST",
	quote = [[* *writeable* indicates that the region can be written to.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		need_engine(t)
		local mem = memory()
		local src = map_msg(t, mem, A, PAGE, R)
		map_msg(t, mem, 2 * A, PAGE, R)
		mem_put(src, A, pattern(256, 3))
		local rep, log, result = copy(t, mem, A, 2 * A, 256)
		if not rep then
			t:fail{ expected = "the REGION_WRITE reply", actual = log }
		end
		t:check(#log.writes == 0, "no DMA_WRITE to a read-only region",
		        #log.writes .. " DMA_WRITE")
		t:check(result ~= 0, "the copy failed (DMA_RESULT an errno)",
		        result)
	end,
}

case {
	id = "vfio-user/dma/read-only-fd-region",
	spec = MAP .. "/VU-DMA-MAP-12",
	level = "MUST",
	quote = [[* *writeable* indicates that the region can be written to.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		need_engine(t)
		local mem = memory()
		local src = map_fd(t, mem, A, PAGE, R)
		local dst = map_fd(t, mem, 2 * A, PAGE, R)
		local before = mem_get(dst, 2 * A, 256)
		mem_put(src, A, pattern(256, 4))
		local rep, log = copy(t, mem, A, 2 * A, 256)
		if not rep then
			t:fail{ expected = "the REGION_WRITE reply", actual = log }
		end
		t:check(#log.writes == 0, "no DMA_WRITE to a read-only region",
		        #log.writes .. " DMA_WRITE")
		t:check(mem_get(dst, 2 * A, 256) == before,
		        "the read-only region unchanged", "it was written")
	end,
}

-- fd-backed regions: the data must land in the shared memory, whether
-- the server maps it or (allowed: "all of these operations must be
-- supported by the client") asks by message.
case {
	id = "vfio-user/dma/server-dma-fd-region",
	spec = MAP .. "/VU-DMA-MODE-05",
	level = "MUST",
	quote = [[If the DMA region being added can be directly mapped by the
server, a file descriptor must be sent as part of the message meta-data. The
region can be mapped via the mmap() system call.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		need_engine(t)
		local mem = memory()
		local src = map_fd(t, mem, A, 4 * PAGE, R)
		local dst = map_fd(t, mem, 2 * A, 4 * PAGE, RW)
		local data = pattern(5000, 5)
		mem_put(src, A + 3, data)
		local rep, log, result = copy(t, mem, A + 3, 2 * A + 11, #data)
		if not rep then
			t:fail{ expected = "the REGION_WRITE reply", actual = log }
		end
		no_violations(t, log)
		t:check(result == 0, "DMA_RESULT 0", result)
		t:check(mem_get(dst, 2 * A + 11, #data) == data,
		        "the copied bytes in the shared memory", "other bytes")
	end,
}

-- Seed 003: "If no access mode flag bit is set, the server should use
-- mmap() based access if the client provided a file descriptor".
case {
	id = "vfio-user/dma/fd-default-is-mmap",
	spec = MAP .. "/VU-DMA-MODE-05",
	level = "SHOULD",
	quote = [[If no access mode flag bit is set, the server should use
``mmap()`` based access if the client provided a file descriptor and
message-based access otherwise.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		need_engine(t)
		local mem = memory()
		local src = map_fd(t, mem, A, PAGE, R)
		map_fd(t, mem, 2 * A, PAGE, RW)
		mem_put(src, A, pattern(512, 6))
		local rep, log = copy(t, mem, A, 2 * A, 512)
		if not rep then
			t:fail{ expected = "the REGION_WRITE reply", actual = log }
		end
		t:check(log.fd_region == 0, "no DMA_READ / DMA_WRITE for " ..
		        "fd-backed regions", log.fd_region .. " messages")
	end,
}

-- File I/O mode (libvfio-user #842): pread / pwrite on the fd.
case {
	id = "vfio-user/dma/server-dma-file-io",
	spec = MAP .. "/VU-DMA-MODE-04",
	level = "MUST",
	quote = [[* File I/O system calls (such as ``pread()`` / ``pwrite()``)
against a client-provided file descriptor.]],
	needs = { handshake = true, caps = CAPS, profile = "libvfio-user" },
	run = function(t)
		need_engine(t)
		local mem = memory()
		local src = map_fd(t, mem, A, PAGE, R, vfio.DMA_FILE_IO)
		local dst = map_fd(t, mem, 2 * A, PAGE, RW, vfio.DMA_FILE_IO)
		local data = pattern(700, 7)
		mem_put(src, A + 1, data)
		local rep, log, result = copy(t, mem, A + 1, 2 * A + 2, #data)
		if not rep then
			t:fail{ expected = "the REGION_WRITE reply", actual = log }
		end
		t:check(log.fd_region == 0, "no DMA_READ / DMA_WRITE in file " ..
		        "I/O mode", log.fd_region .. " messages")
		t:check(result == 0, "DMA_RESULT 0", result)
		t:check(mem_get(dst, 2 * A + 2, #data) == data,
		        "the copied bytes in the file", "other bytes")
	end,
}

-- After DMA_UNMAP the server holds no reference: a copy from the old
-- range asks nothing of the client and fails.
case {
	id = "vfio-user/dma/no-dma-after-unmap",
	spec = UNMAP .. "/VU-DMA-UNMAP-03",
	level = "MUST",
	quote = [[if the file descriptor is
mapped then the server must release all references to that DMA region before
replying]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		need_engine(t)
		local mem = memory()
		local src = map_msg(t, mem, A, PAGE, R)
		map_msg(t, mem, 2 * A, PAGE, RW)
		t:expect_success(unmap(A, PAGE))
		src.gone = true
		local rep, log, result = copy(t, mem, A, 2 * A, 64)
		if not rep then
			t:fail{ expected = "the REGION_WRITE reply", actual = log }
		end
		no_violations(t, log)
		t:check(result ~= 0, "the copy failed", result)
	end,
}

-- The spec's DMA_WRITE reply is 12 bytes (count is 4 bytes wide);
-- libvfio-user sends 16 (a u64 count), QEMU the header alone.
local write_replies = {
	{ "spec", "MUST", nil },
	{ "u64", "MUST", "libvfio-user" },
	{ "header", "MUST", "qemu" },
}
for _, w in ipairs(write_replies) do
	case {
		id = "vfio-user/dma/dma-write-reply-" .. w[1],
		spec = DWRITE .. "/VU-SDMA-05",
		level = w[2],
		quote = [[| count   | 8      | 4        |]],
		needs = { handshake = true, caps = CAPS, profile = w[3] },
		run = function(t)
			need_engine(t)
			local mem = memory()
			local src = map_msg(t, mem, A, PAGE, R)
			map_msg(t, mem, 2 * A, PAGE, RW)
			mem_put(src, A, pattern(128, 8))
			local rep, log, result = copy(t, mem, A, 2 * A, 128,
			                              { write_reply = w[1] })
			if not rep then
				t:fail{ expected = "the REGION_WRITE reply",
				        actual = log }
			end
			t:check(result == 0, "the copy done (DMA_RESULT 0)",
			        result)
		end,
	}
end

-- Served badly on purpose: the server must survive an error reply, short
-- data and a slow client, and answer the command that caused the DMA.
local bad_serving = {
	{ "error-reply", { how = "error", error = 14 } },       -- EFAULT
	{ "error-reply-zero-errno", { how = "error", error = 0 } },
	{ "error-reply-huge-errno", { how = "error", error = 0xffffffff } },
	{ "short-read-data", { how = "short", short_by = 16 } },
	{ "slow-client", { delay_ms = 150 } },
}
for _, b in ipairs(bad_serving) do
	case {
		id = "vfio-user/dma/served-" .. b[1],
		spec = DREAD .. "/VU-SDMA-07",
		level = "ROBUST",
		quote = [[Standard tools and mechanisms should be used on both
sides to validate input and prevent against denial of service scenarios,
buffer overflow, etc.]],
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			need_engine(t)
			local mem = memory()
			local src = map_msg(t, mem, A, PAGE, R)
			map_msg(t, mem, 2 * A, PAGE, RW)
			mem_put(src, A, pattern(256, 9))
			local rep, log = copy(t, mem, A, 2 * A, 256, b[2])
			t:expect_alive()
			if not rep and log ~= "hangup" then
				t:fail{ expected = "the REGION_WRITE reply, or a " ..
				                   "hang-up", actual = log }
			end
			if rep then
				still_serves(t)
			end
			-- a short or failed read must not be copied as if it
			-- were whole
			if rep and b[2].how then
				local r = reg_read32(t, REG_RESULT)
				t:check(r ~= 0, "the copy reported as failed", r)
			end
		end,
	}
end

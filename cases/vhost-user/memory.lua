-- SPDX-License-Identifier: MIT
-- memory.lua - VHOST_USER_SET_MEM_TABLE: one to eight regions (used for
-- I/O in every region), region / fd count mismatches with canary fds that
-- must survive, overlapping and degenerate regions, regions past the end
-- of their file, and fds of the zoo that cannot be mapped.
--
-- Spec: vhost-user.rst, "Memory access", "Memory region description",
-- "Multiple Memory regions description" and VHOST_USER_SET_MEM_TABLE.

-- ---- session and data-path helpers --------------------------------------
-- Shared by memory.lua, mem-slots.lua, vrings.lua, vring-fds.lua,
-- ring-states.lua and multiqueue.lua: vhost.ring_helpers() in
-- harness/lua/prelude.lua.

local H = vhost.ring_helpers()
local PF_REPLY_ACK, PF_MQ = H.PF_REPLY_ACK, H.PF_MQ
local F_PROTOCOL_FEATURES, F_VERSION_1, MIB =
	H.F_PROTOCOL_FEATURES, H.F_VERSION_1, H.MIB
local pf_names, session, acked, step = H.pf_names, H.session, H.acked, H.step
local vring_count, responsive, notify = H.vring_count, H.responsive, H.notify
local DP, dp_new = H.DP, H.dp_new

-- ---- cases ----------------------------------------------------------------

local Q_TABLE = [[Sets the memory map regions on the back-end so it can translate the
vring addresses. In the ancillary data there is an array of file
descriptors for each memory mapped region.]]
local Q_FDS = [[The size and ordering of the fds matches the number and ordering of
memory regions.]]
local Q_MAP = [[User addresses map to the vhost memory region containing that user address.]]

-- SET_MEM_TABLE as bytes: any region count, any regions, any fds.
local function table_raw(nregions, regions, fds)
	local p = { string.pack("<I4I4", nregions, 0) }
	for _, r in ipairs(regions) do
		p[#p + 1] = string.pack("<I8I8I8I8", r.guest_addr, r.size,
		                        r.user_addr, r.mmap_offset or 0)
	end
	local payload = table.concat(p)
	return vhost.raw{ request = vhost.code("SET_MEM_TABLE"),
	                  flags = vhost.VERSION | vhost.NEED_REPLY,
	                  size = #payload, payload = payload, fds = fds or {} }
end

-- n regions of 1 MiB, their fds in order.
local function regions_of(n, size)
	local mem = gmem.new()
	for i = 1, n do
		assert(mem:add_region(0x100000 + (i - 1) * 4 * MIB, size or MIB))
	end
	local regs, fds = mem:regions(), {}
	for i, r in ipairs(regs) do
		fds[i] = r.fd
	end
	return mem, regs, fds
end

-- 1 to 8 regions: acked (a back-end that asserts on two or more fds, as
-- libvhost-user's reader did in QEMU 8.2, fails from two on).
for n = 1, 8 do
	case {
		id = ("vhost-user/mem/regions-%d"):format(n),
		spec = "vhost-user#front-end-message-types",
		level = "MUST",
		quote = Q_TABLE,
		needs = { protocol_features = { "REPLY_ACK" } },
		run = function(t)
			local _, regs = regions_of(n)
			t:expect_ack(vhost.msg("SET_MEM_TABLE", { regions = regs }))
			responsive(t)
		end,
	}
	-- and used: the rings in the last region, the request in pieces,
	-- one in each region
	case {
		id = ("vhost-user/mem/regions-%d-io"):format(n),
		spec = "vhost-user#memory-access",
		level = "MUST",
		quote = Q_MAP,
		run = function(t)
			local dp = dp_new(t, { regions = n, ring_region = n })
			local at = {}
			for k = 1, n do
				at[k] = dp.base[k] + dp.size * 3 // 4
			end
			local tok = dp:round("a request through all " .. n ..
			                     " regions processed", { at = at })
			if dp.dev == "blk" then
				t:check(dp:status(tok) == 0, "status 0 (VIRTIO_BLK_S_OK)",
				        ("status %d"):format(dp:status(tok)))
			end
		end,
	}
end

-- Region order is not address order.
case {
	id = "vhost-user/mem/regions-unsorted-io",
	spec = "vhost-user#memory-access",
	level = "MUST",
	quote = Q_MAP,
	run = function(t)
		local dp = dp_new(t, { regions = 3, ring_region = 2, no_mem = true,
			before_mem = function(dp)
				local r = dp.mem:regions()
				step(t, vhost.msg("SET_MEM_TABLE",
				                  { regions = { r[3], r[1], r[2] } }))
			end })
		dp:round("a request processed", { at = {
			dp.base[3] + 4096, dp.base[1] + 4096, dp.base[2] + 0xc0000 } })
	end,
}

-- The same table twice: both acked, the data path works after.
case {
	id = "vhost-user/mem/table-twice",
	spec = "vhost-user#front-end-message-types",
	level = "MUST",
	quote = Q_TABLE,
	run = function(t)
		local dp = dp_new(t)
		dp:round("a request processed")
		step(t, vhost.msg("SET_MEM_TABLE", { regions = dp.mem:regions() }))
		dp:round("a request processed after the same table again")
	end,
}

-- Counts that do not match: "The size and ordering of the fds matches the
-- number and ordering of memory regions". A region without its fd cannot
-- be mapped: the table must not be acked as done (the seeded bug
-- mem-table-fd-mismatch skips such regions and acks 0).
for _, c in ipairs({
	{ "fewer-fds-than-regions", 2, 1 },
	{ "no-fds", 1, 0 },
	{ "eight-regions-seven-fds", 8, 7 },
}) do
	case {
		id = ("vhost-user/mem/%s"):format(c[1]),
		spec = "vhost-user#front-end-message-types",
		level = "MUST",
		quote = Q_FDS,
		needs = { protocol_features = { "REPLY_ACK" } },
		run = function(t)
			local _, regs, fds = regions_of(c[2])
			t:expect_refusal(table_raw(c[2], regs,
			                           { table.unpack(fds, 1, c[3]) }))
			responsive(t)
		end,
	}
end

-- Lies a back-end may meet any way it likes, but without a crash or a
-- hang: more fds than regions (16 times, and the extra fds must not pile
-- up), no regions, 9 regions (the payload holds 8), a region count far
-- past the payload, a payload shorter than its count.
local LIES = {
	["more-fds-than-regions"] = function()
		local _, regs, fds = regions_of(2)
		return table_raw(1, { regs[1] }, fds)
	end,
	["zero-regions"] = function()
		return table_raw(0, {}, {})
	end,
	["zero-regions-one-fd"] = function()
		local _, _, fds = regions_of(1)
		return table_raw(0, {}, fds)
	end,
	["nine-regions"] = function()
		local _, regs, fds = regions_of(9, 64 * 1024)
		return table_raw(9, regs, fds)
	end,
	["nine-regions-eight-fds"] = function()
		local _, regs, fds = regions_of(9, 64 * 1024)
		return table_raw(9, regs, { table.unpack(fds, 1, 8) })
	end,
	["nregions-huge"] = function()
		local _, regs, fds = regions_of(8, 64 * 1024)
		return table_raw(0xffffffff, regs, fds)
	end,
	["payload-short"] = function()
		local _, regs, fds = regions_of(2)
		local m = table_raw(2, regs, fds)
		m.payload = m.payload:sub(1, 8 + 32)
		m.size = #m.payload
		return m
	end,
}
local LIE_NAMES = { "more-fds-than-regions", "zero-regions",
                    "zero-regions-one-fd", "nine-regions",
                    "nine-regions-eight-fds", "nregions-huge",
                    "payload-short" }

for _, name in ipairs(LIE_NAMES) do
	case {
		id = ("vhost-user/mem/%s"):format(name),
		spec = "vhost-user#multiple-memory-regions-description",
		level = "ROBUST",
		quote = [[:num regions: a 32-bit number of regions]],
		needs = { protocol_features = { "REPLY_ACK" } },
		run = function(t)
			local before = t:has_process() and t:fd_count()
			for _ = 1, 8 do
				local _, k = t:expect(LIES[name](),
				                      { "ack", "nack", "hangup" })
				if k == "hangup" then
					return t:expect_alive()
				end
			end
			responsive(t)
			if before then
				local after = t:fd_count()
				t:check(after - before <= 9, "fds of 8 such tables not " ..
				        "kept (at most one table's worth more)",
				        ("%d -> %d"):format(before, after))
			end
		end,
	}
	-- Canaries: the kick and call fds (and the socket) the back-end got
	-- before the bad table must survive it: after the good table and the
	-- ring addresses again, a kick through the old kick fd is processed
	-- and the call comes on the old call fd. A back-end that closes fds it
	-- did not get with this message (libvhost-user S2: close(fds[i]) past
	-- fd_num) loses them.
	case {
		id = ("vhost-user/mem/%s-canaries"):format(name),
		spec = "vhost-user#multiple-memory-regions-description",
		level = "ROBUST",
		quote = [[:num regions: a 32-bit number of regions]],
		run = function(t)
			local dp = dp_new(t)
			dp:round("a request processed before the bad table")
			dp:called(nil, 100)
			local _, k = t:expect(LIES[name](), { "ack", "nack", "hangup" })
			-- "it may also close the connection": then only the process
			-- is judged
			if k == "hangup" or not responsive(t) then
				return t:expect_alive()
			end
			-- the good table and ring addresses again (a table the
			-- back-end took may have left them invalid); the fds stay
			step(t, vhost.msg("SET_MEM_TABLE",
			                  { regions = dp.mem:regions() }))
			for _, i in ipairs(dp.indices) do
				local a = dp.q[i]:addrs()
				step(t, vhost.msg("SET_VRING_ADDR", { index = i,
				                  desc = a.desc, used = a.used,
				                  avail = a.avail }))
			end
			dp:round("a request processed through the fds sent before " ..
			         "the bad table")
			t:check(dp:called(nil, 500), "the call on the call fd sent " ..
			        "before the bad table", "nothing within 500 ms")
		end,
	}
end

-- A second region whose mapping a back-end must not trust: if the table
-- is acked, a request reads from that region (the data of a write, the
-- frame of a TX); the back-end must survive it (the seeded bug
-- mem-past-eof maps past the end of the memfd and dies of SIGBUS). With a
-- non-net/blk device only the table itself is sent.
local BAD_GPA = 0x40000000
local BAD_UADDR = 0x100000000000

local function probe_region(t, bad)
	session(t)
	local function table_with_bad(good)
		local regs = good or {}
		regs[#regs + 1] = { guest_addr = BAD_GPA, size = bad.size or MIB,
		                    user_addr = BAD_UADDR,
		                    mmap_offset = bad.offset or 0, fd = bad.fd }
		return vhost.msg("SET_MEM_TABLE", { regions = regs })
	end
	if t.device ~= "net" and t.device ~= "blk" then
		t:expect(table_with_bad(), { "ack", "nack", "hangup" },
		         { need_reply = true })
		return responsive(t)
	end
	local took
	local dp = dp_new(t, { no_mem = true, before_mem = function(dp)
		local _, k = t:expect(table_with_bad(dp.mem:regions()),
		                      { "ack", "nack", "hangup" },
		                      { need_reply = true })
		-- "it may also close the connection", also after an ack
		if k == "hangup" or not responsive(t) then
			t:expect_alive()
			t:pass()
		end
		took = k == "ack"
		if not took then
			step(t, vhost.msg("SET_MEM_TABLE",
			                  { regions = dp.mem:regions() }))
		end
	end })
	local at = { nil, BAD_GPA + 64 * 1024, nil }
	at[1] = dp:buf(64)
	if took then
		local tok = dp:submit{ at = at, foreign = true }
		dp:wait(tok, 300)
	end
	responsive(t)
	dp:round("a request in good memory still processed")
end

-- Region past the end of its memfd, by size and by offset.
case {
	id = "vhost-user/mem/region-past-eof",
	spec = "vhost-user#memory-region-description",
	level = "ROBUST",
	quote = [[:size: a 64-bit size]],
	run = function(t)
		probe_region(t, { fd = assert(fdzoo.new("memfd", 4096)) })
	end,
}
case {
	id = "vhost-user/mem/region-offset-past-eof",
	spec = "vhost-user#memory-region-description",
	level = "ROBUST",
	quote = [[:mmap offset: 64-bit offset where region starts in the mapped memory]],
	run = function(t)
		probe_region(t, { fd = assert(fdzoo.new("memfd", MIB)),
		                  offset = MIB })
	end,
}
case {
	id = "vhost-user/mem/region-offset-wraps",
	spec = "vhost-user#memory-region-description",
	level = "ROBUST",
	quote = [[:mmap offset: 64-bit offset where region starts in the mapped memory]],
	run = function(t)
		probe_region(t, { fd = assert(fdzoo.new("memfd", MIB)),
		                  offset = -4096 })
	end,
}
case {
	id = "vhost-user/mem/region-size-wraps",
	spec = "vhost-user#memory-region-description",
	level = "ROBUST",
	quote = [[:size: a 64-bit size]],
	run = function(t)
		probe_region(t, { fd = assert(fdzoo.new("memfd", MIB)),
		                  size = -4096 })
	end,
}
case {
	id = "vhost-user/mem/region-size-zero",
	spec = "vhost-user#memory-region-description",
	level = "ROBUST",
	quote = [[:size: a 64-bit size]],
	run = function(t)
		probe_region(t, { fd = assert(fdzoo.new("memfd", MIB)), size = 0 })
	end,
}

-- Fds of the zoo that cannot back memory (mmap refuses them, or a
-- writable shared mapping: a sealed memfd, a read-only file), or back it
-- only as far as they go (a 4 KiB file under a 1 MiB region).
for _, kind in ipairs({ "pipe-read", "pipe-write", "widowed-pipe-read",
                        "eventfd", "socket", "dir", "file-ro", "file-wo",
                        "file-rw", "o-path", "dev-null", "dev-full",
                        "memfd-sealed" }) do
	case {
		id = ("vhost-user/mem/region-fd-%s"):format(kind),
		spec = "vhost-user#front-end-message-types",
		level = "ROBUST",
		quote = Q_TABLE,
		run = function(t)
			local fd, other = fdzoo.new(kind, 4096)
			assert(fd, other)
			probe_region(t, { fd = fd })
		end,
	}
end

-- Overlapping regions: two with the same guest range, two with the same
-- user range, the same region twice. Translation is ambiguous; any answer,
-- and a data path that still works in the first region if it was taken.
for _, o in ipairs({ "guest", "user", "both" }) do
	case {
		id = ("vhost-user/mem/overlap-%s-ranges"):format(o),
		spec = "vhost-user#memory-access",
		level = "ROBUST",
		quote = [[Guest addresses map to the vhost memory region containing that guest
address.]],
		needs = { protocol_features = { "REPLY_ACK" } },
		run = function(t)
			local _, regs = regions_of(2)
			if o ~= "user" then
				regs[2].guest_addr = regs[1].guest_addr + 4096
			end
			if o ~= "guest" then
				regs[2].user_addr = regs[1].user_addr + 4096
			end
			t:expect_robust(vhost.msg("SET_MEM_TABLE", { regions = regs }))
			responsive(t)
		end,
	}
end

-- Nine regions with their nine fds: the payload is laid out for eight
-- (region0 .. region7; larger memories go through ADD_MEM_REG), and a
-- back-end reading eight fds loses the ninth to MSG_CTRUNC. Acking the
-- table as if whole (the seeded bug ctrunc-ignored) claims a region it
-- never got.
case {
	id = "vhost-user/mem/nine-regions-refused",
	spec = "vhost-user#multiple-memory-regions-description",
	level = "SHOULD",
	quote = [[+-------------+---------+---------+-----+---------+
| num regions | padding | region0 | ... | region7 |
+-------------+---------+---------+-----+---------+]],
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		t:expect_refusal(LIES["nine-regions"]())
		responsive(t)
	end,
}

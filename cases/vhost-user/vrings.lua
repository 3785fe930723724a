-- SPDX-License-Identifier: MIT
-- vrings.lua - the vring requests: indices at the last ring and past it,
-- ring sizes, ring addresses (unaligned, straddling, unmapped), hostile
-- rings from the driver side, and the used length.
--
-- Spec: vhost-user.rst, the vring messages under "Front-end message
-- types", "A vring state description", "A vring address description",
-- "Memory access"; virtio split-ring.tex for the used ring.

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

local Q_STATE = [[:index: a 32-bit index

:num: a 32-bit number]]
local Q_MQ = [[As all queues share one connection, the front-end uses a unique index for each
queue in the sent message to identify a specified queue.]]

-- One memory region and a split ring in it, for requests that want
-- addresses a back-end can translate.
local function mem_and_ring(t, num)
	local mem = gmem.new()
	assert(mem:add_region(0x100000, MIB))
	step(t, vhost.msg("SET_MEM_TABLE", { regions = mem:regions() }))
	return mem, assert(ring.split(mem, num or 64, 0))
end

-- The state requests and what each carries besides the index.
local STATE_REQS = {
	{ "SET_VRING_NUM", function(i) return { index = i, num = 64 } end },
	{ "SET_VRING_ADDR", nil },
	{ "SET_VRING_BASE", function(i) return { index = i, num = 0 } end },
	{ "GET_VRING_BASE", function(i) return { index = i, num = 0 } end },
	{ "SET_VRING_ENABLE", function(i) return { index = i, num = 1 } end },
}

local function state_msg(t, req, fields, i)
	if fields then
		return vhost.msg(req, fields(i))
	end
	local _, q = mem_and_ring(t)
	local a = q:addrs()
	return vhost.msg(req, { index = i, desc = a.desc, used = a.used,
	                        avail = a.avail })
end

-- Past the last ring: the ring count itself, 256 (DPDK's old array),
-- 0x8000, 0x10000 (truncated to 16 bits it is 0: CVE-2020-10723) and
-- 0xffffffff. Nothing in the spec says how to refuse, so any reaction
-- but silence where a reply is due; what fails is a crash (the seeded bug
-- vring-index-unchecked writes past its vring array), a hang, or a
-- back-end that stops answering.
local BAD_INDEX = {
	{ "ring-count", nil }, { "256", 256 }, { "0x8000", 0x8000 },
	{ "0x10000", 0x10000 }, { "0xffffffff", 0xffffffff },
}

for _, r in ipairs(STATE_REQS) do
	local req, fields = r[1], r[2]
	local slug = req:lower():gsub("_", "-")
	for _, b in ipairs(BAD_INDEX) do
		case {
			id = ("vhost-user/vring/%s-index-%s"):format(slug, b[1]),
			spec = "vhost-user#multiple-queue-support",
			level = "ROBUST",
			quote = Q_MQ,
			run = function(t)
				session(t)
				local i = b[2] or vring_count(t)
				local m = state_msg(t, req, fields, i)
				local accept = req == "GET_VRING_BASE" and
				               { "reply", "nack", "hangup" } or
				               { "ack", "nack", "hangup" }
				t:expect(m, accept, { need_reply = true })
				responsive(t)
			end,
		}
	end
	-- the last ring is a ring: the request is taken
	case {
		id = ("vhost-user/vring/%s-last-index"):format(slug),
		spec = "vhost-user#multiple-queue-support",
		level = "MUST",
		quote = [[The max number of queues the back-end supports can be queried with message
``VHOST_USER_GET_QUEUE_NUM``.]],
		run = function(t)
			session(t)
			local i = vring_count(t) - 1
			if req == "SET_VRING_ADDR" then
				step(t, vhost.msg("SET_VRING_NUM", { index = i, num = 64 }))
			end
			local m = state_msg(t, req, fields, i)
			if req == "GET_VRING_BASE" then
				local rep = t:expect_reply(m)
				t:check(rep.index == i, ("the reply for ring %d"):format(i),
				        ("index %s"):format(rep.index))
			else
				t:expect_ack(m)
			end
		end,
	}
end

-- SET_VRING_KICK / CALL / ERR carry the index in bits 0-7: the ring count
-- (if it fits), 0xff, and index 0 with bits 9-63 set (undefined bits).
for _, req in ipairs({ "SET_VRING_KICK", "SET_VRING_CALL", "SET_VRING_ERR" }) do
	local slug = req:lower():gsub("_", "-")
	for _, b in ipairs({ { "ring-count", nil }, { "0xff", 0xff },
	                     { "high-bits", 0xfffffe00 } }) do
		case {
			id = ("vhost-user/vring/%s-index-%s"):format(slug, b[1]),
			spec = "vhost-user#front-end-message-types",
			level = "ROBUST",
			quote = [[Bits (0-7) of the payload contain the vring index. Bit 8 is the
invalid FD flag.]],
			run = function(t)
				session(t)
				local v = b[2] or vring_count(t)
				if v > 0xff and b[1] == "ring-count" then
					t:skip("the ring count does not fit in 8 bits")
				end
				local m = vhost.msg(req, { index = 0,
				                    fd = fdzoo.eventfd(0, "nonblock") })
				m.payload = string.pack("<I8", v)
				t:expect(m, { "ack", "nack", "hangup" }, { need_reply = true })
				responsive(t)
			end,
		}
	end
	case {
		id = ("vhost-user/vring/%s-last-index"):format(slug),
		spec = "vhost-user#front-end-message-types",
		level = "MUST",
		quote = [[Bits (0-7) of the payload contain the vring index.]],
		run = function(t)
			session(t)
			local i = vring_count(t) - 1
			if i > 0xff then
				t:skip("more rings than 8 index bits address")
			end
			t:expect_ack(vhost.msg(req, { index = i,
			             fd = fdzoo.eventfd(0, "nonblock") }))
		end,
	}
end

-- Ring sizes. A split ring's size is a power of 2, at most 32768 (virtio
-- split-ring.tex, "The maximum Queue Size value is 32768"): the spec's
-- "Set the size of the queue" cannot be done for others, so a back-end
-- should refuse them (the seeded bug vring-num-unchecked acks them).
local Q_NUM = [[Set the size of the queue.]]
local BAD_NUM = { { "0", 0 }, { "3", 3 }, { "1025", 1025 },
                  { "65536", 65536 }, { "0xffffffff", 0xffffffff } }

for _, b in ipairs(BAD_NUM) do
	case {
		id = ("vhost-user/vring/num-%s-refused"):format(b[1]),
		spec = "vhost-user#front-end-message-types",
		level = "SHOULD",
		quote = Q_NUM,
		needs = { protocol_features = { "REPLY_ACK" } },
		run = function(t)
			t:expect_refusal(vhost.msg("SET_VRING_NUM",
			                           { index = 0, num = b[2] }))
			responsive(t)
		end,
	}
	-- Taken or not, the rest of the setup and a kick must not crash it
	-- (a back-end that believes num indexes avail->ring[num] and
	-- desc[head] far outside the ring).
	case {
		id = ("vhost-user/vring/num-%s-then-kick"):format(b[1]),
		spec = "vhost-user#front-end-message-types",
		level = "ROBUST",
		quote = Q_NUM,
		run = function(t)
			session(t)
			local mem, q = mem_and_ring(t, 256)
			local a = q:addrs()
			local kick = fdzoo.eventfd(0, "nonblock")
			local msgs = {
				vhost.msg("SET_VRING_NUM", { index = 0, num = b[2] }),
				vhost.msg("SET_VRING_BASE", { index = 0, num = 0 }),
				vhost.msg("SET_VRING_ADDR", { index = 0, desc = a.desc,
				          used = a.used, avail = a.avail }),
				vhost.msg("SET_VRING_CALL", { index = 0,
				          fd = fdzoo.eventfd(0, "nonblock") }),
				vhost.msg("SET_VRING_KICK", { index = 0, fd = kick }),
				vhost.msg("SET_VRING_ENABLE", { index = 0, num = 1 }),
			}
			for _, m in ipairs(msgs) do
				local _, k = t:expect(m, { "ack", "nack", "hangup" },
				                      { need_reply = true })
				if k == "hangup" then
					return t:expect_alive()
				end
			end
			-- a request only where its contents mean something (a
			-- zeroed FUSE request is a fault of its own)
			if t.device == "net" or t.device == "blk" then
				local buf = assert(mem:alloc(4096))
				q:add{ { gpa = buf, len = 64 }, { gpa = buf + 64,
				         len = 64, write = true }, token = 1 }
				q:publish()
			end
			kick:signal()
			t:sleep(20)
			responsive(t)
		end,
	}
end

for _, g in ipairs({ { "1", 1, "SHOULD" }, { "256", 256, "MUST" },
                     { "32768", 32768, "SHOULD" } }) do
	case {
		id = ("vhost-user/vring/num-%s-accepted"):format(g[1]),
		spec = "vhost-user#front-end-message-types",
		level = g[3],
		quote = Q_NUM,
		needs = { protocol_features = { "REPLY_ACK" } },
		run = function(t)
			t:expect_ack(vhost.msg("SET_VRING_NUM", { index = 0, num = g[2] }))
		end,
	}
end

-- Ring addresses a back-end cannot use as they are: outside every region
-- ("User addresses map to the vhost memory region containing that user
-- address": there is none), running past the end of the region, or not
-- aligned as virtio lays rings out. Any reaction; then a kick, and the
-- back-end must neither crash nor stop serving.
local function addr_case(t, edit)
	session(t)
	local mem, q = mem_and_ring(t, 256)
	local a = q:addrs()
	local region_end = mem:uaddr(0x100000) + MIB
	local addr = { index = 0, desc = a.desc, used = a.used, avail = a.avail }
	edit(addr, region_end, a)
	local kick = fdzoo.eventfd(0, "nonblock")
	step(t, vhost.msg("SET_VRING_NUM", { index = 0, num = 256 }))
	step(t, vhost.msg("SET_VRING_BASE", { index = 0, num = 0 }))
	local _, k = t:expect(vhost.msg("SET_VRING_ADDR", addr),
	                      { "ack", "nack", "hangup" }, { need_reply = true })
	if k == "hangup" then
		return t:expect_alive()
	end
	for _, m in ipairs({
		vhost.msg("SET_VRING_CALL", { index = 0,
		          fd = fdzoo.eventfd(0, "nonblock") }),
		vhost.msg("SET_VRING_KICK", { index = 0, fd = kick }),
		vhost.msg("SET_VRING_ENABLE", { index = 0, num = 1 }) }) do
		local _, kk = t:expect(m, { "ack", "nack", "hangup" },
		                       { need_reply = true })
		if kk == "hangup" then
			return t:expect_alive()
		end
	end
	if t.device == "net" or t.device == "blk" then
		local buf = assert(mem:alloc(4096))
		q:add{ { gpa = buf, len = 64 }, token = 1 }
		q:publish()
	end
	kick:signal()
	t:sleep(20)
	responsive(t)
end

local Q_ADDR = [[User addresses map to the vhost memory region containing that user
address.]]
local PARTS = { "desc", "avail", "used" }
local ADDR_EDITS = {
	unmapped = function(addr, _, _, part)
		addr[part] = 0x7ff000000000 -- in no region
	end,
	straddle = function(addr, region_end, _, part)
		addr[part] = region_end - 8 -- starts inside, runs past the end
	end,
	unaligned = function(addr, _, _, part)
		addr[part] = addr[part] + 1
	end,
	zero = function(addr, _, _, part)
		addr[part] = 0
	end,
	["last-byte"] = function(addr, region_end, _, part)
		addr[part] = region_end - 1
	end,
}
for _, how in ipairs({ "unmapped", "straddle", "unaligned", "zero",
                       "last-byte" }) do
	for _, part in ipairs(PARTS) do
		case {
			id = ("vhost-user/vring/addr-%s-%s"):format(part, how),
			spec = "vhost-user#memory-access",
			level = "ROBUST",
			quote = Q_ADDR,
			run = function(t)
				addr_case(t, function(addr, region_end, a)
					ADDR_EDITS[how](addr, region_end, a, part)
				end)
			end,
		}
	end
end

-- Flags other than VHOST_VRING_F_LOG, and LOG with a log address in no
-- region and no log base.
for _, f in ipairs({ { "unknown-flags", 0xfffffffe, nil },
                     { "log-without-log-base", 1, 0x7ff000000000 } }) do
	case {
		id = ("vhost-user/vring/addr-%s"):format(f[1]),
		spec = "vhost-user#a-vring-address-description",
		level = "ROBUST",
		quote = [[:flags: a 32-bit vring flags]],
		run = function(t)
			addr_case(t, function(addr)
				addr.flags = f[2]
				addr.log = f[3]
			end)
		end,
	}
end

-- SET_VRING_ADDR before any memory table: nothing to translate with.
case {
	id = "vhost-user/vring/addr-before-mem-table",
	spec = "vhost-user#memory-access",
	level = "ROBUST",
	quote = [[The front-end sends a list of vhost memory regions to the back-end using the
``VHOST_USER_SET_MEM_TABLE`` message.]],
	run = function(t)
		session(t)
		step(t, vhost.msg("SET_VRING_NUM", { index = 0, num = 64 }))
		t:expect(vhost.msg("SET_VRING_ADDR", { index = 0, desc = 0x10000,
		         used = 0x20000, avail = 0x30000 }),
		         { "ack", "nack", "hangup" }, { need_reply = true })
		local kick = fdzoo.eventfd(0, "nonblock")
		t:expect(vhost.msg("SET_VRING_KICK", { index = 0, fd = kick }),
		         { "ack", "nack", "hangup" }, { need_reply = true })
		if t:alive() then
			kick:signal()
			t:sleep(20)
		end
		responsive(t)
	end,
}

-- SET_VRING_BASE of a split ring with the reserved bits 16-31 set.
case {
	id = "vhost-user/vring/base-reserved-bits",
	spec = "vhost-user#a-vring-descriptor-index-for-split-virtqueues",
	level = "ROBUST",
	quote = [[- Bits 16–31: Reserved (set to zero)]],
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		t:expect_robust(vhost.msg("SET_VRING_BASE",
		                          { index = 0, num = 0xffff0000 }))
		responsive(t)
	end,
}

-- GET_VRING_BASE with the reserved num field set: answered all the same.
case {
	id = "vhost-user/vring/get-base-num-reserved",
	spec = "vhost-user#front-end-message-types",
	level = "ROBUST",
	quote = [[The request payload’s *num* field is currently reserved and must be
set to 0.]],
	run = function(t)
		session(t)
		t:expect(vhost.msg("GET_VRING_BASE", { index = 0, num = 0xffffffff }),
		         { "reply", "nack", "hangup" }, { need_reply = false })
		responsive(t)
	end,
}

-- Hostile rings from the driver side (every construct the ring engine
-- knows: loops, chains longer than the ring, nested indirect tables,
-- addresses outside memory, heads and next indices out of range, ...).
-- The guest is not trusted: the back-end may drop the request or mark the
-- ring broken, but must not crash, hang (the seeded bug ring-loop-hang
-- follows a self loop forever) or stop serving the front-end.
for _, h in ipairs(ring.hostiles()) do
	case {
		id = ("vhost-user/vring/hostile-%s"):format(
			h:lower():gsub("_", "-")),
		spec = "vhost-user#ring-states",
		level = "ROBUST",
		quote = [[started and enabled: The back-end must process the ring normally, i.e.
process all requests and execute them.]],
		run = function(t)
			local dp = dp_new(t)
			dp:round("a good request processed first")
			local id, why = dp.q[dp.qidx]:hostile(h, 0)
			if not id then
				t:skip("ring engine: " .. tostring(why))
			end
			dp.q[dp.qidx]:publish()
			dp:kick()
			if h == "REWRITE_AFTER_KICK" then
				t:sleep(1)
				dp.q[dp.qidx]:rewrite(id)
			end
			t:sleep(30)
			responsive(t)
			responsive(t)
		end,
	}
end

-- The used length: "the total of bytes written into the buffer". A TX
-- frame or a blk write leaves at most the status byte written; the seeded
-- bug used-len-total reports the whole chain.
case {
	id = "vhost-user/vring/used-len-within-writable",
	spec = "virtio#devicenormative-virtqueues-the-virtqueue-used-ring",
	level = "MUST",
	quote = [[The device MUST write at least \field{len} bytes to descriptor,
beginning at the first device-writable buffer,
prior to updating the used \field{idx}.]],
	run = function(t)
		local dp = dp_new(t)
		for _ = 1, 2 do
			local tok, len = dp:round("the request processed")
			t:check(len <= dp.writable[tok],
			        ("a used length of at most %d (device-writable bytes)"):
			        format(dp.writable[tok]), ("len %d"):format(len))
		end
		if dp.dev == "blk" then
			local tok, len = dp:round("the read processed", { read = true })
			t:check(len <= 513, "a used length of at most 513",
			        ("len %d"):format(len))
			t:note(("read: len %d status %d"):format(len, dp:status(tok)))
		end
	end,
}

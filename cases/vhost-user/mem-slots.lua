-- SPDX-License-Identifier: MIT
-- mem-slots.lua - VHOST_USER_GET_MAX_MEM_SLOTS, VHOST_USER_ADD_MEM_REG and
-- VHOST_USER_REM_MEM_REG: up to the limit and past it, regions used for
-- I/O, bad fds, and the fd REM_MEM_REG must close.
--
-- Spec: vhost-user.rst, the three messages under "Front-end message
-- types", "Single memory region description".

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

local Q_MAX = [[The back-end should return the message with a
u64 payload containing the maximum number of memory slots for
QEMU to expose to the guest.]]
local Q_ADD = [[The message payload contains a memory
region descriptor struct, describing a region of guest memory which
the back-end device must map in.]]
local Q_REM = [[The memory region to be removed is identified by its guest address,
user address and size. The mmap offset is ignored.]]
local Q_REM_FD = [[If a file descriptor is
passed, the back-end MUST close it without using it otherwise.]]
local SLOTS = { pf = { "CONFIGURE_MEM_SLOTS" } }

local function max_slots(t)
	local r, why = t:call(vhost.msg("GET_MAX_MEM_SLOTS"))
	if not r or not r.u64 then
		t:fail{ expected = "a VHOST_USER_GET_MAX_MEM_SLOTS reply",
		        actual = why or r.text }
	end
	return r.u64
end

local function add_msg(r, fd)
	return vhost.msg("ADD_MEM_REG", { region = { guest_addr = r.guest_addr,
	                 size = r.size, user_addr = r.user_addr,
	                 mmap_offset = r.mmap_offset or 0, fd = fd or r.fd } })
end

local function rem_msg(r)
	local m = vhost.msg("REM_MEM_REG", { region = { guest_addr = r.guest_addr,
	                    size = r.size, user_addr = r.user_addr,
	                    mmap_offset = r.mmap_offset or 0 } })
	m.fds = {}
	return m
end

case {
	id = "vhost-user/mem-slots/get-max-mem-slots",
	spec = "vhost-user#front-end-message-types",
	level = "SHOULD",
	quote = Q_MAX,
	run = function(t)
		session(t, SLOTS)
		local n = max_slots(t)
		t:check(n >= 1, "at least one slot", ("%d"):format(n))
		t:note(("max mem slots: %d"):format(n))
	end,
}

-- The regions of the data path added one by one instead of a table, and
-- used.
for _, n in ipairs({ 1, 2, 8 }) do
	case {
		id = ("vhost-user/mem-slots/add-%d-io"):format(n),
		spec = "vhost-user#front-end-message-types",
		level = "MUST",
		quote = Q_ADD,
		run = function(t)
			session(t, SLOTS)
			if max_slots(t) < n then
				t:skip("fewer slots than " .. n)
			end
			local dp = dp_new(t, { regions = n, ring_region = n,
				no_mem = true, before_mem = function(dp)
					for _, r in ipairs(dp.mem:regions()) do
						t:expect_ack(add_msg(r))
					end
				end })
			local at = {}
			for k = 1, n do
				at[k] = dp.base[k] + dp.size * 3 // 4
			end
			dp:round("a request through the added regions processed",
			         { at = at })
		end,
	}
end

-- Slots up to the limit the back-end gave (regions of 4 KiB, each its own
-- memfd), all acked; one more: any reaction but a crash (a back-end that
-- writes past its region array: QEMU b906a23c33).
local function fill(t, n)
	for i = 1, n do
		local fd = assert(fdzoo.new("memfd", 4096))
		local r = { guest_addr = 0x10000000 + i * 0x10000, size = 4096,
		            user_addr = 0x200000000000 + i * 0x10000, fd = fd }
		local _, k = t:expect(add_msg(r), i <= n and { "ack" } or
		                      { "ack", "nack", "hangup" },
		                      { need_reply = true })
		fd:close()
		if k == "hangup" then
			return false
		end
	end
	return true
end

case {
	id = "vhost-user/mem-slots/add-to-limit",
	spec = "vhost-user#front-end-message-types",
	level = "MUST",
	quote = Q_MAX,
	run = function(t)
		session(t, SLOTS)
		local n = max_slots(t)
		if n > 1024 then
			t:skip(("%d slots: more than this case fills"):format(n))
		end
		fill(t, n)
		responsive(t)
	end,
}

case {
	id = "vhost-user/mem-slots/add-past-limit",
	spec = "vhost-user#front-end-message-types",
	level = "ROBUST",
	quote = Q_MAX,
	run = function(t)
		session(t, SLOTS)
		local n = max_slots(t)
		if n > 1024 then
			t:skip(("%d slots: more than this case fills"):format(n))
		end
		local ok = true
		for i = 1, n + 4 do
			local fd = assert(fdzoo.new("memfd", 4096))
			local r = { guest_addr = 0x10000000 + i * 0x10000, size = 4096,
			            user_addr = 0x200000000000 + i * 0x10000 }
			local _, k = t:expect(add_msg(r, fd), i <= n and { "ack" } or
			                      { "ack", "nack", "hangup" },
			                      { need_reply = true })
			fd:close()
			if k == "hangup" then
				ok = false
				break
			end
		end
		if ok then
			responsive(t)
		end
		t:expect_alive()
	end,
}

-- No fd: nothing to map the region from, so the back-end cannot have
-- done what the message asks ("Exactly one file descriptor ... is
-- passed").
case {
	id = "vhost-user/mem-slots/add-no-fd",
	spec = "vhost-user#front-end-message-types",
	level = "MUST",
	quote = [[Exactly one file descriptor from which the memory is mapped is
passed in the ancillary data.]],
	run = function(t)
		session(t, SLOTS)
		local fd = assert(fdzoo.new("memfd", MIB))
		local m = add_msg({ guest_addr = 0x100000, size = MIB,
		                    user_addr = 0x200000000000 }, fd)
		m.fds = {}
		t:expect_refusal(m)
		responsive(t)
	end,
}

-- Leak checks: 16 messages each with fds a back-end must not keep.
local function no_leak(t, make)
	if not t:has_process() then
		t:skip("needs the target's process to count its fds")
	end
	session(t, SLOTS)
	local before = t:fd_count()
	for i = 1, 16 do
		local _, k = t:expect(make(i), { "ack", "nack", "hangup" },
		                      { need_reply = true })
		if k == "hangup" then
			return t:expect_alive()
		end
	end
	responsive(t)
	local after = t:fd_count()
	t:check(after - before <= 2, "at most 2 fds more after 16 messages",
	        ("%d -> %d"):format(before, after))
end

-- Two fds where one belongs: the region is at most mapped once, the extra
-- fd closed. Each ADD is then removed, so a back-end that keeps region
-- fds open does not count.
case {
	id = "vhost-user/mem-slots/add-two-fds-no-leak",
	spec = "vhost-user#front-end-message-types",
	level = "ROBUST",
	quote = [[Exactly one file descriptor from which the memory is mapped is
passed in the ancillary data.]],
	needs = { fresh_process = true },
	run = function(t)
		local r = { guest_addr = 0x100000, size = 4096,
		            user_addr = 0x200000000000 }
		local n = 0
		no_leak(t, function()
			n = n + 1
			if n % 2 == 0 then
				return rem_msg(r)
			end
			local m = add_msg(r, assert(fdzoo.new("memfd", 4096)))
			m.fds[2] = assert(fdzoo.new("memfd", 4096))
			return m
		end)
	end,
}

-- REM_MEM_REG with an fd: "the back-end MUST close it" (the seeded bug
-- rem-mem-reg-fd-leak keeps it).
case {
	id = "vhost-user/mem-slots/rem-with-fd-closed",
	spec = "vhost-user#front-end-message-types",
	level = "MUST",
	quote = Q_REM_FD,
	needs = { fresh_process = true },
	run = function(t)
		local r = { guest_addr = 0x100000, size = 4096,
		            user_addr = 0x200000000000 }
		local n = 0
		no_leak(t, function()
			n = n + 1
			if n % 2 == 1 then
				return add_msg(r, assert(fdzoo.new("memfd", 4096)))
			end
			local m = rem_msg(r)
			m.fds = { assert(fdzoo.new("memfd", 4096)) }
			return m
		end)
	end,
}

-- Removing a region that is there: acked; also when the mmap offset in
-- the message differs ("The mmap offset is ignored").
for _, off in ipairs({ 0, 0x1000 }) do
	case {
		id = ("vhost-user/mem-slots/rem-existing%s"):format(
			off ~= 0 and "-other-offset" or ""),
		spec = "vhost-user#front-end-message-types",
		level = "MUST",
		quote = Q_REM,
		run = function(t)
			session(t, SLOTS)
			local mem = gmem.new()
			assert(mem:add_region(0x100000, MIB))
			local r = mem:regions()[1]
			t:expect_ack(add_msg(r))
			r.mmap_offset = off
			t:expect_ack(rem_msg(r))
			-- the slot is free again: the same region goes back in
			t:expect_ack(add_msg(mem:regions()[1]))
		end,
	}
end

-- Removing what is not there, or what only partly matches.
local REM_BAD = {
	["rem-unknown"] = function(r)
		r.guest_addr = r.guest_addr + 64 * MIB
		r.user_addr = r.user_addr + 64 * MIB
	end,
	["rem-wrong-size"] = function(r)
		r.size = r.size // 2
	end,
	["rem-wrong-user-addr"] = function(r)
		r.user_addr = r.user_addr + 4096
	end,
}
for _, name in ipairs({ "rem-unknown", "rem-wrong-size",
                        "rem-wrong-user-addr", "rem-twice" }) do
	case {
		id = "vhost-user/mem-slots/" .. name,
		spec = "vhost-user#front-end-message-types",
		level = "ROBUST",
		quote = Q_REM,
		run = function(t)
			session(t, SLOTS)
			local mem = gmem.new()
			assert(mem:add_region(0x100000, MIB))
			local r = mem:regions()[1]
			t:expect_ack(add_msg(r))
			if name == "rem-twice" then
				t:expect_ack(rem_msg(r))
			else
				REM_BAD[name](r)
			end
			t:expect_robust(rem_msg(r))
			responsive(t)
		end,
	}
end

-- Removing the region the running rings live in, then kicking: the
-- back-end must not touch the unmapped memory (nor crash).
case {
	id = "vhost-user/mem-slots/rem-ring-region-then-kick",
	spec = "vhost-user#front-end-message-types",
	level = "ROBUST",
	quote = [[describing a region of guest memory which
the back-end device must unmap.]],
	run = function(t)
		session(t, SLOTS)
		local dp = dp_new(t, { no_mem = true, before_mem = function(dp)
			t:expect_ack(add_msg(dp.mem:regions()[1]))
		end })
		dp:round("a request processed")
		t:expect_robust(rem_msg(dp.mem:regions()[1]))
		dp:submit()
		t:sleep(30)
		responsive(t)
	end,
}

-- Regions of a table and regions added after it are used alike.
case {
	id = "vhost-user/mem-slots/table-then-add-io",
	spec = "vhost-user#front-end-message-types",
	level = "MUST",
	quote = [[When the ``VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS`` protocol feature has
been successfully negotiated, along with the
``VHOST_USER_REM_MEM_REG`` message, this message is used to set and
update the memory tables of the back-end device.]],
	run = function(t)
		session(t, SLOTS)
		local dp = dp_new(t, { regions = 2, no_mem = true,
			before_mem = function(dp)
				local r = dp.mem:regions()
				step(t, vhost.msg("SET_MEM_TABLE", { regions = { r[1] } }))
				t:expect_ack(add_msg(r[2]))
			end })
		dp:round("a request with data in the added region processed",
		         { at = { dp.base[2] + 4096, dp.base[2] + 8192,
		                  dp.base[2] + 16384 } })
	end,
}

-- ADD_MEM_REG of regions a back-end must not trust: overlapping one it
-- has, past the end of its memfd, of size 0, and fds that cannot be
-- mapped. Any reaction, no crash.
local ADD_BAD = {
	["add-overlap"] = function(t, r)
		t:expect_ack(add_msg(r))
		local o = { guest_addr = r.guest_addr + 4096, size = r.size,
		            user_addr = r.user_addr + 4096 }
		return add_msg(o, assert(fdzoo.new("memfd", MIB)))
	end,
	["add-duplicate"] = function(t, r)
		t:expect_ack(add_msg(r))
		return add_msg(r)
	end,
	["add-past-eof"] = function(_, r)
		return add_msg(r, assert(fdzoo.new("memfd", 4096)))
	end,
	["add-size-zero"] = function(_, r)
		r.size = 0
		return add_msg(r)
	end,
	["add-size-wraps"] = function(_, r)
		r.size = -4096
		return add_msg(r)
	end,
	["add-short-payload"] = function(_, r)
		local m = add_msg(r)
		m.size = 8
		return m
	end,
}
for _, kind in ipairs({ "dir", "pipe-read", "file-ro", "memfd-sealed",
                        "o-path", "eventfd" }) do
	ADD_BAD["add-fd-" .. kind] = function(_, r)
		return add_msg(r, assert(fdzoo.new(kind, MIB)))
	end
end
local ADD_NAMES = {}
for name in pairs(ADD_BAD) do
	ADD_NAMES[#ADD_NAMES + 1] = name
end
table.sort(ADD_NAMES)
for _, name in ipairs(ADD_NAMES) do
	case {
		id = "vhost-user/mem-slots/" .. name,
		spec = "vhost-user#single-memory-region-description",
		level = "ROBUST",
		quote = [[A region is represented by Memory region description.]],
		run = function(t)
			session(t, SLOTS)
			local mem = gmem.new()
			assert(mem:add_region(0x100000, MIB))
			local r = mem:regions()[1]
			t:expect_robust(ADD_BAD[name](t, r))
			responsive(t)
		end,
	}
end

-- A region added past the end of its memfd, then read by a request (the
-- seeded bug mem-past-eof maps it and dies of SIGBUS on the access).
case {
	id = "vhost-user/mem-slots/add-past-eof-io",
	spec = "vhost-user#front-end-message-types",
	level = "ROBUST",
	quote = Q_ADD,
	run = function(t)
		session(t, SLOTS)
		local took
		local dp = dp_new(t, { no_mem = true, before_mem = function(dp)
			t:expect_ack(add_msg(dp.mem:regions()[1]))
			local _, k = t:expect(add_msg({ guest_addr = 0x40000000,
				size = MIB, user_addr = 0x100000000000 },
				assert(fdzoo.new("memfd", 4096))),
				{ "ack", "nack", "hangup" }, { need_reply = true })
			if k == "hangup" or not responsive(t) then
				t:expect_alive()
				t:pass()
			end
			took = k == "ack"
		end })
		if took then
			local tok = dp:submit{ at = { dp:buf(64), 0x40000000 + 65536 },
			                       foreign = true }
			dp:wait(tok, 300)
		end
		responsive(t)
		dp:round("a request in good memory still processed")
	end,
}

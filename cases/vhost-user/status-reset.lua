-- SPDX-License-Identifier: MIT
-- status-reset.lua - device status (VHOST_USER_SET_STATUS /
-- VHOST_USER_GET_STATUS) and resets (VHOST_USER_RESET_OWNER,
-- VHOST_USER_RESET_DEVICE).
--
-- Spec: vhost-user.rst, SET_STATUS, GET_STATUS, RESET_OWNER (deprecated),
-- RESET_DEVICE.

-- ---- a small front-end: memory, rings, requests ------------------------
-- (The same helper opens each data-path file of this part; a case file
-- sees only its own locals.)

local F_LOG_ALL = 1 << 26
local F_PROTOCOL_FEATURES = 1 << 30
local VRING_F_LOG = 1

-- A set-up request: acked when REPLY_ACK is in force, else only sent.
local function setup(t, m, what)
	local neg = t:negotiated() or 0
	if neg & (1 << vhost.PF.REPLY_ACK) ~= 0 then
		local kind, _, detail = t:react(m, { need_reply = true })
		if kind ~= "ack" then
			t:fail{ expected = "set-up: " .. what .. " acked",
			        actual = detail }
		end
		return
	end
	local ok, err = t:send(m)
	if not ok then
		t:fail{ expected = "set-up: " .. what .. " sent", actual = err }
	end
end

-- The rings a device's first request goes through: net RX 0 and TX 1,
-- blk its request queue 0; nil for a device this part drives no I/O on.
local IO_QUEUES = { net = { 0, 1 }, blk = { 0 } }

-- fe_start(t [, opts]) -> fe: one memfd region (opts.gpa, opts.mem_size),
-- SET_MEM_TABLE, and the device's rings set up, enabled and started
-- (opts.log: VHOST_VRING_F_LOG; opts.call = false: no call fd; opts.kick =
-- false: none either, the ring is started by VHOST_USER_VRING_KICK).
-- SKIPs on devices without I/O here.
local function fe_start(t, opts)
	opts = opts or {}
	local qs = IO_QUEUES[t.device or ""]
	if not qs then
		t:skip("no I/O helper for device " .. tostring(t.device))
	end
	local fe = { mem = gmem.new(), q = {}, kick = {}, call = {},
	             gpa = opts.gpa or 0, t = t }
	assert(fe.mem:add_region(fe.gpa, opts.mem_size or (1 << 20)))
	setup(t, vhost.msg("SET_MEM_TABLE", { regions = fe.mem:regions() }),
	      "SET_MEM_TABLE")
	for _, i in ipairs(qs) do
		local q = assert(ring.split(fe.mem, opts.num or 64,
		                            1 << ring.F_VERSION_1))
		local a = q:addrs()
		fe.q[i] = q
		setup(t, vhost.msg("SET_VRING_NUM", { index = i, num = a.num }),
		      "SET_VRING_NUM")
		setup(t, vhost.msg("SET_VRING_BASE", { index = i, num = 0 }),
		      "SET_VRING_BASE")
		setup(t, vhost.msg("SET_VRING_ADDR", {
			index = i, flags = opts.log and VRING_F_LOG or 0,
			desc = a.desc, used = a.used, avail = a.avail,
			log = a.used_gpa }), "SET_VRING_ADDR")
		if opts.call ~= false then
			fe.call[i] = fdzoo.new("eventfd-nonblock")
			setup(t, vhost.msg("SET_VRING_CALL",
			                   { index = i, fd = fe.call[i] }),
			      "SET_VRING_CALL")
		end
		if opts.kick ~= false then
			fe.kick[i] = fdzoo.new("eventfd-nonblock")
			setup(t, vhost.msg("SET_VRING_KICK",
			                   { index = i, fd = fe.kick[i] }),
			      "SET_VRING_KICK")
		end
		local acked = t.hs and t.hs.acked_features or 0
		if acked & F_PROTOCOL_FEATURES ~= 0 then
			setup(t, vhost.msg("SET_VRING_ENABLE",
			                   { index = i, num = 1 }),
			      "SET_VRING_ENABLE")
		end
	end
	return fe
end

-- Publish what was added to ring i and kick it (eventfd or in-band).
local function fe_kick(fe, i)
	fe.q[i]:publish()
	if fe.kick[i] then
		fe.kick[i]:signal()
	else
		fe.t:send(vhost.msg("VRING_KICK", { index = i, num = 0 }))
	end
end

-- Wait up to ms (or fe.reap_ms, or 1 s) for a used buffer on ring i:
-- token, len | nil, why.
local function fe_reap(fe, i, ms)
	local t = fe.t
	ms = ms or fe.reap_ms or 1000
	local stop = t:now_ms() + ms
	repeat
		local token, len = fe.q[i]:reap()
		if token then
			return token, len
		end
		if len then
			return nil, "device error: " .. len
		end
		t:sleep(2)
	until t:now_ms() > stop
	return nil, "no used buffer within " .. ms .. " ms"
end

-- One virtio-blk request (type 0 IN, 1 OUT): status, used len, data read
-- | nil, why.
local function blk_io(fe, type_, sector, len, data)
	local m = fe.mem
	local hdr = assert(m:alloc(16))
	local buf = assert(m:alloc(len, 512))
	local st = assert(m:alloc(1))
	m:write(hdr, string.pack("<I4I4I8", type_, 0, sector))
	if data then
		m:write(buf, data)
	end
	m:write(st, "\xff")
	assert(fe.q[0]:add{ { gpa = hdr, len = 16 },
	                    { gpa = buf, len = len, write = type_ == 0 },
	                    { gpa = st, len = 1, write = true }, token = 1 })
	fe_kick(fe, 0)
	local token, ulen = fe_reap(fe, 0)
	if not token then
		return nil, ulen
	end
	return m:read(st, 1):byte(), ulen, m:read(buf, len), buf
end

-- One net frame out on TX 1 (with an RX buffer posted on 0 for the loop
-- back): used len of the TX chain | nil, why.
local function net_tx(fe, frame)
	local m = fe.mem
	local rx = assert(m:alloc(2048))
	assert(fe.q[0]:add{ { gpa = rx, len = 2048, write = true }, token = 2 })
	fe_kick(fe, 0)
	local tx = assert(m:alloc(12 + #frame))
	m:write(tx, string.rep("\0", 12) .. frame)
	assert(fe.q[1]:add{ { gpa = tx, len = 12 + #frame }, token = 3 })
	fe_kick(fe, 1)
	local token, ulen = fe_reap(fe, 1)
	if not token then
		return nil, ulen
	end
	return ulen, rx
end

-- A minimal Ethernet frame: broadcast, ethertype 0x88b5 (local
-- experimental), 46 bytes of pattern.
local FRAME = string.rep("\xff", 6) .. "\x52\x54\x00\xaa\xbb\xcc" ..
              "\x88\xb5" .. string.rep("vu-conform", 5):sub(1, 46)

-- Some I/O that makes the device write guest memory: a blk read, or a
-- net frame (TX used ring; RX buffer via the loop back). -> true | nil, why
local function fe_some_io(fe)
	if fe.t.device == "blk" then
		local st, why = blk_io(fe, 0, 0, 4096)
		return st ~= nil, why
	end
	local ulen, why = net_tx(fe, FRAME)
	return ulen ~= nil, why
end

-- ---- status -------------------------------------------------------------

local STATUS = { protocol_features = { "STATUS", "REPLY_ACK" } }
-- VIRTIO device status bits
local ACKNOWLEDGE, DRIVER, DRIVER_OK, FEATURES_OK = 1, 2, 4, 8
local NEEDS_RESET = 0x40

local function get_status(t)
	local r = t:expect(vhost.msg("GET_STATUS"), { "reply" })
	t:check(r.u64 ~= nil, "a u64 device status", r.text)
	return r.u64
end

-- GET_STATUS has a u64 reply body.
case {
	id = "vhost-user/status/get-replied",
	spec = "vhost-user#vhost-user-get-status",
	level = "MUST",
	quote = [[this message is submitted by the front-end to query the
back-end for its device status as defined in the Virtio specification.]],
	needs = STATUS,
	run = function(t)
		get_status(t)
	end,
}

-- SET_STATUS then GET_STATUS: the bits the driver set read back (the
-- device may add NEEDS_RESET; FEATURES_OK is not involved here).
for _, st in ipairs({ ACKNOWLEDGE, ACKNOWLEDGE | DRIVER }) do
	case {
		id = ("vhost-user/status/set-then-get-0x%x"):format(st),
		spec = "vhost-user#vhost-user-set-status",
		level = "MUST",
		quote = [[this message is submitted by the front-end to notify the
back-end with updated device status as defined in the Virtio
specification.]],
		needs = STATUS,
		run = function(t)
			t:expect_ack(vhost.msg("SET_STATUS", { u64 = st }))
			local v = get_status(t)
			t:check(v & ~NEEDS_RESET == st,
			        ("device status 0x%x"):format(st),
			        ("0x%x"):format(v))
		end,
	}
end

-- The whole driver sequence up to DRIVER_OK, acked at each step.
case {
	id = "vhost-user/status/driver-ok-sequence",
	spec = "vhost-user#vhost-user-set-status",
	level = "MUST",
	quote = [[this message is submitted by the front-end to notify the
back-end with updated device status as defined in the Virtio
specification.]],
	needs = STATUS,
	run = function(t)
		local st = 0
		for _, bit in ipairs({ ACKNOWLEDGE, DRIVER, FEATURES_OK,
		                       DRIVER_OK }) do
			st = st | bit
			t:expect_ack(vhost.msg("SET_STATUS", { u64 = st }))
		end
		local v = get_status(t)
		t:check(v & (ACKNOWLEDGE | DRIVER | DRIVER_OK) ==
		        ACKNOWLEDGE | DRIVER | DRIVER_OK,
		        "ACKNOWLEDGE, DRIVER and DRIVER_OK set",
		        ("0x%x"):format(v))
	end,
}

-- Status 0 after DRIVER_OK (QEMU sends it when it stops the device):
-- acked, and it reads back 0.
case {
	id = "vhost-user/status/set-zero",
	spec = "vhost-user#vhost-user-set-status",
	level = "SHOULD",
	quote = [[this message is submitted by the front-end to notify the
back-end with updated device status as defined in the Virtio
specification.]],
	needs = STATUS,
	run = function(t)
		t:expect_ack(vhost.msg("SET_STATUS",
		                       { u64 = ACKNOWLEDGE | DRIVER }))
		t:expect_ack(vhost.msg("SET_STATUS", { u64 = 0 }))
		local v = get_status(t)
		t:check(v & ~NEEDS_RESET == 0, "device status 0",
		        ("0x%x"):format(v))
	end,
}

-- Values that are no device status (virtio status is 8 bits), payloads of
-- the wrong size: any answer but a crash.
local ODD = {
	{ "set-wide-value", 0x100, 8 },
	{ "set-all-ones", 0xffffffffffffffff, 8 },
	{ "set-payload-short", 3, 1 },
	{ "set-payload-empty", 3, 0 },
}
for _, o in ipairs(ODD) do
	case {
		id = "vhost-user/status/" .. o[1],
		spec = "vhost-user#vhost-user-set-status",
		level = "ROBUST",
		quote = [[:request payload: ``u64``]],
		needs = STATUS,
		run = function(t)
			local m = vhost.msg("SET_STATUS", { u64 = o[2] })
			m.size = o[3]
			t:expect_robust(m)
		end,
	}
end

case {
	id = "vhost-user/status/get-with-payload",
	spec = "vhost-user#vhost-user-get-status",
	level = "ROBUST",
	quote = [[:request payload: N/A]],
	needs = STATUS,
	run = function(t)
		local m = vhost.msg("GET_STATUS")
		m.payload = string.rep("\0", 8)
		m.size = 8
		t:expect_robust(m)
	end,
}

-- ---- resets -------------------------------------------------------------

local OWNER_QUOTE = [[It is recommended that back-ends either ignore this
message, or use it to disable all rings.]]

-- RESET_OWNER, deprecated: "either ignore this message, or use it to
-- disable all rings". Neither ends the session: the back-end still
-- answers, and with REPLY_ACK it answers the reset itself.
case {
	id = "vhost-user/reset/owner-session-continues",
	spec = "vhost-user#vhost-user-reset-owner",
	level = "SHOULD",
	quote = OWNER_QUOTE,
	needs = { handshake = true },
	run = function(t)
		t:send(vhost.msg("RESET_OWNER"), { need_reply = false })
		t:expect(vhost.msg("GET_FEATURES"), { "reply" })
	end,
}

case {
	id = "vhost-user/reset/owner-answered",
	spec = "vhost-user#vhost-user-protocol-f-reply-ack",
	level = "MUST",
	quote = [[This indicates that the back-end MUST respond with a Payload
VhostUserMsg indicating success or failure.]],
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		t:expect(vhost.msg("RESET_OWNER"), { "ack", "nack" },
		         { need_reply = true })
	end,
}

-- RESET_OWNER in the middle of I/O, and twice: no crash, still answers.
case {
	id = "vhost-user/reset/owner-during-io",
	spec = "vhost-user#vhost-user-reset-owner",
	level = "ROBUST",
	quote = OWNER_QUOTE,
	needs = { handshake = true },
	run = function(t)
		local fe = fe_start(t)
		fe_some_io(fe)
		t:expect_robust(vhost.msg("RESET_OWNER"))
		t:expect_robust(vhost.msg("RESET_OWNER"))
		local ok = fe_some_io(fe)
		t:note("I/O after the reset " .. (ok and "completed" or
		       "did not complete (rings disabled: legal)"))
		t:expect_robust(vhost.msg("GET_FEATURES"))
	end,
}

-- "disable all rings": after RESET_OWNER, a ring that worked executes no
-- request with side effects... or the back-end ignored the message. Both
-- are allowed, so only a half state is wrong: a blk write either lands
-- and completes OK, or does not land.
case {
	id = "vhost-user/reset/owner-no-half-state",
	spec = "vhost-user#vhost-user-reset-owner",
	level = "ROBUST",
	quote = OWNER_QUOTE,
	needs = { handshake = true, device = "blk" },
	run = function(t)
		local fe = fe_start(t)
		t:check(blk_io(fe, 0, 0, 512) == 0, "a read before the reset",
		        "failed")
		t:expect_robust(vhost.msg("RESET_OWNER"))
		local st = blk_io(fe, 1, 7, 512, string.rep("R", 512))
		t:note("write after RESET_OWNER: status " .. tostring(st))
		t:expect_alive()
	end,
}

local DEVICE = { protocol_features = { "RESET_DEVICE", "REPLY_ACK" } }
local DEVICE_QUOTE = [[Ask the vhost user back-end to disable all rings and
reset all internal device state to the initial state, ready to be
reinitialized. The back-end retains ownership of the device throughout the
reset operation.]]

case {
	id = "vhost-user/reset/device-acked",
	spec = "vhost-user#vhost-user-reset-device",
	level = "MUST",
	quote = DEVICE_QUOTE,
	needs = DEVICE,
	run = function(t)
		t:expect_ack(vhost.msg("RESET_DEVICE"))
	end,
}

-- "ready to be reinitialized ... retains ownership": after a reset in the
-- middle of I/O, the front-end sets the device up again (features, memory,
-- rings; no SET_OWNER) and I/O works.
case {
	id = "vhost-user/reset/device-reinitialised",
	spec = "vhost-user#vhost-user-reset-device",
	level = "MUST",
	quote = DEVICE_QUOTE,
	needs = DEVICE,
	run = function(t)
		local fe = fe_start(t)
		local ok, why = fe_some_io(fe)
		t:check(ok, "I/O before the reset", why)
		t:expect_ack(vhost.msg("RESET_DEVICE"))
		t:expect_ack(vhost.msg("SET_FEATURES",
		                       { u64 = t.hs.acked_features }))
		local fe2 = fe_start(t)
		ok, why = fe_some_io(fe2)
		t:check(ok, "I/O after the reset and a new set-up", why)
	end,
}

-- "disable all rings": a request published on the old ring after the
-- reset, and kicked, is not executed (blk: the disk keeps its bytes).
case {
	id = "vhost-user/reset/device-disables-rings",
	spec = "vhost-user#vhost-user-reset-device",
	level = "MUST",
	quote = DEVICE_QUOTE,
	needs = { protocol_features = { "RESET_DEVICE", "REPLY_ACK" },
	          device = "blk" },
	run = function(t)
		local fe = fe_start(t)
		t:check(blk_io(fe, 1, 9, 512, string.rep("A", 512)) == 0,
		        "a write before the reset", "failed")
		t:expect_ack(vhost.msg("RESET_DEVICE"))
		fe.reap_ms = 200
		local st = blk_io(fe, 1, 9, 512, string.rep("B", 512))
		t:check(st ~= 0, "no write executed on a reset ring",
		        "status " .. tostring(st))
		t:expect_ack(vhost.msg("SET_FEATURES",
		                       { u64 = t.hs.acked_features }))
		local fe2 = fe_start(t)
		local st2, _, data = blk_io(fe2, 0, 9, 512)
		t:check(st2 == 0 and data ~= string.rep("B", 512),
		        "the sector as before the reset", "written after it")
	end,
}

case {
	id = "vhost-user/reset/device-twice",
	spec = "vhost-user#vhost-user-reset-device",
	level = "ROBUST",
	quote = DEVICE_QUOTE,
	needs = DEVICE,
	run = function(t)
		t:expect_robust(vhost.msg("RESET_DEVICE"))
		t:expect_robust(vhost.msg("RESET_DEVICE"))
		t:expect_robust(vhost.msg("GET_FEATURES"))
	end,
}

case {
	id = "vhost-user/reset/device-with-payload",
	spec = "vhost-user#vhost-user-reset-device",
	level = "ROBUST",
	quote = [[:request payload: N/A]],
	needs = DEVICE,
	run = function(t)
		local m = vhost.msg("RESET_DEVICE")
		m.payload = string.rep("\xff", 8)
		m.size = 8
		t:expect_robust(m)
	end,
}

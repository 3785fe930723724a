-- SPDX-License-Identifier: MIT
-- status-reset.lua - device status (VHOST_USER_SET_STATUS /
-- VHOST_USER_GET_STATUS) and resets (VHOST_USER_RESET_OWNER,
-- VHOST_USER_RESET_DEVICE).
--
-- Spec: vhost-user.rst, SET_STATUS, GET_STATUS, RESET_OWNER (deprecated),
-- RESET_DEVICE.

-- ---- a small front-end: memory, rings, requests ------------------------
-- Shared by backend-channel.lua, dirty-log.lua, inflight.lua,
-- status-reset.lua, device-state.lua and robustness.lua:
-- vhost.fe_helpers() in harness/lua/prelude.lua.

local FE = vhost.fe_helpers()
local fe_start, blk_io, fe_some_io = FE.fe_start, FE.blk_io, FE.fe_some_io

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

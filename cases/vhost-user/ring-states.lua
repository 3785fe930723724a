-- SPDX-License-Identifier: MIT
-- ring-states.lua - ring states: started / stopped (a kick starts a ring,
-- GET_VRING_BASE stops it), enabled / disabled, suspended, restart after a
-- stop, NOFD polling.
--
-- Spec: vhost-user.rst, "Ring states", "Suspended device state" and the
-- vring messages under "Front-end message types".

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

local Q_STOPPED = [[While a ring is stopped, the back-end must not process the ring at
all, regardless of whether it is enabled or disabled.]]
local Q_START = [[The back-end must start a ring upon receiving a kick (that is, detecting
that file descriptor is readable) on the descriptor specified by
``VHOST_USER_SET_VRING_KICK``]]

-- A ring is started by a kick and by nothing else: buffers published but
-- not kicked stay untouched, even while messages come in (a back-end that
-- polls its rings from the moment they are set up fails here). The kick
-- then gets them processed.
case {
	id = "vhost-user/ring-states/stopped-until-kick",
	spec = "vhost-user#ring-states",
	level = "MUST",
	quote = Q_STOPPED,
	run = function(t)
		local dp = dp_new(t)
		local tok = dp:submit{ kick = false }
		responsive(t)
		dp:quiet("the new ring stopped: no request processed before a " ..
		         "kick", 150)
		dp:kick()
		local len, why = dp:wait(tok, 1000)
		t:check(len ~= nil, "the request processed after the kick", why)
	end,
}

-- The kick starts the ring and its buffers are processed.
case {
	id = "vhost-user/ring-states/kick-starts-ring",
	spec = "vhost-user#ring-states",
	level = "MUST",
	quote = Q_START,
	run = function(t)
		local dp = dp_new(t)
		dp:round("the request processed after the kick")
		dp:round("a second request processed after its kick")
	end,
}

-- "Set the event file descriptor to signal when buffers are used": with
-- no notification suppression negotiated (no EVENT_IDX, flags 0), every
-- used buffer is signalled on the call fd.
case {
	id = "vhost-user/ring-states/call-after-used",
	spec = "vhost-user#front-end-message-types",
	level = "MUST",
	quote = [[Set the event file descriptor to signal when buffers are used. It is
passed in the ancillary data.]],
	run = function(t)
		local dp = dp_new(t)
		dp:round("the request processed")
		t:check(dp:called(nil, 500), "the call fd signalled",
		        "no call within 500 ms")
	end,
}

-- GET_VRING_BASE stops the ring: a buffer published afterwards is not
-- processed, though messages keep coming (the seeded bug
-- no-stop-on-get-vring-base keeps processing after each message).
case {
	id = "vhost-user/ring-states/get-vring-base-stops",
	spec = "vhost-user#ring-states",
	level = "MUST",
	quote = [[and stop a ring upon receiving ``VHOST_USER_GET_VRING_BASE``.]],
	run = function(t)
		local dp = dp_new(t)
		dp:round("the request processed while started")
		t:expect_reply(vhost.msg("GET_VRING_BASE",
		                         { index = dp.qidx, num = 0 }))
		dp:submit{ kick = false }
		responsive(t)
		responsive(t)
		dp:quiet("the stopped ring not processed", 150)
	end,
}

-- Suspended: every ring stopped. No used entry, no call.
case {
	id = "vhost-user/ring-states/suspended-no-notification",
	spec = "vhost-user#suspended-device-state",
	level = "MUST",
	quote = [[* not write to any guest memory regions,
* not send any notifications to the guest,]],
	run = function(t)
		local dp = dp_new(t)
		dp:round("the request processed while started")
		for _, i in ipairs(dp.indices) do
			t:expect_reply(vhost.msg("GET_VRING_BASE",
			                         { index = i, num = 0 }))
		end
		dp:called(nil, 50) -- drain the call of the request above
		dp:submit{ kick = false }
		responsive(t)
		dp:quiet("the suspended device processes nothing", 100)
		t:check(not dp:called(nil, 50), "no call while suspended",
		        "the call fd signalled")
		-- "still process and reply to messages from the front-end"
		t:check(responsive(t), "GET_FEATURES answered while suspended",
		        "hang-up")
	end,
}

-- The split-ring base is the next avail entry the back-end will process:
-- after n requests it is n.
case {
	id = "vhost-user/ring-states/get-vring-base-counts-processed",
	spec = "vhost-user#front-end-message-types",
	level = "MUST",
	quote = [[Stops the vring and returns the current descriptor index or indices:
* For a split virtqueue, returns only the 16-bit next descriptor
index to process in the *Available Ring*.]],
	run = function(t)
		local dp = dp_new(t)
		for _ = 1, 3 do
			dp:round("the request processed")
		end
		local r = t:expect_reply(vhost.msg("GET_VRING_BASE",
		                                   { index = dp.qidx, num = 0 }))
		t:check(r.index == dp.qidx and r.num == 3,
		        ("index %d, base 3"):format(dp.qidx),
		        ("index %s, base %s"):format(r.index, r.num))
	end,
}

-- "Note that this may differ from the available ring index": a buffer
-- published to a stopped ring is not processed, so the base stays. The
-- seeded bug get-vring-base-avail-idx returns avail->idx instead.
case {
	id = "vhost-user/ring-states/get-vring-base-not-avail-idx",
	spec = "vhost-user#front-end-message-types",
	level = "MUST",
	quote = [[Note that this may differ from the available ring index in the vring
structure in memory, which points to where the driver will put new
available descriptors.]],
	run = function(t)
		local dp = dp_new(t)
		dp:round("the request processed")
		dp:round("the request processed")
		t:expect_reply(vhost.msg("GET_VRING_BASE",
		                         { index = dp.qidx, num = 0 }))
		dp:submit{ kick = false }
		dp:submit{ kick = false }
		local r = t:expect_reply(vhost.msg("GET_VRING_BASE",
		                                   { index = dp.qidx, num = 0 }))
		t:check(r.num == 2, "base 2 (two processed; avail idx is 4)",
		        ("base %s"):format(r.num))
	end,
}

-- A ring never started returns the base it was given.
for _, base in ipairs({ 0, 1, 0x1234, 0xffff }) do
	case {
		id = ("vhost-user/ring-states/get-vring-base-returns-set-%#x"):
		     format(base),
		spec = "vhost-user#front-end-message-types",
		level = "MUST",
		quote = [[Sets the next index to use for descriptors in this vring:
* For a split virtqueue, sets only the next descriptor index to
process in the *Available Ring*.]],
		needs = { protocol_features = { "REPLY_ACK" } },
		run = function(t)
			t:expect_ack(vhost.msg("SET_VRING_NUM", { index = 0, num = 64 }))
			t:expect_ack(vhost.msg("SET_VRING_BASE",
			                       { index = 0, num = base }))
			local r = t:expect_reply(vhost.msg("GET_VRING_BASE",
			                                   { index = 0, num = 0 }))
			t:check(r.num == base, ("base %#x"):format(base),
			        ("base %s"):format(r.num and ("%#x"):format(r.num)))
		end,
	}
end

-- Restart after a stop, as QEMU does after a migration or a vm stop: NUM,
-- BASE (the value GET_VRING_BASE returned), ADDR, CALL, KICK; the kick
-- starts the ring again and the buffer published while it was stopped is
-- processed.
case {
	id = "vhost-user/ring-states/restart-after-stop",
	spec = "vhost-user#ring-states",
	level = "MUST",
	quote = Q_START,
	run = function(t)
		local dp = dp_new(t)
		dp:round("the request processed before the stop")
		local r = t:expect_reply(vhost.msg("GET_VRING_BASE",
		                                   { index = dp.qidx, num = 0 }))
		local tok = dp:submit{ kick = false }
		dp:quiet("the stopped ring not processed", 50)
		local a = dp.q[dp.qidx]:addrs()
		step(t, vhost.msg("SET_VRING_NUM", { index = dp.qidx, num = a.num }))
		step(t, vhost.msg("SET_VRING_BASE", { index = dp.qidx,
		                                      num = r.num or 0 }))
		step(t, vhost.msg("SET_VRING_ADDR", { index = dp.qidx,
		                  desc = a.desc, used = a.used, avail = a.avail }))
		dp:set_fds(dp.qidx, {})
		dp:kick()
		local len, why = dp:wait(tok, 1000)
		t:check(len ~= nil, "the buffer published while stopped " ..
		        "processed after the restart", why)
		dp:round("a new request processed after the restart")
	end,
}

-- The same with only a kick on the old fd: a kick starts a stopped ring.
-- SHOULD: the spec never says GET_VRING_BASE lets go of the kick fd, but
-- libvhost-user closes it there (QEMU sends a new one on every restart).
case {
	id = "vhost-user/ring-states/kick-restarts-stopped-ring",
	spec = "vhost-user#ring-states",
	level = "SHOULD",
	quote = Q_START,
	run = function(t)
		local dp = dp_new(t)
		dp:round("the request processed before the stop")
		t:expect_reply(vhost.msg("GET_VRING_BASE",
		                         { index = dp.qidx, num = 0 }))
		dp:round("the request processed after a kick restarted the ring")
	end,
}

-- Started and disabled: "process the ring without causing any side
-- effects". net: TX processed (and discarded); RX gets nothing. blk: the
-- write is processed but the disk is not written (read back after
-- enabling). @when: "started" (disable a running ring) or "stopped"
-- (disable before the first kick: the state must be tracked).
local function disabled_case(t, when)
	local dp = dp_new(t)
	local target = dp.dev == "net" and dp.rxq or dp.qidx
	if when == "started" then
		dp:round("the request processed while enabled")
		if dp.dev == "net" then
			dp:rx(300) -- the loopback frame, if any
		end
	end
	step(t, vhost.msg("SET_VRING_ENABLE", { index = target, num = 0 }))
	if dp.dev == "net" then
		dp:round("TX processed (and discarded) while RX is disabled")
		t:check(not dp:rx(200), "nothing supplied to the disabled RX queue",
		        "a frame on the disabled RX queue")
		return
	end
	local pattern = string.rep("D", 512)
	local tok, len = dp:round("the request processed while disabled",
	                          { sector = 64, fill = "D" })
	step(t, vhost.msg("SET_VRING_ENABLE", { index = target, num = 1 }))
	local rd = dp:round("the read processed once enabled",
	                    { sector = 64, read = true })
	t:check(dp:data(rd) ~= pattern,
	        "the write made while disabled had no effect on the disk",
	        "sector 64 holds the data written while disabled")
	t:note(("disabled write: used len %d, status %d"):format(len,
	       dp:status(tok)))
end

case {
	id = "vhost-user/ring-states/disabled-no-side-effects",
	spec = "vhost-user#ring-states",
	level = "MUST",
	quote = [[started and disabled: The back-end must process the ring without
causing any side effects.  For example, for a networking device,
in the disabled state the back-end must not supply any new RX packets,]],
	run = function(t)
		disabled_case(t, "started")
	end,
}

case {
	id = "vhost-user/ring-states/disabled-while-stopped-tracked",
	spec = "vhost-user#ring-states",
	level = "SHOULD",
	quote = [[The enabled/disabled state should still be tracked, though, so it can
come into effect once the ring is started.]],
	run = function(t)
		disabled_case(t, "stopped")
	end,
}

-- net: TX of a disabled TX queue is still processed (and discarded).
case {
	id = "vhost-user/ring-states/disabled-tx-processed",
	spec = "vhost-user#ring-states",
	level = "MUST",
	quote = [[in the disabled state the back-end must not supply any new RX packets,
but must process and discard any TX packets.]],
	needs = { device = "net" },
	run = function(t)
		local dp = dp_new(t)
		step(t, vhost.msg("SET_VRING_ENABLE", { index = dp.qidx, num = 0 }))
		dp:round("TX processed and discarded while disabled")
		t:check(not dp:rx(200), "the discarded frame not looped back",
		        "a frame on RX")
	end,
}

-- Initialized disabled: with VHOST_USER_F_PROTOCOL_FEATURES negotiated and
-- no SET_VRING_ENABLE, a blk ring is started and disabled: no side
-- effects. (net is left out: "vhost-user-net has historically
-- automatically enabled the first queue pair".)
case {
	id = "vhost-user/ring-states/initially-disabled",
	spec = "vhost-user#ring-states",
	level = "MUST",
	quote = [[Each ring is initialized in a stopped and disabled state.]],
	needs = { device = "blk" },
	run = function(t)
		local dp = dp_new(t, { enable = false })
		local pattern = string.rep("I", 512)
		dp:round("the request processed while disabled",
		         { sector = 72, fill = "I" })
		step(t, vhost.msg("SET_VRING_ENABLE", { index = dp.qidx, num = 1 }))
		local rd = dp:round("the read processed once enabled",
		                    { sector = 72, read = true })
		t:check(dp:data(rd) ~= pattern,
		        "the write before any SET_VRING_ENABLE had no effect",
		        "sector 72 holds it")
	end,
}

-- Without VHOST_USER_F_PROTOCOL_FEATURES in SET_FEATURES every ring is
-- enabled at once: requests execute (blk status OK; net frames loop back
-- where the device loops, and TX completes).
case {
	id = "vhost-user/ring-states/enabled-without-protocol-features",
	spec = "vhost-user#ring-states",
	level = "MUST",
	quote = [[In addition, upon receiving a ``VHOST_USER_SET_FEATURES`` message from
the front-end without ``VHOST_USER_F_PROTOCOL_FEATURES`` set, the
back-end must enable all rings immediately.]],
	run = function(t)
		local hs = vhost.handshake(t, { ack_protocol_features = 0,
		                                set_features = false })
		hs.acked_features = hs.features & F_VERSION_1
		assert(t:send(vhost.msg("SET_FEATURES",
		                        { u64 = hs.acked_features })))
		local dp = dp_new(t)
		local tok = dp:round("the request processed")
		if dp.dev == "blk" then
			t:check(dp:status(tok) == 0, "status 0 (VIRTIO_BLK_S_OK): " ..
			        "the enabled ring executed it",
			        ("status %d"):format(dp:status(tok)))
		end
	end,
}

-- SET_VRING_KICK with the NOFD bit: "polling should be used instead of
-- waiting for the kick": buffers are processed without any kick.
case {
	id = "vhost-user/ring-states/nofd-kick-polled",
	spec = "vhost-user#front-end-message-types",
	level = "SHOULD",
	quote = [[Bit 8 is the invalid FD flag. This flag is set when there is no file
descriptor in the ancillary data. This signals that polling should be
used instead of waiting for the kick.]],
	run = function(t)
		local dp = dp_new(t, { kick = false })
		local tok = dp:submit()
		local len, why = dp:wait(tok, 1000)
		t:check(len ~= nil, "the request processed by polling", why)
	end,
}

-- SET_VRING_CALL with the NOFD bit: the front-end polls; the ring is still
-- processed normally.
case {
	id = "vhost-user/ring-states/nofd-call-processed",
	spec = "vhost-user#front-end-message-types",
	level = "MUST",
	quote = [[This flag is set when there is no file descriptor in the ancillary
data. This signals that polling will be used instead of waiting for the
call.]],
	run = function(t)
		local dp = dp_new(t, { call = false })
		dp:round("the request processed without a call fd")
		dp:round("a second request processed")
	end,
}

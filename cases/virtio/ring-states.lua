-- SPDX-License-Identifier: MIT
-- ring-states.lua - ring states seen from the data path, on every
-- profile with a request format (net: TX frames looped to RX; blk: writes;
-- fs: GETATTR after FUSE_INIT), split and packed: no processing once
-- stopped, no side effects while disabled, GET_VRING_BASE after traffic
-- and a restart from it, SET_MEM_TABLE while running, notification
-- suppression (flags and event index), kicks through each fd kind of the
-- zoo and in-band, calls through each kind.
--
-- Spec: vhost-user.rst "Ring states", VHOST_USER_GET_VRING_BASE,
-- "In-band notifications"; split-ring.tex / packed-ring.tex notification
-- suppression.

local LAYOUTS = { "split", "packed" }

local Q_STOPPED = [[While a ring is stopped, the back-end must not process the ring at
all, regardless of whether it is enabled or disabled.]]
local Q_DISABLED = [[started and disabled: The back-end must process the ring without
causing any side effects.]]
local Q_BASE = [[Stops the vring and returns the current descriptor index or indices:]]
local Q_CALL = [[If \field{flags} is 0, the device MUST send a notification.]]
local Q_KICK = [[The back-end
must start a ring upon receiving a kick (that is, detecting that file
descriptor is readable) on the descriptor specified by]]

-- A started device with its profile prepared; o as virtio.device's.
local function ready(t, o)
	local d = virtio.device(t, o)
	d:prepare()
	return d, d:main()
end

-- Where GET_VRING_BASE should point after the chains of @ring that were
-- used: split, the count (mod 2^16) from @start; packed, both halves at
-- the slot after the descriptors they took, with the wrap counters.
local function expected_base(d, ring, start)
	local n = 0
	for tok, rec in pairs(d.tokens) do
		if rec.ring == ring and d.done[tok] then
			n = n + (d.packed and rec.ndesc or 1)
		end
	end
	if not d.packed then
		return (start + n) & 0xffff
	end
	local slot = n % d.num
	local wrap = (n // d.num) % 2 == 0 and 1 or 0
	local half = slot | (wrap << 15)
	return half | (half << 16)
end

for _, lay in ipairs(LAYOUTS) do
	local packed = lay == "packed"

	-- Traffic, GET_VRING_BASE, then a request published (not kicked: a
	-- kick would start the ring again) while messages keep coming: a
	-- stopped ring must not be touched (no used entry, nothing written).
	-- The seeded no-stop-on-get-vring-base keeps processing; a back-end
	-- that polls its rings whatever their state fails too.
	case {
		id = "virtio/ring-states/no-processing-after-stop-" .. lay,
		spec = "vhost-user#ring-states",
		level = "MUST",
		quote = Q_STOPPED,
		run = function(t)
			local d, m = ready(t, { packed = packed })
			d:complete(d:work(), "a request before the stop")
			d:stop(m)
			local tok = d:work{ kick = false }
			d:responsive()
			d:quiet(m, 100, "the stopped ring untouched: no used entry")
			d:responsive()
			d:quiet(m, 50, "the stopped ring untouched: no used entry")
			local w = d:written(tok)
			t:check(w == ("\238"):rep(#w),
			        "the stopped ring untouched: its buffers not written",
			        "the device wrote into them")
			d:check_memory()
		end,
	}

	-- After five requests used and one published without a kick, the
	-- base returned is where the back-end will continue: the chains it
	-- used (the last one too, if it took it while stopping), not the
	-- driver's avail->idx. Packed: both halves, with wrap counters. The
	-- seeded get-vring-base-avail-idx answers avail->idx.
	case {
		id = "virtio/ring-states/get-vring-base-after-traffic-" .. lay,
		spec = "vhost-user#vhost-user-get-vring-base",
		level = "MUST",
		quote = Q_BASE,
		run = function(t)
			local d, m = ready(t, { packed = packed })
			for _ = 1, 5 do
				d:complete(d:work(), "a request before the stop")
			end
			local last = d:work{ kick = false }
			local got = d:stop(m)
			t:sleep(5)
			d:reap(m)
			local want = expected_base(d, m, 0)
			t:note(("last request used: %s"):format(
			       tostring(d.done[last])))
			t:check(got == want, ("base 0x%x (the chains used)"):format(
			        want), ("0x%x"):format(got))
		end,
	}

	-- Stop after traffic, start again from the base returned (same
	-- rings, new kick and call fds): the request left in the ring and new
	-- ones are used, each once, with valid entries.
	case {
		id = "virtio/ring-states/restart-from-returned-base-" .. lay,
		spec = "vhost-user#ring-states",
		level = "MUST",
		quote = Q_KICK,
		run = function(t)
			local d, m = ready(t, { packed = packed })
			for _ = 1, 3 do
				d:complete(d:work(), "a request before the stop")
			end
			local left = d:work{ kick = false }
			local base = d:stop(m)
			d:start(m, { ring = d.q[m], base = base })
			local new = d:work()
			d:complete(left, "the request left in the ring used after " ..
			           "the restart")
			d:complete(new, "a new request used after the restart")
			d:complete(d:work(), "another one")
			d:check_memory()
		end,
	}

	-- SET_MEM_TABLE again while the rings run, with a second region
	-- added: requests whose buffers lie in the new region are used.
	case {
		id = "virtio/ring-states/set-mem-table-while-running-" .. lay,
		spec = "vhost-user#ring-states",
		level = "MUST",
		quote = [[While processing the rings (whether they are enabled or not), the back-end
must support changing some configuration aspects on the fly.]],
		run = function(t)
			local d, m = ready(t, { packed = packed })
			d:complete(d:work(), "a request before the new table")
			assert(d.mem:add_region(0x10000000, 1 << 20))
			virtio.step(t, vhost.msg("SET_MEM_TABLE",
			            { regions = d.mem:regions() }), "SET_MEM_TABLE")
			d.arena = 0x10000000
			d:complete(d:work(), "a request in the new region used")
			d:complete(d:work(), "another one")
			d:check_memory()
		end,
	}

	-- Disabled: net TX is processed and discarded, and no frame reaches
	-- a disabled RX queue; a blk write on a disabled queue leaves the
	-- disk as it was. The seeded process-while-disabled executes them.
	case {
		id = "virtio/ring-states/disabled-no-side-effects-" .. lay,
		spec = "vhost-user#ring-states",
		level = "MUST",
		quote = Q_DISABLED,
		run = function(t)
			if t.device ~= "net" and t.device ~= "blk" then
				t:skip("a side effect to look for is known for net and " ..
				       "blk only")
			end
			local d, m = ready(t, { packed = packed })
			if t.hs.acked_features & (1 << virtio.F_PROTOCOL_FEATURES) == 0 then
				t:skip("rings are enabled at once without " ..
				       "VHOST_USER_F_PROTOCOL_FEATURES")
			end
			if t.device == "net" then
				virtio.step(t, vhost.msg("SET_VRING_ENABLE",
				            { index = d.lay.rx, num = 0 }))
				d:complete(d:net_tx(virtio.net_frame(64, 1)),
				           "TX processed (and discarded) with RX disabled")
				d:quiet(d.lay.rx, 150, "no frame on a disabled RX queue")
				return
			end
			local old = d:blk(virtio.BLK_T_IN, 4, { read = 512 })
			d:complete(old, "a read of sector 4")
			virtio.step(t, vhost.msg("SET_VRING_ENABLE",
			            { index = m, num = 0 }))
			local w = d:work{ sector = 4, fill = "D" }
			d:wait(w, 300) -- used or not: both are without side effect
			virtio.step(t, vhost.msg("SET_VRING_ENABLE",
			            { index = m, num = 1 }))
			local r = d:blk(virtio.BLK_T_IN, 4, { read = 512 })
			d:complete(r, "a read after enabling again")
			local _, data = d:blk_result(r)
			local _, before = d:blk_result(old)
			t:check(data == before, "sector 4 unchanged by the write " ..
			        "sent while disabled", "it holds the write's data")
		end,
	}

	-- VIRTIO_F_EVENT_IDX: the driver kicks only when the device's
	-- avail_event (split) or event suppression structure (packed) asks
	-- for it. A device that does not keep it current starves.
	case {
		id = "virtio/ring-states/event-idx-kick-when-asked-" .. lay,
		spec = "virtio#drivernormative-virtqueues-available-buffer-" ..
		       "notification-suppression",
		level = "MUST",
		quote = [[If the \field{idx} field in the available ring (which determined
          where that descriptor index was placed) was equal to
          \field{avail_event}, the driver MUST send a notification.]],
		run = function(t)
			local d = ready(t, { packed = packed, event_idx = true })
			for k = 1, 8 do
				d:complete(d:work{ suppress = true },
				           ("request %d used, kicked only when asked")
				           :format(k))
			end
		end,
	}

	-- Calls through each kind of the zoo: an eventfd, a semaphore
	-- eventfd, a pipe's write end and a packetized pipe's (seed 000 /
	-- 002): the call fires after a request is used.
	for _, kind in ipairs({ "eventfd", "eventfd-semaphore", "pipe-write",
	                        "packet-pipe-write" }) do
		case {
			id = ("virtio/ring-states/call-fd-%s-%s"):format(kind, lay),
			spec = "virtio#devicenormative-virtqueues-used-buffer-" ..
			       "notification-suppression",
			level = "MUST",
			quote = Q_CALL,
			run = function(t)
				local d, m = ready(t, { packed = packed, call = kind })
				d:drain_calls(m)
				d:complete(d:work(), "a request used")
				t:check(d:called(m, 300), "the call fd (" .. kind ..
				        ") readable", "no notification")
				d:drain_calls(m)
				d:complete(d:work(), "a second request used")
				t:check(d:called(m, 300), "the call fd (" .. kind ..
				        ") readable again", "no notification")
			end,
		}
	end

	-- Kicks through each kind: eventfd, semaphore eventfd, a pipe's read
	-- end, a packetized pipe's (one kick per packet: a reader that takes
	-- one packet per wake-up must still see them all). Requests one at a
	-- time, then a burst of four each with its own kick.
	for _, kind in ipairs({ "eventfd", "eventfd-semaphore", "pipe-read",
	                        "packet-pipe-read" }) do
		case {
			id = ("virtio/ring-states/kick-fd-%s-%s"):format(kind, lay),
			spec = "vhost-user#ring-states",
			level = "MUST",
			quote = Q_KICK,
			run = function(t)
				local d, m = ready(t, { packed = packed, kick = kind })
				for k = 1, 4 do
					d:complete(d:work(), ("request %d used"):format(k))
				end
				local burst = {}
				for k = 1, 4 do
					burst[k] = d:work()
				end
				for k = 1, 4 do
					d:complete(burst[k], ("burst request %d used"):format(k))
				end
			end,
		}
	end

	-- In-band kicks (INBAND_NOTIFICATIONS, with BACKEND_REQ and
	-- REPLY_ACK): no kick fd, VHOST_USER_VRING_KICK acked and the request
	-- used.
	case {
		id = "virtio/ring-states/inband-kick-" .. lay,
		spec = "vhost-user#vhost-user-vring-kick",
		level = "MUST",
		quote = [[When the ``VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS`` protocol
  feature has been successfully negotiated, this message may be
  submitted by the front-end to indicate that a buffer was added to]],
		run = function(t)
			local d = virtio.device(t, {
				packed = packed, no_rings = true,
				pf = { "INBAND_NOTIFICATIONS", "BACKEND_REQ" } })
			local a, b = fdzoo.new("socket")
			d.backend_chan = { a, b }
			virtio.step(t, vhost.msg("SET_BACKEND_REQ_FD", { fd = a }))
			for _, i in ipairs(d.lay.all) do
				d:start(i, { kick = "inband" })
			end
			d:prepare()
			for k = 1, 3 do
				d:complete(d:work(), ("request %d used after an in-band " ..
				           "kick"):format(k))
			end
		end,
	}
end

-- Split, no EVENT_IDX: with VIRTQ_AVAIL_F_NO_INTERRUPT the device
-- "SHOULD NOT send a notification"; packed: RING_EVENT_FLAGS_DISABLE.
for _, lay in ipairs(LAYOUTS) do
	case {
		id = "virtio/ring-states/no-interrupt-flag-honoured-" .. lay,
		spec = "virtio#devicenormative-virtqueues-used-buffer-" ..
		       "notification-suppression",
		level = "SHOULD",
		quote = [[If \field{flags} is 1, the device SHOULD NOT send a notification.]],
		run = function(t)
			local d, m = ready(t, { packed = lay == "packed" })
			d:set_no_interrupt(m, true)
			d:drain_calls(m)
			d:complete(d:work(), "a request used")
			t:check(not d:called(m, 50), "no notification while the " ..
			        "driver asked for none", "the call fd fired")
		end,
	}
end

-- Split with EVENT_IDX: used_event set to the used index the next entry
-- goes to: "the device MUST send a notification"; set past it: SHOULD
-- NOT.
case {
	id = "virtio/ring-states/used-event-notifies-split",
	spec = "virtio#devicenormative-virtqueues-used-buffer-notification-" ..
	       "suppression",
	level = "MUST",
	quote = [[If the \field{idx} field in the used ring (which determined
    where that descriptor index was placed) was equal to
    \field{used_event}, the device MUST send a notification.]],
	run = function(t)
		local d, m = ready(t, { event_idx = true })
		for k = 1, 3 do
			d:drain_calls(m)
			d:set_used_event(m, d:used_idx(m))
			d:complete(d:work(), ("request %d used"):format(k))
			t:check(d:called(m, 300), ("a notification for request %d " ..
			        "(used_event = its used index)"):format(k),
			        "the call fd did not fire")
		end
	end,
}

case {
	id = "virtio/ring-states/used-event-suppresses-split",
	spec = "virtio#devicenormative-virtqueues-used-buffer-notification-" ..
	       "suppression",
	level = "SHOULD",
	quote = [[Otherwise the device SHOULD NOT send a notification.]],
	run = function(t)
		local d, m = ready(t, { event_idx = true })
		d:complete(d:work(), "a first request used")
		d:drain_calls(m)
		d:set_used_event(m, d:used_idx(m) + 10)
		d:complete(d:work(), "a request used")
		t:check(not d:called(m, 50), "no notification before used_event",
		        "the call fd fired")
	end,
}

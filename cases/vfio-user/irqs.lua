-- SPDX-License-Identifier: MIT
-- irqs.lua - interrupts: VFIO_USER_DEVICE_GET_IRQ_INFO and
-- VFIO_USER_DEVICE_SET_IRQS with every action and data type, ranges at and
-- past the count of an index (32-bit wrap included), fd counts that
-- disagree with count, and what the eventfds then see.
--
-- Spec: vfio-user.rst "Interrupts", "VFIO_USER_DEVICE_GET_IRQ_INFO",
-- "VFIO_USER_DEVICE_SET_IRQS".
-- The spec anchor of each case ends in the id of the assertion of
-- research/vfio-user-assertions.md it checks (anchor/VU-...).
--
-- A client triggering an interrupt itself (DATA_NONE / BOOL | TRIGGER)
-- makes the server signal the eventfd it was given for that vector: that
-- is how these cases watch what the server does with a vector.

local INFO = "vfio-user#vfio-user-device-get-irq-info"
local SET = "vfio-user#vfio-user-device-set-irqs"

local DATA_NONE, DATA_BOOL, DATA_EVENTFD = 1, 2, 4
local ACTION_MASK, ACTION_UNMASK, ACTION_TRIGGER = 8, 16, 32
local INFO_EVENTFD, INFO_MASKABLE, INFO_AUTOMASKED = 1, 2, 4

local INTX, MSI, MSIX, ERR, REQ = 0, 1, 2, 3, 4
local INDEXES = { { "intx", INTX }, { "msi", MSI }, { "msix", MSIX },
                  { "err", ERR }, { "req", REQ } }

-- How long a vector that must not fire is watched.
local QUIET_MS = 50

local function device_info(t)
	return t:expect_success(vfio.msg("DEVICE_GET_INFO")).info
end

-- GET_IRQ_INFO of @index: { flags, count }.
local function irq_info(t, index)
	local r = t:expect_success(vfio.msg("GET_IRQ_INFO", { index = index }))
	local _, flags, _, count = string.unpack("<I4I4I4I4", r.payload)
	return { flags = flags, count = count }
end

-- The info of @index, or SKIP unless it has @min vectors and @flags.
local function need_irq(t, index, min, flags)
	if index >= device_info(t).num_irqs then
		t:skip("the device has no IRQ index " .. index)
	end
	local i = irq_info(t, index)
	if i.count < min or i.flags & (flags or 0) ~= (flags or 0) then
		t:skip(("IRQ index %d: count %d, flags 0x%x; needs %d vectors " ..
		        "and flags 0x%x"):format(index, i.count, i.flags, min,
		                                  flags or 0))
	end
	return i
end

local function set_irqs(flags, index, start, count, extra)
	local f = { flags = flags, index = index, start = start, count = count }
	for k, v in pairs(extra or {}) do
		f[k] = v
	end
	return vfio.msg("SET_IRQS", f)
end

-- A SET_IRQS payload exactly as given (argsz = the payload size unless
-- @argsz is given).
local function raw_set(flags, index, start, count, data, argsz)
	data = data or ""
	return vfio.raw{
		command = "DEVICE_SET_IRQS",
		payload = string.pack("<I4I4I4I4I4", argsz or 20 + #data, flags,
		                      index, start, count) .. data,
	}
end

local function eventfds(n)
	local list = {}
	for i = 1, n do
		list[i] = assert(fdzoo.new("eventfd-nonblock"))
	end
	return list
end

-- Assign @fds as the TRIGGER eventfds of @index from @start.
local function assign(t, index, start, fds)
	t:expect_success(set_irqs(DATA_EVENTFD | ACTION_TRIGGER, index, start,
	                          #fds, { fds = fds }))
end

-- The client triggers [start, start + count) of @index.
local function trigger(t, index, start, count)
	t:expect_success(set_irqs(DATA_NONE | ACTION_TRIGGER, index, start,
	                          count))
end

-- Has @fd been signalled (within @ms)? Drains it.
local function fired(fd, ms)
	return fd:read(8, ms or 500) ~= nil
end

-- The server's fd count, or SKIP when there is no process to look at.
local function server_fds(t)
	if not t:has_process() then
		t:skip("needs the target process (its fd count)")
	end
	return t:fd_count()
end

-- ---- GET_IRQ_INFO ------------------------------------------------------

-- VU-IRQI-03: every PCI IRQ index answers with its index echoed and a
-- 16-byte reply (the reply rules).
for _, ix in ipairs(INDEXES) do
	case {
		id = "vfio-user/irqs/info/" .. ix[1],
		spec = INFO .. "/VU-IRQI-03",
		level = "MUST",
		quote = [[* index is the index of IRQ type being queried
* count describes the number of interrupts of the queried type.]],
		needs = { handshake = true },
		run = function(t)
			if ix[2] >= device_info(t).num_irqs then
				t:skip("the device has no IRQ index " .. ix[2])
			end
			irq_info(t, ix[2])
		end,
	}
end

-- VU-IRQI-01: no such IRQ index.
for _, v in ipairs({ { "info/index-past-end", nil },
                     { "info/index-max", 0xffffffff } }) do
	case {
		id = "vfio-user/irqs/" .. v[1],
		spec = INFO .. "/VU-IRQI-01",
		level = "MUST",
		quote = [[* index is the index of IRQ type being queried (e.g.
``VFIO_PCI_MSIX_IRQ_INDEX``)]],
		needs = { handshake = true },
		run = function(t)
			local index = v[2] or device_info(t).num_irqs
			t:expect_refusal(vfio.msg("GET_IRQ_INFO",
			                          { index = index }))
			t:expect_alive()
		end,
	}
end

-- VU-IRQI-02: argsz below the 16-byte reply leaves room for no answer.
case {
	id = "vfio-user/irqs/info/argsz-below-fixed",
	spec = INFO .. "/VU-IRQI-02",
	level = "MUST",
	quote = [[* *argsz* is the maximum size of the reply payload (16 bytes
today)]],
	needs = { handshake = true },
	run = function(t)
		t:expect_refusal(vfio.msg("GET_IRQ_INFO",
		                          { index = 0, argsz = 8 }))
		t:expect_alive()
	end,
}

-- VU-IRQI-04: the PCI error and request interrupts are single vectors.
case {
	id = "vfio-user/irqs/info/err-req-single",
	spec = INFO .. "/VU-IRQI-04",
	level = "SHOULD",
	quote = [[* count describes the number of interrupts of the queried type.]],
	needs = { handshake = true },
	run = function(t)
		local n = device_info(t).num_irqs
		for _, index in ipairs({ ERR, REQ }) do
			if index < n then
				local c = irq_info(t, index).count
				t:check(c <= 1, "index " .. index ..
				        " with at most 1 vector", c)
			end
		end
	end,
}

-- ---- malformed SET_IRQS ------------------------------------------------

-- VU-IRQS-01: shorter than the 20-byte struct.
case {
	id = "vfio-user/irqs/set/short-payload",
	spec = SET .. "/VU-IRQS-01",
	level = "MUST",
	quote = [[* *argsz* is the size of the VFIO IRQ set request payload,
including any *data* field.]],
	needs = { handshake = true },
	run = function(t)
		t:expect_refusal(vfio.raw{
			command = "DEVICE_SET_IRQS",
			payload = string.pack("<I4I4I4I4", 16,
			                      DATA_NONE | ACTION_TRIGGER, MSIX, 0),
		})
		t:expect_alive()
	end,
}

-- VU-IRQS-02: "The flags are mutually exclusive for both sets."
local FLAG_LIES = {
	{ "two-actions", DATA_NONE | ACTION_TRIGGER | ACTION_MASK, "MUST" },
	{ "two-data-types", DATA_NONE | DATA_BOOL | ACTION_TRIGGER, "MUST" },
	{ "all-flags", 0x3f, "MUST" },
	{ "no-action", DATA_NONE, "SHOULD" },
	{ "no-data-type", ACTION_TRIGGER, "SHOULD" },
}
for _, v in ipairs(FLAG_LIES) do
	case {
		id = "vfio-user/irqs/set/" .. v[1],
		spec = SET .. "/VU-IRQS-02",
		level = v[3],
		quote = [[The ``DATA`` flags describe the data field sent in the
message; the ``ACTION`` flags describe the action to be performed. The
flags are mutually exclusive for both sets.]],
		needs = { handshake = true },
		run = function(t)
			need_irq(t, MSIX, 1)
			local data = v[2] & DATA_BOOL ~= 0 and "\1" or ""
			t:expect_refusal(raw_set(v[2], MSIX, 0, 1, data))
			t:expect_alive()
		end,
	}
end

-- VU-IRQS-03: no such index.
case {
	id = "vfio-user/irqs/set/index-past-end",
	spec = SET .. "/VU-IRQS-03",
	level = "MUST",
	quote = [[* *index* is the index of IRQ type being setup.]],
	needs = { handshake = true },
	run = function(t)
		local n = device_info(t).num_irqs
		t:expect_refusal(set_irqs(DATA_NONE | ACTION_TRIGGER, n, 0, 1))
		t:expect_alive()
	end,
}

-- VU-IRQS-04: [start, start + count) past the vectors of the index, with
-- and without a 32-bit wrap of start + count (seeded bug irq-range-wrap
-- sums in 32 bits: start 1, count 0xffffffff is taken for 0).
local RANGES = {
	{ "start-at-count", function(n) return n, 1 end, DATA_NONE },
	{ "count-above", function(n) return 0, n + 1 end, DATA_NONE },
	{ "range-wrap", function() return 1, 0xffffffff end, DATA_NONE },
	{ "range-wrap-start-max", function() return 0xffffffff, 1 end,
	  DATA_NONE },
	{ "range-wrap-deassign", function(n) return n, 0x100000000 - n end,
	  DATA_EVENTFD },
}
for _, v in ipairs(RANGES) do
	case {
		id = "vfio-user/irqs/set/" .. v[1],
		spec = SET .. "/VU-IRQS-04",
		level = "MUST",
		quote = [[* *start* is the start of the sub-index being set.
* *count* describes the number of sub-indexes being set.]],
		needs = { handshake = true },
		run = function(t)
			local i = need_irq(t, MSIX, 1)
			local start, count = v[2](i.count)
			t:expect_refusal(raw_set(v[3] | ACTION_TRIGGER, MSIX,
			                         start, count))
			t:expect_alive()
		end,
	}
end

-- VU-IRQS-07: DATA_EVENTFD with a number of fds other than count (none
-- would de-assign; some but not count is neither).
for _, v in ipairs({ { "fewer-fds-than-count", 2, 1 },
                     { "more-fds-than-count", 1, 2 },
                     { "fds-with-count-zero", 0, 1 } }) do
	case {
		id = "vfio-user/irqs/eventfd/" .. v[1],
		spec = SET .. "/VU-IRQS-07",
		level = "MUST",
		quote = [[``VFIO_IRQ_SET_DATA_EVENTFD`` indicates an array of event
file descriptors was sent in the message meta-data.]],
		needs = { handshake = true, caps = { max_msg_fds = 8 } },
		run = function(t)
			need_irq(t, MSIX, 2)
			local fds = eventfds(v[3])
			t:expect_refusal(set_irqs(DATA_EVENTFD | ACTION_TRIGGER,
			                          MSIX, 0, v[2], { fds = fds }))
			t:expect_alive()
		end,
	}
end

-- VU-IRQS-08: fds with a data type that takes none: refused or not, the
-- server must not keep them (its fd count goes back).
for _, v in ipairs({ { "fds-with-data-none", DATA_NONE, "" },
                     { "fds-with-data-bool", DATA_BOOL, "\0\0" } }) do
	case {
		id = "vfio-user/irqs/" .. v[1],
		spec = SET .. "/VU-IRQS-08",
		level = "ROBUST",
		quote = [[``VFIO_IRQ_SET_DATA_NONE`` indicates there is no data field
in the command. The action is performed unconditionally.]],
		needs = { handshake = true, caps = { max_msg_fds = 8 } },
		run = function(t)
			need_irq(t, MSIX, 2)
			local before = server_fds(t)
			local m = raw_set(v[2] | ACTION_MASK, MSIX, 0, 2, v[3])
			m.fds = eventfds(4)
			t:expect_robust(m)
			local after = t:fd_count()
			t:check(after <= before, "the server's fd count back to " ..
			        before .. " (the 4 fds not kept)", after)
		end,
	}
end

-- VU-IRQS-09: DATA_BOOL carries exactly count booleans.
for _, v in ipairs({ { "bool/fewer-bytes-than-count", 2, "\1" },
                     { "bool/more-bytes-than-count", 1, "\1\1\1" } }) do
	case {
		id = "vfio-user/irqs/" .. v[1],
		spec = SET .. "/VU-IRQS-09",
		level = "MUST",
		quote = [[``VFIO_IRQ_SET_DATA_BOOL`` indicates the data field is an
array of boolean bytes. The action is performed if the corresponding
boolean is true.]],
		needs = { handshake = true },
		run = function(t)
			need_irq(t, MSIX, 2)
			t:expect_refusal(raw_set(DATA_BOOL | ACTION_MASK, MSIX, 0,
			                         v[2], v[3]))
			t:expect_alive()
		end,
	}
end

-- ---- what the vectors do -----------------------------------------------

-- VU-IRQS-11: with an eventfd assigned, a trigger signals it; for every
-- index with vectors and eventfd support.
for _, ix in ipairs(INDEXES) do
	case {
		id = "vfio-user/irqs/trigger/" .. ix[1],
		spec = SET .. "/VU-IRQS-11",
		level = "MUST",
		quote = [[These descriptors will be signalled when the action
defined by the action flags occurs.]],
		needs = { handshake = true, caps = { max_msg_fds = 8 } },
		run = function(t)
			need_irq(t, ix[2], 1, INFO_EVENTFD)
			local fds = eventfds(1)
			assign(t, ix[2], 0, fds)
			trigger(t, ix[2], 0, 1)
			t:check(fired(fds[1]), "the eventfd signalled",
			        "it was not")
		end,
	}
end

-- VU-IRQS-11: DATA_BOOL triggers only the vectors whose byte is true.
case {
	id = "vfio-user/irqs/trigger/bool-selects",
	spec = SET .. "/VU-IRQS-11",
	level = "MUST",
	quote = [[``VFIO_IRQ_SET_DATA_BOOL`` indicates the data field is an
array of boolean bytes. The action is performed if the corresponding
boolean is true.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_irq(t, MSIX, 2, INFO_EVENTFD)
		local fds = eventfds(2)
		assign(t, MSIX, 0, fds)
		t:expect_success(set_irqs(DATA_BOOL | ACTION_TRIGGER, MSIX, 0, 2,
		                          { bools = "\0\1" }))
		t:check(fired(fds[2]), "vector 1 (true) signalled", "it was not")
		t:check(not fired(fds[1], QUIET_MS), "vector 0 (false) quiet",
		        "it was signalled")
	end,
}

-- "The request payload size is defined by the usual msg_size field in
-- the header, not the argsz field": two booleans under an argsz that
-- counts one. Refused, or both acted on (seeded bug argsz-trusted takes
-- argsz and drops the second).
case {
	id = "vfio-user/irqs/trigger/bool-argsz-short",
	spec = "vfio-user#message-sizes/VU-IRQS-09",
	level = "MUST",
	quote = [[The *request* payload size is defined by the usual
``msg_size`` field in the header, not the ``argsz`` field.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_irq(t, MSIX, 2, INFO_EVENTFD)
		local fds = eventfds(2)
		assign(t, MSIX, 0, fds)
		local _, kind = t:expect(raw_set(DATA_BOOL | ACTION_TRIGGER, MSIX,
		                                 0, 2, "\1\1", 21),
		                         { "ack", "nack" })
		if kind == "ack" then
			t:check(fired(fds[1]) and fired(fds[2]),
			        "both vectors signalled (the 2 booleans sent)",
			        "only some")
		end
	end,
}

-- VU-IRQS-06: DATA_EVENTFD without fds de-assigns exactly [start, start
-- + count): the vectors around it keep their eventfds.
case {
	id = "vfio-user/irqs/eventfd/deassign-range",
	spec = SET .. "/VU-IRQS-06",
	level = "MUST",
	quote = [[If no file descriptors are provided, this de-assigns the
specified previously configured interrupts.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_irq(t, MSIX, 4, INFO_EVENTFD)
		local fds = eventfds(4)
		assign(t, MSIX, 0, fds)
		t:expect_success(set_irqs(DATA_EVENTFD | ACTION_TRIGGER, MSIX, 1,
		                          2))
		trigger(t, MSIX, 0, 4)
		t:check(fired(fds[1]) and fired(fds[4]),
		        "vectors 0 and 3 still signalled", "one was not")
		t:check(not fired(fds[2], QUIET_MS) and not fired(fds[3], 1),
		        "vectors 1 and 2 de-assigned", "one was signalled")
	end,
}

-- VU-IRQS-05: count 0, start 0, DATA_NONE disables every vector.
case {
	id = "vfio-user/irqs/disable-all",
	spec = SET .. "/VU-IRQS-05",
	level = "MUST",
	quote = [[As a special case, a count (and start) of 0, with data flags
of ``VFIO_IRQ_SET_DATA_NONE`` disables all interrupts of the index.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		local i = need_irq(t, MSIX, 2, INFO_EVENTFD)
		local fds = eventfds(i.count)
		assign(t, MSIX, 0, fds)
		t:expect_success(set_irqs(DATA_NONE | ACTION_TRIGGER, MSIX, 0, 0))
		trigger(t, MSIX, 0, i.count)
		t:sleep(QUIET_MS)
		for n, fd in ipairs(fds) do
			t:check(not fired(fd, 0), "vector " .. n - 1 ..
			        " disabled", "it was signalled")
		end
	end,
}

-- VU-IRQS-13: vectors set up by several messages (as a client must when
-- it has more than SCM_MAX_FD) all work.
case {
	id = "vfio-user/irqs/eventfd/batched-setup",
	spec = SET .. "/VU-IRQS-13",
	level = "MUST",
	quote = [[* *start* is the start of the sub-index being set.
* *count* describes the number of sub-indexes being set.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_irq(t, MSIX, 4, INFO_EVENTFD)
		local fds = eventfds(4)
		assign(t, MSIX, 0, { fds[1], fds[2] })
		assign(t, MSIX, 2, { fds[3], fds[4] })
		trigger(t, MSIX, 0, 4)
		for n, fd in ipairs(fds) do
			t:check(fired(fd), "vector " .. n - 1 .. " signalled",
			        "it was not")
		end
	end,
}

-- VU-IRQS-14: each index has its own vectors: the error interrupt's
-- eventfd is not MSI-X vector 0's.
case {
	id = "vfio-user/irqs/eventfd/err-own-slot",
	spec = SET .. "/VU-IRQS-14",
	level = "MUST",
	quote = [[* *index* is the index of IRQ type being setup.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_irq(t, MSIX, 1, INFO_EVENTFD)
		need_irq(t, ERR, 1, INFO_EVENTFD)
		local a, b = eventfds(1), eventfds(1)
		assign(t, MSIX, 0, a)
		assign(t, ERR, 0, b)
		trigger(t, ERR, 0, 1)
		t:check(fired(b[1]), "the ERR eventfd signalled", "it was not")
		t:check(not fired(a[1], QUIET_MS), "MSI-X vector 0 quiet",
		        "it was signalled")
	end,
}

-- A masked vector does not fire; the eventfd stays quiet.
case {
	id = "vfio-user/irqs/mask/masked-vector-quiet",
	spec = SET .. "/VU-IRQS-12",
	level = "MUST",
	quote = [[``VFIO_IRQ_SET_ACTION_MASK`` indicates a masking event. It can
be used with ``VFIO_IRQ_SET_DATA_BOOL`` or ``VFIO_IRQ_SET_DATA_NONE`` to
mask an interrupt]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_irq(t, MSIX, 1, INFO_EVENTFD | INFO_MASKABLE)
		local fds = eventfds(1)
		assign(t, MSIX, 0, fds)
		t:expect_success(set_irqs(DATA_NONE | ACTION_MASK, MSIX, 0, 1))
		trigger(t, MSIX, 0, 1)
		t:check(not fired(fds[1], QUIET_MS), "the masked vector quiet",
		        "it was signalled")
		t:expect_success(set_irqs(DATA_NONE | ACTION_UNMASK, MSIX, 0, 1))
		fired(fds[1], 20) -- a pending interrupt may come now
		trigger(t, MSIX, 0, 1)
		t:check(fired(fds[1]), "signalled again once unmasked",
		        "it was not")
	end,
}

-- An AUTOMASKED index masks itself when it fires: "the client must send
-- an UNMASK action to receive new interrupts".
case {
	id = "vfio-user/irqs/mask/automasked-needs-unmask",
	spec = INFO .. "/VU-IRQS-12",
	level = "MUST",
	quote = [[``VFIO_IRQ_INFO_AUTOMASKED`` indicates the IRQ type masks
itself after being triggered, and the client must send an ``UNMASK``
action to receive new interrupts.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		local index
		for _, ix in ipairs(INDEXES) do
			if ix[2] < device_info(t).num_irqs then
				local i = irq_info(t, ix[2])
				if i.count >= 1 and i.flags & INFO_AUTOMASKED ~= 0 and
				   i.flags & INFO_EVENTFD ~= 0 then
					index = ix[2]
					break
				end
			end
		end
		if not index then
			t:skip("no AUTOMASKED index with eventfds")
		end
		local fds = eventfds(1)
		assign(t, index, 0, fds)
		trigger(t, index, 0, 1)
		t:check(fired(fds[1]), "the first trigger signalled", "it was not")
		trigger(t, index, 0, 1)
		t:check(not fired(fds[1], QUIET_MS),
		        "the second quiet (masked by the first)",
		        "it was signalled")
		-- after UNMASK the pending interrupt is delivered (and masks
		-- the vector again), or a new trigger gets through
		t:expect_success(set_irqs(DATA_NONE | ACTION_UNMASK, index, 0, 1))
		if not fired(fds[1], QUIET_MS) then
			trigger(t, index, 0, 1)
			t:check(fired(fds[1]), "signalled again after UNMASK",
			        "it was not")
		end
	end,
}

-- VU-IRQS-12 / VU-IRQS-10: MASK and UNMASK are for MASKABLE types only
-- (ERR and REQ only trigger).
for _, ix in ipairs({ { "msi", MSI }, { "err", ERR }, { "req", REQ } }) do
	case {
		id = "vfio-user/irqs/mask/not-maskable/" .. ix[1],
		spec = INFO .. "/VU-IRQS-12",
		level = "SHOULD",
		quote = [[``VFIO_IRQ_INFO_MASKABLE`` indicates that the IRQ type
supports the ``MASK`` and ``UNMASK`` actions in a
``VFIO_USER_DEVICE_SET_IRQS`` message.]],
		needs = { handshake = true },
		run = function(t)
			local i = need_irq(t, ix[2], 1)
			if i.flags & INFO_MASKABLE ~= 0 then
				t:skip("index " .. ix[2] .. " is maskable here")
			end
			t:expect_refusal(set_irqs(DATA_NONE | ACTION_MASK, ix[2], 0,
			                          1))
			t:expect_alive()
		end,
	}
end

-- Assigning a vector again replaces its eventfd: the server closes the
-- one it held, so its fd count does not grow with each reassignment.
case {
	id = "vfio-user/irqs/eventfd/reassign-releases-old",
	spec = SET .. "/VU-IRQS-13",
	level = "ROBUST",
	quote = [[This associates the IRQ with a particular eventfd on the
server side.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_irq(t, MSIX, 1, INFO_EVENTFD)
		assign(t, MSIX, 0, eventfds(1))
		local before = server_fds(t)
		for _ = 1, 24 do
			local fds = eventfds(1)
			assign(t, MSIX, 0, fds)
			fds[1]:close()
		end
		local after = t:fd_count()
		t:check(after <= before, "the server's fd count stays at " ..
		        before, after)
	end,
}

-- An fd the server cannot signal (a read-only file) as an eventfd.
case {
	id = "vfio-user/irqs/eventfd/not-an-eventfd",
	spec = SET .. "/VU-IRQS-08",
	level = "ROBUST",
	quote = [[``VFIO_IRQ_SET_DATA_EVENTFD`` indicates an array of event file
descriptors was sent in the message meta-data.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_irq(t, MSIX, 1)
		local f = assert(fdzoo.new("file-ro"))
		local _, kind = t:expect_robust(set_irqs(
			DATA_EVENTFD | ACTION_TRIGGER, MSIX, 0, 1, { fds = { f } }))
		if kind == "ack" then
			t:expect_robust(set_irqs(DATA_NONE | ACTION_TRIGGER, MSIX,
			                         0, 1))
		end
	end,
}

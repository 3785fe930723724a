-- SPDX-License-Identifier: MIT
-- disconnect.lua - the client goes away: mid-message, mid-DMA, with IRQ
-- eventfds, DMA regions and a twin socket in the server's hands. A server
-- that serves the next client must have closed what the old one passed,
-- unmapped its memory, and kept the device's state.
--
-- Spec: vfio-user.rst "Client Disconnection", "Security Considerations".
-- The spec anchor of each case ends in the id of the assertion of
-- research/vfio-user-assertions.md it checks (anchor/VU-...).
--
-- The cases that reconnect need the same server process afterwards: run
-- them with --reuse against a server that serves the next client (e.g.
-- vuc-ref-vfio --reconnect). A server that exits when its client leaves
-- ("the server can automatically exit"), or a fresh process per case,
-- makes them SKIP.

local CLIENT = "vfio-user#client-disconnection"
local SECURITY = "vfio-user#security-considerations"

local DATA_NONE, DATA_EVENTFD, ACTION_TRIGGER = 1, 4, 32
local MSIX, ERR = 2, 3
local CONFIG, PCI_INTERRUPT_LINE = 7, 0x3c
local BAR0, REG_ID, REG_DMA_SRC = 0, 0x00, 0x08
local GET, SET, F_MIGRATION, F_STATE = 1 << 16, 1 << 17, 1, 2
local STOP, STOP_COPY = 1, 3
local MEM_GPA, MEM_SIZE = 0x100000, 0x10000

local CAPS = { max_msg_fds = 8 }

-- Hang up, then reach the same server process again and negotiate; SKIP
-- when the server exits or the harness starts a new one.
local function reconnect(t)
	if not t:has_process() then
		t:skip("needs the target process (its fd count, its pid)")
	end
	local pid = t:pid()
	t:shutdown("both")
	if t:wait_exit(100) then
		t:skip("the server exits when its client leaves (allowed); " ..
		       "nothing to reconnect to")
	end
	t:restart()
	if t:pid() ~= pid then
		t:skip("the harness started a new server process; run with " ..
		       "--reuse and a server that serves the next client")
	end
	vfio.version(t, CAPS)
end

local function eventfds(n)
	local list = {}
	for i = 1, n do
		list[i] = assert(fdzoo.new("eventfd-nonblock"))
	end
	return list
end

local function irq_count(t, index)
	local r = t:call(vfio.msg("GET_IRQ_INFO", { index = index }))
	if not r or r.is_error then
		return 0
	end
	return (select(4, string.unpack("<I4I4I4I4", r.payload)))
end

-- Give the server the eventfds of every MSI-X vector and of ERR.
local function assign_irqs(t)
	local fds = {}
	for _, index in ipairs({ MSIX, ERR }) do
		local n = irq_count(t, index)
		if n > 0 then
			local these = eventfds(math.min(n, 8))
			t:expect_success(vfio.msg("SET_IRQS", {
				flags = DATA_EVENTFD | ACTION_TRIGGER, index = index,
				start = 0, count = #these, fds = these }))
			for _, fd in ipairs(these) do
				fds[#fds + 1] = { index = index, fd = fd }
			end
		end
	end
	if #fds == 0 then
		t:skip("no MSI-X or ERR vectors to give eventfds to")
	end
	return fds
end

-- The server's fd count, settled (it may still be closing what the old
-- client left): waits up to 200 ms for it to reach @want.
local function fd_count_settled(t, want)
	local n = t:fd_count()
	for _ = 1, 40 do
		if n <= want then
			return n
		end
		t:sleep(5)
		n = t:fd_count()
	end
	return n
end

-- ---- hang-ups mid-way ----------------------------------------------------

-- VU-DISC-05: the client hangs up in the middle of a message: the server
-- cleans up (and exits, or waits for the next client), it does not crash
-- or spin.
local PARTIAL = {
	{ "mid-header", function()
		return string.pack("<I2I2I4", 9, 4, 32)
	end },
	{ "mid-body", function()
		return string.pack("<I2I2I4I4I4", 9, 5, 48, 0, 0) ..
		       string.pack("<I4I4", 32, 0)
	end },
	{ "header-only", function()
		return string.pack("<I2I2I4I4I4", 9, 2, 48, 0, 0)
	end },
}
for _, v in ipairs(PARTIAL) do
	case {
		id = "vfio-user/disconnect/" .. v[1],
		spec = SECURITY .. "/VU-DISC-05",
		level = "ROBUST",
		quote = [[Standard tools and mechanisms should be used on both sides
to validate input and prevent against denial of service scenarios, buffer
overflow, etc.]],
		needs = { handshake = true },
		run = function(t)
			t:send_bytes(v[2]())
			t:shutdown("both")
			t:sleep(30)
			t:expect_alive()
		end,
	}
end

-- A message with an fd whose body never comes.
case {
	id = "vfio-user/disconnect/fd-in-flight",
	spec = SECURITY .. "/VU-DISC-05",
	level = "ROBUST",
	quote = [[Standard tools and mechanisms should be used on both sides to
validate input and prevent against denial of service scenarios, buffer
overflow, etc.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local mfd = assert(fdzoo.new("memfd", MEM_SIZE))
		t:send_bytes(string.pack("<I2I2I4I4I4", 9, 2, 48, 0, 0) ..
		             string.pack("<I4I4", 32, 3), { fds = { mfd } })
		t:shutdown("both")
		t:sleep(30)
		t:expect_alive()
	end,
}

-- VU-SDMA-09: the client leaves while the server waits for its answer to
-- a DMA_READ (reference device's DMA engine, message-based memory).
case {
	id = "vfio-user/disconnect/during-dma",
	spec = CLIENT .. "/VU-SDMA-09",
	level = "ROBUST",
	quote = [[The client disconnecting from the server primarily means that
the client has exited.]],
	needs = { handshake = true },
	run = function(t)
		local id = t:call(vfio.msg("REGION_READ",
		                           { region = BAR0, offset = REG_ID,
		                             count = 4 }))
		if not id or id.is_error or id.data ~= "VUC1" then
			t:skip("needs the reference device's DMA engine")
		end
		t:expect_success(vfio.msg("DMA_MAP", {
			flags = vfio.DMA_READ | vfio.DMA_WRITE, addr = MEM_GPA,
			size = MEM_SIZE }))
		t:send(vfio.msg("REGION_WRITE", {
			region = BAR0, offset = REG_DMA_SRC,
			data = string.pack("<I8I8I4I4", MEM_GPA, MEM_GPA + 0x8000,
			                   64, 1) }))
		local r = t:recv()
		t:check(r and r.name == "VFIO_USER_DMA_READ",
		        "the server's DMA_READ", r and r.text)
		t:shutdown("both")
		t:sleep(30)
		t:expect_alive()
	end,
}

-- The twin socket belongs to the connection: once the client is gone the
-- server closes its end (the client's end reads end of file).
case {
	id = "vfio-user/disconnect/twin-socket-closed",
	spec = CLIENT .. "/VU-DISC-01",
	level = "ROBUST",
	quote = [[all client memory regions are unmapped and cleaned up
(including closing any passed file descriptors)]],
	run = function(t)
		local r = t:expect_success(vfio.msg("VERSION", {
			caps = { max_msg_fds = 8, twin_socket = true } }))
		local idx = tonumber((r.json or ""):match('"fd_index"%s*:%s*(%d+)'))
		if not (r.caps and r.caps.twin_socket and idx and r.fds[idx + 1])
		then
			t:skip("the server does not offer twin-socket mode")
		end
		local twin = r.fds[idx + 1]
		t:shutdown("both")
		local s, why = twin:read(64, 500)
		t:check(s == nil and why == "eof",
		        "end of file on the twin socket", s and "data" or why)
	end,
}

-- ---- the next client -----------------------------------------------------

-- VU-DISC-02: "all IRQ file descriptors passed from the old client are
-- closed" (seeded bug irq-fd-leak-disconnect keeps them): the server's fd
-- count is back where it was before they came.
case {
	id = "vfio-user/disconnect/irq-fds-closed",
	spec = CLIENT .. "/VU-DISC-02",
	level = "SHOULD",
	quote = [[all IRQ file descriptors passed from the old client are
closed]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		if not t:has_process() then
			t:skip("needs the target process")
		end
		local before = t:fd_count()
		assign_irqs(t)
		reconnect(t)
		local after = fd_count_settled(t, before)
		t:check(after <= before, "the server's fd count back to " ..
		        before, after)
	end,
}

-- VU-DISC-02: ... and so the old eventfds never fire again: the new
-- client's trigger reaches no eventfd of the old one.
case {
	id = "vfio-user/disconnect/old-irq-fds-silent",
	spec = CLIENT .. "/VU-DISC-02",
	level = "SHOULD",
	quote = [[all IRQ file descriptors passed from the old client are
closed]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local old = assign_irqs(t)
		reconnect(t)
		for _, v in ipairs({ MSIX, ERR }) do
			local n = irq_count(t, v)
			if n > 0 then
				t:expect(vfio.msg("SET_IRQS", {
					flags = DATA_NONE | ACTION_TRIGGER,
					index = v, start = 0, count = n }),
				         { "ack", "nack" })
			end
		end
		t:sleep(30)
		for _, o in ipairs(old) do
			t:check(o.fd:read(8, 0) == nil,
			        "index " .. o.index .. "'s old eventfd silent",
			        "it was signalled")
		end
	end,
}

-- VU-DISC-01: the old client's DMA regions are unmapped and their fds
-- closed: the fd count is back, and the same range maps again (no
-- EEXIST).
case {
	id = "vfio-user/disconnect/dma-regions-released",
	spec = CLIENT .. "/VU-DISC-01",
	level = "SHOULD",
	quote = [[all client memory regions are unmapped and cleaned up
(including closing any passed file descriptors)]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		if not t:has_process() then
			t:skip("needs the target process")
		end
		local before = t:fd_count()
		for i = 0, 2 do
			local mfd = assert(fdzoo.new("memfd", MEM_SIZE))
			t:expect_success(vfio.msg("DMA_MAP", {
				flags = vfio.DMA_READ | vfio.DMA_WRITE,
				addr = MEM_GPA + i * MEM_SIZE, size = MEM_SIZE,
				fd = mfd }))
			mfd:close()
		end
		reconnect(t)
		local after = fd_count_settled(t, before)
		t:check(after <= before, "the server's fd count back to " ..
		        before, after)
		t:expect_success(vfio.msg("DMA_MAP", {
			flags = vfio.DMA_READ | vfio.DMA_WRITE, addr = MEM_GPA,
			size = MEM_SIZE }))
	end,
}

-- VU-DISC-03: "the device state should otherwise be retained".
case {
	id = "vfio-user/disconnect/device-state-retained",
	spec = CLIENT .. "/VU-DISC-03",
	level = "SHOULD",
	quote = [[the device state should otherwise be retained]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		t:expect_success(vfio.msg("REGION_WRITE", {
			region = CONFIG, offset = PCI_INTERRUPT_LINE,
			data = "\x6d" }))
		reconnect(t)
		local r = t:expect_success(vfio.msg("REGION_READ", {
			region = CONFIG, offset = PCI_INTERRUPT_LINE, count = 1 }))
		t:check(r.data == "\x6d", "Interrupt Line 0x6d still",
		        ("0x%02x"):format(r.data:byte()))
	end,
}

-- VU-DISC-04: the next client negotiates afresh and is served.
case {
	id = "vfio-user/disconnect/next-client-served",
	spec = CLIENT .. "/VU-DISC-04",
	level = "SHOULD",
	quote = [[The expectation is that when a client reconnects, it will
re-establish IRQ and client memory mappings.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		reconnect(t)
		local r = t:expect_success(vfio.msg("DEVICE_GET_INFO"))
		t:check(r.info.num_regions >= 9, "the device's regions",
		        r.info.num_regions)
		local fds = eventfds(1)
		if irq_count(t, MSIX) > 0 then
			t:expect_success(vfio.msg("SET_IRQS", {
				flags = DATA_EVENTFD | ACTION_TRIGGER, index = MSIX,
				start = 0, count = 1, fds = fds }))
		end
	end,
}

-- The client left in the middle of a migration: the next one finds the
-- device in some state it can leave (the spec does not say which).
case {
	id = "vfio-user/disconnect/mid-migration",
	spec = CLIENT .. "/VU-DISC-03",
	level = "ROBUST",
	quote = [[If anything happens to the client (such as qemu really did
exit), the control stack will know about it and can clean up resources
accordingly.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local _, kind = t:expect(vfio.msg("DEVICE_FEATURE",
		                                  { flags = GET | F_MIGRATION }),
		                         { "ack", "nack" })
		if kind == "nack" then
			t:skip("the device does not support migration")
		end
		for _, s in ipairs({ STOP, STOP_COPY }) do
			t:expect_success(vfio.msg("DEVICE_FEATURE", {
				flags = SET | F_STATE,
				data = string.pack("<I4I4", s, 0) }))
		end
		reconnect(t)
		local r = t:expect_success(vfio.msg("DEVICE_FEATURE",
		                                    { flags = GET | F_STATE }))
		local s = string.unpack("<I4", r.payload, 9)
		t:check(s <= 7, "a migration state", s)
		t:expect_robust(vfio.msg("DEVICE_FEATURE", {
			flags = SET | F_STATE, data = string.pack("<I4I4", STOP, 0) }))
	end,
}

-- A second client hanging up before VERSION.
case {
	id = "vfio-user/disconnect/before-version",
	spec = CLIENT .. "/VU-DISC-04",
	level = "ROBUST",
	quote = [[The client disconnecting from the server primarily means that
the client has exited.]],
	needs = { handshake = false },
	run = function(t)
		t:shutdown("both")
		t:sleep(30)
		t:expect_alive()
	end,
}

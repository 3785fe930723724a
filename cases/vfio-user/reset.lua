-- SPDX-License-Identifier: MIT
-- reset.lua - VFIO_USER_DEVICE_RESET: its empty request and reply, what
-- a reset restores (registers, the migration state, ERROR), what it
-- leaves alone (client memory), and its place in the command order.
--
-- Spec: vfio-user.rst "VFIO_USER_DEVICE_RESET", "VFIO_USER_DEVICE_GET_INFO",
-- "Direct State Transitions".
-- The spec anchor of each case ends in the id of the assertion of
-- research/vfio-user-assertions.md it checks (anchor/VU-...).

local RESET = "vfio-user#vfio-user-device-reset"

local FLAGS_RESET = 1
local CONFIG, PCI_COMMAND, PCI_INTERRUPT_LINE = 7, 0x04, 0x3c
local BAR0, REG_ID, REG_SCRATCH = 0, 0x00, 0x28

local GET, SET = 1 << 16, 1 << 17
local F_MIGRATION, F_STATE = 1, 2
local ERROR, STOP, RUNNING, STOP_COPY, RESUMING = 0, 1, 2, 3, 4

-- SKIP unless DEVICE_GET_INFO offers VFIO_DEVICE_FLAGS_RESET.
local function need_reset(t)
	local r = t:expect_success(vfio.msg("DEVICE_GET_INFO"))
	if r.info.flags & FLAGS_RESET == 0 then
		t:skip("the device does not offer reset")
	end
end

local function reset(t)
	return t:expect_success(vfio.msg("DEVICE_RESET"))
end

local function rd(t, region, offset, count)
	return t:expect_success(vfio.msg("REGION_READ", {
		region = region, offset = offset, count = count })).data
end

local function wr(t, region, offset, data)
	t:expect_success(vfio.msg("REGION_WRITE", {
		region = region, offset = offset, data = data }))
end

local function need_ref_device(t)
	local r = t:call(vfio.msg("REGION_READ",
	                          { region = BAR0, offset = REG_ID, count = 4 }))
	if not r or r.is_error or r.data ~= "VUC1" then
		t:skip("needs the reference device's register map (BAR0 ID " ..
		       "\"VUC1\")")
	end
end

local function feature(flags, data)
	return vfio.msg("DEVICE_FEATURE", { flags = flags, data = data or "" })
end

local function state_msg(s)
	return feature(SET | F_STATE, string.pack("<I4I4", s, 0))
end

local function need_migration(t)
	local _, kind = t:expect(feature(GET | F_MIGRATION), { "ack", "nack" })
	if kind == "nack" then
		t:skip("the device does not support migration")
	end
end

local function get_state(t)
	local r = t:expect_success(feature(GET | F_STATE))
	return (string.unpack("<I4", r.payload, 9))
end

-- VU-RST-01 / VU-INFO-04: a device that offers reset resets; neither the
-- request nor the reply has a payload (the reply rules).
case {
	id = "vfio-user/reset/offered-and-done",
	spec = RESET .. "/VU-RST-01",
	level = "MUST",
	quote = [[This command message is sent from the client to the server to
reset the device. Neither the request or reply have a payload.]],
	needs = { handshake = true },
	run = function(t)
		need_reset(t)
		local r = reset(t)
		t:check(#r.payload == 0, "a reply without payload",
		        #r.payload .. " bytes")
	end,
}

-- VU-RST-01: twice in a row, and the connection carries on.
case {
	id = "vfio-user/reset/twice",
	spec = RESET .. "/VU-RST-01",
	level = "MUST",
	quote = [[This command message is sent from the client to the server to
reset the device.]],
	needs = { handshake = true },
	run = function(t)
		need_reset(t)
		reset(t)
		reset(t)
		t:expect_success(vfio.msg("DEVICE_GET_INFO"))
	end,
}

-- VU-RST-02: a RESET with a payload it should not have.
case {
	id = "vfio-user/reset/with-payload",
	spec = RESET .. "/VU-RST-02",
	level = "ROBUST",
	quote = [[Neither the request or reply have a payload.]],
	needs = { handshake = true },
	run = function(t)
		need_reset(t)
		t:expect_robust(vfio.raw{ command = "DEVICE_RESET",
		                          payload = string.rep("\0", 8) })
	end,
}

-- VU-HDR-07: a posted RESET gets no reply; the next command gets its own.
case {
	id = "vfio-user/reset/posted",
	spec = "vfio-user#command-concurrency/VU-HDR-07",
	level = "MUST",
	quote = [[if a client issues a command with the *No_reply* bit, then
subsequently issues a command without *No_reply*, the older command will
have been processed before the reply to the younger command is sent]],
	needs = { handshake = true },
	run = function(t)
		need_reset(t)
		t:send(vfio.msg("DEVICE_RESET", { no_reply = true }))
		local m = vfio.msg("DEVICE_GET_INFO")
		t:send(m)
		local r = t:recv()
		t:check(r and r.msg_id == m.msg_id, "the GET_INFO reply (id " ..
		        m.msg_id .. ") first", r and r.text)
	end,
}

-- VU-RST-03: ERROR is left by a reset, into RUNNING. ERROR is reached by
-- failing RESUMING -> STOP with data the device cannot load.
case {
	id = "vfio-user/reset/recovers-error",
	spec = "vfio-user#direct-state-transitions/VU-RST-03",
	level = "MUST",
	quote = [[To recover from ``ERROR``, ``VFIO_USER_DEVICE_RESET`` must be
used to return back to ``RUNNING``.]],
	needs = { handshake = true },
	run = function(t)
		need_reset(t)
		need_migration(t)
		t:expect_success(state_msg(STOP))
		t:expect_success(state_msg(RESUMING))
		t:expect_success(vfio.msg("MIG_DATA_WRITE",
		                          { data = string.rep("\xee", 4096) }))
		t:expect(state_msg(STOP), { "ack", "nack" })
		if get_state(t) ~= ERROR then
			t:skip("the device did not enter ERROR")
		end
		reset(t)
		local s = get_state(t)
		t:check(s == RUNNING, "RUNNING after the reset", s)
	end,
}

-- A reset in the middle of a migration: the spec does not say what it
-- does there; no crash, and the state stays a state.
for _, v in ipairs({ { "during-stop-copy", STOP_COPY },
                     { "during-resuming", RESUMING } }) do
	case {
		id = "vfio-user/reset/" .. v[1],
		spec = RESET .. "/VU-RST-04",
		level = "ROBUST",
		quote = [[This command message is sent from the client to the server
to reset the device.]],
		needs = { handshake = true },
		run = function(t)
			need_reset(t)
			need_migration(t)
			t:expect_success(state_msg(STOP))
			t:expect_success(state_msg(v[2]))
			t:expect_robust(vfio.msg("DEVICE_RESET"))
			local s = get_state(t)
			t:check(s <= 7 and s ~= 5, "a migration state", s)
		end,
	}
end

-- A reset returns the device's registers to their reset values
-- (reference device: SCRATCH is 0 after reset).
case {
	id = "vfio-user/reset/registers",
	spec = RESET .. "/VU-RST-01",
	level = "MUST",
	quote = [[This command message is sent from the client to the server to
reset the device.]],
	needs = { handshake = true },
	run = function(t)
		need_reset(t)
		need_ref_device(t)
		wr(t, BAR0, REG_SCRATCH, "\1\2\3\4")
		reset(t)
		t:check(rd(t, BAR0, REG_SCRATCH, 4) == "\0\0\0\0",
		        "SCRATCH 0 after the reset", "its old value")
	end,
}

-- A reset of the reference device clears the PCI Command register
-- (memory, bus master) as a PCI function reset does. The spec does not
-- say what a reset restores: reference device only.
case {
	id = "vfio-user/reset/pci-command-register",
	spec = RESET .. "/VU-RST-01",
	level = "MUST",
	quote = [[This command message is sent from the client to the server to
reset the device.]],
	needs = { handshake = true },
	run = function(t)
		need_reset(t)
		need_ref_device(t)
		local before = string.unpack("<I2", rd(t, CONFIG, PCI_COMMAND, 2))
		wr(t, CONFIG, PCI_COMMAND, string.pack("<I2", before | 0x6))
		local set = string.unpack("<I2", rd(t, CONFIG, PCI_COMMAND, 2))
		if set & 0x6 == 0 then
			t:skip("the Command register's memory and bus master " ..
			       "bits are not writeable here")
		end
		reset(t)
		local after = string.unpack("<I2", rd(t, CONFIG, PCI_COMMAND, 2))
		t:check(after & 0x6 == 0, "memory and bus master off after " ..
		        "the reset", ("Command 0x%04x"):format(after))
	end,
}

-- Commands in one write: the reset falls between the write and the read
-- (processed in order of arrival).
case {
	id = "vfio-user/reset/ordered-between-commands",
	spec = "vfio-user#command-concurrency/VU-HDR-09",
	level = "MUST",
	quote = [[The server will process commands in the order they are
received.]],
	needs = { handshake = true },
	run = function(t)
		need_reset(t)
		need_ref_device(t)
		local w = vfio.msg("REGION_WRITE", { region = BAR0,
			offset = REG_SCRATCH, data = "\9\9\9\9" })
		local r0 = vfio.msg("DEVICE_RESET")
		local rd1 = vfio.msg("REGION_READ", { region = BAR0,
			offset = REG_SCRATCH, count = 4 })
		t:send_many{ w, r0, rd1 }
		local replies = { t:recv(), t:recv(), t:recv() }
		for i, m in ipairs({ w, r0, rd1 }) do
			t:check(replies[i] and replies[i].msg_id == m.msg_id,
			        "reply " .. i .. " to id " .. m.msg_id,
			        replies[i] and replies[i].text)
		end
		t:check(replies[3].data == "\0\0\0\0",
		        "SCRATCH 0: the reset came after the write", "9999")
	end,
}

-- Client memory is the client's: a reset of the device does not unmap
-- it, so the mapping can still be unmapped exactly.
case {
	id = "vfio-user/reset/keeps-dma-maps",
	spec = "vfio-user#vfio-user-dma-unmap/VU-DMA-UNMAP-09",
	level = "SHOULD",
	quote = [[The address and size of the DMA region being unmapped must
match exactly a previous mapping.]],
	needs = { handshake = true },
	run = function(t)
		need_reset(t)
		t:expect_success(vfio.msg("DMA_MAP", {
			flags = vfio.DMA_READ | vfio.DMA_WRITE, addr = 0x100000,
			size = 0x10000 }))
		reset(t)
		t:expect_success(vfio.msg("DMA_UNMAP", { addr = 0x100000,
		                                         size = 0x10000 }))
	end,
}

-- The Interrupt Line register is software's: written, reset, written
-- again: the connection and config space still work after a reset.
case {
	id = "vfio-user/reset/config-writeable-after",
	spec = RESET .. "/VU-RST-01",
	level = "MUST",
	quote = [[This command message is sent from the client to the server to
reset the device.]],
	needs = { handshake = true },
	run = function(t)
		need_reset(t)
		reset(t)
		wr(t, CONFIG, PCI_INTERRUPT_LINE, "\x3b")
		t:check(rd(t, CONFIG, PCI_INTERRUPT_LINE, 1) == "\x3b",
		        "Interrupt Line 0x3b after the reset", "another value")
	end,
}

-- ---- de-facto: libvfio-user ----------------------------------------------

-- VU-RST-04 (libvfio-user): no reset while the device is stopped for
-- migration.
case {
	id = "vfio-user/reset/libvfio-user/refused-in-stop",
	spec = RESET .. "/VU-RST-04",
	level = "SHOULD",
	quote = [[This command message is sent from the client to the server to
reset the device.]],
	needs = { handshake = true, profile = "libvfio-user" },
	run = function(t)
		need_reset(t)
		need_migration(t)
		t:expect_success(state_msg(STOP))
		t:expect_refusal(vfio.msg("DEVICE_RESET"))
	end,
}

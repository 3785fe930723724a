-- SPDX-License-Identifier: MIT
-- migration.lua - the migration state machine (DEVICE_FEATURE
-- MIGRATION / MIG_DEVICE_STATE): every legal transition, direct and
-- composed, the illegal ones; VFIO_USER_MIG_DATA_READ / _WRITE in and out
-- of their states, and the migration stream carried from one server
-- instance into a fresh one.
--
-- Spec: vfio-user.rst "VFIO_USER_DEVICE_FEATURE", "Device Features",
-- "VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE", "Direct State Transitions",
-- "Complex State Transitions", "VFIO_USER_MIG_DATA_READ",
-- "VFIO_USER_MIG_DATA_WRITE".
-- The spec anchor of each case ends in the id of the assertion of
-- research/vfio-user-assertions.md it checks (anchor/VU-...).
--
-- Two instances: the Lua layer drives one target at a time. A case that
-- migrates reads the whole stream from the source, then t:restart()s the
-- target (a fresh process with a spawned target; the same daemon,
-- reconnected, with --reuse: the destination's registers are cleared
-- first so that only the stream can bring the values back) and writes
-- the stream into it.

local FEATURE = "vfio-user#vfio-user-device-feature"
local STATE = "vfio-user#vfio-device-feature-mig-device-state"
local DIRECT = "vfio-user#direct-state-transitions"
local COMPLEX = "vfio-user#complex-state-transitions"
local DREAD = "vfio-user#vfio-user-mig-data-read"
local DWRITE = "vfio-user#vfio-user-mig-data-write"

local GET, SET, PROBE = 1 << 16, 1 << 17, 1 << 18
local F_MIGRATION, F_STATE = 1, 2
local MIG_STOP_COPY, MIG_PRE_COPY = 1, 4

local ERROR, STOP, RUNNING, STOP_COPY, RESUMING = 0, 1, 2, 3, 4
local RUNNING_P2P, PRE_COPY, PRE_COPY_P2P = 5, 6, 7
local NAME = {
	[ERROR] = "error", [STOP] = "stop", [RUNNING] = "running",
	[STOP_COPY] = "stop-copy", [RESUMING] = "resuming",
	[RUNNING_P2P] = "running-p2p", [PRE_COPY] = "pre-copy",
	[PRE_COPY_P2P] = "pre-copy-p2p",
}

local CHUNK = 65536

local function feature(flags, data, argsz)
	return vfio.msg("DEVICE_FEATURE",
	                { flags = flags, data = data or "", argsz = argsz })
end

local function state_msg(s)
	return feature(SET | F_STATE, string.pack("<I4I4", s, 0))
end

-- GET MIGRATION: the migration flags, or SKIP when there is no migration.
local function need_migration(t, flags)
	local r, kind = t:expect(feature(GET | F_MIGRATION), { "ack", "nack" })
	if kind == "nack" then
		t:skip("the device does not support migration")
	end
	local f = string.unpack("<I8", r.payload, 9)
	if flags and f & flags ~= flags then
		t:skip(("migration flags 0x%x lack 0x%x"):format(f, flags))
	end
	return f
end

local function get_state(t)
	local r = t:expect_success(feature(GET | F_STATE))
	return (string.unpack("<I4", r.payload, 9))
end

local function set_state(t, s)
	t:expect_success(state_msg(s))
end

local function check_state(t, want)
	local s = get_state(t)
	t:check(s == want, "device_state " .. NAME[want],
	        NAME[s] or tostring(s))
end

-- MIG_DATA_READ until the stream ends: -> the bytes.
local function read_stream(t)
	local parts = {}
	for _ = 1, 4096 do
		local r = t:expect_success(vfio.msg("MIG_DATA_READ",
		                                    { size = CHUNK }))
		local argsz, size = string.unpack("<I4I4", r.payload)
		t:check(argsz == 8 + size and #r.payload == 8 + size,
		        "argsz " .. 8 + size .. " and that many bytes",
		        ("argsz %d, %d bytes"):format(argsz, #r.payload))
		parts[#parts + 1] = r.payload:sub(9)
		if size < CHUNK then
			return table.concat(parts)
		end
	end
	t:fail("a migration stream longer than 256 MiB")
end

local function write_stream(t, data)
	for at = 1, #data, CHUNK do
		t:expect_success(vfio.msg("MIG_DATA_WRITE", {
			data = data:sub(at, at + CHUNK - 1) }))
	end
end

-- The device's whole state as a stream: STOP, STOP_COPY, read, STOP.
local function save(t)
	set_state(t, STOP)
	set_state(t, STOP_COPY)
	local s = read_stream(t)
	set_state(t, STOP)
	return s
end

-- Bring the device from RUNNING to @s by direct arcs only. RESUMING gets
-- a valid stream written (the device's own), so that it can be left.
local function reach(t, s)
	if s == RUNNING then
		return
	elseif s == PRE_COPY then
		set_state(t, PRE_COPY)
	elseif s == STOP then
		set_state(t, STOP)
	elseif s == STOP_COPY then
		set_state(t, STOP)
		set_state(t, STOP_COPY)
	elseif s == RESUMING then
		local stream = save(t)
		set_state(t, RESUMING)
		write_stream(t, stream)
	end
	check_state(t, s)
end

-- ---- the features ------------------------------------------------------

-- VU-FEAT-07: "at least VFIO_MIGRATION_STOP_COPY must be set".
case {
	id = "vfio-user/migration/feature/stop-copy-flag",
	spec = "vfio-user#vfio-device-feature-migration/VU-FEAT-07",
	level = "MUST",
	quote = [[Support for additional states is indicated via the flags
field; at least ``VFIO_MIGRATION_STOP_COPY`` must be set.]],
	needs = { handshake = true },
	run = function(t)
		local f = need_migration(t)
		t:check(f & MIG_STOP_COPY ~= 0, "VFIO_MIGRATION_STOP_COPY",
		        ("flags 0x%x"):format(f))
	end,
}

-- VU-MIG-01: a device starts RUNNING.
case {
	id = "vfio-user/migration/initial-state-running",
	spec = STATE .. "/VU-MIG-01",
	level = "MUST",
	quote = [[If ``GET`` succeeds, the ``RUNNING`` and ``ERROR`` states are
always supported.]],
	needs = { handshake = true },
	run = function(t)
		need_migration(t)
		check_state(t, RUNNING)
	end,
}

-- VU-FEAT-04: the SET reply echoes the request payload.
case {
	id = "vfio-user/migration/feature/set-reply-echo",
	spec = FEATURE .. "/VU-FEAT-04",
	level = "MUST",
	quote = [[The reply payload must be the same as the request payload for
setting or probing a feature.]],
	needs = { handshake = true },
	run = function(t)
		need_migration(t)
		local m = state_msg(STOP)
		local r = t:expect_success(m)
		t:check(r.payload == m.payload, "the request payload echoed",
		        r.text)
	end,
}

-- VU-FEAT-03/04: PROBE of supported methods succeeds and echoes.
for _, v in ipairs({ { "probe-get-migration", PROBE | GET | F_MIGRATION },
                     { "probe-get-set-state",
                       PROBE | GET | SET | F_STATE },
                     { "probe-only-state", PROBE | F_STATE } }) do
	case {
		id = "vfio-user/migration/feature/" .. v[1],
		spec = FEATURE .. "/VU-FEAT-03",
		level = "MUST",
		quote = [[If ``VFIO_DEVICE_FEATURE_GET`` and/or
``VFIO_DEVICE_FEATURE_SET`` are also set, the probe will only return
success if all of the indicated methods are supported.]],
		needs = { handshake = true },
		run = function(t)
			need_migration(t)
			local m = feature(v[2])
			local r = t:expect_success(m)
			t:check(r.payload == m.payload,
			        "the request payload echoed", r.text)
		end,
	}
end

-- VU-FEAT-03: MIGRATION is read-only: a probe that names SET fails.
case {
	id = "vfio-user/migration/feature/probe-set-migration",
	spec = FEATURE .. "/VU-FEAT-03",
	level = "MUST",
	quote = [[the probe will only return success if all of the indicated
methods are supported.]],
	needs = { handshake = true },
	run = function(t)
		need_migration(t)
		t:expect_refusal(feature(PROBE | SET | F_MIGRATION))
	end,
}

-- VU-FEAT-01: GET and SET together, without PROBE.
case {
	id = "vfio-user/migration/feature/get-and-set",
	spec = FEATURE .. "/VU-FEAT-01",
	level = "MUST",
	quote = [[``VFIO_DEVICE_FEATURE_GET`` and ``VFIO_DEVICE_FEATURE_SET`` are
mutually exclusive, except for use with ``VFIO_DEVICE_FEATURE_PROBE``.]],
	needs = { handshake = true },
	run = function(t)
		need_migration(t)
		t:expect_refusal(feature(GET | SET | F_STATE,
		                         string.pack("<I4I4", STOP, 0)))
		check_state(t, RUNNING)
	end,
}

-- VU-FEAT-02: feature indexes the spec does not list.
for _, v in ipairs({ { "unknown-index", 3 }, { "index-max", 0xffff },
                     { "index-zero", 0 } }) do
	case {
		id = "vfio-user/migration/feature/" .. v[1],
		spec = "vfio-user#device-features/VU-FEAT-02",
		level = "MUST",
		quote = [[The only device features supported by vfio-user are those
related to migration, although this may change in the future.]],
		needs = { handshake = true },
		run = function(t)
			t:expect_refusal(feature(GET | v[2]))
			t:expect_alive()
		end,
	}
end

-- VU-FEAT-05: GET with an argsz that leaves no room for the data.
case {
	id = "vfio-user/migration/feature/get-argsz-short",
	spec = FEATURE .. "/VU-FEAT-05",
	level = "MUST",
	quote = [[For getting a feature's data, the data is added in the data
section and its length is added to ``argsz``.]],
	needs = { handshake = true },
	run = function(t)
		need_migration(t)
		t:expect_refusal(feature(GET | F_STATE, "", 8))
	end,
}

-- VU-FEAT-06: SET MIG_DEVICE_STATE with half its 8 bytes.
case {
	id = "vfio-user/migration/feature/set-state-short",
	spec = STATE .. "/VU-FEAT-06",
	level = "ROBUST",
	quote = [[The data field of the reply message, as well as the ``SET``
request message, is structured as follows:]],
	needs = { handshake = true },
	run = function(t)
		need_migration(t)
		t:expect_robust(feature(SET | F_STATE, string.pack("<I4", STOP)))
	end,
}

-- ---- transitions -------------------------------------------------------

-- The direct arcs of "Direct State Transitions".
local ARCS = {
	[RUNNING] = { [STOP] = true, [PRE_COPY] = true },
	[STOP] = { [RUNNING] = true, [STOP_COPY] = true, [RESUMING] = true },
	[STOP_COPY] = { [STOP] = true },
	[RESUMING] = { [STOP] = true },
	[PRE_COPY] = { [RUNNING] = true, [STOP_COPY] = true },
}
local STATES = { RUNNING, STOP, STOP_COPY, RESUMING, PRE_COPY }

-- VU-MIG-02 (direct arcs) and VU-MIG-07 (every other pair, composed of
-- arcs along the shortest path): from each state to each other one. The
-- state reached is the one asked for, before the reply.
for _, from in ipairs(STATES) do
	for _, to in ipairs(STATES) do
		local direct = ARCS[from][to]
		if from ~= to and not (from == STOP_COPY and to == PRE_COPY) then
			case {
				id = ("vfio-user/migration/%s/%s-to-%s"):format(
					direct and "arc" or "path", NAME[from],
					NAME[to]),
				spec = direct and DIRECT .. "/VU-MIG-02" or
				       COMPLEX .. "/VU-MIG-07",
				level = "MUST",
				quote = direct and
					[[The following transitions need to be
supported by the server, a subset of those defined in
``<linux/vfio.h>``]] or
					[[The remaining possible transitions are to be
implemented as combinations of the above FSM arcs.]],
				needs = { handshake = true },
				run = function(t)
					local flags = need_migration(t)
					if (from == PRE_COPY or to == PRE_COPY) and
					   flags & MIG_PRE_COPY == 0 then
						t:skip("PRE_COPY is not supported")
					end
					reach(t, from)
					set_state(t, to)
					check_state(t, to)
				end,
			}
		end
	end
end

-- VU-MIG-03: STOP_COPY -> PRE_COPY is not allowed (seeded bug
-- mig-stopcopy-precopy allows it). Refused, and the device stays put.
case {
	id = "vfio-user/migration/stop-copy-to-pre-copy-refused",
	spec = DIRECT .. "/VU-MIG-03",
	level = "MUST",
	quote = [[The ``STOP_COPY -> PRE_COPY`` transition is explicitly not
allowed and should return an error if requested.]],
	needs = { handshake = true },
	run = function(t)
		need_migration(t)
		reach(t, STOP_COPY)
		t:expect_refusal(state_msg(PRE_COPY))
		local s = get_state(t)
		t:check(s == STOP_COPY or s == ERROR, "still STOP_COPY",
		        NAME[s] or tostring(s))
	end,
}

-- VU-MIG-04 / VU-MIG-05 / VU-MIG-06: states that cannot be asked for:
-- ERROR, the P2P states, values past the enum. Refused; still RUNNING.
local NOT_SETTABLE = {
	{ "set-error-refused", ERROR, "MUST", "VU-MIG-04",
	  [[``ERROR`` cannot be specified as a device state]] },
	{ "set-running-p2p-refused", RUNNING_P2P, "SHOULD", "VU-MIG-05",
	  [[| VFIO_DEVICE_STATE_RUNNING_P2P  | 5     | (not used in vfio-user)]] },
	{ "set-pre-copy-p2p-refused", PRE_COPY_P2P, "SHOULD", "VU-MIG-05",
	  [[| VFIO_DEVICE_STATE_PRE_COPY_P2P | 7     | (not used in vfio-user)]] },
	{ "set-state-past-enum", 8, "MUST", "VU-MIG-06",
	  [[It is defined by the ``vfio_device_mig_state`` enum as detailed
below.]] },
	{ "set-state-max", 0xffffffff, "MUST", "VU-MIG-06",
	  [[It is defined by the ``vfio_device_mig_state`` enum as detailed
below.]] },
}
for _, v in ipairs(NOT_SETTABLE) do
	case {
		id = "vfio-user/migration/" .. v[1],
		spec = STATE .. "/" .. v[4],
		level = v[3],
		quote = v[5],
		needs = { handshake = true },
		run = function(t)
			need_migration(t)
			t:expect_refusal(state_msg(v[2]))
			check_state(t, RUNNING)
		end,
	}
end

-- "If PRE_COPY is not supported, arcs touching it are removed."
case {
	id = "vfio-user/migration/pre-copy-unsupported-refused",
	spec = DIRECT .. "/VU-MIG-02",
	level = "MUST",
	quote = [[If ``PRE_COPY`` is not supported, arcs touching it are
removed.]],
	needs = { handshake = true },
	run = function(t)
		if need_migration(t) & MIG_PRE_COPY ~= 0 then
			t:skip("PRE_COPY is supported")
		end
		t:expect_refusal(state_msg(PRE_COPY))
	end,
}

-- VU-MIG-08: the transition is complete before the reply: a GET sent
-- right behind the SET sees the new state.
case {
	id = "vfio-user/migration/complete-before-reply",
	spec = STATE .. "/VU-MIG-08",
	level = "MUST",
	quote = [[The state transition must fully complete before the reply is
sent.]],
	needs = { handshake = true },
	run = function(t)
		need_migration(t)
		local s, g = state_msg(STOP), feature(GET | F_STATE)
		t:send_many{ s, g }
		local a, b = t:recv(), t:recv()
		t:check(a and a.msg_id == s.msg_id and not a.is_error,
		        "the SET's success reply first", a and a.text)
		t:check(b and b.msg_id == g.msg_id and
		        string.unpack("<I4", b.payload, 9) == STOP,
		        "then the GET's, saying STOP", b and b.text)
	end,
}

-- ---- migration data ----------------------------------------------------

-- VU-MDATA-01: reading outside the saving group.
for _, s in ipairs({ RUNNING, STOP, RESUMING }) do
	case {
		id = "vfio-user/migration/data/read-in-" .. NAME[s],
		spec = DREAD .. "/VU-MDATA-01",
		level = "MUST",
		quote = [[This command is used to read data from the source
migration server while it is in a saving group state (``PRE_COPY`` or
``STOP_COPY``).]],
		needs = { handshake = true },
		run = function(t)
			need_migration(t)
			reach(t, s)
			t:expect_refusal(vfio.msg("MIG_DATA_READ", { size = 64 }))
		end,
	}
end

-- VU-MDATA-02: writing outside RESUMING.
for _, s in ipairs({ RUNNING, STOP, STOP_COPY, PRE_COPY }) do
	case {
		id = "vfio-user/migration/data/write-in-" .. NAME[s],
		spec = DWRITE .. "/VU-MDATA-02",
		level = "MUST",
		quote = [[This command is used to write data to the destination
migration server while it is in the ``RESUMING`` state.]],
		needs = { handshake = true },
		run = function(t)
			local flags = need_migration(t)
			if s == PRE_COPY and flags & MIG_PRE_COPY == 0 then
				t:skip("PRE_COPY is not supported")
			end
			reach(t, s)
			t:expect_refusal(vfio.msg("MIG_DATA_WRITE",
			                          { data = string.rep("x", 64) }))
		end,
	}
end

-- VU-MDATA-03: the stream ends with a reply shorter than asked, whose
-- argsz counts what came; after the end, nothing more.
case {
	id = "vfio-user/migration/data/stream-ends",
	spec = DREAD .. "/VU-MDATA-03",
	level = "MUST",
	quote = [[* *size* indicates the size of returned migration data. If this
is less than the requested size, there is no more migration data to
read.]],
	needs = { handshake = true },
	run = function(t)
		need_migration(t)
		reach(t, STOP_COPY)
		read_stream(t)
		local r = t:expect_success(vfio.msg("MIG_DATA_READ",
		                                    { size = 64 }))
		local _, size = string.unpack("<I4I4", r.payload)
		t:check(size == 0, "no data after the end", size .. " bytes")
	end,
}

-- VU-MDATA-05: argsz with no room for the size asked for.
case {
	id = "vfio-user/migration/data/read-argsz-short",
	spec = DREAD .. "/VU-MDATA-05",
	level = "MUST",
	quote = [[* *argsz* is the maximum size of the reply payload.]],
	needs = { handshake = true },
	run = function(t)
		need_migration(t)
		reach(t, STOP_COPY)
		t:expect_refusal(vfio.raw{
			command = "MIG_DATA_READ",
			payload = string.pack("<I4I4", 8, 4096),
		})
	end,
}

-- VU-MDATA-04: a read above the client's max_data_xfer_size. A reply
-- cut to 4096 bytes would say "end of stream", so only a refusal is sane.
case {
	id = "vfio-user/migration/data/read-above-xfer-size",
	spec = "vfio-user#vfio-user-version/VU-MDATA-04",
	level = "SHOULD",
	quote = [[Maximum ``count`` for data transfer messages; see `Read and
Write Operations`_.]],
	needs = { handshake = true, caps = { max_data_xfer_size = 4096 } },
	run = function(t)
		need_migration(t)
		reach(t, STOP_COPY)
		t:expect_refusal(vfio.msg("MIG_DATA_READ", { size = 8192 }))
	end,
}

-- VU-MDATA-06: MIG_DATA_WRITE whose data disagrees with its size.
for _, v in ipairs({ { "write-data-short", 100, 50 },
                     { "write-data-long", 50, 100 } }) do
	case {
		id = "vfio-user/migration/data/" .. v[1],
		spec = DWRITE .. "/VU-MDATA-06",
		level = "MUST",
		quote = [[* *size* is the size of the migration data to be written.
* *data* contains the migration data.]],
		needs = { handshake = true },
		run = function(t)
			need_migration(t)
			set_state(t, STOP)
			set_state(t, RESUMING)
			t:expect_refusal(vfio.raw{
				command = "MIG_DATA_WRITE",
				payload = string.pack("<I4I4", 8, v[2]) ..
				          string.rep("z", v[3]),
			})
		end,
	}
end

-- A MIG_DATA_READ shorter than its 8-byte struct.
case {
	id = "vfio-user/migration/data/read-request-short",
	spec = DREAD .. "/VU-HDR-16",
	level = "ROBUST",
	quote = [[* *size* is the size of the migration data to read.]],
	needs = { handshake = true },
	run = function(t)
		need_migration(t)
		reach(t, STOP_COPY)
		t:expect_robust(vfio.raw{ command = "MIG_DATA_READ",
		                          payload = string.pack("<I4", 8) })
	end,
}

-- ---- resuming ----------------------------------------------------------

-- VU-MIG-09: data that is not a stream this device wrote: a careful
-- device finds it invalid and fails RESUMING -> STOP.
for _, v in ipairs({
	{ "garbage", function() return string.rep("\x5a", 4096) end },
	{ "truncated", function(s) return s:sub(1, #s // 2) end },
	{ "corrupted", function(s)
		local i = #s // 2
		return s:sub(1, i - 1) ..
		       string.char(s:byte(i) ~ 0xff) .. s:sub(i + 1)
	end },
}) do
	case {
		id = "vfio-user/migration/resume/" .. v[1] .. "-refused",
		spec = DIRECT .. "/VU-MIG-09",
		level = "SHOULD",
		quote = [[If the delivered data is found to be incomplete,
inconsistent, or otherwise invalid, fail the ``SET`` command and
optionally transition to the ``ERROR`` state.]],
		needs = { handshake = true },
		run = function(t)
			need_migration(t)
			local stream = save(t)
			set_state(t, RESUMING)
			write_stream(t, v[2](stream))
			t:expect_refusal(state_msg(STOP))
			local s = get_state(t)
			t:check(s == RESUMING or s == ERROR,
			        "RESUMING or ERROR after the failed SET",
			        NAME[s] or tostring(s))
		end,
	}
end

-- VU-RST-03: a device in ERROR leaves it only by a reset: a SET is
-- refused there.
case {
	id = "vfio-user/migration/error-needs-reset",
	spec = DIRECT .. "/VU-RST-03",
	level = "MUST",
	quote = [[To recover from ``ERROR``, ``VFIO_USER_DEVICE_RESET`` must be
used to return back to ``RUNNING``.]],
	needs = { handshake = true },
	run = function(t)
		need_migration(t)
		set_state(t, STOP)
		set_state(t, RESUMING)
		write_stream(t, string.rep("\x5a", 4096))
		t:expect(state_msg(STOP), { "ack", "nack" })
		if get_state(t) ~= ERROR then
			t:skip("the device did not enter ERROR")
		end
		t:expect_refusal(state_msg(RUNNING))
		check_state(t, ERROR)
	end,
}

-- ---- between two instances ---------------------------------------------

local CONFIG, PCI_INTERRUPT_LINE = 7, 0x3c
local BAR0, BAR2, REG_SCRATCH = 0, 2, 0x28

local function rd(t, region, offset, count)
	return t:expect_success(vfio.msg("REGION_READ", {
		region = region, offset = offset, count = count })).data
end

local function wr(t, region, offset, data)
	t:expect_success(vfio.msg("REGION_WRITE", {
		region = region, offset = offset, data = data }))
end

local function is_ref_device(t)
	local r = t:call(vfio.msg("REGION_READ",
	                          { region = BAR0, offset = 0, count = 4 }))
	return r and not r.is_error and r.data == "VUC1"
end

-- Move to a second instance: restart, negotiate, and load @stream.
local function migrate_into_fresh(t, stream, clear)
	t:restart()
	vfio.version(t)
	clear()
	set_state(t, STOP)
	set_state(t, RESUMING)
	write_stream(t, stream)
	set_state(t, STOP)
	set_state(t, RUNNING)
end

-- A stream read from one instance loads into a fresh one: the device's
-- own complete stream is not "incomplete, inconsistent, or otherwise
-- invalid", so RESUMING -> STOP succeeds and the device runs.
case {
	id = "vfio-user/migration/two-instances/stream-loads",
	spec = DREAD .. "/VU-MIG-09",
	level = "MUST",
	quote = [[Hence, the migration data is treated like a stream, so the
client must continue reading until no more migration data remains.]],
	needs = { handshake = true },
	run = function(t)
		need_migration(t)
		local stream = save(t)
		migrate_into_fresh(t, stream, function() end)
		check_state(t, RUNNING)
	end,
}

-- The reference device's state travels in the stream: config space,
-- registers, memory (seeded bug mig-state-incomplete leaves the SCRATCH
-- register out). What a stream holds is the device's business (QEMU
-- migrates config space itself), hence only on the reference device.
case {
	id = "vfio-user/migration/two-instances/device-state",
	spec = DREAD .. "/VU-MIG-02",
	level = "MUST",
	quote = [[``STOP -> STOP_COPY``: Begin the process of saving the device
state.]],
	needs = { handshake = true },
	run = function(t)
		need_migration(t)
		if not is_ref_device(t) then
			t:skip("needs the reference device's register map")
		end
		wr(t, BAR0, REG_SCRATCH, string.pack("<I4", 0xc0ffee11))
		wr(t, BAR2, 0x2000, "migrated memory")
		wr(t, CONFIG, PCI_INTERRUPT_LINE, "\xa7")
		local stream = save(t)
		migrate_into_fresh(t, stream, function()
			wr(t, BAR0, REG_SCRATCH, string.pack("<I4", 0))
			wr(t, BAR2, 0x2000, string.rep("\0", 15))
			wr(t, CONFIG, PCI_INTERRUPT_LINE, "\0")
		end)
		t:check(rd(t, CONFIG, PCI_INTERRUPT_LINE, 1) == "\xa7",
		        "config space (Interrupt Line 0xa7) on the destination",
		        "another value")
		t:check(string.unpack("<I4", rd(t, BAR0, REG_SCRATCH, 4)) ==
		        0xc0ffee11, "SCRATCH 0xc0ffee11 on the destination",
		        ("0x%08x"):format(string.unpack("<I4",
		                          rd(t, BAR0, REG_SCRATCH, 4))))
		t:check(rd(t, BAR2, 0x2000, 15) == "migrated memory",
		        "BAR2's bytes on the destination", "other bytes")
	end,
}

-- PRE_COPY then STOP_COPY: one stream read in two phases loads whole; on
-- the reference device a change made while PRE_COPY ran (the device runs)
-- arrives.
case {
	id = "vfio-user/migration/two-instances/pre-copy",
	spec = DIRECT .. "/VU-MDATA-03",
	level = "MUST",
	quote = [[``PRE_COPY -> STOP_COPY``: Continue to transfer migration
data, but stop device operation.]],
	needs = { handshake = true },
	run = function(t)
		need_migration(t, MIG_PRE_COPY)
		wr(t, CONFIG, PCI_INTERRUPT_LINE, "\x11")
		set_state(t, PRE_COPY)
		local first = read_stream(t)
		wr(t, CONFIG, PCI_INTERRUPT_LINE, "\x22")
		set_state(t, STOP_COPY)
		local rest = read_stream(t)
		set_state(t, STOP)
		migrate_into_fresh(t, first .. rest, function()
			wr(t, CONFIG, PCI_INTERRUPT_LINE, "\0")
		end)
		check_state(t, RUNNING)
		if is_ref_device(t) then
			local v = rd(t, CONFIG, PCI_INTERRUPT_LINE, 1)
			t:check(v == "\x22",
			        "the value of the stop-copy phase (0x22)",
			        ("0x%02x"):format(v:byte()))
		end
	end,
}

-- ---- de-facto: libvfio-user ----------------------------------------------

-- VU-RW-10 (libvfio-user): no region access while in STOP_COPY.
case {
	id = "vfio-user/migration/libvfio-user/region-access-in-stop-copy",
	spec = STATE .. "/VU-RW-10",
	level = "SHOULD",
	quote = [[| VFIO_DEVICE_STATE_STOP_COPY    | 3     | The device internal
state can be read out.]],
	needs = { handshake = true, profile = "libvfio-user" },
	run = function(t)
		need_migration(t)
		reach(t, STOP_COPY)
		t:expect_refusal(vfio.msg("REGION_READ", {
			region = CONFIG, offset = 0, count = 4 }))
	end,
}

-- VU-DMA-MAP-15 (libvfio-user): no DMA_MAP in STOP.
case {
	id = "vfio-user/migration/libvfio-user/dma-map-in-stop",
	spec = STATE .. "/VU-DMA-MAP-15",
	level = "SHOULD",
	quote = [[| VFIO_DEVICE_STATE_STOP         | 1     | The device does not
change the internal or external state.]],
	needs = { handshake = true, profile = "libvfio-user" },
	run = function(t)
		need_migration(t)
		reach(t, STOP)
		t:expect_refusal(vfio.msg("DMA_MAP", {
			flags = 3, addr = 0x100000, size = 0x1000 }))
	end,
}

-- SPDX-License-Identifier: MIT
-- device-state.lua - moving the back-end's state: SET_DEVICE_STATE_FD and
-- CHECK_DEVICE_STATE through pipes of each kind (plain, packetized,
-- widowed, wrong end, notification), sockets, /dev/full and eventfds.
-- Failure must surface through CHECK_DEVICE_STATE, never as a crash
-- (SIGPIPE) or a half-loaded device.
--
-- Spec: vhost-user.rst, "Migrating back-end state", "Device state
-- transfer parameters", SET_DEVICE_STATE_FD, CHECK_DEVICE_STATE;
-- seeds 002 (packetized pipes) and 004 (notification pipes).

-- ---- a small front-end: memory, rings, requests ------------------------
-- Shared by backend-channel.lua, dirty-log.lua, inflight.lua,
-- status-reset.lua, device-state.lua and robustness.lua:
-- vhost.fe_helpers() in harness/lua/prelude.lua.

local FE = vhost.fe_helpers()
local fe_start, blk_io, fe_some_io = FE.fe_start, FE.blk_io, FE.fe_some_io

-- ---- state transfer -----------------------------------------------------

local NEEDS = { protocol_features = { "DEVICE_STATE", "REPLY_ACK" } }
local SAVE, LOAD = 0, 1
local NOFD = 0x100
local CHECK_QUOTE = [[check whether the back-end was able to successfully
fully process the state.]]
local REPLY_QUOTE = [[Bits 0–7 are 0 on success, and non-zero on error.  Bit 8
is the invalid FD flag; this flag is set when there is no file descriptor
returned.]]

-- SET_DEVICE_STATE_FD and its reply, whose shape is checked in every
-- case: "The back-end must not both indicate an error and return a file
-- descriptor", and bit 8 says whether one came.
-- -> { ok = bool, fd = the back-end's channel or nil } | nil (hang-up)
local function set_state_fd(t, direction, fd, phase)
	local m = vhost.msg("SET_DEVICE_STATE_FD",
	                    { direction = direction, phase = phase or 0 })
	m.fds = { fd }
	local r, kind = t:expect(m, { "reply", "hangup" })
	if kind == "hangup" then
		return nil
	end
	local v = r.u64
	t:check(v ~= nil, "a u64 reply", r.text)
	local nfds = #(r.fds or {})
	local err = v & 0xff
	if err ~= 0 then
		t:check(nfds == 0, "no fd with an error reply",
		        ("error 0x%x and %d fd"):format(err, nfds))
	elseif v & NOFD ~= 0 then
		t:check(nfds == 0, "no fd when bit 8 is set",
		        ("0x%x with %d fd"):format(v, nfds))
	else
		t:check(nfds == 1, "one fd when bit 8 is clear",
		        ("0x%x with %d fds"):format(v, nfds))
	end
	return { ok = err == 0, fd = nfds == 1 and r.fds[1] or nil }
end

-- CHECK_DEVICE_STATE: its u64 | nil (hang-up).
local function check_state(t)
	local r, kind = t:expect(vhost.msg("CHECK_DEVICE_STATE"),
	                         { "reply", "hangup" })
	if kind == "hangup" then
		return nil
	end
	t:check(r.u64 ~= nil, "a u64 reply to CHECK_DEVICE_STATE", r.text)
	return r.u64
end

-- Everything until end of file (or nil, why on a stall of ms).
local function read_all(t, fd, ms)
	local parts = {}
	local stop = t:now_ms() + (ms or 5000)
	while true do
		local s, why = fd:read(1 << 20, 200)
		if s then
			parts[#parts + 1] = s
		elseif why == "eof" then
			return table.concat(parts)
		elseif why ~= "timeout" or t:now_ms() > stop then
			return nil, why
		end
	end
end

-- Write data in pieces of chunk bytes.
local function write_all(fd, data, chunk)
	local off = 1
	while off <= #data do
		local n, why = fd:write(data:sub(off, off + chunk - 1))
		if not n then
			return nil, why
		end
		off = off + n
	end
	return true
end

-- A SAVE through a plain pipe, to the end, with CHECK 0.
-- -> the state bytes (FAILs otherwise)
local function save(t)
	local w, r = fdzoo.new("pipe-write")
	local s = set_state_fd(t, SAVE, w)
	t:check(s and s.ok, "SAVE through a pipe taken", "refused")
	w:close()
	local data, why = read_all(t, s.fd or r)
	t:check(data ~= nil, "the state to the end of file", why)
	t:check(check_state(t) == 0, "CHECK_DEVICE_STATE 0 after a SAVE",
	        "non-zero")
	return data
end

-- The first n bytes of a SAVE (all of it if shorter), then the reader
-- closes; CHECK's verdict on the cut-short transfer is not judged. SKIPs
-- where the back-end has no state to move: a case that needs bytes to go
-- wrong cannot judge a stateless device.
-- -> the bytes, true when they are the whole state
local function save_prefix(t, n)
	local w, r = fdzoo.new("pipe-write")
	local s = set_state_fd(t, SAVE, w)
	t:check(s and s.ok, "SAVE through a pipe taken", "refused")
	w:close()
	local rd = s.fd or r
	local parts, got, whole = {}, 0, false
	local stop = t:now_ms() + 2000
	while got < n and t:now_ms() < stop do
		local b, why = rd:read(n - got, 200)
		if b then
			parts[#parts + 1] = b
			got = got + #b
		elseif why == "eof" then
			whole = true
			break
		end
	end
	rd:close()
	if s.fd then
		r:close()
	end
	check_state(t)
	if got == 0 then
		t:skip("the back-end's state is empty")
	end
	return table.concat(parts), whole
end

-- A fresh connection (a fresh device), negotiated again.
local function fresh(t)
	t:restart()
	vhost.handshake(t, { protocol_features = NEEDS.protocol_features,
	                     require = true })
end

-- LOAD data through kind ("pipe-read", "packet-pipe-read", "socket"),
-- written chunk bytes at a time. -> CHECK's u64 | nil (hang-up)
local function load(t, data, kind, chunk)
	local r, w = fdzoo.new(kind)
	local s = set_state_fd(t, LOAD, r)
	if not s then
		return nil
	end
	t:check(s.ok, "LOAD through a " .. kind .. " taken", "refused")
	r:close()
	local ok, why = write_all(s.fd or w, data, chunk or 65536)
	t:check(ok, "the state written", why)
	w:close()
	if s.fd then
		s.fd:close()
	end
	return check_state(t)
end

-- What the device holds that a SAVE must carry: blk a sector written
-- through the ring. -> a function that checks it is back | nil (net:
-- nothing observable beyond a working device).
local PATTERN = string.rep("vu-conform device state ", 22):sub(1, 512)
local SECTOR = 100
local function make_observable(t)
	if t.device ~= "blk" then
		return nil
	end
	local fe = fe_start(t)
	local st, why = blk_io(fe, 1, SECTOR, 512, PATTERN)
	t:check(st == 0, "a sector written before the SAVE", why or st)
	-- "the vhost-user device is suspended": stop the ring
	t:expect(vhost.msg("GET_VRING_BASE", { index = 0, num = 0 }),
	         { "reply" })
	return function()
		local fe2 = fe_start(t)
		local st2, ulen, data = blk_io(fe2, 0, SECTOR, 512)
		t:check(st2 == 0, "the sector read after the LOAD", ulen)
		t:check(data == PATTERN, "the sector written before the SAVE",
		        "other bytes: the device is half-loaded")
	end
end

-- The round trip, through each kind of channel the front-end may make:
-- SAVE on one device, LOAD on a fresh one, CHECK 0, and what the first
-- device held is there ("seamlessly resume operation"). A packetized pipe
-- (seed 002) gives one packet per read: a reader with a short buffer loses
-- the rest of each packet.
local ROUNDTRIPS = {
	{ "load-pipe", "pipe-read", 65536 },
	{ "load-packet-pipe", "packet-pipe-read", 4096 },
	{ "load-socket", "socket", 65536 },
	{ "load-small-writes", "pipe-read", 1000 },
}
for _, rt in ipairs(ROUNDTRIPS) do
	case {
		id = "vhost-user/device-state/" .. rt[1],
		spec = "vhost-user#migrating-back-end-state",
		level = "MUST",
		quote = [[After reading the state data from the channel, the
destination back-end must deserialize its internal state from that data and
set itself up to allow the driver to seamlessly resume operation on the
VIRTIO level.]],
		needs = NEEDS,
		run = function(t)
			local verify = make_observable(t)
			local data = save(t)
			fresh(t)
			t:check(load(t, data, rt[2], rt[3]) == 0,
			        "CHECK_DEVICE_STATE 0 after loading a saved state",
			        "non-zero")
			if verify then
				verify()
			end
		end,
	}
end

-- SAVE through each kind the front-end may hand over: the data comes to
-- the end of file, CHECK says 0.
for _, kind in ipairs({ "pipe-write", "packet-pipe-write", "socket" }) do
	case {
		id = "vhost-user/device-state/save-" .. kind,
		spec = "vhost-user#vhost-user-set-device-state-fd",
		level = "MUST",
		quote = [[For the writing end, it must allow writing the whole back-end
state sequentially.  Closing the file descriptor signals the end of
transfer.]],
		needs = NEEDS,
		run = function(t)
			local w, r = fdzoo.new(kind)
			local s = set_state_fd(t, SAVE, w)
			t:check(s and s.ok, "SAVE taken", "refused")
			w:close()
			local data, why = read_all(t, s.fd or r)
			t:check(data ~= nil, "the state to the end of file", why)
			t:check(check_state(t) == 0, "CHECK_DEVICE_STATE 0",
			        "non-zero")
		end,
	}
end

-- LOADs that cannot be a state: cut short, garbage, nothing. The
-- back-end cannot have "successfully fully" processed them, so CHECK
-- says so (or the connection goes). SHOULD: a format may not be able to
-- tell (these SKIP where the state is empty).
-- (A prefix of the state is enough to build them: a big state, blk's
-- disk, is not moved whole.)
local BAD_LOADS = {
	{ "load-truncated-fails", function(d, whole)
		return whole and d:sub(1, #d - 8) or d
	end },
	{ "load-garbage-fails", function(d)
		return string.rep("\xa5", #d)
	end },
	{ "load-empty-fails", function() return "" end },
}
for _, b in ipairs(BAD_LOADS) do
	case {
		id = "vhost-user/device-state/" .. b[1],
		spec = "vhost-user#vhost-user-check-device-state",
		level = "SHOULD",
		quote = CHECK_QUOTE,
		needs = NEEDS,
		run = function(t)
			local data = b[2](save_prefix(t, 65536))
			fresh(t)
			local v = load(t, data, "pipe-read")
			t:check(v ~= 0, "CHECK_DEVICE_STATE non-zero", "0")
			t:expect_alive()
		end,
	}
end

-- SAVE channels the back-end cannot write through: the read end of a
-- pipe (EBADF), a pipe whose reader is gone (EPIPE: a C back-end that
-- does not ignore SIGPIPE dies), /dev/full (ENOSPC), an eventfd (EINVAL
-- for anything but 8 bytes), a notification pipe (EXDEV, seed 004). The
-- failure shows at SET_DEVICE_STATE_FD or in CHECK_DEVICE_STATE.
local BAD_SAVES = { "pipe-read", "widowed-pipe-write", "dev-full", "eventfd",
                    "notification-pipe-write", "file-ro" }
for _, kind in ipairs(BAD_SAVES) do
	case {
		id = "vhost-user/device-state/save-fails-" .. kind,
		spec = "vhost-user#vhost-user-check-device-state",
		level = "MUST",
		quote = CHECK_QUOTE,
		needs = NEEDS,
		run = function(t)
			if not fdzoo.available(kind) then
				t:skip(kind .. " not available on this host")
			end
			save_prefix(t, 1)
			local fd, other = fdzoo.new(kind)
			local s = set_state_fd(t, SAVE, fd)
			fd:close()
			if s and s.ok then
				if s.fd then
					s.fd:close()
				end
				t:sleep(20)
				local v = check_state(t)
				t:check(v ~= 0, "CHECK_DEVICE_STATE non-zero after a " ..
				        "SAVE into " .. kind, "0")
			end
			t:expect_alive()
			local _ = other
		end,
	}
end

-- LOAD channels the back-end cannot read: the write end of a pipe,
-- /dev/full (reads as zeros forever: no end of file), a directory.
for _, kind in ipairs({ "pipe-write", "dir", "file-wo" }) do
	case {
		id = "vhost-user/device-state/load-fails-" .. kind,
		spec = "vhost-user#vhost-user-check-device-state",
		level = "MUST",
		quote = CHECK_QUOTE,
		needs = NEEDS,
		run = function(t)
			save_prefix(t, 1)
			fresh(t)
			local fd, other = fdzoo.new(kind)
			local s = set_state_fd(t, LOAD, fd)
			fd:close()
			if s and s.ok then
				if s.fd then
					s.fd:close()
				end
				local v = check_state(t)
				t:check(v ~= 0, "CHECK_DEVICE_STATE non-zero after a " ..
				        "LOAD from " .. kind, "0")
			end
			t:expect_alive()
			local _ = other
		end,
	}
end

-- The front-end reads a little of the SAVE and closes its end: the rest
-- of the write fails with EPIPE. Either answer from CHECK (all may have
-- fit in the pipe), but no death by SIGPIPE.
case {
	id = "vhost-user/device-state/save-reader-closes-early",
	spec = "vhost-user#migrating-back-end-state",
	level = "ROBUST",
	quote = [[The reading end must read all of this data (until
encountering the end of file) and process it.]],
	needs = NEEDS,
	run = function(t)
		local w, r = fdzoo.new("pipe-write")
		local s = set_state_fd(t, SAVE, w)
		w:close()
		if s and s.ok then
			local rd = s.fd or r
			rd:read(4096, 200)
			rd:close()
			if s.fd then
				r:close()
			end
			t:sleep(20)
			check_state(t)
		end
		t:expect_alive()
	end,
}

-- The front-end never closes the LOAD writer: the back-end keeps serving
-- messages (a blocking read on the message thread would not).
case {
	id = "vhost-user/device-state/load-writer-stays-open",
	spec = "vhost-user#suspended-device-state",
	level = "ROBUST",
	quote = [[still process and reply to messages from the front-end.]],
	needs = NEEDS,
	run = function(t)
		local r, w = fdzoo.new("pipe-read")
		local s = set_state_fd(t, LOAD, r)
		r:close()
		if s and s.ok then
			(s.fd or w):write("VUC")
			t:expect(vhost.msg("GET_FEATURES"), { "reply" })
		end
		t:expect_alive()
	end,
}

-- CHECK_DEVICE_STATE has a u64 reply, with or without a transfer before.
case {
	id = "vhost-user/device-state/check-without-transfer",
	spec = "vhost-user#vhost-user-check-device-state",
	level = "MUST",
	quote = [[The value returned indicates success or error; 0 is success,
any non-zero value is an error.]],
	needs = NEEDS,
	run = function(t)
		t:check(check_state(t) ~= nil, "a reply", "hang-up")
	end,
}

-- Parameters the spec does not define (direction 2, phase 1), no fd, two
-- SETs in a row, a transfer while a ring runs: any answer of the right
-- shape, no crash, and CHECK still answers.
local ODD = {
	{ "direction-unknown", 2, 0, "pipe-write" },
	{ "phase-unknown", SAVE, 1, "pipe-write" },
	{ "no-fd", SAVE, 0, nil },
	{ "load-no-fd", LOAD, 0, nil },
}
for _, o in ipairs(ODD) do
	case {
		id = "vhost-user/device-state/set-" .. o[1],
		spec = "vhost-user#device-state-transfer-parameters",
		level = "ROBUST",
		quote = REPLY_QUOTE,
		needs = NEEDS,
		run = function(t)
			local fd, other
			if o[4] then
				fd, other = fdzoo.new(o[4])
			end
			local s = set_state_fd(t, o[2], fd, o[3])
			if fd then
				fd:close()
			end
			if s then
				if other and s.ok then
					read_all(t, s.fd or other, 500)
				end
				check_state(t)
			end
			t:expect_alive()
		end,
	}
end

case {
	id = "vhost-user/device-state/set-twice",
	spec = "vhost-user#vhost-user-set-device-state-fd",
	level = "ROBUST",
	quote = [[Initially, the front-end creates a channel along with such an FD.]],
	needs = NEEDS,
	run = function(t)
		local w1, r1 = fdzoo.new("pipe-write")
		local w2, r2 = fdzoo.new("pipe-write")
		local a = set_state_fd(t, SAVE, w1)
		w1:close()
		local b = a and set_state_fd(t, SAVE, w2)
		w2:close()
		if b then
			if b.ok then
				read_all(t, b.fd or r2, 1000)
			end
			check_state(t)
		end
		t:expect_alive()
		local _ = r1
	end,
}

-- "the only supported phase is ... when both the source and destination
-- devices are suspended": a transfer asked for while a ring runs may be
-- refused; it must not crash or wedge the device.
case {
	id = "vhost-user/device-state/set-while-running",
	spec = "vhost-user#migrating-back-end-state",
	level = "ROBUST",
	quote = [[Currently, the only supported phase is the period after the
transfer of memory-mapped regions before switch-over to the destination,
when both the source and destination devices are suspended]],
	needs = NEEDS,
	run = function(t)
		local fe = fe_start(t)
		local ok, why = fe_some_io(fe)
		t:check(ok, "the ring started by a request", why)
		local w, r = fdzoo.new("pipe-write")
		local s = set_state_fd(t, SAVE, w)
		w:close()
		if s then
			if s.ok then
				read_all(t, s.fd or r, 1000)
			end
			check_state(t)
		end
		t:expect_alive()
	end,
}

-- SPDX-License-Identifier: MIT
-- dirty-log.lua - the migration dirty log: VHOST_USER_SET_LOG_BASE with
-- good and bad sizes, offsets that wrap or run past the file, fds that
-- cannot be mapped; whether the log is really written; VHOST_USER_SET_LOG_FD.
--
-- Spec: vhost-user.rst, "Migration", SET_LOG_BASE, SET_LOG_FD, "Log
-- description". Cases that cannot drive I/O on the target's device (a
-- device this file has no request for) still send their messages and
-- check the back-end lives; only the I/O part is left out (noted).

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

-- ---- the log ------------------------------------------------------------

local LOG_QUOTE = [[The log memory fd is provided in the ancillary data of
VHOST_USER_SET_LOG_BASE message when the back-end has
VHOST_USER_PROTOCOL_F_LOG_SHMFD protocol feature.]]
local NEEDS = { protocol_features = { "LOG_SHMFD" }, features = { "LOG_ALL" } }

-- A log of n bytes in shared memory we can read back: { mem, fd }.
local function new_log(n)
	local mem = gmem.new()
	assert(mem:add_region(0, n))
	return { mem = mem, fd = mem:regions()[1].fd, size = n }
end

-- SET_LOG_BASE and its reply, judged leniently: the request is in the
-- list of those that take a reply, but its ":reply payload: N/A" leaves
-- the body open (libvhost-user answers a u64, DPDK an empty body). Any
-- reply message with the request's code and the reply flag counts.
-- -> "ack" (u64 0) | "nack" (other u64) | "reply" (another body) |
-- "hangup"; FAILs on silence or a reply to something else.
local function log_base(t, m)
	local ok, err = t:send(m, { need_reply = false })
	if not ok then
		return "hangup"
	end
	local r, why = t:recv{}
	if not r then
		if why == "hangup" then
			return "hangup"
		end
		t:fail{ expected = "a reply to VHOST_USER_SET_LOG_BASE",
		        actual = why }
	end
	t:check(r.name == "VHOST_USER_SET_LOG_BASE" and r.reply,
	        "a VHOST_USER_SET_LOG_BASE reply", r.text)
	for _, fd in ipairs(r.fds or {}) do
		t:note("the reply carries an fd: " .. fd:describe())
		fd:close()
	end
	if r.size == 8 then
		return r.u64 == 0 and "ack" or "nack", r
	end
	return "reply", r
end

-- The log is taken if logging works; the reply's value proves nothing
-- (see above), so set-up only insists on a reply.
local function log_base_ok(t, m)
	local kind = log_base(t, m)
	t:check(kind ~= "hangup", "a reply to VHOST_USER_SET_LOG_BASE", kind)
end

local function log_msg(size, offset, fd)
	return vhost.msg("SET_LOG_BASE", { mmap_size = size,
	                                   mmap_offset = offset or 0, fd = fd })
end

-- Is the page of guest address gpa marked in log l? "page = addr /
-- VHOST_LOG_PAGE; log[page / 8] |= 1 << page % 8"
local function marked(l, gpa)
	local page = gpa // 0x1000
	local byte = l.mem:read(page // 8, 1):byte()
	return byte & (1 << (page % 8)) ~= 0
end

-- The I/O half of a bad-log case: rings logging, some I/O, and the
-- back-end still answers. A back-end that kept a log it could not map
-- (libvhost-user's MAP_FAILED) or maps past its file dies here.
local function io_then_alive(t, fe)
	if fe then
		local ok, why = fe_some_io(fe)
		if not ok then
			t:note("I/O did not complete: " .. tostring(why))
		end
	else
		t:note("no I/O on a " .. tostring(t.device) .. " device here")
	end
	local kind = t:react(vhost.msg("GET_FEATURES"))
	t:check(kind == "reply" or kind == "hangup",
	        "the back-end answers after logging I/O", kind)
	t:expect_alive()
end

-- Rings set up with logging on, where this file drives I/O; nil where not.
local function maybe_start(t, opts)
	if not IO_QUEUES[t.device or ""] then
		return nil
	end
	opts = opts or {}
	opts.log = true
	return fe_start(t, opts)
end

-- "Here is a list of the ones that do [require replies]: ...
-- VHOST_USER_SET_LOG_BASE (if VHOST_USER_PROTOCOL_F_LOG_SHMFD)": a reply
-- comes even without need_reply.
case {
	id = "vhost-user/log/set-base-replied",
	spec = "vhost-user#communication",
	level = "MUST",
	quote = [[Here is a list of the ones that do: ... VHOST_USER_SET_LOG_BASE
(if VHOST_USER_PROTOCOL_F_LOG_SHMFD)]],
	needs = NEEDS,
	run = function(t)
		local l = new_log(4096)
		log_base_ok(t, log_msg(4096, 0, l.fd))
	end,
}

-- The log is written: the page a device-writable buffer lies in is
-- marked after the device wrote it (blk: a read lands there; net: the
-- looped-back frame lands in an RX buffer).
case {
	id = "vhost-user/log/data-page-marked",
	spec = "vhost-user#migration",
	level = "SHOULD",
	quote = [[All the modifications to memory pointed by vring "descriptor"
should be marked.]],
	needs = NEEDS,
	run = function(t)
		local fe = fe_start(t, { log = true })
		local l = new_log(4096)
		log_base_ok(t, log_msg(4096, 0, l.fd))
		local buf
		if t.device == "blk" then
			local st, why, _, gpa = blk_io(fe, 0, 0, 4096)
			t:check(st ~= nil, "the read completed", why)
			buf = gpa
		else
			local ulen, rx = net_tx(fe, FRAME)
			t:check(ulen ~= nil, "the frame sent", rx)
			local token, why = fe_reap(fe, 0)
			if not token then
				t:skip("the frame did not come back on RX (" ..
				       tostring(why) .. "): no device write to log")
			end
			buf = rx
		end
		t:check(marked(l, buf),
		        ("the page of guest address 0x%x marked"):format(buf),
		        "not marked")
	end,
}

-- "Modifications to "used" vring should be marked if VHOST_VRING_F_LOG
-- is part of ring's flags", at log_guest_addr.
case {
	id = "vhost-user/log/used-ring-marked",
	spec = "vhost-user#migration",
	level = "SHOULD",
	quote = [[Modifications to "used" vring should be marked if
VHOST_VRING_F_LOG is part of ring's flags.]],
	needs = NEEDS,
	run = function(t)
		local fe = fe_start(t, { log = true })
		local l = new_log(4096)
		log_base_ok(t, log_msg(4096, 0, l.fd))
		local ok, why = fe_some_io(fe)
		t:check(ok, "the I/O completed", why)
		local i = t.device == "blk" and 0 or 1
		local used = fe.q[i]:addrs().used_gpa
		t:check(marked(l, used),
		        ("the used ring's page (0x%x) marked"):format(used),
		        "not marked")
	end,
}

-- A second SET_LOG_BASE replaces the first (QEMU sends one each time the
-- log grows): marks go to the new log.
case {
	id = "vhost-user/log/replaced-log-used",
	spec = "vhost-user#migration",
	level = "SHOULD",
	quote = [[Log starts at the supplied offset in the supplied file
descriptor.]],
	needs = NEEDS,
	run = function(t)
		local fe = fe_start(t, { log = true })
		local a, b = new_log(4096), new_log(8192)
		log_base_ok(t, log_msg(4096, 0, a.fd))
		log_base_ok(t, log_msg(8192, 0, b.fd))
		local ok, why = fe_some_io(fe)
		t:check(ok, "the I/O completed", why)
		local i = t.device == "blk" and 0 or 1
		local used = fe.q[i]:addrs().used_gpa
		t:check(marked(b, used), "the used ring's page marked in the " ..
		        "second log", "not marked")
	end,
}

-- The log at an offset into its fd: marks land past the offset.
case {
	id = "vhost-user/log/offset-honoured",
	spec = "vhost-user#migration",
	level = "SHOULD",
	quote = [[Log starts at the supplied offset in the supplied file
descriptor.]],
	needs = NEEDS,
	run = function(t)
		local fe = fe_start(t, { log = true })
		local l = new_log(8192)
		log_base_ok(t, log_msg(4096, 4096, l.fd))
		local ok, why = fe_some_io(fe)
		t:check(ok, "the I/O completed", why)
		local i = t.device == "blk" and 0 or 1
		local used = fe.q[i]:addrs().used_gpa
		local page = used // 0x1000
		local byte = l.mem:read(4096 + page // 8, 1):byte()
		t:check(byte & (1 << (page % 8)) ~= 0,
		        "the used ring's page marked 4096 bytes into the fd",
		        "not marked there")
	end,
}

-- fds that cannot be mapped shared and writable: the log cannot be used.
-- Refusing is right; acking is survivable only if the back-end never
-- writes through it. Then I/O with logging on: no crash.
local UNMAPPABLE = { "pipe-read", "eventfd", "socket", "dir", "file-ro",
                     "memfd-sealed", "o-path", "dev-null" }
for _, kind in ipairs(UNMAPPABLE) do
	case {
		id = "vhost-user/log/unmappable-" .. kind,
		spec = "vhost-user#vhost-user-set-log-base",
		level = "ROBUST",
		quote = LOG_QUOTE,
		needs = NEEDS,
		run = function(t)
			local fe = maybe_start(t)
			local fd, other = fdzoo.new(kind)
			if not fd then
				t:skip(kind .. ": " .. tostring(other))
			end
			local k = log_base(t, log_msg(4096, 0, fd))
			if k == "hangup" then
				return t:expect_alive()
			end
			io_then_alive(t, fe)
		end,
	}
end

-- Sizes and offsets that no mapping matches: wrapping 64 bits (DPDK
-- CVE-2020-10722), zero, past the end of the file (a mapping past EOF
-- faults with SIGBUS on the first mark), an empty size with a huge
-- offset. Any answer; then I/O with logging on: no crash.
local BAD_LOGS = {
	{ "offset-wraps", 0xfffffffffffff000, 0x2000, 4096 },
	{ "size-huge", 0xffffffffffff0000, 0, 4096 },
	{ "size-zero", 0, 0, 4096 },
	{ "offset-past-eof", 4096, 0x100000, 4096 },
	{ "size-past-eof", 0x100000, 0, 4096, 0x10000000 },
	{ "offset-unaligned", 4096, 1, 8192 },
}
for _, b in ipairs(BAD_LOGS) do
	case {
		id = "vhost-user/log/" .. b[1],
		spec = "vhost-user#log-description",
		level = "ROBUST",
		quote = [[:log size: size of area used for logging
:log offset: offset from start of supplied file descriptor where logging
starts (i.e. where guest address 0 would be logged)]],
		needs = NEEDS,
		run = function(t)
			-- guest memory high enough that its marks fall past
			-- the file when the back-end believes the size
			local fe = maybe_start(t, { gpa = b[5] })
			local l = new_log(b[4])
			local k = log_base(t, log_msg(b[2], b[3], l.fd))
			if k == "hangup" then
				return t:expect_alive()
			end
			io_then_alive(t, fe)
		end,
	}
end

-- A log smaller than guest memory needs ("should be large enough to
-- cover all known guest addresses"): the front-end's mistake, but the
-- back-end must not mark bits past the log (memory at 512 MiB: its pages
-- are logged 16 KiB in, the log is 4 KiB).
case {
	id = "vhost-user/log/smaller-than-memory",
	spec = "vhost-user#migration",
	level = "ROBUST",
	quote = [[The size of the log is supplied as part of VhostUserMsg which
should be large enough to cover all known guest addresses.]],
	needs = NEEDS,
	run = function(t)
		local fe = maybe_start(t, { gpa = 0x20000000 })
		local l = new_log(4096)
		local k = log_base(t, log_msg(4096, 0, l.fd))
		if k == "hangup" then
			return t:expect_alive()
		end
		io_then_alive(t, fe)
	end,
}

-- The fd missing, two fds, a payload of 8 bytes instead of 16: malformed
-- requests; any answer, no crash, no leak (the runner counts fds).
case {
	id = "vhost-user/log/no-fd",
	spec = "vhost-user#vhost-user-set-log-base",
	level = "ROBUST",
	quote = LOG_QUOTE,
	needs = NEEDS,
	run = function(t)
		local fe = maybe_start(t)
		local k = log_base(t, log_msg(4096, 0))
		if k ~= "hangup" then
			io_then_alive(t, fe)
		end
	end,
}

case {
	id = "vhost-user/log/two-fds",
	spec = "vhost-user#vhost-user-set-log-base",
	level = "ROBUST",
	quote = LOG_QUOTE,
	needs = NEEDS,
	run = function(t)
		local a, b = new_log(4096), new_log(4096)
		local m = log_msg(4096, 0, a.fd)
		m.fds = { a.fd, b.fd }
		log_base(t, m)
		t:expect_alive()
	end,
}

case {
	id = "vhost-user/log/payload-short",
	spec = "vhost-user#log-description",
	level = "ROBUST",
	quote = [[:log size: size of area used for logging]],
	needs = NEEDS,
	run = function(t)
		local l = new_log(4096)
		local m = log_msg(4096, 0, l.fd)
		m.size = 8
		log_base(t, m)
		t:expect_alive()
	end,
}

-- VHOST_USER_SET_LOG_FD, "an optional message with an eventfd": an
-- eventfd, no fd at all, or an fd no one can signal. Any answer.
for _, kind in ipairs({ "eventfd", "none", "dir", "pipe-read" }) do
	case {
		id = "vhost-user/log/set-log-fd-" .. kind,
		spec = "vhost-user#migration",
		level = "ROBUST",
		quote = [[VHOST_USER_SET_LOG_FD is an optional message with an eventfd in
ancillary data, it may be used to inform the front-end that the log has
been modified.]],
		needs = NEEDS,
		run = function(t)
			local fd, other
			if kind ~= "none" then
				fd, other = fdzoo.new(kind)
			end
			local m = vhost.msg("SET_LOG_FD")
			m.fds = { fd }
			t:expect_robust(m)
		end,
	}
end

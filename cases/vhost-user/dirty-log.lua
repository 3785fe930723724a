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
-- Shared by backend-channel.lua, dirty-log.lua, inflight.lua,
-- status-reset.lua, device-state.lua and robustness.lua:
-- vhost.fe_helpers() in harness/lua/prelude.lua.

local FE = vhost.fe_helpers()
local IO_QUEUES, FRAME, fe_start = FE.IO_QUEUES, FE.FRAME, FE.fe_start
local fe_reap, blk_io, net_tx = FE.fe_reap, FE.blk_io, FE.net_tx
local fe_some_io = FE.fe_some_io

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

-- The back-end may mark the log just after it publishes the used entry
-- (the front-end reads the log once the ring is stopped, not at each
-- used entry): look for the mark for a while, so that a loaded host does
-- not turn a late mark into a missing one.
local function marked_soon(t, l, gpa)
	local stop = t:now_ms() + 500
	while not marked(l, gpa) do
		if t:now_ms() >= stop then
			return false
		end
		t:sleep(5)
	end
	return true
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
		t:check(marked_soon(t, l, buf),
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
		t:check(marked_soon(t, l, used),
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
		t:check(marked_soon(t, b, used), "the used ring's page marked in the " ..
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

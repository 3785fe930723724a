-- SPDX-License-Identifier: MIT
-- robustness.lua - a front-end that goes away mid-reply or stops reading
-- (no SIGPIPE death, no spin), replies nobody asked for, and the data
-- path sanity the other cases lean on: used lengths, blk requests past
-- the capacity.
--
-- Spec: vhost-user.rst, "Communication"; VIRTIO 1.x "The Virtqueue Used
-- Ring" (device requirements) and the block device's request layout.

-- ---- a small front-end: memory, rings, requests ------------------------
-- Shared by backend-channel.lua, dirty-log.lua, inflight.lua,
-- status-reset.lua, device-state.lua and robustness.lua:
-- vhost.fe_helpers() in harness/lua/prelude.lua.

local FE = vhost.fe_helpers()
local FRAME, fe_start, fe_reap = FE.FRAME, FE.fe_start, FE.fe_reap
local blk_io, net_tx = FE.blk_io, FE.net_tx

-- ---- a front-end that goes away -----------------------------------------

local COMM_QUOTE = [[If *front-end* is unable to send the full message or
receives a wrong reply it will close the connection.]]

-- After the front-end is gone the back-end may exit (with any status) or
-- wait for the next one; a death by a signal (SIGPIPE from writing to the
-- closed socket without MSG_NOSIGNAL) is a crash.
local function gone_then_alive(t)
	-- what the back-end answered before it saw the end is read here,
	-- so it is not taken for unsolicited
	while t:recv_raw{ timeout = 100, max = 1 << 16 } do
	end
	if t:has_process() then
		t:wait_exit(300)
	end
	t:expect_alive()
end

local HANGUPS = {
	-- many replies due, the reader gone: the back-end's writes fail
	{ "hangup-mid-reply", function(t)
		local ms = {}
		for i = 1, 256 do
			ms[i] = vhost.msg("GET_FEATURES")
		end
		t:send_many(ms)
		t:shutdown("both")
	end },
	{ "hangup-after-request", function(t)
		t:send(vhost.msg("GET_PROTOCOL_FEATURES"))
		t:shutdown("both")
	end },
	{ "hangup-after-need-reply", function(t)
		t:send(vhost.msg("SET_VRING_NUM", { index = 0, num = 64 }),
		       { need_reply = true })
		t:shutdown("both")
	end },
	-- the stream ends inside a header, inside a payload, inside the fds
	{ "hangup-mid-header", function(t)
		t:send_bytes(vhost.bytes(vhost.msg("GET_FEATURES")):sub(1, 6))
		t:shutdown("write")
	end },
	{ "hangup-mid-payload", function(t)
		local b = vhost.bytes(vhost.msg("SET_VRING_NUM",
		                                { index = 0, num = 64 }))
		t:send_bytes(b:sub(1, 16))
		t:shutdown("write")
	end },
	{ "hangup-with-fds-queued", function(t)
		local mem = gmem.new()
		assert(mem:add_region(0, 1 << 20))
		local ms = {}
		for i = 1, 8 do
			ms[i] = vhost.msg("SET_MEM_TABLE",
			                  { regions = mem:regions() })
		end
		for _, m in ipairs(ms) do
			t:send(m)
		end
		t:shutdown("both")
	end },
}
for _, h in ipairs(HANGUPS) do
	case {
		id = "vhost-user/robustness/" .. h[1],
		spec = "vhost-user#communication",
		level = "ROBUST",
		quote = COMM_QUOTE,
		needs = { handshake = true },
		run = function(t)
			h[2](t)
			gone_then_alive(t)
		end,
	}
end

-- The largest replies there are (256-byte config reads), the reader gone.
case {
	id = "vhost-user/robustness/hangup-mid-config-replies",
	spec = "vhost-user#communication",
	level = "ROBUST",
	quote = COMM_QUOTE,
	needs = { protocol_features = { "CONFIG" } },
	run = function(t)
		local ms = {}
		for i = 1, 64 do
			ms[i] = vhost.msg("GET_CONFIG", { offset = 0, size = 256 })
		end
		t:send_many(ms)
		t:shutdown("both")
		gone_then_alive(t)
	end,
}

-- CPU ticks (user + system) each thread of the process has used so far:
-- { [tid] = ticks }, or nil without /proc.
local function thread_ticks(pid)
	local ls = io.popen("ls /proc/" .. pid .. "/task 2>/dev/null")
	if not ls then
		return nil
	end
	local out = {}
	for tid in ls:lines() do
		local f = io.open("/proc/" .. pid .. "/task/" .. tid .. "/stat")
		if f then
			local s = f:read("a")
			f:close()
			-- fields after the ")" of the command name: state is
			-- field 3, utime 14, stime 15
			local fields = {}
			for w in (s:match("%) (.*)$") or ""):gmatch("%S+") do
				fields[#fields + 1] = w
			end
			if #fields >= 13 then
				out[tid] = tonumber(fields[12]) + tonumber(fields[13])
			end
		end
	end
	ls:close()
	return out
end

-- A front-end that stops reading: requests keep coming until the socket
-- buffers are full both ways. The back-end must neither spin on its
-- blocked reply (qemu's vhost-user-server.c carries "TODO
-- vu_message_write() spins if non-blocking!") nor die; once the
-- front-end reads again, every reply is there in order (or the back-end
-- gave up on it and hung up).
case {
	id = "vhost-user/robustness/frontend-stops-reading",
	spec = "vhost-user#communication",
	level = "ROBUST",
	quote = [[The communication consists of the front-end sending message
requests and the back-end sending message replies.]],
	needs = { handshake = true },
	run = function(t)
		-- per thread, what each burns anyway (DPDK's testpmd busy-polls
		-- its port on a thread of its own), 500 ms before the flood
		local pid = t:has_process() and t:pid()
		local a = pid and thread_ticks(pid)
		t:sleep(500)
		local b = pid and thread_ticks(pid)
		local sent = 0
		local stop = t:now_ms() + 2000
		while sent < 20000 and t:now_ms() < stop do
			local ok = t:send(vhost.msg("GET_FEATURES"), { timeout = 50 })
			if not ok then
				break
			end
			sent = sent + 1
		end
		t:note(("%d requests sent before the stream stopped"):format(sent))
		local c = pid and thread_ticks(pid)
		t:sleep(500)
		local d = pid and thread_ticks(pid)
		if a and b and c and d then
			-- 100 ticks a second: a thread idle before (under 5
			-- ticks in 500 ms) that takes 10 or more (20% of a CPU)
			-- while its replies wait is spinning on them
			for tid, v in pairs(d) do
				local before = (b[tid] or 0) - (a[tid] or 0)
				local during = v - (c[tid] or v)
				if before < 5 then
					t:check(during < 10,
					        "no thread busy while the replies wait " ..
					        ("(thread %s: %d CPU ticks in 500 ms " ..
					         "before)"):format(tid, before),
					        ("%d ticks in 500 ms"):format(during))
				end
			end
		end
		for i = 1, sent do
			local r, why = t:recv{ timeout = 2000 }
			if not r then
				t:check(why == "hangup",
				        ("reply %d of %d, or a hang-up"):format(i, sent),
				        why)
				return t:expect_alive()
			end
			t:check(r.name == "VHOST_USER_GET_FEATURES" and r.reply,
			        "GET_FEATURES replies in order", r.text)
		end
		t:expect_robust(vhost.msg("GET_FEATURES"))
	end,
}

-- ---- replies nobody asked for -------------------------------------------

-- "Most of the requests don't require replies": SET_VRING_CALL without
-- need_reply gets none, even when the back-end cannot signal the fd it
-- got (libvhost-user probes it with a write and, failing, sends a reply
-- the front-end then takes for the next request's). Call fds the
-- back-end's write fails on: a pipe whose reader is gone (EPIPE), an
-- eventfd at its maximum count (EAGAIN), the read end of a pipe (EBADF).
local CALL_FDS = {
	{ "widowed-pipe", function() return fdzoo.new("widowed-pipe-write") end },
	{ "full-eventfd", function()
		local e = fdzoo.new("eventfd-nonblock")
		e:signal(0xfffffffffffffffe)
		return e
	end },
	{ "pipe-read-end", function() return fdzoo.new("pipe-read") end },
}
for _, c in ipairs(CALL_FDS) do
	case {
		id = "vhost-user/robustness/no-unsolicited-reply-" .. c[1],
		spec = "vhost-user#communication",
		level = "MUST",
		quote = [[Most of the requests don't require replies. Here is a list of
the ones that do:]],
		needs = { handshake = true },
		run = function(t)
			local fd, other = c[2]()
			t:expect_no_reply(vhost.msg("SET_VRING_CALL",
			                            { index = 0, fd = fd }),
			                  { timeout = 150, hangup_ok = true })
			local kind, r = t:react(vhost.msg("GET_FEATURES"))
			if kind ~= "hangup" then
				t:check(kind == "reply" and r and
				        r.name == "VHOST_USER_GET_FEATURES",
				        "the GET_FEATURES reply next", kind)
			end
			t:expect_alive()
			local _ = other
		end,
	}
end

-- ---- the data path ------------------------------------------------------

local USED_QUOTE = [[The device MUST write at least len bytes to descriptor,
beginning at the first device-writable buffer, prior to updating the used
idx.]]
local USED_SPEC = "virtio#sec:Basic Facilities of a Virtio Device / " ..
                  "Virtqueues / The Virtqueue Used Ring"

-- len is "the total of bytes written into the buffer": never more than
-- the chain's device-writable bytes (the readable ones are not written).
local USED = {
	{ "used-len-blk-write", "blk", 1, function(fe)
		local st, ulen = blk_io(fe, 1, 3, 512, string.rep("w", 512))
		return st and ulen, ulen
	end },
	{ "used-len-blk-read", "blk", 513, function(fe)
		local st, ulen = blk_io(fe, 0, 3, 512)
		return st and ulen, ulen
	end },
	{ "used-len-net-tx", "net", 0, function(fe)
		return net_tx(fe, FRAME)
	end },
	{ "used-len-net-rx", "net", 2048, function(fe)
		local ulen, why = net_tx(fe, FRAME)
		if not ulen then
			return nil, why
		end
		local token, len = fe_reap(fe, 0)
		if not token then
			fe.t:skip("no frame came back on RX: " .. tostring(len))
		end
		return len
	end },
}
for _, u in ipairs(USED) do
	case {
		id = "vhost-user/robustness/" .. u[1],
		spec = USED_SPEC,
		level = "MUST",
		quote = USED_QUOTE,
		needs = { handshake = true, device = u[2] },
		run = function(t)
			local fe = fe_start(t)
			local len, why = u[4](fe)
			t:check(len ~= nil, "the request completed", why)
			t:check(len <= u[3],
			        ("a used len of at most %d (the writable bytes)")
			        :format(u[3]), ("len %d"):format(len))
		end,
	}
end

-- virtio-blk requests past the capacity ("A driver MUST NOT submit a
-- request which would cause a read or write beyond capacity": the
-- device's answer is its own, but not a crash): far past, where sector *
-- 512 wraps 64 bits, and straddling the end.
local function capacity(t)
	local neg = t:negotiated() or 0
	if neg & (1 << vhost.PF.CONFIG) == 0 then
		return nil
	end
	local kind, r = t:react(vhost.msg("GET_CONFIG", { offset = 0, size = 8 }))
	if kind == "reply" and r.config and r.config.size == 8 then
		return string.unpack("<I8", r.config.data)
	end
	return nil
end

local PAST = {
	{ "blk-read-far-past-capacity", 0, function() return 1 << 40 end },
	{ "blk-write-far-past-capacity", 1, function() return 1 << 40 end },
	{ "blk-read-sector-wraps", 0, function()
		return 0xffffffffffffffff
	end },
	{ "blk-write-sector-wraps", 1, function()
		return 0x0080000000000000
	end },
	{ "blk-read-straddles-end", 0, function(cap)
		return cap and cap - 1
	end, "CONFIG" },
	{ "blk-write-at-end", 1, function(cap) return cap end, "CONFIG" },
}
for _, p in ipairs(PAST) do
	case {
		id = "vhost-user/robustness/" .. p[1],
		spec = "virtio#sec:Device Types / Block Device / Device Operation",
		level = "ROBUST",
		quote = [[A driver MUST NOT submit a request which would cause a read or
write beyond capacity.]],
		needs = { protocol_features = { "REPLY_ACK", p[4] },
		          device = "blk" },
		run = function(t)
			local sector = p[3](capacity(t))
			if not sector then
				t:skip("the capacity is not known (no CONFIG)")
			end
			local fe = fe_start(t)
			local st, why = blk_io(fe, p[2], sector, 4096,
			                       p[2] == 1 and string.rep("x", 4096))
			t:note("request past the end: status " .. tostring(st) ..
			       (st and "" or " (" .. tostring(why) .. ")"))
			t:expect_robust(vhost.msg("GET_FEATURES"))
		end,
	}
end

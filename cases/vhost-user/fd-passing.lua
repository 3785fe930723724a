-- SPDX-License-Identifier: MIT
-- fd-passing.lua - file descriptors in the ancillary data: fds on requests
-- that take none, more fds than any request takes (up to SCM_MAX_FD, so
-- the back-end sees MSG_CTRUNC), fds on the payload bytes instead of the
-- header.
--
-- Spec: vhost-user.rst, "Communication" (which requests carry fds) and the
-- request entries of "Front-end message types".
--
-- How a leak is seen: the fds sent are copies of one pipe's write end. We
-- close ours after sending; once the back-end has handled the request (it
-- answered a later one), its copies must be closed too, and our read end
-- then sees end of file. A copy kept open is a leak (CVE-2019-14818,
-- CVE-2022-0669, DPDK 218daf1664 and 585283f9a7); the seeded bugs
-- fd-leak-no-fd-msg and rem-mem-reg-fd-leak fail here. This works whatever
-- the back-end answered, and on daemons that outlive the connection.

local ANCHOR = "vhost-user#communication"
local FDS_QUOTE = [[There are several messages that the front-end sends with
file descriptors passed in the ancillary data:]]

-- A pipe: its write end, to be sent n times, and its read end, ours.
local function probe()
	local w, r = fdzoo.new("pipe-write")
	return w, r
end

-- Copies of @fd, @n times.
local function copies(fd, n)
	local l = {}
	for i = 1, n do
		l[i] = fd
	end
	return l
end

-- After our own write end is closed: FAIL unless every copy the target
-- got was closed. A GET_FEATURES first makes sure it handled what came
-- before (requests are handled in order); a hang-up is fine.
-- @release (optional): a request that makes the target let go of an fd it
-- may legitimately keep (a call fd replaced by NOFD).
local function expect_all_closed(t, w, r, n, hung, release)
	w:close()
	if not hung and release then
		local kind, _, detail = t:react(release, { need_reply = true })
		hung = kind == "hangup"
		if kind == "timeout" or kind == "malformed" then
			t:fail{ expected = "an answer to " .. release.name ..
			        " or a hang-up", actual = detail }
		end
	end
	if not hung then
		local kind, _, detail = t:react(vhost.msg("GET_FEATURES"))
		if kind ~= "reply" and kind ~= "hangup" then
			t:fail{ expected = "a GET_FEATURES reply (the stream in step) " ..
			        "or a hang-up", actual = detail }
		end
	end
	-- drain what the target wrote (a call fd may be signalled) until end
	-- of file or 300 ms of nothing
	local data, why = r:read(4096, 300)
	while data do
		data, why = r:read(4096, 300)
	end
	if why ~= "eof" then
		t:fail{ expected = ("all %d fd copies closed by the target " ..
		                    "once the request was handled"):format(n),
		        actual = "the pipe still has a writer: fds leaked" }
	end
	t:expect_alive()
end

-- Send @m @times times with @fds, need_reply set where the request has no
-- reply of its own (REPLY_ACK is negotiated: an answer is always due); any
-- answer or a hang-up is accepted; silence or garbage is not.
-- Return: true if the target hung up.
local function send_repeated(t, m, fds, times, opts)
	local rule
	for _, r in ipairs(vhost.rules()) do
		if r.dir == "front-end" and r.code == m.request then
			rule = r
		end
	end
	for _ = 1, times do
		local o = { fds = fds, need_reply = rule.reply == "if_acked" }
		for k, v in pairs(opts or {}) do
			o[k] = v
		end
		local kind, _, detail = t:react(m, o)
		if kind == "hangup" then
			return true
		end
		if kind == "timeout" or kind == "malformed" then
			t:fail{ expected = "an answer (REPLY_ACK is negotiated) or " ..
			        "a hang-up", actual = detail }
		end
	end
	return false
end

-- REPLY_ACK and the request's gate; INBAND_NOTIFICATIONS also needs
-- BACKEND_REQ ("considered an error to negotiate this feature without").
local function gate_and_ack(rule)
	local pf = { "REPLY_ACK" }
	for _, g in ipairs(rule.gate) do
		if g ~= "REPLY_ACK" then
			pf[#pf + 1] = g
		end
		if g == "INBAND_NOTIFICATIONS" then
			pf[#pf + 1] = "BACKEND_REQ"
		end
	end
	return pf
end

-- SET_VRING_CALL for vring 0 without an fd (NOFD): the call fd the target
-- may have kept is replaced, so it must be closed.
local function call_nofd()
	return vhost.msg("SET_VRING_CALL", { index = 0 })
end

-- Every request that takes no fd, with 1 and with 8 fds, three times: the
-- back-end may refuse it or ignore the fds, but must close them (leak
-- check above). Requests are picked by the rule table's fd rule;
-- REM_MEM_REG ("No file descriptors SHOULD be passed ... If an fd is
-- passed, the back-end MUST close it") is MUST with one fd.
for _, r in ipairs(vhost.rules()) do
	if r.dir == "front-end" and
	   (r.fds == "none" or r.fds == "none_tolerate_one") then
		local short = r.name:gsub("^VHOST_USER_", ""):lower():gsub("_", "-")
		for _, n in ipairs({ 1, 8 }) do
			local must = r.fds == "none_tolerate_one" and n == 1
			case {
				id = ("vhost-user/fds/extra/%s-%d"):format(short, n),
				spec = must and r.anchor or ANCHOR,
				level = must and "MUST" or "ROBUST",
				quote = must and [[No file descriptors SHOULD be passed in
the ancillary data. For compatibility with existing incorrect
implementations, the back-end MAY accept a single file descriptor, which
should be ignored. If an fd is passed, the back-end MUST close it without
using it otherwise.]] or FDS_QUOTE,
				needs = { protocol_features = gate_and_ack(r) },
				run = function(t)
					local w, rd = probe()
					local m = vhost.sample(r.name, t)
					local hung = send_repeated(t, m, copies(w, n), 3)
					expect_all_closed(t, w, rd, n, hung)
				end,
			}
		end
	end
end

-- More fds than any request takes, up to SCM_MAX_FD (253): a back-end
-- with room for 8 gets MSG_CTRUNC and the kernel closes the rest; what it
-- did get it must close. Any answer (the message is malformed: one fd
-- expected), but no leak, no crash, the stream in step.
for _, n in ipairs({ 9, 16, 32, 64, 253 }) do
	case {
		id = ("vhost-user/fds/ctrunc/set-vring-call-%d"):format(n),
		spec = "vhost-user#front-end-message-types",
		level = "ROBUST",
		quote = [[Set the event file descriptor to signal when buffers are
used. It is passed in the ancillary data.]],
		needs = { protocol_features = { "REPLY_ACK" } },
		run = function(t)
			local w, rd = probe()
			local m = vhost.msg("SET_VRING_CALL", { index = 0, fd = w })
			local hung = send_repeated(t, m, copies(w, n), 2)
			expect_all_closed(t, w, rd, n, hung, call_nofd())
		end,
	}
end

-- The same on a request that takes no fd at all.
for _, n in ipairs({ 9, 253 }) do
	case {
		id = ("vhost-user/fds/ctrunc/set-vring-num-%d"):format(n),
		spec = ANCHOR,
		level = "ROBUST",
		quote = FDS_QUOTE,
		needs = { protocol_features = { "REPLY_ACK" } },
		run = function(t)
			local w, rd = probe()
			local m = vhost.msg("SET_VRING_NUM", { index = 0, num = 256 })
			local hung = send_repeated(t, m, copies(w, n), 2)
			expect_all_closed(t, w, rd, n, hung)
		end,
	}
end

-- SET_MEM_TABLE with 8 regions and more than 8 fds: a reader whose
-- buffer holds 8 sees exactly 8 fds and MSG_CTRUNC. Taking the table as
-- whole uses a message that is not the one sent ("The size and ordering
-- of the fds matches the number and ordering of memory regions"): it must
-- be refused (seeded bug ctrunc-ignored acks it).
for _, n in ipairs({ 9, 16, 253 }) do
	case {
		id = ("vhost-user/fds/ctrunc/mem-table-%d"):format(n),
		spec = "vhost-user#front-end-message-types",
		level = "ROBUST",
		quote = [[In the ancillary data there is an array of file
descriptors for each memory mapped region. The size and ordering of the fds
matches the number and ordering of memory regions.]],
		needs = { protocol_features = { "REPLY_ACK" } },
		run = function(t)
			local mem = gmem.new()
			for i = 0, 7 do
				mem:add_region(i << 20, 1 << 16)
			end
			local m = vhost.msg("SET_MEM_TABLE", { regions = mem:regions() })
			local fds = {}
			for i = 1, n do
				fds[i] = m.fds[(i - 1) % 8 + 1]
			end
			t:expect_refusal(m, { fds = fds })
			t:expect_alive()
		end,
	}
end

-- The fd sent with the payload bytes, not the header: a sendmsg() for
-- the header, another for the payload carrying the fd. The kernel keeps
-- the fd with the payload's first byte, so a reader that read()s the
-- payload loses it (and may wait for an fd that never comes, or use
-- NOFD). Any answer is fine; a leak, a crash, a hang or a desync is not.
local ON_PAYLOAD = {
	{ name = "set-vring-call", msg = function(w)
		return vhost.msg("SET_VRING_CALL", { index = 0, fd = w })
	end },
	{ name = "set-vring-num", msg = function()
		return vhost.msg("SET_VRING_NUM", { index = 0, num = 256 })
	end },
	{ name = "set-features", msg = function(_, t)
		return vhost.sample("SET_FEATURES", t)
	end },
}
for _, c in ipairs(ON_PAYLOAD) do
	for _, delay in ipairs({ 0, 20 }) do
		case {
			id = ("vhost-user/fds/on-payload/%s%s"):format(c.name,
				delay > 0 and "-delayed" or ""),
			spec = "vhost-user#introduction",
			level = "ROBUST",
			quote = [[It uses communication over a Unix domain socket to
share file descriptors in the ancillary data of the message.]],
			needs = { protocol_features = { "REPLY_ACK" } },
			run = function(t)
				local w, rd = probe()
				local m = c.msg(w, t)
				local hung = send_repeated(t, m, { w }, 1,
				                           { split = "hdr",
				                             fds_on = "payload",
				                             delay_ms = delay })
				expect_all_closed(t, w, rd, 1, hung, call_nofd())
			end,
		}
	end
end

-- The header in two pieces with the fds on the second: the fds still
-- belong to the message (the header's bytes), but a reader that took the
-- first piece with recvmsg() and the rest with read() loses them.
case {
	id = "vhost-user/fds/on-header-tail",
	spec = "vhost-user#introduction",
	level = "ROBUST",
	quote = [[It uses communication over a Unix domain socket to share file
descriptors in the ancillary data of the message.]],
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		local w, rd = probe()
		local m = vhost.msg("SET_VRING_CALL", { index = 0, fd = w })
		local hung = send_repeated(t, m, { w }, 1,
		                           { split = { 6 }, fds_on = 2,
		                             delay_ms = 10 })
		expect_all_closed(t, w, rd, 1, hung, call_nofd())
	end,
}

-- The normal case, as a control for the probe: SET_VRING_CALL with its one
-- fd is taken; the back-end keeps the fd (it is the call fd now) until it
-- is replaced. Replacing it must close the old one (no leak of replaced
-- fds, rust-vmm b109e4d's neighbour): the first pipe sees end of file;
-- and replacing the second by NOFD closes that one.
case {
	id = "vhost-user/fds/replaced-call-fd-closed",
	spec = "vhost-user#front-end-message-types",
	level = "ROBUST",
	quote = [[Set the event file descriptor to signal when buffers are
used. It is passed in the ancillary data.]],
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		local w1, r1 = probe()
		local kind, _, detail = t:react(
			vhost.msg("SET_VRING_CALL", { index = 0, fd = w1 }),
			{ need_reply = true })
		if kind ~= "ack" then
			t:skip("SET_VRING_CALL with a pipe's write end is not taken " ..
			       "here (" .. tostring(detail) .. ")")
		end
		local w2, r2 = probe()
		t:expect(vhost.msg("SET_VRING_CALL", { index = 0, fd = w2 }),
		         { "ack", "nack", "hangup" }, { need_reply = true })
		expect_all_closed(t, w1, r1, 1, false)
		expect_all_closed(t, w2, r2, 1, false, call_nofd())
	end,
}

-- Error paths: SET_VRING_CALL / SET_VRING_ERR for a vring that does not
-- exist (index 255: within the 8-bit index field, past any queue count a
-- back-end here offers). Refused or not, the fd that came must not stay
-- open once the request was handled (DPDK bc900f86aa, 6dc3f119ce: fds
-- leaked on error paths; seeded bug fd-leak-vring-error).
for _, name in ipairs({ "SET_VRING_CALL", "SET_VRING_ERR" }) do
	case {
		id = "vhost-user/fds/error-path/" ..
		     name:lower():gsub("_", "-") .. "-bad-index",
		spec = "vhost-user#front-end-message-types",
		level = "ROBUST",
		quote = [[Bits (0-7) of the payload contain the vring index.]],
		needs = { protocol_features = { "REPLY_ACK" } },
		run = function(t)
			local w, rd = probe()
			local m = vhost.msg(name, { index = 255, fd = w })
			local hung = send_repeated(t, m, { w }, 3)
			expect_all_closed(t, w, rd, 1, hung)
		end,
	}
end

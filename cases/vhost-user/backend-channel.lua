-- SPDX-License-Identifier: MIT
-- backend-channel.lua - the back-end's channel to the front-end:
-- VHOST_USER_SET_BACKEND_REQ_FD, what the back-end sends on it (in-band
-- VHOST_USER_BACKEND_VRING_CALL), its use of REPLY_ACK there, and a
-- front-end that answers late, wrongly or not at all.
--
-- Spec: vhost-user.rst, "Back-end communication", "In-band
-- notifications", SET_BACKEND_REQ_FD, "Back-end message types".

-- ---- a small front-end: memory, rings, requests ------------------------
-- Shared by backend-channel.lua, dirty-log.lua, inflight.lua,
-- status-reset.lua, device-state.lua and robustness.lua:
-- vhost.fe_helpers() in harness/lua/prelude.lua.

local FE = vhost.fe_helpers()
local F_PROTOCOL_FEATURES, FRAME = FE.F_PROTOCOL_FEATURES, FE.FRAME
local fe_start, fe_kick = FE.fe_start, FE.fe_kick

-- ---- the channel --------------------------------------------------------

local BACKEND_REQ = { protocol_features = { "BACKEND_REQ", "REPLY_ACK" } }
local INBAND = { protocol_features = { "BACKEND_REQ", "REPLY_ACK",
                                       "INBAND_NOTIFICATIONS" } }
local SET_QUOTE = [[If VHOST_USER_PROTOCOL_F_REPLY_ACK is negotiated, the
back-end must respond with zero for success, non-zero otherwise.]]
local BACKEND_VRING_CALL = 4

-- A socket pair; one end goes to the back-end. -> our end, theirs
local function channel(t)
	local ours, theirs = fdzoo.new("socket")
	assert(ours, theirs)
	return ours, theirs
end

local function set_channel(t, fd)
	local m = vhost.msg("SET_BACKEND_REQ_FD")
	m.fds = { fd }
	return m
end

-- One message from the back-end on our end of the channel: { request,
-- flags, size, payload } | nil, why.
local function ch_recv(ch, ms)
	local hdr, why = ch:read(12, ms)
	if not hdr then
		return nil, why
	end
	if #hdr < 12 then
		local more = ch:read(12 - #hdr, ms) or ""
		hdr = hdr .. more
	end
	if #hdr < 12 then
		return nil, "a short header"
	end
	local req, flags, size = string.unpack("<I4I4I4", hdr)
	local payload = ""
	if size > 0 then
		payload = ch:read(size, ms) or ""
	end
	return { request = req, flags = flags, size = size, payload = payload }
end

-- Our answer on the channel: a u64 with the reply flag.
local function ch_reply(ch, req, value)
	ch:write(vhost.bytes(vhost.raw{
		request = req, flags = vhost.VERSION | vhost.REPLY, size = 8,
		payload = string.pack("<I8", value) }))
end

-- A session with in-band notifications: the channel set, the device's
-- rings set up with no call fd (NOFD) and no kick fd, so that each used
-- buffer is announced by a VHOST_USER_BACKEND_VRING_CALL on the channel.
-- -> fe, our end of the channel
local function inband_session(t)
	local ours, theirs = channel(t)
	t:expect_ack(set_channel(t, theirs))
	theirs:close()
	local fe = fe_start(t, { call = false, kick = false })
	for i in pairs(fe.q) do
		t:expect_ack(vhost.msg("SET_VRING_CALL", { index = i }))
	end
	return fe, ours
end

-- The request that makes the device use a buffer, without waiting: the
-- ring index whose call is due.
local function submit(fe)
	local m = fe.mem
	if fe.t.device == "blk" then
		local hdr, st = assert(m:alloc(16)), assert(m:alloc(1))
		local buf = assert(m:alloc(512, 512))
		m:write(hdr, string.pack("<I4I4I8", 0, 0, 0))
		assert(fe.q[0]:add{ { gpa = hdr, len = 16 },
		                    { gpa = buf, len = 512, write = true },
		                    { gpa = st, len = 1, write = true },
		                    token = 1 })
		fe_kick(fe, 0)
		return 0
	end
	local tx = assert(m:alloc(12 + #FRAME))
	m:write(tx, string.rep("\0", 12) .. FRAME)
	assert(fe.q[1]:add{ { gpa = tx, len = 12 + #FRAME }, token = 3 })
	fe_kick(fe, 1)
	return 1
end

-- Wait for the in-band call of ring i (other messages noted and acked):
-- the message | nil, why.
local function wait_call(t, ch, ms)
	local stop = t:now_ms() + ms
	while t:now_ms() < stop do
		local m, why = ch_recv(ch, 100)
		if m then
			t:note(("back-end channel: request %d flags 0x%x size %d")
			       :format(m.request, m.flags, m.size))
			if m.request == BACKEND_VRING_CALL then
				return m
			end
			if m.flags & vhost.NEED_REPLY ~= 0 then
				ch_reply(ch, m.request, 0)
			end
		elseif why ~= "timeout" then
			return nil, why
		end
	end
	return nil, "no VHOST_USER_BACKEND_VRING_CALL within " .. ms .. " ms"
end

-- "If VHOST_USER_PROTOCOL_F_REPLY_ACK is negotiated, the back-end must
-- respond with zero for success": a socket is what the channel is.
case {
	id = "vhost-user/backend-channel/set-fd-acked",
	spec = "vhost-user#vhost-user-set-backend-req-fd",
	level = "MUST",
	quote = SET_QUOTE,
	needs = BACKEND_REQ,
	run = function(t)
		local ours, theirs = channel(t)
		t:expect_ack(set_channel(t, theirs))
		local _ = ours
	end,
}

-- Without the fd there is no channel: the request cannot have succeeded,
-- so its ack is non-zero (or the back-end hangs up).
case {
	id = "vhost-user/backend-channel/set-fd-missing",
	spec = "vhost-user#vhost-user-set-backend-req-fd",
	level = "MUST",
	quote = SET_QUOTE,
	needs = BACKEND_REQ,
	run = function(t)
		t:expect_refusal(set_channel(t, nil))
		t:expect_alive()
	end,
}

-- "Set the socket file descriptor": other kinds of fd. A back-end may
-- take one and fail only when it writes; any answer, no crash, and the
-- session still answers.
for _, kind in ipairs({ "eventfd", "pipe-read", "pipe-write", "memfd",
                        "dev-null" }) do
	case {
		id = "vhost-user/backend-channel/set-fd-" .. kind,
		spec = "vhost-user#vhost-user-set-backend-req-fd",
		level = "ROBUST",
		quote = [[Set the socket file descriptor for back-end initiated
requests. It is passed in the ancillary data.]],
		needs = BACKEND_REQ,
		run = function(t)
			local fd, other = fdzoo.new(kind)
			local _, k = t:expect_robust(set_channel(t, fd))
			if k ~= "hangup" then
				t:expect_robust(vhost.msg("GET_FEATURES"))
			end
			local _ = other
		end,
	}
end

case {
	id = "vhost-user/backend-channel/set-fd-two",
	spec = "vhost-user#vhost-user-set-backend-req-fd",
	level = "ROBUST",
	quote = [[Set the socket file descriptor for back-end initiated
requests. It is passed in the ancillary data.]],
	needs = BACKEND_REQ,
	run = function(t)
		local a, b = channel(t)
		local c, d = channel(t)
		local m = set_channel(t, b)
		m.fds = { b, d }
		t:expect_robust(m)
		local _ = { a, c }
	end,
}

-- A channel replaced again and again (a front-end reconnecting its side):
-- the old ones are closed, the back-end's fd count stays put.
case {
	id = "vhost-user/backend-channel/replaced-no-leak",
	spec = "vhost-user#back-end-communication",
	level = "ROBUST",
	quote = [[The fd is provided via VHOST_USER_SET_BACKEND_REQ_FD ancillary
data.]],
	needs = BACKEND_REQ,
	run = function(t)
		if not t:has_process() then
			t:skip("no target process to count fds of")
		end
		local ours, theirs = channel(t)
		t:expect_ack(set_channel(t, theirs))
		theirs:close()
		local before = t:fd_count()
		for _ = 1, 32 do
			local o, th = channel(t)
			t:expect_ack(set_channel(t, th))
			th:close()
			o:close()
		end
		local after = t:fd_count()
		t:check(after - before < 8,
		        ("the back-end's fd count steady (%d)"):format(before),
		        ("%d after 32 more channels"):format(after))
		local _ = ours
	end,
}

-- The in-band call for a used buffer: "VHOST_USER_BACKEND_VRING_CALL ...
-- vring state description ... The state.num field is currently reserved
-- and must be set to 0", sent as a request (version 1, no reply flag).
case {
	id = "vhost-user/backend-channel/inband-call-well-formed",
	spec = "vhost-user#vhost-user-backend-vring-call",
	level = "MUST",
	quote = [[The state.num field is currently reserved and must be set to 0.]],
	needs = INBAND,
	run = function(t)
		local fe, ch = inband_session(t)
		local i = submit(fe)
		local m, why = wait_call(t, ch, 2000)
		t:check(m ~= nil, "an in-band call on the channel", why)
		if m.flags & vhost.NEED_REPLY ~= 0 then
			ch_reply(ch, m.request, 0)
		end
		t:check(m.flags & 3 == 1 and m.flags & vhost.REPLY == 0,
		        "version 1, no reply flag", ("flags 0x%x"):format(m.flags))
		t:check(m.size == 8 and #m.payload == 8,
		        "an 8-byte vring state", ("%d bytes"):format(#m.payload))
		local index, num = string.unpack("<I4I4", m.payload)
		t:check(index == i, ("ring index %d"):format(i),
		        ("index %d"):format(index))
		t:check(num == 0, "num 0", ("num %d"):format(num))
	end,
}

-- REPLY_ACK on the in-band call: "the latter needs to be used with the
-- in-band notification messages to block until they are processed".
case {
	id = "vhost-user/backend-channel/inband-call-needs-reply",
	spec = "vhost-user#in-band-notifications",
	level = "SHOULD",
	quote = [[the latter needs to be used with the in-band notification
messages to block until they are processed]],
	needs = INBAND,
	run = function(t)
		local fe, ch = inband_session(t)
		submit(fe)
		local m, why = wait_call(t, ch, 2000)
		t:check(m ~= nil, "an in-band call on the channel", why)
		t:check(m.flags & vhost.NEED_REPLY ~= 0, "need_reply set",
		        ("flags 0x%x"):format(m.flags))
		ch_reply(ch, m.request, 0)
	end,
}

-- The front-end's answer on the channel goes wrong: none, an error, a
-- reply to something else, garbage. The back-end keeps serving its main
-- socket (a back-end that waits forever for the answer stalls the guest).
local ANSWERS = {
	{ "unanswered", nil },
	{ "nacked", function(ch, m) ch_reply(ch, m.request, 1) end },
	{ "wrong-reply", function(ch) ch_reply(ch, 99, 0) end },
	{ "garbage-reply", function(ch) ch:write(string.rep("\xff", 12)) end },
	{ "short-reply", function(ch, m)
		ch:write(string.pack("<I4I4I4", m.request, 5, 8) .. "\0")
	end },
}
for _, a in ipairs(ANSWERS) do
	case {
		id = "vhost-user/backend-channel/inband-call-" .. a[1],
		spec = "vhost-user#back-end-message-types",
		level = "ROBUST",
		quote = [[For this type of message, the request is sent by the back-end
and the reply is sent by the front-end.]],
		needs = INBAND,
		run = function(t)
			local fe, ch = inband_session(t)
			submit(fe)
			local m, why = wait_call(t, ch, 2000)
			t:check(m ~= nil, "an in-band call on the channel", why)
			if a[2] then
				a[2](ch, m)
			end
			t:expect(vhost.msg("GET_FEATURES"), { "reply", "hangup" },
			         { timeout = 4000 })
			t:expect_alive()
		end,
	}
end

-- The front-end closes its end of the channel: the back-end's next
-- message fails (EPIPE; SIGPIPE for a C back-end that does not ignore it).
case {
	id = "vhost-user/backend-channel/closed-by-frontend",
	spec = "vhost-user#back-end-communication",
	level = "ROBUST",
	quote = [[A back-end may then send VHOST_USER_BACKEND_* messages to the
front-end using this fd communication channel.]],
	needs = INBAND,
	run = function(t)
		local fe, ch = inband_session(t)
		ch:close()
		submit(fe)
		t:sleep(50)
		t:expect(vhost.msg("GET_FEATURES"), { "reply", "hangup" },
		         { timeout = 3000 })
		t:expect_alive()
	end,
}

-- "It is also considered an error to negotiate this feature without also
-- negotiating VHOST_USER_PROTOCOL_F_BACKEND_REQ and
-- VHOST_USER_PROTOCOL_F_REPLY_ACK ... the back-end should close the
-- connection".
local PARTIAL = {
	{ "inband-alone", {} },
	{ "inband-without-backend-req", { "REPLY_ACK" } },
	{ "inband-without-reply-ack", { "BACKEND_REQ" } },
}
for _, p in ipairs(PARTIAL) do
	case {
		id = "vhost-user/backend-channel/" .. p[1],
		spec = "vhost-user#in-band-notifications",
		level = "SHOULD",
		quote = [[the back-end should close the connection as a response to a
VHOST_USER_SET_PROTOCOL_FEATURES message that sets the in-band
notifications feature flag without the other two.]],
		run = function(t)
			local r = t:call(vhost.msg("GET_FEATURES"))
			t:check(r and r.u64, "a GET_FEATURES reply", r and r.text)
			if r.u64 & F_PROTOCOL_FEATURES == 0 then
				t:skip("no protocol features offered")
			end
			local pr = t:call(vhost.msg("GET_PROTOCOL_FEATURES"))
			t:check(pr and pr.u64, "a GET_PROTOCOL_FEATURES reply",
			        pr and pr.text)
			local want = { "INBAND_NOTIFICATIONS" }
			for _, f in ipairs(p[2]) do
				want[#want + 1] = f
			end
			local mask = vhost.protocol_features(want)
			if pr.u64 & mask ~= mask then
				t:skip("INBAND_NOTIFICATIONS (or its partner) not " ..
				       "offered")
			end
			t:send(vhost.msg("SET_PROTOCOL_FEATURES", { features = mask }))
			t:expect(vhost.msg("GET_FEATURES"), { "hangup" },
			         { need_reply = false })
			t:expect_alive()
		end,
	}
end

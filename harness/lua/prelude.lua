-- SPDX-License-Identifier: MIT
-- prelude.lua - the Lua half of the case API, loaded before any case file
-- (embedded in the program at build time).
--
-- Verdict helpers that accept every legal reaction and say expected vs
-- actual; the vhost-user handshake and the vfio-user version exchange that
-- `needs` relies on; the replay behind reproducer scripts; and the
-- wrapper that runs one case body. See harness/lua/README.md.

local T = __vuc.T

-- What each reaction kind means, for expected / actual lines.
local KIND_TEXT = {
	ack = "ack 0",
	nack = "an error reply (non-zero ack)",
	reply = "a well-formed reply",
	hangup = "hang-up",
	timeout = "no reply",
	malformed = "a malformed reply",
}
local KIND_TEXT_VFIO = {
	ack = "a success reply",
	nack = "an error reply",
}

local function kinds_of(accept, level)
	if type(accept) == "string" then
		local list = {}
		for k in accept:gmatch("[^|,%s]+") do
			list[#list + 1] = k
		end
		accept = list
	end
	if type(accept) ~= "table" or #accept == 0 then
		error("accept: a list of reaction kinds, or \"nack|hangup\"",
		      level + 1)
	end
	local set = {}
	for _, k in ipairs(accept) do
		if not KIND_TEXT[k] then
			error("unknown reaction kind \"" .. tostring(k) ..
			      "\" (ack, nack, reply, hangup, timeout, malformed)",
			      level + 1)
		end
		set[k] = true
	end
	return accept, set
end

local function kinds_text(list, protocol)
	local words = {}
	for i, k in ipairs(list) do
		words[i] = protocol == "vfio-user" and KIND_TEXT_VFIO[k] or
		           KIND_TEXT[k]
	end
	if #words == 1 then
		return words[1]
	end
	return table.concat(words, ", ", 1, #words - 1) .. " or " ..
	       words[#words]
end

-- t:expect(m, accept [, opts]) -> reply (or true), kind
-- Sends m, takes one reaction, and FAILs unless its kind is accepted.
function T:expect(m, accept, opts)
	local list, set = kinds_of(accept, 2)
	opts = opts or {}
	local kind, reply, detail = self:react(m, opts)
	if set[kind] then
		return reply or true, kind
	end
	local expected = opts.expected or kinds_text(list, self.protocol)
	self:note("expect " .. table.concat(list, "|") .. "; got " .. kind ..
	          ": " .. tostring(detail))
	self:fail{ expected = expected, actual = detail }
end

local function with(opts, k, v)
	local o = {}
	for key, val in pairs(opts or {}) do
		o[key] = val
	end
	if o[k] == nil then
		o[k] = v
	end
	return o
end

-- The request was fine: "ack 0" (REPLY_ACK), or a vfio-user success.
function T:expect_ack(m, opts)
	return self:expect(m, { "ack" }, with(opts, "need_reply", "auto"))
end
T.expect_success = T.expect_ack

-- The request must be refused: an error reply or a hang-up; not an ack 0,
-- not silence past the deadline, not a malformed reply.
function T:expect_refusal(m, opts)
	return self:expect(m, { "nack", "hangup" },
	                   with(opts, "need_reply", "auto"))
end

-- Nothing may come back within the timeout (opts.hangup_ok: or a hang-up).
function T:expect_no_reply(m, opts)
	opts = with(opts, "need_reply", false)
	local accept = { "timeout" }
	if opts.hangup_ok then
		accept[2] = "hangup"
	end
	return self:expect(m, accept, opts)
end

-- An explicit reply body (GET_FEATURES, ...) or a success.
function T:expect_reply(m, opts)
	return self:expect(m, { "reply", "ack" }, opts)
end

-- vfio-user: an error reply, with errno @err ("EINVAL" or a number) if
-- given; opts.hangup_ok also accepts a hang-up.
function T:expect_error(m, err, opts)
	opts = opts or {}
	local accept = { "nack" }
	if opts.hangup_ok then
		accept[2] = "hangup"
	end
	local r, kind = self:expect(m, accept, opts)
	if kind == "nack" and err ~= nil then
		local want = type(err) == "string" and vfio.errno(err) or err
		if r.error ~= want then
			self:fail{
				expected = "an error reply " .. tostring(err),
				actual = "error reply " ..
				         (r.error_name or tostring(r.error)),
			}
		end
	end
	return r, kind
end

-- ROBUST cases, where the spec is silent: any answer or a hang-up is
-- fine; a crash, a malformed answer, or silence where a reply is due is
-- not. A reply is due on vfio-user, and on vhost-user once REPLY_ACK is
-- negotiated (opts.silence_ok accepts silence anyway). The process must
-- still be running afterwards.
function T:expect_robust(m, opts)
	opts = with(opts, "need_reply", "auto")
	local accept = { "ack", "nack", "reply", "hangup" }
	local neg = self:negotiated()
	local acked = neg and neg & (1 << vhost.PF.REPLY_ACK) ~= 0
	if opts.silence_ok or (self.protocol == "vhost-user" and not acked) then
		accept[#accept + 1] = "timeout"
	end
	local r, kind = self:expect(m, accept, opts)
	self:expect_alive()
	return r, kind
end

-- The target did not crash: it is still running, or it ended by itself
-- with an exit status. "If back-end detects some error ... it may also
-- close the connection", and a one-connection daemon then exits: with 0,
-- or (libvhost-user's daemons) with 1 after a protocol error; both are its
-- choice, not a crash. Death by a signal is a crash (the watchdog also
-- fails a sanitizer report). Not checked, only noted, when the run has no
-- process (--connect, --listen, tests without a target).
function T:expect_alive()
	if not self:has_process() then
		self:note("no target process: liveness not checked")
		return true
	end
	local alive, how = self:alive()
	if alive then
		return true
	end
	if tostring(how):match("^exit %d+$") then
		self:note("the target exited by itself: " .. how)
		return true
	end
	self:fail{ expected = "the target process running, or exited by itself",
	           actual = "it died: " .. tostring(how) }
end

-- ---- vhost-user handshake ----------------------------------------------

local F_PROTOCOL_FEATURES = 1 << 30
local F_VERSION_1 = 1 << 32

local function names(mask)
	local n = vhost.protocol_feature_names(mask)
	if #n == 0 then
		return "none"
	end
	return table.concat(n, ", ")
end

-- One setup request: acked when REPLY_ACK is in force, else just sent.
local function setup(t, m, what)
	local neg = t:negotiated()
	if neg and neg & (1 << vhost.PF.REPLY_ACK) ~= 0 then
		local kind, _, detail = t:react(m, { need_reply = true })
		if kind ~= "ack" then
			t:fail{ expected = "handshake: " .. what .. " acked",
			        actual = detail }
		end
		return
	end
	local ok, err = t:send(m)
	if not ok then
		t:fail{ expected = "handshake: " .. what .. " sent",
		        actual = err }
	end
end

-- vhost.handshake(t [, opts]) -> hs
-- GET_FEATURES, GET_PROTOCOL_FEATURES and SET_PROTOCOL_FEATURES (when
-- offered), SET_OWNER, SET_FEATURES. Acks what is offered of: VERSION_1,
-- PROTOCOL_FEATURES, REPLY_ACK, and opts.features / opts.protocol_features.
-- opts.require: SKIP when something asked for is not offered.
-- opts.set_owner = false / opts.set_features = false leave those out;
-- opts.ack_features / opts.ack_protocol_features ack exactly that mask.
-- hs = { features, protocol_features (offered), acked_features,
--        acked_protocol_features }; also stored as t.hs.
function vhost.handshake(t, opts)
	opts = opts or {}
	local hs = {}
	local r, why = t:call(vhost.msg("GET_FEATURES"))
	if not r or not r.u64 then
		t:fail{ expected = "handshake: a VHOST_USER_GET_FEATURES reply",
		        actual = why or r.text }
	end
	hs.features = r.u64
	local want = vhost.features(opts.features or {})
	if opts.require and hs.features & want ~= want then
		t:skip(("needs virtio features 0x%x; offered 0x%x"):format(
			want, hs.features))
	end
	local ack = opts.ack_features or
	            hs.features & (want | F_VERSION_1 | F_PROTOCOL_FEATURES)
	local pwant = vhost.protocol_features(opts.protocol_features or {})
	hs.protocol_features = 0
	hs.acked_protocol_features = 0
	if hs.features & F_PROTOCOL_FEATURES ~= 0 then
		r, why = t:call(vhost.msg("GET_PROTOCOL_FEATURES"))
		if not r or not r.u64 then
			t:fail{ expected = "handshake: a " ..
			        "VHOST_USER_GET_PROTOCOL_FEATURES reply",
			        actual = why or r.text }
		end
		hs.protocol_features = r.u64
		local missing = pwant & ~hs.protocol_features
		if opts.require and missing ~= 0 then
			t:skip("needs protocol feature " .. names(missing) ..
			       ", not offered (offered: " ..
			       names(hs.protocol_features) .. ")")
		end
		local pack = opts.ack_protocol_features or hs.protocol_features &
		             (pwant | (1 << vhost.PF.REPLY_ACK))
		local ok, err = t:send(vhost.msg("SET_PROTOCOL_FEATURES",
		                                 { features = pack }))
		if not ok then
			t:fail{ expected = "handshake: SET_PROTOCOL_FEATURES sent",
			        actual = err }
		end
		hs.acked_protocol_features = pack
	else
		if opts.require and pwant ~= 0 then
			t:skip("needs protocol feature " .. names(pwant) ..
			       ", but the target offers no protocol features")
		end
		t:set_negotiated(0)
	end
	if opts.set_owner ~= false then
		setup(t, vhost.msg("SET_OWNER"), "SET_OWNER")
	end
	if opts.set_features ~= false then
		setup(t, vhost.msg("SET_FEATURES", { u64 = ack }),
		      "SET_FEATURES")
	end
	hs.acked_features = ack
	t.hs = hs
	return hs
end

-- vfio.version(t [, caps]) -> { major, minor, caps }; also t.version.
-- FAILs unless the server answers VERSION with a success reply.
function vfio.version(t, caps)
	local r, kind = t:call(vfio.msg("VERSION", { caps = caps or {} }))
	if not r then
		t:fail{ expected = "a VFIO_USER_VERSION reply", actual = kind }
	end
	if kind ~= "ack" then
		t:fail{ expected = "a VFIO_USER_VERSION success reply",
		        actual = r.text }
	end
	t.version = { major = r.major, minor = r.minor, caps = r.caps }
	return t.version
end

-- ---- reproducers --------------------------------------------------------

local function contains(list, k)
	for _, v in ipairs(list) do
		if v == k then
			return true
		end
	end
	return false
end

-- t:replay(steps, opts): what a reproducer script calls (see
-- lua_repro.c for the steps). Resends each SEND, takes the reaction where
-- the failing run took one, and judges the last reaction: PASS if
-- opts.accept lists its kind; without accept, FAIL while the target still
-- reacts exactly as it did in the failing run.
function T:replay(steps, opts)
	opts = opts or {}
	local accept = opts.accept and kinds_of(opts.accept, 2)
	local offset = nil
	local last, changed = nil, false
	local i = 1
	while i <= #steps do
		local s = steps[i]
		if s.send then
			offset = offset or (self:now_ms() - s.at)
			local lag = s.at - (self:now_ms() - offset)
			if lag > 1 then
				self:sleep(math.floor(lag))
			end
			local fds = {}
			for _, d in ipairs(s.fds or {}) do
				local fd, err = fdzoo.like(d)
				if not fd then
					self:error("replay: cannot make an fd like " ..
					           d .. ": " .. err)
				end
				fds[#fds + 1] = fd
			end
			local o = { fds = fds, split = s.split, fds_on = s.fds_on,
			            delay_ms = s.delay_ms }
			local nxt = steps[i + 1]
			if nxt and nxt.kind then
				if nxt.kind == "timeout" then
					o.timeout = math.ceil(nxt.at - s.at) + 50
				end
				local kind, _, detail = self:react(s.send, o)
				if kind ~= nxt.kind then
					changed = true
				end
				last = { kind = kind, detail = detail,
				         was = nxt.kind }
				i = i + 2
			else
				self:send(s.send, o)
				i = i + 1
			end
		elseif s.recv then
			-- a message the case read without a send just before
			self:recv{}
			i = i + 1
		else
			local sig = s.note:match("^signal (%u+)")
			local how = s.note:match("^shutdown (%a+)")
			if s.note == "restart" then
				self:restart()
			elseif sig then
				self:signal(sig)
			elseif how then
				self:shutdown(how)
			end
			i = i + 1
		end
	end
	if not last then
		self:error("replay: the trace holds no reaction to judge")
	end
	if accept then
		if contains(accept, last.kind) then
			return true
		end
		self:fail{ expected = opts.expected or
		                      kinds_text(accept, self.protocol),
		           actual = last.detail }
	end
	if not changed then
		self:fail{ expected = opts.expected,
		           actual = "as in the failing run: " .. last.detail }
	end
	self:note("the target reacts differently now: " .. last.kind ..
	          " (was " .. last.was .. ")")
	return true
end

-- ---- running one case --------------------------------------------------

-- What lua_cases_run() calls: `needs` first (device, then the handshake
-- that decides protocol-feature SKIPs), then the body.
function __vuc.run_case(t, decl)
	local needs = decl.needs or {}
	if needs.device and t.device and needs.device ~= t.device then
		t:skip("needs a " .. needs.device .. " device; the target is " ..
		       t.device)
	end
	if decl.protocol == "vhost-user" then
		local auto = needs.protocol_features or needs.features or
		             needs.handshake
		if auto and needs.handshake ~= false then
			vhost.handshake(t, {
				protocol_features = needs.protocol_features,
				features = needs.features,
				require = true,
			})
		end
	elseif needs.handshake then
		vfio.version(t, needs.caps)
	end
	return decl.run(t)
end

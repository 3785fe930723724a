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

-- Plausible fields per front-end request, for cases generated from the
-- rule table that need "a well-formed one of each" (vring 0, harmless
-- values). Requests not listed take the builder's defaults.
local SAMPLE_FIELDS = {
	SET_VRING_NUM = { index = 0, num = 256 },
	SET_VRING_BASE = { index = 0, num = 0 },
	GET_VRING_BASE = { index = 0, num = 0 },
	SET_VRING_ENABLE = { index = 0, num = 1 },
	SET_VRING_ENDIAN = { index = 0, num = 0 },
	VRING_KICK = { index = 0, num = 0 },
	NET_SET_MTU = { u64 = 1500 },
	GET_CONFIG = { offset = 0, size = 8 },
	SET_CONFIG = { offset = 0, size = 1, data = "\0" },
	CREATE_CRYPTO_SESSION = { payload = string.rep("\0", 8) },
	GET_INFLIGHT_FD = { num_queues = 1, queue_size = 256 },
	REM_MEM_REG = { region = { guest_addr = 0, size = 0x1000,
	                           user_addr = 0, mmap_offset = 0 } },
}

-- vhost.sample(name [, t]) -> a well-formed message of request @name
-- (spec name, with or without the prefix), without fds: SET_FEATURES and
-- SET_PROTOCOL_FEATURES repeat what t.hs acked, when there is a t.hs.
function vhost.sample(name, t)
	local short = name:gsub("^VHOST_USER_", "")
	local fields = SAMPLE_FIELDS[short] or {}
	local hs = t and t.hs
	if short == "SET_FEATURES" and hs then
		fields = { u64 = hs.acked_features }
	elseif short == "SET_PROTOCOL_FEATURES" and hs then
		fields = { features = hs.acked_protocol_features }
	end
	return vhost.msg(short, fields)
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

-- What lua_cases_run() calls: `needs` first (device, profile, then the
-- handshake that decides protocol-feature SKIPs), then the body.
function __vuc.run_case(t, decl)
	local needs = decl.needs or {}
	if needs.device and t.device and needs.device ~= t.device then
		t:skip("needs a " .. needs.device .. " device; the target is " ..
		       t.device)
	end
	-- de-facto behaviour of one implementation: only with --profile
	if needs.profile and not (t.profiles or {})[needs.profile] then
		t:skip("profile " .. needs.profile .. " not selected")
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

-- ---- data plane: the fake front-end as a virtio driver (virtio.*) -------
-- For the cases under cases/virtio/: one call sets up a device's rings
-- (memory table, NUM / BASE / ADDR / KICK / CALL / ENABLE, split or
-- packed), then requests go in as byte strings and come back as used
-- lengths and written bytes. Every data buffer sits between two guard
-- areas, and device-readable buffers are remembered: d:check_memory()
-- FAILs when the device wrote outside the buffers it was given or into a
-- device-readable one.

virtio = {
	-- feature bits (VIRTIO "Reserved Feature Bits" and device sections)
	F_INDIRECT_DESC = 28, F_EVENT_IDX = 29, F_VERSION_1 = 32,
	F_RING_PACKED = 34, F_PROTOCOL_FEATURES = 30,
	NET_F_MRG_RXBUF = 15,
	BLK_F_RO = 5, BLK_F_FLUSH = 9, BLK_F_DISCARD = 13,
	BLK_F_WRITE_ZEROES = 14,
	-- virtio-blk request types and status
	BLK_T_IN = 0, BLK_T_OUT = 1, BLK_T_FLUSH = 4, BLK_T_GET_ID = 8,
	BLK_T_DISCARD = 11, BLK_T_WRITE_ZEROES = 13,
	BLK_S_OK = 0, BLK_S_IOERR = 1, BLK_S_UNSUPP = 2,
}

local DP_GUARD = 32          -- guard bytes each side of a buffer
local DP_GUARD_BYTE = "\90"  -- 0x5a
local DP_FRESH_BYTE = "\238" -- 0xee: writable buffers before the device

-- Vring layout per device profile: the queues a case drives.
local DP_QUEUES = {
	net = { rx = 0, tx = 1, all = { 0, 1 } },
	blk = { req = 0, all = { 0 } },
	fs = { hiprio = 0, req = 1, all = { 0, 1 } },
	generic = { req = 0, all = { 0 } },
}

local D = {}
D.__index = D

local function dp_has(mask, bit)
	return mask & (1 << bit) ~= 0
end

-- A setup request: acked when REPLY_ACK is in force, else only sent.
local function dp_step(t, m, what)
	local neg = t:negotiated()
	if neg and neg & (1 << vhost.PF.REPLY_ACK) ~= 0 then
		local kind, _, detail = t:react(m, { need_reply = true })
		if kind ~= "ack" then
			t:fail{ expected = (what or m.name) .. " acked (setup)",
			        actual = detail }
		end
		return
	end
	local ok, err = t:send(m)
	if not ok then
		t:fail{ expected = (what or m.name) .. " sent (setup)",
		        actual = err }
	end
end
virtio.step = dp_step

-- virtio.device(t [, o]) -> d: the handshake (unless t.hs), guest memory
-- and the device's rings started. o:
--   packed      packed rings (SKIP unless VIRTIO_F_RING_PACKED offered)
--   event_idx   ack VIRTIO_F_EVENT_IDX (SKIP unless offered)
--   indirect    ack VIRTIO_F_INDIRECT_DESC (SKIP unless offered)
--   want, need  lists of device feature bits: acked if offered / SKIP
--               unless offered
--   pf          protocol feature names needed (SKIP unless offered)
--   queues      vring indices to set up (default: the profile's all)
--   num         queue size (64)
--   kick, call  fd kinds ("eventfd-nonblock"); kick "inband": none sent,
--               VHOST_USER_VRING_KICK instead; "nofd": the NOFD bit
--   enable      SET_VRING_ENABLE 1 when PROTOCOL_FEATURES is acked (true)
--   base        SET_VRING_BASE value (0; packed: 0x80008000)
--   no_rings    memory table only; d:start(i) later
function virtio.device(t, o)
	o = o or {}
	local dev = t.device or "generic"
	local lay = DP_QUEUES[dev] or DP_QUEUES.generic
	local want = { virtio.F_VERSION_1 }
	local need = {}
	for _, b in ipairs(o.want or {}) do
		want[#want + 1] = b
	end
	for _, b in ipairs(o.need or {}) do
		need[#need + 1] = b
	end
	if o.packed then
		need[#need + 1] = virtio.F_RING_PACKED
	end
	if o.event_idx then
		need[#need + 1] = virtio.F_EVENT_IDX
	end
	if o.indirect then
		need[#need + 1] = virtio.F_INDIRECT_DESC
	end
	local feats = {}
	for _, b in ipairs(want) do
		feats[#feats + 1] = b
	end
	for _, b in ipairs(need) do
		feats[#feats + 1] = b
	end
	local pf = { "REPLY_ACK" }
	for _, p in ipairs(o.pf or {}) do
		pf[#pf + 1] = p
	end
	local hs = t.hs or vhost.handshake(t, { features = feats,
	                                        protocol_features = pf })
	for _, b in ipairs(need) do
		if not dp_has(hs.features, b) then
			t:skip(("needs virtio feature bit %d, not offered " ..
			        "(offered 0x%x)"):format(b, hs.features))
		end
		if not dp_has(hs.acked_features, b) then
			t:error(("feature bit %d offered but not acked"):format(b))
		end
	end
	local pmask = vhost.protocol_features(o.pf or {})
	if hs.acked_protocol_features & pmask ~= pmask then
		local n = vhost.protocol_feature_names(pmask &
		                                       ~hs.acked_protocol_features)
		t:skip("needs protocol feature " .. table.concat(n, ", ") ..
		       ", not offered")
	end
	local d = setmetatable({
		t = t, dev = dev, lay = lay, hs = hs, o = o,
		features = hs.acked_features,
		packed = o.packed or false, num = o.num or 64,
		q = {}, kick_fd = {}, call_fd = {}, kick_kind = {},
		call_kind = {}, tokens = {}, done = {}, token = 0,
		bufs = {}, started = {},
	}, D)
	d.hdr_len = (dp_has(d.features, virtio.F_VERSION_1) or
	             dp_has(d.features, virtio.NET_F_MRG_RXBUF)) and 12 or 10
	d.mem = gmem.new()
	assert(d.mem:add_region(0x100000, 4 << 20))
	d.base_gpa = 0x100000
	dp_step(t, vhost.msg("SET_MEM_TABLE", { regions = d.mem:regions() }),
	        "SET_MEM_TABLE")
	if not o.no_rings then
		for _, i in ipairs(o.queues or lay.all) do
			d:start(i, o)
		end
	end
	return d
end

-- A fresh notification fd of @kind: (the fd to send, our end).
local function dp_fd(kind)
	local a, b = fdzoo.new(kind)
	if not a then
		error("fdzoo.new(" .. kind .. "): " .. tostring(b), 3)
	end
	return a, b or a
end

-- d:start(i [, o]): lay out ring @i and start it (NUM, BASE, ADDR, KICK,
-- CALL, ENABLE). o.kick / o.call / o.base / o.enable as virtio.device's;
-- o.ring: reuse that ring object (a restart).
function D:start(i, o)
	o = o or {}
	local t = self.t
	local q = o.ring or self.q[i]
	if not q then
		local mk = self.packed and ring.packed or ring.split
		q = assert(mk(self.mem, self.num, self.features, 8))
	end
	self.q[i] = q
	local a = q:addrs()
	local base = o.base or (self.packed and 0x80008000 or 0)
	if not o.ring and base ~= (self.packed and 0x80008000 or 0) then
		assert(q:set_base(base)) -- the driver side starts there too
	end
	dp_step(t, vhost.msg("SET_VRING_NUM", { index = i, num = a.num }))
	dp_step(t, vhost.msg("SET_VRING_BASE", { index = i, num = base }))
	dp_step(t, vhost.msg("SET_VRING_ADDR", { index = i, desc = a.desc,
	                     used = a.used, avail = a.avail }))
	local kk = o.kick or self.o.kick or "eventfd-nonblock"
	self.kick_kind[i] = kk
	if kk == "nofd" then
		dp_step(t, vhost.msg("SET_VRING_KICK", { index = i }))
		self.kick_fd[i] = nil
	elseif kk ~= "inband" then
		local send, ours = dp_fd(kk)
		dp_step(t, vhost.msg("SET_VRING_KICK", { index = i, fd = send }))
		self.kick_fd[i] = ours
		self.kick_keep = self.kick_keep or {}
		self.kick_keep[i] = send
	end
	local ck = o.call or self.o.call or "eventfd-nonblock"
	self.call_kind[i] = ck
	if ck == "nofd" then
		dp_step(t, vhost.msg("SET_VRING_CALL", { index = i }))
		self.call_fd[i] = nil
	else
		local send, ours = dp_fd(ck)
		dp_step(t, vhost.msg("SET_VRING_CALL", { index = i, fd = send }))
		self.call_fd[i] = ours
		self.call_keep = self.call_keep or {}
		self.call_keep[i] = send
	end
	local en = o.enable
	if en == nil then
		en = self.o.enable
	end
	if en ~= false and dp_has(self.features, virtio.F_PROTOCOL_FEATURES) then
		dp_step(t, vhost.msg("SET_VRING_ENABLE", { index = i, num = 1 }))
	end
	self.started[i] = true
	return q
end

-- d:buf(len [, bytes]) -> gpa: a buffer between two guard areas; with
-- @bytes (device-readable) its content is written and remembered, else
-- it is filled with 0xee.
function D:buf(len, bytes)
	local gpa
	if self.arena then -- d.arena: carve from this guest address on
		gpa = (self.arena + 15) & ~15
		self.arena = gpa + len + 2 * DP_GUARD
	else
		gpa = assert(self.mem:alloc(len + 2 * DP_GUARD, 16))
	end
	local g = DP_GUARD_BYTE:rep(DP_GUARD)
	assert(self.mem:write(gpa, g))
	assert(self.mem:write(gpa + DP_GUARD + len, g))
	local b = gpa + DP_GUARD
	if bytes then
		assert(#bytes == len)
		assert(self.mem:write(b, bytes))
	elseif len > 0 then
		assert(self.mem:write(b, DP_FRESH_BYTE:rep(len)))
	end
	self.bufs[#self.bufs + 1] = { gpa = b, len = len, ro = bytes }
	return b
end

-- d:check_memory([what]): FAIL if a guard area or a device-readable
-- buffer changed ("A device MUST NOT write to a device-readable buffer").
function D:check_memory(what)
	local g = DP_GUARD_BYTE:rep(DP_GUARD)
	for _, b in ipairs(self.bufs) do
		local before = self.mem:read(b.gpa - DP_GUARD, DP_GUARD)
		local after = self.mem:read(b.gpa + b.len, DP_GUARD)
		if before ~= g or after ~= g then
			self.t:fail{
				expected = (what and what .. ": " or "") ..
				           "nothing written outside the buffers given",
				actual = ("the guard area %s the %d-byte buffer at " ..
				          "0x%x was overwritten"):format(
				          before ~= g and "before" or "after", b.len,
				          b.gpa) }
		end
		if b.ro and self.mem:read(b.gpa, b.len) ~= b.ro then
			self.t:fail{
				expected = (what and what .. ": " or "") ..
				           "device-readable buffers left unchanged",
				actual = ("the %d-byte device-readable buffer at 0x%x " ..
				          "was written"):format(b.len, b.gpa) }
		end
	end
end

-- Cut @total bytes into pieces of the sizes in @cut (the rest in a last
-- piece); no cut: one piece.
local function dp_cut(total, cut)
	local sizes, left = {}, total
	for _, n in ipairs(cut or {}) do
		if left <= 0 then
			break
		end
		n = math.min(n, left)
		sizes[#sizes + 1] = n
		left = left - n
	end
	if left > 0 or #sizes == 0 then
		sizes[#sizes + 1] = left
	end
	return sizes
end

-- d:submit(i, readable, wlen [, o]) -> token: a chain on ring @i with the
-- bytes @readable device-readable and @wlen bytes device-writable. o:
-- cut_r / cut_w (piece sizes), indirect, kick (false: publish only),
-- suppress (kick only when the device asks for it), publish (false: add
-- only).
function D:submit(i, readable, wlen, o)
	o = o or {}
	local q = self.q[i] or error("ring " .. i .. " not started", 2)
	self.token = self.token + 1
	local chain = { token = self.token, indirect = o.indirect }
	local rec = { ring = i, w = {}, wlen = wlen, rlen = #readable }
	local off = 1
	if #readable > 0 then
		for _, n in ipairs(dp_cut(#readable, o.cut_r)) do
			local s = readable:sub(off, off + n - 1)
			off = off + n
			chain[#chain + 1] = { gpa = self:buf(n, s), len = n }
		end
	end
	if wlen > 0 then
		for _, n in ipairs(dp_cut(wlen, o.cut_w)) do
			local g = self:buf(n)
			chain[#chain + 1] = { gpa = g, len = n, write = true }
			rec.w[#rec.w + 1] = { gpa = g, len = n }
		end
	end
	rec.ndesc = o.indirect and 1 or #chain
	local ok, err = q:add(chain)
	if not ok then
		error("ring add: " .. tostring(err), 2)
	end
	self.tokens[self.token] = rec
	if o.publish ~= false then
		q:publish()
		if o.kick ~= false then
			self:kick(i, o.suppress)
		end
	end
	return self.token
end

-- d:kick(i [, only_if_needed]): an available buffer notification on ring
-- @i the way it was set up (fd write, in-band message, or none).
function D:kick(i, only_if_needed)
	local q = self.q[i]
	if only_if_needed and not q:kick_needed() then
		return false
	end
	local kk = self.kick_kind[i]
	if kk == "inband" then
		local kind, _, detail = self.t:react(vhost.msg("VRING_KICK",
		                        { index = i, num = 0 }),
		                        { need_reply = true })
		if kind ~= "ack" then
			self.t:fail{ expected = "VHOST_USER_VRING_KICK acked",
			             actual = detail }
		end
	elseif self.kick_fd[i] then
		local f = self.kick_fd[i]
		if kk:match("^eventfd") then
			f:signal()
		else
			f:write(string.pack("<I8", 1))
		end
	end
	return true
end

-- d:reap(i) -> the number of used entries taken; FAILs on a bad one.
function D:reap(i)
	local q, n = self.q[i], 0
	while true do
		local tok, len = q:reap()
		if not tok then
			if len then
				self.t:fail{ expected = "a valid used entry on ring " .. i,
				             actual = len }
			end
			return n
		end
		self.done[tok] = len
		n = n + 1
		self.reaped = self.reaped or {}
		self.reaped[i] = (self.reaped[i] or 0) + 1
	end
end

-- d:wait(token [, ms]) -> used length | nil, why
function D:wait(token, ms)
	local t = self.t
	local rec = self.tokens[token]
	local stop = t:now_ms() + (ms or 1000)
	while true do
		self:reap(rec.ring)
		if self.done[token] then
			return self.done[token]
		end
		if t:now_ms() >= stop then
			return nil, ("no used entry on ring %d within %d ms"):format(
			       rec.ring, ms or 1000)
		end
		t:sleep(1)
	end
end

-- d:complete(token, what [, ms]) -> used length; FAIL unless it came.
function D:complete(token, what, ms)
	local len, why = self:wait(token, ms)
	if not len then
		self.t:fail{ expected = what or "the request used", actual = why }
	end
	return len
end

-- d:quiet(i, ms, what): nothing may be used on ring @i within @ms.
function D:quiet(i, ms, what)
	local t = self.t
	local stop = t:now_ms() + ms
	repeat
		local n = self:reap(i)
		if n > 0 then
			t:fail{ expected = what, actual = ("%d used entr%s on ring %d")
			        :format(n, n == 1 and "y" or "ies", i) }
		end
		t:sleep(2)
	until t:now_ms() >= stop
end

-- d:written(token [, n]) -> the first @n (all) device-writable bytes
function D:written(token, n)
	local rec = self.tokens[token]
	n = n or rec.wlen
	local out = {}
	for _, w in ipairs(rec.w) do
		if n <= 0 then
			break
		end
		local k = math.min(n, w.len)
		out[#out + 1] = assert(self.mem:read(w.gpa, k))
		n = n - k
	end
	return table.concat(out)
end

-- d:called(i [, ms]) -> true if the call fd of ring @i fired (drained)
function D:called(i, ms)
	local f = self.call_fd[i]
	if not f then
		return false
	end
	local r = f:read(4096, ms or 300)
	return r ~= nil
end

-- d:drain_calls(i): forget notifications so far
function D:drain_calls(i)
	local f = self.call_fd[i]
	while f and f:read(4096, 0) do
	end
end

-- d:stop(i) -> the GET_VRING_BASE reply's num (FAIL without one)
function D:stop(i)
	local r, why = self.t:call(vhost.msg("GET_VRING_BASE",
	                                     { index = i, num = 0 }))
	if not r or r.num == nil then
		self.t:fail{ expected = "a VHOST_USER_GET_VRING_BASE reply",
		             actual = why or (r and r.text) }
	end
	self.started[i] = false
	return r.num
end

-- d:responsive(): the back-end still answers GET_FEATURES and runs.
function D:responsive(what)
	local t = self.t
	t:expect_alive()
	local kind, _, detail = t:react(vhost.msg("GET_FEATURES"),
	                                { need_reply = false })
	if kind ~= "reply" then
		t:fail{ expected = (what and what .. ": " or "") ..
		                   "still serving: a GET_FEATURES reply",
		        actual = detail }
	end
	t:expect_alive()
end

-- Used-event / flags the driver writes (split: used_event after the
-- avail ring; packed: the driver event suppression structure).
-- d:set_used_event(i, v) (split with EVENT_IDX), d:set_no_interrupt(i,
-- on) (split: avail flags; packed: RING_EVENT_FLAGS_DISABLE / ENABLE).
function D:set_used_event(i, v)
	local a = self.q[i]:addrs()
	assert(self.mem:write(a.avail_gpa + 4 + 2 * a.num,
	                      string.pack("<I2", v & 0xffff)))
end

function D:set_no_interrupt(i, on)
	local a = self.q[i]:addrs()
	if self.packed then
		assert(self.mem:write(a.avail_gpa + 2,
		                      string.pack("<I2", on and 1 or 0)))
	else
		assert(self.mem:write(a.avail_gpa, string.pack("<I2", on and 1 or 0)))
	end
end

-- split: the used ring's idx, as the device wrote it
function D:used_idx(i)
	local a = self.q[i]:addrs()
	return string.unpack("<I2", self.mem:read(a.used_gpa + 2, 2))
end

-- ---- per device ----------------------------------------------------------

-- net: an Ethernet frame of @len bytes (broadcast, ethertype 0x88b5, a
-- payload that tells frames apart by @seed)
function virtio.net_frame(len, seed)
	seed = seed or 1
	local hdr = "\255\255\255\255\255\255\82\84\0\18\52\86\136\181"
	local body = {}
	for k = 1, len - #hdr do
		body[k] = string.char((k * 7 + seed * 13) % 251)
	end
	return hdr .. table.concat(body)
end

-- net: a virtio_net_hdr of d.hdr_len bytes (all zero: no offloads)
function D:net_hdr()
	return string.rep("\0", self.hdr_len)
end

-- net: post @n RX buffers of @size bytes (o as submit's)
function D:net_rx_post(n, size, o)
	local toks = {}
	for k = 1, n do
		toks[k] = self:submit(self.lay.rx, "", size, o)
	end
	return toks
end

-- net: transmit @frame (header prepended) -> token
function D:net_tx(frame, o)
	return self:submit(self.lay.tx, self:net_hdr() .. frame, 0, o)
end

-- blk: a request header
function virtio.blk_hdr(type, sector)
	return string.pack("<I4I4I8", type, 0, sector or 0)
end

-- blk: a request -> token. o.data: bytes to write (OUT, DISCARD, ...),
-- o.read: bytes to read (IN, GET_ID), plus submit's options. The status
-- is the last writable byte.
function D:blk(type, sector, o)
	o = o or {}
	return self:submit(o.ring or self.lay.req,
	                   virtio.blk_hdr(type, sector) .. (o.data or ""),
	                   (o.read or 0) + (o.status_len or 1), o)
end

-- blk: (status, data read) of a completed request
function D:blk_result(token)
	local rec = self.tokens[token]
	local all = self:written(token)
	return all:byte(rec.wlen), all:sub(1, rec.wlen - 1)
end

-- fs: a FUSE request (struct fuse_in_header + @datain) with @outlen
-- writable bytes -> token
function D:fuse(opcode, nodeid, datain, outlen, o)
	datain = datain or ""
	self.unique = (self.unique or 0) + 2
	local hdr = string.pack("<I4I4I8I8I4I4I4I2I2", 40 + #datain, opcode,
	                        self.unique, nodeid or 0, 0, 0, 0, 0, 0)
	local tok = self:submit((o and o.ring) or self.lay.req, hdr .. datain,
	                        outlen or 4096, o)
	self.tokens[tok].unique = self.unique
	return tok
end

-- fs: the reply of a completed FUSE request: { len, error, unique, data }
function D:fuse_reply(token, used)
	local b = self:written(token, used)
	if #b < 16 then
		return nil, ("a used length of %d, less than a fuse_out_header")
		       :format(#b)
	end
	local len, err, unique = string.unpack("<I4i4I8", b)
	return { len = len, error = err, unique = unique, data = b:sub(17) }
end

-- fs: FUSE_INIT (7.31, no flags); FAILs unless it succeeds.
function D:fuse_init()
	local tok = self:fuse(26, 0, string.pack("<I4I4I4I4", 7, 31, 0, 0), 1024)
	local used = self:complete(tok, "FUSE_INIT used")
	local r, why = self:fuse_reply(tok, used)
	if not r then
		self.t:fail{ expected = "a FUSE_INIT reply", actual = why }
	end
	return r, used
end

-- ---- one request of any profile (ring-state and hostile-ring cases) ------

-- d:main() -> the ring requests go to (net: TX; blk, fs: the request
-- queue; generic: 0)
function D:main()
	return self.lay.tx or self.lay.req or 0
end

-- d:prepare(): what the profile needs before requests (net: RX buffers
-- for the frames that come back; fs: FUSE_INIT). Generic SKIPs: no
-- request format is known for an unknown device.
function D:prepare()
	if self.dev == "net" then
		self:net_rx_post(16, 2048)
	elseif self.dev == "fs" then
		self:fuse_init()
	elseif self.dev ~= "blk" then
		self.t:skip("no request format is known for a " .. self.dev ..
		            " device")
	end
end

-- d:work([o]) -> token: one harmless request on the main ring (net: a
-- 60-byte frame; blk: a one-sector write of o.fill at o.sector; fs:
-- FUSE_GETATTR of the root). Submit's options apply.
function D:work(o)
	o = o or {}
	if self.dev == "net" then
		return self:net_tx(virtio.net_frame(60, self.token), o)
	elseif self.dev == "blk" then
		return self:blk(virtio.BLK_T_OUT, o.sector or 1,
		                { data = (o.fill or "w"):rep(512), kick = o.kick,
		                  publish = o.publish, suppress = o.suppress,
		                  indirect = o.indirect })
	elseif self.dev == "fs" then
		return self:fuse(3, 1, string.rep("\0", 16), 256, o)
	end
	self.t:skip("no request format is known for a " .. self.dev ..
	            " device")
end

-- ---- a small front-end for the control-plane files that do I/O -----------
-- vhost.fe_helpers() returns the small front-end that
-- cases/vhost-user/backend-channel.lua, dirty-log.lua, inflight.lua,
-- status-reset.lua, device-state.lua and robustness.lua share (a case
-- file sees only its own locals): set-up requests acked where REPLY_ACK is
-- in force, one memfd region with the device's rings started (fe_start),
-- kicks, reaping, one blk request or net frame, and "some I/O" that makes
-- the device write guest memory.
function vhost.fe_helpers()
	local F_LOG_ALL = 1 << 26
	local F_PROTOCOL_FEATURES = 1 << 30
	local VRING_F_LOG = 1

	-- A set-up request: acked when REPLY_ACK is in force, else only sent.
	local setup = virtio.step

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

	return {
		F_LOG_ALL = F_LOG_ALL,
		F_PROTOCOL_FEATURES = F_PROTOCOL_FEATURES,
		VRING_F_LOG = VRING_F_LOG,
		IO_QUEUES = IO_QUEUES,
		FRAME = FRAME,
		setup = setup,
		fe_start = fe_start,
		fe_kick = fe_kick,
		fe_reap = fe_reap,
		blk_io = blk_io,
		net_tx = net_tx,
		fe_some_io = fe_some_io,
	}
end

-- ---- session and data-path helpers for the memory and ring cases ---------
-- vhost.ring_helpers() returns the helpers cases/vhost-user/memory.lua,
-- mem-slots.lua, vrings.lua, vring-fds.lua, ring-states.lua and
-- multiqueue.lua share (a case file has its own environment and cannot
-- load another): a negotiated session, acked steps, and DP, a small
-- driver over the ring engine for I/O through the back-end.
function vhost.ring_helpers()
	local PF_REPLY_ACK = 1 << vhost.PF.REPLY_ACK
	local PF_MQ = 1 << vhost.PF.MQ
	local F_PROTOCOL_FEATURES = 1 << 30
	local F_VERSION_1 = 1 << 32
	local MIB = 1 << 20

	local function pf_names(mask)
		local n = vhost.protocol_feature_names(mask)
		return #n > 0 and table.concat(n, ", ") or "none"
	end

	-- The handshake of these cases: REPLY_ACK (a refusal shows only with it:
	-- SKIP without), MQ when offered, and o.pf (SKIP unless offered).
	local function session(t, o)
		o = o or {}
		local pf = { "REPLY_ACK", "MQ" }
		for _, f in ipairs(o.pf or {}) do
			pf[#pf + 1] = f
		end
		local hs = vhost.handshake(t, {
			protocol_features = pf,
			ack_features = o.ack_features,
			ack_protocol_features = o.ack_protocol_features,
		})
		local need = vhost.protocol_features(o.pf or {})
		if not o.ack_protocol_features then
			need = need | PF_REPLY_ACK
		end
		if hs.acked_protocol_features & need ~= need then
			t:skip("needs protocol features " .. pf_names(need) ..
			       "; offered: " .. pf_names(hs.protocol_features))
		end
		return hs
	end

	local function acked(t, mask)
		return t.hs ~= nil and t.hs.acked_protocol_features & mask == mask
	end

	-- A setup request: acked when REPLY_ACK is in force, else only sent.
	local function step(t, m, what)
		if acked(t, PF_REPLY_ACK) then
			local kind, _, detail = t:react(m, { need_reply = true })
			if kind ~= "ack" then
				t:fail{ expected = (what or m.name) .. " acked (setup)",
				        actual = detail }
			end
		else
			assert(t:send(m))
		end
	end

	-- Vrings the back-end serves: GET_QUEUE_NUM with MQ (net: queue pairs,
	-- as QEMU reads it; other devices: queues), else the device's fixed count.
	local function vring_count(t)
		if acked(t, PF_MQ) then
			local r, why = t:call(vhost.msg("GET_QUEUE_NUM"))
			if not r or not r.u64 then
				t:fail{ expected = "a VHOST_USER_GET_QUEUE_NUM reply",
				        actual = why or r.text }
			end
			return t.device == "net" and 2 * r.u64 or r.u64
		end
		local n = ({ net = 2, blk = 1 })[t.device]
		if not n then
			t:skip("the vring count of a " .. tostring(t.device) ..
			       " device without MQ is not known")
		end
		return n
	end

	-- Still serving after what came before: alive, and a GET_FEATURES answered
	-- (or the connection closed by a process that exited by itself).
	local function responsive(t)
		t:expect_alive()
		local kind, _, detail = t:react(vhost.msg("GET_FEATURES"),
		                                { need_reply = false })
		if kind ~= "reply" and kind ~= "hangup" then
			t:fail{ expected = "still serving: a GET_FEATURES reply",
			        actual = detail }
		end
		t:expect_alive()
		return kind == "reply"
	end

	-- One notification, as the front-end sends it: 8 bytes into an eventfd or
	-- into the write end of a pipe whose read end the back-end holds.
	local function notify(fd)
		return fd:write(string.pack("<I8", 1))
	end

	local DP = {}
	DP.__index = DP

	-- The data path of a net (TX queue 2k+1; RX queue 2k set up too, as DPDK
	-- waits for the whole pair) or blk (queue k) device, k = o.pair (0);
	-- other devices SKIP. o: regions (count, 1), region_size (1 MiB),
	-- ring_region (1), num (64), kick / call (fd objects sent for the main
	-- queue instead of fresh eventfds; false: the NOFD bit), kick_w / call_r
	-- (our ends of them), skip_kick / skip_call (the case sends that message),
	-- enable (true), fds_first (CALL and KICK of every ring before the memory
	-- table), before_mem (a function(dp) run just before the memory table),
	-- no_mem (no table: the case sends one), share (a dp whose memory and
	-- table this one uses), session (session() options).
	local function dp_new(t, o)
		o = o or {}
		if t.device ~= "net" and t.device ~= "blk" then
			t:skip("the data path is written for net and blk; the target " ..
			       "is " .. tostring(t.device))
		end
		local hs = t.hs or session(t, o.session)
		local dp = setmetatable({ t = t, dev = t.device, q = {}, kick_w = {},
		                          call_r = {}, token = 0, done = {},
		                          writable = {}, status_at = {},
		                          chains = {} }, DP)
		local size = o.region_size or MIB
		if o.share then -- another queue in the same memory
			dp.mem, dp.base, dp.size = o.share.mem, o.share.base, o.share.size
		else
			dp.mem = gmem.new()
			dp.base, dp.size = {}, size
			for i = 1, o.regions or 1 do
				dp.base[i] = 0x100000 + (i - 1) * 2 * size
				assert(dp.mem:add_region(dp.base[i], size))
			end
			for _ = 1, (o.ring_region or 1) - 1 do -- first fit: fill those
				assert(dp.mem:alloc(size, 4096))
			end
		end
		local k = o.pair or 0
		dp.qidx = dp.dev == "net" and 2 * k + 1 or k
		dp.indices = dp.dev == "net" and { 2 * k, 2 * k + 1 } or { k }
		dp.rxq = dp.dev == "net" and 2 * k or nil
		local feat = hs.acked_features & F_VERSION_1 ~= 0 and
		             1 << ring.F_VERSION_1 or 0
		for _, i in ipairs(dp.indices) do
			dp.q[i] = assert(ring.split(dp.mem, o.num or 64, feat))
		end
		dp.bufs = assert(dp.mem:alloc(64 * 1024, 4096))
		dp.bufs_end = dp.bufs + 64 * 1024
		dp.enable = hs.acked_features & F_PROTOCOL_FEATURES ~= 0 and
		            o.enable ~= false
		if o.fds_first then
			for _, i in ipairs(dp.indices) do
				dp:set_fds(i, i == dp.qidx and o or {})
			end
		end
		if o.before_mem then
			o.before_mem(dp)
		end
		if not o.no_mem and not o.share then
			step(t, vhost.msg("SET_MEM_TABLE",
			                  { regions = dp.mem:regions() }))
		end
		for _, i in ipairs(dp.indices) do
			dp:setup_ring(i, i == dp.qidx and o or {})
		end
		if dp.dev == "net" then
			dp:post_rx(8)
		end
		return dp
	end

	-- CALL and KICK for ring i (o as dp_new's).
	function DP:set_fds(i, o)
		local t = self.t
		if not o.skip_call then
			local c, cr = o.call, o.call_r
			if c == nil then
				c = fdzoo.eventfd(0, "nonblock")
				cr = c
			end
			step(t, vhost.msg("SET_VRING_CALL", { index = i, fd = c or nil }))
			self.call_r[i] = cr or nil
		end
		if not o.skip_kick then
			local k, kw = o.kick, o.kick_w
			if k == nil then
				k = fdzoo.eventfd(0, "nonblock")
				kw = k
			end
			step(t, vhost.msg("SET_VRING_KICK", { index = i, fd = k or nil }))
			self.kick_w[i] = kw or nil
		end
		self.fds_set = self.fds_set or {}
		self.fds_set[i] = true
	end

	-- NUM, BASE, ADDR (CALL, KICK unless sent first) and ENABLE for ring i.
	function DP:setup_ring(i, o)
		local t, a = self.t, self.q[i]:addrs()
		step(t, vhost.msg("SET_VRING_NUM", { index = i, num = a.num }))
		step(t, vhost.msg("SET_VRING_BASE", { index = i, num = 0 }))
		step(t, vhost.msg("SET_VRING_ADDR", { index = i, desc = a.desc,
		                  used = a.used, avail = a.avail }))
		if not (self.fds_set and self.fds_set[i]) then
			self:set_fds(i, o)
		end
		if self.enable then
			step(t, vhost.msg("SET_VRING_ENABLE", { index = i, num = 1 }))
		end
	end

	function DP:buf(len)
		local gpa = self.bufs
		self.bufs = self.bufs + ((len + 63) & ~63)
		assert(self.bufs <= self.bufs_end, "data buffers used up")
		return gpa
	end

	-- n RX buffers of 2 KiB on the RX queue (net)
	function DP:post_rx(n)
		for _ = 1, n do
			self.token = self.token + 1
			assert(self.q[self.rxq]:add{ { gpa = self:buf(2048), len = 2048,
			                             write = true }, token = self.token })
		end
		self.q[self.rxq]:publish()
		self:kick(self.rxq)
	end

	function DP:kick(i)
		i = i or self.qidx
		if self.kick_w[i] then
			notify(self.kick_w[i])
		end
	end

	-- One request on the main queue: a 60-byte broadcast frame (net) or a
	-- 512-byte write of @o.sector (blk; o.read: a read). o.at: list of guest
	-- addresses to place the pieces at (header, data..., status), instead of
	-- the data buffers (o.foreign: some are in memory only the back-end has).
	-- o.kick = false: publish only. Returns the token.
	function DP:submit(o)
		o = o or {}
		local at = o.at or {}
		local function place(k, len)
			return at[k] or self:buf(len)
		end
		self.token = self.token + 1
		local chain
		if self.dev == "net" then
			local hdr = place(1, 12)
			local frame = "\255\255\255\255\255\255\82\84\0\18\52\86\8\0" ..
			              string.rep("V", 46)
			assert(self.mem:write(hdr, string.rep("\0", 12)))
			chain = { { gpa = hdr, len = 12 } }
			-- the frame in pieces, one per extra address given
			local pieces = math.max(#at - 1, 1)
			local per = #frame // pieces
			for p = 1, pieces do
				local s = frame:sub((p - 1) * per + 1,
				                    p == pieces and #frame or p * per)
				local g = place(p + 1, #s)
				assert(self.mem:write(g, s) or o.foreign)
				chain[#chain + 1] = { gpa = g, len = #s }
			end
			self.writable[self.token] = 0
		else
			local hdr = place(1, 16)
			assert(self.mem:write(hdr, string.pack("<I4I4I8",
			                      o.read and 0 or 1, 0, o.sector or 0)))
			chain = { { gpa = hdr, len = 16 } }
			local pieces = math.max(#at - 2, 1)
			local per = 512 // pieces
			for p = 1, pieces do
				local len = p == pieces and 512 - per * (pieces - 1) or per
				local g = place(p + 1, len)
				if not o.read then
					assert(self.mem:write(g, string.rep(o.fill or "W", len)) or
					       o.foreign)
				end
				chain[#chain + 1] = { gpa = g, len = len, write = o.read }
			end
			local st = place(pieces + 2, 1)
			assert(self.mem:write(st, "\238"))
			chain[#chain + 1] = { gpa = st, len = 1, write = true }
			self.status_at[self.token] = st
			self.writable[self.token] = o.read and 513 or 1
		end
		chain.token = self.token
		self.chains[self.token] = chain
		assert(self.q[self.qidx]:add(chain))
		self.q[self.qidx]:publish()
		if o.kick ~= false then
			self:kick()
		end
		return self.token
	end

	-- Waits up to ms for @token on the main queue: its used length, or nil
	-- and why. Earlier completions are remembered.
	function DP:wait(token, ms)
		local q, t = self.q[self.qidx], self.t
		local stop = t:now_ms() + (ms or 1000)
		while true do
			if self.done[token] then
				return self.done[token]
			end
			local got, len = q:reap()
			if got then
				self.done[got] = len
			elseif len then
				return nil, "a bad used entry: " .. len
			elseif t:now_ms() >= stop then
				return nil, ("no used entry within %d ms"):format(ms or 1000)
			else
				t:sleep(2)
			end
		end
	end

	-- A request must complete: FAIL (with @what) unless it does in time.
	function DP:round(what, o)
		local tok = self:submit(o)
		local len, why = self:wait(tok, (o and o.ms) or 1000)
		if not len then
			self.t:fail{ expected = what or "the request processed",
			             actual = why }
		end
		return tok, len
	end

	-- Nothing may complete on the main queue within ms.
	function DP:quiet(what, ms)
		local q, t = self.q[self.qidx], self.t
		local stop = t:now_ms() + (ms or 150)
		while t:now_ms() < stop do
			local got = q:reap()
			if got then
				t:fail{ expected = what, actual = ("request %d completed"):
				        format(got) }
			end
			t:sleep(5)
		end
	end

	-- blk: the status byte a request got (0xee: not written)
	function DP:status(token)
		return self.mem:read(self.status_at[token], 1):byte()
	end

	-- The call fd of ring i became readable within ms (drained).
	function DP:called(i, ms)
		local c = self.call_r[i or self.qidx]
		if not c then
			return nil
		end
		local r = c:read(4096, ms or 500)
		return r ~= nil
	end

	-- blk: the data bytes of a request (a read: what the device wrote)
	function DP:data(token)
		local out = {}
		local chain = self.chains[token]
		for k = 2, #chain - 1 do
			out[#out + 1] = assert(self.mem:read(chain[k].gpa, chain[k].len))
		end
		return table.concat(out)
	end

	-- net: a frame arrived on the RX queue within ms (true), or not (false)
	function DP:rx(ms)
		local q, t = self.q[self.rxq], self.t
		local stop = t:now_ms() + (ms or 300)
		repeat
			if q:reap() then
				return true
			end
			t:sleep(3)
		until t:now_ms() >= stop
		return false
	end

	return {
		PF_REPLY_ACK = PF_REPLY_ACK,
		PF_MQ = PF_MQ,
		F_PROTOCOL_FEATURES = F_PROTOCOL_FEATURES,
		F_VERSION_1 = F_VERSION_1,
		MIB = MIB,
		pf_names = pf_names,
		session = session,
		acked = acked,
		step = step,
		vring_count = vring_count,
		responsive = responsive,
		notify = notify,
		DP = DP,
		dp_new = dp_new,
	}
end

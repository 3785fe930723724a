-- SPDX-License-Identifier: MIT
-- features.lua - feature negotiation: GET/SET_FEATURES, the
-- VHOST_USER_F_PROTOCOL_FEATURES bit, GET/SET_PROTOCOL_FEATURES, bits that
-- were never offered, requests gated on protocol features that were not
-- negotiated, and the order of the negotiation messages.
--
-- Spec: vhost-user.rst, "Communication", "Protocol features", the
-- GET/SET_(PROTOCOL_)FEATURES entries of "Front-end message types", and
-- "In-band notifications".

local FE = "vhost-user#front-end-message-types"
local F_PROTOCOL_FEATURES = 1 << 30
local REPLY_ACK = 1 << vhost.PF.REPLY_ACK

local function short_id(name)
	return (name:gsub("^VHOST_USER_", ""):lower():gsub("_", "-"))
end

-- GET_FEATURES alone; SKIP unless the target offers protocol features.
local function offered(t)
	local r = t:expect_reply(vhost.msg("GET_FEATURES"))
	if not r.u64 then
		t:fail{ expected = "a u64 GET_FEATURES reply", actual = r.text }
	end
	return r.u64
end

local function need_protocol_features(t)
	local f = offered(t)
	if f & F_PROTOCOL_FEATURES == 0 then
		t:skip("the target does not offer VHOST_USER_F_PROTOCOL_FEATURES")
	end
	return f
end

-- The lowest bit of @mask within [lo, hi] that is clear, or nil.
local function first_clear(mask, lo, hi, except)
	for b = lo, hi do
		if mask & (1 << b) == 0 and b ~= except then
			return b
		end
	end
	return nil
end

-- "Get from the underlying vhost implementation the features bitmask."
case {
	id = "vhost-user/features/get-features",
	spec = FE,
	level = "MUST",
	quote = [[Get from the underlying vhost implementation the features
bitmask.]],
	run = function(t)
		offered(t)
	end,
}

-- GET_PROTOCOL_FEATURES before SET_FEATURES: "must support this message
-- even before VHOST_USER_SET_FEATURES was called" (no SET_OWNER either).
case {
	id = "vhost-user/features/get-protocol-features-before-set-features",
	spec = FE,
	level = "MUST",
	quote = [[Back-ends that report VHOST_USER_F_PROTOCOL_FEATURES must
support this message even before VHOST_USER_SET_FEATURES was called.]],
	run = function(t)
		need_protocol_features(t)
		local r = t:expect_reply(vhost.msg("GET_PROTOCOL_FEATURES"))
		t:check(r.u64 ~= nil, "a u64 protocol feature mask", r.text)
	end,
}

-- SET_PROTOCOL_FEATURES before SET_FEATURES takes effect at once: with
-- REPLY_ACK in it, the next request with need_reply is acked.
case {
	id = "vhost-user/features/set-protocol-features-before-set-features",
	spec = FE,
	level = "MUST",
	quote = [[Back-ends that report VHOST_USER_F_PROTOCOL_FEATURES must
support this message even before VHOST_USER_SET_FEATURES was called.]],
	run = function(t)
		need_protocol_features(t)
		local pf = t:expect_reply(vhost.msg("GET_PROTOCOL_FEATURES")).u64
		if pf & REPLY_ACK == 0 then
			t:skip("REPLY_ACK not offered: the effect cannot be seen")
		end
		assert(t:send(vhost.msg("SET_PROTOCOL_FEATURES",
		                        { features = REPLY_ACK })))
		t:expect(vhost.msg("SET_OWNER"), { "ack", "nack" },
		         { need_reply = true })
	end,
}

-- The protocol features a back-end offers are a promise: each one, acked
-- alone with REPLY_ACK, is accepted (CH PR #1565: a back-end that offered
-- every bit). INBAND_NOTIFICATIONS goes with BACKEND_REQ, which the spec
-- requires beside it.
for bit = 0, 19 do
	local names = vhost.protocol_feature_names(1 << bit)
	local name = names[1]
	if name ~= "REPLY_ACK" then
		case {
			id = "vhost-user/features/offered-protocol-feature-accepted/" ..
			     name:lower():gsub("_", "-"),
			spec = "vhost-user#protocol-features",
			level = "SHOULD",
			quote = [[Any protocol extensions are gated by protocol
feature bits, which allows full backwards compatibility on both front-end
and back-end.]],
			run = function(t)
				need_protocol_features(t)
				local pf = t:expect_reply(
					vhost.msg("GET_PROTOCOL_FEATURES")).u64
				if pf & (1 << bit) == 0 then
					t:skip(name .. " is not offered")
				end
				if pf & REPLY_ACK == 0 then
					t:skip("REPLY_ACK not offered: acceptance cannot " ..
					       "be seen")
				end
				local mask = REPLY_ACK | 1 << bit
				if name == "INBAND_NOTIFICATIONS" then
					mask = mask | 1 << vhost.PF.BACKEND_REQ
				end
				assert(t:send(vhost.msg("SET_PROTOCOL_FEATURES",
				                        { features = mask })))
				t:expect(vhost.msg("SET_OWNER"), { "ack" },
				         { need_reply = true })
			end,
		}
	end
end

-- SET_FEATURES with a bit GET_FEATURES did not offer: it cannot be
-- enabled, so the ack says failure (or the back-end closes: "If back-end
-- detects some error such as incompatible features, it may also close the
-- connection"). Three places: a device bit, a transport bit, bit 63.
local UNOFFERED = {
	{ id = "device-bit", lo = 0, hi = 23 },
	{ id = "transport-bit", lo = 24, hi = 40 },
	{ id = "bit-63", lo = 63, hi = 63 },
}
for _, u in ipairs(UNOFFERED) do
	case {
		id = "vhost-user/features/set-features-unoffered-" .. u.id,
		spec = "vhost-user#communication",
		level = "SHOULD",
		quote = [[If back-end detects some error such as incompatible
features, it may also close the connection.]],
		needs = { protocol_features = { "REPLY_ACK" } },
		run = function(t)
			local b = first_clear(t.hs.features, u.lo, u.hi, 30)
			if not b then
				t:skip("every bit there is offered")
			end
			t:note(("bit %d is not offered"):format(b))
			t:expect_refusal(vhost.msg("SET_FEATURES",
			                 { u64 = t.hs.acked_features | 1 << b }),
			                 { need_reply = true })
			t:expect_alive()
		end,
	}
end

-- SET_PROTOCOL_FEATURES with a protocol feature that was not offered (a
-- defined one, then an undefined bit): the same for protocol features.
-- REPLY_ACK, offered and in force from the handshake, carries the answer.
for _, u in ipairs({ { id = "defined-bit", lo = 0, hi = 19 },
                     { id = "undefined-bit", lo = 20, hi = 63 } }) do
	case {
		id = "vhost-user/features/set-protocol-features-unoffered-" .. u.id,
		spec = "vhost-user#communication",
		level = "SHOULD",
		quote = [[If back-end detects some error such as incompatible
features, it may also close the connection.]],
		needs = { protocol_features = { "REPLY_ACK" } },
		run = function(t)
			local b = first_clear(t.hs.protocol_features, u.lo, u.hi)
			if not b then
				t:skip("every protocol feature there is offered")
			end
			t:note(("protocol feature bit %d is not offered"):format(b))
			t:expect_refusal(vhost.msg("SET_PROTOCOL_FEATURES", {
				features = t.hs.acked_protocol_features | 1 << b }),
				{ need_reply = true })
			t:expect_alive()
		end,
	}
end

-- GET_PROTOCOL_FEATURES is "only legal if feature bit
-- VHOST_USER_F_PROTOCOL_FEATURES is present": to a back-end without it,
-- any answer but a crash or a hang.
case {
	id = "vhost-user/features/get-protocol-features-not-offered",
	spec = FE,
	level = "ROBUST",
	quote = [[Only legal if feature bit VHOST_USER_F_PROTOCOL_FEATURES is
present in VHOST_USER_GET_FEATURES.]],
	run = function(t)
		if offered(t) & F_PROTOCOL_FEATURES ~= 0 then
			t:skip("the target offers VHOST_USER_F_PROTOCOL_FEATURES")
		end
		t:expect_robust(vhost.msg("GET_PROTOCOL_FEATURES"))
	end,
}

-- Order: GET_PROTOCOL_FEATURES as the very first message, before the
-- front-end could know the bit is offered. Any answer, no crash, and the
-- stream in step.
case {
	id = "vhost-user/features/get-protocol-features-first",
	spec = FE,
	level = "ROBUST",
	quote = [[Only legal if feature bit VHOST_USER_F_PROTOCOL_FEATURES is
present in VHOST_USER_GET_FEATURES.]],
	run = function(t)
		t:expect_robust(vhost.msg("GET_PROTOCOL_FEATURES"))
		local kind = t:react(vhost.msg("GET_FEATURES"))
		t:check(kind == "reply" or kind == "hangup",
		        "the stream in step", kind)
	end,
}

-- Order: requests of a session before any negotiation (no GET_FEATURES,
-- no SET_OWNER): any answer or a hang-up, no crash.
for _, name in ipairs({ "SET_FEATURES", "SET_VRING_NUM", "GET_VRING_BASE",
                        "SET_VRING_ENABLE", "RESET_OWNER" }) do
	case {
		id = "vhost-user/features/before-negotiation/" .. short_id(name),
		spec = FE,
		level = "ROBUST",
		quote = [[Issued when a new connection is established. It marks the
sender as the front-end that owns of the session.]],
		needs = { handshake = false },
		run = function(t)
			local m = vhost.sample(name, t)
			if name == "SET_FEATURES" then
				m = vhost.msg("SET_FEATURES", { u64 = 0 })
			end
			-- no REPLY_ACK yet, no need_reply: no answer is due, and
			-- silence is not worth a whole second
			t:expect_robust(m, { need_reply = false, timeout =
			                     name ~= "GET_VRING_BASE" and 200 or nil })
			local kind = t:react(vhost.msg("GET_FEATURES"))
			t:check(kind == "reply" or kind == "hangup",
			        "the stream in step", kind)
		end,
	}
end

-- Order: SET_FEATURES twice, the second with fewer bits (QEMU renegotiates
-- after a reset): accepted or refused, never a crash, the stream in step.
case {
	id = "vhost-user/features/set-features-twice",
	spec = FE,
	level = "ROBUST",
	quote = [[Enable features in the underlying vhost implementation using
a bitmask.]],
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		t:expect_robust(vhost.msg("SET_FEATURES",
		                          { u64 = t.hs.acked_features & ~(1 << 32) }))
		local kind = t:react(vhost.msg("GET_FEATURES"))
		t:check(kind == "reply" or kind == "hangup",
		        "the stream in step", kind)
	end,
}

-- Protocol features gate their requests: each request whose rule names a
-- gate, sent with REPLY_ACK negotiated but not the gate, is refused: a
-- hang-up, or a reply with this request's code that says failure. What
-- says failure depends on the reply (judged here, not by the classifier,
-- which reads bodies as if their feature were negotiated): a non-zero u64
-- status (acks; CHECK_DEVICE_STATE, POSTCOPY_END; SET_DEVICE_STATE_FD's
-- bits 0-7), or an empty reply (GET_CONFIG's error form). A body (a queue
-- count, a config, an inflight description) means it was carried out.
-- Back-ends that do (libvhost-user, most of DPDK) treat a front-end that
-- never agreed to the extension as if it had.
local STATUS_REPLY = {
	VHOST_USER_CHECK_DEVICE_STATE = 0xffffffffffffffff,
	VHOST_USER_POSTCOPY_END = 0xffffffffffffffff,
	VHOST_USER_SET_DEVICE_STATE_FD = 0xff,
	VHOST_USER_IOTLB_MSG = 0xffffffffffffffff,
}

local function judge_refusal(t, r, rep, why)
	if not rep then
		if why == "hangup" then
			return t:expect_alive()
		end
		t:fail{ expected = "a refusal of " .. r.name, actual = why }
	end
	t:check(rep.request == r.code and rep.reply,
	        "a reply to " .. r.name .. " with the reply flag", rep.text)
	if rep.size == 0 then
		return
	end
	local status_mask = STATUS_REPLY[r.name]
	if r.reply ~= "always" then
		status_mask = 0xffffffffffffffff -- an ack: the gate is not in force
	end
	t:check(status_mask ~= nil and rep.size == 8 and
	        rep.u64 & status_mask ~= 0,
	        "a refusal (non-zero status, or an empty reply)", rep.text)
end

for _, r in ipairs(vhost.rules()) do
	if r.dir == "front-end" and #r.gate > 0 and
	   not (#r.gate == 1 and r.gate[1] == "REPLY_ACK") then
		case {
			id = "vhost-user/features/gated/" .. short_id(r.name),
			spec = "vhost-user#communication",
			level = "SHOULD",
			quote = [[Any protocol extensions are gated by protocol feature
bits, which allows full backwards compatibility on both front-end and
back-end.]],
			needs = { protocol_features = { "REPLY_ACK" } },
			run = function(t)
				local m = vhost.sample(r.name, t)
				m.flags = m.flags | vhost.NEED_REPLY
				t:note("not negotiated: " .. table.concat(r.gate, ", "))
				local ok, err = t:send(m)
				local rep, why
				if ok then
					rep, why = t:recv()
				else
					why = err:match("hang") and "hangup" or err
				end
				judge_refusal(t, r, rep, why)
				t:expect_alive()
			end,
		}
	end
end

-- In-band notifications without BACKEND_REQ or REPLY_ACK: "the back-end
-- should close the connection as a response to a
-- VHOST_USER_SET_PROTOCOL_FEATURES message that sets the in-band
-- notifications feature flag without the other two."
local INBAND = {
	{ id = "without-reply-ack", with = { "BACKEND_REQ" } },
	{ id = "without-backend-req", with = { "REPLY_ACK" } },
	{ id = "alone", with = {} },
}
for _, c in ipairs(INBAND) do
	case {
		id = "vhost-user/features/inband-notifications-" .. c.id,
		spec = "vhost-user#in-band-notifications",
		level = "SHOULD",
		quote = [[As it has no other way of signalling this error, the
back-end should close the connection as a response to a
VHOST_USER_SET_PROTOCOL_FEATURES message that sets the in-band notifications
feature flag without the other two.]],
		run = function(t)
			need_protocol_features(t)
			local pf = t:expect_reply(vhost.msg("GET_PROTOCOL_FEATURES")).u64
			if pf & (1 << vhost.PF.INBAND_NOTIFICATIONS) == 0 then
				t:skip("INBAND_NOTIFICATIONS is not offered")
			end
			local list = { "INBAND_NOTIFICATIONS" }
			for _, f in ipairs(c.with) do
				list[#list + 1] = f
			end
			assert(t:send(vhost.msg("SET_PROTOCOL_FEATURES",
			                        { features = list })))
			t:expect(vhost.msg("GET_FEATURES"), { "hangup" })
			t:expect_alive()
		end,
	}
end

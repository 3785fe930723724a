-- SPDX-License-Identifier: MIT
-- reply-ack.lua - VHOST_USER_PROTOCOL_F_REPLY_ACK: need_reply brings
-- exactly one u64 reply for every request without a reply of its own,
-- non-zero on failure; requests with their own reply are unchanged; and
-- no reply comes that nobody asked for.
--
-- Spec: vhost-user.rst, "VHOST_USER_PROTOCOL_F_REPLY_ACK" and
-- "Communication". Every family is generated from the rule table: the
-- `reply` field says which requests answer with a body ("always", or
-- "if_feature" with that feature negotiated) and which only ack
-- ("if_acked").

local ANCHOR = "vhost-user#vhost-user-protocol-f-reply-ack"
local MUST_QUOTE = [[This indicates that the back-end MUST respond with a
Payload VhostUserMsg indicating success or failure. The payload should be
set to zero on success or non-zero on failure, unless the message already
has an explicit reply body.]]

local function short_id(name)
	return (name:gsub("^VHOST_USER_", ""):lower():gsub("_", "-"))
end

-- REPLY_ACK, the request's gate, and what a gate itself needs.
local function needs_for(rule, extra)
	local pf = { "REPLY_ACK" }
	for _, g in ipairs(rule.gate) do
		if g ~= "REPLY_ACK" then
			pf[#pf + 1] = g
		end
		if g == "INBAND_NOTIFICATIONS" then
			pf[#pf + 1] = "BACKEND_REQ"
		end
	end
	for _, g in ipairs(extra or {}) do
		pf[#pf + 1] = g
	end
	return { protocol_features = pf }
end

-- A well-formed request, fds included where the request takes them, so
-- that an ack 0 is a possible answer. The case keeps the fd objects
-- referenced through the message until it ends.
local function complete(name, t)
	local short = name:gsub("^VHOST_USER_", "")
	if short == "SET_MEM_TABLE" then
		local mem = gmem.new()
		mem:add_region(0, 1 << 20)
		local m = vhost.msg("SET_MEM_TABLE", { regions = mem:regions() })
		m.keep = mem
		return m
	elseif short == "ADD_MEM_REG" then
		local mem = gmem.new()
		mem:add_region(0, 1 << 20)
		local m = vhost.msg("ADD_MEM_REG", { region = mem:regions()[1] })
		m.keep = mem
		return m
	elseif short == "SET_VRING_KICK" or short == "SET_VRING_CALL" or
	       short == "SET_VRING_ERR" then
		return vhost.msg(short, { index = 0,
		                          fd = fdzoo.new("eventfd-nonblock") })
	elseif short == "SET_LOG_FD" then
		return vhost.msg(short, { fd = fdzoo.new("eventfd-nonblock") })
	elseif short == "SET_LOG_BASE" then
		return vhost.msg(short, { mmap_size = 4096, mmap_offset = 0,
		                          fd = fdzoo.new("memfd", 4096) })
	elseif short == "SET_BACKEND_REQ_FD" or short == "GPU_SET_SOCKET" then
		local a, b = fdzoo.new("socket")
		local m = vhost.msg(short, { fd = a })
		m.keep = b
		return m
	elseif short == "SET_DEVICE_STATE_FD" then
		local w, r = fdzoo.new("pipe-write")
		local m = vhost.msg(short, { direction = 0, phase = 0, fd = w })
		m.keep = r
		return m
	end
	return vhost.sample(name, t)
end

-- The next message must be the reply to a GET_FEATURES sent now: nothing
-- else is left in the stream (a hang-up is fine).
local function expect_in_step(t, what)
	local kind, _, detail = t:react(vhost.msg("GET_FEATURES"))
	if kind ~= "reply" and kind ~= "hangup" then
		t:fail{ expected = "nothing after " .. what ..
		        ": the next message is the GET_FEATURES reply",
		        actual = detail }
	end
end

-- A reply body whatever the flags say: "always", or "if_feature" where
-- the feature is the request's gate (so it is negotiated when it is sent)
-- or SET_LOG_BASE, whose LOG_SHMFD the case negotiates.
local function has_body(r)
	return r.reply == "always" or (r.reply == "if_feature" and
	       (#r.gate > 0 or r.name == "VHOST_USER_SET_LOG_BASE"))
end

for _, r in ipairs(vhost.rules()) do
	if r.dir == "front-end" then
		local id = short_id(r.name)

		if r.reply == "if_acked" then
			-- need_reply: exactly one u64 reply with this request's code
			-- (the classifier checks code, reply flag and size), then
			-- nothing more. A refusal may also close the connection.
			case {
				id = "vhost-user/reply-ack/ack/" .. id,
				spec = ANCHOR,
				level = "MUST",
				quote = MUST_QUOTE,
				needs = needs_for(r),
				run = function(t)
					local m = complete(r.name, t)
					t:expect(m, { "ack", "nack", "hangup" },
					         { need_reply = true })
					expect_in_step(t, "the ack of " .. r.name)
					t:expect_alive()
				end,
			}

			-- Without need_reply: no answer at all (the list of
			-- requests with replies does not have it). An unsolicited
			-- reply is read by the front-end as the answer to its
			-- next request.
			case {
				id = "vhost-user/reply-ack/silent/" .. id,
				spec = "vhost-user#communication",
				level = "MUST",
				quote = [[Most of the requests don't require replies. Here
is a list of the ones that do:]],
				needs = needs_for(r),
				run = function(t)
					local m = complete(r.name, t)
					local ok, why = t:send(m)
					if not ok then
						t:check(why:match("hang") ~= nil,
						        r.name .. " sent", why)
						return
					end
					expect_in_step(t, r.name .. " without need_reply")
					t:expect_alive()
				end,
			}
		end

		-- A request that takes an fd, sent without one (and without
		-- NOFD where there is one): it cannot be carried out, so the
		-- ack is not 0 ("non-zero on failure"), or the connection
		-- closes.
		local takes_fd = r.fds == "one" or r.fds == "one_unless_nofd" or
		                 r.fds == "per_region"
		if r.reply == "if_acked" and takes_fd then
			case {
				id = "vhost-user/reply-ack/nack/" .. id .. "-without-fd",
				spec = ANCHOR,
				level = "SHOULD",
				quote = [[The payload should be set to zero on success or
non-zero on failure, unless the message already has an explicit reply
body.]],
				needs = needs_for(r),
				run = function(t)
					local m = complete(r.name, t)
					m.fds = {}
					if r.fds == "one_unless_nofd" then
						-- vring 0, NOFD clear: an fd is promised
						m.payload = string.pack("=I8", 0)
					end
					t:expect_refusal(m, { need_reply = true })
					expect_in_step(t, "the refusal")
					t:expect_alive()
				end,
			}
		end

		-- Requests with a reply of their own: need_reply "brings no
		-- behavioural change": one reply, the request's own body (or
		-- its documented error form), not an extra ack. A reply that
		-- keeps the request's need_reply bit is not a rule broken: the
		-- spec defines bit 3 for the sender of a command only (see
		-- header/reply-flags-exact-qemu for QEMU's stricter habit).
		if has_body(r) then
			local extra = nil
			if r.name == "VHOST_USER_SET_LOG_BASE" then
				extra = { "LOG_SHMFD" }
			end
			do
				case {
					id = "vhost-user/reply-ack/own-reply/" .. id,
					spec = ANCHOR,
					level = "MUST",
					quote = [[For the message types that already solicit a
reply from the back-end, the presence of VHOST_USER_PROTOCOL_F_REPLY_ACK or
need_reply bit being set brings no behavioural change.]],
					needs = needs_for(r, extra),
					run = function(t)
						local m = complete(r.name, t)
						-- SET_LOG_BASE's body is a u64 status: "ack"
						t:expect(m, { "reply", "ack", "nack", "hangup" },
						         { need_reply = true })
						expect_in_step(t, "the reply to " .. r.name)
						t:expect_alive()
					end,
				}
			end
		end
	end
end

-- (SET_LOG_BASE without LOG_SHMFD is a request like the others: it is in
-- the reply-ack/ack family, where LOG_SHMFD is not negotiated.)

-- The reply to a refused SET_VRING_CALL is the ack the front-end asked
-- for, or nothing: a back-end that probes a new call fd by writing to it
-- must not answer when the write fails and no reply was asked for
-- (libvhost-user S8, seeded bug unsolicited-reply). A pipe's read end
-- cannot be written to.
case {
	id = "vhost-user/reply-ack/silent/set-vring-call-unwritable-fd",
	spec = "vhost-user#communication",
	level = "MUST",
	quote = [[Most of the requests don't require replies. Here is a list of
the ones that do:]],
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		local r, w = fdzoo.new("pipe-read")
		local ok, why = t:send(vhost.msg("SET_VRING_CALL",
		                                 { index = 0, fd = r }))
		if not ok then
			t:check(why:match("hang") ~= nil, "SET_VRING_CALL sent", why)
			return
		end
		expect_in_step(t, "SET_VRING_CALL without need_reply")
		t:expect_alive()
		local _ = w
	end,
}

-- The same with a widowed pipe (no reader): writing raises EPIPE, or
-- SIGPIPE for a back-end that does not ignore it.
case {
	id = "vhost-user/reply-ack/silent/set-vring-call-widowed-pipe",
	spec = "vhost-user#communication",
	level = "MUST",
	quote = [[Most of the requests don't require replies. Here is a list of
the ones that do:]],
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		local w = fdzoo.new("widowed-pipe-write")
		local ok, why = t:send(vhost.msg("SET_VRING_CALL",
		                                 { index = 0, fd = w }))
		if not ok then
			t:check(why:match("hang") ~= nil, "SET_VRING_CALL sent", why)
			return
		end
		expect_in_step(t, "SET_VRING_CALL without need_reply")
		t:expect_alive()
	end,
}

-- need_reply on several requests in a row, sent in one write: one ack
-- each, in order, with each request's own code.
case {
	id = "vhost-user/reply-ack/acks-in-order",
	spec = ANCHOR,
	level = "MUST",
	quote = MUST_QUOTE,
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		local list = {
			vhost.msg("SET_VRING_NUM", { index = 0, num = 256 }),
			vhost.msg("SET_VRING_BASE", { index = 0, num = 0 }),
			vhost.msg("SET_VRING_ENABLE", { index = 0, num = 0 }),
		}
		for _, m in ipairs(list) do
			m.flags = m.flags | vhost.NEED_REPLY
		end
		assert(t:send_many(list))
		for _, m in ipairs(list) do
			local rep, why = t:recv()
			if not rep then
				if why == "hangup" then
					return t:expect_alive()
				end
				t:fail{ expected = "an ack of " .. m.name, actual = why }
			end
			t:check(rep.request == m.request and rep.reply and
			        rep.size == 8, "a u64 reply to " .. m.name, rep.text)
		end
		expect_in_step(t, "the three acks")
	end,
}

-- The ack of a request that failed is not 0: SET_FEATURES with a bit the
-- back-end did not offer (bit 63 is reserved in every device) cannot be
-- enabled.
case {
	id = "vhost-user/reply-ack/nack/set-features-reserved-bit",
	spec = ANCHOR,
	level = "SHOULD",
	quote = [[The payload should be set to zero on success or non-zero on
failure, unless the message already has an explicit reply body.]],
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		if t.hs.features & (1 << 63) ~= 0 then
			t:skip("the target offers bit 63")
		end
		t:expect_refusal(vhost.msg("SET_FEATURES",
		                           { u64 = t.hs.acked_features | 1 << 63 }),
		                 { need_reply = true })
		t:expect_alive()
	end,
}

-- SPDX-License-Identifier: MIT
-- message-header.lua - the vhost-user message header: request, flags
-- (version, reply, need_reply), size; and how the header travels on the
-- stream.
--
-- Spec: vhost-user.rst, "Header", "Communication" and
-- "VHOST_USER_PROTOCOL_F_REPLY_ACK".

-- ":request: 32-bit type of the request". Codes the spec does not define
-- are not requests: a back-end may refuse one or hang up, but must neither
-- ack it nor leave the front-end waiting. (libvhost-user exits; rust-vmm
-- rejects unknown codes before it reads on.)
for _, code in ipairs({ 0, 44, 99, 0xffffffff }) do
	case {
		id = ("vhost-user/header/unknown-request-%d"):format(code),
		spec = "vhost-user#header",
		level = "ROBUST",
		quote = [[:request: 32-bit type of the request]],
		needs = { protocol_features = { "REPLY_ACK" } },
		run = function(t)
			t:expect_refusal(vhost.raw{
				request = code,
				flags = vhost.VERSION | vhost.NEED_REPLY,
			})
			t:expect_alive()
		end,
	}
end

-- "Lower 2 bits are the version (currently 0x01)". A request of another
-- version is not one this back-end can read: refusing it or hanging up
-- are both fair, acting on it silently is not what the spec describes,
-- so this is ROBUST: any answer but a crash or a hang.
for _, version in ipairs({ 0, 2, 3 }) do
	case {
		id = ("vhost-user/header/version-%d"):format(version),
		spec = "vhost-user#header",
		level = "ROBUST",
		quote = [[Lower 2 bits are the version (currently 0x01)]],
		needs = { protocol_features = { "REPLY_ACK" } },
		run = function(t)
			local m = vhost.msg("SET_VRING_NUM", { index = 0, num = 256 })
			m.flags = version | vhost.NEED_REPLY
			t:expect_robust(m)
		end,
	}
end

-- "Bit 2 is the reply flag - needs to be sent on each reply from the
-- back-end": every reply, checked on the most basic one.
case {
	id = "vhost-user/header/reply-flag",
	spec = "vhost-user#header",
	level = "MUST",
	quote = [[Bit 2 is the reply flag - needs to be sent on each reply
from the back-end]],
	run = function(t)
		-- t:expect_reply judges the reply with the rule table: code,
		-- version 1, reply flag, size 8; anything else is "malformed"
		local r = t:expect_reply(vhost.msg("GET_FEATURES"))
		t:check(r.reply and r.version == 1, "version 1 and the reply flag",
		        ("flags 0x%x"):format(r.flags))
	end,
}

-- A request whose header says it is a reply: the spec only ever sends the
-- reply flag back-end to front-end. ROBUST: do not crash, do not hang.
case {
	id = "vhost-user/header/reply-flag-on-request",
	spec = "vhost-user#header",
	level = "ROBUST",
	quote = [[Bit 2 is the reply flag - needs to be sent on each reply
from the back-end]],
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		local m = vhost.msg("SET_VRING_NUM", { index = 0, num = 256 })
		m.flags = vhost.VERSION | vhost.REPLY | vhost.NEED_REPLY
		t:expect_robust(m)
	end,
}

-- REPLY_ACK: "the back-end MUST respond with a Payload VhostUserMsg
-- indicating success or failure". Whether num 256 suits this back-end is
-- its business; that it answers at all is the rule.
case {
	id = "vhost-user/header/need-reply-answered",
	spec = "vhost-user#vhost-user-protocol-f-reply-ack",
	level = "MUST",
	quote = [[With this protocol extension negotiated, the sender (QEMU) can
set the need_reply [Bit 3] flag to any command. This indicates that the
back-end MUST respond with a Payload VhostUserMsg indicating success or
failure.]],
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		t:expect(vhost.msg("SET_VRING_NUM", { index = 0, num = 256 }),
		         { "ack", "nack" }, { need_reply = true })
	end,
}

-- need_reply (bit 3) on a reply. The spec defines the bit for "the
-- sender" of a command ("the sender (QEMU) can set the need_reply [Bit 3]
-- flag to any command") and says nothing of it on a reply: a reply that
-- keeps it (libvhost-user builds its replies from the request and keeps
-- its flags) breaks no rule, so the spec cases tolerate it. QEMU's own
-- front-end takes a reply only if its flags are exactly the version and
-- the reply flag (0x5): that de-facto rule lives behind --profile qemu.
-- It fails on a back-end that answers with bit 3 (or bits 4-31) set.
case {
	id = "vhost-user/header/reply-flags-exact-qemu",
	spec = "vhost-user#header",
	level = "SHOULD",
	quote = [[- Bit 2 is the reply flag - needs to be sent on each reply from the back-end
- Bit 3 is the need_reply flag - see :ref:`REPLY_ACK <reply_ack>` for
  details.]],
	needs = { protocol_features = { "REPLY_ACK" }, profile = "qemu" },
	run = function(t)
		local m = vhost.msg("GET_FEATURES")
		m.flags = vhost.VERSION | vhost.NEED_REPLY
		local ok, why = t:send(m)
		if not ok then
			t:fail{ expected = "GET_FEATURES sent", actual = why }
		end
		local hdr = ""
		local stop = t:now_ms() + 1000
		while #hdr < 12 and t:now_ms() < stop do
			local b = t:recv_raw{ timeout = 200, max = 12 - #hdr }
			if not b or #b == 0 then
				break
			end
			hdr = hdr .. b
		end
		if #hdr < 12 then
			t:fail{ expected = "the GET_FEATURES reply",
			        actual = ("%d header bytes"):format(#hdr) }
		end
		local req, flags = string.unpack("<I4I4", hdr)
		t:check(req == 1 and flags == vhost.VERSION | 0x4,
		        "reply flags 0x5 (version 1 and the reply flag only)",
		        ("request %d, flags 0x%x"):format(req, flags))
	end,
}

-- The back-end answers a whole request first: it is then waiting for
-- the next one, so each piece that follows is read as it arrives (a
-- daemon still starting up, like testpmd, would otherwise find all the
-- pieces queued and read them at once: a verdict by timing).
local function reading(t)
	t:expect(vhost.msg("GET_FEATURES"), { "reply" })
end

-- GET_FEATURES sent in pieces cut at @cuts, each piece @gap ms after the
-- one before; while the header is incomplete nothing may come back (a
-- reader that takes a piece for a whole header answers it at once, with
-- the missing fields left from the message before: libvhost-user's default
-- reader). Then exactly one reply: a reader that also takes the rest for a
-- header of its own answers that too, and such an extra reply may come
-- late, so listen a while. Both checks fail a misreading back-end every
-- time, whatever the timing: the early answer comes within microseconds,
-- and if it comes later than @gap, it is the extra reply.
local function split_get_features(t, cuts, gap)
	local b = vhost.bytes(vhost.msg("GET_FEATURES"))
	local from = 1
	for k = 1, #cuts + 1 do
		local to = cuts[k] or #b
		local ok, why = t:send_bytes(b:sub(from, to))
		if not ok then
			t:fail{ expected = "the header's bytes " .. from .. "-" .. to ..
			                   " sent", actual = tostring(why) }
		end
		if cuts[k] then
			local r, w = t:recv{ timeout = gap }
			if r or w ~= "timeout" then
				t:fail{ expected = "nothing before the header's last " ..
				                   "byte (" .. to .. " of 12 sent)",
				        actual = r and "a message: " .. r.text or
				                 tostring(w) }
			end
		end
		from = to + 1
	end
	local r, why = t:recv()
	if not r then
		t:fail{ expected = "the GET_FEATURES reply", actual = tostring(why) }
	end
	t:check(r.name == "VHOST_USER_GET_FEATURES" and r.reply,
	        "the GET_FEATURES reply", r.text)
	local extra, w = t:recv{ timeout = 200 }
	if extra or w ~= "timeout" then
		t:fail{ expected = "one reply for the one request",
		        actual = extra and "an extra message: " .. extra.text or
		                 tostring(w) }
	end
end

-- A header that arrives in pieces. The spec never says "stream" in
-- words, but every front-end uses an AF_UNIX stream socket, which keeps no
-- write boundaries: any message may arrive in pieces, and a back-end reads
-- on until it has 12 bytes. Closing the connection instead is what a
-- reader that trusts one recvmsg() does (libvhost-user's default reader).
case {
	id = "vhost-user/header/split-header",
	spec = "vhost-user#header",
	level = "SHOULD",
	quote = [[It uses communication over a Unix domain socket to share file
descriptors in the ancillary data of the message.]],
	run = function(t)
		reading(t)
		split_get_features(t, { 1, 5, 9 }, 20)
		t:expect_alive()
	end,
}

-- The payload a moment after its header, with REPLY_ACK: the back-end
-- must still answer (a reader that asserts on a short read dies here).
case {
	id = "vhost-user/header/split-payload",
	spec = "vhost-user#vhost-user-protocol-f-reply-ack",
	level = "MUST",
	quote = [[This indicates that the back-end MUST respond with a Payload
VhostUserMsg indicating success or failure.]],
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		t:expect(vhost.msg("SET_VRING_NUM", { index = 0, num = 256 }),
		         { "ack", "nack" },
		         { split = "hdr", delay_ms = 20, need_reply = true })
		t:expect_alive()
	end,
}

-- :size: is "size of the payload": GET_FEATURES takes none. A back-end
-- that reads the announced 8 bytes and answers, or refuses, is fine; one
-- that leaves them in the stream answers the next request wrongly.
case {
	id = "vhost-user/header/payload-on-empty-request",
	spec = "vhost-user#header",
	level = "ROBUST",
	quote = [[:size: 32-bit size of the payload]],
	run = function(t)
		local m = vhost.msg("GET_FEATURES")
		m.size = 8
		m.payload = string.rep("\0", 8)
		t:expect_robust(m)
		-- still in step: the next request gets its own answer
		local kind = t:react(vhost.msg("GET_PROTOCOL_FEATURES"))
		t:check(kind == "reply" or kind == "hangup",
		        "the stream still in step", kind)
	end,
}

-- Several requests in one write: the same stream, no boundaries.
case {
	id = "vhost-user/header/two-in-one-write",
	spec = "vhost-user#communication",
	level = "ROBUST",
	quote = [[The communication consists of the front-end sending message
requests and the back-end sending message replies.]],
	run = function(t)
		assert(t:send_many{ vhost.msg("GET_FEATURES"),
		                    vhost.msg("GET_FEATURES") })
		for i = 1, 2 do
			local r, why = t:recv()
			if not r then
				t:fail{ expected = "two VHOST_USER_GET_FEATURES replies",
				        actual = ("%d, then %s"):format(i - 1, why) }
			end
			t:check(r.name == "VHOST_USER_GET_FEATURES" and r.reply,
			        "a GET_FEATURES reply", r.text)
		end
	end,
}

-- ---- generated from the rule table and more framing -------------------

local function short_id(name)
	return (name:gsub("^VHOST_USER_", ""):lower():gsub("_", "-"))
end

-- REPLY_ACK and the request's gate (INBAND_NOTIFICATIONS also needs
-- BACKEND_REQ: negotiating it alone is an error).
local function needs_for(rule)
	local pf = { "REPLY_ACK" }
	for _, g in ipairs(rule.gate) do
		if g ~= "REPLY_ACK" then
			pf[#pf + 1] = g
		end
		if g == "INBAND_NOTIFICATIONS" then
			pf[#pf + 1] = "BACKEND_REQ"
		end
	end
	return { protocol_features = pf }
end

-- The next message is the reply to a GET_FEATURES sent now (or the
-- connection is closed): nothing of an earlier request is left over.
local function expect_in_step(t, what)
	local kind, _, detail = t:react(vhost.msg("GET_FEATURES"))
	if kind ~= "reply" and kind ~= "hangup" then
		t:fail{ expected = "the stream in step after " .. what ..
		        ": the next message is the GET_FEATURES reply",
		        actual = detail }
	end
end

-- "Bit 2 is the reply flag - needs to be sent on each reply": every
-- request with a reply body that needs no payload and no fd, and the acks
-- (success and failure). The classifier refuses a reply without the flag
-- ("malformed").
for _, r in ipairs(vhost.rules()) do
	if r.dir == "front-end" and r.reply == "always" and
	   r.layout == "empty" and r.fds == "none" then
		case {
			id = "vhost-user/header/reply-flag/" .. short_id(r.name),
			spec = "vhost-user#header",
			level = "MUST",
			quote = [[Bit 2 is the reply flag - needs to be sent on each reply
from the back-end]],
			needs = needs_for(r),
			run = function(t)
				local rep, kind = t:expect(vhost.sample(r.name, t),
				                           { "reply", "nack", "hangup" })
				if kind ~= "hangup" then
					t:check(rep.reply and rep.version == 1,
					        "version 1 and the reply flag",
					        ("flags 0x%x"):format(rep.flags))
				end
			end,
		}
	end
end

case {
	id = "vhost-user/header/reply-flag/ack",
	spec = "vhost-user#header",
	level = "MUST",
	quote = [[Bit 2 is the reply flag - needs to be sent on each reply from
the back-end]],
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		local rep = t:expect(vhost.msg("SET_VRING_NUM",
		                               { index = 0, num = 256 }),
		                     { "ack", "nack" }, { need_reply = true })
		t:check(rep.reply and rep.version == 1,
		        "version 1 and the reply flag", ("flags 0x%x"):format(
		        rep.flags))
	end,
}

-- The error ack too: SET_LOG_FD without its fd cannot succeed.
case {
	id = "vhost-user/header/reply-flag/nack",
	spec = "vhost-user#header",
	level = "MUST",
	quote = [[Bit 2 is the reply flag - needs to be sent on each reply from
the back-end]],
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		local rep, kind = t:expect(vhost.msg("SET_LOG_FD"),
		                           { "ack", "nack", "hangup" },
		                           { need_reply = true })
		if kind ~= "hangup" then
			t:check(rep.reply and rep.version == 1,
			        "version 1 and the reply flag",
			        ("flags 0x%x"):format(rep.flags))
		end
	end,
}

-- Flag bits 4-31: the spec defines bits 0-3 only. A back-end may ignore
-- them or refuse the request (rust-vmm hangs up), but not crash, not
-- answer garbage, not lose its place in the stream.
for _, bit in ipairs({ 4, 7, 8, 16, 31 }) do
	case {
		id = ("vhost-user/header/reserved-flag-bit-%d"):format(bit),
		spec = "vhost-user#header",
		level = "ROBUST",
		quote = [[:flags: 32-bit bit field]],
		needs = { protocol_features = { "REPLY_ACK" } },
		run = function(t)
			local m = vhost.msg("GET_FEATURES")
			m.flags = vhost.VERSION | 1 << bit
			t:expect(m, { "reply", "nack", "hangup" })
			expect_in_step(t, "a request with flag bit " .. bit)
			t:expect_alive()
		end,
	}
end

-- The header cut at every byte, each piece a moment apart: a stream
-- socket keeps no boundaries, a reader must gather 12 bytes (seeded bug
-- header-split-desync misparses a header cut at byte 4 and later ones).
for cut = 1, 11 do
	case {
		id = ("vhost-user/header/split-header-at-%d"):format(cut),
		spec = "vhost-user#header",
		level = "SHOULD",
		quote = [[It uses communication over a Unix domain socket to share
file descriptors in the ancillary data of the message.]],
		run = function(t)
			reading(t)
			split_get_features(t, { cut }, 50)
			expect_in_step(t, "a split header")
		end,
	}
end

-- The payload in pieces with pauses (seeded bug payload-short-read-abort:
-- a reader that asserts on a short read dies): the 40 bytes of
-- SET_VRING_ADDR cut three times, and SET_VRING_NUM's 8 cut at each byte.
case {
	id = "vhost-user/header/split-payload-pieces",
	spec = "vhost-user#vhost-user-protocol-f-reply-ack",
	level = "MUST",
	quote = [[This indicates that the back-end MUST respond with a Payload
VhostUserMsg indicating success or failure.]],
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		t:expect(vhost.msg("SET_VRING_ADDR", { index = 0 }),
		         { "ack", "nack" },
		         { split = { 12, 13, 30, 45 }, delay_ms = 15,
		           need_reply = true })
		expect_in_step(t, "a payload in pieces")
		t:expect_alive()
	end,
}

for cut = 13, 19 do
	case {
		id = ("vhost-user/header/split-payload-at-%d"):format(cut),
		spec = "vhost-user#vhost-user-protocol-f-reply-ack",
		level = "MUST",
		quote = [[This indicates that the back-end MUST respond with a
Payload VhostUserMsg indicating success or failure.]],
		needs = { protocol_features = { "REPLY_ACK" } },
		run = function(t)
			t:expect(vhost.msg("SET_VRING_NUM", { index = 0, num = 256 }),
			         { "ack", "nack" },
			         { split = { cut }, delay_ms = 10, need_reply = true })
			expect_in_step(t, "a payload cut at byte " .. cut)
			t:expect_alive()
		end,
	}
end

-- One write holding a whole request and the first bytes of the next: the
-- reader must keep the rest for the next message. As split-header: the
-- stream keeps no write boundaries, so closing the connection here is
-- what a reader that trusts one recvmsg() per header does (DPDK).
case {
	id = "vhost-user/header/message-and-part-of-next",
	spec = "vhost-user#header",
	level = "SHOULD",
	quote = [[It uses communication over a Unix domain socket to share file
descriptors in the ancillary data of the message.]],
	run = function(t)
		local a = vhost.bytes(vhost.msg("GET_FEATURES"))
		local b = vhost.bytes(vhost.msg("GET_PROTOCOL_FEATURES"))
		local function step(bytes, name)
			local ok, why = t:send_bytes(bytes)
			local r
			if ok then
				r, why = t:recv()
			end
			if not r then
				t:fail{ expected = "the " .. name .. " reply",
				        actual = tostring(why) }
			end
			t:check(r.name == "VHOST_USER_" .. name and r.reply,
			        "the " .. name .. " reply", r.text)
		end
		step(a .. b:sub(1, 5), "GET_FEATURES")
		t:sleep(20)
		step(b:sub(6), "GET_PROTOCOL_FEATURES")
		t:expect_alive()
	end,
}

-- Several need_reply requests and a GET in one write: each answered, in
-- order.
case {
	id = "vhost-user/header/mixed-in-one-write",
	spec = "vhost-user#communication",
	level = "MUST",
	quote = [[The communication consists of the front-end sending message
requests and the back-end sending message replies.]],
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		local a = vhost.msg("SET_VRING_NUM", { index = 0, num = 256 })
		a.flags = a.flags | vhost.NEED_REPLY
		local list = { a, vhost.msg("GET_FEATURES"),
		               vhost.msg("GET_PROTOCOL_FEATURES") }
		assert(t:send_many(list))
		for _, m in ipairs(list) do
			local r, why = t:recv()
			if not r then
				t:fail{ expected = "the reply to " .. m.name, actual = why }
			end
			t:check(r.request == m.request and r.reply,
			        "the reply to " .. m.name, r.text)
		end
	end,
}

-- :size: that does not fit the request. Each request with a fixed
-- payload size and no fd, sent with 4 bytes too few or 8 too many (and
-- that many bytes, so the stream itself stays well framed). The message
-- is not the request the spec lays out: it should be refused with a
-- non-zero ack (REPLY_ACK) or a hang-up; whatever the back-end does, it
-- must read exactly :size: bytes (the next request gets its own reply).
for _, r in ipairs(vhost.rules()) do
	if r.dir == "front-end" and r.size_rule == "exact" and
	   r.fds == "none" and r.reply == "if_acked" then
		local variants = { { id = "long", delta = 8 } }
		if r.size >= 4 then
			table.insert(variants, 1, { id = "short", delta = -4 })
		end
		for _, v in ipairs(variants) do
			case {
				id = ("vhost-user/header/size-%s/%s"):format(v.id,
					short_id(r.name)),
				spec = "vhost-user#header",
				level = "SHOULD",
				quote = [[:size: 32-bit size of the payload]],
				needs = needs_for(r),
				run = function(t)
					local m = vhost.sample(r.name, t)
					m.size = r.size + v.delta
					m.payload = m.payload:sub(1, math.max(0, m.size)) ..
					            string.rep("\0", math.max(0, v.delta))
					t:expect_refusal(m, { need_reply = true })
					expect_in_step(t, ("a %d-byte %s"):format(m.size,
					               r.name))
					t:expect_alive()
				end,
			}
		end
	end
end

-- A size past anything the spec defines (16 MiB), with only 8 bytes
-- behind it: the back-end may refuse at once, hang up, or wait for bytes
-- that never come; it must not crash (or allocate its way out of memory).
-- With fds on it: they must not leak (DPDK 585283f9a7).
case {
	id = "vhost-user/header/size-huge",
	spec = "vhost-user#header",
	level = "ROBUST",
	quote = [[:size: 32-bit size of the payload]],
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		local w, rd = fdzoo.new("pipe-write")
		local m = vhost.raw{ request = vhost.code("SET_VRING_NUM"),
		                     flags = vhost.VERSION | vhost.NEED_REPLY,
		                     size = 1 << 24, payload = string.rep("\0", 8),
		                     fds = { w } }
		t:expect(m, { "nack", "hangup", "timeout" }, { timeout = 300 })
		t:expect_alive()
		-- our end closed, and the connection: its fd copy must go too
		w:close()
		t:shutdown("write")
		local _, why = rd:read(1, 500)
		t:check(why == "eof" or not t:alive(),
		        "the fd sent with it closed once the connection is",
		        "still open: leaked")
	end,
}

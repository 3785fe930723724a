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
		t:expect(vhost.msg("GET_FEATURES"), { "reply" },
		         { split = { 1, 5, 9 }, delay_ms = 20 })
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

-- SPDX-License-Identifier: MIT
-- selftest.lua - tiny cases for the runner's self-tests (run against
-- tests/run/fake_target.c in its misbehaving modes). Not conformance cases.

case {
	id = "selftest/get-features",
	protocol = "vhost-user",
	spec = "vhost-user#front-end-message-types",
	level = "MUST",
	quote = "VHOST_USER_GET_FEATURES ... reply: u64",
	run = function(t)
		t:expect_reply(vhost.msg("GET_FEATURES"))
	end,
}

case {
	id = "selftest/many-messages",
	protocol = "vhost-user",
	spec = "vhost-user#front-end-message-types",
	level = "ROBUST",
	quote = "VHOST_USER_GET_FEATURES ... reply: u64",
	run = function(t)
		for _ = 1, 20 do
			t:expect_reply(vhost.msg("GET_FEATURES"))
		end
	end,
}

-- fake_target offers no protocol features: this one skips.
case {
	id = "selftest/needs-reply-ack",
	protocol = "vhost-user",
	spec = "vhost-user#protocol-features",
	level = "MUST",
	quote = "VHOST_USER_PROTOCOL_F_REPLY_ACK",
	needs = { protocol_features = { "REPLY_ACK" } },
	run = function(t)
		t:expect_ack(vhost.msg("SET_OWNER"))
	end,
}

case {
	id = "selftest/should-level",
	protocol = "vhost-user",
	spec = "vhost-user#front-end-message-types",
	level = "SHOULD",
	quote = "VHOST_USER_GET_QUEUE_NUM ... reply: u64",
	run = function(t)
		t:expect_reply(vhost.msg("GET_QUEUE_NUM"))
	end,
}

case {
	id = "selftest/fresh-process",
	protocol = "vhost-user",
	spec = "vhost-user#backend-program-conventions",
	level = "MUST",
	quote = "--socket-path=PATH",
	needs = { fresh_process = true },
	run = function(t)
		t:expect_reply(vhost.msg("GET_FEATURES"))
	end,
}

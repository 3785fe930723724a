-- SPDX-License-Identifier: MIT
-- A good file beside a broken one: it still loads and runs.
case {
	id = "selftest/still-runs",
	protocol = "vhost-user",
	spec = "vhost-user#front-end-message-types",
	level = "MUST",
	quote = "VHOST_USER_GET_FEATURES ... reply: u64",
	run = function(t)
		t:expect_reply(vhost.msg("GET_FEATURES"))
	end,
}

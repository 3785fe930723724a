-- SPDX-License-Identifier: MIT
-- profile.lua - a case behind a de-facto profile, for the runner's
-- self-test of --profile (selftest.sh skip): SKIPped unless
-- --profile selftest-profile is given, then run like any other.

case {
	id = "selftest/needs-profile",
	protocol = "vhost-user",
	spec = "vhost-user#front-end-message-types",
	level = "MUST",
	quote = "VHOST_USER_GET_FEATURES ... reply: u64",
	needs = { profile = "selftest-profile" },
	run = function(t)
		t:check(t.profiles["selftest-profile"], "the profile selected",
		        "not in t.profiles")
		t:expect_reply(vhost.msg("GET_FEATURES"))
	end,
}

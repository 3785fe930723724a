-- SPDX-License-Identifier: MIT
-- Deliberately broken (a self-test of load errors): line 5 does not parse.
case {
	id = "selftest/broken",
	spec = = "vhost-user#x",
}

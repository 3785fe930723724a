-- SPDX-License-Identifier: MIT
-- version.lua - VFIO_USER_VERSION: the version and capability exchange
-- that opens every session.
--
-- Spec: vfio-user.rst, "VFIO_USER_VERSION".

local SPEC = "vfio-user#vfio-user-version"

-- t:expect_success judges the reply with vfio_user_check_reply(): reply
-- type, msg_id and command echoed, major equal and minor not above the
-- proposal, capabilities a subset of those proposed.
case {
	id = "vfio-user/version/negotiate",
	spec = SPEC,
	level = "MUST",
	quote = [[The major version in the reply must be the same as proposed.
The minor version in the reply must be equal to or less than the minor
version proposed.]],
	run = function(t)
		local r = t:expect_success(vfio.msg("VERSION", {
			caps = { max_msg_fds = 8, max_data_xfer_size = 1048576 },
		}))
		t:check(r.major == vfio.MAJOR, "major " .. vfio.MAJOR, r.major)
	end,
}

-- A proposal of a later minor than the server knows: it answers with the
-- minor it supports, which is below ours.
case {
	id = "vfio-user/version/later-minor",
	spec = SPEC,
	level = "MUST",
	quote = [[The minor version in the reply must be equal to or less than
the minor version proposed.]],
	run = function(t)
		t:expect_success(vfio.msg("VERSION", { minor = 0x7fff, caps = {} }))
	end,
}

-- Version data is optional: a VERSION of four bytes is a proposal with
-- every capability at its default.
case {
	id = "vfio-user/version/no-version-data",
	spec = SPEC,
	level = "MUST",
	quote = [[version data    4       variable (including terminating NUL).
Optional.]],
	run = function(t)
		t:expect_success(vfio.msg("VERSION", {}))
	end,
}

-- A major the server does not speak: it cannot answer with that major, so
-- an error reply or closing the connection are the legal answers; a
-- success reply with another major breaks "must be the same as proposed".
case {
	id = "vfio-user/version/unknown-major",
	spec = SPEC,
	level = "MUST",
	quote = [[The major version in the reply must be the same as proposed.]],
	run = function(t)
		t:expect_refusal(vfio.msg("VERSION", { major = 0x7fff, caps = {} }))
		t:expect_alive()
	end,
}

-- Version data without its NUL, or not JSON at all: a server must not
-- read past the message or crash on it.
local bad_data = {
	{ "json-without-nul", "{}" },
	{ "not-json", "capabilities\0" },
	{ "wrong-type", "{\"capabilities\":{\"max_msg_fds\":\"many\"}}\0" },
	{ "truncated", "{\"capabilities\":{\0" },
}
for _, bad in ipairs(bad_data) do
	local name, data = bad[1], bad[2]
	case {
		id = "vfio-user/version/" .. name,
		spec = SPEC,
		level = "ROBUST",
		quote = [[The version data is an optional UTF-8 encoded JSON byte
array]],
		run = function(t)
			t:expect_robust(vfio.raw{
				command = "VERSION",
				payload = string.pack("<I2I2", vfio.MAJOR, vfio.MINOR) ..
				          data,
			})
		end,
	}
end

-- "the client must send a VFIO_USER_VERSION message" first; what the
-- server does with anything else first is not written down.
case {
	id = "vfio-user/version/not-first",
	spec = SPEC,
	level = "ROBUST",
	quote = [[Upon establishing a connection, the client must send a
VFIO_USER_VERSION message proposing a protocol version and a set of
capabilities.]],
	run = function(t)
		t:expect_robust(vfio.msg("DEVICE_GET_INFO"))
	end,
}

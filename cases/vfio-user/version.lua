-- SPDX-License-Identifier: MIT
-- version.lua - VFIO_USER_VERSION: the version and capability exchange
-- that opens every session: versions, the JSON capabilities (good, bad,
-- unknown, out of range), and the limits they set (max_msg_fds,
-- max_data_xfer_size) as the server then honours them.
--
-- Spec: vfio-user.rst, "VFIO_USER_VERSION"; checklist ids VU-VER-*
-- (research/vfio-user-assertions.md).

local SPEC = "vfio-user#vfio-user-version"

-- A VERSION with exactly these version-data bytes (nil: none at all).
local function version_raw(data, major, minor)
	return vfio.raw{
		command = "VERSION",
		payload = string.pack("=I2I2", major or vfio.MAJOR,
		                      minor or vfio.MINOR) .. (data or ""),
	}
end

local function still_serves(t)
	t:expect_success(vfio.msg("DEVICE_GET_INFO", { argsz = 16 }))
end

-- t:expect_success judges the reply with vfio_user_check_reply(): reply
-- type, msg_id and command echoed, major equal and minor not above the
-- proposal, capabilities a subset of those proposed.
case {
	id = "vfio-user/version/negotiate",
	spec = SPEC .. "/VU-VER-03",
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

-- VERSION is one of the Commands, so the No_reply bit applies to it too: a
-- server that answers anyway puts a reply on the wire that the client may
-- take for the reply to a later command (seeded bug no-reply-answered).
-- Only the silence is judged: what the server does with the session next
-- (negotiated, or refused at the next command) the spec does not say, so
-- SHOULD, and a hang-up after the silence is not held against it.
case {
	id = "vfio-user/version/no-reply-silent",
	spec = SPEC .. "/VU-HDR-07",
	level = "SHOULD",
	quote = [[Each command message in Commands_ must be replied to with a
reply message, unless the message sets the *No_Reply* bit.]],
	run = function(t)
		local m = vfio.msg("VERSION", { caps = { max_msg_fds = 8 } })
		m.flags = vfio.NO_REPLY
		t:expect_no_reply(m, { timeout = 200 })
	end,
}

-- A proposal of a later minor than the server knows: it answers with the
-- minor it supports, which is below ours.
case {
	id = "vfio-user/version/later-minor",
	spec = SPEC .. "/VU-VER-03",
	level = "MUST",
	quote = [[The minor version in the reply must be equal to or less than
the minor version proposed.]],
	run = function(t)
		t:expect_success(vfio.msg("VERSION", { minor = 0x7fff, caps = {} }))
	end,
}

-- "Both the client and server must support all minor versions less than
-- the maximum minor version it supports": 0.0 and 0.1 are answered with
-- that minor or less, never the server's own later one.
for _, minor in ipairs({ 0, 1 }) do
	case {
		id = "vfio-user/version/earlier-minor-" ..
		     ({ [0] = "zero", [1] = "one" })[minor],
		spec = SPEC .. "/VU-VER-03",
		level = "MUST",
		quote = [[Both the client and server must support all minor
versions less than the maximum minor version it supports.]],
		run = function(t)
			local r = t:expect_success(vfio.msg("VERSION", {
				minor = minor, caps = { max_msg_fds = 8 } }))
			t:check(r.minor and r.minor <= minor,
			        "minor " .. minor .. " or less", r.minor)
		end,
	}
end

-- Version data is optional: a VERSION of four bytes is a proposal with
-- every capability at its default.
case {
	id = "vfio-user/version/no-version-data",
	spec = SPEC .. "/VU-VER-10",
	level = "MUST",
	quote = [[version data    4       variable (including terminating NUL).
Optional.]],
	run = function(t)
		t:expect_success(vfio.msg("VERSION", {}))
	end,
}

-- "capabilities ... Optional.": an empty object, an empty capabilities
-- object.
for _, e in ipairs({ { "empty-object", "{}\0" },
                     { "empty-capabilities", "{\"capabilities\":{}}\0" } }) do
	case {
		id = "vfio-user/version/" .. e[1],
		spec = SPEC .. "/VU-VER-10",
		level = "MUST",
		quote = [[| capabilities | object | Contains common capabilities that |
|              |        | the sender supports. Optional.    |]],
		run = function(t)
			t:expect_success(version_raw(e[2]))
		end,
	}
end

-- A major the server does not speak: it cannot answer with that major, so
-- an error reply or closing the connection are the legal answers; a
-- success reply with another major breaks "must be the same as proposed".
case {
	id = "vfio-user/version/unknown-major",
	spec = SPEC .. "/VU-VER-02",
	level = "MUST",
	quote = [[The major version in the reply must be the same as proposed.]],
	run = function(t)
		t:expect_refusal(vfio.msg("VERSION", { major = 0x7fff, caps = {} }))
		t:expect_alive()
	end,
}

-- "version data ... (including terminating NUL)": JSON without its NUL is
-- not version data.
case {
	id = "vfio-user/version/json-without-nul",
	spec = SPEC .. "/VU-VER-05",
	level = "MUST",
	quote = [[version data    4       variable (including terminating NUL).
Optional.]],
	run = function(t)
		t:expect_refusal(version_raw("{\"capabilities\":{}}"))
		t:expect_alive()
	end,
}

-- Version data that is not the JSON the spec describes: refused (the
-- server cannot know the client's limits); never read past, never a
-- crash.
local bad_data = {
	{ "not-json", "capabilities\0", "VU-VER-06" },
	{ "lone-brace", "{\0", "VU-VER-06" },
	{ "lone-quote", "\"\0", "VU-VER-06" },
	{ "truncated", "{\"capabilities\":{\0", "VU-VER-06" },
	{ "top-level-array", "[1,2]\0", "VU-VER-07" },
	{ "capabilities-not-object", "{\"capabilities\":23}\0", "VU-VER-07" },
	{ "wrong-type", "{\"capabilities\":{\"max_msg_fds\":\"many\"}}\0",
	  "VU-VER-08" },
	{ "max-msg-fds-negative", "{\"capabilities\":{\"max_msg_fds\":-1}}\0",
	  "VU-VER-08" },
	{ "max-msg-fds-fraction", "{\"capabilities\":{\"max_msg_fds\":1.5}}\0",
	  "VU-VER-08" },
	{ "write-multiple-not-bool",
	  "{\"capabilities\":{\"write_multiple\":\"yes\"}}\0", "VU-VER-08" },
}
for _, bad in ipairs(bad_data) do
	case {
		id = "vfio-user/version/" .. bad[1],
		spec = SPEC .. "/" .. bad[3],
		level = "SHOULD",
		quote = [[The version data is an optional UTF-8 encoded JSON byte
array with the following format:]],
		run = function(t)
			t:expect_refusal(version_raw(bad[2]))
			t:expect_alive()
		end,
	}
end

-- Bytes after the NUL, a NUL inside the JSON, and invalid UTF-8: no
-- over-read, no crash.
local odd_data = {
	{ "bytes-after-nul", "{}\0garbage" },
	{ "nul-inside", "{\"capa\0bilities\":{}}\0" },
	{ "invalid-utf8", "{\"capabilities\":{\"\xff\xfe\":1}}\0" },
	{ "deep-nesting", string.rep("[", 4000) .. string.rep("]", 4000) ..
	                  "\0" },
}
for _, o in ipairs(odd_data) do
	case {
		id = "vfio-user/version/" .. o[1],
		spec = SPEC .. "/VU-VER-06",
		level = "ROBUST",
		quote = [[The version data is an optional UTF-8 encoded JSON byte
array with the following format:]],
		run = function(t)
			t:expect_robust(version_raw(o[2]))
		end,
	}
end

-- A payload too short to hold major and minor.
for _, n in ipairs({ 0, 2 }) do
	case {
		id = "vfio-user/version/payload-" ..
		     ({ [0] = "empty", [2] = "two-bytes" })[n],
		spec = SPEC .. "/VU-VER-19",
		level = "ROBUST",
		quote = [[version major   0       2
version minor   2       2]],
		run = function(t)
			t:expect_robust(vfio.raw{ command = "VERSION",
			                          payload = ("\0"):rep(n) })
		end,
	}
end

-- Keys the server does not know are for a later minor: "The minor version
-- may change when compatible changes are made, such as adding new
-- messages or capabilities".
local unknown = {
	{ "unknown-capability",
	  "{\"capabilities\":{\"max_msg_fds\":8,\"frobnicate\":{\"x\":[1]}}}\0" },
	{ "unknown-top-level-key",
	  "{\"capabilities\":{\"max_msg_fds\":8},\"vendor\":\"x\"}\0" },
	{ "unknown-twin-socket-key",
	  "{\"capabilities\":{\"twin_socket\":{\"supported\":false," ..
	  "\"colour\":1}}}\0" },
}
for _, u in ipairs(unknown) do
	case {
		id = "vfio-user/version/" .. u[1],
		spec = SPEC .. "/VU-VER-09",
		level = "SHOULD",
		quote = [[The minor version may change
when compatible changes are made, such as adding new messages or capabilities,]],
		run = function(t)
			t:expect_success(version_raw(u[2]))
		end,
	}
end

-- "The capability list must be a subset of those proposed": a client
-- that proposed no write_multiple and no twin socket gets neither.
case {
	id = "vfio-user/version/caps-subset",
	spec = SPEC .. "/VU-VER-04",
	level = "MUST",
	quote = [[The capability list must be a subset of those proposed.]],
	run = function(t)
		local r = t:expect_success(vfio.msg("VERSION", {
			caps = { max_msg_fds = 8 } }))
		local c = r.caps or {}
		t:check(not c.write_multiple, "no write_multiple (not proposed)",
		        r.json)
		t:check(not c.twin_socket and #r.fds == 0,
		        "no twin socket and no fd (not proposed)", r.json)
	end,
}

case {
	id = "vfio-user/version/caps-subset-no-data",
	spec = SPEC .. "/VU-VER-04",
	level = "MUST",
	quote = [[The capability list must be a subset of those proposed.]],
	run = function(t)
		local r = t:expect_success(vfio.msg("VERSION", {}))
		local c = r.caps or {}
		t:check(not c.write_multiple and not c.twin_socket,
		        "no write_multiple and no twin_socket (nothing proposed)",
		        r.json or "no version data")
	end,
}

-- "If and only if the client has indicated support for twin-socket mode
-- ... the server may optionally set up a separate command channel": if it
-- does, "supported" is true and fd_index names a socket in the reply.
case {
	id = "vfio-user/version/twin-socket-consistent",
	spec = SPEC .. "/VU-VER-15",
	level = "MUST",
	quote = [[* Indicate the index in the file descriptor array by the
``twin_socket.fd_index`` capability field in the reply, so the client can
identify the correct file descriptor to use.]],
	run = function(t)
		local r = t:expect_success(vfio.msg("VERSION", {
			caps = { max_msg_fds = 8, twin_socket = 1 } }))
		if not (r.caps and r.caps.twin_socket) then
			t:check(#r.fds == 0, "no fds without twin-socket mode",
			        #r.fds .. " fds")
			return
		end
		local idx = tonumber((r.json or ""):match(
			"\"fd_index\"%s*:%s*(%d+)"))
		t:check(idx ~= nil, "twin_socket.fd_index in the reply", r.json)
		t:check(idx < #r.fds and r.fd_kinds[idx + 1] == "socket",
		        "fd_index " .. idx .. " naming a socket among the " ..
		        "reply's fds", table.concat(r.fd_kinds, ", "))
		still_serves(t)
		-- The server keeps its end of the twin socket, an fd the
		-- runner's leak check does not expect; leave, so that it
		-- is released (a one-client server then exits).
		t:shutdown("write")
		if t:has_process() then
			t:wait_exit(200)
		end
	end,
}

-- Before negotiation the client proposed nothing: "If not specified then
-- the receiver must assume a value of 1". With max_msg_fds 0 the server
-- sends no fd at all (region info of mappable regions included).
for _, v in ipairs({ { "max-msg-fds-zero", { max_msg_fds = 0 }, 0 },
                     { "max-msg-fds-default", nil, 1 } }) do
	case {
		id = "vfio-user/version/" .. v[1] .. "-honoured",
		spec = SPEC .. "/VU-VER-13",
		level = "MUST",
		quote = [[| max_msg_fds        | number  | Maximum number of file descriptors that can   |
|                    |         | be received by the sender in one message.     |
|                    |         | Optional. If not specified then the receiver  |]],
		run = function(t)
			if v[2] then
				local r, kind = t:call(vfio.msg("VERSION",
				                                { caps = v[2] }))
				if kind ~= "ack" then
					-- refusing to talk to such a client is
					-- the server's choice
					t:skip("max_msg_fds 0 not accepted: " ..
					       tostring(r and r.text or kind))
				end
			else
				t:expect_success(vfio.msg("VERSION", {}))
			end
			local info = t:expect_success(vfio.msg("DEVICE_GET_INFO",
			                                       { argsz = 16 })).info
			for i = 0, math.min(info.num_regions, 32) - 1 do
				for _, m in ipairs({
					vfio.msg("GET_REGION_INFO", { argsz = 4096,
					                              index = i }),
					vfio.msg("GET_REGION_IO_FDS", { argsz = 4096,
					                                index = i }),
				}) do
					local r = t:call(m)
					if r then
						t:check(#r.fds <= v[3], ("at most %d " ..
						        "fds"):format(v[3]), #r.fds ..
						        " fds on " .. r.text)
					end
				end
			end
		end,
	}
end

-- max_data_xfer_size at the edges: 0 (nothing may move), and values past
-- 32 bits. Refused or clamped; never truncated into something small or
-- negative that breaks the next transfer.
local xfer = {
	{ "max-data-xfer-zero", "0" },
	{ "max-data-xfer-4g", "4294967296" },
	{ "max-data-xfer-4g-plus-one", "4294967297" },
	{ "max-data-xfer-huge", "18446744073709551615" },
	{ "max-data-xfer-negative", "-1" },
}
for _, x in ipairs(xfer) do
	case {
		id = "vfio-user/version/" .. x[1],
		spec = SPEC .. "/VU-VER-12",
		level = "ROBUST",
		quote = [[| max_data_xfer_size | number  | Maximum ``count`` for data transfer messages; |]],
		run = function(t)
			local _, kind = t:expect_robust(version_raw(
				"{\"capabilities\":{\"max_msg_fds\":8," ..
				"\"max_data_xfer_size\":" .. x[2] .. "}}\0"))
			if kind == "ack" then
				-- a small config read still works (or is refused)
				t:expect_robust(vfio.msg("REGION_READ", {
					region = 7, offset = 0, count = 4 }))
			end
		end,
	}
end

-- A second VERSION once negotiated: "This is the initial message sent by
-- the client after the socket connection is established".
case {
	id = "vfio-user/version/second-version",
	spec = SPEC .. "/VU-VER-17",
	level = "SHOULD",
	quote = [[This is the initial message sent by the client after the
socket connection is established; the same format is used for the server's
reply.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		local _, kind = t:expect_refusal(vfio.msg("VERSION", {
			caps = { max_msg_fds = 8 } }))
		if kind ~= "hangup" then
			still_serves(t)
		end
	end,
}

-- "the client must send a VFIO_USER_VERSION message" first; what the
-- server does with anything else first is not written down.
for _, first in ipairs({
	{ "not-first", function() return vfio.msg("DEVICE_GET_INFO") end },
	{ "not-first-dma-map", function()
		return vfio.msg("DMA_MAP", { flags = 3, addr = 0x100000,
		                             size = 4096 })
	end },
	{ "not-first-no-reply", function()
		local m = vfio.msg("DEVICE_RESET")
		m.flags = vfio.NO_REPLY
		return m
	end },
}) do
	case {
		id = "vfio-user/version/" .. first[1],
		spec = SPEC .. "/VU-VER-01",
		level = "ROBUST",
		quote = [[Upon establishing a connection, the client must send a
VFIO_USER_VERSION message proposing a protocol version and a set of
capabilities.]],
		run = function(t)
			t:expect_robust(first[2](), { silence_ok =
				first[1] == "not-first-no-reply", timeout = 200 })
		end,
	}
end

-- libvfio-user: max_msg_fds above 1024 and a migration page size that is
-- not a page size are refused with EINVAL.
for _, d in ipairs({
	{ "max-msg-fds-above-limit",
	  "{\"capabilities\":{\"max_msg_fds\":1025}}\0" },
	{ "migration-pgsize-odd",
	  "{\"capabilities\":{\"migration\":{\"pgsize\":4095}}}\0" },
	{ "migration-not-object",
	  "{\"capabilities\":{\"migration\":\"23\"}}\0" },
}) do
	case {
		id = "vfio-user/version/" .. d[1],
		spec = SPEC .. "/VU-VER-18",
		level = "MUST",
		quote = [[The server
compares these with the versions and capabilities it supports and sends a
``VFIO_USER_VERSION`` reply according to the following rules.]],
		needs = { profile = "libvfio-user" },
		run = function(t)
			t:expect_error(version_raw(d[2]), "EINVAL",
			               { hangup_ok = true })
		end,
	}
end

-- QEMU's client (hw/vfio-user/proxy.c) proposes version 0.0 with this
-- capability set, migration object included.
case {
	id = "vfio-user/version/qemu-proposal",
	spec = SPEC .. "/VU-VER-09",
	level = "MUST",
	quote = [[The server
compares these with the versions and capabilities it supports and sends a
``VFIO_USER_VERSION`` reply according to the following rules.]],
	needs = { profile = "qemu" },
	run = function(t)
		local r = t:expect_success(version_raw(
			"{\"capabilities\":{\"max_msg_fds\":16," ..
			"\"max_data_xfer_size\":1048576,\"pgsizes\":4096," ..
			"\"max_dma_maps\":65535,\"write_multiple\":true," ..
			"\"migration\":{\"pgsize\":4096," ..
			"\"max_bitmap_size\":1048576}}}\0", 0, 0))
		t:check(r.minor == 0, "minor 0", r.minor)
		t:check(r.json ~= nil, "capabilities JSON with its NUL",
		        "no version data")
	end,
}

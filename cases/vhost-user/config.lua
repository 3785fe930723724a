-- SPDX-License-Identifier: MIT
-- config.lua - the virtio device configuration space through
-- VHOST_USER_GET_CONFIG and VHOST_USER_SET_CONFIG: offsets, sub-ranges,
-- partial writes, sizes past the end, read-only fields.
--
-- Spec: vhost-user.rst, "Virtio device config space", GET_CONFIG and
-- SET_CONFIG; VIRTIO 1.x device configuration layouts (net: every field
-- read-only for the driver; blk: capacity read-only).

local GET_QUOTE = [[vhost-user back-end's payload size MUST match the
front-end's request, vhost-user back-end uses zero length of payload to
indicate an error to the vhost-user front-end.]]
local SET_QUOTE = [[The vhost-user back-end must check the flags field, and
back-ends MUST NOT accept SET_CONFIG for read-only configuration space
fields unless the live migration bit is set.]]
local OFFSET_QUOTE = [[:offset: a 32-bit offset of virtio device's
configuration space]]

-- A read-only field every device of the profile has at offset 0: net
-- "All of the device configuration fields are read-only for the driver"
-- (mac, 6 bytes), blk capacity (8 bytes). Other devices: none known here.
local READONLY = { net = 6, blk = 8 }

-- Hex of a short string, for expected / actual lines.
local function hex(s)
	return (s:gsub(".", function(c)
		return ("%02x"):format(c:byte())
	end))
end

-- A config message with any fields, the payload as it goes out: the
-- 12-byte head, then at most 256 data bytes whatever size says.
local function config_msg(name, offset, size, flags, data)
	data = data or string.rep("\0", math.min(size, 256))
	return vhost.msg(name, { payload = string.pack("<I4I4I4", offset, size,
	                                               flags) .. data })
end

-- GET_CONFIG of [offset, offset + size): the reply table, its kind.
-- FAILs on a reply whose size is neither the one asked for nor 0.
local function get_config(t, offset, size, flags)
	local m = vhost.msg("GET_CONFIG", { offset = offset, size = size,
	                                    flags = flags or 0 })
	local r, kind = t:expect(m, { "reply", "nack" })
	if kind == "reply" then
		local c = r.config
		t:check(c and c.size == size and #c.data == size,
		        ("a payload of the %d config bytes asked for"):format(size),
		        c and ("%d bytes"):format(c.size) or r.text)
	end
	return r, kind
end

-- The first n bytes of the config space, or SKIP when the back-end reads
-- none (a zero-length reply for a plain read at offset 0).
local function config_prefix(t, n)
	local r, kind = get_config(t, 0, n)
	if kind ~= "reply" then
		t:skip(("GET_CONFIG of %d bytes at offset 0 is refused"):format(n))
	end
	return r.config.data
end

-- "payload size MUST match the front-end's request": short reads at
-- offset 0, inside every device's fields. A back-end that returns its
-- whole struct (vhost-device #150, cloud-hypervisor #7615) fails.
for _, size in ipairs({ 1, 4, 8 }) do
	case {
		id = ("vhost-user/config/get-size-%d"):format(size),
		spec = "vhost-user#vhost-user-get-config",
		level = "MUST",
		quote = GET_QUOTE,
		needs = { protocol_features = { "CONFIG" } },
		run = function(t)
			get_config(t, 0, size)
		end,
	}
end

-- A sub-range at an offset reads the bytes at that offset: the same bytes
-- a read from 0 shows there. A back-end that ignores the offset (reads
-- from 0 whatever was asked) fails.
for _, off in ipairs({ 1, 2, 4 }) do
	case {
		id = ("vhost-user/config/get-subrange-offset-%d"):format(off),
		spec = "vhost-user#virtio-device-config-space",
		level = "MUST",
		quote = OFFSET_QUOTE,
		needs = { protocol_features = { "CONFIG" } },
		run = function(t)
			local whole = config_prefix(t, 8)
			local r, kind = get_config(t, off, 8 - off)
			if kind ~= "reply" then
				t:note("the sub-range read is refused (legal)")
				return
			end
			t:check(r.config.data == whole:sub(off + 1),
			        ("the bytes at offset %d: %s"):format(off,
			        hex(whole:sub(off + 1))),
			        hex(r.config.data))
		end,
	}
end

-- The largest read a message carries (256 bytes): the device's fields and
-- whatever lies past them, or a zero-length error; never another size.
case {
	id = "vhost-user/config/get-max-size",
	spec = "vhost-user#vhost-user-get-config",
	level = "MUST",
	quote = GET_QUOTE,
	needs = { protocol_features = { "CONFIG" } },
	run = function(t)
		get_config(t, 0, 256)
		t:expect_alive()
	end,
}

-- Reads the spec gives no meaning to: a size of 0, ranges past 256 bytes,
-- an offset whose sum with the size wraps 32 bits. Refusing (zero length)
-- or hanging up are both fair; reading past the config buffer is not.
local GET_ODD = {
	{ "get-size-zero", 0, 0 },
	{ "get-offset-past-max", 0x100, 8 },
	{ "get-size-past-max", 0, 0x1000 },
	{ "get-straddles-max", 0xfc, 8 },
	{ "get-offset-wraps", 0xfffffff8, 16 },
	{ "get-offset-huge", 0x7fffffff, 4 },
}
for _, g in ipairs(GET_ODD) do
	case {
		id = "vhost-user/config/" .. g[1],
		spec = "vhost-user#vhost-user-get-config",
		level = "ROBUST",
		quote = OFFSET_QUOTE,
		needs = { protocol_features = { "CONFIG" } },
		run = function(t)
			local m = config_msg("GET_CONFIG", g[2], g[3], 0)
			local r, kind = t:expect(m, { "reply", "nack", "hangup" })
			if kind == "reply" and r.config then
				t:check(r.config.size == g[3],
				        "a payload of the size asked for, or none",
				        ("%d bytes"):format(r.config.size))
			end
			t:expect_alive()
		end,
	}
end

-- The header's size says more than the config struct's own size field
-- (and the message holds only the 12-byte struct head): a reader that
-- trusts the inner size reads past the message.
case {
	id = "vhost-user/config/get-inner-size-lies",
	spec = "vhost-user#virtio-device-config-space",
	level = "ROBUST",
	quote = [[:size: a 32-bit configuration space access size in bytes]],
	needs = { protocol_features = { "CONFIG" } },
	run = function(t)
		t:expect_robust(config_msg("GET_CONFIG", 0, 200, 0, ""))
	end,
}

-- A read of the whole config twice gives the same bytes (nothing changed
-- it): the front-end "may cache the contents".
case {
	id = "vhost-user/config/get-stable",
	spec = "vhost-user#vhost-user-get-config",
	level = "SHOULD",
	quote = [[The vhost-user front-end may cache the contents to avoid
repeated VHOST_USER_GET_CONFIG calls.]],
	needs = { protocol_features = { "CONFIG" } },
	run = function(t)
		local a = config_prefix(t, 8)
		local b = config_prefix(t, 8)
		t:check(a == b, "the same bytes twice: " .. hex(a),
		        hex(b))
	end,
}

-- "MUST NOT accept SET_CONFIG for read-only configuration space fields":
-- writing the device's read-only field at offset 0 without the live
-- migration flag is refused (an error ack, or a hang-up).
case {
	id = "vhost-user/config/set-readonly-refused",
	spec = "vhost-user#vhost-user-set-config",
	level = "MUST",
	quote = SET_QUOTE,
	needs = { protocol_features = { "CONFIG", "REPLY_ACK" } },
	run = function(t)
		local n = READONLY[t.device or ""]
		if not n then
			t:skip("no read-only field known for device " ..
			       tostring(t.device))
		end
		t:expect_refusal(vhost.msg("SET_CONFIG", {
			offset = 0, size = n, flags = 0,
			data = string.rep("\x5a", n) }))
		t:expect_alive()
	end,
}

-- ... and the field keeps its value: read it, write other bytes, read it
-- again. An ack that does not apply the write is no better for the guest
-- than one that does, so only the bytes are judged here.
case {
	id = "vhost-user/config/set-readonly-unchanged",
	spec = "vhost-user#vhost-user-set-config",
	level = "MUST",
	quote = SET_QUOTE,
	needs = { protocol_features = { "CONFIG" } },
	run = function(t)
		local n = READONLY[t.device or ""]
		if not n then
			t:skip("no read-only field known for device " ..
			       tostring(t.device))
		end
		local before = config_prefix(t, n)
		local other = before:gsub(".", function(c)
			return string.char(c:byte() ~ 0xa5)
		end)
		local kind = t:react(vhost.msg("SET_CONFIG", {
			offset = 0, size = n, flags = 0, data = other }))
		if kind == "hangup" then
			return
		end
		local r, k = get_config(t, 0, n)
		if k == "reply" then
			t:check(r.config.data == before,
			        "the read-only field unchanged: " ..
			        hex(before), hex(r.config.data))
		end
	end,
}

-- Writes the spec gives no meaning to (size 0, past 256 bytes, wrapping
-- offsets, flags other than 0 and 1, an inner size larger than the
-- message): any answer but a crash, then the session still works.
local SET_ODD = {
	{ "set-size-zero", 0, 0, 0 },
	{ "set-past-max", 0xfc, 8, 0 },
	{ "set-offset-wraps", 0xfffffff8, 16, 0 },
	{ "set-size-huge", 0, 0x1000, 0 },
	{ "set-flags-unknown", 0, 1, 2 },
	{ "set-flags-all", 0, 1, 0xffffffff },
	{ "set-live-migration-past-max", 0x100, 8, 1 },
}
for _, s in ipairs(SET_ODD) do
	case {
		id = "vhost-user/config/" .. s[1],
		spec = "vhost-user#vhost-user-set-config",
		level = "ROBUST",
		quote = SET_QUOTE,
		needs = { protocol_features = { "CONFIG" } },
		run = function(t)
			t:expect_robust(config_msg("SET_CONFIG", s[2], s[3], s[4],
			                           string.rep("\x01",
			                                      math.min(s[3], 256))))
			local kind = t:react(vhost.msg("GET_FEATURES"))
			t:check(kind == "reply" or kind == "hangup",
			        "the session still in step", kind)
		end,
	}
end

case {
	id = "vhost-user/config/set-inner-size-lies",
	spec = "vhost-user#virtio-device-config-space",
	level = "ROBUST",
	quote = [[:size: a 32-bit configuration space access size in bytes]],
	needs = { protocol_features = { "CONFIG" } },
	run = function(t)
		t:expect_robust(config_msg("SET_CONFIG", 0, 200, 0, ""))
	end,
}

-- One-byte writes at each of the first eight offsets, as a guest driver
-- does (vhost-device #955 panicked on them; cloud-hypervisor 1f0a78b76).
for off = 0, 7 do
	case {
		id = ("vhost-user/config/set-one-byte-offset-%d"):format(off),
		spec = "vhost-user#vhost-user-set-config",
		level = "ROBUST",
		quote = SET_QUOTE,
		needs = { protocol_features = { "CONFIG" } },
		run = function(t)
			t:expect_robust(vhost.msg("SET_CONFIG", {
				offset = off, size = 1, flags = 0, data = "\0" }))
		end,
	}
end

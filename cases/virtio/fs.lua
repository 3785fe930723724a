-- SPDX-License-Identifier: MIT
-- fs.lua - virtio-fs through the rings: FUSE_INIT on the request queue
-- (vring 1: hiprio is 0, and there is no notification queue without
-- VIRTIO_FS_F_NOTIFICATION), then GETATTR of the root and LOOKUP of a file
-- the case put in the shared directory (the target's private directory,
-- where its socket lives too); and requests a driver must not send
-- (shorter than the FUSE header, unique 0). Split and packed rings.
--
-- Spec: specs/virtio/fs.tex ("Device Initialization", "Device Operation:
-- Request Queues"); the FUSE structures are the Linux UAPI's
-- (<linux/fuse.h>): fuse_in_header 40 bytes, fuse_out_header 16.

local LAYOUTS = { "split", "packed" }
local FUSE_LOOKUP, FUSE_GETATTR = 1, 3
local FUSE_ROOT_ID = 1
local S_IFMT, S_IFDIR, S_IFREG = 0xf000, 0x4000, 0x8000
local ENOENT = 2

local Q_INIT = [[The FUSE session is started by sending a FUSE\_INIT request as defined by the
FUSE protocol on one request virtqueue.]]

-- Checks a reply header against the request: out.len is what the device
-- wrote (the used length), unique echoes the request's.
local function reply(t, d, tok, what)
	local used = d:complete(tok, what .. " used")
	local r, why = d:fuse_reply(tok, used)
	if not r then
		t:fail{ expected = what .. ": a fuse_out_header", actual = why }
	end
	t:check(r.unique == d.tokens[tok].unique,
	        what .. ": the request's unique echoed",
	        ("unique %d"):format(r.unique))
	t:check(r.len == used, what .. ": out.len equal to the used length " ..
	        used, ("out.len %d"):format(r.len))
	return r
end

-- struct fuse_attr at @off of @s: ino, size, mode (fields by offset)
local function attr(s, off)
	local ino, size = string.unpack("<I8I8", s, off)
	local mode = string.unpack("<I4", s, off + 60)
	return { ino = ino, size = size, mode = mode }
end

for _, lay in ipairs(LAYOUTS) do
	local packed = lay == "packed"

	-- FUSE_INIT 7.31 without flags: a success reply with major 7 and the
	-- request's unique. A device that ignores the request queue, answers
	-- on another request or writes a length it did not use fails.
	case {
		id = "virtio/fs/fuse-init-" .. lay,
		spec = "virtio#device-types-file-system-device-device-initialization",
		level = "MUST",
		quote = Q_INIT,
		needs = { device = "fs" },
		run = function(t)
			local d = virtio.device(t, { packed = packed })
			local tok = d:fuse(26, 0, string.pack("<I4I4I4I4", 7, 31, 0, 0),
			                   1024)
			local r = reply(t, d, tok, "FUSE_INIT")
			t:check(r.error == 0, "FUSE_INIT: error 0",
			        ("error %d"):format(r.error))
			local major, minor = string.unpack("<I4I4", r.data)
			t:check(major == 7, "FUSE_INIT: major 7", ("major %d")
			        :format(major))
			t:note(("FUSE %d.%d"):format(major, minor))
			d:check_memory()
		end,
	}

	-- After FUSE_INIT, GETATTR of the root node: a directory.
	case {
		id = "virtio/fs/getattr-root-" .. lay,
		spec = "virtio#sec-device-types-file-system-device-device-" ..
		       "operation-device-operation-request-queues",
		level = "MUST",
		quote = [[\field{out} is the completion header common to all types of FUSE requests.
\field{dataout} consists of request-specific data, if any.  This is identical
to the data written to the /dev/fuse device by a FUSE daemon.]],
		needs = { device = "fs" },
		run = function(t)
			local d = virtio.device(t, { packed = packed })
			d:fuse_init()
			local tok = d:fuse(FUSE_GETATTR, FUSE_ROOT_ID,
			                   string.rep("\0", 16), 256)
			local r = reply(t, d, tok, "FUSE_GETATTR of the root")
			t:check(r.error == 0, "GETATTR: error 0",
			        ("error %d"):format(r.error))
			t:check(#r.data >= 104, "a fuse_attr_out (104 bytes)",
			        ("%d bytes"):format(#r.data))
			local a = attr(r.data, 17)
			t:check(a.mode & S_IFMT == S_IFDIR, "the root a directory",
			        ("mode 0%o"):format(a.mode))
			d:check_memory()
		end,
	}

	-- LOOKUP in the root: a file the case wrote into the shared
	-- directory is found with its size; a name that is not there gives
	-- -ENOENT.
	case {
		id = "virtio/fs/lookup-in-root-" .. lay,
		spec = "virtio#sec-device-types-file-system-device-device-" ..
		       "operation-device-operation-request-queues",
		level = "MUST",
		quote = [[\field{out} is the completion header common to all types of FUSE requests.
\field{dataout} consists of request-specific data, if any.  This is identical
to the data written to the /dev/fuse device by a FUSE daemon.]],
		needs = { device = "fs", fresh_process = true },
		run = function(t)
			local dir = t:socket_path():match("^(.*)/[^/]*$")
			local content = "virtio-fs lookup\n"
			local f = dir and io.open(dir .. "/vuc-lookup.txt", "w")
			if not f then
				t:skip("cannot write into the target's directory")
			end
			f:write(content)
			f:close()
			local d = virtio.device(t, { packed = packed })
			d:fuse_init()
			local tok = d:fuse(FUSE_LOOKUP, FUSE_ROOT_ID,
			                   "vuc-lookup.txt\0", 256)
			local r = reply(t, d, tok, "FUSE_LOOKUP of vuc-lookup.txt")
			if r.error == -ENOENT then
				t:skip("the shared directory is not the socket's " ..
				       "directory (the file is not there)")
			end
			t:check(r.error == 0, "LOOKUP: error 0",
			        ("error %d"):format(r.error))
			local a = attr(r.data, 41)
			t:check(a.mode & S_IFMT == S_IFREG, "a regular file",
			        ("mode 0%o"):format(a.mode))
			t:check(a.size == #content, ("size %d"):format(#content),
			        ("size %d"):format(a.size))
			-- FORGET on hiprio: the lookup's reference (and the fd the
			-- daemon keeps for it) goes; FORGET has no reply
			local nodeid = string.unpack("<I8", r.data)
			local ftok = d:fuse(2, nodeid, string.pack("<I8", 1), 0,
			                    { ring = d.lay.hiprio })
			d:complete(ftok, "FUSE_FORGET used on hiprio")
			tok = d:fuse(FUSE_LOOKUP, FUSE_ROOT_ID, "vuc-no-such-file\0", 256)
			r = reply(t, d, tok, "FUSE_LOOKUP of a missing name")
			t:check(r.error == -ENOENT, "error -ENOENT",
			        ("error %d"):format(r.error))
			d:check_memory()
		end,
	}

	-- Requests a driver must not send, after FUSE_INIT: a device-readable
	-- part shorter than the 40-byte fuse_in_header, and a well-formed
	-- GETATTR whose unique is 0 (FUSE keeps unique 0 for notifications:
	-- no request carries it). The spec defines only the well-formed
	-- request, so any reaction is legal (an error reply, the buffer
	-- returned unused, a broken queue) except a crash or silence on the
	-- socket. C virtiofsd aborts on both (the root of FINDINGS 13: a
	-- short or bogus request reaches an assert()). The request is given
	-- 300 ms: a device that processes it does so within microseconds.
	local BAD_REQUESTS = {
		["request-shorter-than-header"] = function(d)
			local hdr = string.pack("<I4I4", 40, FUSE_GETATTR)
			return d:submit(d.lay.req, hdr, 256)
		end,
		["request-unique-zero"] = function(d)
			local hdr = string.pack("<I4I4I8I8I4I4I4I2I2", 40 + 16,
			                        FUSE_GETATTR, 0, FUSE_ROOT_ID, 0, 0, 0,
			                        0, 0)
			return d:submit(d.lay.req, hdr .. string.rep("\0", 16), 256)
		end,
	}
	for _, name in ipairs({ "request-shorter-than-header",
	                        "request-unique-zero" }) do
		case {
			id = ("virtio/fs/%s-%s"):format(name, lay),
			spec = "virtio#sec-device-types-file-system-device-device-" ..
			       "operation-device-operation-request-queues",
			level = "ROBUST",
			quote = [[\field{in} is the common header for all types of FUSE requests.]],
			needs = { device = "fs" },
			run = function(t)
				local d = virtio.device(t, { packed = packed })
				d:fuse_init()
				local tok = BAD_REQUESTS[name](d)
				local used = d:wait(tok, 300)
				t:note("used length: " .. tostring(used))
				d:responsive(name)
				d:check_memory()
			end,
		}
	end
end

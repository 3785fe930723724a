-- SPDX-License-Identifier: MIT
-- fd-passing.lua - file descriptors as SCM_RIGHTS: fds on commands that
-- take none, more fds than max_msg_fds, every fd-zoo kind where DMA_MAP
-- expects one (mmap mode must refuse what cannot be mapped; file I/O
-- mode takes what pread / pwrite can use), and fds riding on a later
-- chunk of a message.
--
-- Every case counts the server's open fds (/proc/<pid>/fd) before and
-- after: an fd the server does not keep must be closed. The runner's own
-- watchdog allows a target to grow by the fds a case passed it, so these
-- cases check it themselves.
--
-- Spec: vfio-user.rst "VFIO_USER_DMA_MAP", "Security Considerations",
-- "VFIO_USER_VERSION" (max_msg_fds); seed 003; checklist ids VU-HDR-19,
-- VU-HDR-20, VU-VER-14, VU-DMA-MAP-07, VU-DMA-MAP-09, VU-DMA-MODE-04.

local SECURITY = "vfio-user#security-considerations"
local MAP = "vfio-user#vfio-user-dma-map"
local SECURITY_QUOTE = [[Standard tools and mechanisms should be used on both
sides to validate input and prevent against denial of service scenarios, buffer
overflow, etc.]]

local CAPS = { max_msg_fds = 8, write_multiple = true }
local A, PAGE = 0x100000, 4096

local function need_fd_count(t)
	if not t:has_process() then
		t:skip("needs the target's fd count (a process of our own)")
	end
end

-- After a round trip (so that the fds' message has been handled), the
-- server holds no more fds than @before.
local function fds_back(t, before, what)
	local r, kind = t:call(vfio.msg("DEVICE_GET_INFO", { argsz = 16 }))
	if not r and kind == "hangup" then
		t:wait_exit(200)
	end
	if not t:alive() then
		return
	end
	local after = t:fd_count()
	t:check(after <= before, ("no fd of %s kept (%d open before)"):format(
	        what, before), after .. " open")
end

local function eventfds(n)
	local v = {}
	for i = 1, n do
		v[i] = fdzoo.new("eventfd")
	end
	return v
end

-- A valid command of each kind that takes no fds.
local plain = {
	VERSION = function()
		return vfio.msg("VERSION", { caps = CAPS })
	end,
	DMA_UNMAP = function()
		return vfio.msg("DMA_UNMAP", { addr = A, size = PAGE })
	end,
	DEVICE_GET_INFO = function()
		return vfio.msg("DEVICE_GET_INFO", { argsz = 16 })
	end,
	DEVICE_GET_REGION_INFO = function()
		return vfio.msg("GET_REGION_INFO", { argsz = 32, index = 7 })
	end,
	DEVICE_GET_REGION_IO_FDS = function()
		return vfio.msg("GET_REGION_IO_FDS", { argsz = 16, index = 0 })
	end,
	DEVICE_GET_IRQ_INFO = function()
		return vfio.msg("GET_IRQ_INFO", { argsz = 16, index = 0 })
	end,
	REGION_READ = function()
		return vfio.msg("REGION_READ", { region = 7, count = 4 })
	end,
	REGION_WRITE = function()
		return vfio.msg("REGION_WRITE", { region = 7, offset = 0x3c,
		                                  data = "\x0b" })
	end,
	DEVICE_RESET = function()
		return vfio.msg("DEVICE_RESET")
	end,
	REGION_WRITE_MULTI = function()
		return vfio.raw{
			command = "REGION_WRITE_MULTI",
			payload = string.pack("=I8I8I4I4", 1, 0x3c, 7, 1) ..
			          "\x0b" .. string.rep("\0", 7),
		}
	end,
	DEVICE_FEATURE = function()
		return vfio.msg("DEVICE_FEATURE", { argsz = 16,
		                                    flags = 1 | (1 << 16) |
		                                            (1 << 17) })
	end,
	MIG_DATA_READ = function()
		return vfio.msg("MIG_DATA_READ", { size = 0 })
	end,
	MIG_DATA_WRITE = function()
		return vfio.msg("MIG_DATA_WRITE", { data = "x" })
	end,
}

-- ---- fds where none belong ---------------------------------------------

-- Three eventfds on each command that takes none: answered (success or
-- error), and all three closed.
for _, r in ipairs(vfio.rules()) do
	local short = r.name:gsub("^VFIO_USER_", "")
	local make = plain[short]
	if r.dir == "client-to-server" and r.fds == "none" and make then
		local first = short == "VERSION"
		case {
			id = "vfio-user/fds/stray-on-" ..
			     short:gsub("^DEVICE_", ""):lower():gsub("_", "-"),
			spec = r.anchor .. (first and "/VU-VER-14" or "/VU-HDR-19"),
			level = "ROBUST",
			quote = SECURITY_QUOTE,
			needs = { handshake = not first, caps = CAPS },
			run = function(t)
				need_fd_count(t)
				local before = t:fd_count()
				local m = make()
				m.fds = eventfds(3)
				t:expect_robust(m)
				fds_back(t, before, "the three sent with " .. r.name)
			end,
		}
	end
end

-- The same on a command that fails (a bad region index): the error path
-- closes them too.
case {
	id = "vfio-user/fds/stray-on-failing-command",
	spec = SECURITY .. "/VU-HDR-19",
	level = "ROBUST",
	quote = SECURITY_QUOTE,
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		need_fd_count(t)
		local before = t:fd_count()
		for _ = 1, 4 do
			local m = vfio.msg("GET_REGION_INFO", { argsz = 32,
			                                        index = 0xfffffff0 })
			m.fds = { fdzoo.new("memfd", PAGE), fdzoo.new("eventfd") }
			local _, kind = t:expect_refusal(m)
			if kind == "hangup" then
				break
			end
		end
		fds_back(t, before, "the failing commands")
	end,
}

-- Many fds on one message: 20, and SCM_MAX_FD (253), far above the
-- server's max_msg_fds. Processed or refused; none kept.
for _, n in ipairs({ 20, 253 }) do
	case {
		id = "vfio-user/fds/many-fds-" .. n,
		spec = "vfio-user#vfio-user-version/VU-HDR-20",
		level = "ROBUST",
		quote = SECURITY_QUOTE,
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			need_fd_count(t)
			local before = t:fd_count()
			local m = vfio.msg("DEVICE_GET_INFO", { argsz = 16 })
			m.fds = eventfds(n)
			t:expect_robust(m)
			fds_back(t, before, "the " .. n .. " sent")
		end,
	}
end

-- One fd more than the server's max_msg_fds, on the one command that
-- takes an fd: refused (DMA_MAP takes one), all closed.
case {
	id = "vfio-user/fds/above-server-max-msg-fds",
	spec = "vfio-user#vfio-user-version/VU-DMA-MAP-07",
	level = "ROBUST",
	quote = [[| max_msg_fds        | number  | Maximum number of file descriptors that can   |
|                    |         | be received by the sender in one message.     |]],
	run = function(t)
		need_fd_count(t)
		local v = vfio.version(t, CAPS)
		local max = v.caps and v.caps.max_msg_fds or 1
		if max > 250 then
			t:skip("the server takes " .. max .. " fds per message")
		end
		local before = t:fd_count()
		local m = vfio.msg("DMA_MAP", { flags = 3, addr = A, size = PAGE })
		local fds = {}
		for i = 1, max + 1 do
			fds[i] = fdzoo.new("memfd", PAGE)
		end
		m.fds = fds
		local _, kind = t:expect_robust(m)
		if kind == "ack" then
			t:expect_success(vfio.msg("DMA_UNMAP", { addr = A,
			                                         size = PAGE }))
		end
		fds_back(t, before, "the " .. (max + 1) .. " sent")
	end,
}

-- fds that ride with the body rather than the header (the message sent
-- in two writes, SCM_RIGHTS on the second). The spec says nothing of
-- which segment carries them; a server must not leak or crash either way.
case {
	id = "vfio-user/fds/on-second-chunk",
	spec = MAP .. "/VU-HDR-17",
	level = "ROBUST",
	quote = [[On ``AF_UNIX`` sockets, the file descriptor
must be passed as ``SCM_RIGHTS`` type ancillary data.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		need_fd_count(t)
		local before = t:fd_count()
		local f = fdzoo.new("memfd", PAGE)
		local m = vfio.msg("DMA_MAP", { flags = 3, addr = A, size = PAGE,
		                                fd = f })
		local _, kind = t:expect_robust(m, { split = "hdr",
		                                     fds_on = "payload",
		                                     delay_ms = 20 })
		if kind == "ack" then
			t:expect_success(vfio.msg("DMA_UNMAP", { addr = A,
			                                         size = PAGE }))
		end
		local g = vfio.msg("DEVICE_GET_INFO", { argsz = 16 })
		g.fds = eventfds(2)
		t:expect_robust(g, { split = { 8 }, fds_on = 2, delay_ms = 20 })
		fds_back(t, before, "either message")
	end,
}

-- ---- fd kinds for DMA_MAP ------------------------------------------------

-- Kinds that mmap() cannot map: in mmap mode (the default with an fd) the
-- server cannot reach the region, so the map must not succeed, and the fd
-- must be closed. ("The region can be mapped via the mmap() system call.")
local unmappable = { "eventfd", "pipe-read", "pipe-write", "socket", "dir",
                     "o-path", "dev-null", "file-wo" }
-- Kinds that map and pread / pwrite alike.
-- (A sealed memfd refuses writeable shared mappings: read-only there.)
local memory_kinds = { { "memfd", 3 }, { "memfd-sealed", 1 },
                       { "file-rw", 3 } }

local function zoo(kind)
	if not fdzoo.available(kind) then
		return nil
	end
	local fd = fdzoo.new(kind, 4 * PAGE)
	return fd
end

for _, kind in ipairs(unmappable) do
	case {
		id = "vfio-user/fds/dma-map-mmap-refuses-" .. kind,
		spec = MAP .. "/VU-DMA-MAP-09",
		level = "SHOULD",
		quote = [[If the DMA region being added can be directly mapped by
the server, a file descriptor must be sent as part of the message meta-data.
The region can be mapped via the mmap() system call.]],
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			local f = zoo(kind)
			if not f then
				t:skip(kind .. " is not available here")
			end
			local before = t:has_process() and t:fd_count()
			local _, k = t:expect_refusal(vfio.msg("DMA_MAP", {
				flags = 3, addr = A, size = PAGE, fd = f }))
			if before and k ~= "hangup" then
				fds_back(t, before, "the refused " .. kind)
			end
		end,
	}
end

for _, mk in ipairs(memory_kinds) do
	local kind, flags = mk[1], mk[2]
	case {
		id = "vfio-user/fds/dma-map-mmap-takes-" .. kind,
		spec = MAP .. "/VU-DMA-MODE-05",
		level = "SHOULD",
		quote = [[If the DMA region being added can be directly mapped by
the server, a file descriptor must be sent as part of the message meta-data.
The region can be mapped via the mmap() system call.]],
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			local f = zoo(kind)
			if not f then
				t:skip(kind .. " is not available here")
			end
			t:expect_success(vfio.msg("DMA_MAP", {
				flags = flags, addr = A, size = 4 * PAGE, fd = f }))
			t:expect_success(vfio.msg("DMA_UNMAP", { addr = A,
			                                         size = 4 * PAGE }))
		end,
	}
end

-- A read-only file: a read-only region maps, a writeable one cannot
-- (mmap(PROT_WRITE) of an O_RDONLY fd is EACCES).
case {
	id = "vfio-user/fds/dma-map-file-ro",
	spec = MAP .. "/VU-DMA-MAP-09",
	level = "SHOULD",
	quote = [[* *readable* indicates that the region can be read from.
* *writeable* indicates that the region can be written to.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local ro = fdzoo.new("file-ro", 4 * PAGE)
		t:expect_refusal(vfio.msg("DMA_MAP", { flags = 3, addr = A,
		                                       size = PAGE, fd = ro }))
		local ro2 = fdzoo.new("file-ro", 4 * PAGE)
		t:expect_success(vfio.msg("DMA_MAP", { flags = vfio.DMA_READ,
		                                       addr = A, size = PAGE,
		                                       fd = ro2 }))
	end,
}

-- File I/O mode (seed 003, libvfio-user #842): "a new "file I/O" access
-- mode is defined, which can be used if the file descriptor provided by
-- the client doesn't support mmap()". /dev/null cannot be mapped but
-- takes pread / pwrite: refused in mmap mode above, accepted here
-- (libvfio-user profile: a server without the access modes refuses the
-- bit).
for _, kind in ipairs({ "memfd", "file-rw", "dev-null" }) do
	case {
		id = "vfio-user/fds/dma-map-file-io-takes-" .. kind,
		spec = MAP .. "/VU-DMA-MODE-04",
		level = "MUST",
		quote = [[* File I/O system calls (such as ``pread()`` /
``pwrite()``) against a client-provided file descriptor.]],
		needs = { handshake = true, caps = CAPS,
		          profile = "libvfio-user" },
		run = function(t)
			local f = zoo(kind)
			if not f then
				t:skip(kind .. " is not available here")
			end
			t:expect_success(vfio.msg("DMA_MAP", {
				flags = 3 | vfio.DMA_FILE_IO, addr = A, size = PAGE,
				fd = f }))
			t:expect_success(vfio.msg("DMA_UNMAP", { addr = A,
			                                         size = PAGE }))
		end,
	}
end

-- Kinds without positioned I/O (pipes, sockets, eventfds, directories,
-- O_PATH) cannot serve file I/O either: every later access would fail,
-- so the map should be refused, and the fd closed. (A server without the
-- access modes refuses the bit itself.)
for _, kind in ipairs({ "pipe-read", "socket", "eventfd", "dir",
                        "o-path" }) do
	case {
		id = "vfio-user/fds/dma-map-file-io-refuses-" .. kind,
		spec = MAP .. "/VU-DMA-MODE-04",
		level = "SHOULD",
		quote = [[* File I/O system calls (such as ``pread()`` /
``pwrite()``) against a client-provided file descriptor.]],
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			local f = zoo(kind)
			if not f then
				t:skip(kind .. " is not available here")
			end
			local before = t:has_process() and t:fd_count()
			local _, k = t:expect_refusal(vfio.msg("DMA_MAP", {
				flags = 3 | vfio.DMA_FILE_IO, addr = A, size = PAGE,
				fd = f }))
			if before and k ~= "hangup" then
				fds_back(t, before, "the refused " .. kind)
			end
		end,
	}
end

-- SPDX-License-Identifier: MIT
-- regions.lua - what the server says about the device's regions:
-- VFIO_USER_DEVICE_GET_REGION_INFO (flags, capability chains, the argsz
-- retry, the fd of a mappable region) and VFIO_USER_DEVICE_GET_REGION_IO_FDS.
--
-- Spec: vfio-user.rst "VFIO_USER_DEVICE_GET_REGION_INFO", "Region
-- Information", "VFIO_USER_DEVICE_GET_REGION_IO_FDS", "Message sizes".
-- The spec anchor of each case ends in the id of the assertion of
-- research/vfio-user-assertions.md it checks (anchor/VU-...).
--
-- t:expect_success() judges every reply with vfio_user_check_reply():
-- index echoed, argsz = the size of the payload sent (or a retry reply cut
-- at the request's argsz), the capability chain inside the reply and
-- terminated, sparse areas inside the region, FLAG_MMAP with an fd, no fd
-- without it. Those rules are checked by every success below.

local RINFO = "vfio-user#vfio-user-device-get-region-info"
local IOFDS = "vfio-user#vfio-user-device-get-region-io-fds"

local FLAG_READ, FLAG_WRITE, FLAG_MMAP, FLAG_CAPS = 1, 2, 4, 8
local CAP_SPARSE_MMAP, CAP_TYPE = 1, 2
local IOEVENTFD = 0

-- DEVICE_GET_INFO: the device's num_regions (a success is required).
local function device_info(t)
	local r = t:expect_success(vfio.msg("DEVICE_GET_INFO"))
	return r.info
end

-- The full GET_REGION_INFO reply of region @index (argsz large enough for
-- any capability chain).
local function region_info(t, index)
	return t:expect_success(vfio.msg("GET_REGION_INFO",
	                                 { index = index, argsz = 4096 }))
end

-- The capability chain of a region info reply: { { id, version, at }, ... }
-- (at: offset from the start of the region info, as cap_offset / next).
local function caps_of(r)
	local list, off = {}, r.region.cap_offset
	if r.region.flags & FLAG_CAPS == 0 then
		return list
	end
	while off ~= 0 and #list < 64 do
		local id, ver, nxt = string.unpack("<I2I2I4", r.payload, off + 1)
		list[#list + 1] = { id = id, version = ver, at = off }
		off = nxt
	end
	return list
end

local PCI_REGIONS = {
	{ "bar0", 0 }, { "bar1", 1 }, { "bar2", 2 }, { "bar3", 3 },
	{ "bar4", 4 }, { "bar5", 5 }, { "rom", 6 }, { "config", 7 },
	{ "vga", 8 },
}

-- VU-RINFO-05/07, VU-RINFO-04: every PCI region index (0-8) exists on a
-- PCI device ("for PCI devices this value can be equal to, or higher
-- than, VFIO_PCI_NUM_REGIONS") and its info is well formed: index echoed,
-- a capability chain that stays inside the reply, FLAG_MMAP with an fd.
-- Fails on a refusal, a malformed reply, an fd without FLAG_MMAP.
for _, pr in ipairs(PCI_REGIONS) do
	local name, index = pr[1], pr[2]
	case {
		id = "vfio-user/regions/info/" .. name,
		spec = RINFO .. "/VU-RINFO-05",
		level = "MUST",
		quote = [[When this flag is set, the reply will include a file
descriptor in its meta-data.]],
		needs = { handshake = true, caps = { max_msg_fds = 8 } },
		run = function(t)
			local r = region_info(t, index)
			t:check(r.region.index == index, "index " .. index,
			        r.region.index)
			if r.region.flags & FLAG_MMAP ~= 0 then
				t:check(#r.fds >= 1, "an fd with FLAG_MMAP",
				        #r.fds .. " fds")
			end
		end,
	}
end

-- VU-RINFO-05: regions past the PCI ones are device-specific, and "This
-- is achieved by including a VFIO_REGION_INFO_CAP_TYPE capability".
case {
	id = "vfio-user/regions/device-specific-type-cap",
	spec = "vfio-user#device-specific-regions/VU-RINFO-05",
	level = "MUST",
	quote = [[This is achieved by including a ``VFIO_REGION_INFO_CAP_TYPE``
capability in the region info reply of a device-specific region.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		local n = device_info(t).num_regions
		if n <= 9 then
			t:skip("the device has no device-specific region")
		end
		for index = 9, n - 1 do
			local r = region_info(t, index)
			local found = false
			for _, c in ipairs(caps_of(r)) do
				found = found or c.id == CAP_TYPE
			end
			t:check(found, "region " .. index ..
			        " with a VFIO_REGION_INFO_CAP_TYPE capability",
			        r.text)
		end
	end,
}

-- num_regions of a PCI device covers the nine PCI indexes.
case {
	id = "vfio-user/regions/num-regions-pci",
	spec = "vfio-user#device-specific-regions/VU-INFO-05",
	level = "MUST",
	quote = [[Thus, for PCI devices this value can be equal to, or higher
than, ``VFIO_PCI_NUM_REGIONS``.]],
	needs = { handshake = true },
	run = function(t)
		local n = device_info(t).num_regions
		t:check(n >= 9, "num_regions >= 9 (VFIO_PCI_NUM_REGIONS)", n)
	end,
}

-- VU-RINFO-01: index == num_regions is the first index past the table
-- (seeded bug region-index-crash: > where >= was meant, a crash).
case {
	id = "vfio-user/regions/index-past-end",
	spec = RINFO .. "/VU-RINFO-01",
	level = "MUST",
	quote = [[*index* is the index of memory region being queried, it is
the only field that is required to be set in the command message.]],
	needs = { handshake = true },
	run = function(t)
		local n = device_info(t).num_regions
		t:expect_refusal(vfio.msg("GET_REGION_INFO",
		                          { index = n, argsz = 4096 }))
		t:expect_alive()
	end,
}

-- VU-RINFO-01: the largest index, and one past a signed 32-bit index.
for _, v in ipairs({ { "index-max", 0xffffffff },
                     { "index-sign-bit", 0x80000000 } }) do
	case {
		id = "vfio-user/regions/" .. v[1],
		spec = RINFO .. "/VU-RINFO-01",
		level = "MUST",
		quote = [[*index* is the index of memory region being queried]],
		needs = { handshake = true },
		run = function(t)
			t:expect_refusal(vfio.msg("GET_REGION_INFO",
			                          { index = v[2], argsz = 4096 }))
			t:expect_alive()
		end,
	}
end

-- VU-RINFO-03: the argsz retry. A request whose argsz has room for the
-- region info but not its capabilities gets argsz = the size needed,
-- nothing past the request's argsz, no capabilities and no fd (seeded bug
-- region-info-argsz sends caps and fd anyway); the retry with that argsz
-- gets it all. Checked on every region whose full reply is longer than 32.
case {
	id = "vfio-user/regions/argsz-retry",
	spec = "vfio-user#message-sizes/VU-RINFO-03",
	level = "MUST",
	quote = [[This may be larger than the requested maximum size: in that
case, the full payload is not included in the reply, but the ``argsz``
field in the reply indicates the needed size]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		local n = device_info(t).num_regions
		local tried = 0
		for index = 0, n - 1 do
			local full = region_info(t, index)
			local need = full.region.argsz
			if need > 32 then
				tried = tried + 1
				local r = t:expect_success(vfio.msg(
					"GET_REGION_INFO",
					{ index = index, argsz = 32 }))
				t:check(r.region.argsz == need, "argsz " .. need ..
				        " (the size needed)", r.region.argsz)
				t:check(#r.payload <= 32,
				        "at most the 32 bytes argsz allows",
				        #r.payload .. " bytes")
				local again = t:expect_success(vfio.msg(
					"GET_REGION_INFO",
					{ index = index, argsz = need }))
				t:check(#again.payload == need, need ..
				        " payload bytes on the retry",
				        #again.payload)
				t:check(again.region.flags == full.region.flags,
				        "the flags of the full reply", again.text)
			end
		end
		if tried == 0 then
			t:skip("no region has capabilities to cut off")
		end
	end,
}

-- VU-RINFO-03: the same retry with argsz one byte short of the need.
case {
	id = "vfio-user/regions/argsz-one-short",
	spec = "vfio-user#message-sizes/VU-RINFO-03",
	level = "MUST",
	quote = [[in that case, the full payload is not included in the reply,
but the ``argsz`` field in the reply indicates the needed size]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		local n = device_info(t).num_regions
		for index = 0, n - 1 do
			local need = region_info(t, index).region.argsz
			if need > 32 then
				local r = t:expect_success(vfio.msg(
					"GET_REGION_INFO",
					{ index = index, argsz = need - 1 }))
				t:check(#r.payload < need, "less than the " ..
				        need .. " bytes needed", #r.payload)
				t:check(r.region.argsz == need, "argsz " .. need,
				        r.region.argsz)
				return
			end
		end
		t:skip("no region has capabilities to cut off")
	end,
}

-- VU-RINFO-08: a huge argsz is only a maximum: the reply is the size
-- needed, not a huge allocation or a padded reply.
case {
	id = "vfio-user/regions/argsz-huge",
	spec = "vfio-user#message-sizes/VU-RINFO-08",
	level = "MUST",
	quote = [[In a reply, the server sets ``argsz`` field to the size needed
for a full payload size. This may be less than the requested maximum
size.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		local r = t:expect_success(vfio.msg("GET_REGION_INFO",
		                                    { index = 0,
		                                      argsz = 0xffffffff }))
		t:check(#r.payload == r.region.argsz and #r.payload < 65536,
		        "a reply of the size needed", #r.payload .. " bytes")
	end,
}

-- VU-RINFO-02: argsz below the 32-byte region info leaves no room for
-- any answer but an error.
case {
	id = "vfio-user/regions/argsz-below-fixed",
	spec = "vfio-user#message-sizes/VU-RINFO-02",
	level = "MUST",
	quote = [[In a request, it defines the maximum expected reply payload
size, which should be at least the size of the fixed reply payload
headers defined here.]],
	needs = { handshake = true },
	run = function(t)
		t:expect_refusal(vfio.msg("GET_REGION_INFO",
		                          { index = 0, argsz = 16 }))
		t:expect_alive()
	end,
}

-- VU-RINFO-06: a region of size 0 (an unused BAR) cannot be read,
-- written or mapped: no flags, no capabilities, no fd.
case {
	id = "vfio-user/regions/zero-size-no-flags",
	spec = RINFO .. "/VU-RINFO-06",
	level = "SHOULD",
	quote = [[*flags* are attributes of the region:]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		local n = device_info(t).num_regions
		local seen = 0
		for index = 0, n - 1 do
			local r = region_info(t, index)
			if r.region.size == 0 then
				seen = seen + 1
				t:check(r.region.flags == 0 and #r.fds == 0,
				        "region " .. index .. " of size 0 with " ..
				        "no flags and no fd", r.text)
			end
		end
		if seen == 0 then
			t:skip("no region of size 0")
		end
	end,
}

-- VU-RINFO-05: sparse mmap capabilities: version 1, areas inside the
-- region (the reply check), and only on mappable regions.
case {
	id = "vfio-user/regions/sparse-mmap-on-mappable",
	spec = "vfio-user#vfio-sparse-mmap-cap-header/VU-RINFO-05",
	level = "MUST",
	quote = [[This capability is defined when only a subrange of the region
supports direct access by the client via mmap().]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		local n = device_info(t).num_regions
		local seen = 0
		for index = 0, n - 1 do
			local r = region_info(t, index)
			for _, c in ipairs(caps_of(r)) do
				if c.id == CAP_SPARSE_MMAP then
					seen = seen + 1
					t:check(c.version == 1, "version 1",
					        c.version)
					t:check(r.region.flags & FLAG_MMAP ~= 0,
					        "FLAG_MMAP on region " .. index ..
					        " with a sparse mmap capability",
					        r.text)
				end
			end
		end
		if seen == 0 then
			t:skip("no region has a sparse mmap capability")
		end
	end,
}

-- VU-VER-13 / VU-RINFO-04: a client that takes no fds (max_msg_fds 0)
-- gets none, so no region may claim FLAG_MMAP ("the reply will include a
-- file descriptor") for it.
case {
	id = "vfio-user/regions/no-fds-for-fdless-client",
	spec = "vfio-user#vfio-user-version/VU-VER-13",
	level = "MUST",
	quote = [[Maximum number of file descriptors that can be received by
the sender in one message.]],
	needs = { handshake = true, caps = { max_msg_fds = 0 } },
	run = function(t)
		local n = device_info(t).num_regions
		for index = 0, n - 1 do
			local r = region_info(t, index)
			t:check(#r.fds == 0, "no fd for a client with " ..
			        "max_msg_fds 0", #r.fds .. " fds on region " ..
			        index)
		end
	end,
}

-- VU-RINFO-07: a request with fields the client "must" zero set: what
-- the server does is its choice; it must neither crash nor echo garbage.
case {
	id = "vfio-user/regions/request-fields-not-zero",
	spec = RINFO .. "/VU-RINFO-07",
	level = "ROBUST",
	quote = [[all other fields must be zero.]],
	needs = { handshake = true },
	run = function(t)
		local r, kind = t:expect_robust(vfio.raw{
			command = "DEVICE_GET_REGION_INFO",
			payload = string.pack("<I4I4I4I4I8I8", 4096, 0xffffffff,
			                      7, 0xffff, -1, -1),
		})
		if kind == "ack" then
			t:check(r.region.index == 7, "index 7", r.region.index)
		end
	end,
}

-- A request shorter than its 32-byte struct must not be read past.
case {
	id = "vfio-user/regions/request-short",
	spec = RINFO .. "/VU-HDR-16",
	level = "ROBUST",
	quote = [[*index* is the index of memory region being queried, it is
the only field that is required to be set in the command message.]],
	needs = { handshake = true },
	run = function(t)
		t:expect_refusal(vfio.raw{
			command = "DEVICE_GET_REGION_INFO",
			payload = string.pack("<I4I4I4", 32, 0, 0),
		})
		t:expect_alive()
	end,
}

-- Asking the same region again gives the same answer (no state in a
-- query), and a mappable region's fd each time.
case {
	id = "vfio-user/regions/info-repeatable",
	spec = RINFO .. "/VU-RINFO-04",
	level = "MUST",
	quote = [[``VFIO_REGION_INFO_FLAG_MMAP`` specifies the client can mmap()
the region. When this flag is set, the reply will include a file
descriptor in its meta-data.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		local n = device_info(t).num_regions
		for index = 0, n - 1 do
			local a = region_info(t, index)
			local b = region_info(t, index)
			t:check(a.payload == b.payload and #a.fds == #b.fds,
			        "the same reply twice for region " .. index,
			        a.text .. " then " .. b.text)
		end
	end,
}

-- ---- VFIO_USER_DEVICE_GET_REGION_IO_FDS --------------------------------

-- The sub-regions of a reply: { { offset, size, fd_index, type, flags,
-- datamatch }, ... } with the stride argsz gives.
local function io_fds_entries(r)
	local argsz, flags, index, count =
		string.unpack("<I4I4I4I4", r.payload)
	local list = {}
	if count == 0 or #r.payload < 16 then
		return list, argsz, flags, index, count
	end
	local stride = (argsz - 16) // count
	for i = 0, count - 1 do
		local at = 16 + i * stride + 1
		if at + 40 - 1 > #r.payload then
			break
		end
		local off, size, fdi, ty, fl, _, dm =
			string.unpack("<I8I8I4I4I4I4I8", r.payload, at)
		list[#list + 1] = { offset = off, size = size, fd_index = fdi,
		                    type = ty, flags = fl, datamatch = dm }
	end
	return list, argsz, flags, index, count
end

-- VU-IOFD-04: on every region, GET_REGION_IO_FDS is either refused (the
-- feature is optional) or answered with flags 0, at least one fd when
-- there are sub-regions, and every fd_index inside the fds sent.
case {
	id = "vfio-user/regions/io-fds/every-region",
	spec = IOFDS .. "/VU-IOFD-04",
	level = "MUST",
	quote = [[The reply message will additionally include at least one file
descriptor in the ancillary data. Note that more than one sub-region may
share the same file descriptor.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		local n = device_info(t).num_regions
		for index = 0, n - 1 do
			local r, kind = t:expect(vfio.msg("GET_REGION_IO_FDS",
			                                  { index = index,
			                                    argsz = 4096 }),
			                         { "ack", "nack" })
			if kind == "ack" then
				local subs, _, flags, _, count = io_fds_entries(r)
				t:check(flags == 0, "flags 0", flags)
				t:check(#subs == count, count .. " sub-regions",
				        #subs)
				if count > 0 then
					t:check(#r.fds >= 1, "at least one fd",
					        #r.fds)
				end
				for i, s in ipairs(subs) do
					t:check(s.fd_index < #r.fds,
					        "sub-region " .. i .. " fd_index " ..
					        "below " .. #r.fds, s.fd_index)
				end
			end
		end
	end,
}

-- VU-IOFD-02: no such region.
case {
	id = "vfio-user/regions/io-fds/index-past-end",
	spec = IOFDS .. "/VU-IOFD-02",
	level = "MUST",
	quote = [[* *index* is the index of memory region being queried]],
	needs = { handshake = true },
	run = function(t)
		local n = device_info(t).num_regions
		t:expect_refusal(vfio.msg("GET_REGION_IO_FDS",
		                          { index = n, argsz = 4096 }))
		t:expect_alive()
	end,
}

-- The first region that has sub-regions, its full reply, or SKIP.
local function region_with_io_fds(t)
	local n = device_info(t).num_regions
	for index = 0, n - 1 do
		local r, kind = t:expect(vfio.msg("GET_REGION_IO_FDS",
		                                  { index = index,
		                                    argsz = 4096 }),
		                         { "ack", "nack" })
		if kind == "ack" then
			local subs, argsz = io_fds_entries(r)
			if #subs > 0 then
				return index, r, subs, argsz
			end
		end
	end
	t:skip("no region offers io fds")
end

-- VU-IOFD-03: argsz with room for the head only: the count and the argsz
-- needed, no sub-regions.
case {
	id = "vfio-user/regions/io-fds/argsz-retry",
	spec = IOFDS .. "/VU-IOFD-03",
	level = "MUST",
	quote = [[As elsewhere, this indicates the full reply payload size
needed.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		local index, full, subs, need = region_with_io_fds(t)
		local r = t:expect_success(vfio.msg("GET_REGION_IO_FDS",
		                                    { index = index,
		                                      argsz = 16 }))
		local argsz, _, _, count = string.unpack("<I4I4I4I4", r.payload)
		t:check(argsz == need, "argsz " .. need, argsz)
		t:check(count == #subs, "count " .. #subs, count)
		t:check(#r.payload == 16, "the 16-byte head, no sub-regions",
		        #r.payload .. " bytes")
		local again = t:expect_success(vfio.msg("GET_REGION_IO_FDS",
		                                        { index = index,
		                                          argsz = need }))
		t:check(again.payload == full.payload, "the full reply again",
		        again.text)
	end,
}

-- VU-IOFD-04: an ioeventfd sub-region is for KVM_IOEVENTFD, which takes
-- an eventfd; and it lies inside the region (the client is told to check,
-- a server that hands out a range past the region is wrong anyway).
case {
	id = "vfio-user/regions/io-fds/ioeventfd-is-eventfd",
	spec = IOFDS .. "/VU-IOFD-04",
	level = "MUST",
	quote = [[For example, a client could configure KVM with the requested
ioeventfd via a ``KVM_IOEVENTFD`` ``ioctl()``.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		local index, r, subs = region_with_io_fds(t)
		local size = region_info(t, index).region.size
		for i, s in ipairs(subs) do
			if s.type == IOEVENTFD then
				local fd = r.fds[s.fd_index + 1]
				t:check(fdzoo.kind(fd):match("^eventfd"),
				        "an eventfd for sub-region " .. i,
				        fdzoo.describe(fd))
			end
			t:check(s.offset + s.size <= size,
			        "sub-region " .. i .. " inside the region's " ..
			        size .. " bytes",
			        ("0x%x+0x%x"):format(s.offset, s.size))
		end
	end,
}

-- VU-IOFD-01: "The client must set flags to zero": a server that takes
-- the request anyway is not wrong, one that crashes is.
case {
	id = "vfio-user/regions/io-fds/flags-not-zero",
	spec = IOFDS .. "/VU-IOFD-01",
	level = "ROBUST",
	quote = [[The client must set ``flags`` to zero and specify the region
being queried in the ``index``.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		t:expect_robust(vfio.raw{
			command = "DEVICE_GET_REGION_IO_FDS",
			payload = string.pack("<I4I4I4I4", 4096, 0xffffffff, 0,
			                      0xffffffff),
		})
	end,
}

-- VU-IOFD-07: the sub-region fds of a client that takes none (max_msg_fds
-- 0) cannot go: the reply must carry none.
case {
	id = "vfio-user/regions/io-fds/no-fds-for-fdless-client",
	spec = "vfio-user#vfio-user-version/VU-IOFD-07",
	level = "MUST",
	quote = [[Maximum number of file descriptors that can be received by
the sender in one message.]],
	needs = { handshake = true, caps = { max_msg_fds = 0 } },
	run = function(t)
		local n = device_info(t).num_regions
		for index = 0, n - 1 do
			local r, kind = t:expect(vfio.msg("GET_REGION_IO_FDS",
			                                  { index = index,
			                                    argsz = 4096 }),
			                         { "ack", "nack" })
			if kind == "ack" then
				t:check(#r.fds == 0, "no fds on region " .. index,
				        #r.fds)
			end
		end
	end,
}

-- SPDX-License-Identifier: MIT
-- inflight.lua - inflight I/O tracking: VHOST_USER_GET_INFLIGHT_FD
-- (repeated, odd sizes) and VHOST_USER_SET_INFLIGHT_FD (too many queues,
-- short or unmappable buffers), and whether a split ring is tracked.
--
-- Spec: vhost-user.rst, "Inflight I/O tracking", "Inflight description",
-- GET_INFLIGHT_FD and SET_INFLIGHT_FD.

-- ---- a small front-end: memory, rings, requests ------------------------
-- Shared by backend-channel.lua, dirty-log.lua, inflight.lua,
-- status-reset.lua, device-state.lua and robustness.lua:
-- vhost.fe_helpers() in harness/lua/prelude.lua.

local FE = vhost.fe_helpers()
local IO_QUEUES, fe_start, fe_some_io = FE.IO_QUEUES, FE.fe_start, FE.fe_some_io

-- ---- inflight buffers ---------------------------------------------------

local NEEDS = { protocol_features = { "INFLIGHT_SHMFD" } }
local GET_QUOTE = [[this message is submitted by the front-end to get a
shared buffer from back-end. The shared buffer will be used to track
inflight I/O by back-end.]]
local SET_QUOTE = [[this message is submitted by the front-end to send the
shared inflight buffer back to the back-end so that the back-end could get
inflight I/O after a crash or restart.]]
local QUEUE_SIZE = 64

-- How many rings the device's inflight buffer covers here.
local function nqueues(t)
	local qs = IO_QUEUES[t.device or ""]
	return qs and #qs or 1
end

local function get_msg(nq, qs)
	return vhost.msg("GET_INFLIGHT_FD", { mmap_size = 0, mmap_offset = 0,
	                                      num_queues = nq, queue_size = qs })
end

local function set_msg(size, offset, nq, qs, fd)
	return vhost.msg("SET_INFLIGHT_FD", { mmap_size = size,
	                                      mmap_offset = offset,
	                                      num_queues = nq, queue_size = qs,
	                                      fd = fd })
end

-- GET_INFLIGHT_FD answered as the spec says: a reply with an inflight
-- description and one fd. -> reply, the fd (FAILs otherwise)
local function get_inflight(t, nq, qs)
	local r = t:expect(get_msg(nq, qs), { "reply" })
	t:check(r.inflight ~= nil, "an inflight description", r.text)
	t:check(#(r.fds or {}) == 1, "one fd with the reply",
	        ("%d fds"):format(#(r.fds or {})))
	t:check(r.inflight.mmap_size > 0, "a buffer of some size",
	        "mmap_size 0")
	return r, r.fds[1]
end

-- "Here is a list of the ones that do [require replies]: ...
-- VHOST_USER_GET_INFLIGHT_FD (if VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)"
case {
	id = "vhost-user/inflight/get-reply",
	spec = "vhost-user#vhost-user-get-inflight-fd",
	level = "MUST",
	quote = GET_QUOTE,
	needs = NEEDS,
	run = function(t)
		get_inflight(t, nqueues(t), QUEUE_SIZE)
	end,
}

-- The buffer handed out is initialised for the queues asked for:
-- "version ... It's 1 currently. Zero value indicates an uninitialized
-- buffer"; desc_num "is equal to the virtqueue size". Queue 0's region
-- starts the buffer whatever the back-end's per-queue padding.
case {
	id = "vhost-user/inflight/get-buffer-initialised",
	spec = "vhost-user#inflight-i-o-tracking",
	level = "SHOULD",
	quote = [[The version of this region. It's 1 currently.
Zero value indicates an uninitialized buffer]],
	needs = NEEDS,
	run = function(t)
		local _, fd = get_inflight(t, nqueues(t), QUEUE_SIZE)
		local head = fd:read(16, 100)
		t:check(head and #head == 16, "16 bytes of queue 0's region",
		        tostring(head and #head))
		local _, version, desc_num = string.unpack("<I8I2I2", head)
		t:check(version == 1, "queue 0's region at version 1",
		        ("version %d"):format(version))
		t:check(desc_num == QUEUE_SIZE,
		        ("desc_num %d (the queue size)"):format(QUEUE_SIZE),
		        ("desc_num %d"):format(desc_num))
	end,
}

-- "QEMU should retrieve a new one when vm reset": each GET makes a new
-- buffer, the old one must go (DPDK CVE-2020-10726 leaked a memfd and its
-- mapping per call). The back-end's fd count stays put over 64 calls.
case {
	id = "vhost-user/inflight/get-repeated-no-leak",
	spec = "vhost-user#vhost-user-get-inflight-fd",
	level = "ROBUST",
	quote = [[QEMU should retrieve a new one when vm reset.]],
	needs = NEEDS,
	run = function(t)
		if not t:has_process() then
			t:skip("no target process to count fds of")
		end
		local _, fd = get_inflight(t, nqueues(t), QUEUE_SIZE)
		fd:close()
		local before = t:fd_count()
		for _ = 1, 64 do
			local _, f = get_inflight(t, nqueues(t), QUEUE_SIZE)
			f:close()
		end
		local after = t:fd_count()
		t:check(after - before < 8,
		        ("the back-end's fd count steady (%d)"):format(before),
		        ("%d after 64 more calls"):format(after))
	end,
}

-- Sizes no ring has: any answer but a crash (a reply's fd is ours to
-- close); 65535 queues of 32768 entries is a 32 GiB buffer.
local GET_ODD = {
	{ "get-num-queues-zero", 0, QUEUE_SIZE },
	{ "get-num-queues-max", 0xffff, QUEUE_SIZE },
	{ "get-queue-size-zero", 1, 0 },
	{ "get-queue-size-odd", 1, 3 },
	{ "get-queue-size-max", 1, 0xffff },
	{ "get-everything-max", 0xffff, 0x8000 },
}
for _, g in ipairs(GET_ODD) do
	case {
		id = "vhost-user/inflight/" .. g[1],
		spec = "vhost-user#inflight-description",
		level = "ROBUST",
		quote = [[:num queues: a 16-bit number of virtqueues
:queue size: a 16-bit size of virtqueues]],
		needs = NEEDS,
		run = function(t)
			local r = t:expect_robust(get_msg(g[2], g[3]))
			for _, fd in ipairs(type(r) == "table" and r.fds or {}) do
				fd:close()
			end
		end,
	}
end

-- Buffers handed back that cannot be what they claim. Each is followed
-- by some I/O (where this file drives it), which is when a back-end that
-- took the buffer writes into it.
local function set_then_io(t, m)
	local _, kind = t:expect(m, { "ack", "nack", "hangup" },
	                         { need_reply = true })
	if kind == "hangup" then
		return t:expect_alive()
	end
	if IO_QUEUES[t.device or ""] then
		local fe = fe_start(t)
		local ok, why = fe_some_io(fe)
		if not ok then
			t:note("I/O did not complete: " .. tostring(why))
		end
	end
	local k = t:react(vhost.msg("GET_FEATURES"))
	t:check(k == "reply" or k == "hangup", "the back-end still answers", k)
	t:expect_alive()
end

-- One queue region of this file's queue size, as the ref rounds it: big
-- enough for any layout of split or packed regions.
local PER_QUEUE = 4096

-- "N is the number of available virtqueues": more queues than the device
-- has (CVE-2021-3839: DPDK indexed its vring array with it).
for _, nq in ipairs({ 0, 256, 0xffff }) do
	case {
		id = ("vhost-user/inflight/set-num-queues-%d"):format(nq),
		spec = "vhost-user#inflight-i-o-tracking",
		level = "ROBUST",
		quote = [[N is the number of available virtqueues. The back-end could get
it from num queues field of VhostUserInflight.]],
		needs = { protocol_features = { "INFLIGHT_SHMFD", "REPLY_ACK" } },
		run = function(t)
			local size = math.max(nq, 1) * PER_QUEUE
			local fd = assert(fdzoo.new("memfd", size))
			set_then_io(t, set_msg(size, 0, nq, QUEUE_SIZE, fd))
		end,
	}
end

-- The same without the feature: a back-end that does not offer
-- INFLIGHT_SHMFD has no business with the buffer, and a front-end that
-- sends it anyway must not be able to crash it. The shape is what
-- `vu-conform fuzz` found against qemu-storage-daemon (FINDINGS 20: more
-- queues than the device has, a buffer too short for them).
case {
	id = "vhost-user/inflight/set-num-queues-200-not-offered",
	spec = "vhost-user#vhost-user-set-inflight-fd",
	level = "ROBUST",
	quote = [[When ``VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD`` protocol feature has
been successfully negotiated, this message is submitted by the front-end to
send the shared inflight buffer back to the back-end]],
	needs = { handshake = true },
	run = function(t)
		local pf = t.hs.protocol_features or 0
		if pf & (1 << vhost.PF.INFLIGHT_SHMFD) ~= 0 then
			t:skip("INFLIGHT_SHMFD is offered: set-num-queues-* cover it")
		end
		local fd = assert(fdzoo.new("memfd", 16384))
		t:expect_robust(set_msg(16384, 0, 200, 1, fd))
		local k = t:react(vhost.msg("GET_FEATURES"))
		t:check(k == "reply" or k == "hangup", "the back-end still answers",
		        k)
		t:expect_alive()
	end,
}

local SET_ODD = {
	-- a mapping far shorter than num_queues regions
	{ "set-short-mapping", 64, 0, 4096 },
	-- a mapping past the end of its memfd (SIGBUS on the first touch)
	{ "set-past-eof", 1 << 20, 0, 4096 },
	-- an offset past the end of the memfd
	{ "set-offset-past-eof", 4096, 1 << 20, 4096 },
	-- offset + size wraps 64 bits
	{ "set-offset-wraps", 0x2000, 0xfffffffffffff000, 1 << 20 },
	{ "set-size-zero", 0, 0, 4096 },
}
for _, s in ipairs(SET_ODD) do
	case {
		id = "vhost-user/inflight/" .. s[1],
		spec = "vhost-user#inflight-description",
		level = "ROBUST",
		quote = [[:mmap size: a 64-bit size of area to track inflight I/O
:mmap offset: a 64-bit offset of this area from the start of the supplied
file descriptor]],
		needs = { protocol_features = { "INFLIGHT_SHMFD", "REPLY_ACK" } },
		run = function(t)
			local fd = assert(fdzoo.new("memfd", s[4]))
			set_then_io(t, set_msg(s[2], s[3], nqueues(t), QUEUE_SIZE,
			                       fd))
		end,
	}
end

-- fds that cannot be mapped shared and writable, and no fd at all.
for _, kind in ipairs({ "pipe-read", "dir", "file-ro", "memfd-sealed",
                        "none" }) do
	case {
		id = "vhost-user/inflight/set-unmappable-" .. kind,
		spec = "vhost-user#vhost-user-set-inflight-fd",
		level = "ROBUST",
		quote = SET_QUOTE,
		needs = { protocol_features = { "INFLIGHT_SHMFD", "REPLY_ACK" } },
		run = function(t)
			local fd, other
			if kind ~= "none" then
				fd, other = fdzoo.new(kind, 1 << 16)
				if not fd then
					t:skip(kind .. ": " .. tostring(other))
				end
			end
			set_then_io(t, set_msg(PER_QUEUE * nqueues(t), 0,
			                       nqueues(t), QUEUE_SIZE, fd))
		end,
	}
end

-- The buffer really tracks: GET one, hand a copy back with SET (the
-- front-end's own memory, so it can be read while the back-end writes),
-- run one request; then queue 0's region says so: "Set used_idx to the
-- idx value of used ring" and the head's inflight flag back to 0.
case {
	id = "vhost-user/inflight/split-used-idx-tracked",
	spec = "vhost-user#inflight-i-o-tracking",
	level = "SHOULD",
	quote = [[#. Set the inflight field of each DescStateSplit entry in the batch to 0

#. Set used_idx to the idx value of used ring]],
	needs = { protocol_features = { "INFLIGHT_SHMFD", "REPLY_ACK" } },
	run = function(t)
		local nq = nqueues(t)
		local r, fd = get_inflight(t, nq, QUEUE_SIZE)
		local size = r.inflight.mmap_size
		local bytes = fd:read(size, 100) or ""
		t:check(#bytes == size, ("the %d-byte buffer read"):format(size),
		        ("%d bytes"):format(#bytes))
		local mem = gmem.new()
		assert(mem:add_region(0, (size + 4095) // 4096 * 4096))
		mem:write(0, bytes)
		local copy = mem:regions()[1].fd
		t:expect_ack(set_msg(size, 0, nq, QUEUE_SIZE, copy))
		local fe = fe_start(t, { num = QUEUE_SIZE })
		local ok, why = fe_some_io(fe)
		t:check(ok, "one request completed", why)
		-- queue 0 is blk's request queue and net's RX; net's request
		-- went through TX (queue 1), whose region is the second
		local q = t.device == "blk" and 0 or 1
		local base = q * (size // nq)
		local used_idx = string.unpack("<I2", mem:read(base + 14, 2))
		t:check(used_idx == 1, ("queue %d: used_idx 1"):format(q),
		        ("used_idx %d"):format(used_idx))
		local inflight = mem:read(base + 16, 1):byte()
		t:check(inflight == 0, "descriptor 0 no longer inflight",
		        ("inflight %d"):format(inflight))
	end,
}

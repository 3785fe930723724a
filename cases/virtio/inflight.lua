-- SPDX-License-Identifier: MIT
-- inflight.lua - inflight I/O tracking seen from the data path (virtio-blk,
-- split and packed rings): the back-end marks the chains it fetched in the
-- shared region and clears them when they are used; after the front-end
-- hangs up (and, for a per-case target, the daemon is restarted) and hands
-- the same region back with VHOST_USER_SET_INFLIGHT_FD, the requests that
-- were inflight are completed, each once, and the completed ones are not
-- used again.
--
-- Leaving requests inflight needs a device that completes out of order:
-- vuc-ref-vhost holds a request whose ioprio is 0x484f4c44 ("HOLD") until
-- the next kick (reference-backend/README.md). Another device completes
-- such a request at once, which is legal: then nothing is left inflight,
-- the reconnect checks only that nothing is used twice, and the
-- resubmission case SKIPs.
--
-- Spec: vhost-user.rst "Inflight I/O tracking", GET_INFLIGHT_FD and
-- SET_INFLIGHT_FD. Split and packed rings (QueueRegionSplit /
-- QueueRegionPacked).

local HOLD = 0x484f4c44
local QNUM = 64 -- queue size, and the inflight region's desc_num

-- The region's layouts: QueueRegionSplit and DescStateSplit;
-- QueueRegionPacked (29 bytes, its array aligned to 8) and
-- DescStatePacked.
local HDR, DESC = 16, 16
local PK_HDR, PK_DESC = 32, 32

local Q_MARK_SPLIT = [[#. Set ``desc[i].counter`` to the value of global counter

#. Increase global counter by 1

#. Set ``desc[i].inflight`` to 1]]
local Q_MARK_PACKED = [[#. If ``d`` is head descriptor,

   a. Set ``desc[old_free_head].num`` to 0]]
local Q_RESUBMIT = [[
#. Resubmit inflight ``DescStateSplit`` entries in order of their
   counter value]]
local Q_RESUBMIT_PACKED = [[
#. Resubmit inflight ``DescStatePacked`` entries in order of their
   counter value]]

local function pattern(seed)
	local b = {}
	for k = 1, 512 do
		b[k] = string.char((k * 13 + seed * 29) % 256)
	end
	return table.concat(b)
end

-- One blk request on the request queue, published, not kicked: the
-- header's ioprio is HOLD when @hold. -> token
local function request(d, type_, sector, hold, data, read)
	local hdr = string.pack("<I4I4I8", type_, hold and HOLD or 0, sector)
	return d:submit(0, hdr .. (data or ""), (read or 0) + 1,
	                { kick = false })
end

-- The requests of the first session, in avail order: two plain writes
-- and, between them, three held ones (two writes, one read).
local REQS = {
	{ name = "write 2", type = 1, sector = 2, seed = 1 },
	{ name = "held write 4", type = 1, sector = 4, seed = 2, hold = true },
	{ name = "held read 6", type = 0, sector = 6, hold = true },
	{ name = "write 8", type = 1, sector = 8, seed = 3 },
	{ name = "held write 10", type = 1, sector = 10, seed = 4, hold = true },
}

local function get_msg(nq, qs)
	return vhost.msg("GET_INFLIGHT_FD", { mmap_size = 0, mmap_offset = 0,
	                                      num_queues = nq, queue_size = qs })
end

-- The first session: negotiation with INFLIGHT_SHMFD (SKIP without; and
-- RING_PACKED for @packed), GET_INFLIGHT_FD, the buffer handed back with
-- SET_INFLIGHT_FD (QEMU's order, before the rings start), REQS submitted
-- and kicked once; the plain ones must be used. -> s: d, the inflight
-- description and fd, per request its token, head (split) or buffer id
-- and slots (packed), which were left inflight, and where the used ring
-- is (split: its idx; packed: the slot, wrap counter 1).
local function first_session(t, packed)
	local d = virtio.device(t, { pf = { "INFLIGHT_SHMFD" }, no_rings = true,
	                             num = QNUM, packed = packed })
	local r = t:expect(get_msg(1, QNUM), { "reply" })
	if not r.inflight or #(r.fds or {}) ~= 1 then
		t:fail{ expected = "GET_INFLIGHT_FD: an inflight description " ..
		                   "and one fd",
		        actual = ("%s with %d fds"):format(r.text,
		                                          #(r.fds or {})) }
	end
	local hdr, desc = HDR, DESC
	if packed then
		hdr, desc = PK_HDR, PK_DESC
	end
	local s = { d = d, inf = r.inflight, fd = r.fds[1], reqs = {},
	            packed = packed }
	t:check(s.inf.mmap_size >= hdr + desc * QNUM,
	        ("a region of at least %d bytes"):format(hdr + desc * QNUM),
	        ("mmap_size %d"):format(s.inf.mmap_size))
	virtio.step(t, vhost.msg("SET_INFLIGHT_FD", {
		mmap_size = s.inf.mmap_size, mmap_offset = s.inf.mmap_offset,
		num_queues = 1, queue_size = QNUM, fd = s.fd }))
	d:start(0)
	local a = d.q[0]:addrs()
	local slot = 0
	for k, q in ipairs(REQS) do
		local tok = request(d, q.type, q.sector, q.hold,
		                    q.seed and pattern(q.seed), q.type == 0 and 512)
		local rec = { tok = tok, ndesc = d.tokens[tok].ndesc }
		if packed then
			-- the buffer id is the chain's last descriptor's
			local last = slot + rec.ndesc - 1
			rec.id = string.unpack("<I2", d.mem:read(a.desc_gpa +
			                       16 * last + 12, 2))
			slot = slot + rec.ndesc
		else
			rec.head = string.unpack("<I2", d.mem:read(a.avail_gpa + 4 +
			                         2 * (k - 1), 2))
		end
		s.reqs[k] = rec
	end
	d:kick(0)
	for k, q in ipairs(REQS) do
		if not q.hold then
			d:complete(s.reqs[k].tok, q.name .. " used")
		end
	end
	-- Held ones may be completed at once by another device: give them
	-- the time, then see which are still out.
	t:sleep(100)
	d:reap(0)
	s.left = {}
	local used_slots = 0
	for k, q in ipairs(REQS) do
		if not d.done[s.reqs[k].tok] then
			s.left[#s.left + 1] = k
			t:note(q.name .. " left inflight")
		else
			used_slots = used_slots + s.reqs[k].ndesc
		end
	end
	-- (fewer than QNUM slots: no wrap)
	s.used_idx = packed and used_slots or d:used_idx(0)
	return s
end

-- Queue 0's region as the back-end left it (one read of the fd: its
-- offset moves). Split: { version, used_idx, last_batch_head, desc =
-- { [head] = { inflight, next, counter } } }; packed: { version,
-- free_head, old_free_head, used_idx, old_used_idx, used_wrap,
-- old_used_wrap, desc = { [i] = { inflight, next, last, num, counter, id,
-- flags, len, addr } } }.
local function region(t, s)
	local hdr, desc = HDR, DESC
	if s.packed then
		hdr, desc = PK_HDR, PK_DESC
	end
	local want = s.inf.mmap_offset + hdr + desc * QNUM
	local b = s.fd:read(want, 100) or ""
	t:check(#b == want, ("the region's first %d bytes read"):format(want),
	        ("%d bytes"):format(#b))
	b = b:sub(s.inf.mmap_offset + 1)
	local reg = { desc = {} }
	if s.packed then
		reg.version, reg.desc_num, reg.free_head, reg.old_free_head,
		reg.used_idx, reg.old_used_idx, reg.used_wrap, reg.old_used_wrap =
			string.unpack("<I2I2I2I2I2I2I1I1", b, 9)
		for i = 0, QNUM - 1 do
			local e = {}
			e.inflight, e.next, e.last, e.num, e.counter, e.id, e.flags,
			e.len, e.addr = string.unpack("<I1xI2I2I2I8I2I2I4I8", b,
			                              hdr + desc * i + 1)
			reg.desc[i] = e
		end
		return reg
	end
	reg.version, reg.desc_num, reg.last_batch_head, reg.used_idx =
		string.unpack("<I2I2I2I2", b, 9)
	for h = 0, QNUM - 1 do
		local inflight, next, counter = string.unpack("<I1xxxxxI2I8", b,
		                                              hdr + desc * h + 1)
		reg.desc[h] = { inflight = inflight, next = next,
		                counter = counter }
	end
	return reg
end

-- The region entry that tracks request @rec (split: its head; packed: the
-- inflight head entry whose last descriptor has its buffer id), or nil.
local function entry(reg, s, rec)
	if not s.packed then
		return reg.desc[rec.head]
	end
	for i = 0, QNUM - 1 do
		local e = reg.desc[i]
		if e.inflight == 1 and e.last < QNUM and
		   reg.desc[e.last].id == rec.id then
			return e
		end
	end
end

local function check_tracked(t, s)
	local reg = region(t, s)
	t:check(reg.version == 1, "version 1", ("version %d"):format(reg.version))
	t:check(reg.used_idx == s.used_idx,
	        ("used_idx %d (the used ring's)"):format(s.used_idx),
	        ("used_idx %d"):format(reg.used_idx))
	if s.packed then
		t:check(reg.used_wrap == 1 and reg.old_used_idx == reg.used_idx and
		        reg.old_used_wrap == 1,
		        "used_wrap_counter 1, old_used_idx and its wrap the same " ..
		        "(no update in progress)",
		        ("used_wrap_counter %d, old_used_idx %d, " ..
		         "old_used_wrap_counter %d"):format(reg.used_wrap,
		        reg.old_used_idx, reg.old_used_wrap))
	end
	local last, marked = nil, 0
	for i = 0, QNUM - 1 do
		marked = marked + (reg.desc[i].inflight == 1 and 1 or 0)
	end
	t:check(marked == #s.left, ("%d entries inflight (the requests not " ..
	        "used)"):format(#s.left), ("%d"):format(marked))
	for _, k in ipairs(s.left) do
		local rec, q = s.reqs[k], REQS[k]
		local e = entry(reg, s, rec)
		t:check(e and e.inflight == 1, q.name .. ": marked inflight",
		        e and ("inflight %d"):format(e.inflight) or
		        "no inflight head entry with its buffer id")
		if s.packed then
			t:check(e.num == rec.ndesc,
			        ("%s: num %d (its descriptors)"):format(q.name,
			        rec.ndesc), ("num %d"):format(e.num))
		end
		t:check(not last or e.counter > last,
		        q.name .. ": a counter above the previous inflight " ..
		        "head's " .. tostring(last),
		        ("counter %d"):format(e.counter))
		last = e.counter
	end
end

-- The reconnect: restart (a new process for a per-case target), the same
-- features, memory and inflight buffer, then the ring again from where
-- the used ring is (what QEMU sends when the back-end could not answer
-- GET_VRING_BASE: split, the used idx; packed, avail = used) and a kick.
local function reconnect(t, s)
	local d = s.d
	local acked = d.features
	t:restart()
	local feats = { virtio.F_VERSION_1 }
	if s.packed then
		feats[2] = virtio.F_RING_PACKED
	end
	local hs = vhost.handshake(t, {
		features = feats,
		protocol_features = { "REPLY_ACK", "INFLIGHT_SHMFD" },
		ack_features = acked, require = true })
	if hs.acked_protocol_features &
	   vhost.protocol_features{ "INFLIGHT_SHMFD" } == 0 then
		t:fail("INFLIGHT_SHMFD no longer offered after the restart")
	end
	virtio.step(t, vhost.msg("SET_MEM_TABLE", { regions = d.mem:regions() }))
	virtio.step(t, vhost.msg("SET_INFLIGHT_FD", {
		mmap_size = s.inf.mmap_size, mmap_offset = s.inf.mmap_offset,
		num_queues = 1, queue_size = QNUM, fd = s.fd }))
	local base = s.used_idx
	if s.packed then
		local half = s.used_idx | 0x8000
		base = half | (half << 16)
	end
	d:start(0, { ring = d.q[0], base = base })
	d:kick(0)
end

local function resubmit_case(t, packed)
	local s = first_session(t, packed)
	local d = s.d
	reconnect(t, s)
	t:note("a used entry whose id is no chain in flight is a request " ..
	       "completed before the hang-up used again")
	for _, k in ipairs(s.left) do
		d:complete(s.reqs[k].tok, REQS[k].name .. " (inflight at the " ..
		           "hang-up) used after the reconnect", 2000)
	end
	d:quiet(0, 100, "no used entry but the inflight requests'")
	for _, k in ipairs(s.left) do
		local st = d:blk_result(s.reqs[k].tok)
		t:check(st == virtio.BLK_S_OK, REQS[k].name .. ": status OK",
		        ("status %d"):format(st))
	end
	if #s.left == 0 then
		t:skip("the back-end used every request before the hang-up: " ..
		       "nothing was inflight to resubmit")
	end
	-- What the resubmitted requests did, read back with new ones.
	for _, k in ipairs(s.left) do
		local q = REQS[k]
		local tok = request(d, 0, q.sector, false, nil, 512)
		d:kick(0)
		d:complete(tok, "a read of sector " .. q.sector)
		local st, data = d:blk_result(tok)
		t:check(st == virtio.BLK_S_OK, "the read back: status OK",
		        ("status %d"):format(st))
		if q.seed then
			t:check(data == pattern(q.seed),
			        q.name .. ": its data on the disk", "other bytes")
		else
			local _, got = d:blk_result(s.reqs[k].tok)
			t:check(got == data, q.name .. ": the disk's bytes",
			        "other bytes")
		end
	end
	d:check_memory()
end

for _, lay in ipairs({ "split", "packed" }) do
	local packed = lay == "packed"

	-- Before any reconnect: each chain fetched and not used is marked
	-- inflight (split: its head's entry; packed: a head entry counting
	-- its descriptors, the last with its buffer id) with counters in
	-- fetch order; each used one is cleared; used_idx follows the used
	-- ring. The seeded inflight-not-marked and inflight-not-cleared fail;
	-- so does a back-end whose used_idx lags. A device that used
	-- everything at once is checked for the clearing and used_idx alone.
	case {
		id = "virtio/inflight/heads-tracked-" .. lay,
		spec = "vhost-user#inflight-i-o-tracking",
		level = "SHOULD",
		quote = packed and Q_MARK_PACKED or Q_MARK_SPLIT,
		needs = { device = "blk" },
		run = function(t)
			check_tracked(t, first_session(t, packed))
		end,
	}

	-- The whole reconnect. Each request left inflight must be used once
	-- with status OK; nothing else may be used (a completed request used
	-- again is not a chain in flight: the driver side refuses it); the
	-- resubmitted writes are on the disk and the resubmitted read got the
	-- disk's bytes; new requests work after them. The seeded
	-- inflight-not-resubmitted (resumes at SET_VRING_BASE, in-order
	-- thinking) uses "write 8" again and loses the held ones.
	case {
		id = "virtio/inflight/resubmit-after-reconnect-" .. lay,
		spec = "vhost-user#inflight-i-o-tracking",
		level = "SHOULD",
		quote = packed and Q_RESUBMIT_PACKED or Q_RESUBMIT,
		needs = { device = "blk" },
		run = function(t)
			resubmit_case(t, packed)
		end,
	}
end

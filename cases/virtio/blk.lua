-- SPDX-License-Identifier: MIT
-- blk.lua - the virtio-blk data path driven through the rings: read,
-- write, flush, get-id and discard where offered; data written and read
-- back in several descriptor layouts; requests past the end of the disk,
-- unknown types and short buffers get an error status, not a crash. Every
-- case runs on split and packed rings.
--
-- Spec: specs/virtio/blk.tex ("Device Operation" and its normative parts),
-- split-ring.tex ("Message Framing", the used ring).

local LAYOUTS = { "split", "packed" }
local S_OK, S_IOERR, S_UNSUPP = virtio.BLK_S_OK, virtio.BLK_S_IOERR,
                                virtio.BLK_S_UNSUPP

local Q_RW = [[VIRTIO_BLK_T_IN requests populate \field{data} with the contents of sectors
read from the block device (in multiples of 512 bytes).  VIRTIO_BLK_T_OUT
requests write the contents of \field{data} to the block device]]
local Q_FRAMING = [[The device MUST NOT make assumptions about the particular arrangement
of descriptors.]]
local Q_STATUS = [[The final \field{status} byte is written by the device: either
VIRTIO_BLK_S_OK for success, VIRTIO_BLK_S_IOERR for device or driver
error or VIRTIO_BLK_S_UNSUPP for a request unsupported by device:]]
local ANCHOR_OP = "virtio#devicenormative-device-types-block-device-" ..
                  "device-operation"
local ANCHOR_OP_SEC = "virtio#sec-device-types-block-device-device-operation"

local function pattern(n, seed)
	local b = {}
	for k = 1, n do
		b[k] = string.char((k * 31 + seed * 17) % 256)
	end
	return table.concat(b)
end

local function status_name(s)
	return ({ [0] = "OK", "IOERR", "UNSUPP" })[s] or
	       ("0x%02x"):format(s or 0xee)
end

-- One request, completed: (status, data read, used length). FAILs if it
-- is not used in time.
local function req(t, d, type, sector, o, what)
	local tok = d:blk(type, sector, o)
	local len = d:complete(tok, what)
	local st, data = d:blk_result(tok)
	return st, data, len, tok
end

local function expect_status(t, st, want, what)
	t:check(st == want, what .. ": status " .. status_name(want),
	        "status " .. status_name(st))
end

-- Writes @n sectors at @sector in layout @wo and reads them back in
-- layout @ro; the data must match and both statuses be OK.
local function write_read(t, d, sector, n, seed, wo, ro)
	local data = pattern(512 * n, seed)
	wo = wo or {}
	wo.data = data
	local st = req(t, d, virtio.BLK_T_OUT, sector, wo, "the write used")
	expect_status(t, st, S_OK, "the write")
	ro = ro or {}
	ro.read = 512 * n
	local st2, got, len = req(t, d, virtio.BLK_T_IN, sector, ro,
	                          "the read used")
	expect_status(t, st2, S_OK, "the read")
	t:check(got == data, ("the %d bytes written read back"):format(#data),
	        "different bytes")
	t:check(len >= 1, "a used length that covers the status byte",
	        ("len %d"):format(len))
	d:check_memory()
end

for _, lay in ipairs(LAYOUTS) do
	local packed = lay == "packed"

	-- Write two sectors, read them back. The seeded used-len-total
	-- reports the write's used length as the whole chain (more than its
	-- one writable byte); a device that drops writes fails the compare.
	case {
		id = "virtio/blk/write-read-back-" .. lay,
		spec = ANCHOR_OP_SEC,
		level = "MUST",
		quote = Q_RW,
		needs = { device = "blk" },
		run = function(t)
			local d = virtio.device(t, { packed = packed })
			write_read(t, d, 8, 2, 1)
			write_read(t, d, 9, 1, 2) -- overlapping: the newer wins
		end,
	}

	-- The same in layouts a device must not rely on: the header cut 4 +
	-- 12 and 1 + 15, the data cut unevenly, the status in the same
	-- descriptor as the end of the data, indirect chains.
	local layouts = {
		{ "header-split", { cut_r = { 4, 12 } }, { cut_r = { 1, 15 } } },
		{ "data-split", { cut_r = { 16, 100, 300 } },
		  { cut_w = { 7, 505 } } },
		{ "status-with-data", { cut_r = { 16 } }, { cut_w = { 1 } } },
		{ "status-shares-descriptor", { cut_r = { 20 } },
		  { cut_w = { 300 } } },
		{ "indirect", { indirect = true, cut_r = { 16, 256 } },
		  { indirect = true, cut_w = { 256 } }, true },
	}
	for _, l in ipairs(layouts) do
		case {
			id = ("virtio/blk/layout-%s-%s"):format(l[1], lay),
			spec = "virtio#devicenormative-basic-facilities-of-a-virtio-" ..
			       "device-message-framing",
			level = "MUST",
			quote = Q_FRAMING,
			needs = { device = "blk" },
			run = function(t)
				local d = virtio.device(t, { packed = packed,
				                             indirect = l[4] })
				write_read(t, d, 3, 1, 3, l[2], l[3])
			end,
		}
	end

	case {
		id = "virtio/blk/flush-" .. lay,
		spec = ANCHOR_OP_SEC,
		level = "MUST",
		quote = [[If the device is backed by persistent storage, the device MUST ensure that
stable writes are committed to it, before reporting completion of the write
(cases~\ref{item:flush1} and~\ref{item:flush2}) or the flush]],
		needs = { device = "blk" },
		run = function(t)
			local d = virtio.device(t, { packed = packed,
			                             need = { virtio.BLK_F_FLUSH } })
			write_read(t, d, 5, 1, 4)
			local st = req(t, d, virtio.BLK_T_FLUSH, 0, {},
			               "the flush used")
			expect_status(t, st, S_OK, "the flush")
			d:check_memory()
		end,
	}

	-- GET_ID: 20 bytes, a NUL-padded ASCII string. The used length may
	-- not claim more than the 20 bytes and the status.
	case {
		id = "virtio/blk/get-id-" .. lay,
		spec = ANCHOR_OP_SEC,
		level = "MUST",
		quote = [[VIRTIO_BLK_T_GET_ID requests fetch the device ID string from the device into
\field{data}.  The device ID string is a NUL-padded ASCII string up to 20 bytes
long.]],
		needs = { device = "blk" },
		run = function(t)
			local d = virtio.device(t, { packed = packed })
			local st, id, len = req(t, d, virtio.BLK_T_GET_ID, 0,
			                        { read = 20 }, "GET_ID used")
			t:note(("GET_ID: used length %d, data %q"):format(len, id))
			if st == S_UNSUPP then
				t:note("GET_ID unsupported: legal")
				return
			end
			expect_status(t, st, S_OK, "GET_ID")
			local s = id:match("^([^%z]*)")
			t:check(id:sub(#s + 1) == ("\0"):rep(20 - #s),
			        "NUL padding after the string to 20 bytes",
			        ("%q (used length %d)"):format(id, len))
			t:check(not s:find("[^\32-\126]"), "printable ASCII",
			        ("%q"):format(s))
			d:check_memory()
		end,
	}

	-- DISCARD of one range (unmap 0): OK. With the unmap bit, or an
	-- unknown flag: "MUST set the status byte to VIRTIO_BLK_S_UNSUPP".
	case {
		id = "virtio/blk/discard-" .. lay,
		spec = ANCHOR_OP,
		level = "MUST",
		quote = [[The device MUST set the \field{status} byte to VIRTIO_BLK_S_UNSUPP for
discard, secure erase and write zeroes commands if any unknown flag is set.
Furthermore, the device MUST set the \field{status} byte to
VIRTIO_BLK_S_UNSUPP for discard commands if the \field{unmap} flag is set.]],
		needs = { device = "blk" },
		run = function(t)
			local d = virtio.device(t, { packed = packed,
			                             need = { virtio.BLK_F_DISCARD } })
			write_read(t, d, 16, 1, 5)
			local seg = string.pack("<I8I4I4", 16, 1, 0)
			local st = req(t, d, virtio.BLK_T_DISCARD, 0, { data = seg },
			               "the discard used")
			expect_status(t, st, S_OK, "a discard of one sector")
			seg = string.pack("<I8I4I4", 16, 1, 1)
			st = req(t, d, virtio.BLK_T_DISCARD, 0, { data = seg },
			         "the discard with unmap used")
			expect_status(t, st, S_UNSUPP, "a discard with unmap set")
			seg = string.pack("<I8I4I4", 16, 1, 0x80000000)
			st = req(t, d, virtio.BLK_T_DISCARD, 0, { data = seg },
			         "the discard with an unknown flag used")
			expect_status(t, st, S_UNSUPP, "a discard with an unknown flag")
			d:check_memory()
		end,
	}

	-- Zone requests without VIRTIO_BLK_F_ZONED: UNSUPP.
	case {
		id = "virtio/blk/zone-request-unsupported-" .. lay,
		spec = ANCHOR_OP,
		level = "MUST",
		quote = [[If the VIRTIO_BLK_F_ZONED feature is not negotiated, the device MUST reject
VIRTIO_BLK_T_ZONE_REPORT, VIRTIO_BLK_T_ZONE_OPEN, VIRTIO_BLK_T_ZONE_CLOSE,]],
		needs = { device = "blk" },
		run = function(t)
			local d = virtio.device(t, { packed = packed })
			for _, z in ipairs({ 18, 20, 24 }) do -- OPEN, CLOSE, RESET
				local st = req(t, d, z, 0, {}, "the zone request used")
				expect_status(t, st, S_UNSUPP, ("zone request type %d")
				              :format(z))
			end
			d:check_memory()
		end,
	}

	-- Reads and writes past the end of the disk: an error status, the
	-- disk and the guest memory untouched, the back-end alive. The
	-- seeded blk-no-bounds crashes.
	case {
		id = "virtio/blk/sector-out-of-range-" .. lay,
		spec = ANCHOR_OP_SEC,
		level = "MUST",
		quote = Q_STATUS,
		needs = { device = "blk" },
		run = function(t)
			local d = virtio.device(t, { packed = packed })
			for _, s in ipairs({ 1 << 40, (1 << 62) - 1, -1 }) do
				local st = req(t, d, virtio.BLK_T_IN, s, { read = 512 },
				               ("a read at sector 0x%x used"):format(s))
				t:check(st == S_IOERR or st == S_UNSUPP,
				        ("a read at sector 0x%x: an error status"):format(s),
				        "status " .. status_name(st))
				st = req(t, d, virtio.BLK_T_OUT, s,
				         { data = pattern(512, 6) },
				         ("a write at sector 0x%x used"):format(s))
				t:check(st == S_IOERR or st == S_UNSUPP,
				        ("a write at sector 0x%x: an error status")
				        :format(s), "status " .. status_name(st))
			end
			d:check_memory()
			d:responsive()
		end,
	}

	-- Short or missing parts (the driver broke "The length of data MUST
	-- be a multiple of 512 bytes" or left no room for a status; the
	-- device's answer is its own): no crash, nothing written outside
	-- the buffers, a used length within the writable bytes (the ring
	-- engine checks), and still serving.
	local shorts = {
		{ "read-not-sector-multiple", virtio.BLK_T_IN, { read = 100 } },
		{ "write-not-sector-multiple", virtio.BLK_T_OUT,
		  { data = pattern(100, 7) } },
		{ "header-only-no-status", virtio.BLK_T_IN, { status_len = 0 } },
		{ "get-id-short-buffer", virtio.BLK_T_GET_ID, { read = 3 } },
		{ "header-short", nil, nil },
	}
	for _, s in ipairs(shorts) do
		case {
			id = ("virtio/blk/short-%s-%s"):format(s[1], lay),
			spec = ANCHOR_OP_SEC,
			level = "ROBUST",
			quote = [[The length of \field{data} MUST be a multiple of 512 bytes for VIRTIO_BLK_T_IN
and VIRTIO_BLK_T_OUT requests.]],
			needs = { device = "blk" },
			run = function(t)
				local d = virtio.device(t, { packed = packed })
				local tok
				if s[2] then
					tok = d:blk(s[2], 0, s[3])
				else -- 8 bytes of header, then the status
					tok = d:submit(d.lay.req, virtio.blk_hdr(0, 0):sub(1, 8),
					               1)
				end
				local len = d:wait(tok, 300)
				t:note("used: " .. tostring(len))
				local rec = d.tokens[tok]
				if len and rec.wlen > 0 then
					t:note("status " .. status_name((d:blk_result(tok))))
				end
				d:check_memory()
				d:responsive()
			end,
		}
	end
end

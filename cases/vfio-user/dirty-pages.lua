-- SPDX-License-Identifier: MIT
-- dirty-pages.lua - DMA dirty page logging: DEVICE_FEATURE
-- DMA_LOGGING_START / _STOP / _REPORT, their methods, page sizes, the
-- bitmap's size and layout, and whether the server's own writes to client
-- memory show in it.
--
-- Spec: vfio-user.rst "VFIO_DEVICE_FEATURE_DMA_LOGGING_START /
-- VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP", "VFIO_DEVICE_FEATURE_DMA_LOGGING_
-- REPORT".
-- The spec anchor of each case ends in the id of the assertion of
-- research/vfio-user-assertions.md it checks (anchor/VU-...).
--
-- The bitmap follows Linux VFIO: page i of the range is bit (i % 64) of
-- u64 word (i / 64). The spec's formula, bitmap[(addr - iova) / page_size]
-- & (1ULL << (addr % 64)), indexes words by page and bits by address
-- (VU-LOG-06, a spec bug); these cases expect the kernel's layout.
--
-- Writes by the server itself are made with the reference device's DMA
-- engine (BAR0 registers, reference-backend/vfio/device.h); those cases
-- SKIP on other devices.

local START = "vfio-user#vfio-device-feature-dma-logging-start-" ..
              "vfio-device-feature-dma-logging-stop"
local REPORT = "vfio-user#vfio-device-feature-dma-logging-report"

local GET, SET, PROBE = 1 << 16, 1 << 17, 1 << 18
local F_START, F_STOP, F_REPORT = 6, 7, 8

local PAGE = 4096
local MEM_GPA, MEM_PAGES = 0x100000, 16
local BAR0, REG_ID, REG_DMA_SRC = 0, 0, 0x08

local function feature(flags, data, argsz)
	return vfio.msg("DEVICE_FEATURE",
	                { flags = flags, data = data or "", argsz = argsz })
end

local function start_msg(page_size, ranges)
	local p = { string.pack("<I8I4I4", page_size, #(ranges or {}), 0) }
	for _, r in ipairs(ranges or {}) do
		p[#p + 1] = string.pack("<I8I8", r[1], r[2])
	end
	return feature(SET | F_START, table.concat(p))
end

local function bitmap_bytes(length, page_size)
	local pages = (length + page_size - 1) // page_size
	return (pages + 63) // 64 * 8
end

local function report_msg(iova, length, page_size, argsz)
	return feature(GET | F_REPORT,
	               string.pack("<I8I8I8", iova, length, page_size),
	               argsz or 8 + 24 + bitmap_bytes(length, page_size))
end

-- SKIP unless DMA logging can be started (PROBE of START).
local function need_logging(t)
	local _, kind = t:expect(feature(PROBE | SET | F_START),
	                         { "ack", "nack" })
	if kind == "nack" then
		t:skip("the device does not support DMA logging")
	end
end

local function start(t, page_size, ranges)
	return t:expect_success(start_msg(page_size or PAGE, ranges))
end

-- REPORT: -> the bitmap as a list of u64 words.
local function report(t, iova, length, page_size)
	local r = t:expect_success(report_msg(iova, length, page_size))
	local words, want = {}, bitmap_bytes(length, page_size)
	t:check(#r.payload == 8 + 24 + want, 8 + 24 + want .. " payload bytes",
	        #r.payload)
	for at = 8 + 24 + 1, #r.payload - 7, 8 do
		words[#words + 1] = string.unpack("<I8", r.payload, at)
	end
	return words
end

local function need_ref_device(t)
	local r = t:call(vfio.msg("REGION_READ",
	                          { region = BAR0, offset = REG_ID, count = 4 }))
	if not r or r.is_error or r.data ~= "VUC1" then
		t:skip("needs the reference device's DMA engine (BAR0 ID " ..
		       "\"VUC1\")")
	end
end

-- Client memory the server maps (fd, mmap access).
local function shared_memory(t)
	local mem = gmem.new()
	assert(mem:add_region(MEM_GPA, MEM_PAGES * PAGE))
	local reg = mem:regions()[1]
	t:expect_success(vfio.msg("DMA_MAP", {
		flags = vfio.DMA_READ | vfio.DMA_WRITE,
		offset = reg.mmap_offset, addr = MEM_GPA,
		size = MEM_PAGES * PAGE, fd = reg.fd }))
	return mem
end

-- The device copies @len bytes from page @src to page @dst of the memory.
local function device_copy(t, src, dst, len)
	t:expect_success(vfio.msg("REGION_WRITE", {
		region = BAR0, offset = REG_DMA_SRC,
		data = string.pack("<I8I8I4I4", MEM_GPA + src * PAGE,
		                   MEM_GPA + dst * PAGE, len or 64, 1) }))
end

local function bit(words, i)
	return (words[i // 64 + 1] or 0) >> (i % 64) & 1 == 1
end

-- ---- methods -----------------------------------------------------------

-- VU-FEAT-08: the three logging features come together: probing them
-- agrees (all supported, or none).
case {
	id = "vfio-user/dirty/probe-consistent",
	spec = START .. "/VU-FEAT-08",
	level = "SHOULD",
	quote = [[These features can also be probed to determine whether the
device supports DMA logging.]],
	needs = { handshake = true },
	run = function(t)
		local kinds = {}
		for i, f in ipairs({ PROBE | SET | F_START, PROBE | SET | F_STOP,
		                     PROBE | GET | F_REPORT }) do
			local _, k = t:expect(feature(f), { "ack", "nack" })
			kinds[i] = k
		end
		t:check(kinds[1] == kinds[2] and kinds[2] == kinds[3],
		        "START, STOP and REPORT all supported or none",
		        table.concat(kinds, ", "))
	end,
}

-- VU-LOG-01: START and STOP are SET features, REPORT a GET feature.
local WRONG_METHOD = {
	{ "start-get-refused", GET | F_START, START,
	  [[Upon ``VFIO_DEVICE_FEATURE_SET``, start/stop DMA logging.]] },
	{ "stop-get-refused", GET | F_STOP, START,
	  [[Upon ``VFIO_DEVICE_FEATURE_SET``, start/stop DMA logging.]] },
	{ "report-set-refused", SET | F_REPORT, REPORT,
	  [[Upon ``VFIO_DEVICE_FEATURE_GET``, returns the dirty bitmap for a
specific IOVA range.]] },
	{ "probe-get-start-refused", PROBE | GET | F_START, START,
	  [[Upon ``VFIO_DEVICE_FEATURE_SET``, start/stop DMA logging.]] },
}
for _, v in ipairs(WRONG_METHOD) do
	case {
		id = "vfio-user/dirty/" .. v[1],
		spec = v[3] .. "/VU-LOG-01",
		level = "MUST",
		quote = v[4],
		needs = { handshake = true },
		run = function(t)
			need_logging(t)
			local data = v[2] & 0xffff == F_REPORT and
			             string.pack("<I8I8I8", MEM_GPA, PAGE, PAGE) or
			             string.pack("<I8I4I4", PAGE, 0, 0)
			t:expect_refusal(feature(v[2], data))
		end,
	}
end

-- ---- REPORT without logging, and bad page sizes -------------------------

-- VU-LOG-02: a report needs logging started.
case {
	id = "vfio-user/dirty/report-before-start",
	spec = REPORT .. "/VU-LOG-02",
	level = "MUST",
	quote = [[This operation is only valid if logging of dirty pages has been
previously started by setting ``VFIO_DEVICE_FEATURE_DMA_LOGGING_START``.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_logging(t)
		shared_memory(t)
		t:expect_refusal(report_msg(MEM_GPA, MEM_PAGES * PAGE, PAGE))
	end,
}

-- VU-LOG-02: ... and STOP ends it.
case {
	id = "vfio-user/dirty/report-after-stop",
	spec = REPORT .. "/VU-LOG-02",
	level = "MUST",
	quote = [[This operation is only valid if logging of dirty pages has been
previously started by setting ``VFIO_DEVICE_FEATURE_DMA_LOGGING_START``.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_logging(t)
		shared_memory(t)
		start(t)
		report(t, MEM_GPA, MEM_PAGES * PAGE, PAGE)
		t:expect_success(feature(SET | F_STOP))
		t:expect_refusal(report_msg(MEM_GPA, MEM_PAGES * PAGE, PAGE))
	end,
}

-- VU-LOG-03: REPORT's page size "must be a power of two".
for _, v in ipairs({ { "report-page-size-not-power-of-two", 3000 },
                     { "report-page-size-zero", 0 },
                     { "report-page-size-two-bits", PAGE | 1 } }) do
	case {
		id = "vfio-user/dirty/" .. v[1],
		spec = REPORT .. "/VU-LOG-03",
		level = "MUST",
		quote = [[* *page_size* is the unit of granularity of the bitmap, and
must be a power of two.]],
		needs = { handshake = true, caps = { max_msg_fds = 8 } },
		run = function(t)
			need_logging(t)
			shared_memory(t)
			start(t)
			t:expect_refusal(report_msg(MEM_GPA, MEM_PAGES * PAGE,
			                            v[2], 8 + 24 + 64))
			t:expect_alive()
		end,
	}
end

-- VU-LOG-10: START's page size is a hint; whatever the device picks, it
-- says so, and it is a page size (a power of two, not 0).
for _, v in ipairs({ { "start-page-size-hint", PAGE },
                     { "start-page-size-zero", 0 },
                     { "start-page-size-odd", 3000 } }) do
	case {
		id = "vfio-user/dirty/" .. v[1],
		spec = START .. "/VU-LOG-10",
		level = "MUST",
		quote = [[If the device cannot do the hinted page size then it's the
driver's choice which page size to pick based on its support. On output
the device will return the page size it selected.]],
		needs = { handshake = true },
		run = function(t)
			need_logging(t)
			local m = start_msg(v[2])
			local r, kind = t:expect(m, v[2] == PAGE and { "ack" } or
			                            { "ack", "nack" })
			if kind == "ack" then
				local ps = string.unpack("<I8", r.payload, 9)
				t:check(ps ~= 0 and ps & (ps - 1) == 0,
				        "a power-of-two page size in the reply",
				        ps)
				t:check(r.payload:sub(17) == m.payload:sub(17),
				        "the rest of the request echoed", r.text)
			end
		end,
	}
end

-- ---- the bitmap ----------------------------------------------------------

-- VU-LOG-05: the bitmap is ceil(length / page_size) bits in whole u64s.
for _, v in ipairs({ { "bitmap-size-one-word", MEM_PAGES * PAGE, PAGE },
                     { "bitmap-size-partial-page", 3 * PAGE + 1, PAGE },
                     { "bitmap-size-two-words", 65 * PAGE, PAGE } }) do
	case {
		id = "vfio-user/dirty/" .. v[1],
		spec = REPORT .. "/VU-LOG-05",
		level = "MUST",
		quote = [[The bitmap is an array of u64s that holds the output bitmap,
with 1 bit reporting a *page_size* unit of IOVA.]],
		needs = { handshake = true, caps = { max_msg_fds = 8 } },
		run = function(t)
			need_logging(t)
			shared_memory(t)
			start(t)
			report(t, MEM_GPA, v[2], v[3])
		end,
	}
end

-- VU-LOG-05: argsz without room for the bitmap.
case {
	id = "vfio-user/dirty/report-argsz-short",
	spec = "vfio-user#vfio-user-device-feature/VU-LOG-05",
	level = "MUST",
	quote = [[For getting a feature's data, the data is added in the data
section and its length is added to ``argsz``.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_logging(t)
		shared_memory(t)
		start(t)
		t:expect_refusal(report_msg(MEM_GPA, MEM_PAGES * PAGE, PAGE,
		                            8 + 24))
	end,
}

-- VU-LOG-07: a page the device wrote by DMA is dirty (seeded bug
-- dirty-not-logged forgets it); one it only read is not.
case {
	id = "vfio-user/dirty/device-write-logged",
	spec = START .. "/VU-LOG-07",
	level = "MUST",
	quote = [[When DMA logging is started, a range of IOVAs to monitor is
provided and the device can optimize its logging to cover only the IOVA
range given. Only DMA writes are logged.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_logging(t)
		need_ref_device(t)
		shared_memory(t)
		start(t, PAGE, { { MEM_GPA, MEM_PAGES * PAGE } })
		device_copy(t, 0, 5)
		local w = report(t, MEM_GPA, MEM_PAGES * PAGE, PAGE)
		t:check(bit(w, 5), "page 5 (written by the device) dirty",
		        ("bitmap 0x%x"):format(w[1]))
	end,
}

case {
	id = "vfio-user/dirty/device-read-not-logged",
	spec = START .. "/VU-LOG-07",
	level = "MUST",
	quote = [[Only DMA writes are logged.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_logging(t)
		need_ref_device(t)
		shared_memory(t)
		start(t)
		device_copy(t, 2, 9)
		local w = report(t, MEM_GPA, MEM_PAGES * PAGE, PAGE)
		t:check(not bit(w, 2), "page 2 (only read) clean",
		        ("bitmap 0x%x"):format(w[1]))
	end,
}

-- VU-LOG-04 / VU-LOG-06: a report of pages 4-6 after writes to pages 5
-- and 7: bit 1 (page 5) set, nothing at or past bit 3 (page 7 is outside
-- the range).
case {
	id = "vfio-user/dirty/bits-outside-range-zero",
	spec = REPORT .. "/VU-LOG-04",
	level = "MUST",
	quote = [[The bits outside of the requested range must be zero.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_logging(t)
		need_ref_device(t)
		shared_memory(t)
		start(t)
		device_copy(t, 0, 5)
		device_copy(t, 0, 7)
		local w = report(t, MEM_GPA + 4 * PAGE, 3 * PAGE, PAGE)
		t:check(w[1] == 2, "bitmap 0x2 (page 5 only)",
		        ("0x%x"):format(w[1]))
	end,
}

-- A report page size above the logging one: "replicating bits", the
-- 8 KiB unit that holds a dirty 4 KiB page is dirty.
case {
	id = "vfio-user/dirty/report-larger-page-size",
	spec = REPORT .. "/VU-LOG-05",
	level = "MUST",
	quote = [[It doesn't have to match the value given to
``VFIO_DEVICE_FEATURE_DMA_LOGGING_START`` because the driver will format
its internal logging to match the reporting page size]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_logging(t)
		need_ref_device(t)
		shared_memory(t)
		start(t)
		device_copy(t, 0, 5)
		local w = report(t, MEM_GPA, MEM_PAGES * PAGE, 2 * PAGE)
		t:check(w[1] == 1 << 2, "bitmap 0x4 (8 KiB unit 2)",
		        ("0x%x"):format(w[1]))
	end,
}

-- A write that straddles two pages dirties both.
case {
	id = "vfio-user/dirty/write-straddling-pages",
	spec = START .. "/VU-LOG-07",
	level = "MUST",
	quote = [[Only DMA writes are logged.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_logging(t)
		need_ref_device(t)
		shared_memory(t)
		start(t)
		-- 64 bytes ending 32 bytes into page 11
		t:expect_success(vfio.msg("REGION_WRITE", {
			region = BAR0, offset = REG_DMA_SRC,
			data = string.pack("<I8I8I4I4", MEM_GPA,
			                   MEM_GPA + 11 * PAGE - 32, 64, 1) }))
		local w = report(t, MEM_GPA, MEM_PAGES * PAGE, PAGE)
		t:check(bit(w, 10) and bit(w, 11), "pages 10 and 11 dirty",
		        ("bitmap 0x%x"):format(w[1]))
	end,
}

-- ---- robustness ----------------------------------------------------------

local ROBUST_REPORTS = {
	{ "report-length-huge", MEM_GPA, 1 << 62, PAGE },
	{ "report-range-wraps", -PAGE, 2 * PAGE, PAGE },
	{ "report-length-zero", MEM_GPA, 0, PAGE },
	{ "report-page-size-huge", MEM_GPA, PAGE, 1 << 63 },
}
for _, v in ipairs(ROBUST_REPORTS) do
	case {
		id = "vfio-user/dirty/" .. v[1],
		spec = REPORT .. "/VU-DMA-UNMAP-07",
		level = "ROBUST",
		quote = [[* *iova* is the base IO virtual address
* *length* is the length of the range]],
		needs = { handshake = true, caps = { max_msg_fds = 8 } },
		run = function(t)
			need_logging(t)
			shared_memory(t)
			start(t)
			t:expect_robust(report_msg(v[2], v[3], v[4], 8 + 24 + 64))
		end,
	}
end

-- START whose data is cut short, or that names more ranges than it has.
for _, v in ipairs({
	{ "start-data-short", string.pack("<I8", PAGE) },
	{ "start-ranges-missing", string.pack("<I8I4I4I8I8", PAGE, 4, 0,
	                                      MEM_GPA, PAGE) },
	{ "start-ranges-huge", string.pack("<I8I4I4", PAGE, 0xffffffff, 0) },
	{ "start-range-wraps", string.pack("<I8I4I4i8I8", PAGE, 1, 0, -PAGE,
	                                   2 * PAGE) },
}) do
	case {
		id = "vfio-user/dirty/" .. v[1],
		spec = START .. "/VU-FEAT-06",
		level = "ROBUST",
		quote = [[* *num_ranges* is the number of IOVA ranges to monitor. A
value of zero indicates that all writes should be logged.]],
		needs = { handshake = true },
		run = function(t)
			need_logging(t)
			t:expect_robust(feature(SET | F_START, v[2]))
		end,
	}
end

-- START twice, STOP without START: the spec says nothing; no crash.
case {
	id = "vfio-user/dirty/start-twice",
	spec = START .. "/VU-LOG-01",
	level = "ROBUST",
	quote = [[Upon ``VFIO_DEVICE_FEATURE_SET``, start/stop DMA logging.]],
	needs = { handshake = true },
	run = function(t)
		need_logging(t)
		start(t)
		t:expect_robust(start_msg(PAGE))
	end,
}

case {
	id = "vfio-user/dirty/stop-without-start",
	spec = START .. "/VU-LOG-01",
	level = "ROBUST",
	quote = [[Upon ``VFIO_DEVICE_FEATURE_SET``, start/stop DMA logging.]],
	needs = { handshake = true },
	run = function(t)
		need_logging(t)
		t:expect_robust(feature(SET | F_STOP))
	end,
}

-- VU-LOG-08: logging over message-based memory (no fd): the server does
-- not touch that memory itself; reporting on it must not crash.
case {
	id = "vfio-user/dirty/message-memory",
	spec = START .. "/VU-LOG-08",
	level = "ROBUST",
	quote = [[* *num_ranges* is the number of IOVA ranges to monitor. A
value of zero indicates that all writes should be logged.]],
	needs = { handshake = true },
	run = function(t)
		need_logging(t)
		t:expect_success(vfio.msg("DMA_MAP", {
			flags = vfio.DMA_READ | vfio.DMA_WRITE, addr = MEM_GPA,
			size = MEM_PAGES * PAGE }))
		start(t)
		t:expect_robust(report_msg(MEM_GPA, MEM_PAGES * PAGE, PAGE))
	end,
}

-- VU-DMA-UNMAP-08: map / unmap cycles while logging: the server's fd
-- count does not grow.
case {
	id = "vfio-user/dirty/map-unmap-while-logging",
	spec = START .. "/VU-DMA-UNMAP-08",
	level = "ROBUST",
	quote = [[When DMA logging is started, a range of IOVAs to monitor is
provided]],
	needs = { handshake = true, caps = { max_msg_fds = 8 } },
	run = function(t)
		need_logging(t)
		if not t:has_process() then
			t:skip("needs the target process (its fd count)")
		end
		start(t)
		local before = t:fd_count()
		for _ = 1, 16 do
			local mem = gmem.new()
			assert(mem:add_region(MEM_GPA, PAGE))
			local reg = mem:regions()[1]
			t:expect_success(vfio.msg("DMA_MAP", {
				flags = vfio.DMA_READ | vfio.DMA_WRITE,
				offset = reg.mmap_offset, addr = MEM_GPA,
				size = PAGE, fd = reg.fd }))
			reg.fd:close()
			t:expect_success(vfio.msg("DMA_UNMAP", {
				addr = MEM_GPA, size = PAGE }))
		end
		local after = t:fd_count()
		t:check(after <= before, "the server's fd count back to " ..
		        before, after)
	end,
}

-- ---- de-facto: libvfio-user ----------------------------------------------

-- Linux VFIO and libvfio-user clear what a report returned ("read back
-- and clear"); the spec does not say.
case {
	id = "vfio-user/dirty/libvfio-user/report-clears",
	spec = REPORT .. "/VU-LOG-07",
	level = "SHOULD",
	quote = [[Upon ``VFIO_DEVICE_FEATURE_GET``, returns the dirty bitmap for
a specific IOVA range.]],
	needs = { handshake = true, caps = { max_msg_fds = 8 },
	          profile = "libvfio-user" },
	run = function(t)
		need_logging(t)
		need_ref_device(t)
		shared_memory(t)
		start(t)
		device_copy(t, 0, 3)
		report(t, MEM_GPA, MEM_PAGES * PAGE, PAGE)
		local w = report(t, MEM_GPA, MEM_PAGES * PAGE, PAGE)
		t:check(w[1] == 0, "a clean bitmap the second time",
		        ("0x%x"):format(w[1]))
	end,
}

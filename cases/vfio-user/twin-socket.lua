-- SPDX-License-Identifier: MIT
-- twin-socket.lua - twin-socket mode: offered only when asked for, with
-- a consistent fd_index; then the server's own commands (VFIO_USER_DMA_READ
-- / _WRITE) travel on the twin socket and never on the main one, cut to
-- the client's max_data_xfer_size, and survive odd replies.
--
-- Spec: vfio-user.rst "VFIO_USER_VERSION" (twin_socket), "Socket",
-- "VFIO_USER_DMA_READ", "VFIO_USER_DMA_WRITE".
-- The spec anchor of each case ends in the id of the assertion of
-- research/vfio-user-assertions.md it checks (anchor/VU-...).
--
-- The server's commands are started with the reference device's DMA
-- engine (BAR0 registers, reference-backend/vfio/device.h): those cases
-- SKIP on other devices. The twin socket is read and written here
-- directly (fd:read / fd:write); what passes on it is noted in the trace.

local VERSION = "vfio-user#vfio-user-version"
local SOCKET = "vfio-user#socket"

local BAR0, REG_ID, REG_DMA_SRC, REG_DMA_RESULT = 0, 0x00, 0x08, 0x20
local CMD_DMA_READ, CMD_DMA_WRITE = 11, 12
local F_REPLY, F_ERROR = 1, 0x20
local MEM_GPA, MEM_SIZE = 0x100000, 0x10000

-- VERSION with @caps: -> the reply (its fds too), the twin socket's
-- fd_index (nil when not offered).
local function negotiate(t, caps)
	local r = t:expect_success(vfio.msg("VERSION", { caps = caps }))
	t.version = { major = r.major, minor = r.minor, caps = r.caps }
	local idx
	if r.caps and r.caps.twin_socket then
		idx = tonumber((r.json or ""):match('"fd_index"%s*:%s*(%d+)'))
	end
	return r, idx
end

-- A twin socket or SKIP: -> a channel { fd, buf }.
local function need_twin(t, caps)
	caps = caps or {}
	caps.max_msg_fds = caps.max_msg_fds or 8
	caps.twin_socket = true
	local r, idx = negotiate(t, caps)
	if not idx then
		t:skip("the server does not offer twin-socket mode")
	end
	t:check(idx < #r.fds, "fd_index below the " .. #r.fds .. " fds sent",
	        idx)
	return { fd = r.fds[idx + 1], buf = "" }
end

-- One message from the twin socket within @ms: -> { msg_id, command,
-- msg_size, flags, error, payload } | nil, "timeout" / "eof".
local function twin_recv(t, ch, ms)
	local deadline = t:now_ms() + (ms or 1000)
	local function fill(n)
		while #ch.buf < n do
			local left = math.max(0, math.floor(deadline - t:now_ms()))
			local s, why = ch.fd:read(65536, left)
			if not s then
				return nil, why
			end
			ch.buf = ch.buf .. s
		end
		return true
	end
	local ok, why = fill(16)
	if not ok then
		return nil, why
	end
	local id, cmd, size, flags, err = string.unpack("<I2I2I4I4I4", ch.buf)
	if size < 16 or size > (1 << 24) then
		t:fail{ expected = "a message on the twin socket",
		        actual = "msg_size " .. size }
	end
	ok, why = fill(size)
	if not ok then
		return nil, why
	end
	local m = { msg_id = id, command = cmd, msg_size = size, flags = flags,
	            error = err, payload = ch.buf:sub(17, size) }
	ch.buf = ch.buf:sub(size + 1)
	t:note(("twin recv: command %d id %d size %d flags 0x%x"):format(
		cmd, id, size, flags))
	return m
end

local function twin_send(t, ch, id, cmd, flags, err, payload)
	local bytes = string.pack("<I2I2I4I4I4", id, cmd, 16 + #payload, flags,
	                          err) .. payload
	t:note(("twin send: command %d id %d size %d flags 0x%x"):format(
		cmd, id, #bytes, flags))
	local n = ch.fd:write(bytes)
	t:check(n == #bytes, "the reply written to the twin socket", n)
end

-- End the session: hang up and let a one-client server exit. The twin
-- socket is one more fd the server legitimately holds until then, and the
-- harness's fd-leak accounting samples the server's fds when the case
-- starts, which can be before vuc-ref-vfio has made its device (it
-- listens first): that sample plus the twin socket then reads as a leak.
local function finish(t)
	t:shutdown("both")
	if t:has_process() then
		t:wait_exit(100)
	end
end

-- Every case here ends its session with finish().
local function twin_case(decl)
	local body = decl.run
	decl.run = function(t)
		body(t)
		finish(t)
	end
	case(decl)
end

local function need_ref_device(t)
	local r = t:call(vfio.msg("REGION_READ",
	                          { region = BAR0, offset = REG_ID, count = 4 }))
	if not r or r.is_error or r.data ~= "VUC1" then
		t:skip("needs the reference device's DMA engine (BAR0 ID " ..
		       "\"VUC1\")")
	end
end

local function map_message_memory(t, flags)
	t:expect_success(vfio.msg("DMA_MAP", {
		flags = flags or vfio.DMA_READ | vfio.DMA_WRITE, addr = MEM_GPA,
		size = MEM_SIZE }))
end

local function pattern(n, seed)
	local p = {}
	for i = 0, n - 1 do
		p[#p + 1] = string.char((i * 31 + seed) & 0xff)
	end
	return table.concat(p)
end

local function dma_cmd(src, dst, len)
	return vfio.msg("REGION_WRITE", {
		region = BAR0, offset = REG_DMA_SRC,
		data = string.pack("<I8I8I4I4", src, dst, len, 1) })
end

-- Start a copy and serve the server's DMA commands on the twin socket
-- until the DMA_CMD write's reply comes on the main socket. Anything
-- else on the main socket fails the case. @opts: read_reply(m) -> flags,
-- error, payload for a DMA_READ; write_reply(m) -> the same for a
-- DMA_WRITE; extra = a message sent on the main socket after the first
-- DMA command arrived.
-- -> { reads, writes, replies } (replies: main-socket messages).
local function copy_on_twin(t, ch, block, src, dst, len, opts)
	opts = opts or {}
	local log = { reads = {}, writes = {}, replies = {} }
	local m = dma_cmd(src, dst, len)
	t:send(m)
	local want = { [m.msg_id] = true }
	local pending = 1
	local extra_sent = false
	for _ = 1, 512 do
		local d = twin_recv(t, ch, 20)
		if d then
			local addr, count = string.unpack("<I8I8", d.payload)
			if not extra_sent and opts.extra then
				extra_sent = true
				t:send(opts.extra)
				want[opts.extra.msg_id] = true
				pending = pending + 1
			end
			if d.command == CMD_DMA_READ then
				log.reads[#log.reads + 1] = { addr = addr,
				                              count = count }
				local f, e, p = F_REPLY, 0,
					string.pack("<I8I8", addr, count) ..
					block:sub(addr - MEM_GPA + 1,
					          addr - MEM_GPA + count)
				if opts.read_reply then
					f, e, p = opts.read_reply(d, p)
				end
				twin_send(t, ch, d.msg_id, CMD_DMA_READ, f, e, p)
			elseif d.command == CMD_DMA_WRITE then
				log.writes[#log.writes + 1] = {
					addr = addr, count = count,
					data = d.payload:sub(17) }
				local f, e, p = F_REPLY, 0,
					string.pack("<I8I8", addr, count)
				if opts.write_reply then
					f, e, p = opts.write_reply(d)
				end
				twin_send(t, ch, d.msg_id, CMD_DMA_WRITE, f, e, p)
			else
				t:fail{ expected = "DMA_READ or DMA_WRITE on the " ..
				        "twin socket", actual = "command " ..
				        d.command }
			end
		else
			local r, why = t:recv{ timeout = 10 }
			if r then
				t:check(r.reply and want[r.msg_id],
				        "only replies on the main socket", r.text)
				log.replies[#log.replies + 1] = r
				pending = pending - 1
				if pending == 0 then
					return log
				end
			elseif why ~= "timeout" then
				t:fail{ expected = "the DMA_CMD write's reply",
				        actual = why }
			end
		end
	end
	t:fail("the copy did not end")
end

-- ---- negotiation ---------------------------------------------------------

-- VU-VER-15: not asked for, not offered (and no fd comes).
for _, v in ipairs({ { "not-offered-unasked", { max_msg_fds = 8 } },
                     { "not-offered-when-unsupported",
                       { max_msg_fds = 8, twin_socket = false } } }) do
	twin_case {
		id = "vfio-user/twin/" .. v[1],
		spec = VERSION .. "/VU-VER-15",
		level = "MUST",
		quote = [[If and only if the client has indicated support for
twin-socket mode by setting ``twin_socket.supported`` to true in its
capabilities, the server may optionally set up a separate command channel
for server-to-client commands and their replies.]],
		run = function(t)
			local r, idx = negotiate(t, v[2])
			t:check(not idx and not (r.caps and r.caps.twin_socket),
			        "no twin socket offered", r.json)
			t:check(#r.fds == 0, "no fd with the reply", #r.fds)
		end,
	}
end

-- VU-VER-15: offered, then with supported true, a valid fd_index, and
-- the socket it names.
twin_case {
	id = "vfio-user/twin/offer-consistent",
	spec = VERSION .. "/VU-VER-15",
	level = "MUST",
	quote = [[If ``twin_socket.supported`` is true and ``twin_socket.fd_index``
is present and refers to a valid file descriptor, twin-socket mode
negotiation has succeeded.]],
	run = function(t)
		local r, idx = negotiate(t, { max_msg_fds = 8,
		                              twin_socket = true })
		if not (r.caps and r.caps.twin_socket) then
			t:check(#r.fds == 0, "no fd without twin-socket mode",
			        #r.fds)
			return
		end
		t:check(idx ~= nil, "twin_socket.fd_index in the reply", r.json)
		t:check(idx < #r.fds, "fd_index below the " .. #r.fds ..
		        " fds sent", idx)
		t:check(fdzoo.kind(r.fds[idx + 1]) == "socket",
		        "a socket at fd_index", fdzoo.describe(r.fds[idx + 1]))
	end,
}

-- VU-VER-13: a client that takes no fds cannot get the twin socket; an
-- offer without the fd would be inconsistent.
twin_case {
	id = "vfio-user/twin/not-offered-to-fdless-client",
	spec = VERSION .. "/VU-VER-13",
	level = "MUST",
	quote = [[Maximum number of file descriptors that can be received by
the sender in one message.]],
	run = function(t)
		local r = negotiate(t, { max_msg_fds = 0, twin_socket = true })
		t:check(#r.fds == 0, "no fd for max_msg_fds 0", #r.fds)
		t:check(not (r.caps and r.caps.twin_socket),
		        "no twin socket offered without its fd", r.json)
	end,
}

-- ---- the server's commands on the twin socket ----------------------------

-- VU-VER-16 / VU-SDMA-06: DMA_READ and DMA_WRITE come on the twin socket,
-- never on the main one, and the copy lands.
twin_case {
	id = "vfio-user/twin/dma-on-twin-socket",
	spec = "vfio-user#vfio-user-dma-read/VU-VER-16",
	level = "MUST",
	quote = [[This message and its reply are passed over the separate
server-to-client socket if twin-socket mode has been negotiated during
connection setup.]],
	run = function(t)
		local ch = need_twin(t)
		need_ref_device(t)
		map_message_memory(t)
		local block = pattern(MEM_SIZE, 3)
		local log = copy_on_twin(t, ch, block, MEM_GPA + 0x10,
		                         MEM_GPA + 0x8000, 2000)
		t:check(#log.reads >= 1 and #log.writes >= 1,
		        "DMA_READ and DMA_WRITE on the twin socket",
		        #log.reads .. " reads, " .. #log.writes .. " writes")
		local got = {}
		for _, w in ipairs(log.writes) do
			got[#got + 1] = w.data
		end
		t:check(table.concat(got) == block:sub(0x11, 0x10 + 2000),
		        "the source bytes written", "other bytes")
	end,
}

-- VU-SDMA-02: cut to the client's max_data_xfer_size on the twin too.
twin_case {
	id = "vfio-user/twin/dma-chunked",
	spec = "vfio-user#read-and-write-operations/VU-SDMA-02",
	level = "MUST",
	quote = [[The ``count`` field must not exceed the value of
``max_data_xfer_size`` of the peer, for both reads and writes.]],
	run = function(t)
		local ch = need_twin(t, { max_data_xfer_size = 4096 })
		need_ref_device(t)
		map_message_memory(t)
		local log = copy_on_twin(t, ch, pattern(MEM_SIZE, 4), MEM_GPA,
		                         MEM_GPA + 0x8000, 10000)
		local total = 0
		for _, list in ipairs({ log.reads, log.writes }) do
			for _, x in ipairs(list) do
				t:check(x.count <= 4096, "count <= 4096", x.count)
				total = total + x.count
			end
		end
		t:check(total == 20000, "every byte read and written once",
		        total)
	end,
}

-- VU-SDMA-05: the DMA_WRITE reply as the spec draws it (address, 4-byte
-- count: 12 bytes) is a good reply. SHOULD: libvfio-user wants a u64
-- count, QEMU sends the header alone; the spec's table is the only
-- common ground.
twin_case {
	id = "vfio-user/twin/dma-write-reply-spec-layout",
	spec = "vfio-user#vfio-user-dma-write/VU-SDMA-05",
	level = "SHOULD",
	quote = [[* *address* is the client DMA memory address being accessed.
* *count* is the size of the data transferred.]],
	run = function(t)
		local ch = need_twin(t)
		need_ref_device(t)
		map_message_memory(t)
		copy_on_twin(t, ch, pattern(MEM_SIZE, 5), MEM_GPA,
		             MEM_GPA + 0x4000, 64, {
			write_reply = function(d)
				local addr, count = string.unpack("<I8I8", d.payload)
				return F_REPLY, 0, string.pack("<I8I4", addr, count)
			end })
		local res = t:expect_success(vfio.msg("REGION_READ", {
			region = BAR0, offset = REG_DMA_RESULT, count = 4 })).data
		t:check(res == "\0\0\0\0", "DMA_RESULT 0: the write accepted",
		        ("%d"):format(string.unpack("<I4", res)))
	end,
}

-- VU-SDMA-05: QEMU answers DMA_WRITE with the header alone.
twin_case {
	id = "vfio-user/twin/dma-write-reply-header-only",
	spec = "vfio-user#vfio-user-dma-write/VU-SDMA-05",
	level = "ROBUST",
	quote = [[* *address* is the client DMA memory address being accessed.
* *count* is the size of the data transferred.]],
	run = function(t)
		local ch = need_twin(t)
		need_ref_device(t)
		map_message_memory(t)
		copy_on_twin(t, ch, pattern(MEM_SIZE, 6), MEM_GPA,
		             MEM_GPA + 0x4000, 64, {
			write_reply = function() return F_REPLY, 0, "" end })
		t:expect_alive()
	end,
}

-- VU-SDMA-07: a DMA_READ refused by the client (EFAULT, or an errno of
-- 0): the copy fails, nothing is written from data never read.
for _, v in ipairs({ { "dma-read-refused", 14 },
                     { "dma-read-refused-errno-zero", 0 } }) do
	twin_case {
		id = "vfio-user/twin/" .. v[1],
		spec = "vfio-user#security-considerations/VU-SDMA-07",
		level = "ROBUST",
		quote = [[Standard tools and mechanisms should be used on both sides
to validate input and prevent against denial of service scenarios, buffer
overflow, etc.]],
		run = function(t)
			local ch = need_twin(t)
			need_ref_device(t)
			map_message_memory(t)
			local log = copy_on_twin(t, ch, pattern(MEM_SIZE, 7),
			                         MEM_GPA, MEM_GPA + 0x4000, 64, {
				read_reply = function()
					return F_REPLY | F_ERROR, v[2], ""
				end })
			t:check(#log.writes == 0,
			        "no DMA_WRITE of data never read", #log.writes)
			t:expect_alive()
		end,
	}
end

-- A DMA_READ reply with fewer bytes than asked for.
twin_case {
	id = "vfio-user/twin/dma-read-reply-short",
	spec = "vfio-user#vfio-user-dma-read/VU-SDMA-03",
	level = "ROBUST",
	quote = [[* *count* is the size of the data transferred.
* *data* is the data read.]],
	run = function(t)
		local ch = need_twin(t)
		need_ref_device(t)
		map_message_memory(t)
		copy_on_twin(t, ch, pattern(MEM_SIZE, 8), MEM_GPA,
		             MEM_GPA + 0x4000, 64, {
			read_reply = function(_, p)
				return F_REPLY, 0, p:sub(1, 16 + 10)
			end })
		t:expect_alive()
	end,
}

-- VU-HDR-09 / VU-SDMA-08: a command on the main socket while the server
-- waits for a DMA reply is not lost and is answered in order, after the
-- command that started the DMA.
twin_case {
	id = "vfio-user/twin/main-command-during-dma",
	spec = SOCKET .. "/VU-SDMA-08",
	level = "MUST",
	quote = [[Note that it is still illegal for implementations to stall
command or reply processing indefinitely while waiting for replies on the
other channel, as this may lead to deadlocks.]],
	run = function(t)
		local ch = need_twin(t)
		need_ref_device(t)
		map_message_memory(t)
		local info = vfio.msg("DEVICE_GET_INFO")
		local log = copy_on_twin(t, ch, pattern(MEM_SIZE, 9), MEM_GPA,
		                         MEM_GPA + 0x4000, 64, { extra = info })
		t:check(#log.replies == 2 and
		        log.replies[2].msg_id == info.msg_id and
		        not log.replies[2].is_error,
		        "both replies, the GET_INFO's second",
		        #log.replies .. " replies")
	end,
}

-- VU-SDMA-09: the client closes the twin socket; the server must not
-- hang on it: the command that wanted DMA is answered (or the connection
-- closed), and the server lives.
twin_case {
	id = "vfio-user/twin/closed-by-client",
	spec = SOCKET .. "/VU-SDMA-09",
	level = "ROBUST",
	quote = [[Note that it is still illegal for implementations to stall
command or reply processing indefinitely while waiting for replies on the
other channel, as this may lead to deadlocks.]],
	run = function(t)
		local ch = need_twin(t)
		need_ref_device(t)
		map_message_memory(t)
		ch.fd:close()
		t:expect(dma_cmd(MEM_GPA, MEM_GPA + 0x4000, 64),
		         { "ack", "nack", "hangup" })
		t:expect_alive()
	end,
}

-- A command sent the wrong way: on the twin socket, which carries the
-- server's commands and the client's replies.
twin_case {
	id = "vfio-user/twin/client-command-on-twin",
	spec = SOCKET .. "/VU-HDR-13",
	level = "ROBUST",
	quote = [[Commands sent in the other direction from the server to the
client as well as their corresponding replies can optionally be passed
across a separate socket]],
	run = function(t)
		local ch = need_twin(t)
		ch.fd:write(string.pack("<I2I2I4I4I4I4I4I4I4", 77, 4, 32, 0, 0,
		                        16, 0, 0, 0))
		t:sleep(20)
		t:expect_robust(vfio.msg("DEVICE_GET_INFO"))
	end,
}

-- A reply with the wrong msg_id before the right one: dropped, not taken
-- for the answer.
twin_case {
	id = "vfio-user/twin/dma-reply-wrong-id-first",
	spec = "vfio-user#header/VU-HDR-01",
	level = "ROBUST",
	quote = [[*Message ID* identifies the message, and is echoed in the
command's reply message.]],
	run = function(t)
		local ch = need_twin(t)
		need_ref_device(t)
		map_message_memory(t)
		local block = pattern(MEM_SIZE, 10)
		local log = copy_on_twin(t, ch, block, MEM_GPA, MEM_GPA + 0x4000,
		                         32, {
			read_reply = function(d, p)
				twin_send(t, ch, (d.msg_id + 1) & 0xffff,
				          CMD_DMA_READ, F_REPLY, 0,
				          string.pack("<I8I8", 0, 32) ..
				          string.rep("\xff", 32))
				return F_REPLY, 0, p
			end })
		for _, w in ipairs(log.writes) do
			t:check(w.data == block:sub(1, 32),
			        "the data of the right reply", "the decoy's")
		end
		t:expect_alive()
	end,
}

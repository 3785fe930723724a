-- SPDX-License-Identifier: MIT
-- header.lua - the vfio-user message header and how messages travel:
-- message ids, the Type / No_reply / Error bits, the command field,
-- msg_size, pipelining, and messages split over several writes or packed
-- into one.
--
-- Spec: vfio-user.rst "Header", "Command Concurrency", "Commands";
-- checklist ids VU-HDR-* (research/vfio-user-assertions.md).

local HDR = "vfio-user#header"
local CONC = "vfio-user#command-concurrency"
local CMDS = "vfio-user#commands"

local CAPS = { max_msg_fds = 8 }

-- A command that always succeeds and has a fixed reply.
local function get_info(fields)
	local m = vfio.msg("DEVICE_GET_INFO", { argsz = 16 })
	for k, v in pairs(fields or {}) do
		m[k] = v
	end
	return m
end

-- A command that always fails: no region has this index.
local function bad_region_info()
	return vfio.msg("DEVICE_GET_REGION_INFO", { argsz = 32,
	                                            index = 0xfffffff0 })
end

-- Take replies until @n came or @ms passed; returns them in order.
local function take(t, n, ms)
	local got = {}
	local until_ms = t:now_ms() + (ms or t.timeout_ms)
	while #got < n do
		local left = math.floor(until_ms - t:now_ms())
		if left <= 0 then
			break
		end
		local m, why = t:recv{ timeout = left }
		if not m then
			got.why = why
			break
		end
		got[#got + 1] = m
	end
	return got
end

-- ---- message ids ---------------------------------------------------------

-- "Message ID identifies the message, and is echoed in the command's
-- reply message." Any 16-bit value, the extremes included.
for _, id in ipairs({ 0, 0x7fff, 0xffff }) do
	case {
		id = ("vfio-user/header/msg-id-echoed-0x%x"):format(id),
		spec = HDR .. "/VU-HDR-01",
		level = "MUST",
		quote = [[* *Message ID* identifies the message, and is echoed in
the command's reply message.]],
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			local r = t:expect_success(get_info{ msg_id = id })
			t:check(r.msg_id == id, ("msg_id 0x%x"):format(id),
			        ("0x%x"):format(r.msg_id))
		end,
	}
end

-- The id of a failed command is echoed too, and so is the command.
case {
	id = "vfio-user/header/error-reply-echoes",
	spec = HDR .. "/VU-HDR-02",
	level = "MUST",
	quote = [[* *Command* specifies the command to be executed, listed in
Commands_. It is also set in the reply header.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local m = bad_region_info()
		m.msg_id = 0xabcd
		local r = t:expect_error(m)
		t:check(r.msg_id == 0xabcd and r.command == m.command,
		        "msg_id 0xabcd, command " .. m.name,
		        ("msg_id 0x%x, command %d"):format(r.msg_id, r.command))
	end,
}

-- "Message IDs belong entirely to the sender, can be re-used (even
-- concurrently)": the same id twice in flight gets two replies.
case {
	id = "vfio-user/header/msg-id-reused-concurrently",
	spec = HDR .. "/VU-HDR-08",
	level = "MUST",
	quote = [[Message IDs belong entirely to the sender, can be re-used
(even concurrently) and the receiver must not make any assumptions about their
uniqueness.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local a = get_info{ msg_id = 7 }
		local b = vfio.msg("DEVICE_GET_IRQ_INFO", { argsz = 16, index = 0,
		                                            msg_id = 7 })
		t:send_many{ a, b }
		local got = take(t, 2)
		t:check(#got == 2, "two replies with msg_id 7",
		        #got .. " replies" .. (got.why and (", then " ..
		        got.why) or ""))
		t:check(got[1].command == a.command and
		        got[2].command == b.command and got[1].msg_id == 7 and
		        got[2].msg_id == 7, "GET_INFO then GET_IRQ_INFO, both id 7",
		        got[1].text .. " / " .. got[2].text)
	end,
}

-- ---- the Type bits --------------------------------------------------------

-- Error replies are replies: Type 1, and "the reply message must only
-- include the reply header".
case {
	id = "vfio-user/header/error-reply-type",
	spec = HDR .. "/VU-HDR-03",
	level = "MUST",
	quote = [[*  *Reply* (value 0x1) indicates a reply message acknowledging
a previous command with the same message ID.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local m = bad_region_info()
		t:send(m)
		local r, why = t:recv{}
		if not r then
			t:fail{ expected = "an error reply", actual = why }
		end
		t:check(r.flags & 0xf == vfio.REPLY, "Type 1 (reply)",
		        ("Type %d"):format(r.flags & 0xf))
		t:check(r.flags & vfio.ERROR ~= 0, "the Error bit", r.text)
	end,
}

case {
	id = "vfio-user/header/error-reply-header-only",
	spec = HDR .. "/VU-HDR-05",
	level = "MUST",
	quote = [[If an error occurs, the reply message must only include the
reply header.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		for _, m in ipairs({
			bad_region_info(),
			vfio.msg("DMA_UNMAP", { addr = 0x7000000, size = 4096 }),
			vfio.msg("REGION_READ", { region = 0xfff0, count = 4 }),
		}) do
			t:send(m)
			local r, why = t:recv{}
			if not r then
				t:fail{ expected = "an error reply", actual = why }
			end
			t:check(r.is_error, "an error reply to " .. m.name, r.text)
			t:check(r.msg_size == 16 and #r.payload == 0,
			        "msg_size 16, no payload", r.msg_size)
		end
	end,
}

-- A Type other than command from the client: a reply to nothing, or a
-- type nobody defined. The spec says nothing of how to react; not
-- executing it, and going on, is what a server can do.
for _, ty in ipairs({ 1, 2, 15 }) do
	case {
		id = "vfio-user/header/client-sends-type-" ..
		     ({ [1] = "reply", [2] = "two", [15] = "fifteen" })[ty],
		spec = HDR .. "/VU-HDR-13",
		level = "ROBUST",
		quote = [[*  *Command* (value 0x0) indicates a command message.
*  *Reply* (value 0x1) indicates a reply message acknowledging a previous
   command with the same message ID.]],
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			local m = vfio.msg("DEVICE_RESET")
			m.flags = ty
			local _, kind = t:expect_robust(m, { silence_ok = true,
			                                     timeout = 200 })
			if kind ~= "hangup" then
				t:expect_success(get_info())
			end
		end,
	}
end

-- ---- No_reply ------------------------------------------------------------

-- "No_reply in a command message indicates that no reply is needed": a
-- No_reply command gets nothing; the next command its own reply.
case {
	id = "vfio-user/header/no-reply-honoured",
	spec = HDR .. "/VU-HDR-07",
	level = "MUST",
	quote = [[Each command message in Commands_ must be replied to with a
reply message, unless the message sets the *No_Reply* bit.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local quiet = get_info{ flags = vfio.NO_REPLY }
		local loud = get_info()
		t:send_many{ quiet, loud }
		local r, why = t:recv{}
		if not r then
			t:fail{ expected = "the reply to the second command",
			        actual = why }
		end
		t:check(r.msg_id == loud.msg_id,
		        "only the reply to msg_id " .. loud.msg_id,
		        "a reply to msg_id " .. r.msg_id)
		local extra = t:recv{ timeout = 100 }
		t:check(not extra, "nothing more", extra and extra.text)
	end,
}

-- A No_reply command that fails gets no error reply either.
case {
	id = "vfio-user/header/no-reply-failing",
	spec = HDR .. "/VU-HDR-07",
	level = "MUST",
	quote = [[Each command message in Commands_ must be replied to with a
reply message, unless the message sets the *No_Reply* bit.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local m = bad_region_info()
		m.flags = vfio.NO_REPLY
		t:expect_no_reply(m, { timeout = 150 })
		t:expect_success(get_info())
	end,
}

-- "if a client issues a command with the No_reply bit, then subsequently
-- issues a command without No_reply, the older command will have been
-- processed before the reply to the younger command is sent": a posted
-- REGION_WRITE to config space (Interrupt Line, 0x3c, a read/write
-- scratch byte on every PCI function; a device that ignores it SKIPs).
case {
	id = "vfio-user/header/no-reply-processed-first",
	spec = CONC .. "/VU-RW-11",
	level = "MUST",
	quote = [[the older command will
have been processed before the reply to the younger command is sent by the
server.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local CFG = 7 -- VFIO_PCI_CONFIG_REGION_INDEX
		local function read()
			local r = t:expect_success(vfio.msg("REGION_READ", {
				region = CFG, offset = 0x3c, count = 1 }))
			return r.data
		end
		local old = read()
		local new = old == "\x0b" and "\x0a" or "\x0b"
		local w = vfio.msg("REGION_WRITE", { region = CFG, offset = 0x3c,
		                                     data = new })
		w.flags = vfio.NO_REPLY
		local rd = vfio.msg("REGION_READ", { region = CFG, offset = 0x3c,
		                                     count = 1 })
		t:send_many{ w, rd }
		local r, why = t:recv{}
		if not r or r.msg_id ~= rd.msg_id then
			t:fail{ expected = "the REGION_READ reply",
			        actual = r and r.text or why }
		end
		if r.data == old then
			-- not writable here: ask once more with a reply
			t:expect_success(vfio.msg("REGION_WRITE", {
				region = CFG, offset = 0x3c, data = new }))
			if read() == old then
				t:skip("Interrupt Line is read-only on this " ..
				       "device")
			end
		end
		t:check(r.data == new, "the posted write seen by the read",
		        "the old value")
	end,
}

-- "It is reserved in a command message": the Error bit and field of a
-- command mean nothing; the command runs as usual.
case {
	id = "vfio-user/header/error-bit-in-command",
	spec = HDR .. "/VU-HDR-10",
	level = "SHOULD",
	quote = [[* *Error* in a reply message is an optional UNIX errno value.
It may be zero even if the Error bit is set in Flags. It is reserved in a
command message.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		t:expect_success(get_info{ flags = vfio.ERROR, error = 22 })
		t:expect_success(get_info{ error = 0xffffffff })
	end,
}

-- ---- pipelining ------------------------------------------------------------

-- "The server will process commands in the order they are received":
-- sixteen pipelined commands, mixed successes and failures, answered in
-- order. Sent in one write (several messages in one segment).
case {
	id = "vfio-user/header/pipelined-in-order",
	spec = CONC .. "/VU-HDR-09",
	level = "MUST",
	quote = [[A client may pipeline multiple commands without waiting for
previous command replies.  The server will process commands in the order they
are received.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local ms = {}
		for i = 1, 16 do
			ms[i] = i % 3 == 0 and bad_region_info() or get_info()
			ms[i].msg_id = 100 + i
		end
		t:send_many(ms)
		local got = take(t, 16, 2 * t.timeout_ms)
		t:check(#got == 16, "16 replies", #got .. (got.why and
		        (" replies, then " .. got.why) or " replies"))
		for i = 1, 16 do
			t:check(got[i].msg_id == 100 + i and
			        got[i].is_error == (i % 3 == 0),
			        ("reply %d: msg_id %d, %s"):format(i, 100 + i,
			         i % 3 == 0 and "an error" or "a success"),
			        got[i].text)
		end
	end,
}

-- ---- the command field ------------------------------------------------------

-- Command codes outside the table: 0, the removed 14, the first unused
-- (19) and the largest. An error reply (or a hang-up); never silence,
-- since the client would wait for ever.
for _, code in ipairs({ 0, 14, 19, 0xffff }) do
	case {
		id = ("vfio-user/header/unknown-command-%d"):format(code),
		spec = CMDS .. "/VU-HDR-14",
		level = "MUST",
		quote = [[Each command message in Commands_ must be replied to with
a reply message, unless the message sets the *No_Reply* bit.]],
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			local _, kind = t:expect_refusal(vfio.raw{
				command = code, payload = string.rep("\0", 8) })
			if kind ~= "hangup" then
				t:expect_success(get_info())
			end
		end,
	}
end

-- DMA_READ / DMA_WRITE go server -> client only.
for _, name in ipairs({ "DMA_READ", "DMA_WRITE" }) do
	case {
		id = "vfio-user/header/client-sends-" .. name:lower():gsub("_", "-"),
		spec = CMDS .. "/VU-HDR-15",
		level = "MUST",
		quote = [[``VFIO_USER_DMA_READ``                   11         server -> client
``VFIO_USER_DMA_WRITE``                  12         server -> client]],
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			local p = string.pack("=I8I8", 0x100000, 4)
			if name == "DMA_WRITE" then
				p = p .. "abcd"
			end
			local _, kind = t:expect_refusal(vfio.raw{
				command = name, payload = p })
			if kind ~= "hangup" then
				t:expect_success(get_info())
			end
		end,
	}
end

-- ---- msg_size and the stream -----------------------------------------------

-- "Message size contains the size of the entire message, including the
-- header": below 16 it cannot be; the server must not read or wait on
-- such a message as if it were one.
for _, size in ipairs({ 0, 8, 15 }) do
	case {
		id = ("vfio-user/header/msg-size-%d"):format(size),
		spec = HDR .. "/VU-HDR-11",
		level = "ROBUST",
		quote = [[* *Message size* contains the size of the entire message,
including the header.]],
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			t:expect_robust(vfio.raw{ command = "DEVICE_GET_INFO",
			                          msg_size = size, payload = "" })
		end,
	}
end

-- A message larger than the server takes: refused, and its body never
-- read as headers. The body here holds a whole DEVICE_GET_INFO (id
-- 0x4242): a server that answers it has lost the framing.
case {
	id = "vfio-user/header/oversize-body-not-parsed",
	spec = "vfio-user#message-sizes/VU-HDR-12",
	level = "ROBUST",
	quote = [[Standard tools and mechanisms should be used on both sides to
validate input and prevent against denial of service scenarios, buffer
overflow, etc.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local hidden = get_info{ msg_id = 0x4242 }
		local m = vfio.raw{ command = "REGION_WRITE", msg_id = 0x4141,
		                    msg_size = 0x7fff0000,
		                    payload = vfio.bytes(hidden) }
		t:send(m)
		local until_ms = t:now_ms() + 300
		while t:now_ms() < until_ms do
			local r = t:recv{ timeout = 100 }
			if not r then
				break
			end
			if r.msg_id == 0x4242 then
				t:fail{ expected = "the body of the oversized " ..
				                   "message not parsed",
				        actual = "the command hidden in it was " ..
				                 "answered: " .. r.text }
			end
		end
		t:expect_alive()
	end,
}

-- SOCK_STREAM has no message boundaries: a message in pieces, with pauses
-- between them, is one message.
local splits = {
	{ "split-in-header", { 5 } },
	{ "split-after-header", "hdr" },
	{ "split-in-payload", { 16, 20 } },
	{ "split-every-few-bytes", { 1, 2, 3, 7, 11, 15, 16, 17, 23, 29 } },
}
for _, s in ipairs(splits) do
	case {
		id = "vfio-user/header/" .. s[1],
		spec = HDR .. "/VU-HDR-17",
		level = "MUST",
		quote = [[All messages, both command messages and reply messages,
are preceded by a 16-byte header that contains basic information about the
message.]],
		needs = { handshake = true, caps = CAPS },
		run = function(t)
			t:expect_success(get_info(), { split = s[2],
			                               delay_ms = 20 })
			t:expect_success(get_info())
		end,
	}
end

-- The same with fds: they ride on the first byte (as sendmsg() with the
-- header), the body comes later.
case {
	id = "vfio-user/header/split-dma-map-with-fd",
	spec = HDR .. "/VU-HDR-17",
	level = "MUST",
	quote = [[All messages, both command messages and reply messages, are
preceded by a 16-byte header that contains basic information about the
message.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		local f = fdzoo.new("memfd", 4096)
		local m = vfio.msg("DMA_MAP", {
			flags = vfio.DMA_READ | vfio.DMA_WRITE,
			addr = 0x100000, size = 4096, fd = f })
		t:expect_success(m, { split = "hdr", fds_on = "hdr",
		                      delay_ms = 30 })
		t:expect_success(vfio.msg("DMA_UNMAP", { addr = 0x100000,
		                                         size = 4096 }))
	end,
}

-- msg_size larger than what follows before the next header: the server
-- takes the next message as this one's body (it cannot know better); it
-- must then neither crash nor hang for ever.
case {
	id = "vfio-user/header/msg-size-swallows-next",
	spec = HDR .. "/VU-HDR-16",
	level = "ROBUST",
	quote = [[* *Message size* contains the size of the entire message,
including the header.]],
	needs = { handshake = true, caps = CAPS },
	run = function(t)
		-- its own 16 payload bytes and the next message's 32
		local a = vfio.raw{ command = "DEVICE_GET_INFO",
		                    msg_size = 16 + 16 + 32,
		                    payload = string.pack("=I4I4I4I4", 16, 0,
		                                          0, 0) }
		t:send_many{ a, get_info() }
		local r = t:recv{}
		if r then
			t:check(r.msg_id == a.msg_id,
			        "a reply to the first message only",
			        r.text)
		end
		t:expect_alive()
	end,
}

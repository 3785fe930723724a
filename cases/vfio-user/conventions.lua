-- SPDX-License-Identifier: MIT
-- conventions.lua - the "Backend Program Conventions" as far as a client
-- can see them: the program serves in the process that was started (no
-- daemonizing) and honours SIGTERM in every state a session can be in
-- (before VERSION, with DMA regions and IRQ fds held, while waiting for
-- the client's answer to its own DMA_READ).
--
-- --socket-path=PATH and --fd=FDNUM are how the runner starts a target
-- (a target description's launch line); that the session here exists at
-- all is the check of the first. The JSON file under /usr/share/vfio-user
-- is a packaging matter outside a client's view.
--
-- Spec: vfio-user.rst "Backend Program Conventions"; checklist ids
-- VU-BPC-01..04.

local SPEC = "vfio-user#backend-program-conventions"

-- Each case signals its own process: never with --connect.
local NEEDS = { fresh_process = true }

-- SIGTERM, then the process must end within @ms: "exit N", or the
-- default action's "signal TERM"; a crash on the way out or a process
-- still running is not honouring it.
local function term_and_wait(t, ms)
	if not t:has_process() then
		t:skip("needs a target process of our own")
	end
	local ok, why = t:signal("TERM")
	if not ok then
		t:fail{ expected = "the target running until SIGTERM",
		        actual = why }
	end
	local how = t:wait_exit(ms or 2000)
	if not how then
		t:fail{ expected = "the target ended within " .. (ms or 2000) ..
		                   " ms of SIGTERM",
		        actual = "still running" }
	end
	t:check(how:match("^exit %d+$") or how == "signal TERM",
	        "an exit, or death by SIGTERM itself", how)
end

-- "The backend program must not daemonize itself": the process the
-- runner started is the one that answers.
case {
	id = "vfio-user/conventions/no-daemonize",
	spec = SPEC .. "/VU-BPC-04",
	level = "MUST",
	quote = [[* The backend program must not daemonize itself.]],
	needs = NEEDS,
	run = function(t)
		if not t:has_process() then
			t:skip("needs a target process of our own")
		end
		vfio.version(t, { max_msg_fds = 8 })
		t:sleep(50)
		local alive, how = t:alive()
		t:check(alive, "the started process still running (serving)",
		        how)
		t:expect_success(vfio.msg("DEVICE_GET_INFO", { argsz = 16 }))
	end,
}

case {
	id = "vfio-user/conventions/sigterm-before-version",
	spec = SPEC .. "/VU-BPC-03",
	level = "MUST",
	quote = [[* The backend program must honor the SIGTERM signal.]],
	needs = NEEDS,
	run = function(t)
		term_and_wait(t)
	end,
}

case {
	id = "vfio-user/conventions/sigterm-in-session",
	spec = SPEC .. "/VU-BPC-03",
	level = "MUST",
	quote = [[* The backend program must honor the SIGTERM signal.]],
	needs = NEEDS,
	run = function(t)
		vfio.version(t, { max_msg_fds = 8 })
		local gm = gmem.new()
		gm:add_region(0x100000, 0x10000)
		local reg = gm:regions()[1]
		t:expect_success(vfio.msg("DMA_MAP", {
			flags = vfio.DMA_READ | vfio.DMA_WRITE, addr = 0x100000,
			size = 0x10000, offset = reg.mmap_offset, fd = reg.fd }))
		t:expect_success(vfio.msg("DMA_MAP", {
			flags = vfio.DMA_READ, addr = 0x200000, size = 0x1000 }))
		-- an INTx eventfd, where the device has one (else never mind)
		local efd = fdzoo.new("eventfd")
		t:react(vfio.msg("SET_IRQS", { flags = 4 | 32, index = 0,
		                               start = 0, count = 1,
		                               fds = { efd } }))
		term_and_wait(t)
	end,
}

-- A message half sent: the server sits in the middle of reading it.
case {
	id = "vfio-user/conventions/sigterm-mid-message",
	spec = SPEC .. "/VU-BPC-03",
	level = "MUST",
	quote = [[* The backend program must honor the SIGTERM signal.]],
	needs = NEEDS,
	run = function(t)
		vfio.version(t, { max_msg_fds = 8 })
		local m = vfio.msg("DEVICE_GET_INFO", { argsz = 16 })
		local bytes = vfio.bytes(m)
		t:send_bytes(bytes:sub(1, 20))
		t:sleep(30)
		term_and_wait(t)
	end,
}

-- vuc-ref-vfio's copy engine asks us for data (DMA_READ) and waits;
-- SIGTERM must end it there too.
case {
	id = "vfio-user/conventions/sigterm-awaiting-dma-reply",
	spec = SPEC .. "/VU-BPC-03",
	level = "MUST",
	quote = [[* The backend program must honor the SIGTERM signal.]],
	needs = NEEDS,
	run = function(t)
		vfio.version(t, { max_msg_fds = 8 })
		local r, kind = t:call(vfio.msg("REGION_READ", { region = 0,
		                                                 count = 4 }))
		if not r or kind ~= "ack" or
		   string.unpack("=I4", r.data) ~= 0x31435556 then
			t:skip("no VUC1 copy engine at BAR0")
		end
		local RW = vfio.DMA_READ | vfio.DMA_WRITE
		t:expect_success(vfio.msg("DMA_MAP", { flags = RW,
		                                       addr = 0x100000,
		                                       size = 0x1000 }))
		local function reg(off, bytes)
			t:expect_success(vfio.msg("REGION_WRITE", {
				region = 0, offset = off, data = bytes }))
		end
		reg(0x08, string.pack("=I8", 0x100000))
		reg(0x10, string.pack("=I8", 0x100800))
		reg(0x18, string.pack("=I4", 64))
		t:send(vfio.msg("REGION_WRITE", { region = 0, offset = 0x1c,
		                                  data = string.pack("=I4", 1) }))
		local req = t:recv{}
		t:check(req and req.command == vfio.code("DMA_READ"),
		        "the server's DMA_READ", req and req.text)
		-- not answered: the server waits for us
		term_and_wait(t)
	end,
}

-- SPDX-License-Identifier: MIT
-- conventions.lua - "Backend program conventions": how a vhost-user
-- back-end program behaves as a program (signals, options, exit status),
-- independent of any session.
--
-- Spec: vhost-user.rst, "Backend program conventions".
--
-- The section is a recommendation ("a good idea to follow the conventions
-- listed here when possible"), so its option cases are SHOULD. They only
-- make sense for a program that follows it: the cases that run the program
-- again (t:run_program) SKIP unless the target was launched with the
-- convention's own --socket-path= or --fd= option (qemu-storage-daemon
-- and DPDK's testpmd are not such programs). Signal and daemonizing cases
-- apply to any launched back-end.

local ANCHOR = "vhost-user#backend-program-conventions"

-- The running target's program, if it follows the conventions.
local function convention_program(t)
	if not t:has_process() then
		t:skip("no target process (--connect / --listen)")
	end
	local p, why = t:program()
	if not p then
		t:skip("cannot see the target's program: " .. tostring(why))
	end
	for _, a in ipairs(p.argv) do
		if a:match("^%-%-socket%-path=") or a:match("^%-%-fd=") then
			return p
		end
	end
	t:skip("the target is not launched with --socket-path= or --fd=: " ..
	       "not a program that follows the conventions")
end

-- The target's own options (device, ...) without its socket, then @extra.
local function own_options(p, extra)
	local args = {}
	for i = 2, #p.argv do
		local a = p.argv[i]
		if not a:match("^%-%-socket%-path=") and not a:match("^%-%-fd=") then
			args[#args + 1] = a
		end
	end
	for _, a in ipairs(extra) do
		args[#args + 1] = a
	end
	return args
end

-- Parse the JSON object --print-capabilities prints, far enough to find
-- "type" (a string) and "features" (an array of strings, optional).
local function caps_type(s)
	local obj = s:match("^%s*(%b{})%s*$")
	if not obj then
		return nil, "not one JSON object"
	end
	local ty = obj:match('"type"%s*:%s*"([^"]*)"')
	if not ty then
		return nil, "no \"type\" string member"
	end
	local feats = obj:match('"features"%s*:%s*(%b[])')
	if obj:match('"features"') and not feats then
		return nil, "\"features\" is not an array"
	end
	return ty
end

-- "The back-end program must end (as quickly and cleanly as possible)
-- when the SIGTERM signal is received." Before any request: a back-end
-- waiting for its first message.
case {
	id = "vhost-user/conventions/sigterm-ends-idle",
	spec = ANCHOR,
	level = "MUST",
	quote = [[The back-end program must end (as quickly and cleanly as
possible) when the SIGTERM signal is received.]],
	needs = { fresh_process = true },
	run = function(t)
		if not t:has_process() then
			t:skip("no target process")
		end
		t:signal("TERM")
		-- "Eventually, it may receive SIGKILL by the management layer
		-- after a few seconds": 3 s is the bound here.
		local how, _ = t:wait_exit(3000)
		t:check(how ~= nil, "the program ended within 3 s of SIGTERM",
		        "still running")
	end,
}

-- The same in the middle of a session (protocol features negotiated,
-- owner set): a back-end busy with a front-end must end as well.
case {
	id = "vhost-user/conventions/sigterm-ends-in-session",
	spec = ANCHOR,
	level = "MUST",
	quote = [[The back-end program must end (as quickly and cleanly as
possible) when the SIGTERM signal is received.]],
	needs = { fresh_process = true, handshake = true },
	run = function(t)
		if not t:has_process() then
			t:skip("no target process")
		end
		t:signal("TERM")
		local how = t:wait_exit(3000)
		t:check(how ~= nil, "the program ended within 3 s of SIGTERM",
		        "still running")
	end,
}

-- "Cleanly": ending by its own exit, not by the default action of the
-- signal, is what lets a back-end remove its socket and flush its state.
-- A SHOULD: the spec asks for "as cleanly as possible", not an exit code.
case {
	id = "vhost-user/conventions/sigterm-exits-cleanly",
	spec = ANCHOR,
	level = "SHOULD",
	quote = [[The back-end program must end (as quickly and cleanly as
possible) when the SIGTERM signal is received.]],
	needs = { fresh_process = true, handshake = true },
	run = function(t)
		if not t:has_process() then
			t:skip("no target process")
		end
		t:signal("TERM")
		local how = t:wait_exit(3000)
		if not how then
			t:fail{ expected = "an exit within 3 s of SIGTERM",
			        actual = "still running" }
		end
		t:check(how:match("^exit %d+$") ~= nil,
		        "an exit of its own (handling SIGTERM)", how)
	end,
}

-- "The back-end program must not daemonize itself": the process the
-- management layer started is the one that serves. A daemonizing program
-- forks and its first process exits (status 0) while the child serves.
case {
	id = "vhost-user/conventions/no-daemonize",
	spec = ANCHOR,
	level = "MUST",
	quote = [[The back-end program must not daemonize itself, but it may be
daemonized by the management layer.]],
	needs = { fresh_process = true },
	run = function(t)
		if not t:has_process() then
			t:skip("no target process")
		end
		t:expect_reply(vhost.msg("GET_FEATURES"))
		local alive, how = t:alive()
		t:check(alive, "the launched process itself serving",
		        "it is gone (" .. tostring(how) .. ") while a front-end " ..
		        "is connected")
	end,
}

-- "--print-capabilities: Output to stdout the back-end capabilities in
-- JSON format, and then exit successfully."
case {
	id = "vhost-user/conventions/print-capabilities",
	spec = ANCHOR,
	level = "SHOULD",
	quote = [[Output to stdout the back-end capabilities in JSON format, and
then exit successfully.]],
	needs = { fresh_process = true },
	run = function(t)
		-- with the target's own options: capabilities may depend on them
		local p = convention_program(t)
		local r = t:run_program(own_options(p, { "--print-capabilities" }))
		t:check(r.status == "exit 0", "exit 0", r.status)
		local ty, why = caps_type(r.stdout)
		t:check(ty ~= nil, "a JSON object with a \"type\" string on stdout",
		        (why or "") .. ": " .. r.stdout:sub(1, 200))
		if t.device and t.device ~= "generic" then
			t:check(ty == t.device, "type \"" .. t.device .. "\"",
			        "type \"" .. ty .. "\"")
		end
	end,
}

-- "Other options and arguments should be ignored, and the back-end
-- program should not perform its normal function": with a socket path and
-- an unknown option beside it, it still prints and exits 0, and creates
-- no socket.
case {
	id = "vhost-user/conventions/print-capabilities-ignores-options",
	spec = ANCHOR,
	level = "SHOULD",
	quote = [[Other options and arguments should be ignored, and the
back-end program should not perform its normal function.]],
	needs = { fresh_process = true },
	run = function(t)
		convention_program(t)
		local r = t:run_program({ "--socket-path={dir}/caps.sock",
		                          "--print-capabilities",
		                          "--vu-conform-no-such-option" })
		t:check(r.status == "exit 0", "exit 0", r.status)
		local ty, why = caps_type(r.stdout)
		t:check(ty ~= nil, "a JSON object with a \"type\" string on stdout",
		        (why or "") .. ": " .. r.stdout:sub(1, 200))
		local f = io.open(t:socket_path():match("^(.*)/[^/]*$") ..
		                  "/caps.sock")
		if f then
			f:close()
		end
		t:check(f == nil, "no socket created (no normal function)",
		        "caps.sock exists")
	end,
}

-- "If ... the initialization failed, the back-end should fail to start
-- early and exit with a status != 0": an option it does not know is such
-- a failure. Serving anyway (the run is cut after 3 s) or exiting 0 fails.
case {
	id = "vhost-user/conventions/bad-option-fails-early",
	spec = ANCHOR,
	level = "SHOULD",
	quote = [[If the back-end is not capable of enabling a requested feature
on the host (such as 3D acceleration with virgl), or the initialization
failed, the back-end should fail to start early and exit with a status != 0.]],
	needs = { fresh_process = true },
	run = function(t)
		convention_program(t)
		local r = t:run_program({ "--socket-path={dir}/bad.sock",
		                          "--vu-conform-no-such-option" })
		t:check(r.status ~= "timeout", "an early exit",
		        "still running after 3 s")
		t:check(r.status:match("^exit [1-9]%d*$") ~= nil,
		        "an exit status != 0", r.status)
	end,
}

-- "--fd=FDNUM: When this argument is given, the back-end program is
-- started with the vhost-user socket as file descriptor FDNUM". Which
-- socket is open: libvirt hands over a connected one, virtiofsd's manual
-- asks for a listening one. Either passes: the program must answer
-- GET_FEATURES on the socket it inherited (we hang up after the reply;
-- a program still running after 3 s is stopped, not judged).
case {
	id = "vhost-user/conventions/fd-option",
	spec = ANCHOR,
	level = "SHOULD",
	quote = [[When this argument is given, the back-end program is started
with the vhost-user socket as file descriptor FDNUM. It is incompatible with
--socket-path.]],
	needs = { fresh_process = true },
	run = function(t)
		local p = convention_program(t)
		local args = own_options(p, { "--fd={fd}" })
		local req = vhost.bytes(vhost.msg("GET_FEATURES"))
		local tried = {}
		for _, listen in ipairs({ false, true }) do
			local r = t:run_program(args, { send = req, reply_bytes = 20,
			                                listen = listen })
			if #r.reply >= 20 then
				local code, flags, size =
					string.unpack("=I4I4I4", r.reply)
				t:check(code == 1 and flags & 0x7 == 0x5 and size == 8,
				        "VHOST_USER_GET_FEATURES reply (flags 0x5, " ..
				        "size 8)", ("request %d flags 0x%x size %d"):format(
				        code, flags, size))
				return
			end
			tried[#tried + 1] = ("%s socket: %d bytes, %s, stderr: %s"):format(
				listen and "listening" or "connected", #r.reply,
				r.status, r.stderr:sub(1, 120))
		end
		t:fail{ expected = "a GET_FEATURES reply on the inherited fd",
		        actual = table.concat(tried, "; ") }
	end,
}

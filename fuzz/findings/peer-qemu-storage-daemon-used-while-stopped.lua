-- vu-conform fuzz reproducer: used-while-stopped-get-features
-- what fired: vring 0 is stopped (GET_VRING_BASE answered, no kick since), yet its used idx went from 0 to 1
-- found against: sh -c 'truncate -s 64M {dir}/disk.img && exec qemu-storage-daemon --blockdev driver=file,filename={dir}/disk.img,node-name=disk0 --export type=vhost-user-blk,id=exp0,node-name=disk0,writable=on,addr.type=unix,addr.path={socket}'
-- run: vu-conform run THIS.lua --target '...' (--reuse for a daemon that serves
-- reconnects; --strict makes a SHOULD-level FAIL fail the run)
-- FAILs while the finding reproduces, PASSes once it is fixed.
-- Details: used-while-stopped-get-features.txt

local KIND = "used-while-stopped"
local AT = 19 -- the op where it fired (0: the session)
local TIMEOUT = 1000
local MCHECK = { u16 = 4226, val = 0 }
local ops = {
	{ send = "\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00",
	  fds = {}, reply = true, fail = false, call = false, maybe = false, nrep = 1 },
	{ send = "\x0f\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00",
	  fds = {}, reply = true, fail = false, call = false, maybe = false, nrep = 1 },
	{ send = "\x10\x00\x00\x00\x01\x00\x00\x00\x08\x00\x00\x00\x08\x02\x00\x00\x00\x00\x00\x00",
	  fds = {}, reply = false, fail = false, call = false, maybe = false, nrep = 0 },
	{ send = "\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00",
	  fds = {}, reply = false, fail = false, call = false, maybe = false, nrep = 0 },
	{ send = "\x02\x00\x00\x00\x01\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00@\x01\x00\x00\x00",
	  fds = {}, reply = false, fail = false, call = false, maybe = false, nrep = 0 },
	{ send = "\x05\x00\x00\x00\x01\x00\x00\x00(\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
	  fds = { "guest" }, reply = false, fail = false, call = false, maybe = false, nrep = 0 },
	{ send = "\x08\x00\x00\x00\x01\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00",
	  fds = {}, reply = false, fail = false, call = false, maybe = false, nrep = 0 },
	{ send = "\x0a\x00\x00\x00\x01\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
	  fds = {}, reply = false, fail = false, call = false, maybe = false, nrep = 0 },
	{ send = "\x09\x00\x00\x00\x01\x00\x00\x00(\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x7f\x00\x00\x80\x10\x00\x00\x00\x7f\x00\x00@\x10\x00\x00\x00\x7f\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
	  fds = {}, reply = false, fail = false, call = false, maybe = false, nrep = 0 },
	{ send = "\x0d\x00\x00\x00\x01\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
	  fds = { "eventfd" }, reply = false, fail = false, call = true, maybe = false, nrep = 0 },
	{ send = "\x0c\x00\x00\x00\x01\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
	  fds = { "eventfd" }, reply = false, fail = false, call = false, maybe = false, nrep = 0 },
	{ send = "\x12\x00\x00\x00\x09\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00",
	  fds = {}, reply = true, fail = false, call = false, maybe = false, nrep = 1 },
	{ at = 32768, guest = "\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" },
	{ at = 4096, guest = "\x00\x80\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x01\x00\x01\x00\x00\x90\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x01\x00\x02\x00\x00\xa0\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" },
	{ kick = 1 },
	{ send = "\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00",
	  fds = {}, reply = true, fail = false, call = false, maybe = false, nrep = 1 },
	{ send = "\x0b\x00\x00\x00\x01\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
	  fds = {}, reply = true, fail = false, call = false, maybe = false, nrep = 1 },
	{ at = 4096, guest = "\x00\x80\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x01\x00\x01\x00\x00\x90\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x01\x00\x02\x00\x00\xa0\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" },
	{ send = "\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00",
	  fds = {}, reply = true, fail = false, call = false, maybe = false, nrep = 1 },
}

case {
	id = "fuzz/peer-qemu-storage-daemon-used-while-stopped",
	spec = "vhost-user#ring-states",
	level = "MUST",
	quote = [[While a ring is stopped, the back-end must not process the ring at
all, regardless of whether it is enabled or disabled.]],
	protocol = "vhost-user",
	needs = { handshake = false },
	run = function(t)
		local keep, eventfds, peers, mem, gfd = {}, {}, {}, nil, nil
		-- the state oracle: this SAVE, the last, the stable one
		local saved, last, stable, loaded, fed
		-- guest memory: one memfd of 1 MiB, gpa = its offset
		local function guest()
			if not mem then
				mem = gmem.new()
				mem:add_region(0, 1048576)
				gfd = mem:regions()[1].fd
			end
			return mem
		end
		local function make(k)
			if k == "guest" then
				guest()
				return gfd
			end
			local name, size = k:match("^([%w-]+):(%d+)$")
			if name then
				local fd = assert(fdzoo.new(name, tonumber(size)))
				keep[#keep + 1] = fd
				return fd
			end
			if k == "socket-widowed" then
				local a, b = assert(fdzoo.new("socket"))
				b:close()
				keep[#keep + 1] = a
				return a
			end
			local a, b = fdzoo.new(k)
			if not a then
				t:error("cannot make an fd of kind " .. k .. ": " ..
				        tostring(b))
			end
			keep[#keep + 1] = a
			if k == "eventfd" then
				eventfds[#eventfds + 1] = a
			end
			if b then
				keep[#keep + 1] = b
				peers[#peers + 1] = { fd = b, w = k == "pipe-read" or
				                              k == "packet-pipe-read" }
			end
			return a
		end
		local function last_peer(w)
			for i = #peers, 1, -1 do
				if not peers[i].closed and peers[i].w == w then
					return peers[i]
				end
			end
		end
		local function fired(i, expected, actual)
			t:fail{ expected = expected,
			        actual = ("op %d: %s"):format(i, actual) }
		end
		-- a ring-model oracle (MCHECK): what fired, re-checked
		local stop_val -- the used idx when the ring was stopped
		local function model(i, rep)
			local c = MCHECK
			if not c then
				return
			end
			if c.u16 or c.u32max then
				t:sleep(50) -- a ring a daemon processes a moment late
				local at = c.u16 or c.u32max
				local v = string.unpack(c.u16 and "<I2" or "<I4",
				                        guest():read(at, c.u16 and 2 or 4))
				-- stopped by GET_VRING_BASE: what its answer left;
				-- never started: what the session wrote
				local want = stop_val or c.val
				if c.u16 and v ~= want then
					fired(i, ("used idx %d at 0x%x (no buffer used now)"):format(
					      want, at), ("used idx %d"):format(v))
				elseif c.u32max and v > c.val then
					fired(i, ("used len at most %d (the chain's " ..
					      "device-writable bytes)"):format(c.val),
					      ("used len %d"):format(v))
				end
			elseif c.u8 then
				-- an inflight flag (void once the used idx moved on)
				t:sleep(50)
				local v = guest():read(c.u8, 1):byte()
				local ui = string.unpack("<I2", guest():read(c.idx, 2))
				if v ~= c.val and ui == c.idxval then
					fired(i, ("inflight flag %d at 0x%x"):format(c.val,
					      c.u8), ("%d"):format(v))
				end
			elseif c.head then
				-- how often a head was used since the ring was set going
				t:sleep(50)
				local ui = string.unpack("<I2", guest():read(c.used + 2, 2))
				local n, seen = (ui - c.from) % 65536, 0
				for p = 0, math.min(n, c.num) - 1 do
					local e = c.used + 4 + 8 * (((c.from + p) % 65536) %
					                           c.num)
					if string.unpack("<I4", guest():read(e, 4)) == c.head then
						seen = seen + 1
					end
				end
				if n <= c.num and seen > c.max then
					fired(i, ("head %d used at most %d time(s)"):format(
					      c.head, c.max), ("%d times"):format(seen))
				end
			elseif c.bases and rep and rep.num then
				local ok = false
				for _, b in ipairs(c.bases) do
					ok = ok or rep.num == b
				end
				if not ok then
					fired(i, "the base that was set (the ring was never " ..
					      "kicked)", ("%d"):format(rep.num))
				end
			elseif c.config and rep and rep.config and rep.config.data then
				local d = rep.config.data:sub(1, #c.config)
				if #d == #c.config and d ~= c.config then
					fired(i, "the read-only config bytes as before the " ..
					      "SET_CONFIG", "changed")
				end
			end
		end
		local REFUSED = { ["refused-request-acked"] = true,
		                  ["unmappable-log-acked"] = true,
		                  ["unoffered-features-acked"] = true,
		                  ["illegal-vring-num-acked"] = true }
		-- GET_FEATURES: answered, and by its own reply
		local function probe(judge)
			local kind, _, detail = t:react("\1\0\0\0\1\0\0\0\0\0\0\0",
			                               { timeout = TIMEOUT })
			if judge and KIND == "hang" and kind == "timeout" then
				fired(#ops, "an answer to GET_FEATURES after the " ..
				      "session", detail)
			end
			if judge and kind == "malformed" and
			   KIND == "unsolicited-reply" then
				fired(#ops, "the GET_FEATURES reply, nothing before it",
				      detail)
			end
			return kind
		end
		-- one pass over the ops; returns true if the session ended
		local function pass()
			for i, op in ipairs(ops) do
				if op.send then
					if op.save then
						-- the SAVE read to its end
						local p, got = last_peer(false), {}
						local dl = t:now_ms() + TIMEOUT
						while p and t:now_ms() < dl do
							local b, why = p.fd:read(65536, 10)
							if b then
								got[#got + 1] = b
							elseif why ~= "timeout" then
								break
							end
						end
						saved = table.concat(got)
					end
					if op.check then
						-- the transfer is over on our side
						for _, p in ipairs(peers) do
							p.fd:close()
							p.closed = true
						end
					end
					local fds, npeers = {}, #peers
					for _, k in ipairs(op.fds) do
						fds[#fds + 1] = make(k)
					end
					local o = { fds = fds, timeout = TIMEOUT }
					if op.split then
						o.split = { op.split }
						o.fds_on = 2
					end
					local extra = op.nrep
					if op.reply then
						local kind, rep, detail = t:react(op.send, o)
						extra = extra - 1
						if kind == "hangup" then
							return true
						elseif kind == "timeout" then
							if KIND == "missing-reply" and i == AT then
								fired(i, "a reply (REPLY_ACK: need_reply " ..
								      "set)", detail)
							end
							if KIND == "hang" and i == AT then
								probe(true)
							end
							return true
						elseif kind == "malformed" and
						       KIND == "bad-reply" then
							fired(i, "a well-formed reply", detail)
						elseif op.fail and REFUSED[KIND] and
						       (kind == "ack" or kind == "reply") then
							fired(i, "a refusal (non-zero ack) or a " ..
							      "hang-up", detail)
						elseif op.save_bad and rep and rep.u64 == 0 and
						       KIND == "failed-save-checked-ok" then
							fired(i, "a non-zero status: the SAVE went " ..
							      "to an fd that fails writes", detail)
						elseif op.save and rep and rep.u64 == 0 then
							-- SAVEs: the same bytes twice, loaded
							if loaded and KIND == "state-loaded-differs" and
							   saved ~= stable then
								fired(i, ("the %d bytes loaded, saved " ..
								      "again"):format(#stable),
								      ("%d other bytes"):format(#saved))
							elseif not loaded and saved == last then
								stable = saved
							end
							last, loaded = saved, false
						elseif op.loadcheck and rep and rep.u64 == 0 then
							loaded = fed
						elseif op.call and kind == "nack" and
						       KIND == "call-fd-refused" then
							fired(i, "ack 0", detail)
						end
						-- the used idx a GET_VRING_BASE answer froze
						if MCHECK and MCHECK.u16 and rep and
						   string.unpack("<I4", op.send) == 11 then
							stop_val = string.unpack("<I2",
							        guest():read(MCHECK.u16, 2))
						end
						if i == AT then
							model(i, rep)
						end
					elseif not t:send_bytes(op.send, o) then
						return true
					end
					if op.widow then
						-- our ends of a back-end channel go at once
						for j = npeers + 1, #peers do
							peers[j].fd:close()
							peers[j].closed = true
						end
					end
					if i == AT and (KIND == "unsolicited-reply" or
					                KIND == "extra-reply") then
						local m = t:recv{ timeout = 200 }
						if m then
							fired(i, op.reply and "one reply" or
							      "no reply (none is due)",
							      m.text or "a message")
						end
					elseif op.maybe then
						-- an answer that may come and need not
						local _, why = t:recv{ timeout = 50 }
						if why == "hangup" then
							return true
						end
					else
						-- answers a request that must fail may get
						for _ = 1, extra do
							local m, why = t:recv{ timeout = TIMEOUT }
							if not m and why == "hangup" then
								return true
							end
						end
					end
				elseif op.guest then
					guest():write(op.at, op.guest)
				elseif op.kick then
					local e = eventfds[op.kick + 1]
					if e then
						e:signal()
					end
				elseif op.close then
					local p = last_peer(false) or last_peer(true)
					if p then
						p.fd:close()
						p.closed = true
					end
				elseif op.feed then
					local p = last_peer(true)
					if p then
						local b = op.stable and stable or op.feed
						fed = op.stable and stable ~= nil
						while #b > 0 do
							local n = p.fd:write(b)
							if not n then
								fed = false
								break
							end
							b = b:sub(n + 1)
						end
						p.fd:close()
						p.closed = true
					end
				elseif op.raw then
					if #op.raw > 0 then
						t:send_bytes(op.raw)
					end
					t:shutdown("write")
					return true
				end
			end
			return false
		end

		if KIND == "fd-leak" and not t:has_process() then
			t:skip("fd counts need a target process")
		end
		local pid0 = t:has_process() and t:pid()
		local n0
		if KIND == "fd-leak" then
			-- counted once the daemon surely holds our connection
			-- and has let go of any earlier one: the least of a few
			probe(false)
			n0 = t:fd_count()
			for _ = 1, 5 do
				t:sleep(20)
				n0 = math.min(n0, t:fd_count())
			end
		end
		local hung = pass()
		if not hung then
			hung = probe(true) ~= "reply"
			if not hung and AT == 0 then
				model(#ops)
			end
		end
		if KIND == "fd-leak" and not hung then
			-- the same session again on this connection: what it
			-- leaks adds up, what it holds legitimately is replaced
			local n1 = t:fd_count()
			for _ = 2, 4 do
				if pass() or probe(false) ~= "reply" then
					t:note("the session ended early: cannot judge")
					return
				end
			end
			local n4 = t:fd_count()
			if n4 - n1 >= 3 then
				fired(#ops, "no fd kept per repetition of the session",
				      ("%d fds after one pass, %d after four"):format(
				      n1, n4))
			end
		elseif KIND == "fd-leak" then
			-- it hung up: a daemon that outlives the connection must
			-- be back to its fd count (run with --reuse)
			t:restart()
			if t:pid() ~= pid0 then
				t:note("a new process: cannot judge (run with --reuse " ..
				       "and a daemon that serves reconnects)")
				return
			end
			probe(false) -- it holds the new connection now
			local n = t:fd_count()
			for _ = 1, 30 do
				if n <= n0 then
					break
				end
				t:sleep(10)
				n = t:fd_count()
			end
			if n > n0 then
				fired(#ops, "the fds of the session released",
				      ("%d fds before, %d after"):format(n0, n))
			end
		end
		if t:has_process() and t:pid() == pid0 then
			-- a crash may come a moment later (a kicked ring)
			local st = t:wait_exit((hung or KIND == "crash" or
			                        KIND == "sanitizer") and 1000 or 0)
			local err = t:stderr() or ""
			if KIND == "sanitizer" and
			   (err:find("ERROR: %a*Sanitizer") or
			    err:find("runtime error:")) then
				fired(#ops, "no sanitizer report", err:match(
				      "[^\n]*Sanitizer[^\n]*") or "runtime error")
			end
			if st and st:match("^signal") then
				fired(#ops, "no crash", "the target was killed by " ..
				      st)
			end
		end
	end,
}

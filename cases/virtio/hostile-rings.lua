-- SPDX-License-Identifier: MIT
-- hostile-rings.lua - each hostile construct of the ring engine laid into
-- a live back-end's main ring (split and packed): descriptor loops, chains
-- longer than the queue, nested indirect tables, bad indirect lengths,
-- addresses outside the memory table or straddling a region's end,
-- zero-length buffers, next / head indices out of range, the avail index
-- far ahead, packed wrap-counter lies, buffers rewritten after the kick;
-- and device-specific ones: a virtio-net chain shorter than its header.
--
-- The spec forbids these to the driver and says nothing of the device's
-- answer, so the level is ROBUST: the back-end may use the chain with
-- length 0, skip it, mark the ring broken or close the connection, but it
-- must not crash, hang (it must keep answering messages), or write outside
-- the buffers it was given (guard areas around every buffer of the case).
--
-- Spec: split-ring.tex "The Virtqueue Descriptor Table" (driver rules),
-- packed-ring.tex; vhost-user.rst "Ring states".

local LAYOUTS = { "split", "packed" }
local VARIANTS = { CHAIN_TOO_LONG = 2, INDIRECT_BAD_LEN = 2,
                   NEXT_OUT_OF_RANGE = 2, HEAD_OUT_OF_RANGE = 2,
                   WRAP_LIE = 2 }
-- The constructs of each layout (ring/split.h, ring/packed.h): the packed
-- ring has no next field, avail index or avail ring; its loop is a chain
-- that comes back round to its head (CHAIN_TOO_LONG).
local PACKED_ONLY = { WRAP_LIE = true }
local SPLIT_ONLY = { LOOP_SELF = true, LOOP_NEXT = true,
                     NEXT_OUT_OF_RANGE = true, AVAIL_JUMP = true,
                     HEAD_OUT_OF_RANGE = true }
local Q_LOOP = [[Drivers MUST NOT add a descriptor chain longer than $2^{32}$ bytes in total;
this implies that loops in the descriptor chain are forbidden!]]

-- Still serving: alive, and a GET_FEATURES reply (or a connection closed
-- by a process that exited by itself: a back-end may give up on a broken
-- device).
local function serving(t, what)
	t:expect_alive()
	local kind, _, detail = t:react(vhost.msg("GET_FEATURES"),
	                                { need_reply = false })
	if kind ~= "reply" and kind ~= "hangup" then
		t:fail{ expected = what .. ": the back-end still answers " ..
		                   "GET_FEATURES", actual = detail }
	end
	t:expect_alive()
	return kind == "reply"
end

local function known(t)
	return t.device == "net" or t.device == "blk" or t.device == "fs"
end

for _, lay in ipairs(LAYOUTS) do
	local packed = lay == "packed"
	for _, name in ipairs(ring.hostiles()) do
		local fits = not (packed and SPLIT_ONLY[name] or
		                  not packed and PACKED_ONLY[name])
		for v = 0, (VARIANTS[name] or 1) - 1 do
			local id = ("virtio/hostile/%s%s-%s"):format(
			           name:lower():gsub("_", "-"),
			           v > 0 and "-variant-" .. v or "", lay)
			if fits then
				case {
					id = id,
					spec = "virtio#drivernormative-virtqueues-the-" ..
					       "virtqueue-descriptor-table",
					level = "ROBUST",
					quote = Q_LOOP,
					run = function(t)
						local d = virtio.device(t, { packed = packed })
						local m = d:main()
						if known(t) then
							d:prepare()
							d:complete(d:work(), "a good request first")
						end
						local q = d.q[m]
						local hid, err = q:hostile(name, v)
						if not hid then
							t:error("laying " .. name .. ": " .. err)
						end
						d:kick(m)
						if name == "REWRITE_AFTER_KICK" then
							q:rewrite(hid)
						end
						t:sleep(60)
						-- what the device made of it: noted, not judged
						-- (the ring itself is garbage now)
						local tok, len = d.q[m]:reap()
						t:note(("after %s: reap %s %s"):format(name,
						       tostring(tok), tostring(len)))
						d:check_memory(name)
						if serving(t, name) and name ~= "AVAIL_JUMP" then
							-- stopping the ring is answered too
							local r, why = t:call(vhost.msg(
							        "GET_VRING_BASE", { index = m, num = 0 }))
							if not r and why ~= "hangup" then
								t:fail{ expected = name .. ": a " ..
								        "GET_VRING_BASE reply or a hang-up",
								        actual = why }
							end
						end
						d:check_memory(name)
					end,
				}
			end
		end
	end

	-- virtio-net: a TX chain shorter than the header (6 bytes), and RX
	-- buffers shorter than the header: no read or write past them.
	case {
		id = "virtio/hostile/net-chain-shorter-than-header-" .. lay,
		spec = "virtio#drivernormative-device-types-network-device-" ..
		       "device-operation-setting-up-receive-buffers",
		level = "ROBUST",
		quote = [[If VIRTIO_NET_F_MRG_RXBUF is negotiated, each buffer MUST be at
least size of \field{struct virtio_net_hdr},]],
		needs = { device = "net" },
		run = function(t)
			local d = virtio.device(t, { packed = packed })
			local rx = d:net_rx_post(2, 6)
			d:submit(d.lay.tx, ("\0"):rep(6), 0)
			d:net_tx(virtio.net_frame(60, 1))
			t:sleep(60)
			d:reap(d.lay.tx)
			d:reap(d.lay.rx)
			for _, tok in ipairs(rx) do
				local len = d.done[tok]
				t:check(len == nil or len <= 6,
				        "at most 6 bytes used of a 6-byte RX buffer",
				        ("len %s"):format(tostring(len)))
			end
			d:check_memory()
			serving(t, "short net chains")
		end,
	}
end

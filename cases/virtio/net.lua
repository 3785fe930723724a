-- SPDX-License-Identifier: MIT
-- net.lua - the virtio-net data path driven through the rings: frames of
-- several sizes on TX with the virtio-net header, what comes back on RX
-- (a loopback profile: vuc-ref-vhost echoes TX to RX, DPDK testpmd's io
-- forwarding sends a one-port frame back out of the same port), the used
-- lengths, the header the device writes, mergeable RX buffers, and the call
-- fd (an eventfd and a pipe). Every case runs on split and packed rings.
--
-- Spec: specs/virtio/net.tex ("Device Operation", "Setting Up Receive
-- Buffers", "Processing of Incoming Packets"), split-ring.tex /
-- packed-ring.tex (used length, message framing).

local LAYOUTS = { "split", "packed" }

local Q_USED_LEN = [[The device MUST write at least \field{len} bytes to descriptor,
beginning at the first device-writable buffer,
prior to updating the used \field{idx}.]]

-- Sends @frames on TX and takes them back on RX: per frame, the TX chain
-- is used (its length checked against the 0 writable bytes by the ring
-- engine), and an RX chain holds the header and the same bytes. Returns
-- the RX headers.
local function loop_frames(t, d, frames, o)
	o = o or {}
	local rxq, txq = d.lay.rx, d.lay.tx
	local rx = d:net_rx_post(#frames, o.rx_size or 2048, o.rx_opts)
	local hdrs = {}
	for k, f in ipairs(frames) do
		local tok = d:submit(txq, d:net_hdr() .. f, 0, o.tx_opts)
		d:complete(tok, ("TX frame %d (%d bytes) used"):format(k, #f))
		local len = d:complete(rx[k], ("frame %d (%d bytes) back on RX")
		                       :format(k, #f))
		t:check(len == d.hdr_len + #f,
		        ("a used length of %d (a %d-byte header and the frame)")
		        :format(d.hdr_len + #f, d.hdr_len), ("len %d"):format(len))
		local got = d:written(rx[k], len)
		t:check(got:sub(d.hdr_len + 1) == f,
		        ("frame %d unchanged"):format(k),
		        "different bytes after the header")
		hdrs[k] = got:sub(1, d.hdr_len)
	end
	d:check_memory()
	return hdrs
end

for _, lay in ipairs(LAYOUTS) do
	local packed = lay == "packed"

	-- Frames of 60, 200 and 1514 bytes go out and come back: the TX
	-- chain used with length 0 (nothing written: the seeded
	-- used-len-total reports the whole chain), the RX length the header
	-- plus the frame, the frame intact, nothing written outside the
	-- buffers given.
	case {
		id = "virtio/net/tx-rx-frames-" .. lay,
		spec = "virtio#devicenormative-virtqueues-the-virtqueue-used-ring",
		level = "MUST",
		quote = Q_USED_LEN,
		needs = { device = "net" },
		run = function(t)
			local d = virtio.device(t, { packed = packed })
			loop_frames(t, d, { virtio.net_frame(60, 1),
			                    virtio.net_frame(200, 2),
			                    virtio.net_frame(1514, 3) })
		end,
	}

	-- Without VIRTIO_NET_F_MRG_RXBUF (not acked here) and without any
	-- GUEST_* offload: num_buffers 1 (in the 12-byte header of
	-- VERSION_1), flags 0 and no GSO type. A device that fills the header
	-- with garbage, or counts buffers it did not use, fails.
	case {
		id = "virtio/net/rx-header-no-mrg-rxbuf-" .. lay,
		spec = "virtio#devicenormative-device-types-network-device-" ..
		       "device-operation-processing-of-incoming-packets",
		level = "MUST",
		quote = [[If VIRTIO_NET_F_MRG_RXBUF has not been negotiated, the device MUST set
\field{num_buffers} to 1.]],
		needs = { device = "net" },
		run = function(t)
			local d = virtio.device(t, { packed = packed })
			local hdrs = loop_frames(t, d, { virtio.net_frame(100, 4) })
			local flags, gso = hdrs[1]:byte(1, 2)
			t:check(flags == 0, "header flags 0 (no GUEST_CSUM)",
			        ("flags 0x%x"):format(flags))
			t:check(gso == 0, "gso_type NONE (no GUEST_* GSO feature)",
			        ("gso_type 0x%x"):format(gso))
			if d.hdr_len == 12 then
				local nb = string.unpack("<I2", hdrs[1], 11)
				t:check(nb == 1, "num_buffers 1", ("num_buffers %d")
				        :format(nb))
			end
		end,
	}

	-- With VIRTIO_NET_F_MRG_RXBUF and buffers that hold a whole frame:
	-- the 12-byte header, num_buffers the count of buffers used (1 here:
	-- no other RX entry is used for the frame).
	case {
		id = "virtio/net/mrg-rxbuf-num-buffers-" .. lay,
		spec = "virtio#devicenormative-device-types-network-device-" ..
		       "device-operation-processing-of-incoming-packets",
		level = "MUST",
		quote = [[If VIRTIO_NET_F_MRG_RXBUF has been negotiated, the device MUST set
\field{num_buffers} to indicate the number of buffers
the packet (including the header) is spread over.]],
		needs = { device = "net" },
		run = function(t)
			local d = virtio.device(t, { packed = packed,
			                             need = { virtio.NET_F_MRG_RXBUF } })
			t:check(d.hdr_len == 12, "a 12-byte header", d.hdr_len)
			local f = virtio.net_frame(300, 5)
			local rx = d:net_rx_post(4, 2048)
			local tok = d:net_tx(f)
			d:complete(tok, "the TX frame used")
			local len = d:complete(rx[1], "the frame back on RX")
			local got = d:written(rx[1], len)
			local nb = string.unpack("<I2", got, 11)
			local extra = 0
			t:sleep(20)
			for k = 2, 4 do
				if d.done[rx[k]] then
					extra = extra + 1
				end
			end
			t:check(nb == 1 + extra, ("num_buffers %d (buffers used)")
			        :format(1 + extra), ("num_buffers %d"):format(nb))
			t:check(got:sub(13, len) == f:sub(1, len - 12),
			        "the frame after the header", "different bytes")
			d:check_memory()
		end,
	}

	-- With VIRTIO_NET_F_MRG_RXBUF, a 1000-byte frame and 256-byte RX
	-- buffers: the device may drop it (the spec does not make it merge),
	-- but if it delivers it, num_buffers says how many buffers it spans,
	-- all but the last are used in full, and together they hold the
	-- header and the frame. A device that lies about num_buffers, or
	-- leaves holes, fails.
	case {
		id = "virtio/net/mrg-rxbuf-spread-" .. lay,
		spec = "virtio#devicenormative-device-types-network-device-" ..
		       "device-operation-processing-of-incoming-packets",
		level = "MUST",
		quote = [[If a receive packet is spread over multiple buffers, the device
MUST use all buffers but the last (i.e. the first \field{num_buffers} -
1 buffers) completely up to the full length of each buffer]],
		needs = { device = "net" },
		run = function(t)
			local d = virtio.device(t, { packed = packed,
			                             need = { virtio.NET_F_MRG_RXBUF } })
			local f = virtio.net_frame(1000, 6)
			local rx = d:net_rx_post(12, 256)
			d:complete(d:net_tx(f), "the TX frame used")
			local len = d:wait(rx[1], 300)
			if not len or len == 0 then
				t:note("the frame was dropped: legal")
				d:check_memory()
				return
			end
			local first = d:written(rx[1], len)
			local nb = string.unpack("<I2", first, 11)
			t:check(nb >= 1 and nb <= 12, "num_buffers 1 .. 12 (posted)",
			        nb)
			local parts, total = { first }, len
			for k = 2, nb do
				local l = d:complete(rx[k], ("RX buffer %d of %d used")
				                     :format(k, nb), 300)
				parts[k] = d:written(rx[k], l)
				total = total + l
			end
			-- all but the last used in full
			for k = 1, nb - 1 do
				local l = d.done[rx[k]]
				t:check(l == 256, ("RX buffer %d of %d used in full (256)")
				        :format(k, nb), ("len %d"):format(l))
			end
			t:check(total == 12 + #f, ("%d bytes over %d buffers")
			        :format(12 + #f, nb), ("%d bytes"):format(total))
			local all = table.concat(parts)
			t:check(all:sub(13) == f, "the frame across the buffers",
			        "different bytes")
			d:check_memory()
		end,
	}

	-- The header split over descriptors (5 + 7 bytes) and the frame over
	-- three more: legal, and the frame must come back whole. A device that
	-- takes the header from the first descriptor alone, or the frame from
	-- the second, fails.
	case {
		id = "virtio/net/tx-header-split-across-descriptors-" .. lay,
		spec = "virtio#devicenormative-basic-facilities-of-a-virtio-" ..
		       "device-message-framing",
		level = "MUST",
		quote = [[The device MUST NOT make assumptions about the particular arrangement
of descriptors.]],
		needs = { device = "net" },
		run = function(t)
			local d = virtio.device(t, { packed = packed })
			local cut = d.hdr_len == 12 and { 5, 7, 10, 30 } or
			            { 5, 5, 10, 30 }
			loop_frames(t, d, { virtio.net_frame(200, 7) },
			            { tx_opts = { cut_r = cut },
			              rx_opts = { cut_w = { 7, 100 } } })
		end,
	}

	-- Indirect descriptors on TX and RX (VIRTIO_F_INDIRECT_DESC): the
	-- same frames, each chain one INDIRECT descriptor in the ring.
	case {
		id = "virtio/net/indirect-descriptors-" .. lay,
		spec = "virtio#devicenormative-basic-facilities-of-a-virtio-" ..
		       "device-message-framing",
		level = "MUST",
		quote = [[The device MUST NOT make assumptions about the particular arrangement
of descriptors.]],
		needs = { device = "net" },
		run = function(t)
			local d = virtio.device(t, { packed = packed, indirect = true })
			loop_frames(t, d, { virtio.net_frame(60, 8),
			                    virtio.net_frame(1514, 9) },
			            { tx_opts = { indirect = true, cut_r = { 12, 40 } },
			              rx_opts = { indirect = true, cut_w = { 12 } } })
		end,
	}

	-- The call fd fires after RX and TX buffers are used: an eventfd, and
	-- the write end of a pipe (seed 000: where eventfd is missing,
	-- front-ends pass pipes; the seeded call-eventfd-only refuses it).
	-- Without EVENT_IDX and with avail flags 0 the device "MUST send a
	-- notification".
	for _, kind in ipairs({ "eventfd", "pipe" }) do
		case {
			id = ("virtio/net/call-fires-%s-%s"):format(kind, lay),
			spec = "virtio#devicenormative-virtqueues-used-buffer-" ..
			       "notification-suppression",
			level = "MUST",
			quote = [[If \field{flags} is 0, the device MUST send a notification.]],
			needs = { device = "net" },
			run = function(t)
				local d = virtio.device(t, {
					packed = packed,
					call = kind == "pipe" and "pipe-write" or
					       "eventfd-nonblock" })
				loop_frames(t, d, { virtio.net_frame(80, 10) })
				t:check(d:called(d.lay.tx, 300),
				        "the TX call fd (" .. kind .. ") readable",
				        "no notification")
				t:check(d:called(d.lay.rx, 300),
				        "the RX call fd (" .. kind .. ") readable",
				        "no notification")
			end,
		}
	end
end

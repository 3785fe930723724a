-- SPDX-License-Identifier: MIT
-- generic.lua - what any back-end owes its rings whatever its device
-- type (these cases run on every profile, an unknown one included): rings
-- set up, started by a kick with nothing in them, and stopped, with
-- GET_VRING_BASE giving back the base they started at. Split and packed.
--
-- Spec: vhost-user.rst "Ring states", VHOST_USER_GET_VRING_BASE and the
-- "vring descriptor indices" payload.

local LAYOUTS = { "split", "packed" }

local Q_BASE = [[Stops the vring and returns the current descriptor index or indices:]]

-- Vrings the target serves: the profile's, or GET_QUEUE_NUM's first
-- queue(s) for a device type we do not know.
local function rings_of(t)
	local known = { net = { 0, 1 }, blk = { 0 }, fs = { 0, 1 } }
	return known[t.device] or { 0 }
end

for _, lay in ipairs(LAYOUTS) do
	local packed = lay == "packed"
	-- base: where the rings start; split 0 and 5, packed both halves at
	-- slot 0 (wrap 1) and slot 5 (wrap 1)
	local bases = packed and { 0x80008000, 0x80058005 } or { 0, 5 }

	for bi, base in ipairs(bases) do
		-- Started by a kick with nothing available, then stopped:
		-- nothing was processed, so GET_VRING_BASE gives back the base
		-- that was set, on every ring; no used entry appeared and the
		-- back-end still serves. A back-end that counts a kick as a
		-- buffer, reads garbage past avail->idx, or forgets the base
		-- it was given fails.
		case {
			id = ("virtio/generic/start-kick-stop-%s-%s"):format(
			     bi == 1 and "base-zero" or "base-five", lay),
			spec = "vhost-user#vhost-user-get-vring-base",
			level = "MUST",
			quote = Q_BASE,
			run = function(t)
				local d = virtio.device(t, { packed = packed,
				                             no_rings = true })
				local rings = rings_of(t)
				for _, i in ipairs(rings) do
					d:start(i, { base = base })
				end
				for _, i in ipairs(rings) do
					d:kick(i)
				end
				t:sleep(30)
				for _, i in ipairs(rings) do
					d:quiet(i, 5, "no used entry on an empty ring")
					local got = d:stop(i)
					t:check(got == base, ("vring %d: base 0x%x back"):format(
					        i, base), ("0x%x"):format(got))
				end
				if not packed and base == 5 then
					for _, i in ipairs(rings) do
						t:check(d:used_idx(i) == 5,
						        "used->idx left at 5", d:used_idx(i))
					end
				end
				d:check_memory()
				d:responsive()
			end,
		}
	end
end

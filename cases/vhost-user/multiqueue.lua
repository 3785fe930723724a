-- SPDX-License-Identifier: MIT
-- multiqueue.lua - VHOST_USER_PROTOCOL_F_MQ: GET_QUEUE_NUM, and every
-- queue it announces usable, each independently of the others.
--
-- Spec: vhost-user.rst, "Multiple queue support" and
-- VHOST_USER_GET_QUEUE_NUM.

-- ---- session and data-path helpers --------------------------------------
-- Shared by memory.lua, mem-slots.lua, vrings.lua, vring-fds.lua,
-- ring-states.lua and multiqueue.lua: vhost.ring_helpers() in
-- harness/lua/prelude.lua.

local H = vhost.ring_helpers()
local PF_REPLY_ACK, PF_MQ = H.PF_REPLY_ACK, H.PF_MQ
local F_PROTOCOL_FEATURES, F_VERSION_1, MIB =
	H.F_PROTOCOL_FEATURES, H.F_VERSION_1, H.MIB
local pf_names, session, acked, step = H.pf_names, H.session, H.acked, H.step
local vring_count, responsive, notify = H.vring_count, H.responsive, H.notify
local DP, dp_new = H.DP, H.dp_new

-- ---- cases ----------------------------------------------------------------

local MQ = { pf = { "MQ" } }
local Q_NUM = [[The max number of queues the back-end supports can be queried with message
``VHOST_USER_GET_QUEUE_NUM``.]]
local Q_INDEX = [[As all queues share one connection, the front-end uses a unique index for each
queue in the sent message to identify a specified queue.]]

case {
	id = "vhost-user/mq/get-queue-num",
	spec = "vhost-user#multiple-queue-support",
	level = "MUST",
	quote = Q_NUM,
	run = function(t)
		session(t, MQ)
		local r = t:expect_reply(vhost.msg("GET_QUEUE_NUM"))
		t:check(r.u64 and r.u64 >= 1, "at least one queue", r.text)
		local r2 = t:expect_reply(vhost.msg("GET_QUEUE_NUM"))
		t:check(r2.u64 == r.u64, "the same number when asked again",
		        r2.text)
	end,
}

-- Each announced ring takes its own size, base and enable (at most the
-- first 64, to stay quick) and reports its own base back.
case {
	id = "vhost-user/mq/every-ring-configurable",
	spec = "vhost-user#multiple-queue-support",
	level = "MUST",
	quote = Q_INDEX,
	run = function(t)
		session(t, MQ)
		local n = math.min(vring_count(t), 64)
		for i = 0, n - 1 do
			t:expect_ack(vhost.msg("SET_VRING_NUM", { index = i, num = 64 }))
			t:expect_ack(vhost.msg("SET_VRING_BASE",
			                       { index = i, num = 100 + i }))
		end
		for i = 0, n - 1 do
			local r = t:expect_reply(vhost.msg("GET_VRING_BASE",
			                                   { index = i, num = 0 }))
			t:check(r.index == i and r.num == 100 + i,
			        ("ring %d, base %d"):format(i, 100 + i),
			        ("ring %s, base %s"):format(r.index, r.num))
		end
	end,
}

case {
	id = "vhost-user/mq/every-ring-enable",
	spec = "vhost-user#multiple-queue-support",
	level = "MUST",
	quote = [[The front-end enables queues by sending message ``VHOST_USER_SET_VRING_ENABLE``.]],
	run = function(t)
		session(t, MQ)
		local n = math.min(vring_count(t), 64)
		for i = 0, n - 1 do
			t:expect_ack(vhost.msg("SET_VRING_ENABLE", { index = i, num = 1 }))
			t:expect_ack(vhost.msg("SET_VRING_ENABLE", { index = i, num = 0 }))
		end
	end,
}

-- Each queue (net: queue pair) carries requests, the last one included
-- (at most 4 checked).
case {
	id = "vhost-user/mq/every-queue-io",
	spec = "vhost-user#multiple-queue-support",
	level = "MUST",
	quote = Q_INDEX,
	run = function(t)
		session(t, MQ)
		local n = vring_count(t)
		local queues = t.device == "net" and n // 2 or n
		local list = { 0 }
		for k = 1, math.min(queues - 1, 3) do
			list[#list + 1] = k
		end
		if queues > 4 then
			list[#list + 1] = queues - 1
		end
		for _, k in ipairs(list) do
			local dp = dp_new(t, { pair = k })
			dp:round(("a request on queue %d processed"):format(k))
		end
	end,
}

-- Stopping one queue leaves the others running (needs two queues).
case {
	id = "vhost-user/mq/stop-one-queue",
	spec = "vhost-user#ring-states",
	level = "MUST",
	quote = [[Rings have two independent states: started/stopped, and enabled/disabled.]],
	run = function(t)
		session(t, MQ)
		local n = vring_count(t)
		local queues = t.device == "net" and n // 2 or n
		if queues < 2 then
			t:skip("one queue only")
		end
		local a = dp_new(t, { pair = 0 })
		local b = dp_new(t, { pair = 1, share = a })
		a:round("queue 0 processes")
		b:round("queue 1 processes")
		t:expect_reply(vhost.msg("GET_VRING_BASE",
		                         { index = a.qidx, num = 0 }))
		a:submit{ kick = false }
		b:round("queue 1 still processes after queue 0 stopped")
		a:quiet("the stopped queue 0 not processed", 100)
	end,
}

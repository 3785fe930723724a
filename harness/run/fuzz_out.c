// SPDX-License-Identifier: MIT
/*
 * fuzz_out.c - the files of one `vu-conform fuzz` finding: the input, its
 * description, and a reproducer script for `vu-conform run` that FAILs
 * while the finding reproduces and PASSes once it is fixed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "run/fuzz_int.h"
#include "run/outputs.h"

/* How the reproducer judges each kind: spec anchor, level, quote. */
static const struct {
	const char *kind;
	const char *spec;
	const char *level;
	const char *quote;
} fz_kinds[] = {
	{ SEQ_ORACLE_MISSING_REPLY,
	  "vhost-user#vhost-user-protocol-f-reply-ack", "MUST",
	  "``need_reply`` [Bit 3] flag to any command. This indicates that "
	  "the\n"
	  "back-end MUST respond with a Payload ``VhostUserMsg`` indicating "
	  "success\nor failure." },
	{ SEQ_ORACLE_REFUSED_ACKED,
	  "vhost-user#vhost-user-protocol-f-reply-ack", "MUST",
	  "or failure. The payload should be set to zero on success or "
	  "non-zero\non failure, unless the message already has an explicit "
	  "reply body." },
	{ FZ_KIND_FEATURES, "vhost-user#vhost-user-protocol-f-reply-ack",
	  "MUST",
	  "or failure. The payload should be set to zero on success or "
	  "non-zero\non failure, unless the message already has an explicit "
	  "reply body." },
	{ FZ_KIND_LOG, "vhost-user#vhost-user-protocol-f-reply-ack", "MUST",
	  "or failure. The payload should be set to zero on success or "
	  "non-zero\non failure, unless the message already has an explicit "
	  "reply body." },
	{ FZ_KIND_VRING_NUM, "vhost-user#vhost-user-protocol-f-reply-ack",
	  "MUST",
	  "or failure. The payload should be set to zero on success or "
	  "non-zero\non failure, unless the message already has an explicit "
	  "reply body." },
	{ SEQ_ORACLE_CALL_REFUSED, "vhost-user#vhost-user-protocol-f-reply-ack",
	  "SHOULD",
	  "or failure. The payload should be set to zero on success or "
	  "non-zero\non failure, unless the message already has an explicit "
	  "reply body." },
	{ FZ_KIND_STATE, "vhost-user#migrating-back-end-state", "MUST",
	  "verify that data transfer was successful in the back-end, too.  "
	  "The\nback-end responds once it knows whether the transfer and "
	  "processing was\nsuccessful or not." },
	{ FZ_KIND_STATE_LOAD, "vhost-user#migrating-back-end-state", "MUST",
	  "verify that data transfer was successful in the back-end, too.  "
	  "The\nback-end responds once it knows whether the transfer and "
	  "processing was\nsuccessful or not." },
	{ SEQ_ORACLE_BAD_REPLY, "vhost-user#header", "MUST",
	  "- Bit 2 is the reply flag - needs to be sent on each reply from the "
	  "back-end" },
	{ SEQ_ORACLE_UNSOLICITED, "vhost-user#communication", "MUST",
	  "the *back-end* sending message replies. Most of the requests don't "
	  "require\nreplies. Here is a list of the ones that do:" },
	{ SEQ_ORACLE_EXTRA_REPLY, "vhost-user#communication", "MUST",
	  "the *back-end* sending message replies. Most of the requests don't "
	  "require\nreplies. Here is a list of the ones that do:" },
	/* the ring model's (fe/seqmodel.h) */
	{ SEQMODEL_ORACLE_USED_LEN,
	  "virtio#devicenormative-virtqueues-the-virtqueue-used-ring", "MUST",
	  "The device MUST write at least \\field{len} bytes to descriptor,\n"
	  "beginning at the first device-writable buffer,\n"
	  "prior to updating the used \\field{idx}." },
	{ SEQMODEL_ORACLE_STOPPED, "vhost-user#ring-states", "MUST",
	  "While a ring is stopped, the back-end must not process the ring "
	  "at\nall, regardless of whether it is enabled or disabled." },
	{ SEQMODEL_ORACLE_BASE, "vhost-user#front-end-message-types", "MUST",
	  "Stops the vring and returns the current descriptor index or "
	  "indices:" },
	{ SEQMODEL_ORACLE_RX_DISABLED, "vhost-user#ring-states", "MUST",
	  "started and disabled: The back-end must process the ring without\n"
	  "causing any side effects." },
	{ SEQMODEL_ORACLE_CONFIG_RO, "vhost-user#vhost-user-set-config", "MUST",
	  "The vhost-user back-end must check the flags field, and\n"
	  "back-ends MUST NOT accept SET_CONFIG for read-only configuration "
	  "space\nfields unless the live migration bit is set." },
	{ SEQMODEL_ORACLE_INF_AGAIN, "vhost-user#inflight-i-o-tracking",
	  "SHOULD",
	  "#. Resubmit inflight ``DescStateSplit`` entries in order of their\n"
	  "   counter value" },
	{ SEQMODEL_ORACLE_INF_CLEARED, "vhost-user#inflight-i-o-tracking",
	  "SHOULD",
	  "#. Set the ``inflight`` field of each ``DescStateSplit`` entry in "
	  "the batch to 0" },
	{ SEQMODEL_ORACLE_INF_MARKED, "vhost-user#inflight-i-o-tracking",
	  "SHOULD", "#. Set ``desc[i].inflight`` to 1" },
};

static const char fz_robust_quote[] =
	"The communication consists of the *front-end* sending message "
	"requests and\nthe *back-end* sending message replies.";

/* The reproducer's name for an fd of kind @k ("kind" or "kind:size"). */
static const char *fz_fd_token(enum seq_fdk k, char *buf, size_t cap)
{
	enum fdzoo_kind kind;
	size_t size;
	bool widow;

	kind = seq_fdk_zoo(k, &size, &widow);
	if (kind == FDZOO_CLOSED)
		return "guest";
	if (widow)
		return "socket-widowed";
	if (kind == FDZOO_MEMFD || kind == FDZOO_MEMFD_SEALED) {
		snprintf(buf, cap, "%s:%zu", fdzoo_kind_name(kind), size);
		return buf;
	}
	return fdzoo_kind_name(kind);
}

static const char *fz_op_name(enum seq_op_kind k)
{
	static const char *const names[] = {
		"MSG",	  "SPLIT", "KICK", "GUEST",
		"SHRINK", "CLOSE", "RAW",  "FEED"
	};

	return names[k];
}

static int fz_write_txt(const char *path, const struct fz_report *r,
			struct seq_op *op)
{
	struct seq_in cur = { r->input, r->len };
	char line[1024], tok[48];
	unsigned int i;
	FILE *f = fopen(path, "we");
	int ret = 0;

	if (!f)
		return -errno;
	fprintf(f, "vu-conform fuzz finding: %s\n", r->v->sig);
	fprintf(f, "what fired: %s", r->v->what[0] ? r->v->what : r->v->kind);
	if (r->v->at >= 0)
		fprintf(f, " (op %d)", r->v->at + 1);
	fprintf(f, "\ntarget: %s\n", r->target_text);
	fprintf(f, "input: %zu bytes (minimised from %zu in %u runs)\n", r->len,
		r->orig_len, r->tries);
	fprintf(f, "ops (as sent; fds made fresh for each message):\n");
	seq_u8(&cur);
	for (i = 0; i < SEQ_MAX_OPS && seq_next(&cur, r->input, op, 0); i++) {
		const struct fz_rec *rec = &r->rec[i];

		fprintf(f, "  %2u. %-6s", i + 1, fz_op_name(op->kind));
		if (op->kind == SEQ_MSG || op->kind == SEQ_SPLIT) {
			vhost_user_describe(&op->m, VHOST_USER_FROM_FRONTEND,
					    line, sizeof(line));
			fprintf(f, " %s", line);
			if (rec->nfds)
				fprintf(f, " + %u fd%s (%s)", rec->nfds,
					rec->nfds == 1 ? "" : "s",
					fz_fd_token(rec->fdk, tok,
						    sizeof(tok)));
			if (op->kind == SEQ_SPLIT)
				fprintf(f, " [cut at byte %zu]",
					1 + op->cut % (op->wire_len - 1));
			fprintf(f, "%s%s", rec->expect ? " [reply due]" : "",
				rec->fail ? " [must fail]" : "");
			if (rec->nrep)
				fprintf(f, " [%u repl%s]", rec->nrep,
					rec->nrep == 1 ? "y" : "ies");
		} else if (op->kind == SEQ_RAW || op->kind == SEQ_FEED) {
			fprintf(f, " %zu bytes", op->data_want);
		} else if (op->kind == SEQ_KICK) {
			fprintf(f, " eventfd %u", op->n % 8);
		}
		if (!rec->sent)
			fprintf(f, " (not reached)");
		fputc('\n', f);
	}
	if (r->stderr_tail && r->stderr_tail[0])
		fprintf(f, "the daemon's stderr (its end):\n%s%s",
			r->stderr_tail,
			r->stderr_tail[strlen(r->stderr_tail) - 1] == '\n'
				? ""
				: "\n");
	if (ferror(f))
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

/* The interpreter every reproducer carries (Lua). */
/* (an array of lines: ISO C caps one string literal at 4095 bytes) */
static const char *const fz_lua_body[] = {
	"\trun = function(t)\n",
	"\t\tlocal keep, eventfds, peers, mem, gfd = {}, {}, {}, nil, nil\n",
	"\t\t-- the state oracle: this SAVE, the last, the stable one\n",
	"\t\tlocal saved, last, stable, loaded, fed\n",
	"\t\t-- guest memory: one memfd of 1 MiB, gpa = its offset\n",
	"\t\tlocal function guest()\n",
	"\t\t\tif not mem then\n",
	"\t\t\t\tmem = gmem.new()\n",
	"\t\t\t\tmem:add_region(0, 1048576)\n",
	"\t\t\t\tgfd = mem:regions()[1].fd\n",
	"\t\t\tend\n",
	"\t\t\treturn mem\n",
	"\t\tend\n",
	"\t\tlocal function make(k)\n",
	"\t\t\tif k == \"guest\" then\n",
	"\t\t\t\tguest()\n",
	"\t\t\t\treturn gfd\n",
	"\t\t\tend\n",
	"\t\t\tlocal name, size = k:match(\"^([%w-]+):(%d+)$\")\n",
	"\t\t\tif name then\n",
	"\t\t\t\tlocal fd = assert(fdzoo.new(name, tonumber(size)))\n",
	"\t\t\t\tkeep[#keep + 1] = fd\n",
	"\t\t\t\treturn fd\n",
	"\t\t\tend\n",
	"\t\t\tif k == \"socket-widowed\" then\n",
	"\t\t\t\tlocal a, b = assert(fdzoo.new(\"socket\"))\n",
	"\t\t\t\tb:close()\n",
	"\t\t\t\tkeep[#keep + 1] = a\n",
	"\t\t\t\treturn a\n",
	"\t\t\tend\n",
	"\t\t\tlocal a, b = fdzoo.new(k)\n",
	"\t\t\tif not a then\n",
	"\t\t\t\tt:error(\"cannot make an fd of kind \" .. k .. \": \" ..\n",
	"\t\t\t\t        tostring(b))\n",
	"\t\t\tend\n",
	"\t\t\tkeep[#keep + 1] = a\n",
	"\t\t\tif k == \"eventfd\" then\n",
	"\t\t\t\teventfds[#eventfds + 1] = a\n",
	"\t\t\tend\n",
	"\t\t\tif b then\n",
	"\t\t\t\tkeep[#keep + 1] = b\n",
	"\t\t\t\tpeers[#peers + 1] = { fd = b, w = k == \"pipe-read\" or\n",
	"\t\t\t\t                              k == \"packet-pipe-read\" }\n",
	"\t\t\tend\n",
	"\t\t\treturn a\n",
	"\t\tend\n",
	"\t\tlocal function last_peer(w)\n",
	"\t\t\tfor i = #peers, 1, -1 do\n",
	"\t\t\t\tif not peers[i].closed and peers[i].w == w then\n",
	"\t\t\t\t\treturn peers[i]\n",
	"\t\t\t\tend\n",
	"\t\t\tend\n",
	"\t\tend\n",
	"\t\tlocal function fired(i, expected, actual)\n",
	"\t\t\tt:fail{ expected = expected,\n",
	"\t\t\t        actual = (\"op %d: %s\"):format(i, actual) }\n",
	"\t\tend\n",
	"\t\t-- a ring-model oracle (MCHECK): what fired, re-checked\n",
	"\t\tlocal stop_val -- the used idx when the ring was stopped\n",
	"\t\tlocal function model(i, rep)\n",
	"\t\t\tlocal c = MCHECK\n",
	"\t\t\tif not c then\n",
	"\t\t\t\treturn\n",
	"\t\t\tend\n",
	"\t\t\tif c.u16 or c.u32max then\n",
	"\t\t\t\tt:sleep(50) -- a ring a daemon processes a moment late\n",
	"\t\t\t\tlocal at = c.u16 or c.u32max\n",
	"\t\t\t\tlocal v = string.unpack(c.u16 and \"<I2\" or \"<I4\",\n",
	"\t\t\t\t                        guest():read(at, c.u16 and 2 or 4))\n",
	"\t\t\t\t-- stopped by GET_VRING_BASE: what its answer left;\n",
	"\t\t\t\t-- never started: what the session wrote\n",
	"\t\t\t\tlocal want = stop_val or c.val\n",
	"\t\t\t\tif c.u16 and v ~= want then\n",
	"\t\t\t\t\tfired(i, (\"used idx %d at 0x%x (no buffer used "
	"now)\"):format(\n",
	"\t\t\t\t\t      want, at), (\"used idx %d\"):format(v))\n",
	"\t\t\t\telseif c.u32max and v > c.val then\n",
	"\t\t\t\t\tfired(i, (\"used len at most %d (the chain's \" ..\n",
	"\t\t\t\t\t      \"device-writable bytes)\"):format(c.val),\n",
	"\t\t\t\t\t      (\"used len %d\"):format(v))\n",
	"\t\t\t\tend\n",
	"\t\t\telseif c.u8 then\n",
	"\t\t\t\t-- an inflight flag (void once the used idx moved on)\n",
	"\t\t\t\tt:sleep(50)\n",
	"\t\t\t\tlocal v = guest():read(c.u8, 1):byte()\n",
	"\t\t\t\tlocal ui = string.unpack(\"<I2\", guest():read(c.idx, 2))\n",
	"\t\t\t\tif v ~= c.val and ui == c.idxval then\n",
	"\t\t\t\t\tfired(i, (\"inflight flag %d at 0x%x\"):format(c.val,\n",
	"\t\t\t\t\t      c.u8), (\"%d\"):format(v))\n",
	"\t\t\t\tend\n",
	"\t\t\telseif c.head then\n",
	"\t\t\t\t-- how often a head was used since the ring was set going\n",
	"\t\t\t\tt:sleep(50)\n",
	"\t\t\t\tlocal ui = string.unpack(\"<I2\", guest():read(c.used + 2, "
	"2))\n",
	"\t\t\t\tlocal n, seen = (ui - c.from) % 65536, 0\n",
	"\t\t\t\tfor p = 0, math.min(n, c.num) - 1 do\n",
	"\t\t\t\t\tlocal e = c.used + 4 + 8 * (((c.from + p) % 65536) %\n",
	"\t\t\t\t\t                           c.num)\n",
	"\t\t\t\t\tif string.unpack(\"<I4\", guest():read(e, 4)) == c.head "
	"then\n",
	"\t\t\t\t\t\tseen = seen + 1\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\tend\n",
	"\t\t\t\tif n <= c.num and seen > c.max then\n",
	"\t\t\t\t\tfired(i, (\"head %d used at most %d time(s)\"):format(\n",
	"\t\t\t\t\t      c.head, c.max), (\"%d times\"):format(seen))\n",
	"\t\t\t\tend\n",
	"\t\t\telseif c.bases and rep and rep.num then\n",
	"\t\t\t\tlocal ok = false\n",
	"\t\t\t\tfor _, b in ipairs(c.bases) do\n",
	"\t\t\t\t\tok = ok or rep.num == b\n",
	"\t\t\t\tend\n",
	"\t\t\t\tif not ok then\n",
	"\t\t\t\t\tfired(i, \"the base that was set (the ring was never \" "
	"..\n",
	"\t\t\t\t\t      \"kicked)\", (\"%d\"):format(rep.num))\n",
	"\t\t\t\tend\n",
	"\t\t\telseif c.config and rep and rep.config and rep.config.data "
	"then\n",
	"\t\t\t\tlocal d = rep.config.data:sub(1, #c.config)\n",
	"\t\t\t\tif #d == #c.config and d ~= c.config then\n",
	"\t\t\t\t\tfired(i, \"the read-only config bytes as before the \" ..\n",
	"\t\t\t\t\t      \"SET_CONFIG\", \"changed\")\n",
	"\t\t\t\tend\n",
	"\t\t\tend\n",
	"\t\tend\n",
	"\t\tlocal REFUSED = { [\"refused-request-acked\"] = true,\n",
	"\t\t                  [\"unmappable-log-acked\"] = true,\n",
	"\t\t                  [\"unoffered-features-acked\"] = true,\n",
	"\t\t                  [\"illegal-vring-num-acked\"] = true }\n",
	"\t\t-- GET_FEATURES: answered, and by its own reply\n",
	"\t\tlocal function probe(judge)\n",
	"\t\t\tlocal kind, _, detail = "
	"t:react(\"\\1\\0\\0\\0\\1\\0\\0\\0\\0\\0\\0\\0\",\n",
	"\t\t\t                               { timeout = TIMEOUT })\n",
	"\t\t\tif judge and KIND == \"hang\" and kind == \"timeout\" then\n",
	"\t\t\t\tfired(#ops, \"an answer to GET_FEATURES after the \" ..\n",
	"\t\t\t\t      \"session\", detail)\n",
	"\t\t\tend\n",
	"\t\t\tif judge and kind == \"malformed\" and\n",
	"\t\t\t   KIND == \"unsolicited-reply\" then\n",
	"\t\t\t\tfired(#ops, \"the GET_FEATURES reply, nothing before it\",\n",
	"\t\t\t\t      detail)\n",
	"\t\t\tend\n",
	"\t\t\treturn kind\n",
	"\t\tend\n",
	"\t\t-- one pass over the ops; returns true if the session ended\n",
	"\t\tlocal function pass()\n",
	"\t\t\tfor i, op in ipairs(ops) do\n",
	"\t\t\t\tif op.send then\n",
	"\t\t\t\t\tif op.save then\n",
	"\t\t\t\t\t\t-- the SAVE read to its end\n",
	"\t\t\t\t\t\tlocal p, got = last_peer(false), {}\n",
	"\t\t\t\t\t\tlocal dl = t:now_ms() + TIMEOUT\n",
	"\t\t\t\t\t\twhile p and t:now_ms() < dl do\n",
	"\t\t\t\t\t\t\tlocal b, why = p.fd:read(65536, 10)\n",
	"\t\t\t\t\t\t\tif b then\n",
	"\t\t\t\t\t\t\t\tgot[#got + 1] = b\n",
	"\t\t\t\t\t\t\telseif why ~= \"timeout\" then\n",
	"\t\t\t\t\t\t\t\tbreak\n",
	"\t\t\t\t\t\t\tend\n",
	"\t\t\t\t\t\tend\n",
	"\t\t\t\t\t\tsaved = table.concat(got)\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\t\tif op.check then\n",
	"\t\t\t\t\t\t-- the transfer is over on our side\n",
	"\t\t\t\t\t\tfor _, p in ipairs(peers) do\n",
	"\t\t\t\t\t\t\tp.fd:close()\n",
	"\t\t\t\t\t\t\tp.closed = true\n",
	"\t\t\t\t\t\tend\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\t\tlocal fds, npeers = {}, #peers\n",
	"\t\t\t\t\tfor _, k in ipairs(op.fds) do\n",
	"\t\t\t\t\t\tfds[#fds + 1] = make(k)\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\t\tlocal o = { fds = fds, timeout = TIMEOUT }\n",
	"\t\t\t\t\tif op.split then\n",
	"\t\t\t\t\t\to.split = { op.split }\n",
	"\t\t\t\t\t\to.fds_on = 2\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\t\tlocal extra = op.nrep\n",
	"\t\t\t\t\tif op.reply then\n",
	"\t\t\t\t\t\tlocal kind, rep, detail = t:react(op.send, o)\n",
	"\t\t\t\t\t\textra = extra - 1\n",
	"\t\t\t\t\t\tif kind == \"hangup\" then\n",
	"\t\t\t\t\t\t\treturn true\n",
	"\t\t\t\t\t\telseif kind == \"timeout\" then\n",
	"\t\t\t\t\t\t\tif KIND == \"missing-reply\" and i == AT then\n",
	"\t\t\t\t\t\t\t\tfired(i, \"a reply (REPLY_ACK: need_reply \" ..\n",
	"\t\t\t\t\t\t\t\t      \"set)\", detail)\n",
	"\t\t\t\t\t\t\tend\n",
	"\t\t\t\t\t\t\tif KIND == \"hang\" and i == AT then\n",
	"\t\t\t\t\t\t\t\tprobe(true)\n",
	"\t\t\t\t\t\t\tend\n",
	"\t\t\t\t\t\t\treturn true\n",
	"\t\t\t\t\t\telseif kind == \"malformed\" and\n",
	"\t\t\t\t\t\t       KIND == \"bad-reply\" then\n",
	"\t\t\t\t\t\t\tfired(i, \"a well-formed reply\", detail)\n",
	"\t\t\t\t\t\telseif op.fail and REFUSED[KIND] and\n",
	"\t\t\t\t\t\t       (kind == \"ack\" or kind == \"reply\") then\n",
	"\t\t\t\t\t\t\tfired(i, \"a refusal (non-zero ack) or a \" ..\n",
	"\t\t\t\t\t\t\t      \"hang-up\", detail)\n",
	"\t\t\t\t\t\telseif op.save_bad and rep and rep.u64 == 0 and\n",
	"\t\t\t\t\t\t       KIND == \"failed-save-checked-ok\" then\n",
	"\t\t\t\t\t\t\tfired(i, \"a non-zero status: the SAVE went \" ..\n",
	"\t\t\t\t\t\t\t      \"to an fd that fails writes\", detail)\n",
	"\t\t\t\t\t\telseif op.save and rep and rep.u64 == 0 then\n",
	"\t\t\t\t\t\t\t-- SAVEs: the same bytes twice, loaded\n",
	"\t\t\t\t\t\t\tif loaded and KIND == \"state-loaded-differs\" and\n",
	"\t\t\t\t\t\t\t   saved ~= stable then\n",
	"\t\t\t\t\t\t\t\tfired(i, (\"the %d bytes loaded, saved \" ..\n",
	"\t\t\t\t\t\t\t\t      \"again\"):format(#stable),\n",
	"\t\t\t\t\t\t\t\t      (\"%d other bytes\"):format(#saved))\n",
	"\t\t\t\t\t\t\telseif not loaded and saved == last then\n",
	"\t\t\t\t\t\t\t\tstable = saved\n",
	"\t\t\t\t\t\t\tend\n",
	"\t\t\t\t\t\t\tlast, loaded = saved, false\n",
	"\t\t\t\t\t\telseif op.loadcheck and rep and rep.u64 == 0 then\n",
	"\t\t\t\t\t\t\tloaded = fed\n",
	"\t\t\t\t\t\telseif op.call and kind == \"nack\" and\n",
	"\t\t\t\t\t\t       KIND == \"call-fd-refused\" then\n",
	"\t\t\t\t\t\t\tfired(i, \"ack 0\", detail)\n",
	"\t\t\t\t\t\tend\n",
	"\t\t\t\t\t\t-- the used idx a GET_VRING_BASE answer froze\n",
	"\t\t\t\t\t\tif MCHECK and MCHECK.u16 and rep and\n",
	"\t\t\t\t\t\t   string.unpack(\"<I4\", op.send) == 11 then\n",
	"\t\t\t\t\t\t\tstop_val = string.unpack(\"<I2\",\n",
	"\t\t\t\t\t\t\t        guest():read(MCHECK.u16, 2))\n",
	"\t\t\t\t\t\tend\n",
	"\t\t\t\t\t\tif i == AT then\n",
	"\t\t\t\t\t\t\tmodel(i, rep)\n",
	"\t\t\t\t\t\tend\n",

	"\t\t\t\t\telseif not t:send_bytes(op.send, o) then\n",
	"\t\t\t\t\t\treturn true\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\t\tif op.widow then\n",
	"\t\t\t\t\t\t-- our ends of a back-end channel go at once\n",
	"\t\t\t\t\t\tfor j = npeers + 1, #peers do\n",
	"\t\t\t\t\t\t\tpeers[j].fd:close()\n",
	"\t\t\t\t\t\t\tpeers[j].closed = true\n",
	"\t\t\t\t\t\tend\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\t\tif i == AT and (KIND == \"unsolicited-reply\" or\n",
	"\t\t\t\t\t                KIND == \"extra-reply\") then\n",
	"\t\t\t\t\t\tlocal m = t:recv{ timeout = 200 }\n",
	"\t\t\t\t\t\tif m then\n",
	"\t\t\t\t\t\t\tfired(i, op.reply and \"one reply\" or\n",
	"\t\t\t\t\t\t\t      \"no reply (none is due)\",\n",
	"\t\t\t\t\t\t\t      m.text or \"a message\")\n",
	"\t\t\t\t\t\tend\n",
	"\t\t\t\t\telseif op.maybe then\n",
	"\t\t\t\t\t\t-- an answer that may come and need not\n",
	"\t\t\t\t\t\tlocal _, why = t:recv{ timeout = 50 }\n",
	"\t\t\t\t\t\tif why == \"hangup\" then\n",
	"\t\t\t\t\t\t\treturn true\n",
	"\t\t\t\t\t\tend\n",
	"\t\t\t\t\telse\n",
	"\t\t\t\t\t\t-- answers a request that must fail may get\n",
	"\t\t\t\t\t\tfor _ = 1, extra do\n",
	"\t\t\t\t\t\t\tlocal m, why = t:recv{ timeout = TIMEOUT }\n",
	"\t\t\t\t\t\t\tif not m and why == \"hangup\" then\n",
	"\t\t\t\t\t\t\t\treturn true\n",
	"\t\t\t\t\t\t\tend\n",
	"\t\t\t\t\t\tend\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\telseif op.guest then\n",
	"\t\t\t\t\tguest():write(op.at, op.guest)\n",
	"\t\t\t\telseif op.kick then\n",
	"\t\t\t\t\tlocal e = eventfds[op.kick + 1]\n",
	"\t\t\t\t\tif e then\n",
	"\t\t\t\t\t\te:signal()\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\telseif op.close then\n",
	"\t\t\t\t\tlocal p = last_peer(false) or last_peer(true)\n",
	"\t\t\t\t\tif p then\n",
	"\t\t\t\t\t\tp.fd:close()\n",
	"\t\t\t\t\t\tp.closed = true\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\telseif op.feed then\n",
	"\t\t\t\t\tlocal p = last_peer(true)\n",
	"\t\t\t\t\tif p then\n",
	"\t\t\t\t\t\tlocal b = op.stable and stable or op.feed\n",
	"\t\t\t\t\t\tfed = op.stable and stable ~= nil\n",
	"\t\t\t\t\t\twhile #b > 0 do\n",
	"\t\t\t\t\t\t\tlocal n = p.fd:write(b)\n",
	"\t\t\t\t\t\t\tif not n then\n",
	"\t\t\t\t\t\t\t\tfed = false\n",
	"\t\t\t\t\t\t\t\tbreak\n",
	"\t\t\t\t\t\t\tend\n",
	"\t\t\t\t\t\t\tb = b:sub(n + 1)\n",
	"\t\t\t\t\t\tend\n",
	"\t\t\t\t\t\tp.fd:close()\n",
	"\t\t\t\t\t\tp.closed = true\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\telseif op.raw then\n",
	"\t\t\t\t\tif #op.raw > 0 then\n",
	"\t\t\t\t\t\tt:send_bytes(op.raw)\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\t\tt:shutdown(\"write\")\n",
	"\t\t\t\t\treturn true\n",
	"\t\t\t\tend\n",
	"\t\t\tend\n",
	"\t\t\treturn false\n",
	"\t\tend\n",
	"\n",
	"\t\tif KIND == \"fd-leak\" and not t:has_process() then\n",
	"\t\t\tt:skip(\"fd counts need a target process\")\n",
	"\t\tend\n",
	"\t\tlocal pid0 = t:has_process() and t:pid()\n",
	"\t\tlocal n0\n",
	"\t\tif KIND == \"fd-leak\" then\n",
	"\t\t\t-- counted once the daemon surely holds our connection\n",
	"\t\t\t-- and has let go of any earlier one: the least of a few\n",
	"\t\t\tprobe(false)\n",
	"\t\t\tn0 = t:fd_count()\n",
	"\t\t\tfor _ = 1, 5 do\n",
	"\t\t\t\tt:sleep(20)\n",
	"\t\t\t\tn0 = math.min(n0, t:fd_count())\n",
	"\t\t\tend\n",
	"\t\tend\n",
	"\t\tlocal hung = pass()\n",
	"\t\tif not hung then\n",
	"\t\t\thung = probe(true) ~= \"reply\"\n",
	"\t\t\tif not hung and AT == 0 then\n",
	"\t\t\t\tmodel(#ops)\n",
	"\t\t\tend\n",
	"\t\tend\n",
	"\t\tif KIND == \"fd-leak\" and not hung then\n",
	"\t\t\t-- the same session again on this connection: what it\n",
	"\t\t\t-- leaks adds up, what it holds legitimately is replaced\n",
	"\t\t\tlocal n1 = t:fd_count()\n",
	"\t\t\tfor _ = 2, 4 do\n",
	"\t\t\t\tif pass() or probe(false) ~= \"reply\" then\n",
	"\t\t\t\t\tt:note(\"the session ended early: cannot judge\")\n",
	"\t\t\t\t\treturn\n",
	"\t\t\t\tend\n",
	"\t\t\tend\n",
	"\t\t\tlocal n4 = t:fd_count()\n",
	"\t\t\tif n4 - n1 >= 3 then\n",
	"\t\t\t\tfired(#ops, \"no fd kept per repetition of the session\",\n",
	"\t\t\t\t      (\"%d fds after one pass, %d after four\"):format(\n",
	"\t\t\t\t      n1, n4))\n",
	"\t\t\tend\n",
	"\t\telseif KIND == \"fd-leak\" then\n",
	"\t\t\t-- it hung up: a daemon that outlives the connection must\n",
	"\t\t\t-- be back to its fd count (run with --reuse)\n",
	"\t\t\tt:restart()\n",
	"\t\t\tif t:pid() ~= pid0 then\n",
	"\t\t\t\tt:note(\"a new process: cannot judge (run with --reuse \" "
	"..\n",
	"\t\t\t\t       \"and a daemon that serves reconnects)\")\n",
	"\t\t\t\treturn\n",
	"\t\t\tend\n",
	"\t\t\tprobe(false) -- it holds the new connection now\n",
	"\t\t\tlocal n = t:fd_count()\n",
	"\t\t\tfor _ = 1, 30 do\n",
	"\t\t\t\tif n <= n0 then\n",
	"\t\t\t\t\tbreak\n",
	"\t\t\t\tend\n",
	"\t\t\t\tt:sleep(10)\n",
	"\t\t\t\tn = t:fd_count()\n",
	"\t\t\tend\n",
	"\t\t\tif n > n0 then\n",
	"\t\t\t\tfired(#ops, \"the fds of the session released\",\n",
	"\t\t\t\t      (\"%d fds before, %d after\"):format(n0, n))\n",
	"\t\t\tend\n",
	"\t\tend\n",
	"\t\tif t:has_process() and t:pid() == pid0 then\n",
	"\t\t\t-- a crash may come a moment later (a kicked ring)\n",
	"\t\t\tlocal st = t:wait_exit((hung or KIND == \"crash\" or\n",
	"\t\t\t                        KIND == \"sanitizer\") and 1000 or 0)\n",
	"\t\t\tlocal err = t:stderr() or \"\"\n",
	"\t\t\tif KIND == \"sanitizer\" and\n",
	"\t\t\t   (err:find(\"ERROR: %a*Sanitizer\") or\n",
	"\t\t\t    err:find(\"runtime error:\")) then\n",
	"\t\t\t\tfired(#ops, \"no sanitizer report\", err:match(\n",
	"\t\t\t\t      \"[^\\n]*Sanitizer[^\\n]*\") or \"runtime error\")\n",
	"\t\t\tend\n",
	"\t\t\tif st and st:match(\"^signal\") then\n",
	"\t\t\t\tfired(#ops, \"no crash\", \"the target was killed by \" ..\n",
	"\t\t\t\t      st)\n",
	"\t\t\tend\n",
	"\t\tend\n",
	"\tend,\n",
	NULL,
};

/* MCHECK: what a ring-model oracle re-checks where it fired (or nil). */
static void fz_put_check(FILE *f, const struct seqmodel_check *c)
{
	unsigned int i;

	switch (c->kind) {
	case SEQMODEL_CHECK_U16_EQ:
		fprintf(f, "local MCHECK = { u16 = %llu, val = %u }\n",
			(unsigned long long)c->off, c->val);
		break;
	case SEQMODEL_CHECK_U32_MAX:
		fprintf(f, "local MCHECK = { u32max = %llu, val = %u }\n",
			(unsigned long long)c->off, c->val);
		break;
	case SEQMODEL_CHECK_BASE_IN:
		fprintf(f, "local MCHECK = { bases = {");
		for (i = 0; i < c->nset && i < ARRAY_SIZE(c->set); i++)
			fprintf(f, "%s%u", i ? ", " : " ", c->set[i]);
		fprintf(f, " } }\n");
		break;
	case SEQMODEL_CHECK_CONFIG:
		fprintf(f, "local MCHECK = { config = ");
		outputs_lua_str(f, c->bytes,
				VUC_MIN(c->nbytes, sizeof(c->bytes)));
		fprintf(f, " }\n");
		break;
	case SEQMODEL_CHECK_U8_EQ:
		fprintf(f,
			"local MCHECK = { u8 = %llu, val = %u, idx = %llu, "
			"idxval = %u }\n",
			(unsigned long long)c->off, c->val,
			(unsigned long long)c->off2, c->val2);
		break;
	case SEQMODEL_CHECK_USED_HEAD:
		fprintf(f,
			"local MCHECK = { used = %llu, head = %u, from = %u, "
			"num = %u, max = %u }\n",
			(unsigned long long)c->off, c->val, c->val2, c->num,
			c->max);
		break;
	default:
		fprintf(f, "local MCHECK = nil\n");
		break;
	}
}

static int fz_write_lua(const char *path, const struct fz_report *r,
			struct seq_op *op)
{
	struct seq_in cur = { r->input, r->len };
	const char *spec = "vhost-user#communication", *level = "ROBUST";
	const char *quote = fz_robust_quote;
	char tok[48];
	unsigned int i, k;
	FILE *f = fopen(path, "we");
	int ret = 0;

	if (!f)
		return -errno;
	for (i = 0; i < ARRAY_SIZE(fz_kinds); i++) {
		if (!strcmp(fz_kinds[i].kind, r->v->kind)) {
			spec = fz_kinds[i].spec;
			level = fz_kinds[i].level;
			quote = fz_kinds[i].quote;
		}
	}
	fprintf(f, "-- vu-conform fuzz reproducer: %s\n", r->v->sig);
	outputs_lua_comment(
		f, "what fired: ", r->v->what[0] ? r->v->what : r->v->kind);
	fprintf(f, "-- found against: %s\n", r->target_text);
	fprintf(f, "-- run: vu-conform run THIS.lua --target '...' "
		   "(--reuse for a daemon that serves\n-- reconnects; "
		   "--strict makes a SHOULD-level FAIL fail the run)\n");
	fprintf(f,
		"-- FAILs while the finding reproduces, PASSes once it is "
		"fixed.\n-- Details: %s.txt\n\n",
		r->v->sig);
	fprintf(f, "local KIND = \"%s\"\n", r->v->kind);
	fprintf(f, "local AT = %d -- the op where it fired (0: the session)\n",
		r->v->at + 1);
	fprintf(f, "local TIMEOUT = 1000\n");
	fz_put_check(f, &r->v->check);
	fprintf(f, "local ops = {\n");
	seq_u8(&cur);
	for (i = 0; i < SEQ_MAX_OPS && seq_next(&cur, r->input, op, 0); i++) {
		const struct fz_rec *rec = &r->rec[i];
		uint8_t buf[VHOST_USER_MSG_MAX];

		if (!rec->sent)
			break;
		switch (op->kind) {
		case SEQ_MSG:
		case SEQ_SPLIT:
			memcpy(buf, &op->m.hdr, VHOST_USER_HDR_SIZE);
			memcpy(buf + VHOST_USER_HDR_SIZE, op->m.payload,
			       op->wire_len - VHOST_USER_HDR_SIZE);
			fprintf(f, "\t{ send = ");
			outputs_lua_str(f, buf, op->wire_len);
			fprintf(f, ",\n\t  fds = {");
			for (k = 0; k < rec->nfds; k++)
				fprintf(f, "%s\"%s\"", k ? ", " : " ",
					fz_fd_token(rec->fdk, tok,
						    sizeof(tok)));
			fprintf(f, "%s},", rec->nfds ? " " : "");
			if (op->kind == SEQ_SPLIT && op->wire_len > 1)
				fprintf(f, " split = %zu,",
					1 + op->cut % (op->wire_len - 1));
			if (op->m.hdr.request == VHOST_USER_CHECK_DEVICE_STATE)
				fprintf(f, " check = true,%s%s%s",
					rec->save_bad ? " save_bad = true,"
						      : "",
					rec->st_save ? " save = true," : "",
					rec->st_loadcheck ? " loadcheck = true,"
							  : "");
			if (rec->widow)
				fprintf(f, " widow = true,");
			fprintf(f,
				" reply = %s, fail = %s, call = %s, "
				"maybe = %s, nrep = %u },\n",
				rec->expect ? "true" : "false",
				rec->fail ? "true" : "false",
				rec->call_legal ? "true" : "false",
				rec->maybe ? "true" : "false", rec->nrep);
			break;
		case SEQ_KICK:
			fprintf(f, "\t{ kick = %u },\n", op->n % 8);
			break;
		case SEQ_CLOSE:
			fprintf(f, "\t{ close = true },\n");
			break;
		case SEQ_FEED:
			fprintf(f, "\t{ feed = ");
			outputs_lua_str(f, buf, seq_op_data(op, buf));
			fprintf(f, "%s },\n",
				rec->st_feed ? ", stable = true" : "");
			break;
		case SEQ_RAW:
			fprintf(f, "\t{ raw = ");
			outputs_lua_str(f, buf, seq_op_data(op, buf));
			fprintf(f, " },\n");
			break;
		case SEQ_GUEST:
			fprintf(f, "\t{ at = %u, guest = ", op->n);
			outputs_lua_str(f, buf, seq_op_data(op, buf));
			fprintf(f, " },\n");
			break;
		case SEQ_SHRINK:
			fprintf(f, "\t{ note = \"%s: not replayed here\" },\n",
				fz_op_name(op->kind));
			break;
		}
	}
	fprintf(f, "}\n\ncase {\n");
	fprintf(f, "\tid = \"fuzz/%s\",\n", r->v->sig);
	fprintf(f, "\tspec = \"%s\",\n", spec);
	fprintf(f, "\tlevel = \"%s\",\n", level);
	fprintf(f, "\tquote = [[%s]],\n", quote);
	fprintf(f, "\tprotocol = \"vhost-user\",\n");
	fprintf(f, "\tneeds = { handshake = false },\n");
	for (i = 0; fz_lua_body[i]; i++)
		fputs(fz_lua_body[i], f);
	fprintf(f, "}\n");
	if (ferror(f))
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

int fz_write_files(const char *dir, const char *sig, const uint8_t *in,
		   size_t n,
		   int (*write)(const char *path, bool lua, const void *r),
		   const void *r)
{
	char path[4096];
	int ret;

	snprintf(path, sizeof(path), "%s/%s.bin", dir, sig);
	ret = outputs_write_file(path, in, n);
	if (ret >= 0) {
		snprintf(path, sizeof(path), "%s/%s.txt", dir, sig);
		ret = write(path, false, r);
	}
	if (ret >= 0) {
		snprintf(path, sizeof(path), "%s/%s.lua", dir, sig);
		ret = write(path, true, r);
	}
	return ret;
}

static int fz_write_one(const char *path, bool lua, const void *r)
{
	static struct seq_op op; /* the decoder's scratch */

	return lua ? fz_write_lua(path, r, &op) : fz_write_txt(path, r, &op);
}

int fz_write_finding(const char *dir, const struct fz_report *r)
{
	return fz_write_files(dir, r->v->sig, r->input, r->len, fz_write_one,
			      r);
}

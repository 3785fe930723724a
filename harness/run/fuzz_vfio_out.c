// SPDX-License-Identifier: MIT
/*
 * fuzz_vfio_out.c - the files of one `vu-conform fuzz --protocol vfio-user`
 * finding: the input (SIG.bin, which fuzz/vfio_server.c reads too), its
 * description (SIG.txt) and a reproducer case for `vu-conform run`
 * (SIG.lua) that FAILs while the finding reproduces and PASSes once it is
 * fixed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "fe/vseq.h"
#include "run/fuzz_int.h"
#include "run/outputs.h"

/* How the reproducer judges each kind: spec anchor, level, quote. */
static const struct {
	const char *kind;
	const char *spec;
	const char *level;
	const char *quote;
} fv_kinds[] = {
	{ VSEQ_ORACLE_BAD_REPLY, "vfio-user#header", "MUST",
	  "Each command message in Commands_ must be replied to with a reply "
	  "message,\nunless the message sets the *No_Reply* bit.  The reply "
	  "consists of the header\nwith the *Reply* bit set, plus any "
	  "additional data." },
	{ VSEQ_ORACLE_EXTRA_REPLY, "vfio-user#header", "MUST",
	  "Each command message in Commands_ must be replied to with a reply "
	  "message,\nunless the message sets the *No_Reply* bit." },
	{ VSEQ_ORACLE_MISSING_REPLY, "vfio-user#header", "MUST",
	  "Each command message in Commands_ must be replied to with a reply "
	  "message,\nunless the message sets the *No_Reply* bit." },
	{ VSEQ_ORACLE_UNSOLICITED, "vfio-user#header", "MUST",
	  "*  *Reply* (value 0x1) indicates a reply message acknowledging a "
	  "previous\n       command with the same message ID." },
	{ VSEQ_ORACLE_BODY_ANSWERED, "vfio-user#header", "MUST",
	  "* *Message size* contains the size of the entire message, "
	  "including the header." },
	{ VSEQ_ORACLE_REFUSED_OK, "vfio-user#header", "MUST",
	  "* *Error* in a reply message indicates the command being "
	  "acknowledged had\n    an error. In this case, the *Error* field "
	  "will be valid." },
	{ VSEQ_ORACLE_OVERLAP, "vfio-user#vfio-user-dma-map", "MUST",
	  "explained in `Read and Write Operations`_. A command to map over "
	  "an existing\nregion must be failed by the server with ``EEXIST`` "
	  "set in error field in the\nreply." },
	{ VSEQ_ORACLE_UNMAP, "vfio-user#vfio-user-dma-unmap", "MUST",
	  "The address and size of the DMA region being unmapped must match "
	  "exactly a\nprevious mapping." },
	{ VSEQ_ORACLE_IRQ_RANGE, "vfio-user#vfio-user-device-set-irqs", "MUST",
	  "* *start* is the start of the sub-index being set.\n* *count* "
	  "describes the number of sub-indexes being set." },
	{ VSEQ_ORACLE_XFER, "vfio-user#read-and-write-operations", "MUST",
	  "The ``count`` field must not exceed the value of "
	  "``max_data_xfer_size`` of the\npeer, for both reads and writes." },
	{ VSEQ_ORACLE_DMA_XFER, "vfio-user#read-and-write-operations", "MUST",
	  "The ``count`` field must not exceed the value of "
	  "``max_data_xfer_size`` of the\npeer, for both reads and writes." },
	{ VSEQ_ORACLE_DMA_RO, "vfio-user#vfio-user-dma-map", "MUST",
	  "  * *writeable* indicates that the region can be written to." },
	{ VSEQ_ORACLE_DMA_FD, "vfio-user#vfio-user-dma-map", "SHOULD",
	  "must be passed as ``SCM_RIGHTS`` type ancillary data.  Otherwise, "
	  "if the DMA\nregion cannot be directly mapped by the server, no file "
	  "descriptor must be sent\nas part of the message meta-data and the "
	  "DMA region can be accessed by the\nserver using "
	  "``VFIO_USER_DMA_READ`` and ``VFIO_USER_DMA_WRITE`` messages," },
	{ VSEQ_ORACLE_MIG_ARC, "vfio-user#direct-state-transitions", "SHOULD",
	  "The ``STOP_COPY -> PRE_COPY`` transition is explicitly not allowed "
	  "and should\nreturn an error if requested." },
	{ VSEQ_ORACLE_INFO_REFUSED, "vfio-user#header", "MUST",
	  "Each command message in Commands_ must be replied to with a reply "
	  "message,\nunless the message sets the *No_Reply* bit." },
};

static const char fv_robust_quote[] =
	"Each command message in Commands_ must be replied to with a reply "
	"message,\nunless the message sets the *No_Reply* bit.";

static int fv_close(FILE *f, int ret)
{
	if (ferror(f) && !ret)
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

static int fv_write_txt(const char *path, const struct fz_vreport *r,
			struct vseq_op *op)
{
	struct seq_in cur = { r->input, r->len };
	uint8_t wire[VFIO_USER_HDR_SIZE + VSEQ_MAX_PAYLOAD];
	char text[768], tok[32];
	unsigned int i;
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fprintf(f, "finding: %s\nwhat fired: %s\n", r->v->sig, r->v->what);
	if (r->v->at < 0)
		fprintf(f, "at: the session\n");
	else
		fprintf(f, "at: op %d\n", r->v->at + 1);
	fprintf(f, "target: %s\n", r->target_text);
	fprintf(f, "input: %zu bytes (minimised from %zu in %u runs)\n\n",
		r->len, r->orig_len, r->tries);
	vseq_skip_setup(&cur);
	for (i = 0; i < VSEQ_MAX_OPS &&
		    vseq_next(&cur, r->input, op, (uint16_t)(i + 1));
	     i++) {
		const struct fz_vrec *rec = &r->rec[i];
		struct vfio_user_msg m;

		fprintf(f, "op %u%s: ", i + 1, rec->sent ? "" : " (not sent)");
		switch (op->kind) {
		case VSEQ_MSG:
			vfio_user_msg_init(&m);
			vseq_op_wire(op, wire);
			m.hdr = op->hdr;
			m.payload = wire + VFIO_USER_HDR_SIZE;
			m.payload_len = op->payload_len;
			vfio_user_describe(&m, text, sizeof(text));
			fprintf(f, "%s%s%s\n", text,
				op->flags & VSEQ_F_SPLIT ? " [split]" : "",
				op->hdr.msg_size != VFIO_USER_HDR_SIZE +
							    op->payload_len
					? " [msg_size lies]"
					: "");
			if (rec->nfds)
				fprintf(f, "  fds: %u x %s\n", rec->nfds,
					vseq_fdk_token((enum vseq_fdk)rec->fdk,
						       tok, sizeof(tok)));
			fprintf(f,
				"  %s, %u repl%s, %u DMA request%s served%s\n",
				rec->due ? "reply due" : "no reply due",
				rec->nrep, rec->nrep == 1 ? "y" : "ies",
				rec->ndma, rec->ndma == 1 ? "" : "s",
				rec->in_body ? ", inside an earlier body" : "");
			break;
		case VSEQ_RAW:
			fprintf(f, "RAW %zu bytes, then a hang-up\n",
				op->data_want);
			break;
		case VSEQ_SHRINK:
			fprintf(f, "SHRINK the last memfd to %u bytes\n",
				op->n * 256);
			break;
		case VSEQ_CLOSE:
			fprintf(f, "CLOSE our end of the last pipe / socket\n");
			break;
		}
	}
	if (r->stderr_tail && r->stderr_tail[0])
		fprintf(f, "\nthe target's stderr (tail):\n%s\n",
			r->stderr_tail);
	return fv_close(f, 0);
}

static const char *const fv_lua_body[] = {
	"\trun = function(t)\n",
	"\t\tlocal keep, peers = {}, {}\n",
	"\t\tlocal function make(k)\n",
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
	"\t\t\tif b then\n",
	"\t\t\t\tkeep[#keep + 1] = b\n",
	"\t\t\t\tpeers[#peers + 1] = b\n",
	"\t\t\tend\n",
	"\t\t\treturn a\n",
	"\t\tend\n",
	"\t\tlocal function fired(i, expected, actual)\n",
	"\t\t\tt:fail{ expected = expected,\n",
	"\t\t\t        actual = (\"op %d: %s\"):format(i, actual) }\n",
	"\t\tend\n",
	"\t\tlocal REFUSED = { [\"refused-command-succeeded\"] = true,\n",
	"\t\t                  [\"irq-range-succeeded\"] = true,\n",
	"\t\t                  [\"xfer-above-max-served\"] = true,\n",
	"\t\t                  [\"inexact-unmap-succeeded\"] = true,\n",
	"\t\t                  [\"stop-copy-to-pre-copy-succeeded\"] = true "
	"}\n",
	"\t\tlocal REACT = { [\"bad-reply\"] = true,\n",
	"\t\t                [\"overlap-not-eexist\"] = true,\n",
	"\t\t                [\"device-info-refused\"] = true }\n",
	"\t\tfor k in pairs(REFUSED) do\n",
	"\t\t\tREACT[k] = true\n",
	"\t\tend\n",
	"\t\tlocal WATCHED = { [\"extra-reply\"] = true,\n",
	"\t\t                  [\"unsolicited-reply\"] = true,\n",
	"\t\t                  [\"body-answered\"] = true }\n",
	"\t\tlocal function inside(list, addr, count)\n",
	"\t\t\tfor _, r in ipairs(list) do\n",
	"\t\t\t\tif addr >= r[1] and count <= r[2] and\n",
	"\t\t\t\t   addr - r[1] <= r[2] - count then\n",
	"\t\t\t\t\treturn true\n",
	"\t\t\t\tend\n",
	"\t\t\tend\n",
	"\t\t\treturn false\n",
	"\t\tend\n",
	"\t\t-- one message from the server: its DMA requests served (as\n",
	"\t\t-- the fuzzer did), watched replies judged; returns a reply\n",
	"\t\tlocal function take(m, i)\n",
	"\t\t\tif m.flags & 15 == 0 and (m.command == 11 or\n",
	"\t\t\t                          m.command == 12) then\n",
	"\t\t\t\tlocal addr, count = string.unpack(\"<I8I8\",\n",
	"\t\t\t\t\tm.payload .. string.rep(\"\\0\", 16))\n",
	"\t\t\t\tif KIND == \"dma-above-max-xfer\" and count > XFER then\n",
	"\t\t\t\t\tfired(i, \"DMA counts within our \" ..\n",
	"\t\t\t\t\t      \"max_data_xfer_size \" .. XFER, m.text)\n",
	"\t\t\t\tend\n",
	"\t\t\t\tlocal r = { command = m.command, msg_id = m.msg_id,\n",
	"\t\t\t\t            flags = 1 }\n",
	"\t\t\t\tif KIND == \"dma-request-for-fd-region\" and\n",
	"\t\t\t\t   inside(FDMAPS, addr, count) then\n",
	"\t\t\t\t\tfired(i, \"no DMA message for a region mapped \" ..\n",
	"\t\t\t\t\t      \"with an fd\", m.text)\n",
	"\t\t\t\tend\n",
	"\t\t\t\tif m.command == 12 and inside(RO, addr, count) then\n",
	"\t\t\t\t\tif KIND == \"dma-write-read-only\" then\n",
	"\t\t\t\t\t\tfired(i, \"no DMA_WRITE into a region \" ..\n",
	"\t\t\t\t\t\t      \"mapped read-only\", m.text)\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\t\tr.flags, r.error = 0x21, 1\n",
	"\t\t\t\telseif m.command == 12 then\n",
	"\t\t\t\t\tr.payload = string.pack(\"<I8I4\", addr, count)\n",
	"\t\t\t\telseif count <= 1048576 then\n",
	"\t\t\t\t\tr.payload = string.pack(\"<I8I8\", addr, count) ..\n",
	"\t\t\t\t\t            string.rep(\"\\0\", count)\n",
	"\t\t\t\telse\n",
	"\t\t\t\t\tr.flags, r.error = 0x21, 14\n",
	"\t\t\t\tend\n",
	"\t\t\t\tt:send(vfio.raw(r))\n",
	"\t\t\t\treturn nil\n",
	"\t\t\tend\n",
	"\t\t\tif m.flags & 15 == 0 and KIND == \"bad-server-request\" then\n",
	"\t\t\t\tfired(i, \"only DMA_READ / DMA_WRITE from the server\",\n",
	"\t\t\t\t      m.text or \"a command\")\n",
	"\t\t\tend\n",
	"\t\t\tif WATCHED[KIND] and m.msg_id == WATCH then\n",
	"\t\t\t\tfired(i, \"no reply with msg_id \" .. WATCH,\n",
	"\t\t\t\t      m.text or \"a reply\")\n",
	"\t\t\tend\n",
	"\t\t\treturn m\n",
	"\t\tend\n",
	"\t\tlocal function wait(id, i)\n",
	"\t\t\twhile true do\n",
	"\t\t\t\tlocal m, why = t:recv{ timeout = TIMEOUT }\n",
	"\t\t\t\tif not m then\n",
	"\t\t\t\t\treturn nil, why\n",
	"\t\t\t\tend\n",
	"\t\t\t\tlocal r = take(m, i)\n",
	"\t\t\t\tif r and r.msg_id == id then\n",
	"\t\t\t\t\treturn r\n",
	"\t\t\t\tend\n",
	"\t\t\tend\n",
	"\t\tend\n",
	"\t\tlocal PROBE = string.pack(\"<I2I2I4I4I4I4I4I4I4\", 0xffff, 4, 32, "
	"0,\n",
	"\t\t                          0, 16, 0, 0, 0)\n",
	"\t\tlocal function probe(judge)\n",
	"\t\t\tif not t:send_bytes(PROBE) then\n",
	"\t\t\t\treturn false\n",
	"\t\t\tend\n",
	"\t\t\tlocal m, why = wait(0xffff, #ops)\n",
	"\t\t\tif judge and KIND == \"hang\" and why == \"timeout\" then\n",
	"\t\t\t\tfired(#ops, \"an answer to DEVICE_GET_INFO after \" ..\n",
	"\t\t\t\t      \"the session\", \"none within \" .. TIMEOUT ..\n",
	"\t\t\t\t      \" ms\")\n",
	"\t\t\tend\n",
	"\t\t\treturn m ~= nil\n",
	"\t\tend\n",
	"\t\tlocal function judge(i, op, m)\n",
	"\t\t\tlocal sent = m.caps and vfio.caps_parse(op.send:sub(21))\n",
	"\t\t\tif KIND == \"bad-reply\" and sent and\n",
	"\t\t\t   ((m.caps.write_multiple and not sent.write_multiple) or\n",
	"\t\t\t    (m.caps.twin_socket and not sent.twin_socket)) then\n",
	"\t\t\t\t-- \"The capability list must be a subset of those\n",
	"\t\t\t\t-- proposed.\"\n",
	"\t\t\t\tfired(i, \"capabilities a subset of those proposed\",\n",
	"\t\t\t\t      m.text)\n",
	"\t\t\telseif REFUSED[KIND] and not m.is_error then\n",
	"\t\t\t\tfired(i, \"an error reply (the command must fail)\",\n",
	"\t\t\t\t      m.text)\n",
	"\t\t\telseif KIND == \"overlap-not-eexist\" and\n",
	"\t\t\t       (not m.is_error or m.error_name ~= \"EEXIST\") then\n",
	"\t\t\t\tfired(i, \"an error reply with EEXIST\", m.text)\n",
	"\t\t\telseif KIND == \"device-info-refused\" and m.is_error then\n",
	"\t\t\t\tfired(i, \"DEVICE_GET_INFO answered\", m.text)\n",
	"\t\t\tend\n",
	"\t\tend\n",
	"\t\t-- one pass over the ops; returns true if the session ended\n",
	"\t\tlocal function pass()\n",
	"\t\t\tfor i, op in ipairs(ops) do\n",
	"\t\t\t\tif op.send then\n",
	"\t\t\t\t\tlocal fds = {}\n",
	"\t\t\t\t\tfor _, k in ipairs(op.fds) do\n",
	"\t\t\t\t\t\tfds[#fds + 1] = make(k)\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\t\tlocal o = { fds = fds, timeout = TIMEOUT }\n",
	"\t\t\t\t\tif op.split then\n",
	"\t\t\t\t\t\to.split = { op.split }\n",
	"\t\t\t\t\t\to.fds_on = 2\n",
	"\t\t\t\t\t\to.delay_ms = 2\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\t\tlocal m, why\n",
	"\t\t\t\t\tif i == AT and REACT[KIND] and op.due and\n",
	"\t\t\t\t\t   op.ndma == 0 then\n",
	"\t\t\t\t\t\tlocal kind, r, detail = t:react(op.send, o)\n",
	"\t\t\t\t\t\tif kind == \"malformed\" and\n",
	"\t\t\t\t\t\t   KIND == \"bad-reply\" then\n",
	"\t\t\t\t\t\t\tfired(i, \"a well-formed reply\", detail)\n",
	"\t\t\t\t\t\tend\n",
	"\t\t\t\t\t\tif kind == \"hangup\" or kind == \"timeout\" then\n",
	"\t\t\t\t\t\t\treturn true\n",
	"\t\t\t\t\t\tend\n",
	"\t\t\t\t\t\tm = r and take(r, i)\n",
	"\t\t\t\t\telse\n",
	"\t\t\t\t\t\tif not t:send_bytes(op.send, o) then\n",
	"\t\t\t\t\t\t\treturn true\n",
	"\t\t\t\t\t\tend\n",
	"\t\t\t\t\t\tif op.due then\n",
	"\t\t\t\t\t\t\tm, why = wait(op.id, i)\n",
	"\t\t\t\t\t\t\tif not m then\n",
	"\t\t\t\t\t\t\t\tif i == AT and why == \"timeout\" and\n",
	"\t\t\t\t\t\t\t\t   KIND == \"missing-reply\" then\n",
	"\t\t\t\t\t\t\t\t\tfired(i, \"a reply\", \"none within \" ..\n",
	"\t\t\t\t\t\t\t\t\t      TIMEOUT .. \" ms\")\n",
	"\t\t\t\t\t\t\t\tend\n",
	"\t\t\t\t\t\t\t\tif i == AT and why == \"timeout\" and\n",
	"\t\t\t\t\t\t\t\t   KIND == \"hang\" then\n",
	"\t\t\t\t\t\t\t\t\tprobe(true)\n",
	"\t\t\t\t\t\t\t\tend\n",
	"\t\t\t\t\t\t\t\treturn true\n",
	"\t\t\t\t\t\t\tend\n",
	"\t\t\t\t\t\tend\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\t\tif m and i == AT then\n",
	"\t\t\t\t\t\tjudge(i, op, m)\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\telseif op.raw then\n",
	"\t\t\t\t\tif #op.raw > 0 then\n",
	"\t\t\t\t\t\tt:send_bytes(op.raw)\n",
	"\t\t\t\t\tend\n",
	"\t\t\t\t\tt:shutdown(\"write\")\n",
	"\t\t\t\t\treturn true\n",
	"\t\t\t\telseif op.close then\n",
	"\t\t\t\t\tlocal p = table.remove(peers)\n",
	"\t\t\t\t\tif p then\n",
	"\t\t\t\t\t\tp:close()\n",
	"\t\t\t\t\tend\n",
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
	"\t\t\t-- the least of a few counts, our connection held\n",
	"\t\t\tn0 = t:fd_count()\n",
	"\t\t\tfor _ = 1, 5 do\n",
	"\t\t\t\tt:sleep(20)\n",
	"\t\t\t\tn0 = math.min(n0, t:fd_count())\n",
	"\t\t\tend\n",
	"\t\tend\n",
	"\t\tlocal hung = pass()\n",
	"\t\tif not hung then\n",
	"\t\t\thung = not probe(true)\n",
	"\t\tend\n",
	"\t\tif KIND == \"fd-leak\" then\n",
	"\t\t\t-- the session three more times, a connection each, as\n",
	"\t\t\t-- the fuzzer ran it: what a session leaks adds up\n",
	"\t\t\tfor k = 2, 5 do\n",
	"\t\t\t\tt:restart()\n",
	"\t\t\t\tif t:pid() ~= pid0 then\n",
	"\t\t\t\t\tt:note(\"a new process: cannot judge (run with \" ..\n",
	"\t\t\t\t\t       \"--reuse and a server that serves \" ..\n",
	"\t\t\t\t\t       \"reconnects)\")\n",
	"\t\t\t\t\treturn\n",
	"\t\t\t\tend\n",
	"\t\t\t\tif k < 5 and not pass() then\n",
	"\t\t\t\t\tprobe(false)\n",
	"\t\t\t\tend\n",
	"\t\t\tend\n",
	"\t\t\tlocal n = t:fd_count()\n",
	"\t\t\tfor _ = 1, 30 do\n",
	"\t\t\t\tif n <= n0 then\n",
	"\t\t\t\t\tbreak\n",
	"\t\t\t\tend\n",
	"\t\t\t\tt:sleep(10)\n",
	"\t\t\t\tn = t:fd_count()\n",
	"\t\t\tend\n",
	"\t\t\tif n > n0 + 2 then\n",
	"\t\t\t\tfired(#ops, \"the fds of each session released\",\n",
	"\t\t\t\t      (\"%d fds before, %d after four sessions\"):format(\n",
	"\t\t\t\t      n0, n))\n",
	"\t\t\tend\n",
	"\t\tend\n",
	"\t\tif t:has_process() and t:pid() == pid0 then\n",
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

static int fv_write_lua(const char *path, const struct fz_vreport *r,
			struct vseq_op *op)
{
	struct seq_in cur = { r->input, r->len };
	const char *spec = "vfio-user#header", *level = "ROBUST";
	const char *quote = fv_robust_quote;
	uint8_t wire[VFIO_USER_HDR_SIZE + VSEQ_MAX_PAYLOAD];
	char tok[32];
	unsigned int i, k;
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	for (i = 0; i < ARRAY_SIZE(fv_kinds); i++) {
		if (!strcmp(fv_kinds[i].kind, r->v->kind)) {
			spec = fv_kinds[i].spec;
			level = fv_kinds[i].level;
			quote = fv_kinds[i].quote;
		}
	}
	fprintf(f, "-- vu-conform fuzz reproducer (vfio-user): %s\n",
		r->v->sig);
	outputs_lua_comment(
		f, "what fired: ", r->v->what[0] ? r->v->what : r->v->kind);
	fprintf(f, "-- found against: %s\n", r->target_text);
	fprintf(f, "-- run: vu-conform run THIS.lua --protocol vfio-user "
		   "--target '...' (--reuse\n-- for a server that serves "
		   "reconnects: fd leaks need it)\n");
	fprintf(f,
		"-- FAILs while the finding reproduces, PASSes once it is "
		"fixed.\n-- Details: %s.txt\n\n",
		r->v->sig);
	fprintf(f, "local KIND = \"%s\"\n", r->v->kind);
	fprintf(f, "local AT = %d -- the op where it fired (0: the session)\n",
		r->v->at + 1);
	fprintf(f,
		"local WATCH = %u -- the msg_id of a reply that must not "
		"come\n",
		r->watch_id);
	fprintf(f, "local XFER = %llu -- our max_data_xfer_size\n",
		(unsigned long long)r->client_xfer);
	fprintf(f,
		"local RO = { -- regions mapped read-only, message access\n");
	for (i = 0; i < r->nro; i++)
		fprintf(f, "\t{ 0x%llx, 0x%llx },\n",
			(unsigned long long)r->ro[2 * i],
			(unsigned long long)r->ro[2 * i + 1]);
	fprintf(f, "}\nlocal FDMAPS = { -- regions mapped with an fd\n");
	for (i = 0; i < r->nfdm; i++)
		fprintf(f, "\t{ 0x%llx, 0x%llx },\n",
			(unsigned long long)r->fdm[2 * i],
			(unsigned long long)r->fdm[2 * i + 1]);
	fprintf(f, "}\nlocal TIMEOUT = 1000\nlocal ops = {\n");
	vseq_skip_setup(&cur);
	for (i = 0; i < VSEQ_MAX_OPS &&
		    vseq_next(&cur, r->input, op, (uint16_t)(i + 1));
	     i++) {
		const struct fz_vrec *rec = &r->rec[i];
		size_t len;

		if (!rec->sent)
			break;
		switch (op->kind) {
		case VSEQ_MSG:
			len = vseq_op_wire(op, wire);
			fprintf(f, "\t{ id = %u, send = ", i + 1);
			outputs_lua_str(f, wire, len);
			fprintf(f, ",\n\t  fds = {");
			for (k = 0; k < rec->nfds; k++)
				fprintf(f, "%s\"%s\"", k ? ", " : " ",
					vseq_fdk_token((enum vseq_fdk)rec->fdk,
						       tok, sizeof(tok)));
			fprintf(f, "%s},", rec->nfds ? " " : "");
			if ((op->flags & VSEQ_F_SPLIT) && len > 1)
				fprintf(f, " split = %zu,",
					1 + op->cut % (len - 1));
			fprintf(f, " due = %s, ndma = %u },\n",
				rec->due ? "true" : "false", rec->ndma);
			break;
		case VSEQ_RAW:
			fprintf(f, "\t{ raw = ");
			outputs_lua_str(f, wire, vseq_op_raw(op, wire));
			fprintf(f, " },\n");
			break;
		case VSEQ_CLOSE:
			fprintf(f, "\t{ close = true },\n");
			break;
		case VSEQ_SHRINK:
			fprintf(f, "\t{ note = \"SHRINK: not replayed here\" "
				   "},\n");
			break;
		}
	}
	fprintf(f, "}\n\ncase {\n");
	fprintf(f, "\tid = \"fuzz/%s\",\n", r->v->sig);
	fprintf(f, "\tspec = \"%s\",\n", spec);
	fprintf(f, "\tlevel = \"%s\",\n", level);
	fprintf(f, "\tquote = [[%s]],\n", quote);
	fprintf(f, "\tprotocol = \"vfio-user\",\n");
	fprintf(f, "\tneeds = { handshake = false },\n");
	for (i = 0; fv_lua_body[i]; i++)
		fputs(fv_lua_body[i], f);
	fprintf(f, "}\n");
	return fv_close(f, 0);
}

static int fv_write_one(const char *path, bool lua, const void *r)
{
	static struct vseq_op op; /* the decoder's scratch */

	return lua ? fv_write_lua(path, r, &op) : fv_write_txt(path, r, &op);
}

int fz_vfio_write_finding(const char *dir, const struct fz_vreport *r)
{
	return fz_write_files(dir, r->v->sig, r->input, r->len, fv_write_one,
			      r);
}

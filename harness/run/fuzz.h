/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - `vu-conform fuzz`: black-box fuzzing of a real vhost-user
 * back-end over its socket.
 *
 * Each input is a session in the sequence format of fe/seq.h (the one the
 * in-process target fuzz/vhost_backend.c reads): messages with fds of
 * chosen kinds, size lies, split sends, raw bytes and a hang-up. Inputs
 * are mutated at the op level (insert, delete, duplicate, swap, a field, an
 * fd count or kind, a size lie, flag bits) and the byte level (bit flips,
 * interesting values, request codes), starting from the conformance
 * traces (corpus/vhost_backend/trace-*). Each session runs on a new
 * connection; the daemon is kept across sessions when it survives one
 * (--reuse), else launched per session.
 *
 * Oracles: death by a signal, a sanitizer report on its stderr, fds the
 * daemon keeps after a session (reuse: counted every N sessions once it
 * has settled, then confirmed session by session), a hang (no answer to a
 * probe within the deadline), and the wire oracles of seq_judge(). A
 * daemon that exits normally or hangs up is not a finding: it is
 * restarted or reconnected, and counted.
 *
 * Each finding is minimised (ddmin over the ops, then zeroing bytes)
 * against a live daemon and written to the output directory as
 * SIG.bin (the input), SIG.txt (decoded messages, what fired, the daemon's
 * stderr tail) and SIG.lua (a reproducer for `vu-conform run`).
 */
#ifndef VUC_RUN_FUZZ_H
#define VUC_RUN_FUZZ_H

/**
 * fuzz_main() - The `vu-conform fuzz` subcommand
 * @argc, @argv:	its arguments, argv[0] being "fuzz"
 * @prog:		the program's argv[0] (for messages and {bindir})
 *
 * Return: the exit status: 0 no finding, 1 findings, 2 setup error.
 */
int fuzz_main(int argc, char **argv, const char *prog);

#endif /* VUC_RUN_FUZZ_H */

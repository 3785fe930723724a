/* SPDX-License-Identifier: MIT */
/*
 * baseline.h - the reviewed list of expected verdicts a CI gate runs
 * against: the run fails only where a case differs from its line.
 *
 * Format, one case per line; blank lines and lines starting with '#' are
 * ignored:
 *
 *	CASE-ID  VERDICT  REASON...
 *
 * VERDICT is PASS, FAIL or SKIP (any case), or several of them joined by
 * '|' (FAIL|PASS) for a case whose outcome on this target is truly random
 * (an out-of-bounds write whose effect depends on the heap's layout): any
 * of them matches, and REASON should say why the outcome varies. REASON is
 * free text to the end of the line (why it is expected so: a bug number,
 * "not implemented"). --write-baseline writes this format from a run: one
 * verdict per line, except that a line with alternatives the run matched
 * (run with --baseline) is written back as it was.
 */
#ifndef VUC_RUN_BASELINE_H
#define VUC_RUN_BASELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "run/result.h"

struct baseline_entry {
	char *id;
	enum vuc_verdict verdict; /* the first one the line lists */
	char *reason;		  /* "" when the line has none */
	int line;
	bool used; /* a case of the run matched it */
	/* every verdict the line lists, as 1u << verdict; 0: verdict only */
	unsigned int accept;
};

struct baseline {
	struct baseline_entry *v;
	size_t n;
};

/**
 * baseline_load() - Read @path into @b
 * @err:	out: "FILE:LINE: what is wrong" (or the open error) on failure
 *
 * Return: the number of entries, or -errno from open / read (-ENOENT,
 * -EACCES, ...), -EBADMSG (a malformed line, an ERROR/XFAIL/XPASS verdict,
 * a verdict listed twice in one line, a duplicate id: @err says which),
 * -ENOMEM. On failure @b is empty.
 */
int baseline_load(struct baseline *b, const char *path, char *err,
		  size_t errcap);

/** baseline_find() - The entry for @id, or NULL. Marks it used. */
struct baseline_entry *baseline_find(struct baseline *b, const char *id);

/**
 * baseline_apply() - Compare @r (as the case and the watchdog judged it:
 * PASS, FAIL, SKIP or ERROR) with @e and set r->verdict and
 * r->baseline_diff
 *
 * A FAIL line turns FAIL into XFAIL and PASS into XPASS (a difference);
 * any other mismatch is a difference and keeps the verdict; ERROR stays
 * ERROR. A line with alternatives (FAIL|PASS) matches any of them: FAIL
 * becomes XFAIL, the others stay as they are; a verdict it does not list
 * is judged against its first one as above. r->baseline_reason gets the
 * line's reason.
 *
 * Return: 0 or -ENOMEM.
 */
int baseline_apply(const struct baseline_entry *e, struct vuc_result *r);

/**
 * baseline_write_line() - One line of a new baseline for a case and its
 * outcome: XFAIL is written FAIL and XPASS PASS; ERROR becomes a comment
 * (it is never expected).
 */
void baseline_write_line(FILE *f, const char *id, const struct vuc_result *r);

void baseline_free(struct baseline *b);

#endif /* VUC_RUN_BASELINE_H */

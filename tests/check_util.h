/* SPDX-License-Identifier: MIT */
/*
 * check_util.h - what every unit test shares: counting this process's open
 * fds (every test asserts it leaks none) and running a suite.
 */
#ifndef VUC_TESTS_CHECK_UTIL_H
#define VUC_TESTS_CHECK_UTIL_H

#include <check.h>
#include <dirent.h>
#include <stdlib.h>

/* Open fds of this process, not counting the one that reads the list. */
static inline int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

/* Run @s; the exit status main() returns. */
static inline int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif /* VUC_TESTS_CHECK_UTIL_H */

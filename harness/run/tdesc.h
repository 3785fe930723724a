/* SPDX-License-Identifier: MIT */
/*
 * tdesc.h - target descriptions (the .target files in targets/) and the shell-like
 * splitting of launch lines.
 *
 * A description is "key = value" lines; '#' starts a comment line:
 *
 *	name = qemu-storage-daemon (vhost-user-blk export)
 *	protocol = vhost-user		# or vfio-user
 *	device = blk			# net, blk, fs, generic, pci
 *	lifecycle = spawn		# or reuse (reconnect per case)
 *	launch = qemu-storage-daemon --export ...,addr.path={socket}
 *	connect-timeout = 5000		# ms, optional
 *	stop-timeout = 1000		# ms, optional
 *	notes = free text; repeat the key for more lines
 *
 * In `launch`, "{bindir}" is the directory of the running vu-conform
 * (where the bundled reference back-ends are built); "{socket}", "{fd}"
 * and "{dir}" are left for target.h. The program: a bare name is looked
 * up in PATH when launched; a relative path with a '/' is taken relative
 * to the description file's directory.
 */
#ifndef VUC_RUN_TDESC_H
#define VUC_RUN_TDESC_H

#include <stdbool.h>
#include <stddef.h>

#include "run/target.h"

struct tdesc {
	char *file;
	char *name;
	char *protocol; /* NULL: not said */
	char *device;	/* NULL: not said */
	bool reuse;	/* lifecycle = reuse */
	char **argv;	/* NULL-terminated */
	char *notes;	/* lines joined with '\n', or NULL */
	char **env;	/* "KEY=VALUE" lines, NULL-terminated, or NULL */
	int connect_ms; /* 0: not said */
	int reply_ms;	/* "timeout": the deadline of one reply; 0: not said */
	int stop_ms;
};

/**
 * tdesc_split() - Split @cmd into words the way a POSIX shell would, for
 * quoting only: '...' literal, "..." with \" \\ \$ \` escapes, a backslash
 * outside quotes escapes the next character. No expansion ($VAR, globs,
 * ~) and no operators.
 * @argv:	out: NULL-terminated, free with tdesc_argv_free()
 * @why:	out: what is wrong on -EBADMSG
 * Return: the number of words, -EBADMSG (an unterminated quote or a
 * trailing backslash), -ENOMEM.
 */
int tdesc_split(const char *cmd, char ***argv, const char **why);

void tdesc_argv_free(char **argv);

/**
 * tdesc_quote() - @s quoted for a POSIX shell (as is when it needs none)
 * Return: a new string, or NULL on ENOMEM.
 */
char *tdesc_quote(const char *s);

/**
 * tdesc_load() - Read the description @path
 * @bindir:	what "{bindir}" becomes
 * @err:	out: "FILE:LINE: what is wrong" on failure
 * Return: 0, -errno from open, -EBADMSG (unknown key, bad value, no
 * launch line), -ENOMEM. On failure @d is empty.
 */
int tdesc_load(struct tdesc *d, const char *path, const char *bindir, char *err,
	       size_t errcap);

void tdesc_free(struct tdesc *d);

#endif /* VUC_RUN_TDESC_H */

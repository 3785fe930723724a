// SPDX-License-Identifier: MIT
/*
 * tdesc.c - target description files and launch-line splitting.
 */
#include "run/tdesc.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void tdesc_argv_free(char **argv)
{
	size_t i;

	if (!argv)
		return;
	for (i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

static int argv_push(char ***argv, size_t *n, const char *w, size_t len)
{
	char **v = realloc(*argv, (*n + 2) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	*argv = v;
	v[*n] = strndup(w, len);
	if (!v[*n])
		return -ENOMEM;
	v[++*n] = NULL;
	return 0;
}

int tdesc_split(const char *cmd, char ***out, const char **why)
{
	size_t n = 0, len = 0;
	char **argv = NULL;
	bool in_word = false;
	char *w;
	int ret;

	*out = NULL;
	*why = NULL;
	w = malloc(strlen(cmd) + 1);
	argv = calloc(1, sizeof(*argv));
	if (!w || !argv) {
		ret = -ENOMEM;
		goto fail;
	}
	for (;;) {
		char c = *cmd;

		if (!c || isspace((unsigned char)c)) {
			if (in_word) {
				ret = argv_push(&argv, &n, w, len);
				if (ret < 0)
					goto fail;
			}
			in_word = false;
			len = 0;
			if (!c)
				break;
			cmd++;
			continue;
		}
		in_word = true;
		if (c == '\'') {
			const char *e = strchr(cmd + 1, '\'');

			if (!e) {
				*why = "unterminated ' quote";
				ret = -EBADMSG;
				goto fail;
			}
			memcpy(w + len, cmd + 1, (size_t)(e - cmd - 1));
			len += (size_t)(e - cmd - 1);
			cmd = e + 1;
		} else if (c == '"') {
			cmd++;
			while (*cmd && *cmd != '"') {
				if (*cmd == '\\' && cmd[1] &&
				    strchr("\"\\$`", cmd[1]))
					cmd++;
				w[len++] = *cmd++;
			}
			if (!*cmd) {
				*why = "unterminated \" quote";
				ret = -EBADMSG;
				goto fail;
			}
			cmd++;
		} else if (c == '\\') {
			if (!cmd[1]) {
				*why = "a backslash at the end";
				ret = -EBADMSG;
				goto fail;
			}
			w[len++] = cmd[1];
			cmd += 2;
		} else {
			w[len++] = c;
			cmd++;
		}
	}
	free(w);
	*out = argv;
	return (int)n;
fail:
	free(w);
	tdesc_argv_free(argv);
	return ret;
}

char *tdesc_quote(const char *s)
{
	size_t n = 3, i;
	char *out, *p;

	if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
			    "VWXYZ0123456789_-+=/.,:@%") == strlen(s))
		return strdup(s);
	for (i = 0; s[i]; i++)
		n += s[i] == '\'' ? 4 : 1;
	out = malloc(n);
	if (!out)
		return NULL;
	p = out;
	*p++ = '\'';
	for (i = 0; s[i]; i++) {
		if (s[i] == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else {
			*p++ = s[i];
		}
	}
	*p++ = '\'';
	*p = '\0';
	return out;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "{bindir}" in @s replaced: a new string. */
static char *expand_bindir(const char *s, const char *bindir)
{
	const char *k = strstr(s, "{bindir}");
	char *out;

	if (!k)
		return strdup(s);
	if (asprintf(&out, "%.*s%s%s", (int)(k - s), s, bindir, k + 8) < 0)
		return NULL;
	return out;
}

static int parse_ms(const char *v, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n <= 0 || n > INT_MAX)
		return -EBADMSG;
	*out = (int)n;
	return 0;
}

static int append_note(struct tdesc *d, const char *v)
{
	char *s;

	if (asprintf(&s, "%s%s%s", d->notes ? d->notes : "",
		     d->notes ? "\n" : "", v) < 0)
		return -ENOMEM;
	free(d->notes);
	d->notes = s;
	return 0;
}

/* The program of the launch line: "{bindir}", then the description's own
 * directory for a relative path with a '/'. */
static int resolve_program(struct tdesc *d, const char *path,
			   const char *bindir)
{
	char *prog, *dir, *slash;
	size_t i;

	for (i = 0; d->argv[i]; i++) {
		char *x = expand_bindir(d->argv[i], bindir);

		if (!x)
			return -ENOMEM;
		free(d->argv[i]);
		d->argv[i] = x;
	}
	prog = d->argv[0];
	if (prog[0] == '/' || !strchr(prog, '/'))
		return 0;
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash) {
		free(dir);
		return 0;
	}
	*slash = '\0';
	if (asprintf(&d->argv[0], "%s/%s", *dir ? dir : "/", prog) < 0) {
		d->argv[0] = prog;
		free(dir);
		return -ENOMEM;
	}
	free(prog);
	free(dir);
	return 0;
}

/* One more "KEY=VALUE" line; -ENOMEM. */
static int append_env(struct tdesc *d, const char *val)
{
	size_t n = 0;
	char **more;

	while (d->env && d->env[n])
		n++;
	more = realloc(d->env, (n + 2) * sizeof(*more));
	if (!more)
		return -ENOMEM;
	d->env = more;
	d->env[n] = strdup(val);
	d->env[n + 1] = NULL;
	return d->env[n] ? 0 : -ENOMEM;
}

int tdesc_load(struct tdesc *d, const char *path, const char *bindir, char *err,
	       size_t errcap)
{
	char *buf = NULL, *p, *key, *val, *eq, **dup;
	const char *why;
	size_t cap = 0;
	int ret = 0, line = 0;
	FILE *f;

	memset(d, 0, sizeof(*d));
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		snprintf(err, errcap, "%s: %s", path, strerror(-ret));
		return ret;
	}
	d->file = strdup(path);
	if (!d->file)
		goto nomem;
	while (getline(&buf, &cap, f) >= 0) {
		line++;
		p = trim(buf);
		if (!*p || *p == '#')
			continue;
		eq = strchr(p, '=');
		if (!eq) {
			snprintf(err, errcap, "%s:%d: expected \"key = value\"",
				 path, line);
			goto bad;
		}
		*eq = '\0';
		key = trim(p);
		val = trim(eq + 1);
		if (!strcmp(key, "name")) {
			free(d->name);
			if (!(d->name = strdup(val)))
				goto nomem;
		} else if (!strcmp(key, "protocol")) {
			if (strcmp(val, "vhost-user") &&
			    strcmp(val, "vfio-user")) {
				snprintf(err, errcap,
					 "%s:%d: protocol \"%s\" is not "
					 "vhost-user or vfio-user",
					 path, line, val);
				goto bad;
			}
			free(d->protocol);
			if (!(d->protocol = strdup(val)))
				goto nomem;
		} else if (!strcmp(key, "device")) {
			free(d->device);
			if (!(d->device = strdup(val)))
				goto nomem;
		} else if (!strcmp(key, "lifecycle")) {
			if (!strcmp(val, "spawn")) {
				d->reuse = false;
			} else if (!strcmp(val, "reuse")) {
				d->reuse = true;
			} else {
				snprintf(err, errcap,
					 "%s:%d: lifecycle \"%s\" is not spawn "
					 "or reuse",
					 path, line, val);
				goto bad;
			}
		} else if (!strcmp(key, "launch")) {
			ret = tdesc_split(val, &dup, &why);
			if (ret == -ENOMEM)
				goto nomem;
			if (ret <= 0) {
				snprintf(err, errcap, "%s:%d: launch: %s", path,
					 line, ret < 0 ? why : "empty command");
				goto bad;
			}
			tdesc_argv_free(d->argv);
			d->argv = dup;
		} else if (!strcmp(key, "connect-timeout") ||
			   !strcmp(key, "stop-timeout") ||
			   !strcmp(key, "timeout")) {
			int *ms = key[0] == 'c'	  ? &d->connect_ms
				  : key[1] == 't' ? &d->stop_ms
						  : &d->reply_ms;

			if (parse_ms(val, ms) < 0) {
				snprintf(err, errcap,
					 "%s:%d: %s \"%s\" is not a positive "
					 "number of ms",
					 path, line, key, val);
				goto bad;
			}
		} else if (!strcmp(key, "env")) {
			if (!strchr(val, '=') || val[0] == '=') {
				snprintf(err, errcap,
					 "%s:%d: env \"%s\" is not KEY=VALUE",
					 path, line, val);
				goto bad;
			}
			if (append_env(d, val) < 0)
				goto nomem;
		} else if (!strcmp(key, "notes")) {
			if (append_note(d, val) < 0)
				goto nomem;
		} else {
			snprintf(err, errcap, "%s:%d: unknown key \"%s\"", path,
				 line, key);
			goto bad;
		}
	}
	if (!d->argv) {
		snprintf(err, errcap, "%s: no \"launch = ...\" line", path);
		goto bad;
	}
	if (resolve_program(d, path, bindir) < 0)
		goto nomem;
	free(buf);
	fclose(f);
	return 0;
nomem:
	snprintf(err, errcap, "%s: out of memory", path);
	ret = -ENOMEM;
	goto out;
bad:
	ret = -EBADMSG;
out:
	free(buf);
	fclose(f);
	tdesc_free(d);
	return ret;
}

void tdesc_free(struct tdesc *d)
{
	free(d->file);
	free(d->name);
	free(d->protocol);
	free(d->device);
	tdesc_argv_free(d->argv);
	tdesc_argv_free(d->env);
	free(d->notes);
	memset(d, 0, sizeof(*d));
}

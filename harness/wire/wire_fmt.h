/* SPDX-License-Identifier: MIT */
/*
 * wire_fmt.h - the small vsnprintf() the wire layer formats its reasons
 * (why) and its one-line traces (describe) with.
 *
 * Why not vsnprintf(): every refusal names its rule in a formatted string,
 * and a fuzz target refuses most of what it is fed; under ASan the libc
 * formatter plus the sanitizer's printf interceptor was most of the time a
 * wire decoder took. This one handles the conversions the wire layer uses
 * (d i u x X c s %, flags # and 0, a width, length hh h l ll z j t) in one
 * pass; anything else (a precision, '*', '-', '+', ' ', %p, floats) goes to
 * vsnprintf() unchanged, so the result is always what vsnprintf() writes.
 *
 * Header-only and internal to harness/wire/ (the .c files include it).
 */
#ifndef VUC_WIRE_WIRE_FMT_H
#define VUC_WIRE_WIRE_FMT_H

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/*
 * No coverage instrumentation in here: the formatter's branches say
 * nothing about the input a fuzzer should learn from (the libc formatter
 * was not instrumented either), and counting every character it writes
 * cost more than the formatting itself.
 */
#if defined(__clang__)
#define WIRE_FMT_NOCOV __attribute__((no_sanitize("coverage")))
#else
#define WIRE_FMT_NOCOV
#endif

struct wire_fmt_out {
	char *buf;
	size_t cap;
	size_t len; /* as if nothing were cut */
};

/* @n bytes of @s: what fits (room for the NUL kept), all counted. */
static inline WIRE_FMT_NOCOV void wire_fmt_write(struct wire_fmt_out *o,
						 const char *s, size_t n)
{
	size_t room = o->len + 1 < o->cap ? o->cap - 1 - o->len : 0;

	if (room)
		memcpy(o->buf + o->len, s, n < room ? n : room);
	o->len += n;
}

static inline WIRE_FMT_NOCOV void wire_fmt_putc(struct wire_fmt_out *o, char c)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

static inline WIRE_FMT_NOCOV void wire_fmt_pad(struct wire_fmt_out *o, char c,
					       size_t n)
{
	while (n--)
		wire_fmt_putc(o, c);
}

static inline WIRE_FMT_NOCOV void wire_fmt_puts(struct wire_fmt_out *o,
						const char *s, size_t width)
{
	size_t n = strlen(s);

	if (width > n)
		wire_fmt_pad(o, ' ', width - n);
	wire_fmt_write(o, s, n);
}

/* One integer conversion: @neg with the magnitude @v. */
static inline WIRE_FMT_NOCOV void
wire_fmt_num(struct wire_fmt_out *o, uintmax_t v, bool neg, unsigned int base,
	     bool upper, bool alt, bool zero, size_t width)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[sizeof(uintmax_t) * 3 + 1];
	size_t n = 0, pre;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	/* "#" puts 0x before a non-zero hex value only */
	alt = alt && base == 16 && !(n == 1 && tmp[0] == '0');
	pre = (neg ? 1 : 0) + (alt ? 2 : 0);
	if (!zero && width > n + pre)
		wire_fmt_pad(o, ' ', width - n - pre);
	if (neg)
		wire_fmt_putc(o, '-');
	if (alt) {
		wire_fmt_putc(o, '0');
		wire_fmt_putc(o, upper ? 'X' : 'x');
	}
	if (zero && width > n + pre)
		wire_fmt_pad(o, '0', width - n - pre);
	while (n)
		wire_fmt_putc(o, tmp[--n]);
}

/*
 * wire_vfmt() - vsnprintf() into @buf of @cap bytes
 *
 * Return: the length the whole result has (what vsnprintf() returns); @buf
 * holds as much of it as fits, NUL-terminated when @cap > 0.
 */
static inline WIRE_FMT_NOCOV int wire_vfmt(char *buf, size_t cap,
					   const char *fmt, va_list ap)
{
	struct wire_fmt_out o = { buf, cap, 0 };
	const char *f;
	va_list orig;
	int ret;

	va_copy(orig, ap);
	for (f = fmt; *f; f++) {
		bool alt = false, zero = false, neg = false, sign;
		unsigned int lng = 0, shrt = 0, base = 10;
		size_t width = 0;
		uintmax_t v;
		intmax_t s;

		if (*f != '%') {
			/* the literal text up to the next conversion at once */
			const char *end = strchrnul(f, '%');

			wire_fmt_write(&o, f, (size_t)(end - f));
			f = end - 1;
			continue;
		}
		f++;
		for (;; f++) {
			if (*f == '#')
				alt = true;
			else if (*f == '0')
				zero = true;
			else
				break;
		}
		while (*f >= '0' && *f <= '9')
			width = width * 10 + (size_t)(*f++ - '0');
		for (;; f++) {
			if (*f == 'l' && lng < 2)
				lng++;
			else if (*f == 'h' && shrt < 2)
				shrt++;
			else if ((*f == 'z' || *f == 'j' || *f == 't') && !lng)
				lng = *f == 'z' ? 3 : *f == 'j' ? 4 : 5;
			else if (*f == 'l' || *f == 'h' || *f == 'z' ||
				 *f == 'j' || *f == 't')
				goto fallback;
			else
				break;
		}
		switch (*f) {
		case '%':
			if (alt || zero || width || lng || shrt)
				goto fallback;
			wire_fmt_putc(&o, '%');
			continue;
		case 'c':
			if (alt || zero || lng || shrt)
				goto fallback;
			wire_fmt_pad(&o, ' ', width > 1 ? width - 1 : 0);
			wire_fmt_putc(&o, (char)va_arg(ap, int));
			continue;
		case 's': {
			const char *str;

			if (alt || zero || lng || shrt)
				goto fallback;
			str = va_arg(ap, const char *);
			wire_fmt_puts(&o, str ? str : "(null)", width);
			continue;
		}
		case 'd':
		case 'i':
		case 'u':
		case 'x':
		case 'X':
			break;
		default:
			goto fallback;
		}
		sign = *f == 'd' || *f == 'i';
		if (*f == 'x' || *f == 'X')
			base = 16;
		else if (alt)
			goto fallback;
		if (lng && shrt)
			goto fallback;
		switch (lng) {
		case 0:
			if (sign) {
				s = va_arg(ap, int);
				if (shrt == 1)
					s = (short)s;
				else if (shrt >= 2)
					s = (signed char)s;
				v = 0;
			} else {
				v = va_arg(ap, unsigned int);
				if (shrt == 1)
					v = (unsigned short)v;
				else if (shrt >= 2)
					v = (unsigned char)v;
				s = 0;
			}
			break;
		case 1:
			s = sign ? va_arg(ap, long) : 0;
			v = sign ? 0 : va_arg(ap, unsigned long);
			break;
		case 2:
			s = sign ? va_arg(ap, long long) : 0;
			v = sign ? 0 : va_arg(ap, unsigned long long);
			break;
		case 3:
			/* %zd is the signed type of size_t's width */
			s = sign ? (intmax_t)va_arg(ap, ptrdiff_t) : 0;
			v = sign ? 0 : va_arg(ap, size_t);
			break;
		case 4:
			s = sign ? va_arg(ap, intmax_t) : 0;
			v = sign ? 0 : va_arg(ap, uintmax_t);
			break;
		case 5:
			s = sign ? va_arg(ap, ptrdiff_t) : 0;
			v = sign ? 0 : (uintmax_t)(size_t)va_arg(ap, ptrdiff_t);
			break;
		default:
			goto fallback;
		}
		if (sign) {
			neg = s < 0;
			/* the magnitude, INTMAX_MIN included */
			v = neg ? (uintmax_t)0 - (uintmax_t)s : (uintmax_t)s;
		}
		wire_fmt_num(&o, v, neg, base, *f == 'X', alt, zero, width);
	}
	if (cap)
		buf[o.len < cap ? o.len : cap - 1] = '\0';
	va_end(orig);
	return o.len > INT_MAX ? -1 : (int)o.len;

fallback:
	ret = vsnprintf(buf, cap, fmt, orig);
	va_end(orig);
	return ret;
}

static inline int WIRE_FMT_NOCOV __attribute__((format(printf, 3, 4), unused))
wire_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = wire_vfmt(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

#endif /* VUC_WIRE_WIRE_FMT_H */

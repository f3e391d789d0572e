/* Thread-local error messages, a small ring of them. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

const char *error_fmt(const char *fmt, ...)
{
	static __thread char slots[ERROR_SLOTS][ERROR_MAX];
	static __thread unsigned next;
	char *buf = slots[next++ % ERROR_SLOTS];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, ERROR_MAX, fmt, ap);
	va_end(ap);
	return buf;
}

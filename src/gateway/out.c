/* A bounded text builder for what the gateway writes from data it does not
 * control (identity headers, PROXY headers, log fields): a piece that does
 * not fit marks the result as overflowed instead of writing past the end. */
#include <string.h>

#include "gateway/gw.h"

void
gw_out_add(struct gw_out *o, const void *s, size_t n)
{
	if (o->overflow || n > o->cap - o->len) {
		o->overflow = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

void
gw_out_str(struct gw_out *o, const char *s)
{
	gw_out_add(o, s, strlen(s));
}

/* Certificate fields the client chose (CN, SANs) may hold CR LF: copied raw
 * into a header they would let a cert holder add headers of its own, and
 * into the log, lines. Control characters become '?'; for the log also
 * spaces and quotes, which delimit its fields. */
void
gw_out_clean(struct gw_out *o, const char *s, int for_log)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		char c = ch < 0x20 || ch == 0x7f || (for_log && (ch == ' ' || ch == '"')) ? '?' : *s;
		gw_out_add(o, &c, 1);
	}
}

void
gw_out_header(struct gw_out *o, const char *name, const char *value, int clean)
{
	gw_out_str(o, name);
	gw_out_str(o, ": ");
	if (clean)
		gw_out_clean(o, value, 0);
	else
		gw_out_str(o, value);
	gw_out_str(o, "\r\n");
}

void
gw_log_field(char *dst, size_t cap, const char *s)
{
	struct gw_out o = { dst, 0, cap - 1, 0 };

	gw_out_clean(&o, s, 1);
	dst[o.overflow ? cap - 1 : o.len] = '\0';
}

/* The identity headers of http mode (X-Client-*).
 *
 * The headers depend on the client certificate alone (and on whether the
 * listener passes the certificate itself), yet with the URL-encoded PEM they
 * are 1 to 3 KB: kept per connection, they were the largest part of an idle
 * http-mode connection that tlsgate itself allocates. So each worker thread
 * keeps one copy per certificate, found by its SHA-256 fingerprint and shared
 * by reference count among its connections that present it (no lock: a
 * connection lives on one thread); the last one to close frees it. A client
 * that opens many connections (a pool, a mesh sidecar) costs one copy per
 * thread, and its later handshakes skip building them. */
#include <stdlib.h>
#include <string.h>

#include "gateway/gw.h"
#include "tlsgate/pki.h"

/* nginx's $ssl_client_escaped_cert: the PEM, URL-encoded onto one line. */
static void
out_urlencode(struct gw_out *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			gw_out_add(o, (const char *)&ch, 1);
		} else {
			char e[3] = { '%', hex[ch >> 4], hex[ch & 15] };
			gw_out_add(o, e, 3);
		}
	}
}

/* One name of a list, escaped so that no name runs into the next. */
static void
out_name(struct gw_out *o, const char *s)
{
	size_t room = o->overflow ? 0 : o->cap - o->len;
	size_t n = pki_name_escape(o->p + o->len, room, s, strlen(s));

	if (n >= room)
		o->overflow = 1;
	else
		o->len += n;
}

/* --- The shared headers --- */

struct gw_ident {
	struct gw_ident *next; /* in its bucket */
	unsigned long refs;
	unsigned char fp[GW_FP_LEN];
	int cert_header;
	size_t len;
	char text[]; /* the header lines, CR LF after each */
};

#define IDENTS_MIN 64 /* buckets; always a power of two */

static size_t
bucket(const struct gw_idents *ic, const unsigned char *fp)
{
	uint32_t h;

	memcpy(&h, fp, sizeof(h)); /* a digest: its bytes are spread already */
	return h & (ic->nb - 1);
}

/* Rehashes into nb buckets; keeps the old table if memory is short. */
static void
resize(struct gw_idents *ic, size_t nb)
{
	struct gw_ident **old = ic->b, **b = calloc(nb, sizeof(*b));
	size_t onb = ic->nb;

	if (b == NULL)
		return;
	ic->b = b;
	ic->nb = nb;
	for (size_t i = 0; i < onb; i++) {
		for (struct gw_ident *e = old[i], *next; e != NULL; e = next) {
			size_t k = bucket(ic, e->fp);
			next = e->next;
			e->next = b[k];
			b[k] = e;
		}
	}
	free(old);
}

gw_ident *
gw_ident_find(struct gw_idents *ic, const unsigned char *fp, int cert_header)
{
	if (ic->nb == 0)
		return NULL;
	for (struct gw_ident *e = ic->b[bucket(ic, fp)]; e != NULL; e = e->next) {
		if (e->cert_header == cert_header && memcmp(e->fp, fp, GW_FP_LEN) == 0) {
			e->refs++;
			return e;
		}
	}
	return NULL;
}

/* The header lines for p, in the order backends have always seen them. */
static void
write_headers(struct gw_out *o, const struct gw_peer *p)
{
	gw_out_header(o, "X-Client-Verify", p->present ? "SUCCESS" : "NONE", 0);
	if (!p->present)
		return;
	/* Subject and issuer come escaped (RFC 2253) from the engine. */
	gw_out_header(o, "X-Client-Subject", p->subject, 1);
	gw_out_header(o, "X-Client-Issuer", p->issuer, 1);
	gw_out_header(o, "X-Client-Serial", p->serial, 0);
	gw_out_header(o, "X-Client-Fingerprint", p->fingerprint, 0);
	gw_out_header(o, "X-Client-CN", p->cn, 1);
	/* "DNS:a.example.com, URI:spiffe://example.com/m%2CDNS:b": each name
	 * percent-encoded ('%', ',' and bytes outside printable ASCII), so a
	 * comma always separates two names. */
	if (p->nsans > 0) {
		gw_out_str(o, "X-Client-SAN: ");
		for (size_t i = 0; i < p->nsans; i++) {
			if (i > 0)
				gw_out_str(o, ", ");
			out_name(o, p->sans[i]);
		}
		gw_out_str(o, "\r\n");
	}
	if (p->pem != NULL) {
		gw_out_str(o, "X-Client-Cert: ");
		out_urlencode(o, p->pem);
		gw_out_str(o, "\r\n");
	}
}

gw_ident *
gw_ident_add(struct gw_idents *ic, const unsigned char *fp, int cert_header,
    const struct gw_peer *p)
{
	struct gw_ident *e;
	struct gw_out o = { NULL, 0, 1024, 0 };
	size_t k;

	if (p->present) {
		o.cap += strlen(p->subject) + strlen(p->issuer) + strlen(p->serial) +
		    strlen(p->fingerprint) + (p->pem ? 3 * strlen(p->pem) : 0) + strlen(p->cn);
		for (size_t i = 0; i < p->nsans; i++)
			o.cap += 3 * strlen(p->sans[i]) + 2;
	}
	/* The bound is about three times the size (the PEM is counted as if
	 * every byte were escaped): write into it, then keep what was used. */
	if ((o.p = malloc(o.cap)) == NULL)
		return NULL;
	write_headers(&o, p);
	if (o.overflow || (e = malloc(sizeof(*e) + o.len)) == NULL) {
		free(o.p);
		return NULL;
	}
	memcpy(e->text, o.p, o.len);
	free(o.p);
	e->len = o.len;
	e->refs = 1;
	memcpy(e->fp, fp, GW_FP_LEN);
	e->cert_header = cert_header;
	if (ic->n >= ic->nb)
		resize(ic, ic->nb ? 2 * ic->nb : IDENTS_MIN);
	if (ic->nb == 0) { /* no table at all: the entry is this connection's own */
		e->next = NULL;
		return e;
	}
	k = bucket(ic, fp);
	e->next = ic->b[k];
	ic->b[k] = e;
	ic->n++;
	return e;
}

void
gw_ident_put(struct gw_idents *ic, gw_ident *id)
{
	struct gw_ident **pp;

	if (id == NULL || --id->refs > 0)
		return;
	if (ic->nb > 0) {
		for (pp = &ic->b[bucket(ic, id->fp)]; *pp != NULL; pp = &(*pp)->next) {
			if (*pp == id) {
				*pp = id->next;
				ic->n--;
				break;
			}
		}
	}
	free(id);
	/* A burst of distinct clients is over: give the table back too. */
	if (ic->nb > IDENTS_MIN && ic->n < ic->nb / 8)
		resize(ic, ic->nb / 2);
}

const char *
gw_ident_text(const gw_ident *id, size_t *len)
{
	*len = id->len;
	return id->text;
}

void
gw_idents_free(struct gw_idents *ic)
{
	/* Entries belong to the connections that hold them. */
	free(ic->b);
	ic->b = NULL;
	ic->nb = ic->n = 0;
}

#define _GNU_SOURCE
/* The one PEM splitter: every reader of PEM text (the loaders here, the
 * checker) walks a file's blocks through it, so "what is a block" has one
 * answer and every failure can be placed: the block's number, its label,
 * its line, a block cut short, an END line of another label, text between
 * blocks. The text comes from files anyone may have written: it is walked
 * with bounds, never as a C string, and a label is kept only when it is
 * short printable ASCII (it ends up in messages). */
#include "tlsgate/pki.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <limits.h>
#include <string.h>

#define BEGIN_STR "-----BEGIN "
#define END_STR "-----END "
#define DASHES "-----"

static int
is_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return 0;
	return 1;
}

/* The label of a "-----BEGIN LABEL-----" line (kind is BEGIN_STR or
 * END_STR) into label: 1 when the line is one, 0 when not. As OpenSSL: the
 * line must end with five dashes, trailing blanks aside. */
static int
label_of(const char *line, size_t n, const char *kind, char label[PKI_PEM_LABEL_MAX])
{
	size_t kl = strlen(kind), ll;

	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
		n--;
	if (n < kl + 5 || memcmp(line, kind, kl) != 0 || memcmp(line + n - 5, DASHES, 5) != 0)
		return 0;
	ll = n - 5 - kl;
	if (ll == 0 || ll >= PKI_PEM_LABEL_MAX)
		return 0;
	for (size_t i = 0; i < ll; i++)
		if (line[kl + i] < 0x20 || line[kl + i] > 0x7e)
			return 0;
	memcpy(label, line + kl, ll);
	label[ll] = '\0';
	return 1;
}

int
pki_pem_is(const unsigned char *data, size_t len)
{
	return len > 11 && memmem(data, len, BEGIN_STR, 11) != NULL;
}

typedef struct {
	int (*fn)(const pki_pem_block *b, void *arg);
	void *arg;
	pki_pem_info *info;
	pki_pem_block cur;
	int open;
} splitter;

static int
emit(splitter *s, const char *end)
{
	s->cur.len = (size_t)(end - s->cur.text);
	s->open = 0;
	return s->fn(&s->cur, s->arg);
}

static void
open_block(splitter *s, const char *line, size_t lineno, const char *label)
{
	memset(&s->cur, 0, sizeof(s->cur));
	memcpy(s->cur.label, label, sizeof(s->cur.label));
	s->cur.text = line;
	s->cur.line = lineno;
	s->cur.number = ++s->info->nblocks;
	s->open = 1;
}

static void
note_junk(pki_pem_info *info, size_t lineno)
{
	if (!info->junk)
		info->junk_line = lineno;
	info->junk = 1;
}

int
pki_pem_split(const unsigned char *data, size_t len,
    int (*fn)(const pki_pem_block *b, void *arg), void *arg, pki_pem_info *info)
{
	pki_pem_info scratch;
	splitter s = { .fn = fn, .arg = arg, .info = info != NULL ? info : &scratch };
	const char *p = (const char *)data, *end = p + len;
	char label[PKI_PEM_LABEL_MAX];
	size_t lineno = 0;
	int rc;

	memset(s.info, 0, sizeof(*s.info));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		const char *next = nl != NULL ? nl + 1 : end;

		lineno++;
		if (n > 0 && p[n - 1] == '\r')
			s.info->crlf = 1;
		if (label_of(p, n, BEGIN_STR, label)) {
			/* A BEGIN inside a block: the one before was cut short. */
			if (s.open) {
				s.cur.cut_short = 1;
				if ((rc = emit(&s, p)) != 0)
					return rc;
			}
			open_block(&s, p, lineno, label);
		} else if (s.open && n >= 9 && memcmp(p, END_STR, 9) == 0) {
			if (!label_of(p, n, END_STR, s.cur.end_label))
				snprintf(s.cur.end_label, sizeof(s.cur.end_label), "?");
			s.cur.end_mismatch = strcmp(s.cur.end_label, s.cur.label) != 0;
			if ((rc = emit(&s, next)) != 0)
				return rc;
		} else if (!s.open && !is_blank(p, n)) {
			note_junk(s.info, lineno);
		}
		p = next;
	}
	if (s.open) { /* BEGIN without END */
		s.cur.cut_short = 1;
		return emit(&s, end);
	}
	return 0;
}

int
pki_pem_decode(const pki_pem_block *b, unsigned char **der, long *len, char **header)
{
	char *name = NULL, *hdr = NULL;
	BIO *bio;
	int ok;

	*der = NULL;
	*len = 0;
	if (header != NULL)
		*header = NULL;
	if (b->cut_short || b->end_mismatch || b->len > INT_MAX)
		return -1;
	if ((bio = BIO_new_mem_buf(b->text, (int)b->len)) == NULL)
		return -1;
	ERR_set_mark();
	ok = PEM_read_bio(bio, &name, &hdr, der, len) == 1;
	ERR_pop_to_mark();
	BIO_free(bio);
	OPENSSL_free(name);
	if (!ok)
		return -1;
	if (header != NULL)
		*header = hdr;
	else
		OPENSSL_free(hdr);
	return 0;
}

void
pki_pem_where(const pki_pem_block *b, char *buf, size_t len)
{
	if (b->cut_short)
		snprintf(buf, len, "PEM block %d (%s, line %zu) has no END line: cut short", b->number,
		    b->label, b->line);
	else if (b->end_mismatch)
		snprintf(buf, len, "PEM block %d (%s, line %zu) ends with END %s, not END %s",
		    b->number, b->label, b->line, b->end_label, b->label);
	else
		snprintf(buf, len, "PEM block %d (%s, line %zu) does not decode: damaged base64 or "
		    "edited", b->number, b->label, b->line);
}

int
pki_pem_is_encrypted_key(const pki_pem_block *b)
{
	return strcmp(b->label, "ENCRYPTED PRIVATE KEY") == 0 ||
	    memmem(b->text, b->len, "Proc-Type: 4,ENCRYPTED", 22) != NULL;
}

/* Session-ticket key files. nginx's 80-byte layout (name, HMAC key, AES
 * key), one key per 80 bytes; a file may hold several, and the option may
 * be repeated: the first key of the first file encrypts. nginx's older
 * 48-byte keys (AES-128) are refused with the command that makes a new one:
 * a fleet sharing a file must agree on one size, and 80 is what nginx
 * documents today. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/tickets.h"

#define TICKET_FILE_MAX (GW_TICKET_KEYS_MAX * GW_TICKET_KEY_LEN)
#define MAKE_KEY "make one with `openssl rand 80 > FILE && chmod 600 FILE`"

int
gw_ticket_keys_parse(struct gw_ticket_keys *k, const unsigned char *p, size_t len,
    const char *path, tg_err *err)
{
	if (len == 0)
		return tg_err_set(err, TG_ERR_CONFIG, "ticket keys %s: the file is empty; %s",
		    path, MAKE_KEY);
	if (len == 48)
		return tg_err_set(err, TG_ERR_CONFIG,
		    "ticket keys %s: 48 bytes is nginx's older AES-128 key; tlsgate takes 80-byte "
		    "keys (nginx reads them too): %s, on every server of the fleet", path, MAKE_KEY);
	if (len % GW_TICKET_KEY_LEN != 0)
		return tg_err_set(err, TG_ERR_CONFIG,
		    "ticket keys %s: %zu bytes is not a whole number of 80-byte keys (cut short while "
		    "copied, or not a key file); %s", path, len, MAKE_KEY);
	if (k->n + len / GW_TICKET_KEY_LEN > GW_TICKET_KEYS_MAX)
		return tg_err_set(err, TG_ERR_CONFIG,
		    "ticket keys %s: more than %d keys in all; keep the new key and the few "
		    "before it", path, GW_TICKET_KEYS_MAX);
	for (size_t off = 0; off < len; off += GW_TICKET_KEY_LEN) {
		struct gw_ticket_key *key = &k->k[k->n];
		memcpy(key->name, p + off, GW_TICKET_NAME_LEN);
		memcpy(key->hmac, p + off + GW_TICKET_NAME_LEN, GW_TICKET_HMAC_LEN);
		memcpy(key->aes, p + off + GW_TICKET_NAME_LEN + GW_TICKET_HMAC_LEN, GW_TICKET_AES_LEN);
		/* A key twice (a file listed twice, or concatenated with itself)
		 * is a mistake in the rotation, not a harmless repeat. */
		for (size_t i = 0; i < k->n; i++)
			if (memcmp(k->k[i].name, key->name, GW_TICKET_NAME_LEN) == 0)
				return tg_err_set(err, TG_ERR_CONFIG,
				    "ticket keys %s: key %zu has the name of an earlier key (%zu); each key "
				    "must be given once", path, off / GW_TICKET_KEY_LEN + 1, i + 1);
		k->n++;
	}
	return 0;
}

/* The whole file, at most TICKET_FILE_MAX bytes (one more is read to tell a
 * longer file). */
static int
read_key_file(const char *path, unsigned char *buf, size_t *len, tg_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;

	*len = 0;
	if (fd < 0)
		return tg_err_set(err, TG_ERR_IO, "ticket keys %s: cannot open: %s", path,
		    strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		tg_err_set(err, TG_ERR_CONFIG, "ticket keys %s: not a regular file", path);
		goto out;
	}
	while (*len <= TICKET_FILE_MAX) {
		ssize_t n = read(fd, buf + *len, TICKET_FILE_MAX + 1 - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			tg_err_set(err, TG_ERR_IO, "ticket keys %s: cannot read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	if (*len > TICKET_FILE_MAX) {
		tg_err_set(err, TG_ERR_CONFIG, "ticket keys %s: more than %d keys in the file", path,
		    GW_TICKET_KEYS_MAX);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

int
gw_ticket_keys_load(const struct gw_strlist *files, struct gw_ticket_keys **out, tg_err *err)
{
	struct gw_ticket_keys *k = calloc(1, sizeof(*k));
	unsigned char *buf = malloc(TICKET_FILE_MAX + 1);
	size_t len = 0;
	int rc = -1;

	*out = NULL;
	if (k == NULL || buf == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < files->n; i++) {
		const char *path = files->v[i];
		if (read_key_file(path, buf, &len, err) != 0)
			goto out;
		/* Whoever reads the file can decrypt every recorded session that
		 * used it: the private-key rule. */
		if (gw_key_mode_ok(path, err) != 0) {
			tg_err_prefix(err, "ticket keys");
			goto out;
		}
		if (gw_ticket_keys_parse(k, buf, len, path, err) != 0)
			goto out;
		OPENSSL_cleanse(buf, len);
	}
	*out = k;
	k = NULL;
	rc = 0;
out:
	if (buf != NULL)
		OPENSSL_cleanse(buf, TICKET_FILE_MAX + 1);
	free(buf);
	gw_ticket_keys_free(k);
	return rc;
}

void
gw_ticket_keys_free(struct gw_ticket_keys *k)
{
	if (k == NULL)
		return;
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

/* Session-ticket key files. nginx's 80-byte layout (name, HMAC key, AES
 * key), one key per 80 bytes; a file may hold several, and the option may
 * be repeated: the first key of the first file encrypts. nginx's older
 * 48-byte keys (AES-128) are refused with the command that makes a new one:
 * a fleet sharing a file must agree on one size, and 80 is what nginx
 * documents today. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

int
gw_ticket_keys_find(const struct gw_ticket_keys *k, const unsigned char *name,
    struct gw_ticket_key *out)
{
	size_t i = 0;

	if (k->n == 0)
		return -1;
	while (name != NULL && i < k->n && memcmp(name, k->k[i].name, GW_TICKET_NAME_LEN) != 0)
		i++;
	if (i == k->n)
		return -1;
	memcpy(out, &k->k[i], sizeof(*out));
	return (int)i;
}

/* --- The process's own keys --- */

/* The encrypting key and the one before it: a ticket lives one to two
 * periods. */
#define RING_KEYS 2

struct gw_ticket_ring {
	pthread_mutex_t lock; /* process-shared and robust: a worker process
	                       * may die holding it */
	double period;
	struct gw_ticket_keys keys;
};

static struct gw_ticket_ring *ring;

static void
ring_lock(struct gw_ticket_ring *r)
{
	if (pthread_mutex_lock(&r->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&r->lock); /* the copy it made is not used */
}

static int
new_key(struct gw_ticket_key *key, tg_err *err)
{
	if (RAND_priv_bytes((unsigned char *)key, sizeof(*key)) != 1)
		return tg_err_ossl(err, TG_ERR_INTERNAL, "cannot make a session-ticket key");
	return 0;
}

int
gw_ticket_ring_start(double period, tg_err *err)
{
	pthread_mutexattr_t a;
	struct gw_ticket_ring *r;

	if (ring != NULL)
		return 0;
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return tg_err_set(err, TG_ERR_INTERNAL, "cannot map shared memory: %s",
		    strerror(errno));
	/* Kept out of core dumps, as a private key would be. */
	(void)madvise(r, sizeof(*r), MADV_DONTDUMP);
	if (pthread_mutexattr_init(&a) != 0 ||
	    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&r->lock, &a) != 0) {
		munmap(r, sizeof(*r));
		return tg_err_set(err, TG_ERR_INTERNAL, "cannot make a shared lock");
	}
	pthread_mutexattr_destroy(&a);
	r->period = period;
	if (new_key(&r->keys.k[0], err) != 0) {
		pthread_mutex_destroy(&r->lock);
		munmap(r, sizeof(*r));
		return -1;
	}
	r->keys.n = 1;
	ring = r;
	return 0;
}

struct gw_ticket_ring *
gw_ticket_ring_get(void)
{
	return ring;
}

double
gw_ticket_ring_period(const struct gw_ticket_ring *r)
{
	return r->period;
}

int
gw_ticket_ring_rotate(struct gw_ticket_ring *r, tg_err *err)
{
	struct gw_ticket_key fresh;

	if (new_key(&fresh, err) != 0)
		return -1;
	ring_lock(r);
	/* The oldest key is overwritten by the move; the slot past the kept
	 * ones is wiped. */
	memmove(&r->keys.k[1], &r->keys.k[0], (RING_KEYS - 1) * sizeof(r->keys.k[0]));
	memcpy(&r->keys.k[0], &fresh, sizeof(fresh));
	if (r->keys.n < RING_KEYS)
		r->keys.n++;
	OPENSSL_cleanse(&r->keys.k[RING_KEYS], sizeof(r->keys.k[0]));
	pthread_mutex_unlock(&r->lock);
	OPENSSL_cleanse(&fresh, sizeof(fresh));
	return 0;
}

int
gw_ticket_ring_find(struct gw_ticket_ring *r, const unsigned char *name,
    struct gw_ticket_key *out)
{
	int i;

	ring_lock(r);
	i = gw_ticket_keys_find(&r->keys, name, out);
	pthread_mutex_unlock(&r->lock);
	return i;
}

void
gw_ticket_ring_stop(void)
{
	if (ring == NULL)
		return;
	/* A worker still finishing its connections shares the memory: with no
	 * key it issues no ticket rather than one under a wiped key. */
	ring_lock(ring);
	OPENSSL_cleanse(&ring->keys, sizeof(ring->keys));
	ring->keys.n = 0;
	pthread_mutex_unlock(&ring->lock);
	munmap(ring, sizeof(*ring));
	ring = NULL;
}

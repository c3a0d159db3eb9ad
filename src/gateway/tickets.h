/* Session-ticket keys shared by a fleet (`--ticket-keys FILE`), in nginx's
 * ssl_session_ticket_key format, so gateways and nginx servers behind one
 * balancer resume each other's sessions. */
#ifndef TLSGATE_GW_TICKETS_H
#define TLSGATE_GW_TICKETS_H

#include <stddef.h>

#include "gateway/gw.h"

/* One key as nginx lays out 80 bytes: the name the ticket carries, then the
 * HMAC-SHA256 key, then the AES-256-CBC key. */
#define GW_TICKET_NAME_LEN 16
#define GW_TICKET_HMAC_LEN 32
#define GW_TICKET_AES_LEN 32
#define GW_TICKET_KEY_LEN (GW_TICKET_NAME_LEN + GW_TICKET_HMAC_LEN + GW_TICKET_AES_LEN)
/* More keys than a rotation ever keeps; bounds the file read. */
#define GW_TICKET_KEYS_MAX 32

struct gw_ticket_key {
	unsigned char name[GW_TICKET_NAME_LEN];
	unsigned char hmac[GW_TICKET_HMAC_LEN];
	unsigned char aes[GW_TICKET_AES_LEN];
};

/* The first key encrypts new tickets; every key decrypts. */
struct gw_ticket_keys {
	size_t n;
	struct gw_ticket_key k[GW_TICKET_KEYS_MAX];
};

/* Reads every file in order (each one key or several concatenated), all or
 * nothing: a file that is missing, unreadable, empty, not a whole number of
 * 80-byte keys, readable by group or others (the rule for private keys), or
 * a key name given twice is an error naming the file. *out is freed with
 * gw_ticket_keys_free (the keys are wiped). */
int gw_ticket_keys_load(const struct gw_strlist *files, struct gw_ticket_keys **out,
    tg_err *err) TG_MUST_CHECK;
/* Parses one file's bytes into k (appending); path names it in messages. */
int gw_ticket_keys_parse(struct gw_ticket_keys *k, const unsigned char *p, size_t len,
    const char *path, tg_err *err) TG_MUST_CHECK;
void gw_ticket_keys_free(struct gw_ticket_keys *k);
/* Copies the key that encrypts (name NULL) or the one named name into
 * *out; returns its index (0: the encrypting key), or -1 if none is named
 * so. The caller wipes *out. */
int gw_ticket_keys_find(const struct gw_ticket_keys *k, const unsigned char *name,
    struct gw_ticket_key *out);

/* Without --ticket-keys: the process's own keys (`--ticket-key-rotate`),
 * random, in memory the master shares with its worker processes, so a
 * reload (a new worker process) keeps them and every worker thread of
 * every generation uses the same. The master rotates them on a timer: a
 * new key encrypts, the one before still decrypts for one more period,
 * the one before that is wiped. One ring per process. */
struct gw_ticket_ring;

/* Makes the process's ring with one fresh key (period: seconds between
 * rotations); called by the master before it forks a worker. */
int gw_ticket_ring_start(double period, tg_err *err) TG_MUST_CHECK;
/* The process's ring, or NULL if none was started (tickets then stay off
 * unless --ticket-keys is given). */
struct gw_ticket_ring *gw_ticket_ring_get(void);
double gw_ticket_ring_period(const struct gw_ticket_ring *r);
/* A new encrypting key; the previous one decrypts one more period. */
int gw_ticket_ring_rotate(struct gw_ticket_ring *r, tg_err *err) TG_MUST_CHECK;
/* gw_ticket_keys_find under the ring's lock. */
int gw_ticket_ring_find(struct gw_ticket_ring *r, const unsigned char *name,
    struct gw_ticket_key *out);
void gw_ticket_ring_stop(void);

#endif

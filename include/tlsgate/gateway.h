/* The TLS/mutual-TLS gateway (`tlsgate serve`).
 *
 * A gw_config is plain data: listeners and their options, filled from flags
 * (gw_config_set) and/or an INI file (gw_config_load). gw_config_check builds
 * everything a server would (keys, certs, CA, CRL, TLS contexts, sockets are
 * not opened) and reports; gw_serve runs the gateway until SIGTERM/SIGINT,
 * reloading on SIGHUP. */
#ifndef TLSGATE_GATEWAY_H
#define TLSGATE_GATEWAY_H

#include <stddef.h>

#include "tlsgate/err.h"

typedef struct gw_config gw_config;

gw_config *gw_config_new(void);
void gw_config_free(gw_config *cfg);

/* Sets one option. listener == NULL addresses the global section (workers,
 * status); any other name addresses (and creates) that listener. Options
 * that may repeat (allow-cn, allow-san, allow-ou) accumulate. The keys are
 * the long flag names: listen, target, mode, cert, key, certs-dir, ... */
int gw_config_set(gw_config *cfg, const char *listener, const char *key,
    const char *value, tg_err *err) TG_MUST_CHECK;

/* Reads an INI file: [global] and [listener NAME] sections whose keys are
 * the same as the flags'. The file is re-read on every reload. */
int gw_config_load(gw_config *cfg, const char *path, tg_err *err) TG_MUST_CHECK;

/* Every option key, NULL-terminated: the long flags of `tlsgate serve` and
 * the keys of its config file are this one list. */
const char *const *gw_config_keys(void);

/* The keys that a client listener (`tlsgate connect`, role = client)
 * takes, NULL-terminated: the long flags of `tlsgate connect`. */
const char *const *gw_config_client_keys(void);

/* 1 if key takes no value on the command line (--insecure means "yes"). */
int gw_config_key_is_flag(const char *key);

/* 1 if key is a global (not per-listener) option. */
int gw_config_key_is_global(const char *key);

/* Calls fn for every file or directory the config names, with the listener
 * and the option it came from (cert, key, certs-dir, client-ca, crl,
 * pass-file); fn returns non-zero to stop (and that value is returned). */
int gw_config_files(const gw_config *cfg,
    int (*fn)(const char *listener, const char *option, const char *path, void *arg),
    void *arg);

/* Checks the plain config (required options, conflicts, value ranges). */
int gw_config_validate(gw_config *cfg, tg_err *err) TG_MUST_CHECK;

/* Builds the complete runtime once (like `nginx -t`) and writes a short
 * report to `report` (one line per listener). */
int gw_config_test(gw_config *cfg, char *report, size_t len, tg_err *err) TG_MUST_CHECK;

/* Runs the gateway in the foreground. Returns 0 after a clean shutdown. */
int gw_serve(gw_config *cfg, tg_err *err) TG_MUST_CHECK;

#endif

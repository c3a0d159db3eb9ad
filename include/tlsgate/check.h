/* The checker: finds certificate mistakes in files, service directory layouts
 * and live endpoints, and says how to fix each. A chk_ctx collects options
 * and inputs, runs every rule of the rule table, and holds the findings
 * {severity, code, subject, file, message, fix} until they are reported as
 * text or JSON. Rule codes are stable: scripts may match on them. */
#ifndef TLSGATE_CHECK_H
#define TLSGATE_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tlsgate/err.h"

typedef struct chk_ctx chk_ctx;

typedef enum { CHK_INFO = 0, CHK_WARNING = 1, CHK_ERROR = 2 } chk_severity;
typedef enum { CHK_PURPOSE_SERVER, CHK_PURPOSE_CLIENT } chk_purpose;
/* What an endpoint needs before its TLS handshake: nothing, PostgreSQL's
 * SSLRequest, or an XMPP stream asking for STARTTLS (client port 5222,
 * server-to-server port 5269). */
typedef enum {
	CHK_STARTTLS_NONE,
	CHK_STARTTLS_POSTGRES,
	CHK_STARTTLS_XMPP,
	CHK_STARTTLS_XMPP_SERVER,
} chk_starttls;

#define CHK_WARN_DAYS_DEFAULT 30

chk_ctx *chk_new(tg_err *err);
void chk_free(chk_ctx *c);

/* --- Options (before chk_run / chk_endpoint) --- */

/* A name the leaf must cover (DNS name or IP address); may be repeated. */
int chk_add_host(chk_ctx *c, const char *name, tg_err *err) TG_MUST_CHECK;
/* Trusted roots (PEM or DER, one or more certs) for chain completeness. */
int chk_set_ca_file(chk_ctx *c, const char *path, tg_err *err) TG_MUST_CHECK;
/* Also read the system trust store (default on; tests turn it off). */
void chk_use_system_store(chk_ctx *c, int on);
void chk_set_purpose(chk_ctx *c, chk_purpose p);
/* --owner USER[:GROUP] (or :GROUP), as every command takes it
 * (util_owner_parse): the ownership keys should have, and so the account
 * that must read them. */
int chk_set_owner(chk_ctx *c, const char *spec, tg_err *err) TG_MUST_CHECK;
void chk_set_warn_days(chk_ctx *c, unsigned days);
/* Passphrase for encrypted keys and PKCS#12 files (copied, wiped on free). */
int chk_set_passphrase(chk_ctx *c, const char *pass, tg_err *err) TG_MUST_CHECK;
/* check endpoint: the client certificate (with its chain) and key to
 * present when the server asks for one; the key is opened with the
 * passphrase (chk_set_passphrase) at the handshake. */
int chk_set_client_cert(chk_ctx *c, const char *cert, const char *key, tg_err *err) TG_MUST_CHECK;
/* The time rules compare against (default: now). */
void chk_set_time(chk_ctx *c, int64_t now);

/* --- Inputs --- */

/* A cert, chain, key, CRL or PKCS#12 file, or a directory (Prosody certs
 * dir, certbot live dir, PostgreSQL data dir, tlsgate CA dir). A CRL file
 * may also come from --crl through this call. */
int chk_add_path(chk_ctx *c, const char *path, tg_err *err) TG_MUST_CHECK;

/* A cert (or chain) file and the key file that must go with it, as a
 * service's config pairs them; both become inputs. A key that does not match
 * is then a key-mismatch error, not a stray key. */
int chk_add_pair(chk_ctx *c, const char *cert, const char *key, tg_err *err) TG_MUST_CHECK;

/* The hosts of a Prosody config: every VirtualHost and Component, through
 * its Includes, that is not `enabled = false`, each checked as a --host
 * would be (and remembered with its file and line for the report). With
 * certs_dir set, the certs dir Prosody would search (global `certificates`,
 * default: certs next to the config) becomes an input too. The config is
 * read, never run. Fails (TG_ERR_USAGE) naming the file and line when it
 * cannot be read or Prosody would refuse it; Includes that match nothing and
 * Lua it would have to run become findings. Once per context. */
int chk_add_prosody_config(chk_ctx *c, const char *path, int certs_dir, tg_err *err) TG_MUST_CHECK;

/* PostgreSQL's postgresql.conf (through its include lines): the server's
 * cert and key (ssl_cert_file, ssl_key_file, default server.crt/server.key
 * in the data directory), ssl_ca_file and ssl_crl_file become inputs, and
 * the key rule takes the data directory's owner unless --owner is given.
 * ssl = off (PostgreSQL's default) is the pg-ssl-off finding. Fails
 * (TG_ERR_USAGE) naming the file and line PostgreSQL would refuse too. */
int chk_add_pg_config(chk_ctx *c, const char *path, tg_err *err) TG_MUST_CHECK;

/* nginx's config (through its includes): every server that listens with
 * ssl, its certificate and key (inherited from http when it has none) as a
 * pair, its server_names as hosts that certificate must cover, and its
 * client CA and CRL files. Paths with variables are left out. Fails
 * (TG_ERR_USAGE) naming the file and line nginx -t would refuse too, or
 * when no TLS server is found. */
int chk_add_nginx_config(chk_ctx *c, const char *path, tg_err *err) TG_MUST_CHECK;

/* Mosquitto's config (through include_dir): every listener with a certfile,
 * its certfile and keyfile as a pair, cafile as CAs, capath and crlfile;
 * a listener that verifies client certificates without requiring one is the
 * mqtt-client-cert-optional finding. Fails (TG_ERR_USAGE) on what mosquitto
 * refuses too, or when no listener has TLS. */
int chk_add_mosquitto_config(chk_ctx *c, const char *path, tg_err *err) TG_MUST_CHECK;

/* Loads every input, pairs keys with certs, runs every rule. Fails (exit 2)
 * only when nothing could be checked at all. */
int chk_run(chk_ctx *c, tg_err *err) TG_MUST_CHECK;

/* Connects to HOST:PORT (after PostgreSQL's SSLRequest or XMPP's STARTTLS
 * when asked), reads what the server serves, probes TLS 1.0/1.1, and runs
 * the chain rules on it. sni may be NULL (the host, unless an IP); XMPP
 * opens its stream to it, so it must then be the domain. Fails when the
 * endpoint cannot be reached or no handshake completes. */
int chk_endpoint(chk_ctx *c, const char *hostport, const char *sni,
    chk_starttls starttls, tg_err *err) TG_MUST_CHECK;

/* --- Results --- */

size_t chk_count(const chk_ctx *c, chk_severity sev);
size_t chk_finding_count(const chk_ctx *c);
const char *chk_finding_code(const chk_ctx *c, size_t i);
chk_severity chk_finding_severity(const chk_ctx *c, size_t i);
const char *chk_finding_subject(const chk_ctx *c, size_t i);
const char *chk_finding_message(const chk_ctx *c, size_t i);
const char *chk_finding_fix(const chk_ctx *c, size_t i);

/* Findings grouped per subject, then a summary line. */
int chk_report_text(const chk_ctx *c, FILE *out, tg_err *err) TG_MUST_CHECK;
/* The schema documented in docs/check-json.md. */
int chk_report_json(const chk_ctx *c, FILE *out, tg_err *err) TG_MUST_CHECK;

/* 0 no errors, 1 errors found. */
int chk_exit_code(const chk_ctx *c);

/* --- The rule catalogue (for help and docs) --- */

size_t chk_rule_count(void);
const char *chk_rule_code(size_t i);
chk_severity chk_rule_severity(size_t i);
const char *chk_rule_summary(size_t i);
const char *chk_severity_name(chk_severity s);

#endif

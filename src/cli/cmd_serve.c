/* `tlsgate serve`: flags and the config file share one option table in the
 * gateway; this file only maps argv onto it. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tlsgate/gateway.h"

static const char serve_help[] =
"Usage: tlsgate serve --listen ADDR:PORT --target ADDR:PORT (--cert F --key F | --certs-dir D)\n"
"                     [options]\n"
"       tlsgate serve --config FILE [--test]\n"
"\n"
"Terminates TLS (and mutual TLS) in front of any TCP or HTTP backend.\n"
"\n"
"Listener options (also the keys of a [listener NAME] section in --config):\n"
"  --listen ADDR:PORT        where clients connect (127.0.0.1:8443, [::]:443), or a\n"
"                            unix socket: unix:/run/tlsgate/app.sock[,mode=0660]\n"
"                            [,owner=USER[:GROUP]] (mode and owner set before it\n"
"                            listens; a stale socket file nobody listens on is\n"
"                            replaced, any other file refused; removed at exit)\n"
"  --target ADDR:PORT        the backend (a Flask app, MQTT broker, PostgreSQL...),\n"
"                            or unix:/PATH (gunicorn's --bind unix:...)\n"
"  --mode tcp|http           tcp: bytes both ways (default); http: adds identity headers\n"
"  --cert F --key F          certificate chain (leaf first) and its key (0600)\n"
"  --certs-dir D             per-host certs found by SNI, Prosody's layout:\n"
"                            D/HOST.crt + D/HOST.key, or D/HOST/fullchain.pem +\n"
"                            D/HOST/privkey.pem; wildcard SANs match too\n"
"  --strict-sni yes          refuse unknown SNI names instead of the default cert\n"
"  --client-ca F             CA bundle that signs client certs (may hold intermediates)\n"
"  --verify MODE             none (default) | optional | require | verify-full\n"
"  --allow-cn CN             verify-full: allow this subject CN (repeatable)\n"
"  --allow-san VALUE         ... a SAN: DNS:x, URI:spiffe://x, email:a@b, IP:1.2.3.4\n"
"  --allow-ou OU             ... an organizational unit\n"
"  --crl F                   refuse revoked client certs (PEM CRLs, each from a CA\n"
"                            of --client-ca, signed by it)\n"
"  --crl-strict yes          a CRL past its nextUpdate refuses every client, as\n"
"                            PostgreSQL does (default: a warning in the log and\n"
"                            tlsgate_crl_expired on /metrics; its list still revokes)\n"
"  --proxy-protocol v2       tcp mode: PROXY v2 header with TLS version, cipher, CN\n"
"  --cert-header no          http mode: leave out X-Client-Cert (the PEM, ~2 KB per\n"
"                            request); the other identity headers stay\n"
"  --pass-file F             passphrase for encrypted keys (first line of F)\n"
"  --pass-command CMD        ... or the first line CMD prints\n"
"  --ciphers S               OpenSSL cipher list (TLS 1.2) or TLS_* suites (1.3);\n"
"                            TLS 1.2 default: ECDHE with AES-GCM or ChaCha20 only\n"
"  --min-tls 1.2|1.3         oldest protocol accepted (default 1.2)\n"
"  --handshake-timeout S     default 10s; --connect-timeout S: default 5s\n"
"  --idle-timeout S          default 600s (MQTT keep-alives fit)\n"
"  --max-conn-lifetime S     end connections older than S (default off): tcp at\n"
"                            once, http after the next request (sent with\n"
"                            Connection: close)\n"
"  --head-timeout S          http mode: a request head must arrive whole within S,\n"
"                            from its first byte (the first: from the handshake);\n"
"                            else 408 and close (default 60s, as nginx)\n"
"  --body-timeout S          http mode: longest pause inside a request body (60s)\n"
"  --allow-connect yes       http mode: forward CONNECT (default: 405)\n"
"  --max-conns N             per listener, over all threads (default: what half\n"
"                            the memory holds at 64 KB each and the open files\n"
"                            limit allows, <= 100000)\n"
"  --max-unauth-conns N      connections still in their handshake, per listener\n"
"                            (default 4096); more are closed at once\n"
"  --max-unauth-per-addr N   the same per client address, IPv6 per /64 (default 256)\n"
"  --session-cache N         sessions kept for resumption in the worker process's\n"
"                            memory, per listener, 5 minutes each (default 10000,\n"
"                            ~4 KiB each with a client cert; past N the oldest go;\n"
"                            0: every handshake is a full one). A TLS 1.3 ticket\n"
"                            only names a cached session; a reload starts an empty\n"
"                            cache, so no session outlives the CA, CRL and rules\n"
"                            it was checked by (--ticket-keys: stateless tickets)\n"
"  --role server|client      server (default); client: the listener is a client\n"
"                            listener as `tlsgate connect` makes, which takes --ca,\n"
"                            --verify-name, --sni, --starttls, --alpn and --insecure\n"
"                            (see tlsgate connect --help)\n"
"  --ca, --verify-name, --sni, --starttls, --alpn, --insecure: client listeners only\n"
"  --ticket-keys F           session tickets under keys shared by a fleet, so\n"
"                            gateways (and nginx) behind one balancer resume each\n"
"                            other's sessions: nginx's ssl_session_ticket_key format,\n"
"                            80 bytes a key (`openssl rand 80 > F`), 0600 like keys;\n"
"                            a file may hold several and the option repeats: the\n"
"                            first encrypts, all decrypt. Rotate: new key first, old\n"
"                            second, SIGHUP; later drop the old one. Without it\n"
"                            sessions stay in the cache (--session-cache)\n"
"\n"
"Global options ([global] section):\n"
"  --workers N               worker threads (default: one per core)\n"
"  --status ADDR:PORT        serves /healthz (JSON) and /metrics (Prometheus);\n"
"                            bind it to loopback (5 s per request, 16 at once)\n"
"  --watch yes               reload as SIGHUP does (all or nothing) when a\n"
"                            certificate, key, CA, CRL or ticket-key file changes\n"
"                            (replaced by rename or rewritten): inotify on their\n"
"                            directories, applied 200 ms after the last change;\n"
"                            also looked at every second, for what inotify misses\n"
"  --ticket-key-rotate S     without --ticket-keys: seal tickets under random keys\n"
"                            of the process (shared by its workers, kept across\n"
"                            reloads, wiped when dropped), a new key every S, the\n"
"                            previous one still opening tickets for one more S; a\n"
"                            resumed ticket's client certificate is checked again.\n"
"                            Sessions then survive reloads, but each resumption\n"
"                            costs about twice the CPU (OpenSSL 3.0 decodes the\n"
"                            client certificate in every ticket). Default: off,\n"
"                            no ticket key, sessions in the cache\n""  --config FILE             INI file with [global] and [listener NAME] sections\n"
"  --test                    build everything, report, exit 0 (ok) or 1 (broken)\n"
"\n"
"Client certificates in http mode answer like nginx: none sent when required:\n"
"400 \"No required SSL certificate was sent\"; invalid: 400; valid but not\n"
"allowed: 403; backend down: 502. The backend gets X-Client-Verify, -Subject,\n"
"-Issuer, -Serial, -Fingerprint (SHA-256), -CN, -SAN, -Cert (URL-encoded PEM),\n"
"X-Forwarded-For, X-Real-IP, X-Forwarded-Proto and Forwarded; client-sent\n"
"headers of those names (and any X-Forwarded-*) are removed. Requests are parsed\n"
"strictly (RFC 9112; 400 otherwise); an upgrade becomes a tunnel only once the\n"
"backend answered it with 101.\n"
"In tcp mode a refused client gets a TLS alert. A CN, OU or SAN with a NUL or a\n"
"control character makes a bad certificate. X-Client-SAN is \"TYPE:value, ...\"\n"
"with %, comma and non-printable bytes in each value percent-encoded.\n"
"\n"
"Keys must be 0600 (owned by the gateway's user) or 0640 owned by root.\n"
"The listen address is the gateway's alone: another program (or a second\n"
"tlsgate) on it fails with \"address in use\"; the worker threads share it.\n"
"\n"
"Signals to the main process: SIGHUP reloads certs, keys, CA, CRL, rules and\n"
"listeners all-or-nothing (a broken file keeps the old setup serving and shows on\n"
"/healthz); established connections finish on the old setup, their client\n"
"certificates judged again by the new CA, CRL and allow lists: refused ones get\n"
"400/403 at their next request (http) or are closed (tcp). SIGQUIT stops\n"
"gracefully (open connections finish); SIGTERM and SIGINT stop at once.\n"
"/healthz lists each listener's CRLs (number, next_update, expired); /metrics\n"
"has tlsgate_crl_next_update_seconds and tlsgate_crl_expired.\n"
"\n"
"Examples:\n"
"  # mutual TLS in front of a Flask app; only alice and bob get in\n"
"  tlsgate serve --listen 0.0.0.0:443 --target 127.0.0.1:5000 --mode http \\\n"
"      --cert server.crt --key server.key --client-ca ca.crt \\\n"
"      --verify verify-full --allow-cn alice --allow-cn bob --crl ca.crl\n"
"\n"
"  # MQTT over TLS for devices with client certs (EMQX's verify_peer)\n"
"  tlsgate serve --listen 0.0.0.0:8883 --target 127.0.0.1:1883 \\\n"
"      --cert broker.crt --key broker.key --client-ca ca.crt --verify require\n"
"\n"
"  # XMPP hosts, certs found per SNI in Prosody's certs dir\n"
"  tlsgate serve --listen 0.0.0.0:5223 --target 127.0.0.1:5222 --certs-dir /etc/prosody/certs\n"
"\n"
"  # many listeners from a file; check it first like `nginx -t`\n"
"  tlsgate serve --config /etc/tlsgate/gateway.ini --test\n"
"\n"
"  gateway.ini:\n"
"    [global]\n"
"    workers = 4\n"
"    status = 127.0.0.1:9100\n"
"    [listener web]\n"
"    listen = 0.0.0.0:443\n"
"    target = 127.0.0.1:5000\n"
"    mode = http\n"
"    certs-dir = /etc/tlsgate/certs\n"
"    client-ca = /etc/tlsgate/ca.crt\n"
"    verify = optional\n";

static const char connect_help[] =
"Usage: tlsgate connect --listen ADDR:PORT --target HOST:PORT --ca F\n"
"                       [--cert F --key F] [options]\n"
"       tlsgate connect --config FILE [--test]\n"
"\n"
"Client mode: programs that cannot hold a client certificate (psql, an MQTT\n"
"device, a legacy app) connect in plain TCP or over a unix socket; tlsgate\n"
"connects to the target with TLS and the client certificate, verifying the\n"
"server's chain against --ca and its name (the target's host name or IP\n"
"address, or --verify-name). A server with another name or CA is refused, the\n"
"reason in the log, and the client's connection closed.\n"
"\n"
"Options (also the keys of a [listener NAME] section with role = client):\n"
"  --listen ADDR:PORT        where the programs connect (127.0.0.1:5432), or\n"
"                            unix:/PATH[,mode=0660][,owner=USER[:GROUP]]\n"
"  --target HOST:PORT        the TLS server (db.internal:5432), or unix:/PATH\n"
"  --cert F --key F          the client certificate (chain, leaf first) and key (0600)\n"
"  --ca F                    the CA(s) the server's certificate must chain to\n"
"  --verify-name NAME        the name (or IP) the server's certificate must hold\n"
"                            (default: the target's host)\n"
"  --sni NAME                the server name sent (default: the verified name,\n"
"                            none for an IP address)\n"
"  --starttls postgres       send PostgreSQL's SSLRequest and wait for 'S' first,\n"
"                            so plain psql reaches a hostssl server (psql's own\n"
"                            SSLRequest is answered 'N' here: this side is plain)\n"
"  --alpn LIST               ALPN protocols offered, e.g. h2,http/1.1\n"
"  --insecure                no --ca: connect without checking the server (logged\n"
"                            loudly at start and, rate-limited, per connection)\n"
"  --pass-file F             passphrase for an encrypted key (first line of F)\n"
"  --pass-command CMD        ... or the first line CMD prints\n"
"  --ciphers S, --min-tls 1.2|1.3   as in tlsgate serve\n"
"  --connect-timeout S       to reach the target (default 5s)\n"
"  --handshake-timeout S     for the SSLRequest and the TLS handshake (default 10s)\n"
"  --idle-timeout S          default 600s; --max-conn-lifetime S: default off\n"
"  --max-conns N             per listener\n"
"  --session-cache N         sessions kept to resume (default 10000, at most 1024\n"
"                            per target; 0: every connection a full handshake)\n"
"  --workers N               worker threads (default: one per core)\n"
"  --status ADDR:PORT        /healthz and /metrics, as in tlsgate serve\n"
"  --watch yes               reload as SIGHUP does when the certificate, key or CA\n"
"                            file changes (inotify, and a look every second), as in\n"
"                            serve\n"
"  --config FILE             INI file; --test: build everything, report, exit\n"
"\n"
"Sessions are resumed (TLS 1.3 tickets and TLS 1.2 sessions) on later\n"
"connections to the same target; the log line says resumed=1. SIGHUP reloads\n"
"the client certificate, key and CA all-or-nothing (a broken file keeps the old\n"
"ones, as serve does); open connections go on, new ones use the new files.\n"
"The log line of a connection shows the server's CN and verify=ok (or\n"
"insecure).\n"
"\n"
"Examples:\n"
"  # plain psql to a PostgreSQL that wants clientcert=verify-full\n"
"  tlsgate connect --listen 127.0.0.1:5432 --target db.internal:5432 \\\n"
"      --cert alice.crt --key alice.key --ca ./pki/root.crt --starttls postgres\n"
"  psql 'host=127.0.0.1 user=alice dbname=app'\n"
"\n"
"  # an MQTT device publishing in plain text to a broker that requires certs\n"
"  tlsgate connect --listen 127.0.0.1:1883 --target broker.example.com:8883 \\\n"
"      --cert device.crt --key device.key --ca ca.crt\n"
"\n"
"  # the same as a config file (tlsgate serve --config reads it too)\n"
"    [listener db]\n"
"    role = client\n"
"    listen = unix:/run/tlsgate/db.sock,mode=0660,owner=app:app\n"
"    target = db.internal:5432\n"
"    cert = /etc/tlsgate/alice.crt\n"
"    key = /etc/tlsgate/alice.key\n"
"    ca = /etc/tlsgate/root.crt\n"
"    starttls = postgres\n";

/* Every long option is a config key (the gateway's table), except these. */
#define OPT_KEY_BASE 2000
#define OPT_CONFIG 1000
#define OPT_TEST 1001

struct pending {
	const char *key, *value;
};

static int
run_test(gw_config *cfg)
{
	char report[8192];
	tg_err err;

	tg_err_clear(&err);
	if (gw_config_test(cfg, report, sizeof(report), &err) != 0) {
		fprintf(stderr, "tlsgate: error: %s\n", err.msg);
		fprintf(stderr, "tlsgate: configuration is broken\n");
		return 1;
	}
	fputs(report, stdout);
	puts("configuration ok");
	return 0;
}

static int
apply(const char *cmd, gw_config *cfg, const struct pending *p, size_t n, int have_file)
{
	tg_err err;

	tg_err_clear(&err);
	for (size_t i = 0; i < n; i++) {
		if (have_file && !gw_config_key_is_global(p[i].key))
			return cli_usage(cmd, "--%s: with --config, listener options go in the file's "
			    "[listener NAME] sections", p[i].key);
		if (gw_config_set(cfg, NULL, p[i].key, p[i].value, &err) != 0)
			return cli_usage(cmd, "--%s", err.msg); /* "KEY: why" */
	}
	return 0;
}

/* serve and connect: the same gateway, the same option table; connect
 * takes the client listeners' keys and makes its flag listener a client
 * (a config file says each listener's role itself). */
static int
gateway_run(int argc, char **argv, const char *cmd, const char *const *keys, int client)
{
	struct option opts[64];
	size_t nkeys = 0;
	struct pending *pend = calloc((size_t)argc, sizeof(*pend));
	const char *config = NULL;
	gw_config *cfg = gw_config_new();
	size_t npend = 0;
	int c, test = 0, rc = 2;
	tg_err err;

	tg_err_clear(&err);
	if (pend == NULL || cfg == NULL) {
		fprintf(stderr, "tlsgate: out of memory\n");
		rc = 1;
		goto out;
	}
	for (; keys[nkeys] != NULL && nkeys + 3 < sizeof(opts) / sizeof(opts[0]); nkeys++)
		opts[nkeys] = (struct option){ keys[nkeys],
			gw_config_key_is_flag(keys[nkeys]) ? no_argument : required_argument, NULL,
			(int)(OPT_KEY_BASE + nkeys) };
	opts[nkeys] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	opts[nkeys + 1] = (struct option){ "test", no_argument, NULL, OPT_TEST };
	opts[nkeys + 2] = (struct option){ NULL, 0, NULL, 0 };
	optind = 1;
	while ((c = cli_getopt(argc, argv, opts, cmd)) != -1) {
		if (c == '?')
			goto out;
		if (c == OPT_CONFIG)
			config = optarg;
		else if (c == OPT_TEST)
			test = 1;
		else
			pend[npend++] = (struct pending){ keys[c - OPT_KEY_BASE], optarg ? optarg : "yes" };
	}
	if (optind < argc) {
		rc = cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (config != NULL && gw_config_load(cfg, config, &err) != 0) {
		rc = test ? (fprintf(stderr, "tlsgate: error: %s\n", err.msg), 1) : cli_fail(&err);
		goto out;
	}
	if (client && config == NULL && npend > 0 &&
	    gw_config_set(cfg, NULL, "role", "client", &err) != 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if ((rc = apply(cmd, cfg, pend, npend, config != NULL)) != 0)
		goto out;
	if (test) {
		rc = run_test(cfg);
		goto out;
	}
	if (gw_config_validate(cfg, &err) != 0 || gw_serve(cfg, &err) != 0) {
		rc = cli_fail(&err);
		goto out;
	}
	rc = 0;
out:
	gw_config_free(cfg);
	free(pend);
	return rc;
}

static int
serve_run(int argc, char **argv)
{
	return gateway_run(argc, argv, "serve", gw_config_keys(), 0);
}

static int
connect_run(int argc, char **argv)
{
	return gateway_run(argc, argv, "connect", gw_config_client_keys(), 1);
}

const struct cli_cmd cli_connect_cmd = {
	"connect", "client mode: plain TCP or unix socket in, TLS with a client certificate out",
	connect_help, connect_run, NULL,
};

const struct cli_cmd cli_serve_cmd = {
	"serve", "run the TLS/mutual-TLS gateway in front of a TCP or HTTP backend",
	serve_help, serve_run, NULL,
};

/* tlsgate-acmeload: options, the http-01 responder, the workers, and the
 * one JSON line of results. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <openssl/err.h>

#include "al.h"

static const char usage[] =
"Usage: tlsgate-acmeload --server https://HOST:PORT --ca ROOT.crt --http01-port P [options]\n"
"Runs N ACME orders (RFC 8555) through the whole flow against the server and\n"
"prints one JSON line: orders ok/failed, wall seconds, orders/s, p50/p99 seconds\n"
"per order, requests per order, badNonce retries, chains verified.\n"
"  --server URL        the ACME server (its certificate verified against --ca)\n"
"  --directory PATH    the directory's path (default /directory; pebble: /dir)\n"
"  --ca F              the CA root: the server's certificate and the issued\n"
"                      chains must reach it\n"
"  --chain-root F     the root the issued chains must reach (default: --ca;\n"
"                      pebble issues from its own CA: its /roots/0)\n"
"  --http01-port P     answer http-01 here on 127.0.0.1 (the server validates there)\n"
"  --identifier ID     an IP literal or a DNS name the server resolves to\n"
"                      127.0.0.1 (default 127.0.0.1)\n"
"  --orders N          orders in all (default 500)\n"
"  --concurrency C     workers, each with its own account and connection (default 16)\n"
"  --poll-ms MS        pause between polls of a pending order (default 10)\n"
"  --verify-every K    verify the chain of order 0 and every Kth (default 100; 0: none)\n";

struct opts {
	const char *server, *directory, *ca, *chain_root, *identifier;
	long orders;
	int http01_port, concurrency, poll_ms, verify_every;
};

enum opt_kind { O_STR, O_INT, O_LONG };

struct opt_row {
	const char *name;
	enum opt_kind kind;
	size_t off;
	long min, max;
};

#define ROW(n, k, f, lo, hi) {n, k, offsetof(struct opts, f), lo, hi}
static const struct opt_row opt_table[] = {
	ROW("--server", O_STR, server, 0, 0),
	ROW("--directory", O_STR, directory, 0, 0),
	ROW("--ca", O_STR, ca, 0, 0),
	ROW("--chain-root", O_STR, chain_root, 0, 0),
	ROW("--identifier", O_STR, identifier, 0, 0),
	ROW("--orders", O_LONG, orders, 1, 10000000),
	ROW("--http01-port", O_INT, http01_port, 1, 65535),
	ROW("--concurrency", O_INT, concurrency, 1, 4096),
	ROW("--poll-ms", O_INT, poll_ms, 0, 10000),
	ROW("--verify-every", O_INT, verify_every, 0, 10000000),
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	int i;
	size_t k;

	for (i = 1; i < argc; i++) {
		const struct opt_row *row = NULL;
		char *end;
		long v;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			exit(0);
		}
		for (k = 0; k < sizeof(opt_table) / sizeof(opt_table[0]); k++)
			if (!strcmp(argv[i], opt_table[k].name))
				row = &opt_table[k];
		if (!row || i + 1 >= argc) {
			fprintf(stderr, "acmeload: unknown option or missing value: %s\n%s", argv[i],
			        usage);
			return -1;
		}
		i++;
		if (row->kind == O_STR) {
			*(const char **)((char *)o + row->off) = argv[i];
			continue;
		}
		v = strtol(argv[i], &end, 10);
		if (end == argv[i] || *end || v < row->min || v > row->max) {
			fprintf(stderr, "acmeload: %s wants a number from %ld to %ld, not %s\n",
			        row->name, row->min, row->max, argv[i]);
			return -1;
		}
		if (row->kind == O_INT)
			*(int *)((char *)o + row->off) = (int)v;
		else
			*(long *)((char *)o + row->off) = v;
	}
	if (!o->server || !o->ca || !o->http01_port) {
		fprintf(stderr, "acmeload: --server, --ca and --http01-port are required\n%s", usage);
		return -1;
	}
	return 0;
}

/* https://HOST:PORT (no path) into sh. */
static int parse_server(const char *url, al_shared *sh)
{
	const char *p = url, *colon;
	char *end;
	long port;

	if (strncmp(p, "https://", 8))
		goto bad;
	p += 8;
	colon = strrchr(p, ':');
	if (!colon || colon == p || (size_t)(colon - p) >= sizeof(sh->host))
		goto bad;
	port = strtol(colon + 1, &end, 10);
	if ((*end && strcmp(end, "/")) || port < 1 || port > 65535)
		goto bad;
	memcpy(sh->host, p, (size_t)(colon - p));
	sh->host[colon - p] = '\0';
	sh->port = (int)port;
	return 0;
bad:
	fprintf(stderr, "acmeload: --server %s: give https://HOST:PORT\n", url);
	return -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)n);
	return n ? v[i < n ? i : n - 1] : 0.0;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0.0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void report(al_worker *ws, int n, double secs, double cpu)
{
	size_t total = 0, k = 0;
	long failed = 0, verified = 0, authz_valid = 0;
	uint64_t requests = 0, bad_nonce = 0, connects = 0;
	double *all;
	int i;

	for (i = 0; i < n; i++) {
		total += ws[i].n_lat;
		failed += ws[i].failed;
		verified += ws[i].verified;
		authz_valid += ws[i].authz_valid;
		requests += ws[i].requests;
		bad_nonce += ws[i].bad_nonce;
		connects += ws[i].conn.connects;
		if (ws[i].setup_failed)
			failed++; /* an account that could not be made counts once */
	}
	all = calloc(total ? total : 1, sizeof(*all));
	if (!all)
		return;
	for (i = 0; i < n; i++) {
		if (!ws[i].n_lat)
			continue;
		memcpy(all + k, ws[i].lat, ws[i].n_lat * sizeof(*all));
		k += ws[i].n_lat;
	}
	qsort(all, total, sizeof(*all), cmp_double);
	printf("{\"client\": \"acmeload\", \"orders\": %zu, \"failed\": %ld, \"seconds\": %.3f, "
	       "\"orders_per_s\": %.1f, \"p50_s\": %.4f, \"p99_s\": %.4f, "
	       "\"requests_per_order\": %.2f, \"bad_nonce_retries\": %llu, "
	       "\"client_cpu_ms_per_order\": %.2f, \"chains_verified\": %ld, \"authz_already_valid\": %ld, \"connections\": %llu, \"concurrency\": %d}\n",
	       total, failed, secs, secs > 0 ? (double)total / secs : 0.0, pct(all, total, 0.5),
	       pct(all, total, 0.99), total ? (double)requests / (double)total : 0.0,
	       (unsigned long long)bad_nonce, total ? cpu * 1000.0 / (double)total : 0.0, verified,
	       authz_valid, (unsigned long long)connects, n);
	free(all);
}

int main(int argc, char **argv)
{
	struct opts o = {.directory = "/directory", .identifier = "127.0.0.1", .orders = 500,
	                 .concurrency = 16, .poll_ms = 10, .verify_every = 100};
	al_shared sh;
	al_worker *ws = NULL;
	pthread_t *th = NULL;
	unsigned char addr[16];
	char err[AL_ERR_MAX] = "";
	double t0, cpu0;
	int i, started = 0, rc = 1;

	memset(&sh, 0, sizeof(sh));
	pthread_mutex_init(&sh.mu, NULL);
	if (parse_opts(argc, argv, &o) != 0 || parse_server(o.server, &sh) != 0)
		return 2;
	if (strlen(o.directory) >= sizeof(sh.dir_path) || o.directory[0] != '/' ||
	    strlen(o.identifier) >= sizeof(sh.identifier)) {
		fprintf(stderr, "acmeload: --directory must be a path, --identifier a name\n");
		return 2;
	}
	strcpy(sh.dir_path, o.directory);
	strcpy(sh.identifier, o.identifier);
	sh.is_ip = inet_pton(AF_INET, o.identifier, addr) == 1 ||
	           inet_pton(AF_INET6, o.identifier, addr) == 1;
	sh.orders = o.orders;
	sh.poll_ms = o.poll_ms;
	sh.verify_every = o.verify_every;
	sh.ctx = al_tls_ctx(o.ca);
	sh.roots = X509_STORE_new();
	if (!o.chain_root)
		o.chain_root = o.ca;
	if (!sh.ctx || !sh.roots || X509_STORE_load_file(sh.roots, o.chain_root) != 1) {
		fprintf(stderr, "acmeload: cannot load the CA root %s or %s (give PEM files)\n",
		        o.ca, o.chain_root);
		goto out;
	}
	sh.http01 = al_http01_start(o.http01_port, (size_t)o.concurrency, 4, err, sizeof(err));
	if (!sh.http01) {
		fprintf(stderr, "acmeload: %s\n", err);
		goto out;
	}
	ws = calloc((size_t)o.concurrency, sizeof(*ws));
	th = calloc((size_t)o.concurrency, sizeof(*th));
	if (!ws || !th)
		goto out;
	/* The clock starts once every worker has its account: main is the
	 * barrier's last member. */
	pthread_barrier_init(&sh.ready, NULL, (unsigned)o.concurrency + 1);
	for (i = 0; i < o.concurrency; i++) {
		ws[i].sh = &sh;
		ws[i].slot = (size_t)i;
		if (pthread_create(&th[i], NULL, al_worker_run, &ws[i]) != 0) {
			fprintf(stderr, "acmeload: cannot start worker %d\n", i);
			exit(1); /* the barrier would never open */
		}
		started++;
	}
	pthread_barrier_wait(&sh.ready);
	t0 = al_now();
	cpu0 = cpu_seconds();
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	report(ws, started, al_now() - t0, cpu_seconds() - cpu0);
	pthread_barrier_destroy(&sh.ready);
	rc = 0;
	for (i = 0; i < started; i++)
		if (ws[i].setup_failed || ws[i].failed)
			rc = 1;
out:
	for (i = 0; ws && i < started; i++) {
		EVP_PKEY_free(ws[i].key);
		free(ws[i].lat);
	}
	free(ws);
	free(th);
	al_http01_stop(sh.http01);
	X509_STORE_free(sh.roots);
	SSL_CTX_free(sh.ctx);
	pthread_mutex_destroy(&sh.mu);
	return rc;
}

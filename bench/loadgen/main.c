/* tlsgate-loadgen: options, threads, the measuring window, server CPU
 * sampling and the one JSON line of results. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "lg.h"

static const char usage[] =
"Usage: tlsgate-loadgen --mode MODE --port P --cert F --key F [options]\n"
"Connects to 127.0.0.1:P only. Prints one JSON line.\n"
"Modes:\n"
"  handshake  full mutual-TLS 1.3 handshakes/s: connect, handshake, close_notify,\n"
"             wait for the server's close (so its check of our cert is counted)\n"
"  resume     TLS 1.3 session tickets: connect with the newest ticket, resume,\n"
"             one GET PATH with Connection: close, close: resumed handshakes/s\n"
"  requests   HTTP/1.1 keep-alive GET PATH over --conns connections: req/s, p50/p99\n"
"  bulk       GET PATH (a large body) again and again on one connection: MB/s\n"
"  idle       open --conns connections (handshake + one GET), hold them --hold s;\n"
"             --ready-file F is created once all are up (for RSS readings)\n"
"Options:\n"
"  --threads N        event loops (default 2)\n"
"  --conns N          concurrent connections (default: handshake/resume 32,\n"
"                     requests 64, bulk 1, idle 1000)\n"
"  --inflight N       idle: handshakes under way per thread (default 32)\n"
"  --warmup S         seconds before counting starts (default 1)\n"
"  --duration S       seconds counted (default 5)\n"
"  --hold S           idle: seconds to hold the connections (default 5)\n"
"  --max-ops N        stop early after N operations (default 50000000)\n"
"  --path P           request target (default /)\n"
"  --ca F             verify the server against F (default: no check, saves client CPU)\n"
"  --no-cert          send no client certificate (a refusal probe)\n"
"  --plain            no TLS: plain HTTP to a client-mode gateway (tlsgate connect,\n"
"                     stunnel client = yes); resume then counts connections/s\n"
"                     (one GET each), requests and bulk work as with TLS\n"
"  --groups G         key exchange groups (default P-256)\n"
"  --suites S         TLS 1.3 suites (default TLS_AES_128_GCM_SHA256)\n"
"  --pids A,B,...     server PIDs whose CPU time is read from /proc over the window\n";

enum opt_kind { O_STR, O_INT, O_DBL, O_U64, O_FLAG };

struct opt_row {
	const char *name;
	enum opt_kind kind;
	size_t off;
};

static int no_cert;

#define ROW(n, k, f) {n, k, offsetof(struct lg_opts, f)}
static const struct opt_row opt_table[] = {
	ROW("--port", O_INT, port),	    ROW("--cert", O_STR, cert),	      ROW("--key", O_STR, key),
	ROW("--ca", O_STR, ca),		    ROW("--path", O_STR, path),	      ROW("--groups", O_STR, groups),
	ROW("--suites", O_STR, suites),	    ROW("--ready-file", O_STR, ready_file),
	ROW("--threads", O_INT, threads),   ROW("--conns", O_INT, conns),     ROW("--inflight", O_INT, inflight),
	ROW("--warmup", O_DBL, warmup_s),   ROW("--duration", O_DBL, duration_s),
	ROW("--hold", O_DBL, hold_s),	    ROW("--max-ops", O_U64, max_ops),
};

static const char *const mode_names[] = {"handshake", "resume", "requests", "bulk", "idle"};

static int parse_pids(struct lg_opts *o, const char *s)
{
	char *end;
	while (*s != '\0') {
		long v = strtol(s, &end, 10);
		if (end == s || v <= 0 || o->npids == (int)(sizeof o->pids / sizeof o->pids[0]))
			return -1;
		o->pids[o->npids++] = (int)v;
		s = *end == ',' ? end + 1 : end;
		if (*end != ',' && *end != '\0')
			return -1;
	}
	return 0;
}

static int set_opt(struct lg_opts *o, const struct opt_row *r, const char *v)
{
	char *end = NULL;
	void *p = (char *)o + r->off;
	errno = 0;
	switch (r->kind) {
	case O_STR:
		*(const char **)p = v;
		return 0;
	case O_INT:
		*(int *)p = (int)strtol(v, &end, 10);
		break;
	case O_DBL:
		*(double *)p = strtod(v, &end);
		break;
	case O_U64:
		*(uint64_t *)p = strtoull(v, &end, 10);
		break;
	case O_FLAG:
		return 0;
	}
	return errno == 0 && end != v && *end == '\0' ? 0 : -1;
}

static int parse_args(struct lg_opts *o, int argc, char **argv)
{
	int mode = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		size_t k;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			exit(0);
		}
		if (strcmp(a, "--no-cert") == 0) {
			no_cert = 1;
			continue;
		}
		if (strcmp(a, "--plain") == 0) {
			o->plain = no_cert = 1;
			continue;
		}
		if (v == NULL) {
			fprintf(stderr, "tlsgate-loadgen: %s needs a value\n", a);
			return -1;
		}
		i++;
		if (strcmp(a, "--mode") == 0) {
			for (k = 0; k < sizeof mode_names / sizeof mode_names[0]; k++)
				if (strcmp(v, mode_names[k]) == 0)
					mode = (int)k;
			if (mode < 0) {
				fprintf(stderr, "tlsgate-loadgen: unknown mode '%s'\n", v);
				return -1;
			}
			continue;
		}
		if (strcmp(a, "--pids") == 0) {
			if (parse_pids(o, v) != 0) {
				fprintf(stderr, "tlsgate-loadgen: --pids wants A,B,... (at most 64)\n");
				return -1;
			}
			continue;
		}
		for (k = 0; k < sizeof opt_table / sizeof opt_table[0]; k++)
			if (strcmp(a, opt_table[k].name) == 0)
				break;
		if (k == sizeof opt_table / sizeof opt_table[0] || set_opt(o, &opt_table[k], v) != 0) {
			fprintf(stderr, "tlsgate-loadgen: bad option %s %s (see --help)\n", a, v);
			return -1;
		}
	}
	if (mode < 0 || o->port <= 0 || o->port > 65535 || (!no_cert && (o->cert == NULL || o->key == NULL))) {
		fprintf(stderr, "tlsgate-loadgen: --mode, --port, --cert and --key are required (see --help)\n");
		return -1;
	}
	o->mode = (enum lg_mode)mode;
	if (no_cert)
		o->cert = o->key = NULL;
	if (o->conns <= 0) {
		static const int dflt[] = {32, 32, 64, 1, 1000};
		o->conns = dflt[o->mode];
	}
	if (o->threads <= 0 || o->inflight <= 0 || o->duration_s <= 0 || o->warmup_s < 0 || o->hold_s < 0) {
		fprintf(stderr, "tlsgate-loadgen: --threads, --inflight and --duration must be positive\n");
		return -1;
	}
	if (o->threads > o->conns)
		o->threads = o->conns;
	return 0;
}

/* utime + stime of the listed processes, in seconds; -1 when one is gone. */
static double server_cpu(const struct lg_opts *o)
{
	double sum = 0;
	long tick = sysconf(_SC_CLK_TCK);
	for (int i = 0; i < o->npids; i++) {
		char path[64], buf[1024];
		unsigned long ut = 0, st = 0;
		snprintf(path, sizeof path, "/proc/%d/stat", o->pids[i]);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			return -1;
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		/* fields after the ")" that ends comm: state is field 3, utime 14, stime 15 */
		char *p = strrchr(buf, ')');
		if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
			return -1;
		sum += (double)(ut + st) / (double)tick;
	}
	return sum;
}

static void sleep_until(uint64_t t)
{
	uint64_t now = lg_now_ns();
	if (now >= t)
		return;
	struct timespec ts = {.tv_sec = (time_t)((t - now) / 1000000000u), .tv_nsec = (long)((t - now) % 1000000000u)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

struct worker {
	pthread_t tid;
	struct lg_run *run;
	int index;
	SSL_CTX *ctx;
	struct lg_stats *st;
	volatile int ready;
	int rc;
	char err[256];
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	w->rc = lg_thread_run(w->run, w->index, w->ctx, w->st, &w->ready, w->err, sizeof w->err);
	return NULL;
}

static int all_ready(const struct worker *w, int n)
{
	for (int i = 0; i < n; i++)
		if (!w[i].ready)
			return 0;
	return 1;
}

static void idle_phase(struct lg_run *run, struct worker *w, int n)
{
	const struct lg_opts *o = run->o;
	/* generous: the slowest peers take ~1 ms per handshake */
	uint64_t limit = lg_now_ns() + (uint64_t)(30 + o->conns / 100) * 1000000000u;
	while (!all_ready(w, n) && lg_now_ns() < limit)
		usleep(20000);
	if (o->ready_file != NULL) {
		int fd = open(o->ready_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0)
			close(fd);
	}
	sleep_until(lg_now_ns() + (uint64_t)(o->hold_s * 1e9));
	run->stop = 1;
}

static void print_json(const struct lg_opts *o, const struct lg_stats *s, double cpu, const char *err)
{
	double d = o->duration_s;
	double mb_s = (double)s->bytes / d / 1e6;
	int by_resumed = o->mode == LG_RESUME && !o->plain; /* --plain: connections */
	double rate = by_resumed ? (double)s->resumed / d : (double)s->ops / d;
	const struct lg_hist *h = &s->hist;
	printf("{\"mode\":\"%s\",\"port\":%d,\"threads\":%d,\"conns\":%d,\"duration_s\":%.3f,"
	       "\"ops\":%llu,\"rate\":%.1f,\"full\":%llu,\"resumed\":%llu,\"errors\":%llu,"
	       "\"reconnects\":%llu,\"p50_us\":%.1f,\"p99_us\":%.1f,\"bytes\":%llu,\"mb_s\":%.1f,"
	       "\"established\":%llu,\"dropped\":%llu",
	       mode_names[o->mode], o->port, o->threads, o->conns, d, (unsigned long long)s->ops, rate,
	       (unsigned long long)s->full, (unsigned long long)s->resumed, (unsigned long long)s->errors,
	       (unsigned long long)s->reconnects, lg_hist_pct(h, 0.50), lg_hist_pct(h, 0.99),
	       (unsigned long long)s->bytes, mb_s, (unsigned long long)s->established,
	       (unsigned long long)s->dropped);
	if (cpu >= 0) {
		uint64_t ops = by_resumed ? s->resumed : s->ops;
		printf(",\"server_cpu_s\":%.3f,\"server_cpu_us_per_op\":%.1f", cpu,
		       ops > 0 ? cpu * 1e6 / (double)ops : 0.0);
	}
	if (err != NULL && err[0] != '\0') {
		putchar(',');
		printf("\"last_error\":\"");
		for (const char *p = err; *p != '\0'; p++)
			if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
				putchar(*p);
		putchar('"');
	}
	printf("}\n");
}

int main(int argc, char **argv)
{
	struct lg_opts o = {.path = "/", .groups = "P-256", .suites = "TLS_AES_128_GCM_SHA256",
			    .threads = 2, .inflight = 32, .warmup_s = 1, .duration_s = 5, .hold_s = 5,
			    .max_ops = 50000000};
	struct lg_run run = {.o = &o};
	struct worker *w = NULL;
	struct lg_stats *sum = NULL;
	double cpu0 = -1, cpu1 = -1;
	const char *err = "";
	int rc = 2, started = 0;

	if (parse_args(&o, argc, argv) != 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	w = calloc((size_t)o.threads, sizeof *w);
	sum = calloc(1, sizeof *sum);
	if (w == NULL || sum == NULL)
		goto out;
	for (int i = 0; i < o.threads; i++) {
		w[i].st = calloc(1, sizeof *w[i].st);
		w[i].ctx = lg_ctx_new(&o, w[i].err, sizeof w[i].err);
		if (w[i].st == NULL || w[i].ctx == NULL) {
			fprintf(stderr, "tlsgate-loadgen: %s\n", w[i].err[0] ? w[i].err : "out of memory");
			goto out;
		}
		w[i].run = &run;
		w[i].index = i;
	}
	uint64_t t0 = lg_now_ns();
	run.t_measure = o.mode == LG_IDLE ? t0 : t0 + (uint64_t)(o.warmup_s * 1e9);
	run.t_end = o.mode == LG_IDLE ? UINT64_MAX : run.t_measure + (uint64_t)(o.duration_s * 1e9);
	for (; started < o.threads; started++)
		if (pthread_create(&w[started].tid, NULL, worker_main, &w[started]) != 0)
			break;
	if (started < o.threads) {
		run.stop = 1;
		fprintf(stderr, "tlsgate-loadgen: cannot start threads\n");
		goto join;
	}
	if (o.mode == LG_IDLE) {
		idle_phase(&run, w, o.threads);
	} else {
		sleep_until(run.t_measure);
		cpu0 = server_cpu(&o);
		sleep_until(run.t_end);
		cpu1 = server_cpu(&o);
	}
join:
	for (int i = 0; i < started; i++) {
		pthread_join(w[i].tid, NULL);
		sum->ops += w[i].st->ops;
		sum->full += w[i].st->full;
		sum->resumed += w[i].st->resumed;
		sum->bytes += w[i].st->bytes;
		sum->errors += w[i].st->errors;
		sum->reconnects += w[i].st->reconnects;
		sum->established += w[i].st->established;
		sum->dropped += w[i].st->dropped;
		lg_hist_merge(&sum->hist, &w[i].st->hist);
		if (w[i].err[0] != '\0')
			err = w[i].err;
	}
	if (started < o.threads)
		goto out;
	print_json(&o, sum, o.npids > 0 && cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1, err);
	if (o.mode == LG_IDLE)
		rc = sum->established == (uint64_t)o.conns && sum->dropped == 0 ? 0 : 1;
	else
		rc = sum->ops > 0 ? 0 : 1;
out:
	if (w != NULL)
		for (int i = 0; i < o.threads; i++) {
			SSL_CTX_free(w[i].ctx);
			free(w[i].st);
		}
	free(w);
	free(sum);
	return rc;
}

/* libFuzzer target for http-01 validation: what the host being validated
 * answers. The input is up to 12 responses cut at lines "%%"; each hop
 * (acme_http01_hop, the validator's own step) sends its GET into a
 * socketpair whose other end holds the next response and then its end,
 * and follows a redirect to the next one. Checked: each hop ends in the
 * key authorization (only from a 200), a redirect to a usable target (an http path on the configured
 * port, no fragment, no spaces or control characters: it goes into the
 * next GET's request line), or a problem whose JSON document is valid;
 * never more than 10 redirects; the GET on the wire is one well-formed
 * request for the hop's target. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acme/acme_int.h"
#include "fuzz_acme.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY_AUTHZ "tok-1.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
#define PORT 5002
#define SEP "\n%%\n"

static void
check_target(const acme_http01_target *t)
{
	if (t->host[0] == '\0' || t->path[0] != '/' || t->port != PORT ||
	    strchr(t->path, '#') != NULL)
		abort();
	for (const unsigned char *c = (const unsigned char *)t->path; *c != '\0'; c++)
		if (*c <= 0x20 || *c >= 0x7f)
			abort();
	for (const unsigned char *c = (const unsigned char *)t->host; *c != '\0'; c++)
		if (*c <= 0x20 || *c >= 0x7f || *c == '/' || *c == '@')
			abort();
}

/* The GET the hop sent: its request line names t's path, Host t's host. */
static void
check_request(int fd, const acme_http01_target *t)
{
	char req[4096], want[ACME_URL_MAX + 32];
	ssize_t n = recv(fd, req, sizeof(req) - 1, MSG_DONTWAIT);

	if (n <= 0)
		abort();
	req[n] = '\0';
	snprintf(want, sizeof(want), "GET %s HTTP/1.1\r\nHost: ", t->path);
	if (strncmp(req, want, strlen(want)) != 0 || strstr(req, "\r\n\r\n") == NULL ||
	    strstr(req, "\r\n\r\n")[4] != '\0')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	acme_vopts o = { .http_port = PORT, .timeout_ms = 5000 };
	acme_http01_target t = { .host = "192.0.2.1", .is_ip = 1, .port = PORT,
		.path = "/.well-known/acme-challenge/tok-1" };
	const uint8_t *p = data, *end = data + size;
	int sndbuf = 1 << 20;

	for (int hop = 0;; hop++) {
		const uint8_t *sep = memmem(p, (size_t)(end - p), SEP, sizeof(SEP) - 1);
		const uint8_t *stop = sep != NULL ? sep : end;
		acme_http01_target before = t;
		acme_problem pr = { 0 };
		int sv[2], rc;

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
			abort();
		(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		if (stop > p && write(sv[1], p, (size_t)(stop - p)) != stop - p)
			abort();
		shutdown(sv[1], SHUT_WR);
		rc = acme_http01_hop(sv[0], "192.0.2.1:5002", &t, hop, KEY_AUTHZ, &o,
		    acme_now_ms() + 5000, &pr);
		check_request(sv[1], &before);
		close(sv[0]);
		close(sv[1]);
		if (rc == 0) {
			/* Only a 200 carries the key authorization. */
			if (stop - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || memcmp(p + 8, " 200", 4) != 0)
				abort();
			return 0;
		}
		if (rc != 1) {
			if (rc != -1)
				abort();
			check_problem(&pr);
			return 0;
		}
		if (hop >= 10)
			abort(); /* an 11th redirect followed */
		check_target(&t);
		if (sep == NULL)
			return 0;
		p = sep + sizeof(SEP) - 1;
	}
}

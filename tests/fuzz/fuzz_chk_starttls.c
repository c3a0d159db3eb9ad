/* libFuzzer target for the STARTTLS steps of `check endpoint`: the first
 * input byte picks PostgreSQL, XMPP client or XMPP server; the rest is what
 * the server sends, written into a socketpair and closed, so the reader
 * meets it whole and then the end of the stream. It answers 'S' or 'N', or
 * fails saying why; never past its buffers, without leaks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check/chk_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const chk_starttls kinds[] = { CHK_STARTTLS_POSTGRES, CHK_STARTTLS_XMPP,
		CHK_STARTTLS_XMPP_SERVER };
	int sv[2], sndbuf = 1 << 20;
	char answer = 0, why[160] = "";
	tg_err err;
	int r;

	if (size < 1)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	/* Room for all of the server's bytes and the client's: nothing blocks. */
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (size > 1 && write(sv[1], data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	shutdown(sv[1], SHUT_WR);
	tg_err_clear(&err);
	r = chk_starttls_prelude(sv[0], kinds[data[0] % 3], "example.com", &answer, why,
	    sizeof(why), &err);
	if (r == 0 && answer != 'S' && answer != 'N')
		abort();
	if (r != 0 && err.msg[0] == '\0')
		abort();
	if (memchr(why, '\0', sizeof(why)) == NULL)
		abort();
	close(sv[0]);
	close(sv[1]);
	return 0;
}

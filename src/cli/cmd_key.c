#include <openssl/crypto.h>
#include <stdlib.h>

#include "cli.h"
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

static const char decrypt_help[] =
"Usage: tlsgate key decrypt IN --out OUT [--pass-file F] [--force]\n"
"\n"
"Writes the private key IN without its passphrase to OUT (mode 0600 from the\n"
"first byte), for services that cannot ask for one at start (Prosody, a\n"
"PostgreSQL started unattended). The same as `openssl pkey -in IN -out OUT`,\n"
"without ever leaving a readable key behind.\n"
"\n"
"Example:\n"
"  tlsgate key decrypt server.key.orig --out server.key --pass-file pass.txt\n";

static int
key_decrypt(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "pass-file", required_argument, NULL, 'p' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *pass_file = NULL;
	char *pass = NULL, *pem = NULL;
	size_t len = 0;
	EVP_PKEY *key = NULL;
	int c, rc = 1, force = 0;
	tg_err err = { 0 };

	while ((c = cli_getopt(argc, argv, opts, "key decrypt")) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'p': pass_file = optarg; break;
		case 'f': force = 1; break;
		default: return 2;
		}
	}
	if (optind + 1 != argc || out == NULL)
		return cli_usage("key decrypt", "give one key file IN and --out OUT");
	if (cli_read_pass(pass_file, &pass, &err) != 0 ||
	    (key = pki_load_key(argv[optind], pass, &err)) == NULL ||
	    pki_key_to_pem(key, NULL, &pem, &len, &err) != 0 ||
	    util_write_file(out, pem, len, 0600, force ? UTIL_WRITE_FORCE : 0, &err) != 0) {
		rc = cli_fail(&err);
	} else {
		printf("Wrote the key without passphrase to %s (0600)\n", out);
		rc = 0;
	}
	if (pem != NULL)
		OPENSSL_clear_free(pem, len);
	util_free_secret(pass);
	EVP_PKEY_free(key);
	return rc;
}

const struct cli_cmd cli_key_cmds[] = {
	{ "decrypt", "remove the passphrase from a private key", decrypt_help, key_decrypt, NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

#include <openssl/crypto.h>
#include <stdlib.h>

#include "cli.h"
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

static const char decrypt_help[] =
"Usage: tlsgate key decrypt IN --out OUT [--pass-file F] [--owner USER[:GROUP]] [--force]\n"
"\n"
"Writes the private key IN without its passphrase to OUT (mode 0600 from the\n"
"first byte), for services that cannot ask for one at start (Prosody, a\n"
"PostgreSQL started unattended). The same as `openssl pkey -in IN -out OUT`,\n"
"without ever leaving a readable key behind.\n"
"\n"
"  --pass-file F   the passphrase: first line of F; - reads standard input;\n"
"                  without it, it is asked for on a terminal\n"
"  --owner U[:G]   give OUT to the service as `cert import` does: USER gets it\n"
"                  0600, root:GROUP (or :GROUP) 0640 root-owned with GROUP\n"
"\n"
"Example:\n"
"  tlsgate key decrypt server.key.orig --out server.key --pass-file pass.txt\n"
"  tlsgate key decrypt server.key.orig --out server.key --owner postgres\n";

static int
key_decrypt(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "pass-file", required_argument, NULL, 'p' },
		{ "owner", required_argument, NULL, 'O' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	char *pem = NULL;
	size_t len = 0;
	EVP_PKEY *key = NULL;
	cli_owner owner = { .key_mode = 0600 };
	pki_pass pass;
	int c, rc = 1, force = 0;
	tg_err err = { 0 };

	cli_pass_init(&pass, opts, 'p', 1);
	while ((c = cli_getopt(argc, argv, opts, "key decrypt")) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'p': pass.file = optarg; break;
		case 'O':
			if (cli_owner_parse(optarg, &owner, &err) != 0)
				return cli_fail(&err);
			break;
		case 'f': force = 1; break;
		default: return 2;
		}
	}
	if (optind + 1 != argc || out == NULL)
		return cli_usage("key decrypt", "give one key file IN and --out OUT");
	if ((key = pki_load_key_pass(argv[optind], &pass, &err)) == NULL ||
	    pki_key_to_pem(key, NULL, &pem, &len, &err) != 0 ||
	    cli_write_owned(out, pem, len, owner.key_mode, force ? UTIL_WRITE_FORCE : 0, &owner,
		&err) != 0) {
		rc = cli_fail(&err);
	} else {
		printf("Wrote the key without passphrase to %s (%04o)\n", out,
		    (unsigned)owner.key_mode);
		rc = 0;
	}
	if (pem != NULL)
		OPENSSL_clear_free(pem, len);
	pki_pass_clear(&pass);
	EVP_PKEY_free(key);
	return rc;
}

const struct cli_cmd cli_key_cmds[] = {
	{ "decrypt", "remove the passphrase from a private key", decrypt_help, key_decrypt, NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

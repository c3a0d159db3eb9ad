/* PKI building blocks: keys, names, certificates, CSRs, CRLs, PKCS#12 and
 * chain verification. Plain OpenSSL objects cross this interface (X509,
 * EVP_PKEY, X509_CRL); everything that decides what goes into them is here. */
#ifndef TLSGATE_PKI_H
#define TLSGATE_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <time.h>

#include "tlsgate/err.h"

typedef enum {
	PKI_KEY_EC_P256,
	PKI_KEY_EC_P384,
	PKI_KEY_RSA2048,
	PKI_KEY_RSA3072,
	PKI_KEY_RSA4096,
	PKI_KEY_ED25519,
} pki_key_type;

#define PKI_KEY_TYPES "ec-p256, ec-p384, rsa2048, rsa3072, rsa4096, ed25519"

int pki_key_type_parse(const char *s, pki_key_type *out, tg_err *err) TG_MUST_CHECK;
const char *pki_key_type_name(pki_key_type t);
EVP_PKEY *pki_key_generate(pki_key_type t, tg_err *err);

/* "EC P-256", "RSA 2048", "Ed25519", ... */
void pki_key_describe(EVP_PKEY *key, char *buf, size_t len);

/* PKCS#8 PEM; encrypted with AES-256-CBC when pass is not NULL. The caller
 * frees *pem with OPENSSL_clear_free(*pem, *len). */
int pki_key_to_pem(EVP_PKEY *key, const char *pass, char **pem, size_t *len,
    tg_err *err) TG_MUST_CHECK;

/* 1 if the private key belongs to the certificate's public key. */
int pki_key_matches_cert(EVP_PKEY *key, X509 *cert);

/* --- Passphrases: the one reader every command uses --- */

#define PKI_PASS_MAX 1024

/* Where a passphrase comes from. The command fills option (its own option's
 * name, without "--", from its option table: messages tell the user to pass
 * it) and file (that option's value). file is a path (its first line is the
 * passphrase, a regular file only) or "-": the first line of standard input,
 * or a prompt when standard input is a terminal. With no file, env may name
 * a variable holding the path, and ask allows a prompt on the terminal.
 * Prompts go to /dev/tty without echo; a passphrase being created is asked
 * twice and a mismatch refused. */
typedef struct pki_pass {
	const char *option;
	const char *file;
	const char *env;
	int ask;
	/* A command whose first line of output is the passphrase (as
	 * PostgreSQL's ssl_passphrase_command), run with /bin/sh -c when no
	 * file is given; command_option names its option. */
	const char *command, *command_option;
	/* Standard input is no source: the passphrase is read again later (a
	 * daemon's reload), when nothing is there to answer. */
	int no_stdin;
	char *value;   /* once read; pki_pass_clear wipes it */
	int typed;     /* value came from the terminal */
} pki_pass;

/* Reads the passphrase into p->value (once; later calls keep it). what
 * names what it protects, for the prompt: "the key server.key". Fails with
 * TG_ERR_USAGE, naming the option, when there is no source. */
int pki_pass_get(pki_pass *p, const char *what, int create, tg_err *err) TG_MUST_CHECK;
/* 1 if pki_pass_get has a source (a value, a file, $env, or a prompt). */
int pki_pass_available(const pki_pass *p);
int pki_pass_from_stdin(const pki_pass *p);
/* "give --OPTION FILE (...)": how to supply it, for messages. */
void pki_pass_fix(const pki_pass *p, char *buf, size_t len);
/* Where the value came from, for a "wrong passphrase" message. */
void pki_pass_source(const pki_pass *p, char *buf, size_t len);
void pki_pass_clear(pki_pass *p);

/* --- PEM: the one splitter every reader of PEM text uses --- */

#define PKI_PEM_LABEL_MAX 64

/* One block of a PEM text, from its BEGIN line through its END line, as
 * found (not decoded). A label is kept only when it is printable ASCII
 * shorter than PKI_PEM_LABEL_MAX; a line with another is no BEGIN line. */
typedef struct pki_pem_block {
	char label[PKI_PEM_LABEL_MAX];     /* "CERTIFICATE" */
	const char *text;                  /* into the caller's data */
	size_t len;
	int number;                        /* 1-based, in file order */
	size_t line;                       /* 1-based line of its BEGIN */
	int cut_short;                     /* no END line before the next BEGIN or the end */
	int end_mismatch;                  /* its END line names end_label instead */
	char end_label[PKI_PEM_LABEL_MAX]; /* "?" when unreadable */
} pki_pem_block;

/* What the splitter saw around the blocks. */
typedef struct pki_pem_info {
	int nblocks;
	int crlf;          /* a line ends with CR LF */
	int junk;          /* a line outside the blocks is not blank */
	size_t junk_line;  /* the first such line */
} pki_pem_info;

/* 1 if data holds a "-----BEGIN " line start: the text is PEM. */
int pki_pem_is(const unsigned char *data, size_t len);
/* Calls fn for each block of data[0..len) in order (a BEGIN inside a block
 * ends it cut short); stops at fn's first non-zero return and returns it, 0
 * otherwise. info (may be NULL) gets the facts. */
int pki_pem_split(const unsigned char *data, size_t len,
    int (*fn)(const pki_pem_block *b, void *arg), void *arg, pki_pem_info *info);
/* The bytes of a block and its headers (Proc-Type, DEK-Info; header may be
 * NULL): 0, or -1 when it does not decode (cut short, an END of another
 * label, damaged base64). The caller frees *der with OPENSSL_clear_free and
 * *header with OPENSSL_free. */
int pki_pem_decode(const pki_pem_block *b, unsigned char **der, long *len, char **header);
/* Where a block is and what is wrong with it, for messages: "PEM block 2
 * (CERTIFICATE, line 23) has no END line: cut short". */
void pki_pem_where(const pki_pem_block *b, char *buf, size_t len);
/* 1 if the block is a passphrase-protected key by its label or headers. */
int pki_pem_is_encrypted_key(const pki_pem_block *b);

/* --- Passphrase-protected keys and bundles from files (src/pki/pbe.c) --- */

/* Caps on the key derivation a file asks for, read before any passphrase is
 * tried (see pbe.c for the tools' defaults they sit above). */
#define PKI_KDF_ITER_MAX 10000000ULL      /* PBKDF2, PKCS#5 v1, PKCS#12 KDF and MAC */
#define PKI_SCRYPT_N_MAX (1ULL << 20)
#define PKI_SCRYPT_R_MAX 32ULL
#define PKI_SCRYPT_P_MAX 16ULL
#define PKI_SCRYPT_WORK_MAX (1ULL << 22)  /* N * r * p */

typedef enum {
	PKI_KEY_OK,
	PKI_KEY_DAMAGED,    /* does not decode */
	PKI_KEY_NEED_PASS,  /* encrypted, and no passphrase given */
	PKI_KEY_BAD_PASS,   /* the passphrase does not open it */
	PKI_KEY_TOO_COSTLY, /* its key derivation is above a cap: err says which */
	PKI_KEY_MAC_BAD,    /* PKCS#12: the passphrase decrypts it, its MAC fails: altered */
} pki_key_status;

/* 0 if a passphrase-based encryption algorithm (PBES2 with PBKDF2 or
 * scrypt, a PKCS#5 v1 or PKCS#12 PBE) is within the caps; else -1 with a
 * message naming path, the parameter, its value, the cap and the fix. */
int pki_pbe_check(const X509_ALGOR *alg, const char *path, tg_err *err);
/* 1 if der is an encrypted PKCS#8 key (EncryptedPrivateKeyInfo). */
int pki_key_der_encrypted(const unsigned char *der, size_t len);
/* A private key from DER (a block's, with its PEM header, or NULL): plain,
 * encrypted PKCS#8 (told by content, whatever the label) or legacy PEM
 * encryption (DEK-Info), decrypted with pass (may be NULL). path names the
 * file in err, set only for PKI_KEY_TOO_COSTLY. */
pki_key_status pki_key_decode(const unsigned char *der, size_t len, const char *header,
    const char *pass, const char *path, EVP_PKEY **key, tg_err *err);
/* A DER PKCS#12 file opened with pass (NULL or "": both empty forms are
 * tried), every iteration count checked first: the key (the first, or
 * NULL), the certificate of the key (or NULL) and the other certificates;
 * *nkeys (may be NULL) gets how many keys it holds. */
pki_key_status pki_p12_open(const unsigned char *der, size_t len, const char *pass,
    const char *path, EVP_PKEY **key, X509 **leaf, STACK_OF(X509) **ca, int *nkeys,
    tg_err *err);

/* --- Loading (PEM or DER, detected; errors name the file and the fix) --- */

/* All certificates of a file, in file order. */
int pki_load_certs(const char *path, STACK_OF(X509) **certs, tg_err *err) TG_MUST_CHECK;
X509 *pki_load_cert(const char *path, tg_err *err);
/* pass may be NULL; an encrypted key then fails with a clear message. */
EVP_PKEY *pki_load_key(const char *path, const char *pass, tg_err *err);
/* The same, getting the passphrase from pass (which may prompt) only when
 * the key is encrypted; messages name pass->option. pass may be NULL. */
EVP_PKEY *pki_load_key_pass(const char *path, pki_pass *pass, tg_err *err);
X509_REQ *pki_load_csr(const char *path, tg_err *err);
X509_CRL *pki_load_crl(const char *path, tg_err *err);
/* Appends every CRL in the file (a PEM file may hold several) to crls. */
int pki_load_crls(const char *path, STACK_OF(X509_CRL) *crls, tg_err *err) TG_MUST_CHECK;
/* What a file holds, by content, PEM or DER: PKI_FILE_CERT and/or
 * PKI_FILE_KEY (a plain or encrypted PKCS#8 or traditional key), or
 * PKI_FILE_P12 (a whole DER PKCS#12); 0 when unreadable or none. For
 * telling swapped files apart, and which loader takes a file. */
enum { PKI_FILE_CERT = 1, PKI_FILE_KEY = 2, PKI_FILE_P12 = 4 };
unsigned pki_file_kinds(const char *path);
/* 1 if the PEM private key file is passphrase-protected. */
int pki_key_file_encrypted(const char *path);

/* A certificate file (the leaf first, then its chain) and its private key,
 * as a service is given them, the one loader of the gateway, the checker's
 * client certificate and the workbench: swapped files, a key or a
 * certificate where the other belongs, a key of another certificate and a
 * chain in the wrong order each get their own message, naming the files and
 * the command's options cert_opt and key_opt (without "--"; NULL for files
 * found by their layout). The key's passphrase comes from pass (may be NULL)
 * only when the key is encrypted. */
typedef struct pki_pair {
	X509 *leaf;
	STACK_OF(X509) *chain; /* what follows the leaf in the file */
	EVP_PKEY *key;
} pki_pair;

int pki_load_pair(const char *cert, const char *key, const char *cert_opt,
    const char *key_opt, pki_pass *pass, pki_pair *out, tg_err *err) TG_MUST_CHECK;
void pki_pair_clear(pki_pair *p);
/* A PKCS#12 file (.p12, .pfx) as a pair: its one key, the certificate of
 * that key and the other certificates. Every key derivation is checked
 * against the caps first; the empty passphrase is tried, then pass's (read,
 * or asked for, only then; messages name pass->option). A bundle without a
 * key, with several, or without the key's certificate is refused, each with
 * its own message; so is a wrong passphrase and a MAC that fails. */
int pki_load_p12(const char *path, pki_pass *pass, pki_pair *out, tg_err *err) TG_MUST_CHECK;
/* The content check of pki_load_pair alone (swapped, or the wrong kind of
 * file given), for a caller that judges more before loading (a key's mode). */
int pki_pair_kinds_check(const char *cert, const char *key, const char *cert_opt,
    const char *key_opt, tg_err *err) TG_MUST_CHECK;

/* --- Names --- */

typedef enum { PKI_SAN_DNS, PKI_SAN_IP, PKI_SAN_EMAIL, PKI_SAN_URI } pki_san_type;

#define PKI_NAME_MAX 256

typedef struct pki_san {
	pki_san_type type;
	char value[PKI_NAME_MAX];   /* canonical text: "example.com", "10.0.0.1" */
	unsigned char ip[16];
	int iplen;                  /* 4 or 16 for PKI_SAN_IP */
} pki_san;

/* Parses "DNS:x", "IP:x", "email:x", "URI:x" or a bare value whose type is
 * detected (an address is IP, user@host is email, scheme:// is URI, else DNS). */
int pki_san_parse(const char *s, pki_san *out, tg_err *err) TG_MUST_CHECK;
/* "DNS:example.com" etc. */
void pki_san_format(const pki_san *san, char *buf, size_t len);

/* A name of a certificate as text: the one place where certificate names
 * become strings, for the gateway's identity and rules, inspect and the
 * checker alike. */
typedef struct pki_name {
	const char *prefix; /* "DNS:", "IP:", "email:", "URI:"; "" for a subject attribute */
	const char *value;  /* value[0..len), not NUL-terminated */
	size_t len;
	/* NULL, or why the value cannot stand for a name (a static string such
	 * as "a URI SAN holds a NUL byte"): a NUL or a control character
	 * (C0, DEL, C1), text that does not decode, an IP address that is not
	 * 4 or 16 bytes (its value is then the bytes in hex). As a C string
	 * such a value says something else than the certificate does:
	 * "alice\0.evil" reads as "alice". */
	const char *bad;
} pki_name;

/* Calls fn for every SAN of cert that tlsgate shows (DNS, IP, email, URI;
 * other forms are skipped), in certificate order: the value as the
 * certificate holds it, an IP address as inet_ntop writes it (10.0.0.1,
 * 2001:db8::1: the form pki_san_parse gives too). Stops at the first
 * non-zero return of fn and returns it; 0 otherwise. */
int pki_cert_san_each(X509 *cert, int (*fn)(const pki_name *n, void *arg), void *arg);
/* The same for the subject's attributes of type nid (NID_commonName,
 * NID_organizationalUnitName), converted to UTF-8, in order. -1 when out of
 * memory. */
int pki_cert_subject_each(X509 *cert, int nid, int (*fn)(const pki_name *n, void *arg),
    void *arg);
/* s[0..len) as one item of a comma-separated list: '%', ',' and every byte
 * outside printable ASCII become %XX (upper-case hex), so items never run
 * into each other and no control character survives. Writes at most cap - 1
 * bytes and a NUL (cap > 0); returns the length of the whole, as snprintf. */
size_t pki_name_escape(char *out, size_t cap, const char *s, size_t len);

/* --- Profiles: what goes into a certificate, validated plain data --- */

typedef enum {
	PKI_PROFILE_ROOT,
	PKI_PROFILE_INTERMEDIATE,
	PKI_PROFILE_SERVER,
	PKI_PROFILE_CLIENT,
	PKI_PROFILE_BOTH,
	PKI_PROFILE_SELFSIGNED, /* a self-signed server leaf (prosodyctl cert generate) */
} pki_profile_kind;

#define PKI_MAX_SANS 64
#define PKI_SERIAL_LEN 16 /* 128 random bits */

#define PKI_DAYS_ROOT 3650
#define PKI_DAYS_INTERMEDIATE 1825
#define PKI_DAYS_LEAF 397
#define PKI_BACKDATE_SECS 300 /* notBefore in the past, for clock skew */

typedef struct pki_profile {
	pki_profile_kind kind;
	char cn[PKI_NAME_MAX];
	char org[PKI_NAME_MAX];     /* optional O= */
	pki_san sans[PKI_MAX_SANS];
	size_t nsans;
	int64_t valid_secs;
	/* Where the issuer publishes its CRL (http/https URLs, checked with
	 * pki_crl_url_check): a CRL Distribution Points extension. Borrowed;
	 * set by the CA that signs, from its settings. */
	const char *const *crl_urls;
	size_t ncrl_urls;
} pki_profile;

#define PKI_MAX_CRL_URLS 4
#define PKI_URL_MAX 512

/* A CRL distribution point: http:// or https://, a host, printable ASCII
 * without spaces, shorter than PKI_URL_MAX. */
int pki_crl_url_check(const char *url, tg_err *err) TG_MUST_CHECK;
/* Calls fn for each URI of cert's CRL Distribution Points, in order. */
int pki_cert_crl_urls_each(X509 *cert, int (*fn)(const pki_name *n, void *arg), void *arg);
/* "URI:http://a,URI:http://b" (empty when none), as pki_cert_sans. */
void pki_cert_crl_urls(X509 *cert, char *buf, size_t len);

const char *pki_profile_name(pki_profile_kind k);
int pki_profile_parse(const char *s, pki_profile_kind *out, tg_err *err) TG_MUST_CHECK;

/* Fills a leaf profile for NAME: CN=NAME and, for server profiles, NAME as a
 * SAN (DNS or IP, detected). extra_sans are added (duplicates dropped). */
int pki_profile_leaf(pki_profile *p, pki_profile_kind kind, const char *name,
    const char *const *extra_sans, size_t nextra, int64_t valid_secs,
    tg_err *err) TG_MUST_CHECK;

/* Adds one SAN (skipping an exact duplicate). */
int pki_profile_add_san(pki_profile *p, const pki_san *san, tg_err *err) TG_MUST_CHECK;

/* 128-bit random serial, positive, first byte non-zero. */
int pki_serial_random(unsigned char serial[PKI_SERIAL_LEN], tg_err *err) TG_MUST_CHECK;

/* Builds and signs a certificate. issuer == NULL means self-signed (issuer_key
 * must then be subject_key). Validity starts PKI_BACKDATE_SECS ago and is
 * capped at the issuer's notAfter (refused if the issuer has expired). */
X509 *pki_cert_build(const pki_profile *p, EVP_PKEY *subject_key, X509 *issuer,
    EVP_PKEY *issuer_key, const unsigned char *serial, size_t serial_len,
    tg_err *err);

/* --- CSRs --- */

X509_REQ *pki_csr_build(const pki_profile *p, EVP_PKEY *key, tg_err *err);
/* Checks the CSR's signature and reads its CN and SANs into a profile of the
 * given kind. */
int pki_csr_to_profile(X509_REQ *csr, const char *path, pki_profile_kind kind,
    int64_t valid_secs, pki_profile *p, tg_err *err) TG_MUST_CHECK;

/* --- CRLs --- */

typedef struct pki_revoked {
	char serial_hex[2 * 20 + 1];
	int64_t revoked_at;
	int reason; /* CRL_REASON_* from openssl/x509v3.h, or -1 for none */
} pki_revoked;

int pki_reason_parse(const char *s, int *reason, tg_err *err) TG_MUST_CHECK;
const char *pki_reason_name(int reason);

X509_CRL *pki_crl_build(X509 *ca, EVP_PKEY *ca_key, const pki_revoked *revoked,
    size_t nrevoked, uint64_t crl_number, int64_t valid_secs, tg_err *err);

/* --- PKCS#12 --- */

/* DER PKCS#12 holding key, cert and chain. Modern: AES-256-CBC, PBKDF2,
 * HMAC-SHA256 MAC. Legacy: PBE-SHA1-3DES, SHA-1 MAC (old macOS, Windows,
 * Java). The caller frees *der with OPENSSL_free. */
int pki_p12_build(X509 *cert, EVP_PKEY *key, STACK_OF(X509) *chain,
    const char *name, const char *pass, int legacy, unsigned char **der,
    size_t *len, tg_err *err) TG_MUST_CHECK;

/* --- Encoding and facts --- */

/* PEM of one or more certs appended to a malloc'd NUL-terminated buffer. */
int pki_certs_to_pem(X509 *const *certs, size_t n, char **pem, size_t *len,
    tg_err *err) TG_MUST_CHECK;
int pki_crl_to_pem(X509_CRL *crl, char **pem, size_t *len, tg_err *err) TG_MUST_CHECK;
int pki_csr_to_pem(X509_REQ *csr, char **pem, size_t *len, tg_err *err) TG_MUST_CHECK;

void pki_cert_serial_hex(X509 *cert, char *buf, size_t len);
void pki_cert_fingerprint(X509 *cert, char hex[65]);
/* SHA-256 of the DER SubjectPublicKeyInfo, lower-case hex: names a key (and
 * so a CA) before any certificate for it exists, and across re-issues. */
int pki_key_id(EVP_PKEY *key, char hex[65], tg_err *err) TG_MUST_CHECK;
/* The subject's first CN as UTF-8 (empty string if none); one with a NUL or
 * a control character comes escaped as pki_name_escape does. */
void pki_cert_cn(X509 *cert, char *buf, size_t len);
/* RFC 2253-ish one-line subject/issuer. */
void pki_name_oneline(const X509_NAME *name, char *buf, size_t len);
/* "DNS:a,IP:1.2.3.4" (empty when none): pki_cert_san_each's texts, each
 * through pki_name_escape, so a value holding a comma reads as one name. */
void pki_cert_sans(X509 *cert, char *buf, size_t len);
int64_t pki_asn1_time_unix(const ASN1_TIME *t);
/* RFC 3339 UTC. */
void pki_time_format(int64_t t, char *buf, size_t len);

/* --- Verification --- */

typedef enum { PKI_PURPOSE_ANY, PKI_PURPOSE_SERVER, PKI_PURPOSE_CLIENT } pki_purpose;

typedef struct pki_verify_opts {
	STACK_OF(X509) *trusted;     /* roots (and trusted intermediates) */
	STACK_OF(X509) *untrusted;   /* intermediates sent by the peer */
	STACK_OF(X509_CRL) *crls;    /* when given, every cert of the chain must be covered */
	const char *host;            /* DNS name or IP the leaf must cover */
	pki_purpose purpose;
	int x509_strict;
} pki_verify_opts;

/* 0 if leaf chains to a trusted root and passes every check; otherwise
 * TG_ERR_VERIFY with the reason and the fix. */
int pki_verify(X509 *leaf, const pki_verify_opts *o, tg_err *err) TG_MUST_CHECK;

#endif

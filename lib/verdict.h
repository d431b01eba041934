/* verdict.h - what a token verifier tells the PAM module, and the wire form of a request and
 * a verdict between the module and ssm-verifyd(8).
 *
 * The PAM module links no cryptography: the signature, the document and its parameters are
 * checked either by ssm-verifyd, a long-lived unprivileged daemon that keeps the trusted keys
 * imported, or, when no daemon answers, by ssm-verify.so loaded into the module's process.
 * Both run the same code (verify.h) and answer with a struct ssm_verdict.  The module then
 * checks the verified claims again itself (ssm_token_check_claims) before it trusts them.
 *
 * Wire form, one SOCK_SEQPACKET message each way, fields separated by NUL bytes:
 *   request:  MAGIC NUL config-path NUL user NUL token            (token: no NUL, may be
 *                                                                  empty)
 *   verdict:  MAGIC NUL code NUL why NUL reason NUL key NUL kid NUL alg NUL ids NUL claims
 * MAGIC is "ssmv1/" and the package version: a daemon left running across an upgrade is
 * not understood, and the module verifies in-process until it is restarted.  code is a
 * decimal int; key, kid, alg and claims are empty unless code is 0.  ids names the files
 * the verdict rests on (see ssm_file_id): "CONFIG;KEYS;DOCUMENT" (DOCUMENT empty unless code
 * is 0, all empty when unknown); the module compares them with its own view of the same
 * paths and verifies in-process on any difference (the daemon may live in another mount
 * namespace, or have read the files at another moment). */
#ifndef SSM_VERDICT_H
#define SSM_VERDICT_H
#include <stddef.h>

#ifndef PACKAGE_VERSION
#error "PACKAGE_VERSION comes from configure"
#endif

#define SSM_VERDICT_MAGIC "ssmv1/" PACKAGE_VERSION
#define SSM_VERIFYD_SOCKET "verifyd.sock" /* under run_dir */
/* largest message either way: the token (<= 4096), a path, a user name, the claims */
#define SSM_VERIFY_MSG_MAX (16 * 1024)

struct ssm_verdict {
	int code;          /* 0 valid; SSM_TOKEN_REFUSED; another -errno: the host is at fault */
	char why[32];      /* audit reason when not 0: invalid_token, token_too_long,
			    * trusted_keys, host_error */
	char reason[512];  /* one line for the log; never the token */
	char key[65];      /* code 0: the replay cache name of the jti (replay.h) */
	char kid[65];      /* code 0: the key that verified the signature */
	char alg[8];       /* code 0: "EdDSA", "Ed25519" or "ES256" as received */
	char ids[256];     /* the identities of the files used: [0-9:.;-] */
	char *claims;      /* code 0: the verified claims as JSON text (malloc'ed), else NULL */
};

/* The identity of the file at path as "DEV:INO:SIZE:MTIME:CTIME" (times as sec.nsec), or
 * "-" when it cannot be stat'ed.  out must hold SSM_FILE_ID_MAX bytes. */
#define SSM_FILE_ID_MAX 84
void ssm_file_id(const char *path, char *out);

/* The identity of documents_dir/NAME.json (the file the document store reads). */
void ssm_document_file_id(const char *documents_dir, const char *name, char *out);

void ssm_verdict_init(struct ssm_verdict *v);
/* Frees claims and wipes the rest; v is then as after ssm_verdict_init. */
void ssm_verdict_clear(struct ssm_verdict *v);
/* Set a failure: code, why (a literal) and a printf-style reason. */
void ssm_verdict_fail(struct ssm_verdict *v, int code, const char *why, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Request: encode into buf (returns its length, or -EMSGSIZE / -EINVAL); decode points the
 * three strings into buf, which is modified (NUL-terminated in place): 0 or -EBADMSG. */
int ssm_verify_request_encode(char *buf, size_t size, const char *config_path,
                              const char *user, const char *token, size_t tokenlen);
int ssm_verify_request_decode(char *buf, size_t len, const char **config_path,
                              const char **user, const char **token, size_t *tokenlen);

/* Verdict: encode v into buf (length or -EMSGSIZE); decode a received message into v
 * (claims copied): 0, -EBADMSG (malformed: wrong magic or field count, a code that is not
 * a negative errno or 0, a field too long or with bytes outside its charset, code 0 without
 * claims or key), -ENOMEM. */
int ssm_verdict_encode(const struct ssm_verdict *v, char *buf, size_t size);
int ssm_verdict_decode(const char *buf, size_t len, struct ssm_verdict *v);

#endif

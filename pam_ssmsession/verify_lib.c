/* verify_lib.c - ssm-verify.so: the token verifier that pam_ssmsession.so loads when no
 * ssm-verifyd answers (verdict.h).  It exports one symbol (verify_lib.map). */
#include "config.h"
#include <errno.h>
#include <openssl/crypto.h>
#include "verify.h"

int ssm_verify_once_v1(const char *config_path, const char *user, const char *token, size_t len,
		       int64_t now, struct ssm_verdict *out, size_t verdict_size)
{
	struct ssm_verifier *vf;
	int r;

	/* as the module did when it linked libcrypto itself: no OpenSSL configuration files
	 * (nothing here needs them) and no atexit teardown (libcrypto is NODELETE; tearing its
	 * tables down costs every short-lived login process more than the verification) */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT, NULL);
	if (verdict_size != sizeof(struct ssm_verdict))
		return -EPROTO; /* out has another layout: do not write it */
	vf = ssm_verifier_new();
	if (vf == NULL) {
		ssm_verdict_init(out);
		ssm_verdict_fail(out, -ENOMEM, "host_error", "out of memory");
		return out->code;
	}
	r = ssm_verifier_check(vf, config_path, user, token, len, now, out);
	ssm_verifier_free(vf);
	return r;
}

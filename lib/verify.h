/* verify.h - the token verifier behind ssm-verifyd(8) and ssm-verify.so (see verdict.h):
 * configuration, trusted keys, signature, claims, document and parameters, for one login
 * user, answered as a struct ssm_verdict.  It never touches the replay cache. */
#ifndef SSM_VERIFY_H
#define SSM_VERIFY_H
#include <stddef.h>
#include <stdint.h>
#include "verdict.h"

struct ssm_verifier;

/* A verifier that keeps configurations and imported keys between calls, reloading a file
 * whenever its identity (device, inode, size, mtime, ctime) changes.  NULL on ENOMEM. */
struct ssm_verifier *ssm_verifier_new(void);
void ssm_verifier_free(struct ssm_verifier *vf);
/* ssm-verifyd: answers for a process that may see other files (another mount namespace);
 * a token naming a document this verifier cannot find is then not judged (host_error,
 * -ENOENT) instead of refused, so that the module judges it itself. */
void ssm_verifier_set_remote(struct ssm_verifier *vf, int remote);

/* Verify token (len bytes, need not be NUL-terminated) for user under the configuration
 * at config_path, at time now.  Always fills *out (ssm_verdict_clear it afterwards):
 * out->code 0 with claims, key, kid and alg; SSM_TOKEN_REFUSED with why "invalid_token" or
 * "token_too_long"; another -errno with why "trusted_keys" or "host_error".  Returns
 * out->code. */
int ssm_verifier_check(struct ssm_verifier *vf, const char *config_path, const char *user,
                       const char *token, size_t len, int64_t now, struct ssm_verdict *out);

/* The entry point of ssm-verify.so, which the PAM module loads when no ssm-verifyd answers:
 * a fresh verifier for one call.  verdict_size must be sizeof(struct ssm_verdict) (the
 * module and the library come from one build; a mismatch is -EPROTO, never a guess). */
#define SSM_VERIFY_LIB_NAME "ssm-verify.so"
#define SSM_VERIFY_ONCE_SYMBOL "ssm_verify_once_v1"
typedef int (*ssm_verify_once_fn)(const char *config_path, const char *user, const char *token,
                                  size_t len, int64_t now, struct ssm_verdict *out,
                                  size_t verdict_size);
int ssm_verify_once_v1(const char *config_path, const char *user, const char *token, size_t len,
                       int64_t now, struct ssm_verdict *out, size_t verdict_size);

#endif

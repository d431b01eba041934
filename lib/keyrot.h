/* keyrot.h - the broker's token signing key rotation, as hosts take it over the channel
 * (docs/PROTOCOL.md section 4, "The broker's keys").
 *
 * A rotation statement is a JWS in compact serialization, signed by the key it replaces:
 *   header  {"alg":"EdDSA","typ":"ssm-keys+jwt","kid":OLD}
 *   payload {"ssm":"keys","iss":ISSUER,"iat":SECONDS,"keys":[NEW,OLD]}
 * Its own typ and the "ssm" member keep it from passing for a session token and the other
 * way round (a session token's typ is "ssm-session+jwt").
 *
 * A host applies a statement only when it is signed by the newest key it trusts (the first
 * of its trusted_keys) and names that key second, after a different new one: the chain goes
 * forward one rotation at a time, from the host's own root of trust; an old statement, a
 * replayed one, or one signed by any other key changes nothing.  A host that missed several
 * rotations takes them in order from the chain the broker keeps (its last SSM_KEYROT_KEEP). */
#ifndef SSM_KEYROT_H
#define SSM_KEYROT_H
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>

#define SSM_KEYROT_KEEP 32             /* statements a broker keeps and sends */
#define SSM_KEYROT_STMT_MAX 2000       /* one statement, bytes (the chain fits a 64 KiB grant) */
#define SSM_KEYROT_CHAIN_MAX (SSM_KEYROT_KEEP * (SSM_KEYROT_STMT_MAX + 1))
#define SSM_KEYROT_TYP "ssm-keys+jwt"
/* the DOCUMENT channel that asks for the chain: this name and a SHA-256 of 64 zeros, which
 * no document's bytes have */
#define SSM_KEYROT_DOC_NAME "ssm-broker-keys"
#define SSM_KEYROT_DOC_SHA "0000000000000000000000000000000000000000000000000000000000000000"

/* The statement replacing old_key (Ed25519, named old_kid) by the set newset ({"keys":
 * [NEW, OLD]}, the public JWK Set).  A string to free, or NULL (err says why). */
char *ssm_keyrot_sign(EVP_PKEY *old_key, const char *old_kid, const char *issuer,
		      const cJSON *newset, int64_t now, char *err, size_t errlen);

/* Take the statements of chain (each followed by a newline, oldest first; at most
 * SSM_KEYROT_KEEP of at most SSM_KEYROT_STMT_MAX bytes) that carry the JWK Set cur forward.
 * A step is taken only from cur's first key: a statement with its kid, verified with it,
 * issued by issuer (NULL: any), naming exactly two keys, a new Ed25519 key first and that
 * very key second.  Every other statement must parse and is skipped.
 * The key a step replaced stays trusted for retire_after seconds after the step's iat (the
 * tokens it signed just before still verify), then is dropped: once now passes that, the
 * set becomes the newest key alone (the statement that brought it, verified with the old
 * key, dates it).  *pretire_at is when that will be (0: nothing to drop).
 * 0 with *pnew NULL and *papplied 0 when the set stays as it is; 0 with *pnew the new set's
 * text (to free) and *papplied the steps taken; -EINVAL (err says why: cur or the chain
 * malformed), -EBADMSG (a statement with the first key's kid that does not verify or is not
 * such a step: nothing is taken), -ENOMEM. */
int ssm_keyrot_apply(const char *cur, size_t cur_len, const char *chain, size_t chain_len,
		     const char *issuer, int64_t now, int64_t retire_after, char **pnew,
		     size_t *papplied, int64_t *pretire_at, char *err, size_t errlen);

/* The set a statement names, as JWK Set text (to free), without verifying it (the broker
 * reading its own chain).  0, -EINVAL, -ENOMEM. */
int ssm_keyrot_stmt_set(const char *stmt, size_t len, char **pset);

/* The kid of the first key of a JWK Set's text (64 characters at most), or -EINVAL. */
int ssm_keyrot_newest_kid(const char *set, size_t len, char kid[65]);
#endif

/* replay_jti.c - the replay cache by jti: the entry name is the lower-case hex SHA-256 of
 * the jti (replay.h).  Apart from replay.c so that the PAM module, which gets the name from
 * the verifier, links no SHA-256. */
#include "config.h"
#include <errno.h>
#include <string.h>
#include "replay.h"
#include "util.h"

#define REPLAY_JTI_MAX 4096

int ssm_replay_key(const char *jti, char key[65])
{
	size_t jlen;

	if (jti == NULL)
		return -EINVAL;
	jlen = strnlen(jti, REPLAY_JTI_MAX + 1);
	if (jlen == 0 || jlen > REPLAY_JTI_MAX)
		return -EINVAL;
	ssm_sha256_hex(jti, jlen, key);
	return 0;
}

int ssm_replay_check_and_add(const char *state_dir, const char *jti, int64_t keep_until,
			     int64_t now)
{
	char key[65];
	int r = ssm_replay_key(jti, key);

	return r < 0 ? r : ssm_replay_check_and_add_key(state_dir, key, keep_until, now, 1);
}

int ssm_replay_seen(const char *state_dir, const char *jti, int64_t now)
{
	char key[65];
	int r = ssm_replay_key(jti, key);

	return r < 0 ? r : ssm_replay_seen_key(state_dir, key, now);
}

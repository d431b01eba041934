/* jwks.c - the broker's token signing key (Ed25519, OpenSSL) and its public JWK Set
 * (RFC 8037 OKP key; kid: the first 16 characters of the base64url SHA-256 of the raw
 * public key), the set hosts store as trusted_keys. */
#include "brokerd.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <sys/stat.h>
#include "b64url.h"
#include "json.h"
#include "keyrot.h"
#include "log.h"
#include "util.h"

static cJSON *jwks_for(EVP_PKEY *key);

/* the kid jwks_for gives key */
static int kid_for(EVP_PKEY *key, char kid[65])
{
	cJSON *set = jwks_for(key);
	const cJSON *k = set ? cJSON_GetArrayItem(ssm_json_member(set, "keys"), 0) : NULL;
	const char *s;
	int r = -ENOMEM;

	if (k != NULL && ssm_json_get_string(k, "kid", &s) == 0 && strlen(s) <= 64) {
		snprintf(kid, 65, "%s", s);
		r = 0;
	}
	cJSON_Delete(set);
	return r;
}

static cJSON *jwks_for(EVP_PKEY *key)
{
	unsigned char pub[32], digest[32];
	size_t publen = sizeof(pub);
	unsigned int dlen = 0;
	char *x = NULL, *kid = NULL;
	cJSON *set = NULL, *keys, *k;

	if (EVP_PKEY_get_raw_public_key(key, pub, &publen) != 1 || publen != 32 ||
	    EVP_Digest(pub, publen, digest, &dlen, EVP_sha256(), NULL) != 1 ||
	    ssm_b64url_encode(pub, publen, &x) < 0 ||
	    ssm_b64url_encode(digest, dlen, &kid) < 0)
		goto out;
	kid[16] = '\0';
	set = cJSON_CreateObject();
	keys = cJSON_AddArrayToObject(set, "keys");
	k = cJSON_CreateObject();
	if (keys == NULL || k == NULL) {
		cJSON_Delete(k);
		cJSON_Delete(set);
		set = NULL;
		goto out;
	}
	cJSON_AddItemToArray(keys, k);
	cJSON_AddStringToObject(k, "kty", "OKP");
	cJSON_AddStringToObject(k, "crv", "Ed25519");
	cJSON_AddStringToObject(k, "kid", kid);
	cJSON_AddStringToObject(k, "use", "sig");
	cJSON_AddStringToObject(k, "alg", "EdDSA");
	cJSON_AddStringToObject(k, "x", x);
out:
	free(x);
	free(kid);
	return set;
}

int broker_jwks_ensure(const char *key_path, const char *jwks_path, cJSON **pjwks)
{
	char err[512] = "", *pem = NULL, *json = NULL;
	EVP_PKEY *key = NULL;
	int r;

	*pjwks = NULL;
	r = ssm_ca_read_key(key_path, &key, err, sizeof(err));
	if (r == -ENOENT) {
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		if (key == NULL || ssm_ca_key_pem(key, &pem) < 0)
			return -ENOMEM;
		r = ssm_ca_write_file(key_path, pem, strlen(pem), 0600, err, sizeof(err));
		OPENSSL_cleanse(pem, strlen(pem));
		free(pem);
		if (r == 0)
			fprintf(stderr, "ssm-broker: created the token signing key %s\n", key_path);
	}
	if (r < 0) {
		ssm_log(LOG_ERR, "%s", err);
		EVP_PKEY_free(key);
		return r;
	}
	if (!EVP_PKEY_is_a(key, "ED25519")) {
		ssm_log(LOG_ERR, "%s: not an Ed25519 key", key_path);
		EVP_PKEY_free(key);
		return -EINVAL;
	}
	*pjwks = jwks_for(key);
	EVP_PKEY_free(key);
	if (*pjwks == NULL)
		return -ENOMEM;
	json = cJSON_Print(*pjwks);
	if (json == NULL)
		return -ENOMEM;
	r = ssm_ca_write_file(jwks_path, json, strlen(json), 0644, err, sizeof(err));
	free(json);
	if (r < 0)
		ssm_log(LOG_ERR, "%s", err);
	return r;
}

/* ---- rotation (lib/keyrot.h): STATE/keyrot/NNNNNNNN.jws, oldest first --------------- */

static int keyrot_dir(const struct broker *b, char *out, size_t size)
{
	return (size_t)snprintf(out, size, "%s/keyrot", b->dir) < size ? 0 : -ENAMETOOLONG;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The last SSM_KEYROT_KEEP statements, each followed by a newline (*pchain, "" if none),
 * and the last one alone (*plast, NULL if none); *pn the highest statement number. */
static int chain_read(const struct broker *b, char **pchain, size_t *plen, char **plast,
		      unsigned *pn)
{
	char dir[4200], path[4300], err[256];
	char **names = NULL, *chain = NULL, *last = NULL;
	size_t n = 0, cap = 0, i, len = 0;
	struct dirent *de;
	DIR *d;
	int r = 0;

	*pchain = NULL;
	*plen = 0;
	*plast = NULL;
	*pn = 0;
	if ((r = keyrot_dir(b, dir, sizeof(dir))) < 0)
		return r;
	if ((d = opendir(dir)) == NULL) {
		if (errno != ENOENT)
			return -errno;
		return (*pchain = strdup("")) ? 0 : -ENOMEM;
	}
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);

		if (nl != 12 || strspn(de->d_name, "0123456789") != 8 || strcmp(de->d_name + 8, ".jws") != 0)
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));
			if (nn == NULL) {
				r = -ENOMEM;
				goto out;
			}
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			r = -ENOMEM;
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), name_cmp);
	if ((chain = malloc(SSM_KEYROT_CHAIN_MAX + 1)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (i = n > SSM_KEYROT_KEEP ? n - SSM_KEYROT_KEEP : 0; i < n; i++) {
		char *buf = NULL;
		size_t bl = 0;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		r = ssm_read_file(path, SSM_KEYROT_STMT_MAX + 1, SSM_FILE_NOFOLLOW, &buf, &bl, err, sizeof(err));
		while (r == 0 && bl > 0 && (buf[bl - 1] == '\n' || buf[bl - 1] == '\r'))
			buf[--bl] = '\0';
		if (r == 0 && (bl == 0 || bl > SSM_KEYROT_STMT_MAX || memchr(buf, '\n', bl) ||
			       memchr(buf, '\0', bl))) {
			snprintf(err, sizeof(err), "not one statement");
			r = -EINVAL;
		}
		if (r < 0) {
			ssm_log(LOG_ERR, "%s: %s", path, err);
			free(buf);
			goto out;
		}
		memcpy(chain + len, buf, bl);
		len += bl;
		chain[len++] = '\n';
		if (i == n - 1)
			last = buf;
		else
			free(buf);
	}
	chain[len] = '\0';
	*pchain = chain;
	chain = NULL;
	*plen = len;
	*plast = last;
	last = NULL;
	*pn = n > 0 ? (unsigned)strtoul(names[n - 1], NULL, 10) : 0;
out:
	closedir(d);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(chain);
	free(last);
	return r;
}

/* STATE/keyrot.lock: one rotation or load at a time (the serving broker and the
 * administrator's `key rotate`); -1 when busy and !wait (tried again later) */
static int keys_lock(const struct broker *b, int wait)
{
	char path[4200];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/keyrot.lock", b->dir) >= sizeof(path))
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void keys_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the lock */
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0 || fsync(fd) != 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	return r;
}

static int keys_load_locked(struct broker *b);

int broker_keys_load(struct broker *b)
{
	int fd = keys_lock(b, 1), r;

	if (fd < 0) {
		ssm_log(LOG_ERR, "%s/keyrot.lock: %s", b->dir, strerror(errno));
		return -EIO;
	}
	r = keys_load_locked(b);
	keys_unlock(fd);
	return r;
}

static int keys_load_locked(struct broker *b)
{
	char newpath[4200], err[512] = "", kid[65], lkid[65], *chain = NULL, *last = NULL,
		*lset = NULL, *json = NULL;
	cJSON *set = NULL, *old;
	EVP_PKEY *key = NULL;
	size_t clen;
	unsigned nst;
	struct stat st;
	int r;

	if ((r = chain_read(b, &chain, &clen, &last, &nst)) < 0)
		goto out;
	if (last != NULL &&
	    (ssm_keyrot_stmt_set(last, strlen(last), &lset) < 0 ||
	     ssm_keyrot_newest_kid(lset, strlen(lset), lkid) < 0)) {
		ssm_log(LOG_ERR, "%s/keyrot: the last statement is malformed", b->dir);
		r = -EINVAL;
		goto out;
	}
	/* a rotation interrupted after its statement was written: finish it; one interrupted
	 * before: its key was never published, drop it */
	snprintf(newpath, sizeof(newpath), "%s.new", b->sign_key);
	if (access(newpath, F_OK) == 0) {
		if (ssm_ca_read_key(newpath, &key, err, sizeof(err)) == 0 && lset != NULL &&
		    kid_for(key, kid) == 0 && strcmp(kid, lkid) == 0) {
			if (rename(newpath, b->sign_key) != 0) {
				r = -errno;
				ssm_log(LOG_ERR, "%s: cannot finish the rotation: %s", newpath, strerror(-r));
				goto out;
			}
			ssm_log(LOG_WARNING, "finished the interrupted key rotation to %s", kid);
		} else {
			(void)unlink(newpath);
			ssm_log(LOG_WARNING, "%s: a key no statement published: removed", newpath);
		}
		EVP_PKEY_free(key);
		key = NULL;
	}
	/* the key read and the file's identity: no rotation comes between (the same lock) */
	if ((r = broker_jwks_ensure(b->sign_key, b->jwks_path, &set)) < 0)
		goto out;
	if (stat(b->sign_key, &st) != 0) {
		r = -errno;
		goto out;
	}
	if (lset != NULL) {
		const cJSON *k0 = cJSON_GetArrayItem(ssm_json_member(set, "keys"), 0);
		const char *ckid = NULL;

		if (k0 == NULL || ssm_json_get_string(k0, "kid", &ckid) < 0 || strcmp(ckid, lkid) != 0) {
			ssm_log(LOG_ERR, "%s/keyrot: the chain ends with key %s, the signing key is %s",
				b->dir, lkid, ckid ? ckid : "?");
			r = -EINVAL;
			goto out;
		}
		cJSON_Delete(set);
		if ((set = cJSON_Parse(lset)) == NULL) {
			r = -ENOMEM;
			goto out;
		}
		if ((json = cJSON_Print(set)) == NULL ||
		    (r = ssm_ca_write_file(b->jwks_path, json, strlen(json), 0644, err, sizeof(err))) < 0) {
			ssm_log(LOG_ERR, "%s", err[0] ? err : "out of memory");
			r = r < 0 ? r : -ENOMEM;
			goto out;
		}
	}
	old = b->jwks;
	b->jwks = set;
	set = NULL;
	cJSON_Delete(old);
	free(b->keychain);
	b->keychain = chain;
	b->keychain_len = clen;
	chain = NULL;
	b->key_ino = st.st_ino;
	b->key_mtime = st.st_mtim;
	r = 0;
out:
	EVP_PKEY_free(key);
	cJSON_Delete(set);
	free(chain);
	free(last);
	free(lset);
	free(json);
	return r;
}

int broker_keys_fresh(struct broker *b)
{
	struct stat st;
	int fd, r;

	if (stat(b->sign_key, &st) != 0 ||
	    (st.st_ino == b->key_ino && st.st_mtim.tv_sec == b->key_mtime.tv_sec &&
	     st.st_mtim.tv_nsec == b->key_mtime.tv_nsec))
		return 0;
	/* a rotation under way holds the lock: the keys in use stay until the next look */
	if ((fd = keys_lock(b, 0)) < 0)
		return -1;
	r = keys_load_locked(b);
	keys_unlock(fd);
	if (r < 0)
		return -1; /* the keys in use stay */
	ssm_log(LOG_INFO, "the signing key changed: signing with the new one");
	return 1;
}

int broker_key_kid(EVP_PKEY *key, char kid[65])
{
	return kid_for(key, kid);
}

int broker_key_rotate(struct broker *b, char newkid[65], char oldkid[65])
{
	char dir[4200], path[4300], newpath[4200], err[512] = "", *pem = NULL, *stmt = NULL,
		*chain = NULL, *last = NULL;
	EVP_PKEY *cur = NULL, *nk = NULL;
	cJSON *nset = NULL, *cset = NULL, *keys;
	size_t clen;
	unsigned nst;
	int r;

	int lk = keys_lock(b, 1);

	if (lk < 0) {
		ssm_log(LOG_ERR, "%s/keyrot.lock: %s", b->dir, strerror(errno));
		return -EIO;
	}
	if ((r = keys_load_locked(b)) < 0) {
		keys_unlock(lk);
		return r;
	}
	if ((r = ssm_ca_read_key(b->sign_key, &cur, err, sizeof(err))) < 0) {
		ssm_log(LOG_ERR, "%s", err);
		keys_unlock(lk);
		return r;
	}
	r = -ENOMEM;
	if (kid_for(cur, oldkid) < 0 || (nk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL ||
	    kid_for(nk, newkid) < 0 || (nset = jwks_for(nk)) == NULL || (cset = jwks_for(cur)) == NULL)
		goto out;
	keys = cJSON_GetObjectItemCaseSensitive(nset, "keys");
	cJSON_AddItemToArray(keys, cJSON_DetachItemFromArray(cJSON_GetObjectItemCaseSensitive(cset, "keys"), 0));
	if ((stmt = ssm_keyrot_sign(cur, oldkid, b->issuer, nset, ssm_now(), err, sizeof(err))) == NULL) {
		ssm_log(LOG_ERR, "%s", err);
		r = -EINVAL;
		goto out;
	}
	if ((r = chain_read(b, &chain, &clen, &last, &nst)) < 0 || (r = keyrot_dir(b, dir, sizeof(dir))) < 0)
		goto out;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		r = -errno;
		ssm_log(LOG_ERR, "%s: cannot create: %s", dir, strerror(-r));
		goto out;
	}
	/* the new key first (unpublished: dropped if nothing follows), then the statement that
	 * publishes it, then the switch (broker_keys_load finishes it if interrupted) */
	snprintf(newpath, sizeof(newpath), "%s.new", b->sign_key);
	snprintf(path, sizeof(path), "%s/%08u.jws", dir, nst + 1);
	if ((r = ssm_ca_key_pem(nk, &pem)) < 0 ||
	    (r = ssm_ca_write_file(newpath, pem, strlen(pem), 0600, err, sizeof(err))) < 0 ||
	    (r = ssm_ca_write_file(path, stmt, strlen(stmt), 0644, err, sizeof(err))) < 0 ||
	    (r = fsync_dir(dir)) < 0) {
		ssm_log(LOG_ERR, "%s", err[0] ? err : "out of memory or I/O error");
		(void)unlink(newpath);
		goto out;
	}
	if (rename(newpath, b->sign_key) != 0) {
		r = -errno;
		ssm_log(LOG_ERR, "%s: %s (the next start finishes the rotation)", b->sign_key, strerror(-r));
		goto out;
	}
	(void)fsync_dir(b->dir);
	r = keys_load_locked(b);
out:
	keys_unlock(lk);
	if (pem != NULL)
		OPENSSL_cleanse(pem, strlen(pem));
	free(pem);
	free(stmt);
	free(chain);
	free(last);
	cJSON_Delete(nset);
	cJSON_Delete(cset);
	EVP_PKEY_free(cur);
	EVP_PKEY_free(nk);
	return r;
}

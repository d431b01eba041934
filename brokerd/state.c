/* state.c - ssm-broker's state directory (mode 0700):
 *
 *   broker.db            SQLite: hosts, activations, revoked certificates, meta (issuer)
 *   ca.crt, ca.key       the broker's certificate authority (P-256)
 *   server.crt, .key     the broker's TLS certificate, issued by that CA
 *   signing.key          the token signing key (Ed25519)
 *   jwks.json            its public JWK Set (what hosts get as trusted_keys)
 *
 * Keys are 0600 and written atomically; nothing is ever overwritten but server.crt, which is
 * reissued when the broker is asked to answer to a name it does not cover. */
#include "brokerd.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/rand.h>
#include "log.h"
#include "util.h"

static int path(char *out, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, 4096, "%s/%s", dir, name) >= 4096)
		return -ENAMETOOLONG;
	return 0;
}

void broker_close(struct broker *b)
{
	if (b == NULL)
		return;
	sqlite3_close(b->db);
	ssm_ca_free(b->ca);
	cJSON_Delete(b->jwks);
	free(b->keychain);
	free(b->dir);
	free(b);
}

int broker_open(const char *dir, int create, struct broker **pb)
{
	struct broker *b;
	char err[512] = "";
	struct stat st;
	int r;

	*pb = NULL;
	b = calloc(1, sizeof(*b));
	if (b == NULL || (b->dir = strdup(dir)) == NULL) {
		free(b);
		return -ENOMEM;
	}
	if (path(b->db_path, dir, "broker.db") < 0 || path(b->ca_cert, dir, "ca.crt") < 0 ||
	    path(b->ca_key, dir, "ca.key") < 0 || path(b->server_cert, dir, "server.crt") < 0 ||
	    path(b->server_key, dir, "server.key") < 0 ||
	    path(b->sign_key, dir, "signing.key") < 0 || path(b->jwks_path, dir, "jwks.json") < 0) {
		r = -ENAMETOOLONG;
		goto fail;
	}
	if (stat(dir, &st) != 0) {
		if (errno != ENOENT || !create) {
			r = -errno;
			ssm_log(LOG_ERR, "%s: %s (run `ssm-broker serve --state-dir %s` first)", dir,
				strerror(errno), dir);
			goto fail;
		}
		if (mkdir(dir, 0700) != 0) {
			r = -errno;
			ssm_log(LOG_ERR, "%s: cannot create: %s", dir, strerror(errno));
			goto fail;
		}
		fprintf(stderr, "ssm-broker: created the state directory %s\n", dir);
	} else if (!S_ISDIR(st.st_mode)) {
		ssm_log(LOG_ERR, "%s: not a directory", dir);
		r = -ENOTDIR;
		goto fail;
	} else if (st.st_mode & 077) {
		ssm_log(LOG_ERR, "%s: readable by others (mode %04o): refusing it", dir,
			(unsigned)(st.st_mode & 07777));
		r = -EACCES;
		goto fail;
	}
	if (!create && access(b->db_path, F_OK) != 0) {
		ssm_log(LOG_ERR, "%s: no database (run `ssm-broker serve --state-dir %s` first)",
			b->db_path, dir);
		r = -ENOENT;
		goto fail;
	}
	if ((r = db_open(b->db_path, &b->db)) < 0)
		goto fail;
	if (!create) {
		*pb = b;
		return 0;
	}
	/* the CA */
	if (access(b->ca_key, F_OK) != 0) {
		if ((r = ssm_ca_create("ssm-broker CA", ssm_now(), BROKER_CA_DAYS, &b->ca, err,
				       sizeof(err))) < 0 ||
		    (r = ssm_ca_save(b->ca, b->ca_cert, b->ca_key, err, sizeof(err))) < 0) {
			ssm_log(LOG_ERR, "%s", err);
			goto fail;
		}
		fprintf(stderr, "ssm-broker: created the certificate authority %s (hosts and "
				"clients trust this file)\n",
			b->ca_cert);
	} else if ((r = ssm_ca_load(b->ca_cert, b->ca_key, &b->ca, err, sizeof(err))) < 0) {
		ssm_log(LOG_ERR, "%s", err);
		goto fail;
	}
	/* the issuer: stable for the life of the state */
	if (db_meta_get(b->db, "issuer", b->issuer, sizeof(b->issuer)) < 0) {
		unsigned char rnd[8];
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			r = -EIO;
			goto fail;
		}
		snprintf(b->issuer, sizeof(b->issuer),
			 "urn:ssmsession:broker:%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
			 rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
		if ((r = db_meta_set(b->db, "issuer", b->issuer)) < 0)
			goto fail;
	}
	if ((r = broker_keys_load(b)) < 0)
		goto fail;
	*pb = b;
	return 0;
fail:
	broker_close(b);
	return r;
}

int broker_server_cert(struct broker *b, const char *const *names, size_t n)
{
	char err[512] = "", *pem = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	size_t i;
	int r, ok = 1;

	if (ssm_ca_read_cert(b->server_cert, &cert, err, sizeof(err)) == 0 &&
	    ssm_ca_read_key(b->server_key, &key, err, sizeof(err)) == 0 &&
	    X509_check_private_key(cert, key) == 1 &&
	    X509_cmp_time(X509_get0_notAfter(cert), NULL) > 0) {
		for (i = 0; i < n; i++)
			ok = ok && ssm_ca_cert_names(cert, names[i]);
		if (ok) {
			r = 0;
			goto out;
		}
	}
	X509_free(cert);
	cert = NULL;
	if (key == NULL) {
		key = ssm_ca_keygen();
		if (key == NULL || ssm_ca_key_pem(key, &pem) < 0 ||
		    ssm_ca_write_file(b->server_key, pem, strlen(pem), 0600, err, sizeof(err)) < 0) {
			ssm_log(LOG_ERR, "%s: %s", b->server_key, err);
			r = -EIO;
			goto out;
		}
	}
	if ((r = ssm_ca_issue_server(b->ca, key, names, n, ssm_now(), BROKER_SERVER_DAYS, &cert,
				     err, sizeof(err))) < 0) {
		ssm_log(LOG_ERR, "%s", err);
		goto out;
	}
	free(pem);
	pem = NULL;
	if ((r = ssm_ca_cert_pem(cert, &pem)) < 0 ||
	    (r = ssm_ca_write_file(b->server_cert, pem, strlen(pem), 0644, err, sizeof(err))) < 0) {
		ssm_log(LOG_ERR, "%s", err);
		goto out;
	}
	fprintf(stderr, "ssm-broker: issued the TLS certificate %s for", b->server_cert);
	for (i = 0; i < n; i++)
		fprintf(stderr, " %s", names[i]);
	fputc('\n', stderr);
out:
	free(pem);
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}

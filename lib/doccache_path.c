/* doccache_path.c - where the broker's documents are cached on a host, and which file a
 * token's document means (doccache.h), without cryptography: linked into the PAM module,
 * which compares the files ssm-verifyd judged with the ones it sees. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "doccache.h"
#include "document.h"
#include "util.h"
#include "verdict.h"

static int is_lower_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int ssm_doccache_entry(const char *name, const char *sha256, char *out, size_t size)
{
	int n;

	if (name == NULL || sha256 == NULL || !ssm_document_name_valid(name) ||
	    !ssm_str_charset(sha256, 64, 64, is_lower_hex))
		return 0;
	n = snprintf(out, size, "%s@%s.json", name, sha256);
	return n > 0 && (size_t)n < size;
}

int ssm_doccache_entry_valid(const char *file)
{
	char name[SSM_DOCCACHE_ENTRY_MAX], sha[65], again[SSM_DOCCACHE_ENTRY_MAX];
	const char *at;
	size_t len, nlen;

	if (file == NULL)
		return 0;
	len = strlen(file);
	at = strchr(file, '@');
	/* NAME (3..128) '@' 64 hex ".json" */
	if (at == NULL || len != (size_t)(at - file) + 1 + 64 + 5 ||
	    strcmp(file + len - 5, ".json") != 0)
		return 0;
	nlen = (size_t)(at - file);
	if (nlen >= sizeof(name))
		return 0;
	memcpy(name, file, nlen);
	name[nlen] = '\0';
	memcpy(sha, at + 1, 64);
	sha[64] = '\0';
	return ssm_doccache_entry(name, sha, again, sizeof(again)) && strcmp(again, file) == 0;
}

int ssm_doccache_dir(const struct ssm_config *cfg, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/%s", cfg->state_dir, SSM_DOCCACHE_SUBDIR);

	return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

int ssm_doccache_eligible(const struct ssm_config *cfg, const char *name)
{
	return cfg != NULL && cfg->broker_documents && ssm_config_document_allowed(cfg, name);
}

void ssm_doccache_file_id(const struct ssm_config *cfg, const char *name, const char *sha256,
			  char *out)
{
	char dir[4096], entry[SSM_DOCCACHE_ENTRY_MAX], path[4096 + SSM_DOCCACHE_ENTRY_MAX + 2];
	struct stat st;

	strcpy(out, "-");
	if (cfg == NULL || name == NULL)
		return;
	ssm_document_file_id(cfg->documents_dir, name, out);
	/* documents_dir first, as ssm_doccache_load: a file there (of any kind) is the one */
	if (strcmp(out, "-") != 0 || sha256 == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s.json", cfg->documents_dir, name);
	if (lstat(path, &st) == 0 || errno != ENOENT)
		return;
	if (!ssm_doccache_eligible(cfg, name) || ssm_doccache_dir(cfg, dir, sizeof(dir)) < 0 ||
	    !ssm_doccache_entry(name, sha256, entry, sizeof(entry)))
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, entry);
	ssm_file_id(path, out);
}

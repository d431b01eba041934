/* fuzz_doccache.c - libFuzzer target for the host's cache of broker documents
 * (lib/doccache.c): the bytes a DOCUMENT channel brought, as ssm-agent stores them, and
 * cache file names as a reader meets them.
 *
 * Input: one byte n, then n bytes of a file name, then the document bytes.  Properties:
 * - a file name ssm_doccache_entry_valid accepts splits into a valid name and hash that
 *   ssm_doccache_entry turns back into the same file name, with no '/' in it;
 * - the bytes stored under their own hash: stored only when the document parser accepts
 *   them (then ssm_doccache_read gives back exactly them), otherwise refused and nothing
 *   is left in the cache; stored under another hash: always refused (-EBADMSG). */
#include "config.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "doccache.h"
#include "document.h"
#include "log.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256];

static void quiet(void *ctx, int prio, const char *fmt, va_list ap)
{
	(void)ctx;
	(void)prio;
	(void)fmt;
	(void)ap;
}

static void setup(void)
{
	char base[] = "/tmp/fuzz_doccache-XXXXXX";

	if (dir[0] != '\0')
		return;
	if (mkdtemp(base) == NULL)
		abort();
	snprintf(dir, sizeof(dir), "%s/documents", base);
	ssm_log_set_handler(quiet, NULL);
}

static void names(const uint8_t *p, size_t n)
{
	char file[300], name[200], sha[65], again[SSM_DOCCACHE_ENTRY_MAX];
	const char *at;

	memcpy(file, p, n);
	file[n] = '\0';
	if (!ssm_doccache_entry_valid(file))
		return;
	if (strchr(file, '/') != NULL || (at = strchr(file, '@')) == NULL ||
	    (size_t)(at - file) >= sizeof(name))
		abort();
	memcpy(name, file, (size_t)(at - file));
	name[at - file] = '\0';
	memcpy(sha, at + 1, 64);
	sha[64] = '\0';
	if (!ssm_doccache_entry(name, sha, again, sizeof(again)) || strcmp(again, file) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssm_document *doc = NULL;
	char sha[65], other[65], err[512], *buf = NULL;
	size_t n, len;
	int parses, r;

	setup();
	if (size < 1)
		return 0;
	n = data[0];
	if (n > size - 1 || n >= 300)
		return 0;
	names(data + 1, n);
	data += 1 + n;
	size -= 1 + n;
	if (size > SSM_DOCUMENT_MAX_SIZE)
		return 0;
	ssm_sha256_hex(data, size, sha);
	memcpy(other, sha, sizeof(other));
	other[0] = other[0] == '0' ? '1' : '0';
	if (ssm_doccache_store(dir, "Fuzz-Doc", other, data, size, 64 * 1024, err, sizeof(err)) !=
	    -EBADMSG)
		abort();
	parses = ssm_document_parse((const char *)data, size, "Fuzz-Doc", &doc, err,
				    sizeof(err)) == 0;
	ssm_document_free(doc);
	r = ssm_doccache_store(dir, "Fuzz-Doc", sha, data, size, 64 * 1024, err, sizeof(err));
	if ((r == 0) != parses)
		abort();
	r = ssm_doccache_read(dir, "Fuzz-Doc", sha, &buf, &len, err, sizeof(err));
	if (parses) {
		if (r != 0 || len != size || (size > 0 && memcmp(buf, data, size) != 0))
			abort();
	} else if (r != -ENOENT) {
		abort(); /* bytes that do not parse were never stored */
	}
	free(buf);
	return 0;
}

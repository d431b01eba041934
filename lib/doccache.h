/* doccache.h - session documents that ssm-agent received from the broker (SPEC section 3,
 * docs/ARCHITECTURE.md "Documents to the hosts", docs/CONTRACT.md section 3.1).
 *
 * The cache is state_dir/documents/: one file per document version, named NAME@SHA256.json
 * ('@' is in no document name, so the name splits one way), holding exactly the broker's
 * bytes; root's, 0644, in a directory of root's that no group or other may write (0755).
 * Only ssm-agent writes it (ssm_doccache_store: the bytes must hash to the name's SHA-256
 * and pass the document parser, written to a temporary file and renamed); the PAM module,
 * ssm-verifyd and ssm-shell read it (ssm_doccache_load) with the same checks as a document
 * in documents_dir, on a directory and a file opened without following symbolic links.
 *
 * Which document a token's doc {name, sha256} means on a host (ssm_doccache_load):
 *   1. documents_dir/NAME.json when it exists: the administrator's copy always wins, so a
 *      host pins a document by placing it there (a cached copy with the token's hash is
 *      then never read; another hash there is a hash mismatch);
 *   2. otherwise, only when broker_documents is true and NAME is in allowed_documents, the
 *      cached NAME@SHA256.json;
 *   3. otherwise the document is not present on this host.
 *
 * The half without cryptography (paths, file identities) is in doccache_path.c, in the
 * base library the PAM module links; reading, storing and pruning are in doccache.c. */
#ifndef SSM_DOCCACHE_H
#define SSM_DOCCACHE_H
#include <stddef.h>
#include <stdint.h>

struct ssm_config;
struct ssm_document;

#define SSM_DOCCACHE_SUBDIR "documents"
/* NAME (128) + '@' + 64 hex + ".json" + NUL */
#define SSM_DOCCACHE_ENTRY_MAX (128 + 1 + 64 + 5 + 1)

/* ---- doccache_path.c (base) ---- */

/* 1 if name and sha256 (64 lowercase hex digits) are valid; then out (at least
 * SSM_DOCCACHE_ENTRY_MAX bytes) is "NAME@SHA256.json".  0 otherwise. */
int ssm_doccache_entry(const char *name, const char *sha256, char *out, size_t size);
/* 1 if a file name is a cache entry's (NAME@SHA256.json with a valid name and hash). */
int ssm_doccache_entry_valid(const char *file);
/* state_dir/documents into out; 0, or -ENAMETOOLONG. */
int ssm_doccache_dir(const struct ssm_config *cfg, char *out, size_t size);
/* 1 if this host takes a broker copy of document name at all: broker_documents is true and
 * name is in allowed_documents. */
int ssm_doccache_eligible(const struct ssm_config *cfg, const char *name);
/* The identity (verdict.h ssm_file_id) of the file ssm_doccache_load would read for this
 * name and hash: documents_dir/NAME.json when it exists, else the cache entry when the
 * document is eligible, else "-".  out: SSM_FILE_ID_MAX bytes. */
void ssm_doccache_file_id(const struct ssm_config *cfg, const char *name, const char *sha256,
			  char *out);

/* ---- doccache.c ---- */

/* The bytes of cache entry NAME@SHA256.json in dir: dir must be a directory (not a symbolic
 * link) owned by root (or the trusted owner, util.h) and not writable by group or others; the
 * entry, opened relative to it without following a symbolic link, a regular file with the
 * same owner rule, at most 64 KiB, whose bytes hash to sha256.  *pbuf malloc'ed and
 * NUL-terminated.  0; -ENOENT no such entry (or no directory); -EACCES unsafe directory or
 * entry (owner, mode, a symbolic link); -EINVAL bad name or hash, not a regular file, larger
 * than 64 KiB; -EBADMSG the bytes do not hash to the entry's name (a damaged cache);
 * -EIO; -ENOMEM.  err says which and why. */
int ssm_doccache_read(const char *dir, const char *name, const char *sha256, char **pbuf,
		      size_t *plen, char *err, size_t errlen);

/* Store a document the broker sent: name and sha256 valid, len at most 64 KiB, the bytes'
 * SHA-256 equal to sha256 (-EBADMSG), and ssm_document_parse accepting them (-EINVAL).  Creates
 * dir's parent (state_dir) and dir (0755) when missing, never following a symbolic link, and
 * checks both as ssm_doccache_read checks dir (-EACCES: an unsafe parent or dir),
 * writes a temporary file (0644, O_EXCL, not following links), fsyncs it, renames it over
 * the entry and fsyncs the directory.  Then prunes the cache to max_bytes, keeping this
 * entry.  0, or a negative errno with err. */
int ssm_doccache_store(const char *dir, const char *name, const char *sha256, const void *buf,
		       size_t len, int64_t max_bytes, char *err, size_t errlen);

/* Mark an entry used now (its modification time), so that pruning removes it last.
 * 0 or a negative errno. */
int ssm_doccache_touch(const char *dir, const char *name, const char *sha256);

/* Remove the least recently used entries until the entries total at most max_bytes, each
 * counted as its size rounded up to 4 KiB (at least 4 KiB: what a file costs on disk),
 * never keep (an entry file name, or NULL); also removes temporary files older than a
 * minute and entries that are not regular files.  Files with other names are left alone.
 * Returns how many files were removed, or a negative errno. */
int ssm_doccache_prune(const char *dir, int64_t max_bytes, const char *keep, char *err,
		       size_t errlen);

/* The document a token's doc {name, sha256} names on this host, by the order above, with
 * ssm_document_load's results: 0; -ENOENT not present (neither file, or the broker copy is
 * not eligible); -EBADMSG documents_dir's file has another hash; -EACCES unsafe file or
 * directory; -EINVAL invalid name, hash or document; -EIO a damaged cache entry or I/O;
 * -ENOMEM.  *pfrom (optional) is "documents_dir" or "broker" on success. */
int ssm_doccache_load(const struct ssm_config *cfg, const char *name, const char *sha256,
		      struct ssm_document **pdoc, const char **pfrom, char *err, size_t errlen);

#endif

/* tstore.h - where the broker keeps the transcripts hosts deliver: a small interface so that
 * a fleet can move them to object storage; the embedded default (tstore_file.c) writes each
 * as state_dir/transcripts/HOST/SID.cast and keeps its length and completion in broker.db
 * (table transcripts).  A byte is durable once tstore_sync returned 0: only then does the
 * broker acknowledge it to the host. */
#ifndef SSM_BROKERD_TSTORE_H
#define SSM_BROKERD_TSTORE_H
#include <stddef.h>
#include <stdint.h>
#include "brokerd.h"

struct tstore_obj;

/* Open (creating) host's transcript sid of document doc for appending: *psize is how many
 * bytes are durably stored (delivery resumes there), *pcomplete 1 if it was completed
 * already.  0, or -errno with err. */
int tstore_open(struct broker *b, const char *host, const char *sid, const char *doc,
		struct tstore_obj **po, uint64_t *psize, int *pcomplete, char *err,
		size_t errlen);
/* Append n bytes (all of them, or an error). */
int tstore_append(struct tstore_obj *o, const void *p, size_t n);
/* Make everything appended durable; the stored length is updated.  0 or -errno. */
int tstore_sync(struct tstore_obj *o);
/* The host said the transcript ended (EOF at this length). */
int tstore_complete(struct tstore_obj *o);
void tstore_close(struct tstore_obj *o);

/* For get-transcript: the stored transcript of sid (host, when several hosts delivered one
 * of that name, must be given).  0 and an open descriptor with *psize and *pcomplete, or
 * -ENOENT / -errno. */
int tstore_read(struct broker *b, const char *sid, const char *host, int *pfd,
		uint64_t *psize, int *pcomplete);

#endif

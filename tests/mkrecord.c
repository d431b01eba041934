/* mkrecord.c - test helper: write a session record as pam_ssmsession's session step would,
 * for a given (ancestor) process, so the ssm-shell tests need no PAM stack.
 *
 *   mkrecord RUN_DIR PID HOST_ID SUB RUN_AS DOC_NAME DOC_SHA256 EXP_DELTA [PARAMS_JSON]
 *
 * The sid is SUB-<pid padded to 8 digits>; EXP_DELTA is added to now (may be negative);
 * PARAMS_JSON may be @FILE.
 * MKRECORD_RAW=1 writes the record without validating it.
 * MKRECORD_AUDIT_SESSION=N overrides the audit session id read from /proc/PID/sessionid.
 * Prints the sid on standard output. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "record.h"
#include "util.h"

/* MKRECORD_RAW: no validation, so that ssm-shell's own checks are what refuses it */
static int write_raw(const char *run_dir, const struct ssm_record *rec)
{
	struct ssm_record copy = *rec;
	char path[4096];
	cJSON *j;
	char *text = NULL;
	FILE *f;
	int r = -ENOMEM;

	copy.params = NULL; /* the library would not serialise bad ones: add them by hand */
	j = ssm_record_to_json(&copy);
	if (j && rec->params) {
		cJSON_DeleteItemFromObject(j, "params");
		cJSON_AddItemToObject(j, "params", cJSON_Duplicate(rec->params, 1));
	}
	text = j ? cJSON_PrintUnformatted(j) : NULL;

	if (text) {
		snprintf(path, sizeof(path), "%s/sessions", run_dir);
		(void)mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/sessions/%ld-%llu.json", run_dir, (long)rec->pid,
		         (unsigned long long)rec->starttime);
		f = fopen(path, "w");
		r = f && fputs(text, f) >= 0 && fclose(f) == 0 ? 0 : -EIO;
	}
	free(text);
	cJSON_Delete(j);
	return r;
}

int main(int argc, char **argv)
{
	struct ssm_record rec;
	char sid[160], jti[64];
	const char *as;
	pid_t ppid;
	int r;

	if (argc < 9 || argc > 10) {
		fprintf(stderr,
		        "usage: mkrecord RUN_DIR PID HOST_ID SUB RUN_AS DOC SHA256 EXP_DELTA "
		        "[PARAMS_JSON]\n");
		return 2;
	}
	memset(&rec, 0, sizeof(rec));
	rec.pid = (pid_t)strtol(argv[2], NULL, 10);
	r = ssm_proc_stat(rec.pid, &ppid, &rec.starttime);
	if (r < 0) {
		fprintf(stderr, "mkrecord: /proc/%s/stat: %s\n", argv[2], strerror(-r));
		return 1;
	}
	snprintf(sid, sizeof(sid), "%s-%08ld", argv[4], (long)rec.pid);
	snprintf(jti, sizeof(jti), "jti%016lx%08lx", (long)time(NULL), (long)rec.pid);
	rec.sid = sid;
	rec.sub = argv[4];
	rec.run_as = argv[5];
	rec.jti = jti;
	rec.host_id = argv[3];
	rec.doc_name = argv[6];
	snprintf(rec.doc_sha256, sizeof(rec.doc_sha256), "%s", argv[7]);
	rec.created = time(NULL);
	rec.exp = rec.created + strtol(argv[8], NULL, 10);
	if (argc == 10 && argv[9][0] == '@') {
		/* @FILE: the parameters from a file (values larger than an argument may be) */
		char *buf = NULL;
		size_t len;
		r = ssm_read_file(argv[9] + 1, 16 << 20, 0, &buf, &len, NULL, 0);
		if (r < 0) {
			fprintf(stderr, "mkrecord: %s: %s\n", argv[9] + 1, strerror(-r));
			return 1;
		}
		rec.params = cJSON_Parse(buf);
		free(buf);
		if (rec.params == NULL) {
			fprintf(stderr, "mkrecord: bad params JSON\n");
			return 1;
		}
	} else if (argc == 10) {
		rec.params = cJSON_Parse(argv[9]);
		if (rec.params == NULL) {
			fprintf(stderr, "mkrecord: bad params JSON\n");
			return 1;
		}
	}
	as = getenv("MKRECORD_AUDIT_SESSION");
	if (as)
		rec.audit_session = (uint32_t)strtoul(as, NULL, 10);
	else if (ssm_proc_audit_session(rec.pid, &rec.audit_session) < 0)
		rec.audit_session = UINT32_MAX;
	if (getenv("MKRECORD_RAW"))
		r = write_raw(argv[1], &rec); /* a record the module would never write */
	else
		r = ssm_record_write(argv[1], &rec);
	cJSON_Delete(rec.params);
	if (r < 0) {
		fprintf(stderr, "mkrecord: ssm_record_write: %s\n", strerror(-r));
		return 1;
	}
	printf("%s\n", sid);
	return 0;
}

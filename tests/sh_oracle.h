/* sh_oracle.h - does each parameter value reach a real sh as exactly one literal argument?
 *
 * For a document whose linux.commands the parser accepted: render it once with harmless
 * marker values (ZQM0X, ZQM1E0X, ...) and once with the values under test, run both with
 * /bin/sh, and compare.  When every value is one literal argument the two runs differ in
 * exactly the marker texts, so the second run's output (stdout and stderr together) equals
 * the first's with each marker replaced by its value, and the exit statuses are equal.  A
 * value that ends a quote, expands or runs something changes the output in another way.
 * Templates that the lexer says use a value as the command name are skipped (the value
 * picks the program there, by the document author's choice).
 *
 * The shell runs sandboxed where the kernel allows: a new user namespace (no privilege on
 * the host's files), pid namespace (kill -1 reaches nothing else), network and IPC
 * namespaces, an empty working directory, PATH pointing nowhere and a 5 s alarm.
 * Included by tests/test_document.c and tests/fuzz/fuzz_shctx.c. */
#ifndef SSM_SH_ORACLE_H
#define SSM_SH_ORACLE_H
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include "document.h"
#include "shctx.h"

#define ORACLE_MAX_OUT (256 * 1024)

static char oracle_dir[64];

static void oracle_cleanup(void)
{
	char f[96];

	if (oracle_dir[0] == '\0')
		return;
	(void)chmod(oracle_dir, 0700);
	snprintf(f, sizeof(f), "%s/xa", oracle_dir);
	(void)unlink(f);
	snprintf(f, sizeof(f), "%s/xb", oracle_dir);
	(void)unlink(f);
	(void)rmdir(oracle_dir);
}

static volatile sig_atomic_t oracle_status;

static void oracle_alarm(int sig)
{
	(void)sig;
	_exit(oracle_status);
}

/* 1 sandboxed, 0 not (no user namespaces here), -1 error */
static int oracle_run(const char *script, int need_sandbox, char **pout, size_t *plen,
                      int *pstatus)
{
	int pfd[2], st = 0, sandboxed = 0;
	pid_t pid;
	char *out;
	size_t len = 0;

	*pout = NULL;
	*plen = 0;
	if (oracle_dir[0] == '\0') {
		strcpy(oracle_dir, "/tmp/ssm-oracle-XXXXXX");
		if (mkdtemp(oracle_dir) == NULL) {
			oracle_dir[0] = '\0';
			return -1;
		}
		{ /* something for a pattern to match: x* */
			char f[96];
			int fd;
			snprintf(f, sizeof(f), "%s/xa", oracle_dir);
			if ((fd = open(f, O_WRONLY | O_CREAT, 0444)) >= 0)
				close(fd);
			snprintf(f, sizeof(f), "%s/xb", oracle_dir);
			if ((fd = open(f, O_WRONLY | O_CREAT, 0444)) >= 0)
				close(fd);
		}
		(void)chmod(oracle_dir, 0555);
		atexit(oracle_cleanup);
	}
	if (pipe(pfd) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		pid_t c;
		int s2;

		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		/* as nobody: a user namespace alone leaves root the owner of root's files */
		if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
		                       setresuid(65534, 65534, 65534) != 0))
			_exit(125);
		if (unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC) != 0) {
			if (need_sandbox)
				_exit(125);
		}
		/* pid 1 of the new namespace reaps; the shell is its child, so signals work */
		c = fork();
		if (c < 0)
			_exit(126);
		if (c == 0) {
			pid_t g = fork();
			if (g < 0)
				_exit(126);
			if (g == 0) {
				if (chdir(oracle_dir) != 0)
					_exit(126);
				alarm(5);
				execle("/bin/sh", "sh", "-c", script, (char *)NULL,
				       (char *[]){"PATH=/nonexistent-ssm-oracle", "LC_ALL=C", NULL});
				_exit(127);
			}
			if (waitpid(g, &s2, 0) != g)
				_exit(126);
			oracle_status = WIFEXITED(s2) ? WEXITSTATUS(s2) : 128 + WTERMSIG(s2);
			/* the script's background jobs (a "\\&&" makes one) are this namespace's:
			 * their output too, in both runs alike, for at most 2 s; then pid 1's exit
			 * ends them */
			signal(SIGALRM, oracle_alarm);
			alarm(2);
			while (wait(NULL) > 0 || errno == EINTR)
				;
			_exit(oracle_status);
		}
		if (waitpid(c, &s2, 0) != c)
			_exit(126);
		_exit(WIFEXITED(s2) ? WEXITSTATUS(s2) : 126);
	}
	close(pfd[1]);
	out = malloc(ORACLE_MAX_OUT + 1);
	for (;;) {
		ssize_t n;

		if (out == NULL || len >= ORACLE_MAX_OUT)
			break;
		n = read(pfd[0], out + len, ORACLE_MAX_OUT - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (out == NULL)
		return -1;
	out[len] = '\0';
	*pout = out;
	*plen = len;
	*pstatus = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (*pstatus == 125 && need_sandbox) {
		free(out);
		*pout = NULL;
		return 0;
	}
	sandboxed = 1;
	return sandboxed;
}

struct oracle_subst {
	char marker[32];
	const char *value;
};

/* Replace every marker in in[0..len) by its value; malloc'ed, NUL-terminated. */
static char *oracle_replace(const char *in, size_t len, const struct oracle_subst *subs,
                            size_t nsubs, size_t *pout_len)
{
	size_t cap = len * 4 + 64, n = 0, i = 0, k;
	char *o = malloc(cap);

	while (o && i < len) {
		const char *rep = NULL;
		size_t mlen = 0;

		if (in[i] == 'Z')
			for (k = 0; k < nsubs; k++) {
				mlen = strlen(subs[k].marker);
				if (i + mlen <= len && memcmp(in + i, subs[k].marker, mlen) == 0) {
					rep = subs[k].value;
					break;
				}
			}
		if (rep) {
			size_t rl = strlen(rep);
			if (n + rl + 1 > cap) {
				char *no = realloc(o, (cap = (n + rl + 1) * 2));
				if (no == NULL) {
					free(o);
					return NULL;
				}
				o = no;
			}
			memcpy(o + n, rep, rl);
			n += rl;
			i += mlen;
			continue;
		}
		if (n + 2 > cap) {
			char *no = realloc(o, (cap *= 2));
			if (no == NULL) {
				free(o);
				return NULL;
			}
			o = no;
		}
		o[n++] = in[i++];
	}
	if (o)
		o[n] = '\0';
	*pout_len = n;
	return o;
}

static int oracle_cmdname(void *arg, const struct ssm_sh_ref *ref)
{
	if (ref->command_name)
		*(int *)arg = 1;
	return 0;
}

/* The same bytes in another order: two processes of a pipeline (or a background job) write
 * to the shared output in no fixed order, in pieces (dash writes "sh: 2: [: " and "missing ]"
 * separately), and fragments like "\\||" make pipelines.  A value that became code or was
 * split changes which bytes are printed (quotes, brackets, spaces, expansions), not only
 * their order. */
static int oracle_same_bytes(const char *x, const char *y, size_t len)
{
	size_t cx[256] = { 0 }, cy[256] = { 0 }, i;

	for (i = 0; i < len; i++) {
		cx[(unsigned char)x[i]]++;
		cy[(unsigned char)y[i]]++;
	}
	return memcmp(cx, cy, sizeof(cx)) == 0;
}

#define ORACLE_ECHO                                                                         \
	"echo() { printf '%s\\n' \"$*\"; }\n"                                                    \
	"argv_() { printf '<%s>' \"$@\"; printf '\\n'; }\n"                                      \
	"alias '['='argv_ [' test='argv_ test'\n"

static int oracle_prefix(char **script)
{
	size_t pl = strlen(ORACLE_ECHO), sl = strlen(*script);
	char *n = malloc(pl + sl + 1);

	if (n == NULL)
		return -1;
	memcpy(n, ORACLE_ECHO, pl);
	memcpy(n + pl, *script, sl + 1);
	free(*script);
	*script = n;
	return 0;
}

/* 1: every value arrived as one literal argument; 0: not checked (the values fail the
 * document's checks, a value is the command name, no sandbox when one is needed); -1 the
 * outputs differ (why says how). */
static int oracle_check(const struct ssm_document *doc, const cJSON *values, int need_sandbox,
                        char *why, size_t whylen)
{
	struct oracle_subst subs[64];
	size_t nsubs = 0, i, lm = 0, lv = 0, le = 0;
	cJSON *markers = cJSON_CreateObject();
	const cJSON *v;
	char err[512], *rm = NULL, *rv = NULL, *om = NULL, *ov = NULL, *exp = NULL;
	int sm = 0, sv = 0, cmdname = 0, ret = 0, r1, r2;

	why[0] = '\0';
	if (markers == NULL || doc->commands == NULL)
		goto out;
	/* (a template the lexer refuses can only get here in the oracle's own self-test) */
	if (ssm_sh_scan(doc->commands, oracle_cmdname, &cmdname, err, sizeof(err)) == 0 && cmdname)
		goto out;
	for (i = 0; i < doc->n_params && nsubs < 60; i++) {
		const struct ssm_doc_param *p = &doc->params[i];
		cJSON *arr = cJSON_AddArrayToObject(markers, p->name), *el;
		int j = 0;

		v = cJSON_GetObjectItemCaseSensitive(values, p->name);
		if (v == NULL)
			v = p->default_value;
		if (v == NULL)
			goto out;
		if (cJSON_IsString(v)) {
			snprintf(subs[nsubs].marker, sizeof(subs[0].marker), "ZQM%zuX", i);
			subs[nsubs].value = v->valuestring;
			cJSON_AddItemToArray(arr, cJSON_CreateString(subs[nsubs++].marker));
			continue;
		}
		cJSON_ArrayForEach(el, v) {
			if (nsubs >= 60 || !cJSON_IsString(el))
				goto out;
			snprintf(subs[nsubs].marker, sizeof(subs[0].marker), "ZQM%zuE%dX", i, j++);
			subs[nsubs].value = el->valuestring;
			cJSON_AddItemToArray(arr, cJSON_CreateString(subs[nsubs++].marker));
		}
		if (!p->is_list) { /* a String given as a one-element array */
			if (j != 1)
				goto out;
		}
	}
	if (ssm_document_render(doc, doc->commands, values, &rv, err, sizeof(err)) != 0)
		goto out; /* the values are refused: nothing to run */
	if (ssm_document_render(doc, doc->commands, markers, &rm, err, sizeof(err)) != 0) {
		snprintf(why, whylen, "markers refused: %s", err);
		ret = -1;
		goto out;
	}
	/* Builtins that interpret their arguments' contents would make a literal argument look
	 * altered: dash's echo takes backslash escapes (\c ends the output), its [ takes any
	 * last argument that begins with ']' as the closing bracket.  Here echo prints its
	 * arguments verbatim and [ and test print theirs (one <...> each), in both runs alike,
	 * which shows a split or an expansion all the better. */
	if (oracle_prefix(&rm) != 0 || oracle_prefix(&rv) != 0)
		goto out;
	r1 = oracle_run(rm, need_sandbox, &om, &lm, &sm);
	r2 = oracle_run(rv, need_sandbox, &ov, &lv, &sv);
	if (r1 <= 0 || r2 <= 0)
		goto out;
	exp = oracle_replace(om, lm, subs, nsubs, &le);
	if (exp == NULL)
		goto out;
	if (sm != sv || le != lv || (memcmp(exp, ov, le) != 0 && !oracle_same_bytes(exp, ov, le))) {
		snprintf(why, whylen, "status %d/%d; expected [%.200s] got [%.200s] (from %.200s)",
		         sm, sv, exp, ov, rv);
		ret = -1;
		goto out;
	}
	ret = 1;
out:
	cJSON_Delete(markers);
	free(rm);
	free(rv);
	free(om);
	free(ov);
	free(exp);
	return ret;
}

#endif

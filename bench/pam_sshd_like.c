/* pam_sshd_like.c - a PAM cycle driven the way sshd drives it (bench, not a test).
 *
 *   pam_sshd_like [-n CYCLES] [-w WARMUP] [-u USER] [-x] NAME=SERVICE[:TOKENS][@PRELOAD] ...
 *
 * The parent plays sshd's privileged monitor: libcrypto is linked, initialised as
 * OpenSSH's ssh_libcrypto_init() does (all ciphers and digests added, configuration
 * loaded) and used once for what a default Debian 12 transport uses libcrypto for
 * (SHA-256 and SHA-512 digests for the key exchange hash, ChaCha20 for
 * chacha20-poly1305@openssh.com, AES-256-GCM; curve25519, sntrup761 and ssh-ed25519
 * host keys are OpenSSH's own code), and the user is looked up with getpwnam, as sshd's
 * monitor does (getpwnamallow) before any PAM call.  Nothing of what pam_ssmsession
 * itself needs from libcrypto (the key import, Ed25519 verification) is warmed up.
 *
 * For every cycle the parent forks a child that runs pam_start, pam_authenticate (the
 * token answered by the conversation function, as keyboard-interactive does),
 * pam_acct_mgmt, pam_open_session, pam_close_session and pam_end, then exits; the
 * parent waits.  The wall time from fork to the end of wait4 is one cycle; the child's CPU
 * time (user + system, from wait4) is reported too: on a shared machine it does not count
 * the time the child waited for a CPU.
 *
 * With -x the cycle is pamtester's instead: the child execs
 *   pamtester SERVICE USER authenticate acct_mgmt open_session close_session
 * with the token on its standard input (a pipe filled before the fork) and, with
 * @PRELOAD, LD_PRELOAD=PRELOAD; a new process loads and initialises everything itself.
 * This times what hyperfine times, without a shell and with the variants interleaved.
 *
 * Variants run interleaved (A B C A B C ...) so that machine noise hits all alike.
 * TOKENS is a file with one token per line; cycle i of that variant answers line i
 * (a replayed jti is refused), so it needs WARMUP + CYCLES lines.  Every cycle must
 * succeed: a failed one stops the run (exit 1). */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <security/pam_appl.h>

#define MAX_VARIANTS 8

struct variant {
	const char *name;
	char *service;
	char *preload;
	char **tokens;
	size_t ntokens;
	double *t;   /* seconds per measured cycle, wall */
	double *cpu; /* the child's user + system seconds */
};

static const char *cur_token;

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *ap)
{
	struct pam_response *r;
	int i;

	(void)ap;
	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
		    msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
			if (cur_token == NULL || (r[i].resp = strdup(cur_token)) == NULL)
				goto fail;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (i = 0; i < n; i++)
		free(r[i].resp);
	free(r);
	return PAM_CONV_ERR;
}

static double now(void);

/* The child: one login, exit status 0 on success, else the failing step's number.  With
 * SSM_BENCH_PHASES=FILE, each cycle appends the microseconds spent in pam_start,
 * pam_authenticate, pam_acct_mgmt, pam_open_session, pam_close_session and pam_end (the
 * service name first) to FILE, to see where a cycle goes. */
static void cycle(const char *service, const char *user)
{
	struct pam_conv c = { conv, NULL };
	pam_handle_t *h = NULL;
	const char *phases = getenv("SSM_BENCH_PHASES");
	double t[7];
	int r;

	t[0] = now();
	if (pam_start(service, user, &c, &h) != PAM_SUCCESS)
		_exit(10);
	(void)pam_set_item(h, PAM_RHOST, "192.0.2.1");
	t[1] = now();
	if ((r = pam_authenticate(h, PAM_SILENT)) != PAM_SUCCESS)
		_exit(11);
	t[2] = now();
	if ((r = pam_acct_mgmt(h, PAM_SILENT)) != PAM_SUCCESS)
		_exit(12);
	t[3] = now();
	if ((r = pam_open_session(h, PAM_SILENT)) != PAM_SUCCESS)
		_exit(13);
	t[4] = now();
	if ((r = pam_close_session(h, PAM_SILENT)) != PAM_SUCCESS)
		_exit(14);
	t[5] = now();
	pam_end(h, r);
	t[6] = now();
	if (phases != NULL) {
		char line[256];
		int fd = open(phases, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644), n, i, o;

		o = snprintf(line, sizeof(line), "%s", service);
		for (i = 0; i < 6 && o > 0 && (size_t)o < sizeof(line); i++) {
			n = snprintf(line + o, sizeof(line) - (size_t)o, " %.1f",
				     (t[i + 1] - t[i]) * 1e6);
			o += n;
		}
		if (fd >= 0 && o > 0 && (size_t)o < sizeof(line) - 1) {
			line[o++] = '\n';
			(void)!write(fd, line, (size_t)o);
		}
		if (fd >= 0)
			close(fd);
	}
	_exit(0);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What sshd's monitor has done with libcrypto before any PAM call. */
static void sshd_like_crypto(void)
{
	static const unsigned char key[32], iv[16];
	unsigned char md[EVP_MAX_MD_SIZE], out[64];
	unsigned int mdlen;
	EVP_CIPHER_CTX *cc;
	int outl;

	OPENSSL_init_crypto(OPENSSL_INIT_ADD_ALL_CIPHERS | OPENSSL_INIT_ADD_ALL_DIGESTS |
				    OPENSSL_INIT_LOAD_CONFIG, NULL);
	if (EVP_Digest("kex", 3, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest("kex", 3, md, &mdlen, EVP_sha512(), NULL) != 1) {
		fprintf(stderr, "pam_sshd_like: digest failed\n");
		exit(2);
	}
	cc = EVP_CIPHER_CTX_new();
	if (cc == NULL || EVP_EncryptInit_ex(cc, EVP_chacha20(), NULL, key, iv) != 1 ||
	    EVP_EncryptUpdate(cc, out, &outl, key, 32) != 1 ||
	    EVP_EncryptInit_ex(cc, EVP_aes_256_gcm(), NULL, key, iv) != 1 ||
	    EVP_EncryptUpdate(cc, out, &outl, key, 32) != 1) {
		fprintf(stderr, "pam_sshd_like: cipher failed\n");
		exit(2);
	}
	EVP_CIPHER_CTX_free(cc);
}

/* The -x child: pamtester with the token on stdin. */
static void cycle_exec(const struct variant *v, const char *user, const char *token)
{
	char *args[] = { "pamtester", v->service, (char *)user, "authenticate", "acct_mgmt",
			 "open_session", "close_session", NULL };
	int p[2], fd;

	if (pipe(p) != 0)
		_exit(20);
	/* a token is far smaller than a pipe's buffer */
	if (token != NULL && (write(p[1], token, strlen(token)) < 0 || write(p[1], "\n", 1) != 1))
		_exit(21);
	close(p[1]);
	if (dup2(p[0], 0) < 0)
		_exit(22);
	fd = open("/dev/null", O_WRONLY);
	if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(23);
	if (v->preload != NULL && setenv("LD_PRELOAD", v->preload, 1) != 0)
		_exit(24);
	execvp("pamtester", args);
	_exit(25);
}

static double tv_sec(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static int load_tokens(struct variant *v, const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		char **t = realloc(v->tokens, (v->ntokens + 1) * sizeof(*t));

		if (t == NULL)
			exit(2);
		v->tokens = t;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if ((v->tokens[v->ntokens++] = strdup(line)) == NULL)
			exit(2);
	}
	free(line);
	fclose(f);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct variant v[MAX_VARIANTS];
	const char *user = "ssm-user";
	long cycles = 300, warm = 10, i;
	int nv = 0, opt, k, exec_mode = 0;

	while ((opt = getopt(argc, argv, "n:w:u:x")) != -1) {
		switch (opt) {
		case 'x': exec_mode = 1; break;
		case 'n': cycles = strtol(optarg, NULL, 10); break;
		case 'w': warm = strtol(optarg, NULL, 10); break;
		case 'u': user = optarg; break;
		default: goto usage;
		}
	}
	if (optind >= argc || argc - optind > MAX_VARIANTS || cycles <= 0 || warm < 0)
		goto usage;
	memset(v, 0, sizeof(v));
	for (; optind < argc; optind++, nv++) {
		char *eq = strchr(argv[optind], '='), *colon, *at;

		if (eq == NULL)
			goto usage;
		*eq = '\0';
		at = strchr(eq + 1, '@');
		if (at != NULL) {
			*at = '\0';
			v[nv].preload = at + 1;
		}
		v[nv].name = argv[optind];
		v[nv].service = eq + 1;
		colon = strchr(eq + 1, ':');
		if (colon != NULL) {
			*colon = '\0';
			if (load_tokens(&v[nv], colon + 1) < 0 ||
			    v[nv].ntokens < (size_t)(cycles + warm)) {
				fprintf(stderr, "pam_sshd_like: %s: need %ld tokens\n", colon + 1,
					cycles + warm);
				return 2;
			}
		}
		v[nv].t = calloc((size_t)cycles, sizeof(double));
		v[nv].cpu = calloc((size_t)cycles, sizeof(double));
		if (v[nv].t == NULL || v[nv].cpu == NULL)
			return 2;
	}

	sshd_like_crypto();
	if (getpwnam(user) == NULL) {
		fprintf(stderr, "pam_sshd_like: no user %s\n", user);
		return 2;
	}
	for (i = 0; i < warm + cycles; i++) {
		for (k = 0; k < nv; k++) {
			struct rusage ru;
			double t0, t1;
			pid_t pid;
			int st;

			cur_token = v[k].tokens != NULL ? v[k].tokens[i] : NULL;
			t0 = now();
			pid = fork();
			if (pid < 0) {
				perror("fork");
				return 2;
			}
			if (pid == 0 && exec_mode)
				cycle_exec(&v[k], user, cur_token);
			if (pid == 0)
				cycle(v[k].service, user);
			if (wait4(pid, &st, 0, &ru) != pid) {
				perror("wait4");
				return 2;
			}
			t1 = now();
			if (i >= warm) {
				v[k].t[i - warm] = t1 - t0;
				v[k].cpu[i - warm] = tv_sec(&ru.ru_utime) + tv_sec(&ru.ru_stime);
			}
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				fprintf(stderr, "pam_sshd_like: %s cycle %ld failed (status %#x)\n",
					v[k].name, i, st);
				return 1;
			}
		}
	}

	/* ratios against the first variant: of the means and of the medians (the median is
	 * the steadier figure on a shared machine), and of the children's CPU time medians */
	for (k = 0; k < nv; k++) {
		qsort(v[k].t, (size_t)cycles, sizeof(double), cmp_double);
		qsort(v[k].cpu, (size_t)cycles, sizeof(double), cmp_double);
	}
	printf("%-24s %8s %8s %8s %8s %8s %8s %8s\n", exec_mode ? "cycle (pamtester)" : "cycle (sshd-like)",
	       "mean ms", "med ms", "min ms", "mean/1st", "med/1st", "cpu ms", "cpu/1st");
	for (k = 0; k < nv; k++) {
		double sum = 0, base = 0;

		for (i = 0; i < cycles; i++) {
			sum += v[k].t[i];
			base += v[0].t[i];
		}
		printf("%-24s %8.3f %8.3f %8.3f %7.2fx %7.2fx %8.3f %7.2fx\n", v[k].name,
		       sum / (double)cycles * 1e3, v[k].t[cycles / 2] * 1e3, v[k].t[0] * 1e3,
		       sum / base, v[k].t[cycles / 2] / v[0].t[cycles / 2],
		       v[k].cpu[cycles / 2] * 1e3, v[k].cpu[cycles / 2] / v[0].cpu[cycles / 2]);
	}
	return 0;
usage:
	fprintf(stderr, "usage: pam_sshd_like [-n CYCLES] [-w WARMUP] [-u USER] [-x] "
			"NAME=SERVICE[:TOKENS][@PRELOAD] ...\n");
	return 2;
}

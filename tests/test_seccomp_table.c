/* test_seccomp_table - the seccomp table stays reviewable, and the compiled filter is pinned.
 *
 * 1. ssm_seccomp_table_check() passes on the real tables and catches broken copies (the file
 *    includes lib/seccomp_policy.c to reach its static tables and check function).
 * 2. Golden files: the PFC export of each profile is compared with
 *    tests/data/seccomp/PROFILE.pfc; a mismatch prints a diff.  After a deliberate change of
 *    the tables, regenerate them from the build directory with
 *        SSM_SECCOMP_REGEN=1 srcdir=/path/to/source tests/test_seccomp_table
 *    and review the diff in git before committing.  The first line of a golden file names the
 *    libseccomp version and architecture it was made with; on another one the comparison is
 *    reported as skipped (the PFC text depends on both).
 * 3. The exported BPF carries libseccomp's x32 guard (x32 calls hit the bad-arch action),
 *    which the PFC text does not show.
 * 4. Without root: a forked child applies each profile with no_new_privs and checks a few
 *    answers (the full probe is tests/seccomp_live.sh, as root). */
#include "../lib/seccomp_policy.c"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "check.h"
#include "util.h"

extern char **environ;

static int log_count;
static void count_log(void *ctx, int prio, const char *fmt, va_list ap)
{
	(void)ctx;
	(void)prio;
	if (getenv("SSM_TEST_VERBOSE")) {
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	log_count++;
}

/* ---- 1. the table check */

#define G_MAX 64
#define R_MAX 64
static struct sc_group g_copy[G_MAX];
static struct sc_argrule r_copy[R_MAX];

static void copy_tables(void)
{
	memcpy(g_copy, sc_groups, sizeof(sc_groups));
	memcpy(r_copy, sc_argrules, sizeof(sc_argrules));
}

static size_t group_index(const char *name)
{
	size_t i;

	for (i = 0; i < N_ELEM(sc_groups); i++)
		if (strcmp(sc_groups[i].name, name) == 0)
			return i;
	fprintf(stderr, "no group %s\n", name);
	abort();
}

/* Each mutation breaks one rule of the table. */
static void m_swap_groups(void)
{
	struct sc_group t = g_copy[3];
	g_copy[3] = g_copy[4];
	g_copy[4] = t;
}
static void m_no_help(void)
{
	g_copy[group_index("ptrace")].help = "";
}
static void m_null_help(void)
{
	g_copy[group_index("bpf")].help = NULL;
}
static void m_unknown_call(void)
{
	{
		static const char *const calls_1[] = {"bpf_typo", NULL};
		g_copy[group_index("bpf")].calls = calls_1;
	}
}
static void m_unsorted_calls(void)
{
	{
		static const char *const calls_2[] = {"swapon", "swapoff", NULL};
		g_copy[group_index("swap")].calls = calls_2;
	}
}
static void m_absent_unmarked(void)
{
	/* umount does not exist on x86_64 (only umount2): it must be marked "?umount" */
	{
		static const char *const calls_3[] = {"mount", "umount", "umount2", NULL};
		g_copy[group_index("mount")].calls = calls_3;
	}
}
static void m_optional_typo(void)
{
	/* "?" allows absence on this arch, not names libseccomp does not know at all */
	{
		static const char *const calls_4[] = {"mount", "?umount_typo", "umount2", NULL};
		g_copy[group_index("mount")].calls = calls_4;
	}
}
static void m_dup_group(void)
{
	/* bpf denied twice in one profile */
	{
		static const char *const calls_5[] = {"bpf", "chroot", NULL};
		g_copy[group_index("chroot")].calls = calls_5;
	}
}
static void m_group_and_argrule(void)
{
	/* ioctl in a group and with argument rules in the same profile */
	{
		static const char *const calls_6[] = {"bpf", "ioctl", NULL};
		g_copy[group_index("bpf")].calls = calls_6;
	}
}
static void m_bad_action(void)
{
	g_copy[group_index("kexec")].action = SCMP_ACT_ALLOW;
}
static void m_no_profile(void)
{
	g_copy[group_index("kexec")].profiles = 0;
}
static void m_empty_group(void)
{
	{
		static const char *const calls_7[] = {NULL, NULL};
		g_copy[group_index("kexec")].calls = calls_7;
	}
}
static void m_unsorted_rules(void)
{
	struct sc_argrule t = r_copy[0];
	r_copy[0] = r_copy[N_ELEM(sc_argrules) - 1];
	r_copy[N_ELEM(sc_argrules) - 1] = t;
}
static void m_rule_no_help(void)
{
	r_copy[0].help = "x";
}
static void m_rule_unknown(void)
{
	r_copy[0].syscall = "klone";
}
static void m_rule_bad_arg(void)
{
	r_copy[0].cmp.arg = 6;
}
static void m_baseline_not_strict(void)
{
	/* a baseline denial written without SCP_S: strict would allow it */
	g_copy[group_index("perf")].profiles = SCP_B;
}
static void m_baseline_rule_not_strict(void)
{
	size_t i;

	for (i = 0; i < N_ELEM(sc_argrules); i++)
		if (strcmp(r_copy[i].syscall, "ioctl") == 0)
			r_copy[i].profiles = SCP_B;
}
static void m_nothing(void)
{
}

static const struct {
	int line;
	void (*mutate)(void);
	int want; /* 0 or -EINVAL */
} mutations[] = {
    {__LINE__, m_nothing, 0},
    {__LINE__, m_swap_groups, -EINVAL},         /* reviewer cannot find a group: unsorted */
    {__LINE__, m_no_help, -EINVAL},             /* a denial nobody can explain */
    {__LINE__, m_null_help, -EINVAL},           /* same, NULL pointer */
    {__LINE__, m_unknown_call, -EINVAL},        /* typo: the call would silently stay allowed */
    {__LINE__, m_unsorted_calls, -EINVAL},      /* unsorted names inside a group */
    {__LINE__, m_absent_unmarked, -EINVAL},     /* name missing on this arch, not marked */
    {__LINE__, m_optional_typo, -EINVAL},       /* "?" hiding a typo */
    {__LINE__, m_dup_group, -EINVAL},           /* one call in two groups of a profile */
    {__LINE__, m_group_and_argrule, -EINVAL},   /* group rule shadowing argument rules */
    {__LINE__, m_bad_action, -EINVAL},          /* a group that allows instead of denying */
    {__LINE__, m_no_profile, -EINVAL},          /* a group in no profile: dead row */
    {__LINE__, m_empty_group, -EINVAL},         /* a group without calls */
    {__LINE__, m_unsorted_rules, -EINVAL},      /* argument rules out of order */
    {__LINE__, m_rule_no_help, -EINVAL},        /* argument rule without explanation */
    {__LINE__, m_rule_unknown, -EINVAL},        /* argument rule on an unknown call */
    {__LINE__, m_rule_bad_arg, -EINVAL},        /* argument index out of range */
    {__LINE__, m_baseline_not_strict, -EINVAL}, /* strict must deny what baseline denies */
    {__LINE__, m_baseline_rule_not_strict, -EINVAL}, /* same for argument rules */
};

static void test_table_check(void)
{
	size_t i;
	int r;

	CHECK(N_ELEM(sc_groups) <= G_MAX && N_ELEM(sc_argrules) <= R_MAX, "copy buffers too small");
	log_count = 0;
	CHECK(ssm_seccomp_table_check() == 0, "the real table fails its own check");
	CHECK(log_count == 0, "the real table logged %d complaints", log_count);

	for (i = 0; i < N_ELEM(mutations); i++) {
		copy_tables();
		mutations[i].mutate();
		log_count = 0;
		r = check_tables(g_copy, N_ELEM(sc_groups), r_copy, N_ELEM(sc_argrules));
		CHECK_ROW(mutations[i].line, r == mutations[i].want, "check_tables: %d, want %d", r,
		          mutations[i].want);
		CHECK_ROW(mutations[i].line, (r == 0) == (log_count == 0),
		          "%d log lines for result %d", log_count, r);
	}

	/* the minimum, stated again independently of the table layout */
	static const char *const must_deny[] = {
	    "init_module",
	    "finit_module",
	    "kexec_load",
	    "reboot",
	    "swapon",
	    "mount",
	    "umount2",
	    "setns",
	    "bpf",
	    "perf_event_open",
	    "ptrace",
	    "process_vm_readv",
	    "process_vm_writev",
	    "keyctl",
	    "add_key",
	    "request_key",
	    "userfaultfd",
	    "io_uring_setup",
	    "open_by_handle_at",
	    "clone3",
	    "modify_ldt",
	};
	/* terminal ioctls every profile refuses (one LOW32_EQ rule on the command each) */
	static const struct {
		const char *name;
		unsigned long cmd;
	} must_deny_ioctl[] = {
	    {"TIOCLINUX", TIOCLINUX},
	    {"TIOCSETD", TIOCSETD},
	    {"TIOCSTI", TIOCSTI},
	};
	static const unsigned every_profile[] = {SCP_B, SCP_S, SCP_D};
	for (i = 0; i < N_ELEM(must_deny); i++) {
		size_t k;
		int found = 0;

		for (k = 0; k < N_ELEM(sc_groups); k++)
			if ((sc_groups[k].profiles & SCP_B) &&
			    group_has(&sc_groups[k], must_deny[i]))
				found = 1;
		CHECK(found, "baseline does not deny %s", must_deny[i]);
	}
	for (i = 0; i < N_ELEM(must_deny_ioctl); i++) {
		size_t k, p;

		for (p = 0; p < N_ELEM(every_profile); p++) {
			int found = 0;

			for (k = 0; k < N_ELEM(sc_argrules); k++) {
				const struct sc_argrule *a = &sc_argrules[k];

				if (strcmp(a->syscall, "ioctl") == 0 &&
				    (a->profiles & every_profile[p]) && a->action == SC_EPERM &&
				    a->cmp.arg == 1 && a->cmp.op == SCMP_CMP_MASKED_EQ &&
				    a->cmp.datum_a == 0xffffffffu &&
				    a->cmp.datum_b == must_deny_ioctl[i].cmd)
					found = 1;
			}
			CHECK(found, "profile bit %#x does not deny ioctl(%s) with EPERM",
			      every_profile[p], must_deny_ioctl[i].name);
		}
	}
}

static void test_profiles(void)
{
	static const struct {
		int line;
		const char *name;
		int valid;
	} rows[] = {
	    {__LINE__, "baseline", 1},  {__LINE__, "strict", 1},
	    {__LINE__, "debug", 1},     {__LINE__, "", 0}, /* empty name from a config */
	    {__LINE__, NULL, 0},                           /* missing */
	    {__LINE__, "Baseline", 0},                     /* case games */
	    {__LINE__, "baseline ", 0},                    /* trailing space */
	    {__LINE__, "none", 0},                         /* "no filter" is not a profile */
	};
	size_t i;

	for (i = 0; i < N_ELEM(rows); i++)
		CHECK_ROW(rows[i].line, ssm_seccomp_profile_valid(rows[i].name) == rows[i].valid,
		          "profile_valid(%s)", rows[i].name ? rows[i].name : "NULL");
	CHECK(ssm_seccomp_export_pfc("nonsense", 1) == -EINVAL, "export of an unknown profile");
	CHECK(ssm_seccomp_apply("nonsense", 1) == -EINVAL, "apply of an unknown profile");
	CHECK(ssm_seccomp_export_pfc("baseline", -1) == -EBADF, "export to fd -1");
}

/* ---- 2. golden files */

static int run_diff(const char *a, const char *b)
{
	char *argv[] = {"diff", "-u", (char *)a, (char *)b, NULL};
	pid_t pid;
	int st;

	fflush(NULL);
	if (posix_spawnp(&pid, "diff", NULL, NULL, argv, environ) != 0)
		return -1;
	waitpid(pid, &st, 0);
	return 0;
}

static void golden_header(const char *profile, char *out, size_t outlen)
{
	const struct scmp_version *v = seccomp_version();
	uint32_t arch = seccomp_arch_native();

	snprintf(out, outlen,
	         "# ssmsession seccomp golden: profile %s, libseccomp %u.%u, arch %s%#x\n", profile,
	         v->major, v->minor, arch == SCMP_ARCH_X86_64 ? "x86_64 " : "", arch);
}

/* The export of profile with the header line, in *pbuf. */
static int export_text(const char *profile, char **pbuf, size_t *plen)
{
	char hdr[200], path[] = "/tmp/ssm-pfc.XXXXXX";
	char *body = NULL, *out;
	size_t blen = 0, hlen;
	int fd, r;

	golden_header(profile, hdr, sizeof(hdr));
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	r = ssm_seccomp_export_pfc(profile, fd);
	close(fd);
	if (r == 0)
		r = ssm_read_file(path, 1 << 20, 0, &body, &blen, NULL, 0);
	unlink(path);
	if (r < 0)
		return r;
	hlen = strlen(hdr);
	out = malloc(hlen + blen + 1);
	if (!out) {
		free(body);
		return -ENOMEM;
	}
	memcpy(out, hdr, hlen);
	memcpy(out + hlen, body, blen + 1);
	free(body);
	*pbuf = out;
	*plen = hlen + blen;
	return 0;
}

static void test_golden(const char *profile)
{
	const char *srcdir = getenv("srcdir");
	char golden[4096], tmp[] = "/tmp/ssm-pfc-actual.XXXXXX";
	char *want = NULL, *got = NULL, *nl;
	size_t wlen = 0, glen = 0;
	int r, fd;

	if (!srcdir)
		srcdir = ".";
	snprintf(golden, sizeof(golden), "%s/tests/data/seccomp/%s.pfc", srcdir, profile);
	r = export_text(profile, &got, &glen);
	CHECK(r == 0, "export %s: %d", profile, r);
	if (r < 0)
		return;
	CHECK(strstr(got, "action KILL_PROCESS;") != NULL, "%s: bad arch is not KILL_PROCESS",
	      profile);

	if (getenv("SSM_SECCOMP_REGEN")) {
		fd = open(golden, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		CHECK(fd >= 0 && ssm_write_all(fd, got, glen) == 0, "writing %s", golden);
		if (fd >= 0)
			close(fd);
		printf("regenerated %s\n", golden);
		free(got);
		return;
	}
	r = ssm_read_file(golden, 1 << 20, 0, &want, &wlen, NULL, 0);
	CHECK(r == 0, "reading %s: %s", golden, strerror(-r));
	if (r < 0)
		goto out;
	nl = strchr(want, '\n');
	if (!nl || strncmp(want, got, (size_t)(nl - want) + 1) != 0) {
		printf("golden %s: SKIPPED, made with another libseccomp or arch:\n  %.*s\n",
		       profile, nl ? (int)(nl - want) : 0, want);
		goto out;
	}
	if (wlen == glen && memcmp(want, got, wlen) == 0) {
		printf("golden %s: same as %s\n", profile, golden);
		goto out;
	}
	CHECK(0, "profile %s differs from %s (diff below; regenerate: see the top of %s)", profile,
	      golden, __FILE__);
	fd = mkstemp(tmp);
	if (fd >= 0) {
		ssm_write_all(fd, got, glen);
		close(fd);
		run_diff(golden, tmp);
		unlink(tmp);
	}
out:
	free(want);
	free(got);
}

/* ---- 3. the x32 guard in the BPF */

static void test_x32_guard(void)
{
	char path[] = "/tmp/ssm-bpf.XXXXXX";
	scmp_filter_ctx ctx = NULL;
	char *buf = NULL;
	size_t len = 0, i, n;
	int fd, r, guard = 0, kill = 0;

	if (seccomp_arch_native() != SCMP_ARCH_X86_64) {
		printf("x32 guard: not x86_64, skipped\n");
		return;
	}
	r = build("baseline", 1, &ctx);
	CHECK(r == 0, "build: %d", r);
	if (r < 0)
		return;
	fd = mkstemp(path);
	CHECK(fd >= 0, "mkstemp");
	if (fd >= 0) {
		r = seccomp_export_bpf(ctx, fd);
		close(fd);
		CHECK(r == 0, "export_bpf: %d", r);
		r = ssm_read_file(path, 1 << 20, 0, &buf, &len, NULL, 0);
		unlink(path);
		CHECK(r == 0 && len % sizeof(struct sock_filter) == 0, "reading bpf: %d", r);
	}
	seccomp_release(ctx);
	if (!buf)
		return;
	n = len / sizeof(struct sock_filter);
	for (i = 0; i < n; i++) {
		struct sock_filter f;

		memcpy(&f, buf + i * sizeof(f), sizeof(f));
		if (f.code == (BPF_JMP | BPF_JGE | BPF_K) && f.k == 0x40000000u)
			guard = 1;
		if (f.code == (BPF_RET | BPF_K) && f.k == SECCOMP_RET_KILL_PROCESS)
			kill = 1;
	}
	CHECK(guard, "no x32 guard (nr >= 0x40000000) in the baseline BPF");
	CHECK(kill, "no KILL_PROCESS return in the baseline BPF");
	free(buf);
}

/* ---- 4. a few live answers, with no_new_privs (needs no root) */

static int child_checks(const char *profile)
{
	char c = 0;
	int bad = 0;

	if (ssm_seccomp_apply(profile, 1) != 0)
		return 100;
	errno = 0;
	if (unshare(CLONE_NEWUSER) == 0 || errno != EPERM)
		bad |= 1;
	if (syscall(SYS_clone3, NULL, 0UL) == 0 || errno != ENOSYS)
		bad |= 2;
	if (syscall(SYS_ioctl, 0, 0x100000000UL | TIOCSTI, &c) == 0 || errno != EPERM)
		bad |= 4;
	if (personality(0xffffffff) < 0)
		bad |= 8;
	if (syscall(SYS_personality, PER_LINUX32) != -1 || errno != EPERM)
		bad |= 16;
	errno = 0;
	if (strcmp(profile, "debug") != 0 &&
	    (syscall(SYS_ptrace, 0x4242, 0, 0, 0) == 0 || errno != EPERM))
		bad |= 32;
	if (strcmp(profile, "debug") == 0 && syscall(SYS_ptrace, 0x4242, 0, 0, 0) == -1 &&
	    errno == EPERM)
		bad |= 32; /* an unknown request is EIO from the kernel, EPERM only from us */
	if (getpid() <= 0)
		bad |= 64;
	/* TIOCSETD (high bits set: the rule looks at the low 32) and modify_ldt (x86 only;
	 * func 0 reads the LDT) are refused before the kernel looks at fd or arguments */
	if (syscall(SYS_ioctl, 0, 0xffffffff00000000UL | TIOCSETD, &c) == 0 || errno != EPERM)
		bad |= 128;
#ifdef SYS_modify_ldt
	{
		char ldt[16];

		if (syscall(SYS_modify_ldt, 0, ldt, sizeof(ldt)) != -1 || errno != EPERM)
			bad |= 128;
	}
#endif
	return bad;
}

static void test_live_nnp(const char *profile)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid < 0)
		return;
	if (pid == 0)
		_exit(child_checks(profile)); /* _exit: no leak check (ptrace is denied) */
	CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "profile %s under no_new_privs: status %#x (bits: 1 unshare, 2 clone3, 4 TIOCSTI, "
	      "8 personality query, 16 PER_LINUX32, 32 ptrace, 128 TIOCSETD or modify_ldt; "
	      "100 apply failed)",
	      profile, st);
}

int main(void)
{
	static const char *const profiles[] = {"baseline", "debug", "strict"};
	size_t i;

	ssm_log_set_handler(count_log, NULL);
	test_table_check();
	test_profiles();
	if (seccomp_api_get() < 3) {
		printf("seccomp API level %u < 3: golden and live parts skipped\n",
		       seccomp_api_get());
		return check_done("test_seccomp_table");
	}
	for (i = 0; i < N_ELEM(profiles); i++)
		test_golden(profiles[i]);
	test_x32_guard();
	for (i = 0; i < N_ELEM(profiles); i++)
		test_live_nnp(profiles[i]);
	return check_done("test_seccomp_table");
}

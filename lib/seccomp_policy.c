/* seccomp_policy.c - the session's seccomp filter as reviewable data
 *
 * ssm-shell applies this filter in the session child after fork and before exec, while it
 * still holds CAP_SYS_ADMIN: then no_new_privs is not needed and the filter also holds for
 * everything started through setuid programs such as sudo (seccomp filters are inherited
 * across fork and execve and can never be removed).
 *
 * The filter is a DENYLIST for an interactive shell: the default action is ALLOW, and the
 * tables below list what is refused.  Read the tables, not the code:
 *
 *   sc_groups[]    syscall groups, sorted by group name; each has a help text, the profiles
 *                  that deny it, the errno returned, and a sorted list of syscall names.  A
 *                  name written "?name" may be absent on some architectures (it is skipped
 *                  where libseccomp knows it but it does not exist natively, e.g. iopl on
 *                  arm64); any other name must exist on the native architecture.
 *   sc_argrules[]  rules that look at one syscall argument, sorted by syscall name (rows of
 *                  one syscall keep their order); one comparison per row (libseccomp 2.5
 *                  refuses two comparisons on the same argument in one rule).
 *
 * Profiles: "baseline" (every session), "strict" (baseline plus more denials, for command
 * documents), "debug" (baseline with ptrace, process_vm_*, pidfd_getfd and perf_event_open
 * allowed, for hosts that want debugging in sessions).
 *
 * Architectures: only the native ABI is in the filter.  Any other audit arch (i386 through
 * int $0x80 on x86_64, arm32 on arm64) hits SCMP_FLTATR_ACT_BADARCH = KILL_PROCESS.  x32
 * shares the x86_64 audit arch token; because SCMP_ARCH_X32 is NOT added, libseccomp emits a
 * guard "nr >= __X32_SYSCALL_BIT (and nr != -1) -> bad arch action" in the x86_64 block, so
 * x32 system calls are killed too.  That guard does not show in the PFC text: the unit test
 * looks for it in the exported BPF, and the live test checks an x32 call dies of SIGSYS.
 *
 * personality: the issue asks to deny everything but PER_LINUX (0).  The query
 * personality(0xffffffff) is allowed (glibc truncates the argument to 32 bits; util-linux,
 * gdb and sanitizer runtimes query) with the action LOG (allowed, and audit-logged), because
 * an ALLOW rule equal to the default action is refused by libseccomp and two comparisons on
 * a0 in one rule are too.  The debug profile also lets ADDR_NO_RANDOMIZE through (gdb's
 * "disable-randomization").  Any value with bits above 32 set is denied.
 *
 * Profiles do not inherit from one another in code: each row names every profile that denies
 * it.  "strict" and "debug" are "baseline plus/minus" by convention only, so a new baseline
 * denial is written SCP_ALL (or SCP_B | SCP_S when debugging needs the call), and
 * tests/test_seccomp_table checks that strict denies everything baseline denies.
 *
 * Denials are logged through the kernel (SCMP_FLTATR_CTL_LOG, API level >= 3); the filter
 * needs API level >= 3 (Linux 4.14: KILL_PROCESS and LOG actions).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* lib/config.h shadows the autoheader config.h here */
#endif
#include <errno.h>
#include <seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/sched.h>

#include "log.h"
#include "seccomp_policy.h"

/* Profile bits. */
#define SCP_B 0x1u /* baseline */
#define SCP_S 0x2u /* strict */
#define SCP_D 0x4u /* debug */
#define SCP_ALL (SCP_B | SCP_S | SCP_D)

#define SC_EPERM SCMP_ACT_ERRNO(EPERM)
#define SC_ENOSYS SCMP_ACT_ERRNO(ENOSYS)

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif

struct sc_profile {
	const char *name;
	unsigned bit;
	const char *help;
};

static const struct sc_profile sc_profiles[] = {
    {"baseline", SCP_B, "every interactive session"},
    {"debug", SCP_D, "baseline, but debugging allowed (ptrace, process_vm_*, perf_event_open)"},
    {"strict", SCP_S,
     "baseline plus clock, host name, chroot, accounting, quota, syslog, "
     "raw I/O and unshare: for command documents"},
};

struct sc_group {
	const char *name;
	const char *help;
	unsigned profiles;        /* profiles that deny the group */
	uint32_t action;          /* SC_EPERM or SC_ENOSYS */
	const char *const *calls; /* sorted, NULL-terminated; "?name": may be absent */
};

#define CALLS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Sorted by name.  Checked by ssm_seccomp_table_check() and tests/test_seccomp_table. */
static const struct sc_group sc_groups[] = {
    {"acct", "process accounting to a file of the caller's choice", SCP_S, SC_EPERM, CALLS("acct")},
    {"bpf", "eBPF programs and maps: kernel attack surface, tracing of other processes", SCP_ALL,
     SC_EPERM, CALLS("bpf")},
    {"chroot", "changing the root directory", SCP_S, SC_EPERM, CALLS("chroot")},
    {"clock", "setting the system clock", SCP_S, SC_EPERM,
     CALLS("adjtimex", "clock_adjtime", "clock_settime", "settimeofday")},
    {"clone3",
     "clone3 passes its flags in memory, where seccomp cannot look: ENOSYS makes "
     "glibc fall back to clone, whose flags are filtered (sc_argrules)",
     SCP_ALL, SC_ENOSYS, CALLS("clone3")},
    {"hostname", "setting the host and NIS domain name", SCP_S, SC_EPERM,
     CALLS("setdomainname", "sethostname")},
    {"io_uring", "io_uring: a second system call interface that seccomp does not see", SCP_ALL,
     SC_EPERM, CALLS("io_uring_enter", "io_uring_register", "io_uring_setup")},
    {"kexec", "loading a new kernel", SCP_ALL, SC_EPERM, CALLS("kexec_file_load", "kexec_load")},
    {"keyring",
     "kernel key management (keyctl family): shared keyrings, kernel attack "
     "surface",
     SCP_ALL, SC_EPERM, CALLS("add_key", "keyctl", "request_key")},
    {"ldt",
     "modify_ldt, x86 local descriptor tables: a source of kernel exploits (the 2015 "
     "espfix64/NMI bugs, CVE-2017-17053) needed only by 16-bit code under Wine or "
     "DOSEMU; x86 only",
     SCP_ALL, SC_EPERM, CALLS("?modify_ldt")},
    {"module", "loading and unloading kernel modules", SCP_ALL, SC_EPERM,
     CALLS("delete_module", "finit_module", "init_module")},
    {"mount", "mounting, unmounting and the new mount API", SCP_ALL, SC_EPERM,
     CALLS("fsconfig", "fsmount", "fsopen", "fspick", "mount", "mount_setattr", "move_mount",
           "open_tree", "pivot_root", "?umount", "umount2")},
    {"namespace", "joining namespaces (creation: clone/unshare rules in sc_argrules)", SCP_ALL,
     SC_EPERM, CALLS("setns")},
    {"open_by_handle", "opening files by handle bypasses path permission checks", SCP_ALL, SC_EPERM,
     CALLS("open_by_handle_at")},
    {"perf", "performance counters: side channels, kernel attack surface", SCP_B | SCP_S, SC_EPERM,
     CALLS("perf_event_open")},
    {"ptrace", "tracing and reading or writing other processes' memory", SCP_B | SCP_S, SC_EPERM,
     CALLS("pidfd_getfd", "process_vm_readv", "process_vm_writev", "ptrace")},
    {"quotactl", "disk quota administration", SCP_S, SC_EPERM, CALLS("quotactl", "quotactl_fd")},
    {"raw_io", "direct port I/O (x86 only)", SCP_S, SC_EPERM, CALLS("?ioperm", "?iopl")},
    {"reboot", "reboot, halt, power off, Ctrl-Alt-Del behaviour", SCP_ALL, SC_EPERM,
     CALLS("reboot")},
    {"swap", "enabling and disabling swap", SCP_ALL, SC_EPERM, CALLS("swapoff", "swapon")},
    {"syslog", "reading and clearing the kernel log buffer (dmesg)", SCP_S, SC_EPERM,
     CALLS("syslog")},
    {"unshare", "unshare with any flags (baseline only refuses CLONE_NEW* flags)", SCP_S, SC_EPERM,
     CALLS("unshare")},
    {"userfaultfd", "user fault handling: a classic kernel exploitation aid", SCP_ALL, SC_EPERM,
     CALLS("userfaultfd")},
};

struct sc_argrule {
	const char *syscall;
	const char *help;
	unsigned profiles;
	uint32_t action;
	struct scmp_arg_cmp cmp; /* exactly one comparison */
};

/* (arg & bit) == bit: the flag is set */
#define FLAG_SET(argno, bit)                                                                       \
	{                                                                                          \
		.arg = (argno), .op = SCMP_CMP_MASKED_EQ, .datum_a = (bit), .datum_b = (bit)       \
	}
/* (arg & 0xffffffff) == v: the kernel looks at ioctl's unsigned int cmd only */
#define LOW32_EQ(argno, v)                                                                         \
	{                                                                                          \
		.arg = (argno), .op = SCMP_CMP_MASKED_EQ, .datum_a = 0xffffffffu, .datum_b = (v)   \
	}
#define ARG_EQ(argno, v)                                                                           \
	{                                                                                          \
		.arg = (argno), .op = SCMP_CMP_EQ, .datum_a = (v)                                  \
	}
#define ARG_NE(argno, v)                                                                           \
	{                                                                                          \
		.arg = (argno), .op = SCMP_CMP_NE, .datum_a = (v)                                  \
	}

/* Sorted by syscall; rows of one syscall keep their order.  clone's flags are argument 0 on
 * x86_64 and arm64 (s390 swaps them: not supported).  For clone the low byte is the exit
 * signal, so CLONE_NEWTIME (0x80, valid for unshare and clone3 only) is not tested there. */
static const struct sc_argrule sc_argrules[] = {
    {"clone", "new cgroup namespace", SCP_ALL, SC_EPERM, FLAG_SET(0, CLONE_NEWCGROUP)},
    {"clone", "new IPC namespace", SCP_ALL, SC_EPERM, FLAG_SET(0, CLONE_NEWIPC)},
    {"clone", "new network namespace", SCP_ALL, SC_EPERM, FLAG_SET(0, CLONE_NEWNET)},
    {"clone", "new mount namespace", SCP_ALL, SC_EPERM, FLAG_SET(0, CLONE_NEWNS)},
    {"clone", "new PID namespace", SCP_ALL, SC_EPERM, FLAG_SET(0, CLONE_NEWPID)},
    {"clone", "new user namespace", SCP_ALL, SC_EPERM, FLAG_SET(0, CLONE_NEWUSER)},
    {"clone", "new UTS namespace", SCP_ALL, SC_EPERM, FLAG_SET(0, CLONE_NEWUTS)},
    {"ioctl", "TIOCLINUX: console selection paste and other console tricks", SCP_ALL, SC_EPERM,
     LOW32_EQ(1, TIOCLINUX)},
    {"ioctl",
     "TIOCSETD: changing a terminal's line discipline loads ldisc modules (n_gsm, n_hdlc, "
     "...: kernel attack surface with a history of use-after-free bugs, e.g. "
     "CVE-2017-2636, CVE-2023-6546); sessions keep N_TTY",
     SCP_ALL, SC_EPERM, LOW32_EQ(1, TIOCSETD)},
    {"ioctl", "TIOCSTI: pushing input into a terminal's queue (terminal hijacking)", SCP_ALL,
     SC_EPERM, LOW32_EQ(1, TIOCSTI)},
    {"personality", "query (0xffffffff): allowed, logged", SCP_ALL, SCMP_ACT_LOG,
     ARG_EQ(0, 0xffffffffu)},
    {"personality", "ADDR_NO_RANDOMIZE for debuggers: allowed, logged", SCP_D, SCMP_ACT_LOG,
     ARG_EQ(0, ADDR_NO_RANDOMIZE)},
    {"personality", "anything but PER_LINUX (and the rows above)", SCP_ALL, SC_EPERM,
     ARG_NE(0, PER_LINUX)},
    {"unshare", "new cgroup namespace", SCP_B | SCP_D, SC_EPERM, FLAG_SET(0, CLONE_NEWCGROUP)},
    {"unshare", "new IPC namespace", SCP_B | SCP_D, SC_EPERM, FLAG_SET(0, CLONE_NEWIPC)},
    {"unshare", "new network namespace", SCP_B | SCP_D, SC_EPERM, FLAG_SET(0, CLONE_NEWNET)},
    {"unshare", "new mount namespace", SCP_B | SCP_D, SC_EPERM, FLAG_SET(0, CLONE_NEWNS)},
    {"unshare", "new PID namespace", SCP_B | SCP_D, SC_EPERM, FLAG_SET(0, CLONE_NEWPID)},
    {"unshare", "new time namespace", SCP_B | SCP_D, SC_EPERM, FLAG_SET(0, CLONE_NEWTIME)},
    {"unshare", "new user namespace", SCP_B | SCP_D, SC_EPERM, FLAG_SET(0, CLONE_NEWUSER)},
    {"unshare", "new UTS namespace", SCP_B | SCP_D, SC_EPERM, FLAG_SET(0, CLONE_NEWUTS)},
};

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct sc_profile *profile_find(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < N_ELEM(sc_profiles); i++)
		if (strcmp(sc_profiles[i].name, name) == 0)
			return &sc_profiles[i];
	return NULL;
}

int ssm_seccomp_profile_valid(const char *profile)
{
	return profile_find(profile) != NULL;
}

/* Resolve a table name on the native arch.  Returns the number, SC_ABSENT for an optional
 * ("?") name libseccomp knows but that does not exist natively, or SC_UNKNOWN. */
#define SC_ABSENT (-1)
#define SC_UNKNOWN (-2)
static int resolve(const char *name)
{
	int optional = name[0] == '?';
	int nr;

	nr = seccomp_syscall_resolve_name(name + optional);
	if (nr == __NR_SCMP_ERROR)
		return SC_UNKNOWN;
	if (nr < 0)
		return optional ? SC_ABSENT : SC_UNKNOWN;
	return nr;
}

static const char *action_name(uint32_t action)
{
	if (action == SC_EPERM)
		return "EPERM";
	if (action == SC_ENOSYS)
		return "ENOSYS";
	if (action == SCMP_ACT_LOG)
		return "LOG";
	return NULL;
}

/* Strip the "?" marker for comparisons. */
static const char *bare(const char *name)
{
	return name[0] == '?' ? name + 1 : name;
}

/* Does group g list syscall `name`?  For the overlap check. */
static int group_has(const struct sc_group *g, const char *name)
{
	size_t j;

	for (j = 0; g->calls[j]; j++)
		if (strcmp(bare(g->calls[j]), name) == 0)
			return 1;
	return 0;
}

/* The self-check, on any tables (the unit test feeds it broken copies). */
static int check_tables(const struct sc_group *groups, size_t ngroups,
                        const struct sc_argrule *rules, size_t nrules)
{
	size_t i, j, k;
	int bad = 0;

	for (i = 0; i < ngroups; i++) {
		const struct sc_group *g = &groups[i];

		if (!g->name || !g->name[0]) {
			ssm_log(LOG_ERR, "seccomp table: group %zu has no name", i);
			bad++;
			continue;
		}
		if (i > 0 && groups[i - 1].name && strcmp(groups[i - 1].name, g->name) >= 0) {
			ssm_log(LOG_ERR, "seccomp table: group \"%s\" is not sorted after \"%s\"",
			        g->name, groups[i - 1].name);
			bad++;
		}
		if (!g->help || strlen(g->help) < 8) {
			ssm_log(LOG_ERR, "seccomp table: group \"%s\" has no help text", g->name);
			bad++;
		}
		if (!(g->profiles & SCP_ALL) || (g->profiles & ~SCP_ALL)) {
			ssm_log(LOG_ERR, "seccomp table: group \"%s\" has bad profiles", g->name);
			bad++;
		}
		if (g->action != SC_EPERM && g->action != SC_ENOSYS) {
			ssm_log(LOG_ERR,
			        "seccomp table: group \"%s\": action must be EPERM or ENOSYS",
			        g->name);
			bad++;
		}
		if (!g->calls || !g->calls[0]) {
			ssm_log(LOG_ERR, "seccomp table: group \"%s\" is empty", g->name);
			bad++;
			continue;
		}
		for (j = 0; g->calls[j]; j++) {
			const char *c = g->calls[j];

			if (j > 0 && strcmp(bare(g->calls[j - 1]), bare(c)) >= 0) {
				ssm_log(LOG_ERR,
				        "seccomp table: group \"%s\": \"%s\" is not sorted "
				        "after \"%s\"",
				        g->name, c, g->calls[j - 1]);
				bad++;
			}
			if (resolve(c) == SC_UNKNOWN) {
				ssm_log(LOG_ERR,
				        "seccomp table: group \"%s\": unknown system call "
				        "\"%s\" on this architecture (mark it \"?%s\" if it "
				        "may be absent)",
				        g->name, c, bare(c));
				bad++;
			}
			/* A syscall may be denied by one group per profile and must not also
			 * carry argument rules in that profile. */
			for (k = i + 1; k < ngroups; k++)
				if ((groups[k].profiles & g->profiles) && groups[k].calls &&
				    group_has(&groups[k], bare(c))) {
					ssm_log(LOG_ERR,
					        "seccomp table: \"%s\" is in groups \"%s\" "
					        "and \"%s\" of one profile",
					        bare(c), g->name, groups[k].name);
					bad++;
				}
			for (k = 0; k < nrules; k++)
				if ((rules[k].profiles & g->profiles) && rules[k].syscall &&
				    strcmp(rules[k].syscall, bare(c)) == 0) {
					ssm_log(LOG_ERR,
					        "seccomp table: \"%s\" is in group \"%s\" and "
					        "has argument rules in the same profile",
					        bare(c), g->name);
					bad++;
				}
		}
	}

	/* strict is baseline plus more: whatever baseline denies, strict denies too (by a group
	 * of its own, or by the same argument rule) */
	for (i = 0; i < ngroups; i++)
		if ((groups[i].profiles & SCP_B) && !(groups[i].profiles & SCP_S) &&
		    groups[i].name) {
			ssm_log(LOG_ERR,
			        "seccomp table: group \"%s\" is denied in baseline but not in "
			        "strict",
			        groups[i].name);
			bad++;
		}
	for (i = 0; i < nrules; i++) {
		const struct sc_argrule *r = &rules[i];
		int covered = 0;

		if (!(r->profiles & SCP_B) || (r->profiles & SCP_S) || r->action == SCMP_ACT_LOG ||
		    !r->syscall)
			continue;
		for (k = 0; k < ngroups; k++)
			if ((groups[k].profiles & SCP_S) && groups[k].calls &&
			    group_has(&groups[k], r->syscall))
				covered = 1;
		if (!covered) {
			ssm_log(LOG_ERR,
			        "seccomp table: argument rule %zu (%s: %s) is in baseline but not "
			        "in strict",
			        i, r->syscall, r->help ? r->help : "");
			bad++;
		}
	}

	for (i = 0; i < nrules; i++) {
		const struct sc_argrule *r = &rules[i];

		if (!r->syscall || resolve(r->syscall) < 0) {
			ssm_log(LOG_ERR,
			        "seccomp table: argument rule %zu: unknown system call \"%s\"", i,
			        r->syscall ? r->syscall : "(null)");
			bad++;
			continue;
		}
		if (i > 0 && rules[i - 1].syscall && strcmp(rules[i - 1].syscall, r->syscall) > 0) {
			ssm_log(LOG_ERR,
			        "seccomp table: argument rule \"%s\" is not sorted after "
			        "\"%s\"",
			        r->syscall, rules[i - 1].syscall);
			bad++;
		}
		if (!r->help || strlen(r->help) < 8) {
			ssm_log(LOG_ERR, "seccomp table: argument rule %zu (%s) has no help text",
			        i, r->syscall);
			bad++;
		}
		if (!(r->profiles & SCP_ALL) || (r->profiles & ~SCP_ALL) ||
		    !action_name(r->action) || r->cmp.arg > 5) {
			ssm_log(LOG_ERR, "seccomp table: argument rule %zu (%s) is malformed", i,
			        r->syscall);
			bad++;
		}
	}
	return bad ? -EINVAL : 0;
}

int ssm_seccomp_table_check(void)
{
	return check_tables(sc_groups, N_ELEM(sc_groups), sc_argrules, N_ELEM(sc_argrules));
}

/* Build (not load) the filter of a profile.  nnp: value of SCMP_FLTATR_CTL_NNP. */
static int build(const char *profile, int nnp, scmp_filter_ctx *pctx)
{
	const struct sc_profile *p = profile_find(profile);
	scmp_filter_ctx ctx = NULL;
	const struct scmp_version *v;
	char esc[SSM_LOG_ESCAPE_BUFSZ];
	size_t i, j;
	int r, nr;

	*pctx = NULL;
	if (!p) {
		ssm_log(LOG_ERR, "seccomp: unknown profile \"%s\"",
		        ssm_log_escape(profile ? profile : "(null)", esc, sizeof(esc)));
		return -EINVAL;
	}
	if (seccomp_api_get() < 3) {
		v = seccomp_version();
		ssm_log(LOG_ERR,
		        "seccomp: kernel or libseccomp %u.%u.%u too old (API level %u, "
		        "need 3: Linux >= 4.14)",
		        v->major, v->minor, v->micro, seccomp_api_get());
		return -EOPNOTSUPP;
	}
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		ssm_log(LOG_ERR, "seccomp: seccomp_init failed");
		return -ENOMEM;
	}
	/* Only the native ABI is in the filter: anything else is killed (see the top). */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, nnp ? 1 : 0);
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	if (r < 0) {
		ssm_log(LOG_ERR, "seccomp: setting filter attributes: %s", strerror(-r));
		goto out;
	}

	for (i = 0; i < N_ELEM(sc_groups); i++) {
		const struct sc_group *g = &sc_groups[i];

		if (!(g->profiles & p->bit))
			continue;
		for (j = 0; g->calls[j]; j++) {
			nr = resolve(g->calls[j]);
			if (nr == SC_ABSENT)
				continue;
			if (nr < 0) {
				ssm_log(LOG_ERR, "seccomp: group %s: unknown system call %s",
				        g->name, g->calls[j]);
				r = -EINVAL;
				goto out;
			}
			r = seccomp_rule_add_exact(ctx, g->action, nr, 0);
			if (r < 0) {
				ssm_log(LOG_ERR, "seccomp: group %s: adding %s: %s", g->name,
				        g->calls[j], strerror(-r));
				goto out;
			}
		}
	}
	for (i = 0; i < N_ELEM(sc_argrules); i++) {
		const struct sc_argrule *a = &sc_argrules[i];

		if (!(a->profiles & p->bit))
			continue;
		nr = resolve(a->syscall);
		if (nr < 0) {
			ssm_log(LOG_ERR, "seccomp: unknown system call %s", a->syscall);
			r = -EINVAL;
			goto out;
		}
		r = seccomp_rule_add_exact(ctx, a->action, nr, 1, a->cmp);
		if (r < 0) {
			ssm_log(LOG_ERR, "seccomp: adding %s rule (%s): %s", a->syscall, a->help,
			        strerror(-r));
			goto out;
		}
	}
	*pctx = ctx;
	ctx = NULL;
	r = 0;
out:
	if (ctx)
		seccomp_release(ctx);
	return r;
}

/* Is CAP_SYS_ADMIN in the effective set?  (Loading a filter without no_new_privs needs it
 * in the current user namespace.) */
static int have_cap_sys_admin(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) != 0)
		return 0;
	return (data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective & CAP_TO_MASK(CAP_SYS_ADMIN)) != 0;
}

int ssm_seccomp_apply(const char *profile, int no_new_privs)
{
	scmp_filter_ctx ctx = NULL;
	int r;

	if (!no_new_privs && !have_cap_sys_admin()) {
		ssm_log(LOG_ERR, "seccomp: loading the filter without no_new_privs needs "
		                 "CAP_SYS_ADMIN (apply it before dropping privileges, or set "
		                 "no_new_privs)");
		return -EPERM;
	}
	r = build(profile, no_new_privs, &ctx);
	if (r < 0)
		return r;
	r = seccomp_load(ctx);
	if (r == -EACCES)
		r = -EPERM;
	if (r < 0)
		ssm_log(LOG_ERR, "seccomp: loading the %s filter: %s", profile, strerror(-r));
	seccomp_release(ctx);
	return r;
}

int ssm_seccomp_export_pfc(const char *profile, int fd)
{
	scmp_filter_ctx ctx = NULL;
	int r;

	if (fd < 0)
		return -EBADF;
	r = build(profile, 1, &ctx);
	if (r < 0)
		return r;
	r = seccomp_export_pfc(ctx, fd);
	if (r < 0)
		ssm_log(LOG_ERR, "seccomp: exporting the %s filter: %s", profile, strerror(-r));
	seccomp_release(ctx);
	return r;
}

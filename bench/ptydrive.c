/* ptydrive.c - benchmark driver: run a command on a new pty whose master is read as fast as
 * possible, as sshd would, and measure it.  Not a test: bench/shell_bench.sh runs it.
 *
 *   ptydrive [-p PREP] [-u USER] [-m] [-T SECONDS] MODE [MODE OPTIONS] -- CMD [ARG...]
 *
 *   Every session is a "login process" on the new pty (sshd's session process) that runs
 *   PREP if given, forks CMD, moves its own descriptors off the pty and waits for CMD: the
 *   figures are CMD's alone (its wait4 rusage, exec to exit times taken in the processes).
 *   -p PREP   run `sh -c PREP` in the login process first (PTYDRIVE_PID is its pid), e.g.
 *             to write the session record that pam_ssmsession would
 *   -M FILE   with -m: also copy the relay's /proc/PID/smaps at its exit stop to FILE
 *   -u USER   run CMD as USER (initgroups, setresgid, setresuid; CMD may be setuid)
 *   -m        peak memory (VmHWM) of the process that execs CMD (the relay, for script,
 *             tlog-rec and ssm-shell): read at its exit through a PTRACE_O_TRACEEXIT
 *             stop (no other ptrace stops are asked for), and polled every 5 ms as a check
 *   -T SEC    give up (SIGKILL the session's process group) after SEC seconds (default 600)
 *
 * Modes (output: key=value lines on standard output):
 *   run [-r N]     N runs one after another: bytes, wall time from exec to the end (the
 *                  command exited and the outer pty gave EIO), CPU of the command and its waited-
 *                  for descendants (wait4), VmHWM; then medians
 *   echo [-n N] -- CMD [--- CMD2 ...]
 *                  each CMD prints READY once the terminal is raw and echoing (typically
 *                  `stty raw -echo; echo READY; exec cat`); then N rounds (after 50 not
 *                  counted) of one byte written to each session's master and read back, the
 *                  sessions taking turns: median, p99 per session
 *   idle -n N -s S [-t TIMEOUT]
 *                  N sessions at once; once all printed something and 2 s passed, the CPU
 *                  time (utime+stime) and context switches of every process below this one
 *                  over S seconds; with -t, then wait for each session to end by itself and
 *                  report how late after exec+TIMEOUT it ended; without, hang up all.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pty.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ (64 * 1024)

struct msg {
	int kind; /* 1: the pid that execs CMD; 2: its end */
	pid_t pid;
	int status;
	uint64_t t_end;           /* CLOCK_MONOTONIC when wait4 returned */
	struct rusage ru;
};

struct sess {
	pid_t child, relay;
	int master, info, execfd;
	int eio, exited, info_done, traced, exec_failed;
	int status;
	struct rusage ru;
	uint64_t t_fork, t_exec, t_exit, t_eio;
	uint64_t t_relay_end;     /* the login process saw CMD end */
	unsigned char exbuf[16];  /* from the exec pipe: timestamp [+ errno] */
	size_t exlen;
	uint64_t bytes;
	long hwm_exit_kb, hwm_poll_kb;
	long anon_kb, file_kb; /* RssAnon, RssFile at the exit stop */
	unsigned long minflt;  /* the relay's own minor page faults, at the exit stop */
	char tail[64];
	size_t taillen;
};

static const char *opt_prep;
static const char *opt_user;
static int opt_mem;
static int opt_timeout = 600;
static const char *opt_smaps; /* -M FILE: the relay's /proc/PID/smaps at its exit stop */
static char **cmdv;         /* the command spawn() runs */
static char **cmds[16];     /* echo: several commands, separated by --- */
static int ncmds;
static int sfd = -1;
static struct sess *S;
static int nsess;
static char buf[BUFSZ];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "ptydrive: %s: %s\n", what, strerror(errno));
	exit(2);
}

static long status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

static unsigned long stat_minflt(pid_t pid)
{
	char path[64], line[1024], *p;
	unsigned long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(line, sizeof(line), f) && (p = strrchr(line, ')')))
		(void)sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %lu", &v);
	fclose(f);
	return v;
}

static void copy_smaps(pid_t pid)
{
	char path[64];
	FILE *in, *out;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	in = fopen(path, "r");
	out = fopen(opt_smaps, "w");
	if (in && out)
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, out);
	if (in)
		fclose(in);
	if (out)
		fclose(out);
}

static void exec_cmd(int go, int ex)
{
	char c;
	int e;

	if (opt_user) {
		struct passwd *pw = getpwnam(opt_user);
		if (!pw || initgroups(pw->pw_name, pw->pw_gid) != 0 ||
		    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
			uint64_t z = 0;
			e = errno ? errno : ENOENT;
			(void)!write(ex, &z, sizeof(z));
			(void)!write(ex, &e, sizeof(e));
			_exit(127);
		}
	}
	uint64_t t;

	while (read(go, &c, 1) < 0 && errno == EINTR)
		;
	close(go);
	t = now_ns(); /* the clock starts at the exec */
	(void)!write(ex, &t, sizeof(t));
	execvp(cmdv[0], cmdv);
	e = errno;
	(void)!write(ex, &e, sizeof(e));
	_exit(127);
}

static void run_prep(void)
{
	char pidbuf[32];
	pid_t p;
	int st;

	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
	setenv("PTYDRIVE_PID", pidbuf, 1);
	p = fork();
	if (p == 0) {
		execl("/bin/sh", "sh", "-c", opt_prep, (char *)NULL);
		_exit(127);
	}
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	if (p < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		_exit(99);
}

static void spawn(struct sess *s, int cols, int rows)
{
	int info[2], ex[2], go[2];
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
	struct msg m;
	sigset_t none;
	pid_t pid;

	memset(s, 0, sizeof(*s));
	s->execfd = s->info = s->master = -1;
	if (pipe2(info, O_CLOEXEC) || pipe2(ex, O_CLOEXEC) || pipe2(go, O_CLOEXEC))
		die("pipe");
	s->t_fork = now_ns();
	pid = forkpty(&s->master, NULL, NULL, &ws);
	if (pid < 0)
		die("forkpty");
	if (pid == 0) {
		close(info[0]);
		close(ex[0]);
		close(go[1]);
		if (sfd >= 0)
			close(sfd);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		/* the login process (sshd's session process): PREP, then CMD below it */
		pid_t gc;
		int st, nul;
		if (opt_prep)
			run_prep();
		gc = fork();
		if (gc == 0) {
			close(info[1]);
			exec_cmd(go[0], ex[1]);
		}
		close(ex[1]);
		close(go[0]);
		signal(SIGHUP, SIG_IGN); /* we close the master at EIO: report CMD's end all the same */
		/* keep the terminal only through CMD: EIO comes when CMD's side closes it */
		nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		if (nul > 2)
			close(nul);
		memset(&m, 0, sizeof(m));
		m.kind = 1;
		m.pid = gc;
		(void)!write(info[1], &m, sizeof(m));
		while (wait4(gc, &st, 0, &m.ru) < 0 && errno == EINTR)
			;
		m.t_end = now_ns();
		m.kind = 2;
		m.status = st;
		(void)!write(info[1], &m, sizeof(m));
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
	s->child = pid;
	close(info[1]);
	close(ex[1]);
	close(go[0]);
	if (read(info[0], &m, sizeof(m)) != (ssize_t)sizeof(m) || m.kind != 1) {
		fprintf(stderr, "ptydrive: the login process failed (PREP?)\n");
		exit(2);
	}
	s->relay = m.pid;
	if (opt_mem) {
		if (ptrace(PTRACE_SEIZE, s->relay, 0, PTRACE_O_TRACEEXIT) == 0)
			s->traced = 1;
		else
			fprintf(stderr, "ptydrive: PTRACE_SEIZE: %s (VmHWM polled only)\n",
				strerror(errno));
	}
	(void)!write(go[1], "g", 1);
	close(go[1]);
	s->execfd = ex[0];
	s->info = info[0];
	fcntl(s->master, F_SETFL, fcntl(s->master, F_GETFL) | O_NONBLOCK);
	fcntl(s->master, F_SETFD, FD_CLOEXEC);
}

static struct sess *by_pid(pid_t p, int relay)
{
	int i;

	for (i = 0; i < nsess; i++)
		if (relay ? S[i].relay == p : S[i].child == p)
			return &S[i];
	return NULL;
}

static void reap(void)
{
	struct signalfd_siginfo si;
	struct rusage ru;
	struct sess *s;
	pid_t p;
	int st;

	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	while ((p = wait4(-1, &st, WNOHANG | __WALL, &ru)) > 0) {
		if (WIFSTOPPED(st)) {
			s = by_pid(p, 1);
			if ((st >> 8) == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
				if (s) {
					s->hwm_exit_kb = status_kb(p, "VmHWM");
					s->anon_kb = status_kb(p, "RssAnon");
					s->file_kb = status_kb(p, "RssFile");
					s->minflt = stat_minflt(p);
					if (opt_smaps)
						copy_smaps(p);
				}
				ptrace(PTRACE_DETACH, p, 0, 0);
			} else if ((st >> 16) == PTRACE_EVENT_STOP) {
				ptrace(PTRACE_CONT, p, 0, 0);
			} else {
				ptrace(PTRACE_CONT, p, 0, WSTOPSIG(st)); /* pass the signal on */
			}
			continue;
		}
		if (WIFCONTINUED(st))
			continue;
		s = by_pid(p, 0);
		if (s && !s->exited) {
			s->exited = 1;
			s->t_exit = now_ns();
			if (!s->info_done)
				s->status = st;
		}
		/* else: a traced relay that is not our child, seen as its tracer */
	}
}

static int sess_done(const struct sess *s)
{
	return s->exited && s->info_done && s->execfd < 0 &&
	       (s->eio || now_ns() - s->t_exit > 2000000000ULL);
}

static void read_master(struct sess *s)
{
	ssize_t n;

	for (;;) {
		n = read(s->master, buf, sizeof(buf));
		if (n > 0) {
			size_t k = (size_t)n < sizeof(s->tail) - 1 ? (size_t)n : sizeof(s->tail) - 1;
			s->bytes += (uint64_t)n;
			if (s->taillen + k >= sizeof(s->tail)) {
				size_t drop = s->taillen + k - (sizeof(s->tail) - 1);
				memmove(s->tail, s->tail + drop, s->taillen - drop);
				s->taillen -= drop;
			}
			memcpy(s->tail + s->taillen, buf + n - k, k);
			s->taillen += k;
			s->tail[s->taillen] = '\0';
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		s->eio = 1; /* EIO: no slave left */
		s->t_eio = now_ns();
		close(s->master);
		s->master = -1;
		return;
	}
}

/* One round of poll over every session's descriptors and the signalfd. */
static void service(int timeout_ms)
{
	static struct pollfd *pfd;
	static int *who, cap;
	int nf = 0, i, k;
	struct msg m;

	if (cap < 1 + 3 * nsess) {
		cap = 1 + 3 * nsess;
		pfd = realloc(pfd, sizeof(*pfd) * (size_t)cap);
		who = realloc(who, sizeof(*who) * (size_t)cap);
		if (!pfd || !who)
			die("realloc");
	}
	pfd[nf].fd = sfd;
	pfd[nf].events = POLLIN;
	who[nf++] = -1;
	for (i = 0; i < nsess; i++) {
		struct sess *s = &S[i];
		if (s->master >= 0) {
			pfd[nf].fd = s->master;
			pfd[nf].events = POLLIN;
			who[nf++] = i * 3;
		}
		if (s->info >= 0) {
			pfd[nf].fd = s->info;
			pfd[nf].events = POLLIN;
			who[nf++] = i * 3 + 1;
		}
		if (s->execfd >= 0) {
			pfd[nf].fd = s->execfd;
			pfd[nf].events = POLLIN;
			who[nf++] = i * 3 + 2;
		}
	}
	if (poll(pfd, (nfds_t)nf, timeout_ms) < 0 && errno != EINTR)
		die("poll");
	for (k = 0; k < nf; k++) {
		struct sess *s;
		if (!pfd[k].revents)
			continue;
		if (who[k] < 0) {
			reap();
			continue;
		}
		s = &S[who[k] / 3];
		switch (who[k] % 3) {
		case 0:
			read_master(s);
			break;
		case 1:
			if (read(s->info, &m, sizeof(m)) == (ssize_t)sizeof(m) && m.kind == 2) {
				s->ru = m.ru;
				s->status = m.status;
				s->t_relay_end = m.t_end;
			}
			close(s->info);
			s->info = -1;
			s->info_done = 1;
			break;
		case 2: {
			ssize_t n = read(s->execfd, s->exbuf + s->exlen, sizeof(s->exbuf) - s->exlen);
			if (n > 0) {
				s->exlen += (size_t)n;
				break;
			}
			if (s->exlen >= sizeof(uint64_t))
				memcpy(&s->t_exec, s->exbuf, sizeof(uint64_t));
			if (s->exlen != sizeof(uint64_t) || s->t_exec == 0) {
				int e = 0;
				if (s->exlen >= sizeof(uint64_t) + sizeof(int))
					memcpy(&e, s->exbuf + sizeof(uint64_t), sizeof(int));
				s->exec_failed = 1;
				s->t_exec = now_ns();
				fprintf(stderr, "ptydrive: cannot run %s: %s\n", cmdv[0], strerror(e));
			}
			close(s->execfd);
			s->execfd = -1;
			break;
		}
		}
	}
	if (opt_mem) {
		for (i = 0; i < nsess; i++) {
			long v;
			if (S[i].exited || S[i].relay <= 0)
				continue;
			v = status_kb(S[i].relay, "VmHWM");
			if (v > S[i].hwm_poll_kb)
				S[i].hwm_poll_kb = v;
		}
	}
}

static void finish_all(uint64_t deadline)
{
	int i, left;

	for (;;) {
		left = 0;
		for (i = 0; i < nsess; i++)
			left += !sess_done(&S[i]);
		if (!left)
			return;
		if (now_ns() > deadline) {
			for (i = 0; i < nsess; i++)
				if (!S[i].exited) {
					fprintf(stderr, "ptydrive: session %d did not end: killed\n", i);
					kill(-S[i].child, SIGKILL);
					kill(S[i].child, SIGKILL);
				}
			deadline = now_ns() + 5000000000ULL;
			for (i = 0; i < nsess; i++)
				S[i].eio = 1;
		}
		service(opt_mem ? 5 : 100);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static double tv_ms(struct timeval tv)
{
	return (double)tv.tv_sec * 1e3 + (double)tv.tv_usec / 1e3;
}

static uint64_t pct(const uint64_t *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);

	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static int mode_run(int runs)
{
	uint64_t *wall = calloc((size_t)runs, sizeof(*wall));
	uint64_t *cpu = calloc((size_t)runs, sizeof(*cpu));
	uint64_t *mibs = calloc((size_t)runs, sizeof(*mibs));
	long hwm_max = 0;
	int r, bad = 0;

	S = calloc(1, sizeof(*S));
	nsess = 1;
	for (r = 0; r < runs; r++) {
		struct sess *s = &S[0];
		uint64_t end;
		long hwm;
		spawn(s, 80, 24);
		finish_all(now_ns() + (uint64_t)opt_timeout * 1000000000ULL);
		end = s->t_relay_end > s->t_eio ? s->t_relay_end : s->t_eio;
		wall[r] = end - s->t_exec;
		cpu[r] = (uint64_t)((tv_ms(s->ru.ru_utime) + tv_ms(s->ru.ru_stime)) * 1e3);
		mibs[r] = (uint64_t)((double)s->bytes / 1048576.0 / ((double)wall[r] / 1e9) * 1000);
		hwm = s->hwm_exit_kb > s->hwm_poll_kb ? s->hwm_exit_kb : s->hwm_poll_kb;
		if (hwm > hwm_max)
			hwm_max = hwm;
		if (s->exec_failed || !WIFEXITED(s->status) || WEXITSTATUS(s->status) != 0)
			bad++;
		printf("run=%d bytes=%llu wall_ms=%.3f user_ms=%.1f sys_ms=%.1f mib_s=%.2f "
		       "hwm_exit_kb=%ld hwm_poll_kb=%ld anon_kb=%ld file_kb=%ld relay_minflt=%lu maxrss_tree_kb=%ld "
		       "prep_ms=%.2f status=%d\n",
		       r, (unsigned long long)s->bytes, ms(wall[r]), tv_ms(s->ru.ru_utime),
		       tv_ms(s->ru.ru_stime), (double)mibs[r] / 1000, s->hwm_exit_kb,
		       s->hwm_poll_kb, s->anon_kb, s->file_kb, s->minflt, s->ru.ru_maxrss, ms(s->t_exec - s->t_fork),
		       WIFEXITED(s->status) ? WEXITSTATUS(s->status) : 128 + WTERMSIG(s->status));
		fflush(stdout);
	}
	qsort(wall, (size_t)runs, sizeof(*wall), cmp_u64);
	qsort(cpu, (size_t)runs, sizeof(*cpu), cmp_u64);
	qsort(mibs, (size_t)runs, sizeof(*mibs), cmp_u64);
	printf("runs=%d\nfailed=%d\nwall_ms_median=%.3f\nwall_ms_min=%.3f\nwall_ms_p90=%.3f\n"
	       "cpu_ms_median=%.2f\nmib_s_median=%.2f\nhwm_kb_max=%ld\n",
	       runs, bad, ms(pct(wall, runs, 0.5)), ms(wall[0]), ms(pct(wall, runs, 0.9)),
	       (double)pct(cpu, runs, 0.5) / 1e3, (double)pct(mibs, runs, 0.5) / 1000, hwm_max);
	return bad ? 1 : 0;
}

/* One byte written to session k's master until it comes back: ns, or 0 on failure. */
static uint64_t round_trip(struct sess *s, char c)
{
	uint64_t t0 = now_ns();
	struct pollfd p;
	int got = 0;

	if (write(s->master, &c, 1) != 1)
		return 0;
	while (!got) {
		ssize_t k, j;
		p.fd = s->master;
		p.events = POLLIN;
		if (poll(&p, 1, 2000) <= 0)
			return 0;
		k = read(s->master, buf, sizeof(buf));
		if (k <= 0) {
			if (k < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			return 0;
		}
		for (j = 0; j < k; j++)
			if (buf[j] == c)
				got = 1;
	}
	return now_ns() - t0;
}

/* All commands at once; round i does one round trip in each session in turn (starting
 * with a different one every round), so that every variant sees the same moments of the
 * machine's other load. */
static int mode_echo(int n)
{
	const int warm = 50;
	uint64_t **lat, deadline;
	struct pollfd p;
	int i, k, ready;

	S = calloc((size_t)ncmds, sizeof(*S));
	lat = calloc((size_t)ncmds, sizeof(*lat));
	for (k = 0; k < ncmds; k++) {
		lat[k] = calloc((size_t)(n + warm), sizeof(**lat));
		cmdv = cmds[k];
		nsess = k + 1;
		spawn(&S[k], 80, 24);
	}
	deadline = now_ns() + 30000000000ULL;
	do {
		for (ready = 1, k = 0; k < ncmds; k++) {
			if (strstr(S[k].tail, "READY"))
				continue;
			ready = 0;
			if (now_ns() > deadline || S[k].eio || S[k].exited) {
				fprintf(stderr, "ptydrive: no READY from %s (got \"%s\")\n", cmds[k][0],
					S[k].tail);
				for (k = 0; k < ncmds; k++)
					kill(-S[k].child, SIGKILL);
				return 1;
			}
		}
		if (!ready)
			service(100);
	} while (!ready);
	/* let the rest of the lines go by */
	for (k = 0; k < ncmds; k++) {
		do {
			p.fd = S[k].master;
			p.events = POLLIN;
			if (poll(&p, 1, 200) <= 0)
				break;
			read_master(&S[k]);
		} while (S[k].master >= 0);
	}
	for (i = 0; i < n + warm; i++) {
		for (int j = 0; j < ncmds; j++) {
			k = (i + j) % ncmds;
			lat[k][i] = round_trip(&S[k], (char)('a' + i % 26));
			if (lat[k][i] == 0) {
				fprintf(stderr, "ptydrive: no echo from %s in round %d\n", cmds[k][0], i);
				for (k = 0; k < ncmds; k++)
					kill(-S[k].child, SIGKILL);
				return 1;
			}
		}
	}
	for (k = 0; k < ncmds; k++) { /* hang up */
		close(S[k].master);
		S[k].master = -1;
		S[k].eio = 1;
	}
	finish_all(now_ns() + 10000000000ULL);
	for (k = 0; k < ncmds; k++) {
		uint64_t sum = 0, *l = lat[k] + warm;
		for (i = 0; i < n; i++)
			sum += l[i];
		qsort(l, (size_t)n, sizeof(*l), cmp_u64);
		printf("echo session=%d rounds=%d median_us=%.1f p99_us=%.1f mean_us=%.1f "
		       "min_us=%.1f max_us=%.1f\n",
		       k, n, (double)pct(l, n, 0.5) / 1e3, (double)pct(l, n, 0.99) / 1e3,
		       (double)sum / n / 1e3, (double)l[0] / 1e3, (double)l[n - 1] / 1e3);
	}
	return 0;
}

/* CPU ticks and context switches of every process below us (this pid namespace's /proc). */
struct tree {
	unsigned long long ticks, csw, relay_ticks, relay_csw;
	int procs;
};

static void tree_sample(struct tree *t)
{
	static pid_t *pids, *ppids;
	static int cap;
	int n = 0, i, changed;
	char *mark;
	DIR *d = opendir("/proc");
	struct dirent *de;

	memset(t, 0, sizeof(*t));
	if (!d)
		die("/proc");
	while ((de = readdir(d))) {
		char path[64], line[1024], *p;
		FILE *f;
		pid_t pid = (pid_t)strtol(de->d_name, &p, 10);
		if (*p || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f) && (p = strrchr(line, ')'))) {
			int pp;
			if (sscanf(p + 2, "%*c %d", &pp) == 1) {
				if (n == cap) {
					cap = cap ? 2 * cap : 1024;
					pids = realloc(pids, sizeof(*pids) * (size_t)cap);
					ppids = realloc(ppids, sizeof(*ppids) * (size_t)cap);
				}
				pids[n] = pid;
				ppids[n++] = pp;
			}
		}
		fclose(f);
	}
	closedir(d);
	mark = calloc((size_t)n + 1, 1);
	do { /* the descendants of this process */
		changed = 0;
		for (i = 0; i < n; i++) {
			int j;
			if (mark[i])
				continue;
			if (ppids[i] == getpid())
				mark[i] = changed = 1;
			for (j = 0; j < n && !mark[i]; j++)
				if (mark[j] && pids[j] == ppids[i])
					mark[i] = changed = 1;
		}
	} while (changed);
	for (i = 0; i < n; i++) {
		char path[64], line[1024], *p;
		unsigned long long ut = 0, st = 0;
		long vol, invol;
		FILE *f;
		if (!mark[i])
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pids[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f) && (p = strrchr(line, ')')))
			(void)sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				     &ut, &st);
		fclose(f);
		vol = status_kb(pids[i], "voluntary_ctxt_switches");
		invol = status_kb(pids[i], "nonvoluntary_ctxt_switches");
		t->ticks += ut + st;
		t->csw += (unsigned long long)(vol > 0 ? vol : 0) + (unsigned long long)(invol > 0 ? invol : 0);
		t->procs++;
		if (by_pid(pids[i], 1)) {
			t->relay_ticks += ut + st;
			t->relay_csw += (unsigned long long)(vol > 0 ? vol : 0) +
					(unsigned long long)(invol > 0 ? invol : 0);
		}
	}
	free(mark);
}

static int mode_idle(int n, int secs, int timeout)
{
	struct tree a, b;
	uint64_t deadline, t0, *late = NULL;
	long hz = sysconf(_SC_CLK_TCK);
	int i, all, early = 0, ontime = 0, ended = 0, m = 0;

	S = calloc((size_t)n, sizeof(*S));
	for (i = 0; i < n; i++) {
		nsess = i + 1;
		spawn(&S[i], 80, 24);
		service(0);
	}
	deadline = now_ns() + 30000000000ULL;
	do { /* everyone printed something (a prompt) */
		service(100);
		for (all = 1, i = 0; i < n; i++)
			if (S[i].bytes == 0 && !S[i].exited)
				all = 0;
	} while (!all && now_ns() < deadline);
	for (i = 0; i < n; i++)
		if (S[i].info_done || S[i].exec_failed) {
			fprintf(stderr, "ptydrive: session %d ended early (status %d)\n", i,
				S[i].status);
			m++;
		}
	t0 = now_ns();
	while (now_ns() - t0 < 2000000000ULL)
		service(100);
	tree_sample(&a);
	t0 = now_ns();
	while (now_ns() - t0 < (uint64_t)secs * 1000000000ULL)
		service(1000);
	tree_sample(&b);
	printf("idle_sessions=%d\nidle_failed=%d\nidle_procs=%d\nidle_seconds=%d\n"
	       "idle_cpu_ms=%.0f\nidle_csw=%llu\nidle_relay_cpu_ms=%.0f\nidle_relay_csw=%llu\n",
	       n, m, b.procs, secs, (double)(b.ticks - a.ticks) * 1000.0 / (double)hz,
	       b.csw - a.csw, (double)(b.relay_ticks - a.relay_ticks) * 1000.0 / (double)hz,
	       b.relay_csw - a.relay_csw);
	fflush(stdout);
	if (timeout > 0) {
		finish_all(now_ns() + (uint64_t)(timeout + 60) * 1000000000ULL);
		late = calloc((size_t)n, sizeof(*late));
		for (i = 0; i < n; i++) {
			int64_t l = (int64_t)(S[i].t_relay_end - S[i].t_exec) -
				    (int64_t)timeout * 1000000000LL;
			if (!S[i].exited || S[i].exec_failed)
				continue;
			ended++;
			if (l < 0)
				early++;
			else if (l <= 1000000000LL)
				ontime++;
			late[ended - 1] = (uint64_t)(l < 0 ? 0 : l);
		}
		qsort(late, (size_t)ended, sizeof(*late), cmp_u64);
		printf("timeout_s=%d\ntimeout_ended=%d\ntimeout_early=%d\ntimeout_within_1s=%d\n"
		       "late_ms_min=%.1f\nlate_ms_median=%.1f\nlate_ms_p99=%.1f\nlate_ms_max=%.1f\n",
		       timeout, ended, early, ontime, ended ? ms(late[0]) : -1,
		       ended ? ms(pct(late, ended, 0.5)) : -1, ended ? ms(pct(late, ended, 0.99)) : -1,
		       ended ? ms(late[ended - 1]) : -1);
	} else {
		for (i = 0; i < n; i++)
			if (S[i].master >= 0) {
				close(S[i].master); /* hang up */
				S[i].master = -1;
				S[i].eio = 1;
			}
		finish_all(now_ns() + 15000000000ULL);
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: ptydrive [-p PREP] [-u USER] [-m] [-T SEC] run [-r N] -- CMD...\n"
			"       ptydrive [...] echo [-n N] -- CMD... [--- CMD2...]\n"
			"       ptydrive [...] idle -n N -s SECONDS [-t TIMEOUT] -- CMD...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int n = 0, secs = 20, timeout = 0, runs = 1, i = 1;
	const char *mode;
	struct rlimit rl = { 8192, 8192 };
	sigset_t set;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
			opt_prep = argv[++i];
		else if (strcmp(argv[i], "-u") == 0 && i + 1 < argc)
			opt_user = argv[++i];
		else if (strcmp(argv[i], "-m") == 0)
			opt_mem = 1;
		else if (strcmp(argv[i], "-M") == 0 && i + 1 < argc)
			opt_smaps = argv[++i], opt_mem = 1;
		else if (strcmp(argv[i], "-T") == 0 && i + 1 < argc)
			opt_timeout = atoi(argv[++i]);
		else
			usage();
	}
	if (i >= argc)
		usage();
	mode = argv[i++];
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "-r") == 0)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "-n") == 0)
			n = atoi(argv[++i]);
		else if (strcmp(argv[i], "-s") == 0)
			secs = atoi(argv[++i]);
		else if (strcmp(argv[i], "-t") == 0)
			timeout = atoi(argv[++i]);
		else
			usage();
	}
	if (i + 1 >= argc)
		usage();
	cmdv = argv + i + 1;
	cmds[ncmds++] = cmdv;
	for (char **a = cmdv; *a; a++) {
		if (strcmp(*a, "---") == 0 && ncmds < 16) {
			*a = NULL;
			if (a[1] == NULL)
				usage();
			cmds[ncmds++] = a + 1;
		}
	}
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		die("signalfd");
	if (strcmp(mode, "run") == 0 && runs > 0)
		return mode_run(runs);
	if (strcmp(mode, "echo") == 0)
		return mode_echo(n > 0 ? n : 2000);
	if (strcmp(mode, "idle") == 0 && n > 0)
		return mode_idle(n, secs, timeout);
	usage();
	return 2;
}

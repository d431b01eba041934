/* asess_run - drive agent/session_priv.c as the agent would (tests/agent_session.sh).
 *
 * asess_run --user U --token-file F --sid S --document D [--term T --cols C --rows R]
 *           [--service NAME] [--rhost HOST] [--terminate-after-ms N] [--close-ctl-after-ms N]
 *           [--stdin-after TEXT]
 *
 * Starts the session with ssm_asess_start, relays standard input to the session and its
 * output to standard output, prints each control message on standard error ("ok PID",
 * "refused ...", "error ...", "exit HOW STATUS"), and exits with the session's status
 * (128 + signal when killed), 100 when refused, 101 on an error.  --stdin-after holds
 * standard input back until TEXT appeared in the session's output (a prompt: a terminal's
 * input typed before the shell took over the terminal would be lost in its vhangup).
 * --terminate-after-ms sends "terminate" N ms after "ok"; --close-ctl-after-ms closes the
 * control socket N ms after "ok" (as a dying agent would) and waits for the session parent.
 *
 * Run as a login shell (argv[0] "-..."), it is a probe instead: it prints what the session
 * child gave it (argv[0], ids, groups, descriptors, signals, umask, terminal, directory,
 * environment, loginuid, RLIMIT_NOFILE) and exits 0. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "../agent/session_priv.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(void)
{
	fprintf(stderr, "usage: asess_run --user U --token-file F --sid S --document D "
			"[--term T --cols C --rows R] [--service NAME] [--rhost HOST] "
			"[--terminate-after-ms N] [--close-ctl-after-ms N] [--stdin-after TEXT]\n");
	exit(2);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };

			(void)poll(&pf, 1, -1);
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static char *read_token(const char *path, size_t *plen)
{
	char *buf = malloc(65536);
	size_t len = 0;
	ssize_t n;
	int fd;

	if (buf == NULL)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	while (len < 65535 && (n = read(fd, buf + len, 65535 - len)) > 0)
		len += (size_t)n;
	close(fd);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		len--;
	buf[len] = '\0';
	*plen = len;
	return buf;
}

extern char **environ;

static int probe(const char *argv0)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[256];
	char cwd[4096], line[256];
	struct dirent *de;
	struct rlimit rl;
	mode_t um;
	FILE *f;
	DIR *d;
	int n, i;

	printf("argv0 %s\n", argv0);
	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	printf("ids %u %u %u %u %u %u\n", ru, eu, su, rg, eg, sg);
	n = getgroups(256, groups);
	printf("groups");
	for (i = 0; i < n; i++)
		printf(" %u", groups[i]);
	printf("\nfds");
	d = opendir("/proc/self/fd");
	while (d && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d))
			printf(" %s", de->d_name);
	if (d)
		closedir(d);
	printf("\n");
	f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigIgn:", 7) == 0)
			printf("%s", line);
	if (f)
		fclose(f);
	um = umask(0);
	printf("umask %03o\n", (unsigned)um);
	for (i = 0; i < 3; i++) {
		struct stat fst;

		printf("%s%s", i ? " " : "stdio ",
		       isatty(i) ? "tty"
		       : fstat(i, &fst) == 0 && S_ISSOCK(fst.st_mode) ? "socket" : "other");
	}
	printf("\n");
	printf("tty %s ctty %d leader %d\n", isatty(0) ? ttyname(0) : "none",
	       isatty(0) && tcgetsid(0) == getsid(0), getsid(0) == getpid());
	if (isatty(0)) {
		struct winsize ws;
		struct stat st;

		if (ioctl(0, TIOCGWINSZ, &ws) == 0)
			printf("winsize %u %u\n", ws.ws_col, ws.ws_row);
		if (fstat(0, &st) == 0)
			printf("ttyowner %u %04o\n", st.st_uid, (unsigned)(st.st_mode & 07777));
	}
	printf("cwd %s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
	for (i = 0; environ[i]; i++)
		printf("env %s\n", environ[i]);
	f = fopen("/proc/self/loginuid", "r");
	if (f && fgets(line, sizeof(line), f))
		printf("loginuid %s\n", line);
	if (f)
		fclose(f);
	getrlimit(RLIMIT_NOFILE, &rl);
	printf("nofile %llu\nPROBE-END\n", (unsigned long long)rl.rlim_max);
	return 0;
}

int main(int argc, char **argv)
{
	struct ssm_asess_req req;
	struct ssm_asess s;
	struct ssm_asess_msg m;
	const char *token_file = NULL, *stdin_after = NULL;
	char err[256], seen[4096] = "", buf[16384];
	size_t seen_len = 0;
	long term_after = -1, close_after = -1;
	int64_t ok_at = -1;
	int in_open = 1, io_open = 1, out_open = 0, ctl_open = 1, result = 101, exit_result = 0, got_exit = 0, i, st;
	int stdin_ok;

	if (argc >= 1 && argv[0][0] == '-')
		return probe(argv[0]);
	memset(&req, 0, sizeof(req));
	req.service = "ssm-session";
	for (i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			usage();
		i++;
		if (strcmp(o, "--user") == 0)
			req.user = v;
		else if (strcmp(o, "--token-file") == 0)
			token_file = v;
		else if (strcmp(o, "--sid") == 0)
			req.sid = v;
		else if (strcmp(o, "--document") == 0)
			req.document = v;
		else if (strcmp(o, "--term") == 0)
			req.term = v;
		else if (strcmp(o, "--cols") == 0)
			req.cols = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(o, "--rows") == 0)
			req.rows = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(o, "--service") == 0)
			req.service = v;
		else if (strcmp(o, "--rhost") == 0)
			req.rhost = v;
		else if (strcmp(o, "--terminate-after-ms") == 0)
			term_after = strtol(v, NULL, 10);
		else if (strcmp(o, "--close-ctl-after-ms") == 0)
			close_after = strtol(v, NULL, 10);
		else if (strcmp(o, "--stdin-after") == 0)
			stdin_after = v;
		else
			usage();
	}
	if (req.user == NULL || token_file == NULL || req.sid == NULL || req.document == NULL)
		usage();
	req.token = read_token(token_file, &req.token_len);
	if (req.token == NULL) {
		fprintf(stderr, "asess_run: cannot read %s\n", token_file);
		return 101;
	}
	if (ssm_asess_start(&req, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "asess_run: start: %s\n", err);
		return 101;
	}
	explicit_bzero(req.token, req.token_len);
	free(req.token);
	stdin_ok = stdin_after == NULL;

	out_open = s.out_fd >= 0;
	while (ctl_open || io_open || out_open) {
		struct pollfd pf[4];
		int timeout = -1;

		if (ok_at >= 0 && term_after >= 0) {
			int64_t left = ok_at + term_after - now_ms();

			if (left <= 0) {
				if (ssm_asess_terminate(&s) < 0)
					fprintf(stderr, "asess_run: terminate: %s\n", strerror(errno));
				term_after = -1;
			} else {
				timeout = (int)left;
			}
		}
		if (ok_at >= 0 && close_after >= 0 && ctl_open) {
			int64_t left = ok_at + close_after - now_ms();

			if (left <= 0) {
				close(s.ctl_fd);
				s.ctl_fd = -1;
				ctl_open = 0;
				io_open = out_open = 0;
				close_after = -1;
				continue;
			} else if (timeout < 0 || left < timeout) {
				timeout = (int)left;
			}
		}
		pf[0].fd = in_open && stdin_ok && ok_at >= 0 ? 0 : -1;
		pf[1].fd = io_open ? s.io_fd : -1;
		pf[2].fd = ctl_open ? s.ctl_fd : -1;
		pf[3].fd = out_open ? s.out_fd : -1;
		for (i = 0; i < 4; i++) {
			pf[i].events = POLLIN;
			pf[i].revents = 0;
		}
		if (poll(pf, 4, timeout) < 0) {
			if (errno == EINTR)
				continue;
			perror("poll");
			break;
		}
		if (pf[2].revents) {
			int r;

			while ((r = ssm_asess_ctl_read(s.ctl_fd, &m)) == 1) {
				switch (m.type) {
				case SSM_ASESS_MSG_OK:
					fprintf(stderr, "ok %ld\n", (long)m.pid);
					ok_at = now_ms();
					break;
				case SSM_ASESS_MSG_REFUSED:
					fprintf(stderr, "refused %s\n", m.text);
					result = 100;
					break;
				case SSM_ASESS_MSG_ERROR:
					fprintf(stderr, "error %s\n", m.text);
					result = 101;
					break;
				case SSM_ASESS_MSG_EXIT:
					fprintf(stderr, "exit %d %d\n", m.how, m.status);
					exit_result = m.how == 1 ? m.status : 128 + m.status;
					got_exit = 1;
					break;
				}
			}
			if (r < 0) {
				if (r != -EPIPE)
					fprintf(stderr, "asess_run: control: %s\n", strerror(-r));
				ctl_open = 0;
			}
		}
		/* the output socket (ssm-shell's output with a terminal), then the pty or socket */
		for (int src = 3; src >= 1; src -= 2) {
			int fd = src == 3 ? s.out_fd : s.io_fd;
			int *popen = src == 3 ? &out_open : &io_open;

			if (!*popen || !(pf[src].revents || !ctl_open))
				continue;
			/* after the session parent is gone: what is buffered, then stop */
			for (;;) {
				ssize_t n = read(fd, buf, sizeof(buf));

				if (n > 0) {
					if (write_all(1, buf, (size_t)n) < 0)
						*popen = 0;
					if (!stdin_ok) {
						size_t k = (size_t)n < sizeof(seen) - 1 - seen_len
								   ? (size_t)n
								   : sizeof(seen) - 1 - seen_len;

						memcpy(seen + seen_len, buf, k);
						seen_len += k;
						seen[seen_len] = '\0';
						if (strstr(seen, stdin_after) != NULL)
							stdin_ok = 1;
						if (seen_len == sizeof(seen) - 1)
							seen_len = 0;
					}
					continue;
				}
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
					if (!ctl_open)
						*popen = 0;
					break;
				}
				*popen = 0; /* 0: socket EOF; EIO: the pty's last slave closed */
				break;
			}
		}
		if (pf[0].fd >= 0 && pf[0].revents) {
			ssize_t n = read(0, buf, sizeof(buf));

			if (n > 0) {
				if (write_all(s.io_fd, buf, (size_t)n) < 0)
					in_open = 0;
			} else if (n == 0 || errno != EINTR) {
				in_open = 0;
				if (!s.has_tty)
					(void)shutdown(s.io_fd, SHUT_WR);
			}
		}
	}
	while (waitpid(s.pid, &st, 0) < 0 && errno == EINTR)
		;
	if (got_exit)
		return exit_result;
	return result;
}

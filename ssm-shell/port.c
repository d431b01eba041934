/* port.c - Port sessions: a byte stream between the client's standard input/output and
 * 127.0.0.1:portNumber.  No pty, no session process, no transcript of the bytes; the
 * connection is made by the recorder user after the privilege drop, and the start and
 * the end (with byte counts) are audited.  Idle timeout, maximum duration and SIGTERM
 * apply as for every session. */
#include "config.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "shell.h"

#define PORT_BUFSZ (64 * 1024)
#define NS 1000000000ULL

struct pipe_dir {
	int src, dst;
	char buf[PORT_BUFSZ];
	size_t len, off;
	int eof;
	uint64_t bytes;
};

static int dir_step(struct pipe_dir *d, int readable, int writable)
{
	ssize_t n;

	if (d->len == 0 && readable && !d->eof) {
		n = read(d->src, d->buf, sizeof(d->buf));
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			d->eof = 1;
		else if (n == 0)
			d->eof = 1;
		else if (n > 0) {
			d->len = (size_t)n;
			d->off = 0;
			d->bytes += (uint64_t)n;
			writable = 1;
		}
	}
	while (d->len > d->off && writable) {
		n = write(d->dst, d->buf + d->off, d->len - d->off);
		if (n < 0) {
			if (errno == EAGAIN)
				break;
			if (errno == EINTR)
				continue;
			return -errno;
		}
		d->off += (size_t)n;
	}
	if (d->off == d->len)
		d->len = d->off = 0;
	return 0;
}

int shell_port_run(struct shell *sh, struct shell_end *end)
{
	static struct pipe_dir up, down; /* client->port, port->client */
	struct sockaddr_in sa;
	struct pollfd pfd[3];
	sigset_t set;
	uint64_t now, next, last_input, idle_ns, deadline_max;
	uint64_t before;
	int s = -1, sfd = -1, timeout_ms, up_shut = 0;
	cJSON *extra;

	end->reason = NULL;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		end->reason = "error";
		end->error = "signalfd failed";
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);

	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)sh->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "ssm-shell: cannot connect to 127.0.0.1:%d: %s\n", sh->port,
		        strerror(errno));
		end->reason = "error";
		end->error = "connect failed";
		goto out;
	}
	extra = cJSON_CreateObject();
	if (extra)
		cJSON_AddNumberToObject(extra, "port", sh->port);
	(void)shell_audit(sh, "port_open", extra);
	cJSON_Delete(extra);

	up.src = 0;
	up.dst = s;
	down.src = s;
	down.dst = 1;
	(void)fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	(void)fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_NONBLOCK);
	(void)fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);

	last_input = shell_mono_ns();
	idle_ns = sh->doc->idle_timeout_s > 0 ? (uint64_t)sh->doc->idle_timeout_s * NS : 0;
	deadline_max = sh->doc->max_duration_s > 0
	                   ? sh->mono_start + (uint64_t)sh->doc->max_duration_s * NS
	                   : UINT64_MAX;
	while (end->reason == NULL) {
		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		/* a direction that is done is left out: poll reports POLLHUP on a closed
		 * pipe whatever the events asked, and the loop would spin */
		pfd[1].fd = up.len ? s : (up.eof ? -1 : 0);
		pfd[1].events = up.len ? POLLOUT : POLLIN;
		pfd[2].fd = down.len ? 1 : (down.eof ? -1 : s);
		pfd[2].events = down.len ? POLLOUT : POLLIN;
		now = shell_mono_ns();
		next = deadline_max;
		if (idle_ns && last_input + idle_ns < next)
			next = last_input + idle_ns;
		timeout_ms = shell_timeout_ms(now, next);
		if (poll(pfd, 3, timeout_ms) < 0 && errno != EINTR) {
			end->reason = "error";
			end->error = "poll failed";
			break;
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGUSR1) {
					/* ssm-agent's session parent: the channel was lost */
					if (si.ssi_uid == 0) {
						end->reason = "error";
						end->error = "the connection to the broker was lost";
					}
					continue;
				}
				end->reason = si.ssi_signo == SIGHUP ? "disconnect" : "terminated";
			}
			if (end->reason)
				break;
		}
		before = up.bytes;
		if (dir_step(&up, pfd[1].revents && !up.len, up.len && pfd[1].revents) < 0)
			up.eof = 1;
		if (up.bytes != before)
			last_input = shell_mono_ns();
		if (up.eof && up.len == 0 && !up_shut) {
			(void)shutdown(s, SHUT_WR);
			up_shut = 1;
		}
		if (dir_step(&down, pfd[2].revents && !down.len, down.len && pfd[2].revents) < 0) {
			end->reason = "disconnect";
			break;
		}
		if (down.eof && down.len == 0) {
			end->reason = "exit";
			end->have_status = 1;
			end->exit_status = 0;
			break;
		}
		now = shell_mono_ns();
		if (now >= deadline_max)
			end->reason = "max_duration";
		else if (idle_ns && now >= last_input + idle_ns)
			end->reason = "idle_timeout";
	}
out:
	sh->port_bytes_in = up.bytes;
	sh->port_bytes_out = down.bytes;
	if (s >= 0)
		close(s);
	if (sfd >= 0)
		close(sfd);
	return 0;
}

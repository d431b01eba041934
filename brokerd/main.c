/* main.c - ssm-broker (SPEC section 9; man/ssm-broker.8):
 *
 *   ssm-broker serve [--state-dir DIR] [--listen ADDR:PORT] [--keepalive PING:DEAD]
 *                    [--grace SECONDS]
 *   ssm-broker activation create [--state-dir DIR] --limit N --expires DURATION [--tag K=V]...
 *   ssm-broker host list [--state-dir DIR] [--json]
 *   ssm-broker host revoke [--state-dir DIR] ID
 *   ssm-broker user|group|policy ... (brokerd/users.c)
 *   ssm-broker document put|list|delete ... (brokerd/documents.c)
 *   ssm-broker audit list|show ... (brokerd/audit_store.c)
 *   ssm-broker ec2 trust|account|tag|forget ... (brokerd/ec2.c)
 *
 * Exit 0 ok, 1 refused or failed, 2 usage or configuration error. */
#include "brokerd.h"
#include "astore.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "log.h"
#include "util.h"

static const char *state_dir = BROKER_DEFAULT_STATE_DIR;

static void usage(FILE *f)
{
	fputs("usage: ssm-broker serve [--state-dir DIR] [--listen ADDR:PORT] [--keepalive PING:DEAD]\n"
	      "                  [--grace SECONDS]\n"
	      "       ssm-broker activation create [--state-dir DIR] --limit N --expires DURATION\n"
	      "                  [--tag KEY=VALUE]...\n"
	      "       ssm-broker host list [--state-dir DIR] [--json]\n"
	      "       ssm-broker host revoke [--state-dir DIR] ID\n"
	      "       ssm-broker user add [--state-dir DIR] NAME [--group G]... [--totp]\n"
	      "       ssm-broker user list [--state-dir DIR] [--json]\n"
	      "       ssm-broker user passwd|del [--state-dir DIR] NAME\n"
	      "       ssm-broker user set-run-as [--state-dir DIR] NAME OSUSER|--clear\n"
	      "       ssm-broker group add [--state-dir DIR] NAME\n"
	      "       ssm-broker policy attach [--state-dir DIR] --user NAME|--group NAME FILE\n"
	      "       ssm-broker document put [--state-dir DIR] NAME FILE\n"
	      "       ssm-broker document list [--state-dir DIR] [--json]\n"
	      "       ssm-broker document delete [--state-dir DIR] NAME\n"
	      "       ssm-broker audit list [--state-dir DIR] [--host ID] [--json]\n"
	      "       ssm-broker audit show [--state-dir DIR] --host ID [--since RFC3339]\n"
	      "       ssm-broker ec2 trust add [--state-dir DIR] --cert FILE\n"
	      "       ssm-broker ec2 trust list | trust remove SHA256 [--state-dir DIR]\n"
	      "       ssm-broker ec2 account add [--state-dir DIR] ACCOUNT [--region R]...\n"
	      "                  [--tag KEY=VALUE]...\n"
	      "       ssm-broker ec2 account list | account remove ACCOUNT [--state-dir DIR]\n"
	      "       ssm-broker ec2 tag [--state-dir DIR] INSTANCE KEY=VALUE...\n"
	      "       ssm-broker ec2 forget [--state-dir DIR] INSTANCE\n"
	      "       ssm-broker key rotate [--state-dir DIR]\n",
	      f);
}

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "ssm-broker: %s%s%s\n", what, arg ? " " : "", arg ? arg : "");
	usage(stderr);
	return 2;
}

/* 90, 90s, 15m, 12h, 7d: seconds, 1..10 years */
static int parse_duration(const char *s, int64_t *psec)
{
	char *end;
	long long v;
	int64_t mul = 1;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	v = strtoll(s, &end, 10);
	if (end[0] != '\0' && end[1] != '\0')
		return -EINVAL;
	switch (end[0]) {
	case '\0':
	case 's':
		break;
	case 'm':
		mul = 60;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'd':
		mul = 86400;
		break;
	default:
		return -EINVAL;
	}
	if (v < 1 || v > 3650LL * 86400 / mul)
		return -EINVAL;
	*psec = (int64_t)v * mul;
	return 0;
}

static int take_state_dir(int argc, char **argv, int *pi)
{
	if (strcmp(argv[*pi], "--state-dir") == 0) {
		if (*pi + 1 >= argc)
			return -1;
		state_dir = argv[++*pi];
		return 1;
	}
	if (strncmp(argv[*pi], "--state-dir=", 12) == 0) {
		state_dir = argv[*pi] + 12;
		return 1;
	}
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	struct serve_opts o = { BROKER_DEFAULT_LISTEN, 0, 0, 0 };
	struct broker *b = NULL;
	int i, r;

	for (i = 0; i < argc; i++) {
		if ((r = take_state_dir(argc, argv, &i)) != 0) {
			if (r < 0)
				return usage_error("--state-dir needs a value", NULL);
		} else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			o.listen = argv[++i];
		} else if (strcmp(argv[i], "--keepalive") == 0 && i + 1 < argc) {
			char *end;
			long p = strtol(argv[++i], &end, 10), d;
			if (*end != ':' || p < 1)
				return usage_error("--keepalive PING:DEAD (seconds)", NULL);
			d = strtol(end + 1, &end, 10);
			if (*end != '\0' || d <= p || d > 3600)
				return usage_error("--keepalive PING:DEAD (seconds)", NULL);
			o.ping_after_ms = p * 1000;
			o.dead_after_ms = d * 1000;
		} else if (strcmp(argv[i], "--grace") == 0 && i + 1 < argc) {
			char *end;
			long g = strtol(argv[++i], &end, 10);
			if (*end != '\0' || g < 1 || g > 86400)
				return usage_error("--grace SECONDS (1..86400)", NULL);
			o.grace_ms = g * 1000;
		} else {
			return usage_error("unknown argument", argv[i]);
		}
	}
	umask(077);
	if (broker_open(state_dir, 1, &b) < 0)
		return 2;
	r = broker_serve(b, &o);
	broker_close(b);
	return r < 0 ? 1 : 0;
}

static int cmd_activation(int argc, char **argv)
{
	int64_t limit = -1, expires = -1;
	struct broker *b = NULL;
	char id[64], code[64], ts[32];
	cJSON *tags = cJSON_CreateObject();
	int i, r, ret = 2;

	if (argc < 1 || strcmp(argv[0], "create") != 0) {
		cJSON_Delete(tags);
		return usage_error("activation: only 'create'", NULL);
	}
	for (i = 1; i < argc; i++) {
		if ((r = take_state_dir(argc, argv, &i)) != 0) {
			if (r < 0)
				goto usage;
		} else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
			char *end;
			long long v = strtoll(argv[++i], &end, 10);
			if (*end != '\0' || v < 1 || v > 1000000)
				goto usage;
			limit = v;
		} else if (strcmp(argv[i], "--expires") == 0 && i + 1 < argc) {
			if (parse_duration(argv[++i], &expires) < 0)
				goto usage;
		} else if (strcmp(argv[i], "--tag") == 0 && i + 1 < argc) {
			char *kv = argv[++i], *eq = strchr(kv, '=');
			if (eq == NULL || eq == kv)
				goto usage;
			*eq = '\0';
			cJSON_DeleteItemFromObjectCaseSensitive(tags, kv);
			cJSON_AddStringToObject(tags, kv, eq + 1);
			if (!ssm_enroll_tags_valid(tags)) {
				fprintf(stderr, "ssm-broker: --tag %s: keys 1..128 bytes, values at most "
						"256, at most 64 tags\n", kv);
				goto out;
			}
		} else {
			goto usage;
		}
	}
	if (limit < 0 || expires < 0)
		goto usage;
	if (broker_open(state_dir, 0, &b) < 0)
		goto out;
	expires += ssm_now();
	if (db_activation_create(b->db, limit, expires, tags, id, code) < 0) {
		fprintf(stderr, "ssm-broker: cannot create the activation\n");
		ret = 1;
		goto out;
	}
	ssm_rfc3339(expires, ts);
	printf("activation_id: %s\nactivation_code: %s\nlimit: %lld\nexpires: %s\n", id, code,
	       (long long)limit, ts);
	ret = 0;
	goto out;
usage:
	ret = usage_error("activation create: --limit N --expires DURATION (90s, 15m, 12h, 7d) "
			  "[--tag KEY=VALUE]...",
			  NULL);
out:
	cJSON_Delete(tags);
	broker_close(b);
	return ret;
}

static int cmd_host(int argc, char **argv)
{
	struct broker *b = NULL;
	const char *id = NULL;
	int i, r, json = 0, ret = 2;

	if (argc < 1)
		return usage_error("host: list or revoke", NULL);
	for (i = 1; i < argc; i++) {
		if ((r = take_state_dir(argc, argv, &i)) != 0) {
			if (r < 0)
				return usage_error("--state-dir needs a value", NULL);
		} else if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (argv[i][0] != '-' && id == NULL) {
			id = argv[i];
		} else {
			return usage_error("unknown argument", argv[i]);
		}
	}
	if (strcmp(argv[0], "list") == 0 && id == NULL) {
		cJSON *arr, *h;
		if (broker_open(state_dir, 0, &b) < 0)
			return 2;
		arr = db_host_list(b->db);
		if (arr == NULL) {
			ret = 1;
		} else if (json) {
			char *s = cJSON_Print(arr);
			printf("%s\n", s ? s : "[]");
			free(s);
			ret = 0;
		} else {
			printf("%-20s  %-20s  %-20s  %s\n", "ID", "REGISTERED", "LAST_CONTACT", "STATE");
			cJSON_ArrayForEach(h, arr) {
				char reg[32], last[32] = "never";
				const cJSON *lc = cJSON_GetObjectItem(h, "last_contact");
				ssm_rfc3339((int64_t)cJSON_GetObjectItem(h, "registered")->valuedouble, reg);
				if (cJSON_IsNumber(lc))
					ssm_rfc3339((int64_t)lc->valuedouble, last);
				printf("%-20s  %-20s  %-20s  %s\n",
				       cJSON_GetObjectItem(h, "id")->valuestring, reg, last,
				       cJSON_IsTrue(cJSON_GetObjectItem(h, "revoked")) ? "revoked"
										      : "active");
			}
			ret = 0;
		}
		cJSON_Delete(arr);
	} else if (strcmp(argv[0], "revoke") == 0 && id != NULL) {
		if (!ssm_ca_host_id_valid(id))
			return usage_error("not a host id (mi- and 17, or i- and 8 or 17, lowercase hex "
					   "digits):", id);
		if (broker_open(state_dir, 0, &b) < 0)
			return 2;
		r = db_host_revoke(b->db, id);
		if (r == -ENOENT) {
			fprintf(stderr, "ssm-broker: no host %s\n", id);
			ret = 1;
		} else if (r < 0) {
			fprintf(stderr, "ssm-broker: cannot revoke %s: database error\n", id);
			ret = 1;
		} else {
			printf("revoked %s (a connected agent is disconnected within 2 seconds)\n", id);
			ret = 0;
		}
	} else {
		return usage_error("host list [--json] | host revoke ID", NULL);
	}
	broker_close(b);
	return ret;
}

static void log_handler(void *ctx, int prio, const char *fmt, va_list ap)
{
	(void)ctx;
	(void)prio;
	fputs("ssm-broker: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* key rotate: a new signing key, handed to the hosts by a statement the old one signs */
static int cmd_key(int argc, char **argv)
{
	struct broker *b = NULL;
	char nk[65], ok[65];
	int i, r;

	if (argc < 1 || strcmp(argv[0], "rotate") != 0)
		return usage_error("key: only 'rotate'", NULL);
	for (i = 1; i < argc; i++) {
		if ((r = take_state_dir(argc, argv, &i)) != 0) {
			if (r < 0)
				return usage_error("--state-dir needs a value", NULL);
		} else {
			return usage_error("unknown argument", argv[i]);
		}
	}
	{
		struct stat st;

		/* the serving broker must still read the key: it is written as its owner */
		if (stat(state_dir, &st) == 0 ? st.st_uid != geteuid() : errno == EACCES) {
			fprintf(stderr, "ssm-broker: %s is not yours: run `key rotate` as the state "
					"directory's owner (runuser -u ssm-broker -- ssm-broker key rotate ...)\n",
				state_dir);
			return 1;
		}
	}
	if (broker_open(state_dir, 0, &b) < 0)
		return 1;
	if (db_meta_get(b->db, "issuer", b->issuer, sizeof(b->issuer)) < 0 ||
	    broker_key_rotate(b, nk, ok) < 0) {
		fprintf(stderr, "ssm-broker: the key was not rotated\n");
		broker_close(b);
		return 1;
	}
	printf("signing key: %s (was %s; hosts take it over their link, and trust %s until the "
	       "next rotation)\n", nk, ok, ok);
	broker_close(b);
	return 0;
}

int main(int argc, char **argv)
{
	ssm_log_set_handler(log_handler, NULL);
	if (argc < 2)
		return usage_error("no command", NULL);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("%s\n", BROKER_SOFTWARE);
		return 0;
	}
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 2, argv + 2);
	if (strcmp(argv[1], "activation") == 0)
		return cmd_activation(argc - 2, argv + 2);
	if (strcmp(argv[1], "host") == 0)
		return cmd_host(argc - 2, argv + 2);
	if (strcmp(argv[1], "user") == 0 || strcmp(argv[1], "group") == 0 ||
	    strcmp(argv[1], "policy") == 0)
		return broker_users_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "document") == 0)
		return broker_documents_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "audit") == 0)
		return broker_audit_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "ec2") == 0)
		return broker_ec2_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "key") == 0)
		return cmd_key(argc - 2, argv + 2);
	return usage_error("unknown command", argv[1]);
}

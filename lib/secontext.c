/* secontext.c - see secontext.h. */
#include "config.h"
#include <errno.h>
#include <string.h>

#include "secontext.h"

static int ident_char(int c, int first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
		return 1;
	return !first && ((c >= '0' && c <= '9') || c == '.' || c == '-');
}

/* length of the identifier at s ending at stop ('\0' or ':'), 0 if not one */
static size_t ident_len(const char *s, char stop)
{
	size_t i;

	for (i = 0; s[i] != '\0' && s[i] != stop; i++)
		if (!ident_char((unsigned char)s[i], i == 0))
			return 0;
	return s[i] == stop ? i : 0;
}

/* an MLS/MCS level or range: sensitivities, categories, '.', ',', '-', ':' */
static int range_ok(const char *s)
{
	size_t i;

	if (*s == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		int c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == ',' || c == '-' || c == ':'))
			return 0;
	}
	return s[i - 1] != ':' && s[i - 1] != '-' && s[i - 1] != ',';
}

int ssm_secontext_with_type(const char *con, const char *type, char *out, size_t outsz)
{
	size_t ulen, rlen, tlen, newlen, total;
	const char *range;

	if (out != NULL && outsz > 0)
		out[0] = '\0';
	if (con == NULL || type == NULL || out == NULL)
		return -EINVAL;
	if (strnlen(con, SSM_SECONTEXT_MAX + 1) > SSM_SECONTEXT_MAX)
		return -ENAMETOOLONG;
	newlen = strnlen(type, SSM_SECONTEXT_MAX + 1);
	if (newlen == 0 || newlen > SSM_SECONTEXT_MAX || ident_len(type, '\0') != newlen)
		return newlen > SSM_SECONTEXT_MAX ? -ENAMETOOLONG : -EINVAL;

	ulen = ident_len(con, ':');
	if (ulen == 0)
		return -EINVAL;
	rlen = ident_len(con + ulen + 1, ':');
	if (rlen == 0)
		return -EINVAL;
	range = con + ulen + 1 + rlen + 1;
	tlen = ident_len(range, ':');
	if (tlen == 0) {
		tlen = ident_len(range, '\0'); /* no range: the type ends the context */
		if (tlen == 0)
			return -EINVAL;
		range = NULL;
	} else {
		range += tlen + 1;
		if (!range_ok(range))
			return -EINVAL;
	}

	total = ulen + 1 + rlen + 1 + newlen + (range ? 1 + strlen(range) : 0);
	if (total >= outsz)
		return -ENAMETOOLONG;
	memcpy(out, con, ulen + 1 + rlen + 1); /* "USER:ROLE:" */
	memcpy(out + ulen + 1 + rlen + 1, type, newlen);
	total = ulen + 1 + rlen + 1 + newlen;
	if (range) {
		out[total++] = ':';
		memcpy(out + total, range, strlen(range));
		total += strlen(range);
	}
	out[total] = '\0';
	return 0;
}

enum ssm_se_verdict ssm_selinux_verdict(int enabled, int enforcing, int err)
{
	if (enabled == 0)
		return SSM_SE_OFF;
	if (enabled > 0 && err == 0)
		return SSM_SE_OK;
	/* failed, or SELinux in a state we could not read: only a permissive system goes on */
	return enforcing == 0 ? SSM_SE_CONTINUE : SSM_SE_REFUSE;
}

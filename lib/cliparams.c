/* cliparams.c - the client's --parameters (see cliparams.h) */
#include "cliparams.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "session_req.h"
#include "util.h"

static int is_name_char(int c)
{
	return ssm_is_b64url_char(c) || c == '.';
}

static int from_json(const char *text, cJSON **pparams, char *err, size_t errlen)
{
	cJSON *in = NULL, *out = NULL, *p, *v, *arr;
	char sub[256];
	int r;

	r = ssm_json_parse_object(text, strlen(text), &in, sub, sizeof(sub));
	if (r == -ENOMEM)
		goto oom;
	if (r < 0) {
		ssm_errf(err, errlen, "--parameters: not a JSON object: %s", sub);
		return -EINVAL;
	}
	out = cJSON_CreateObject();
	if (out == NULL)
		goto oom;
	cJSON_ArrayForEach(p, in) {
		/* before a name is quoted in a message */
		if (p->string == NULL || !ssm_str_charset(p->string, 1, 128, is_name_char)) {
			ssm_errf(err, errlen,
				 "--parameters: a parameter name must be 1..128 of [A-Za-z0-9_.-]");
			r = -EINVAL;
			goto out;
		}
		if (cJSON_IsString(p)) {
			arr = cJSON_CreateArray();
			v = cJSON_CreateString(p->valuestring);
			if (arr == NULL || v == NULL || !cJSON_AddItemToArray(arr, v)) {
				cJSON_Delete(arr);
				cJSON_Delete(v);
				goto oom;
			}
		} else if (cJSON_IsArray(p)) {
			cJSON_ArrayForEach(v, p) {
				if (!cJSON_IsString(v)) {
					ssm_errf(err, errlen,
						 "--parameters: '%s': the values must be strings", p->string);
					r = -EINVAL;
					goto out;
				}
			}
			arr = cJSON_Duplicate(p, 1);
			if (arr == NULL)
				goto oom;
		} else {
			ssm_errf(err, errlen,
				 "--parameters: '%s' must be a string or a list of strings", p->string);
			r = -EINVAL;
			goto out;
		}
		if (!cJSON_AddItemToObject(out, p->string, arr)) {
			cJSON_Delete(arr);
			goto oom;
		}
	}
	*pparams = out;
	out = NULL;
	r = 0;
	goto out;
oom:
	ssm_errf(err, errlen, "out of memory");
	r = -ENOMEM;
out:
	cJSON_Delete(in);
	cJSON_Delete(out);
	return r;
}

struct sh {
	const char *s;
	size_t i, n;
	char *buf; /* the current item */
	size_t len;
	char *err;
	size_t errlen;
};

static int sh_fail(struct sh *p, const char *what)
{
	ssm_errf(p->err, p->errlen, "--parameters: %s at character %zu", what, p->i + 1);
	return -EINVAL;
}

static void skip_ws(struct sh *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t'))
		p->i++;
}

/* Does the text at i start "KEY=" (an unquoted, unescaped "=" before a "," or the end)? */
static int at_key(const struct sh *p)
{
	size_t i = p->i;

	while (i < p->n && (p->s[i] == ' ' || p->s[i] == '\t'))
		i++;
	if (i < p->n && (p->s[i] == '"' || p->s[i] == '\'' || p->s[i] == '['))
		return 0;
	for (; i < p->n && p->s[i] != ','; i++) {
		if (p->s[i] == '\\')
			return 0;
		if (p->s[i] == '=')
			return 1;
	}
	return 0;
}

/* One item into p->buf: quoted, or unquoted up to "," (or "]" in a list) with the white
 * space around it dropped. */
static int item(struct sh *p, int in_list)
{
	char q;
	size_t keep;

	p->len = 0;
	skip_ws(p);
	if (p->i < p->n && (p->s[p->i] == '"' || p->s[p->i] == '\'')) {
		q = p->s[p->i++];
		for (;;) {
			if (p->i >= p->n)
				return sh_fail(p, q == '"' ? "an unclosed \"" : "an unclosed '");
			if (p->s[p->i] == q) {
				p->i++;
				break;
			}
			if (q == '"' && p->s[p->i] == '\\' && p->i + 1 < p->n &&
			    (p->s[p->i + 1] == '"' || p->s[p->i + 1] == '\\'))
				p->i++;
			p->buf[p->len++] = p->s[p->i++];
		}
		skip_ws(p);
		if (p->i < p->n && p->s[p->i] != ',' && !(in_list && p->s[p->i] == ']'))
			return sh_fail(p, "text after a quoted value");
		p->buf[p->len] = '\0';
		return 0;
	}
	keep = 0;
	while (p->i < p->n && p->s[p->i] != ',' && !(in_list && p->s[p->i] == ']')) {
		if (!in_list && p->s[p->i] == '[' )
			return sh_fail(p, "a '[' inside a value (quote it)");
		if (in_list && p->s[p->i] == '[')
			return sh_fail(p, "a list inside a list");
		if (p->s[p->i] == '\\') {
			if (p->i + 1 >= p->n)
				return sh_fail(p, "a '\\' at the end");
			p->i++;
			p->buf[p->len++] = p->s[p->i++];
			keep = p->len;
			continue;
		}
		p->buf[p->len++] = p->s[p->i++];
		if (p->buf[p->len - 1] != ' ' && p->buf[p->len - 1] != '\t')
			keep = p->len;
	}
	p->len = keep; /* trailing white space is not part of the value */
	p->buf[p->len] = '\0';
	return 0;
}

static int add_value(struct sh *p, cJSON *arr)
{
	cJSON *v = cJSON_CreateString(p->buf);

	if (v == NULL || !cJSON_AddItemToArray(arr, v)) {
		cJSON_Delete(v);
		ssm_errf(p->err, p->errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int from_shorthand(const char *text, cJSON **pparams, char *err, size_t errlen)
{
	struct sh p = { text, 0, strlen(text), NULL, 0, err, errlen };
	cJSON *out = cJSON_CreateObject(), *arr;
	char key[129];
	size_t k;
	int r = -ENOMEM;

	p.buf = malloc(p.n + 1);
	if (out == NULL || p.buf == NULL) {
		ssm_errf(err, errlen, "out of memory");
		goto out;
	}
	for (;;) {
		/* KEY= */
		skip_ws(&p);
		k = 0;
		while (p.i < p.n && p.s[p.i] != '=' && p.s[p.i] != ',' && p.s[p.i] != ' ' &&
		       p.s[p.i] != '\t') {
			if (k + 1 >= sizeof(key)) {
				r = sh_fail(&p, "a parameter name longer than 128 characters");
				goto out;
			}
			if (!is_name_char((unsigned char)p.s[p.i])) {
				r = sh_fail(&p, "a parameter name must be 1..128 of [A-Za-z0-9_.-]");
				goto out;
			}
			key[k++] = p.s[p.i++];
		}
		key[k] = '\0';
		skip_ws(&p);
		if (k == 0) {
			r = sh_fail(&p, "a parameter name expected (NAME=VALUE)");
			goto out;
		}
		if (p.i >= p.n || p.s[p.i] != '=') {
			r = sh_fail(&p, "'=' expected after a parameter name (NAME=VALUE)");
			goto out;
		}
		p.i++;
		if (ssm_json_member(out, key) != NULL) {
			ssm_errf(err, errlen, "--parameters: '%s' given twice", key);
			r = -EINVAL;
			goto out;
		}
		arr = cJSON_AddArrayToObject(out, key);
		if (arr == NULL) {
			ssm_errf(err, errlen, "out of memory");
			goto out;
		}
		skip_ws(&p);
		if (p.i < p.n && p.s[p.i] == '[') {
			p.i++;
			skip_ws(&p);
			if (p.i < p.n && p.s[p.i] == ']') {
				p.i++;
			} else {
				for (;;) {
					if ((r = item(&p, 1)) < 0 || (r = add_value(&p, arr)) < 0)
						goto out;
					if (p.i >= p.n) {
						r = sh_fail(&p, "an unclosed '['");
						goto out;
					}
					if (p.s[p.i++] == ']')
						break;
				}
			}
			skip_ws(&p);
			if (p.i < p.n && p.s[p.i] != ',') {
				r = sh_fail(&p, "text after ']'");
				goto out;
			}
		} else {
			if ((r = item(&p, 0)) < 0 || (r = add_value(&p, arr)) < 0)
				goto out;
			/* more values of this key: "key=a,b,c" */
			while (p.i < p.n && p.s[p.i] == ',' && (p.i++, !at_key(&p))) {
				if (p.i >= p.n) {
					r = sh_fail(&p, "a value expected after ','");
					goto out;
				}
				if ((r = item(&p, 0)) < 0 || (r = add_value(&p, arr)) < 0)
					goto out;
			}
			if (p.i < p.n)
				continue; /* at the next KEY= (its "," consumed) */
			break;
		}
		if (p.i >= p.n)
			break;
		p.i++; /* the "," before the next KEY= */
		if (p.i >= p.n) {
			r = sh_fail(&p, "a parameter expected after ','");
			goto out;
		}
	}
	*pparams = out;
	out = NULL;
	r = 0;
out:
	free(p.buf);
	cJSON_Delete(out);
	return r;
}

int ssm_cli_params_parse(const char *text, cJSON **pparams, char *err, size_t errlen)
{
	cJSON *params = NULL;
	char sub[256];
	size_t i = 0, n;
	int r;

	*pparams = NULL;
	if (text == NULL) {
		ssm_errf(err, errlen, "--parameters: nothing given");
		return -EINVAL;
	}
	n = strlen(text);
	if (n > SSM_CLI_PARAMS_MAX_TEXT) {
		ssm_errf(err, errlen, "--parameters: longer than %d bytes", SSM_CLI_PARAMS_MAX_TEXT);
		return -EINVAL;
	}
	if (!ssm_json_utf8_valid(text, n)) {
		ssm_errf(err, errlen, "--parameters: not valid UTF-8");
		return -EINVAL;
	}
	while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
		i++;
	if (i == n) {
		ssm_errf(err, errlen, "--parameters: empty");
		return -EINVAL;
	}
	r = text[i] == '{' ? from_json(text, &params, err, errlen)
			   : from_shorthand(text, &params, err, errlen);
	if (r < 0)
		return r;
	if (ssm_session_params_check(params, sub, sizeof(sub)) < 0) {
		ssm_errf(err, errlen, "--parameters: %s", sub);
		cJSON_Delete(params);
		return -EINVAL;
	}
	*pparams = params;
	return 0;
}

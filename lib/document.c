/* document.c - Session documents (SPEC section 3), see document.h.
 *
 * A document is the administrator's, but its parameters' values come from the token, i.e.
 * from the broker on behalf of a user: every value is checked against the document's rules
 * and then inserted into linux.commands as exactly one single-quoted shell word, so that no
 * value can end the word, start a command or expand anything.  The rendered text is never
 * scanned again, so "{{ x }}" inside a value stays literal. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "document.h"
#include "json.h"
#include "log.h"
#include "shctx.h"
#include "util.h"

#define ERR(...) ssm_errf(err, errlen, __VA_ARGS__)

#define DOC_MAX_PARAMS 64
#define DOC_MAX_PARAM_NAME 64
#define DOC_MAX_VALUES 256        /* allowedValues entries, StringList elements */
#define DOC_MAX_PATTERN 1024
#define DOC_MAX_CHARS (1024 * 1024)
#define DOC_MATCH_LIMIT 100000    /* pcre2 backtracking budget per match */
#define DOC_DEPTH_LIMIT 1000
#define DOC_RENDER_MAX (16 * 1024 * 1024)

static const char *const type_names[] = {
	[SSM_SESSION_STANDARD_STREAM] = "Standard_Stream",
	[SSM_SESSION_INTERACTIVE_COMMANDS] = "InteractiveCommands",
	[SSM_SESSION_NON_INTERACTIVE_COMMANDS] = "NonInteractiveCommands",
	[SSM_SESSION_PORT] = "Port",
};

const char *ssm_session_type_name(enum ssm_session_type t)
{
	if ((int)t >= SSM_SESSION_STANDARD_STREAM && (int)t <= SSM_SESSION_PORT)
		return type_names[t];
	return "unknown";
}

static int is_param_name_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

static int param_name_valid(const char *name)
{
	return ssm_str_charset(name, 1, DOC_MAX_PARAM_NAME, is_param_name_char);
}

static int is_lower_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void param_clear(struct ssm_doc_param *p)
{
	size_t i;

	free(p->name);
	free(p->description);
	cJSON_Delete(p->default_value);
	free(p->allowed_pattern);
	pcre2_code_free(p->pattern_code);
	for (i = 0; i < p->n_allowed_values; i++)
		free(p->allowed_values[i]);
	free(p->allowed_values);
}

void ssm_document_free(struct ssm_document *doc)
{
	size_t i;

	if (doc == NULL)
		return;
	free(doc->name);
	free(doc->run_as_default_user);
	free(doc->shell_profile);
	for (i = 0; i < doc->n_params; i++)
		param_clear(&doc->params[i]);
	free(doc->params);
	free(doc->commands);
	free(doc->port_number);
	free(doc);
}

static const struct ssm_doc_param *find_param(const struct ssm_document *doc, const char *name,
					      size_t namelen)
{
	size_t i;

	for (i = 0; i < doc->n_params; i++)
		if (strlen(doc->params[i].name) == namelen &&
		    memcmp(doc->params[i].name, name, namelen) == 0)
			return &doc->params[i];
	return NULL;
}

/* ---- value checks ---- */

/* Characters (UTF-8 code points) in s; s is valid UTF-8. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* One value of parameter p.  0 or -EINVAL with err naming the parameter; -ENOMEM. */
static int check_value(const struct ssm_doc_param *p, const char *v, char *err, size_t errlen)
{
	const unsigned char *c;
	size_t len = strlen(v), i;
	int r;

	for (c = (const unsigned char *)v; *c; c++) {
		/* C0, DEL and C1 (U+0080..U+009F = C2 80..C2 9F) controls, newline included */
		if (*c < 0x20 || *c == 0x7f || (c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f)) {
			ERR("parameter '%s': value contains a control character", p->name);
			return -EINVAL;
		}
	}
	if (!ssm_json_utf8_valid(v, len)) {
		ERR("parameter '%s': value is not valid UTF-8", p->name);
		return -EINVAL;
	}
	if (p->max_chars > 0 && utf8_chars(v) > (size_t)p->max_chars) {
		ERR("parameter '%s': value longer than maxChars (%lld)", p->name,
		    (long long)p->max_chars);
		return -EINVAL;
	}
	if (p->n_allowed_values > 0) {
		for (i = 0; i < p->n_allowed_values; i++)
			if (strcmp(p->allowed_values[i], v) == 0)
				break;
		if (i == p->n_allowed_values) {
			ERR("parameter '%s': value not in allowedValues", p->name);
			return -EINVAL;
		}
	}
	if (p->pattern_code != NULL) {
		pcre2_match_data *md;
		pcre2_match_context *mc;

		md = pcre2_match_data_create(1, NULL);
		mc = pcre2_match_context_create(NULL);
		if (md == NULL || mc == NULL) {
			pcre2_match_data_free(md);
			pcre2_match_context_free(mc);
			ERR("out of memory");
			return -ENOMEM;
		}
		pcre2_set_match_limit(mc, DOC_MATCH_LIMIT);
		pcre2_set_depth_limit(mc, DOC_DEPTH_LIMIT);
		r = pcre2_match(p->pattern_code, (PCRE2_SPTR)v, len, 0, 0, md, mc);
		pcre2_match_data_free(md);
		pcre2_match_context_free(mc);
		if (r == PCRE2_ERROR_NOMATCH) {
			ERR("parameter '%s': value does not match allowedPattern", p->name);
			return -EINVAL;
		}
		if (r < 0) {
			/* match limit hit, or any other failure: never a match */
			ERR("parameter '%s': allowedPattern could not be evaluated (error %d)",
			    p->name, r);
			return -EINVAL;
		}
	}
	return 0;
}

/* A token's or default's value for p: a JSON array of strings (or, for a default of a
 * String parameter, a plain string).  Checks count and every element. */
static int check_values(const struct ssm_doc_param *p, const cJSON *vals, char *err,
			size_t errlen)
{
	const cJSON *el;
	int n, r;

	if (cJSON_IsString(vals)) {
		if (!p->is_list)
			return check_value(p, vals->valuestring, err, errlen);
		ERR("parameter '%s': must be a list of strings", p->name);
		return -EINVAL;
	}
	if (!cJSON_IsArray(vals)) {
		ERR("parameter '%s': value must be an array of strings", p->name);
		return -EINVAL;
	}
	n = cJSON_GetArraySize(vals);
	if (!p->is_list && n != 1) {
		ERR("parameter '%s': a String takes exactly one value", p->name);
		return -EINVAL;
	}
	if (n < 1 || n > DOC_MAX_VALUES) {
		ERR("parameter '%s': a StringList takes 1 to %d values", p->name, DOC_MAX_VALUES);
		return -EINVAL;
	}
	cJSON_ArrayForEach(el, vals) {
		if (!cJSON_IsString(el) || el->valuestring == NULL) {
			ERR("parameter '%s': values must be strings", p->name);
			return -EINVAL;
		}
		r = check_value(p, el->valuestring, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The values to use for p: the token's, else the default.  NULL with err if neither. */
static const cJSON *param_values(const struct ssm_doc_param *p, const cJSON *params, char *err,
				 size_t errlen)
{
	const cJSON *v = ssm_json_member(params, p->name);

	if (v != NULL)
		return v;
	if (p->default_value != NULL)
		return p->default_value;
	ERR("parameter '%s': missing and has no default", p->name);
	return NULL;
}

int ssm_document_check_params(const struct ssm_document *doc, const cJSON *params, char *err,
			      size_t errlen)
{
	const cJSON *el;
	char esc[SSM_LOG_ESCAPE_BUFSZ];
	size_t i;
	int r;

	if (params != NULL && !cJSON_IsObject(params)) {
		ERR("params must be an object");
		return -EINVAL;
	}
	if (params != NULL) {
		cJSON_ArrayForEach(el, params) {
			if (el->string == NULL ||
			    find_param(doc, el->string, strlen(el->string)) == NULL) {
				ERR("parameter '%s': not defined by document %s",
				    ssm_log_escape(el->string, esc, sizeof(esc)),
				    doc->name ? doc->name : "(unnamed)");
				return -EINVAL;
			}
			if (!cJSON_IsArray(el)) {
				/* only a document's default may be a plain string */
				ERR("parameter '%s': value must be an array of strings", el->string);
				return -EINVAL;
			}
		}
	}
	for (i = 0; i < doc->n_params; i++) {
		const cJSON *v = param_values(&doc->params[i], params, err, errlen);
		if (v == NULL)
			return -EINVAL;
		r = check_values(&doc->params[i], v, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- rendering ---- */

struct sbuf {
	char *s;
	size_t len, cap;
};

static int sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (n > DOC_RENDER_MAX || b->len > DOC_RENDER_MAX - n)
		return -E2BIG;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *ns;
		while (cap < b->len + n + 1)
			cap *= 2;
		ns = realloc(b->s, cap);
		if (ns == NULL)
			return -ENOMEM;
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

static int shquote_append(struct sbuf *b, const char *value)
{
	const char *p, *q;
	int r;

	if ((r = sbuf_add(b, "'", 1)) < 0)
		return r;
	for (p = value; *p; p = q) {
		q = strchr(p, '\'');
		if (q == NULL) {
			if ((r = sbuf_add(b, p, strlen(p))) < 0)
				return r;
			break;
		}
		if ((r = sbuf_add(b, p, (size_t)(q - p))) < 0 || (r = sbuf_add(b, "'\\''", 4)) < 0)
			return r;
		q++;
	}
	return sbuf_add(b, "'", 1);
}

int ssm_shquote(const char *value, char **pout)
{
	struct sbuf b = { NULL, 0, 0 };
	int r;

	if (*pout != NULL && (r = sbuf_add(&b, *pout, strlen(*pout))) < 0)
		goto fail;
	if ((r = sbuf_add(&b, "", 0)) < 0 || (r = shquote_append(&b, value)) < 0)
		goto fail;
	free(*pout);
	*pout = b.s;
	return 0;
fail:
	free(b.s);
	return -ENOMEM;
}

/* Find the next "{{ name }}" in t at or after *ppos.  Returns 1 found (name at *pname,
 * *pnamelen; *pstart and *pend the whole reference), 0 none, -EINVAL malformed. */
static int next_ref(const char *t, size_t *ppos, size_t *pstart, size_t *pend,
		    const char **pname, size_t *pnamelen, char *err, size_t errlen)
{
	const char *open = strstr(t + *ppos, "{{");
	const char *close, *a, *b;

	if (open == NULL)
		return 0;
	close = strstr(open + 2, "}}");
	if (close == NULL) {
		ERR("unterminated {{ in template");
		return -EINVAL;
	}
	a = open + 2;
	b = close;
	while (a < b && (*a == ' ' || *a == '\t'))
		a++;
	while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
		b--;
	if (a == b) {
		ERR("{{ }} names no parameter");
		return -EINVAL;
	}
	*pname = a;
	*pnamelen = (size_t)(b - a);
	*pstart = (size_t)(open - t);
	*pend = (size_t)(close + 2 - t);
	*ppos = *pend;
	return 1;
}

static int ref_param(const struct ssm_document *doc, const char *name, size_t namelen,
		     const struct ssm_doc_param **pp, char *err, size_t errlen)
{
	char esc[SSM_LOG_ESCAPE_BUFSZ], tmp[DOC_MAX_PARAM_NAME + 8];

	*pp = NULL;
	if (namelen <= DOC_MAX_PARAM_NAME)
		*pp = find_param(doc, name, namelen);
	if (*pp == NULL) {
		snprintf(tmp, sizeof(tmp), "%.*s", namelen > DOC_MAX_PARAM_NAME ? DOC_MAX_PARAM_NAME
						    : (int)namelen, name);
		ERR("{{ %s }} names no parameter of the document",
		    ssm_log_escape(tmp, esc, sizeof(esc)));
		return -EINVAL;
	}
	return 0;
}

/* A {{ name }} reference: its parameter, and the values the token (or the default) gives
 * it, every one checked.  0 or -EINVAL with err set. */
static int ref_values(const struct ssm_document *doc, const char *name, size_t namelen,
		      const cJSON *params, const struct ssm_doc_param **pp, const cJSON **pvals,
		      char *err, size_t errlen)
{
	int r;

	if ((r = ref_param(doc, name, namelen, pp, err, errlen)) < 0)
		return r;
	*pvals = param_values(*pp, params, err, errlen);
	if (*pvals == NULL)
		return -EINVAL;
	return check_values(*pp, *pvals, err, errlen);
}

/* Template syntax only (parse time): every reference names a defined parameter. */
static int check_template(const struct ssm_document *doc, const char *tmpl, const char *what,
			  char *err, size_t errlen)
{
	size_t pos = 0, start, end, namelen;
	const char *name;
	const struct ssm_doc_param *p;
	char sub[256] = "";
	int r;

	while ((r = next_ref(tmpl, &pos, &start, &end, &name, &namelen, sub, sizeof(sub))) > 0) {
		r = ref_param(doc, name, namelen, &p, sub, sizeof(sub));
		if (r < 0)
			break;
	}
	if (r < 0)
		ERR("%s: %s", what, sub);
	return r < 0 ? r : 0;
}

/* linux.commands: every reference names a parameter and stands where the shell reads it as
 * one word (lib/shctx.c): a quoted, substituted, commented, here-document or glued
 * placeholder is refused, and a StringList must be a word of its own. */
struct cmd_check {
	const struct ssm_document *doc;
	char *err;
	size_t errlen;
};

static int cmd_ref(void *arg, const struct ssm_sh_ref *ref)
{
	struct cmd_check *c = arg;
	const struct ssm_doc_param *p;
	char *err = c->err;
	size_t errlen = c->errlen;
	int r;

	if (ref->namelen == 0) {
		ERR("{{ }} names no parameter");
		return -EINVAL;
	}
	if ((r = ref_param(c->doc, ref->name, ref->namelen, &p, err, errlen)) < 0)
		return r;
	if (p->is_list && ref->command_name) {
		ERR("{{ %s }} is a StringList as the command: the session user would choose the "
		    "program and its arguments", p->name);
		return -EINVAL;
	}
	if (p->is_list && ref->single) {
		ERR("{{ %s }} is a StringList where one word is expected (an operand of test or "
		    "[, or a wrapper's option value or operand): its elements would become "
		    "operators or the command", p->name);
		return -EINVAL;
	}
	if (p->is_list && ref->redirect) {
		ERR("{{ %s }} is a StringList as the target of a redirection: the elements after "
		    "the first would become arguments", p->name);
		return -EINVAL;
	}
	if (ref->ctx == SSM_SH_WORD || (ref->ctx == SSM_SH_GLUED && !p->is_list))
		return 0;
	if (ref->ctx == SSM_SH_GLUED)
		ERR("{{ %s }} is a StringList glued to other text: each element must be a "
		    "word of its own", p->name);
	else
		ERR("{{ %s }} is %s (at byte %zu): %s", p->name, ssm_sh_ctx_text(ref->ctx),
		    ref->start,
		    ref->ctx == SSM_SH_CODE ? "a value there would run as shell code"
		    : ref->ctx == SSM_SH_ASSIGNMENT
		        ? "a value there would set the command's environment"
		        : "a parameter must be a plain, unquoted word of the command line "
		          "(ssmsession quotes every value itself)");
	return -EINVAL;
}

static int check_commands(const struct ssm_document *doc, char *err, size_t errlen)
{
	struct cmd_check c = { doc, NULL, 0 };
	char sub[512] = "";
	int r;

	c.err = sub;
	c.errlen = sizeof(sub);
	r = ssm_sh_scan(doc->commands, cmd_ref, &c, sub, sizeof(sub));
	if (r < 0)
		ERR("properties.linux.commands: %s", sub);
	return r < 0 ? -EINVAL : 0;
}

struct cl_check {
	const char *name;
	int bad;
};

static int cl_ref(void *arg, const struct ssm_sh_ref *ref)
{
	struct cl_check *c = arg;

	if (ref->namelen == strlen(c->name) && memcmp(ref->name, c->name, ref->namelen) == 0 &&
	    ref->ctx != SSM_SH_WORD)
		c->bad = 1;
	return 0;
}

int ssm_document_set_command_line(struct ssm_document *doc, const cJSON *names, char *err,
				  size_t errlen)
{
	const cJSON *n;
	char sub[256];

	if (names == NULL)
		return 0;
	if (doc->type != SSM_SESSION_INTERACTIVE_COMMANDS &&
	    doc->type != SSM_SESSION_NON_INTERACTIVE_COMMANDS) {
		ERR("command-line parameters are for InteractiveCommands and "
		    "NonInteractiveCommands documents only, not %s", type_names[doc->type]);
		return -EINVAL;
	}
	cJSON_ArrayForEach(n, names) {
		struct ssm_doc_param *p;
		struct cl_check c;

		if (!cJSON_IsString(n) ||
		    (p = (struct ssm_doc_param *)find_param(doc, n->valuestring,
							    strlen(n->valuestring))) == NULL) {
			ERR("command-line parameter '%s' is not a parameter of the document",
			    cJSON_IsString(n) ? n->valuestring : "?");
			return -EINVAL;
		}
		if (p->is_list) {
			ERR("command-line parameter '%s' is a StringList", p->name);
			return -EINVAL;
		}
		c.name = p->name;
		c.bad = 0;
		if (ssm_sh_scan(doc->commands, cl_ref, &c, sub, sizeof(sub)) != 0 || c.bad) {
			ERR("command-line parameter '%s' must stand in linux.commands as a word of "
			    "its own", p->name);
			return -EINVAL;
		}
		p->command_line = 1;
	}
	return 0;
}

int ssm_document_render(const struct ssm_document *doc, const char *tmpl, const cJSON *params,
			char **pout, char *err, size_t errlen)
{
	struct sbuf b = { NULL, 0, 0 };
	size_t pos = 0, last = 0, start, end, namelen;
	const char *name;
	int r;

	*pout = NULL;
	if (tmpl == NULL) {
		ERR("no template to render");
		return -EINVAL;
	}
	if (params != NULL && !cJSON_IsObject(params)) {
		ERR("params must be an object");
		return -EINVAL;
	}
	r = ssm_document_check_params(doc, params, err, errlen);
	if (r < 0)
		return r;
	if ((r = sbuf_add(&b, "", 0)) < 0)
		goto out;
	while ((r = next_ref(tmpl, &pos, &start, &end, &name, &namelen, err, errlen)) > 0) {
		const struct ssm_doc_param *p;
		const cJSON *vals, *el;
		int first = 1;

		if ((r = sbuf_add(&b, tmpl + last, start - last)) < 0)
			goto out;
		last = end;
		if ((r = ref_values(doc, name, namelen, params, &p, &vals, err, errlen)) < 0)
			goto out;
		if (p->command_line) { /* the administrator's opt-in: the value is shell */
			const char *v = cJSON_IsString(vals) ? vals->valuestring
			                                     : cJSON_GetArrayItem(vals, 0)->valuestring;
			if ((r = sbuf_add(&b, v, strlen(v))) < 0)
				goto out;
			continue;
		}
		if (cJSON_IsString(vals)) {
			if ((r = shquote_append(&b, vals->valuestring)) < 0)
				goto out;
			continue;
		}
		cJSON_ArrayForEach(el, vals) {
			if (!first && (r = sbuf_add(&b, " ", 1)) < 0)
				goto out;
			first = 0;
			if ((r = shquote_append(&b, el->valuestring)) < 0)
				goto out;
		}
	}
	if (r < 0)
		goto out;
	if ((r = sbuf_add(&b, tmpl + last, strlen(tmpl + last))) < 0)
		goto out;
	*pout = b.s;
	b.s = NULL;
	r = 0;
out:
	if (r == -ENOMEM)
		ERR("out of memory");
	else if (r == -E2BIG) {
		ERR("rendered command too long");
		r = -EINVAL;
	}
	free(b.s);
	return r;
}

int ssm_document_port(const struct ssm_document *doc, const cJSON *params, int *pport,
		      char *err, size_t errlen)
{
	struct sbuf b = { NULL, 0, 0 };
	size_t pos = 0, last = 0, start, end, namelen, i;
	const char *name;
	long port = 0;
	int r;

	*pport = 0;
	if (doc->type != SSM_SESSION_PORT || doc->port_number == NULL) {
		ERR("document has no portNumber");
		return -EINVAL;
	}
	r = ssm_document_check_params(doc, params, err, errlen);
	if (r < 0)
		return r;
	if ((r = sbuf_add(&b, "", 0)) < 0)
		goto out;
	while ((r = next_ref(doc->port_number, &pos, &start, &end, &name, &namelen, err,
			     errlen)) > 0) {
		const struct ssm_doc_param *p;
		const cJSON *vals;

		if ((r = sbuf_add(&b, doc->port_number + last, start - last)) < 0)
			goto out;
		last = end;
		if ((r = ref_values(doc, name, namelen, params, &p, &vals, err, errlen)) < 0)
			goto out;
		if (p->is_list) {
			ERR("parameter '%s': a StringList cannot be a port number", p->name);
			r = -EINVAL;
			goto out;
		}
		if (cJSON_IsArray(vals))
			vals = cJSON_GetArrayItem(vals, 0);
		if ((r = sbuf_add(&b, vals->valuestring, strlen(vals->valuestring))) < 0)
			goto out;
	}
	if (r < 0)
		goto out;
	if ((r = sbuf_add(&b, doc->port_number + last, strlen(doc->port_number + last))) < 0)
		goto out;
	for (i = 0; i < b.len; i++) {
		if (b.s[i] < '0' || b.s[i] > '9' || i >= 5) {
			ERR("portNumber \"%.16s\" is not a port number 1 to 65535",
			    b.len ? "(non-numeric)" : "");
			r = -EINVAL;
			goto out;
		}
		port = port * 10 + (b.s[i] - '0');
	}
	if (port < 1 || port > 65535) {
		ERR("portNumber is not a port number 1 to 65535");
		r = -EINVAL;
		goto out;
	}
	*pport = (int)port;
	r = 0;
out:
	if (r == -ENOMEM)
		ERR("out of memory");
	else if (r == -E2BIG)
		r = -EINVAL;
	free(b.s);
	return r;
}

/* ---- parsing ---- */

static int parse_minutes(const cJSON *item, const char *key, int64_t max, int64_t *pmin,
			 char *err, size_t errlen)
{
	int64_t v = 0;
	const char *s;

	if (cJSON_IsNumber(item)) {
		if (ssm_json_to_int64(item, &v) < 0)
			v = -1;
	} else if (cJSON_IsString(item)) {
		s = item->valuestring;
		if (*s == '\0' || strlen(s) > 4)
			v = -1;
		for (; *s && v >= 0; s++) {
			if (*s < '0' || *s > '9')
				v = -1;
			else
				v = v * 10 + (*s - '0');
		}
	} else {
		v = -1;
	}
	if (v < 1 || v > max) {
		ERR("inputs.%s: must be \"1\" to \"%lld\" (minutes)", key, (long long)max);
		return -EINVAL;
	}
	*pmin = v;
	return 0;
}

/* runAsEnabled and the like: true/false, or "true"/"false" as AWS documents often write. */
static int parse_boolish(const cJSON *item, const char *what, int *pval, char *err,
			 size_t errlen)
{
	if (cJSON_IsBool(item)) {
		*pval = cJSON_IsTrue(item) ? 1 : 0;
		return 0;
	}
	if (cJSON_IsString(item) && strcmp(item->valuestring, "true") == 0) {
		*pval = 1;
		return 0;
	}
	if (cJSON_IsString(item) && strcmp(item->valuestring, "false") == 0) {
		*pval = 0;
		return 0;
	}
	ERR("%s: must be true or false", what);
	return -EINVAL;
}

static int set_dup(char **pdst, const char *s, char *err, size_t errlen)
{
	char *d = strdup(s);

	if (d == NULL) {
		ERR("out of memory");
		return -ENOMEM;
	}
	free(*pdst);
	*pdst = d;
	return 0;
}

static int user_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

static int parse_inputs(struct ssm_document *doc, const cJSON *inputs, char *err, size_t errlen)
{
	/* AWS inputs about S3/CloudWatch/KMS delivery: accepted for compatibility, unused here
	 * (the host keeps its own transcripts, SPEC section 6) */
	static const char *const ignored[] = {
		"s3BucketName", "s3KeyPrefix", "s3EncryptionEnabled", "cloudWatchLogGroupName",
		"cloudWatchEncryptionEnabled", "cloudWatchStreamingEnabled", "kmsKeyId",
	};
	const cJSON *it;
	char esc[SSM_LOG_ESCAPE_BUFSZ];
	int64_t v, idle_min = -1, max_min = -1, idle_s = -1, max_s = -1;
	int r;

	if (!cJSON_IsObject(inputs)) {
		ERR("inputs: must be an object");
		return -EINVAL;
	}
	cJSON_ArrayForEach(it, inputs) {
		const char *k = it->string;
		size_t i;
		int known = 0;

		if (strcmp(k, "idleSessionTimeout") == 0) {
			if ((r = parse_minutes(it, k, 60, &idle_min, err, errlen)) < 0)
				return r;
		} else if (strcmp(k, "maxSessionDuration") == 0) {
			/* "" is what the AWS console writes for "no limit" */
			if (cJSON_IsString(it) && it->valuestring[0] == '\0')
				max_min = 0;
			else if ((r = parse_minutes(it, k, 1440, &max_min, err, errlen)) < 0)
				return r;
		} else if (strcmp(k, "idleSessionTimeoutSeconds") == 0) {
			if (!cJSON_IsNumber(it) || ssm_json_to_int64(it, &v) < 0 || v < 1 ||
			    v > 86400) {
				ERR("inputs.%s: must be an integer 1 to 86400", k);
				return -EINVAL;
			}
			idle_s = v;
		} else if (strcmp(k, "maxSessionDurationSeconds") == 0) {
			if (!cJSON_IsNumber(it) || ssm_json_to_int64(it, &v) < 0 || v < 1 ||
			    v > 86400 * 7) {
				ERR("inputs.%s: must be an integer 1 to 604800", k);
				return -EINVAL;
			}
			max_s = v;
		} else if (strcmp(k, "runAsEnabled") == 0) {
			if ((r = parse_boolish(it, "inputs.runAsEnabled", &doc->run_as_enabled, err,
					       errlen)) < 0)
				return r;
		} else if (strcmp(k, "runAsDefaultUser") == 0) {
			if (!cJSON_IsString(it)) {
				ERR("inputs.runAsDefaultUser: must be a string");
				return -EINVAL;
			}
			if (it->valuestring[0] != '\0') {
				if (!ssm_str_charset(it->valuestring, 1, 32, user_char) ||
				    it->valuestring[0] == '-') {
					ERR("inputs.runAsDefaultUser: not a valid user name");
					return -EINVAL;
				}
				if ((r = set_dup(&doc->run_as_default_user, it->valuestring, err,
						 errlen)) < 0)
					return r;
			}
		} else if (strcmp(k, "shellProfile") == 0) {
			const cJSON *sp;
			if (!cJSON_IsObject(it)) {
				ERR("inputs.shellProfile: must be an object");
				return -EINVAL;
			}
			cJSON_ArrayForEach(sp, it) {
				if (!cJSON_IsString(sp) || (strcmp(sp->string, "linux") != 0 &&
							    strcmp(sp->string, "windows") != 0)) {
					ERR("inputs.shellProfile: only \"linux\" and \"windows\" "
					    "strings");
					return -EINVAL;
				}
			}
			sp = ssm_json_member(it, "linux");
			if (sp != NULL && sp->valuestring[0] != '\0' &&
			    (r = set_dup(&doc->shell_profile, sp->valuestring, err, errlen)) < 0)
				return r;
		} else {
			for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
				if (strcmp(k, ignored[i]) == 0)
					known = 1;
			if (!known) {
				ERR("inputs: unknown input '%s'", ssm_log_escape(k, esc, sizeof(esc)));
				return -EINVAL;
			}
			if (!cJSON_IsString(it) && !cJSON_IsBool(it)) {
				ERR("inputs.%s: must be a string or a boolean", k);
				return -EINVAL;
			}
		}
	}
	if (idle_s > 0)
		doc->idle_timeout_s = idle_s;
	else if (idle_min > 0)
		doc->idle_timeout_s = idle_min * 60;
	if (max_s > 0)
		doc->max_duration_s = max_s;
	else if (max_min >= 0)
		doc->max_duration_s = max_min * 60;
	return 0;
}

static int parse_param(struct ssm_doc_param *p, const cJSON *def, char *err, size_t errlen)
{
	const cJSON *it;
	char sub[256];
	int r;

	if (!cJSON_IsObject(def)) {
		ERR("parameter '%s': must be an object", p->name);
		return -EINVAL;
	}
	it = ssm_json_member(def, "type");
	if (cJSON_IsString(it) && strcmp(it->valuestring, "String") == 0) {
		p->is_list = 0;
	} else if (cJSON_IsString(it) && strcmp(it->valuestring, "StringList") == 0) {
		p->is_list = 1;
	} else {
		ERR("parameter '%s': type must be \"String\" or \"StringList\"", p->name);
		return -EINVAL;
	}
	cJSON_ArrayForEach(it, def) {
		const char *k = it->string;

		if (strcmp(k, "type") == 0)
			continue;
		if (strcmp(k, "description") == 0 || strcmp(k, "displayType") == 0) {
			if (!cJSON_IsString(it)) {
				ERR("parameter '%s': %s must be a string", p->name, k);
				return -EINVAL;
			}
			if (k[0] == 'd' && k[1] == 'e' &&
			    (r = set_dup(&p->description, it->valuestring, err, errlen)) < 0)
				return r;
		} else if (strcmp(k, "default") == 0) {
			/* checked against the rules below once they are all known */
			p->default_value = cJSON_Duplicate(it, 1);
			if (p->default_value == NULL) {
				ERR("out of memory");
				return -ENOMEM;
			}
		} else if (strcmp(k, "allowedPattern") == 0) {
			int ec;
			PCRE2_SIZE eo;
			PCRE2_UCHAR msg[128];

			if (!cJSON_IsString(it) || it->valuestring[0] == '\0' ||
			    strlen(it->valuestring) > DOC_MAX_PATTERN) {
				ERR("parameter '%s': allowedPattern must be 1 to %d characters",
				    p->name, DOC_MAX_PATTERN);
				return -EINVAL;
			}
			if ((r = set_dup(&p->allowed_pattern, it->valuestring, err, errlen)) < 0)
				return r;
			p->pattern_code = pcre2_compile((PCRE2_SPTR)it->valuestring,
							PCRE2_ZERO_TERMINATED,
							PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C, &ec,
							&eo, NULL);
			if (p->pattern_code == NULL) {
				if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
					snprintf((char *)msg, sizeof(msg), "error %d", ec);
				ERR("parameter '%s': allowedPattern does not compile at offset %zu: %s",
				    p->name, (size_t)eo, (char *)msg);
				return -EINVAL;
			}
		} else if (strcmp(k, "allowedValues") == 0) {
			const cJSON *v;
			int n = cJSON_GetArraySize(it);
			if (!cJSON_IsArray(it) || n < 1 || n > DOC_MAX_VALUES) {
				ERR("parameter '%s': allowedValues must be an array of 1 to %d strings",
				    p->name, DOC_MAX_VALUES);
				return -EINVAL;
			}
			p->allowed_values = calloc((size_t)n, sizeof(char *));
			if (p->allowed_values == NULL) {
				ERR("out of memory");
				return -ENOMEM;
			}
			cJSON_ArrayForEach(v, it) {
				if (!cJSON_IsString(v)) {
					ERR("parameter '%s': allowedValues must be strings", p->name);
					return -EINVAL;
				}
				p->allowed_values[p->n_allowed_values] = strdup(v->valuestring);
				if (p->allowed_values[p->n_allowed_values] == NULL) {
					ERR("out of memory");
					return -ENOMEM;
				}
				p->n_allowed_values++;
			}
		} else if (strcmp(k, "maxChars") == 0) {
			if (!cJSON_IsNumber(it) || ssm_json_to_int64(it, &p->max_chars) < 0 ||
			    p->max_chars < 1 || p->max_chars > DOC_MAX_CHARS) {
				ERR("parameter '%s': maxChars must be an integer 1 to %d", p->name,
				    DOC_MAX_CHARS);
				return -EINVAL;
			}
		} else {
			char esc[SSM_LOG_ESCAPE_BUFSZ];
			ERR("parameter '%s': unknown or unsupported member '%s'", p->name,
			    ssm_log_escape(k, esc, sizeof(esc)));
			return -EINVAL;
		}
	}
	if (p->default_value != NULL) {
		r = check_values(p, p->default_value, sub, sizeof(sub));
		if (r < 0) {
			ERR("default: %s", sub);
			return r;
		}
	}
	return 0;
}

static int parse_parameters(struct ssm_document *doc, const cJSON *params, char *err,
			    size_t errlen)
{
	const cJSON *it;
	char esc[SSM_LOG_ESCAPE_BUFSZ];
	int n, r;

	if (!cJSON_IsObject(params)) {
		ERR("parameters: must be an object");
		return -EINVAL;
	}
	n = cJSON_GetArraySize(params);
	if (n > DOC_MAX_PARAMS) {
		ERR("parameters: more than %d", DOC_MAX_PARAMS);
		return -EINVAL;
	}
	doc->params = calloc(n > 0 ? (size_t)n : 1, sizeof(*doc->params));
	if (doc->params == NULL) {
		ERR("out of memory");
		return -ENOMEM;
	}
	cJSON_ArrayForEach(it, params) {
		struct ssm_doc_param *p = &doc->params[doc->n_params];
		if (!param_name_valid(it->string)) {
			ERR("parameters: invalid parameter name '%s' (1 to %d of [A-Za-z0-9_.-])",
			    ssm_log_escape(it->string, esc, sizeof(esc)), DOC_MAX_PARAM_NAME);
			return -EINVAL;
		}
		p->name = strdup(it->string);
		if (p->name == NULL) {
			ERR("out of memory");
			return -ENOMEM;
		}
		doc->n_params++;
		r = parse_param(p, it, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_linux(struct ssm_document *doc, const cJSON *lx, char *err, size_t errlen)
{
	const cJSON *it;
	int r;

	if (!cJSON_IsObject(lx)) {
		ERR("properties.linux: must be an object");
		return -EINVAL;
	}
	cJSON_ArrayForEach(it, lx) {
		if (strcmp(it->string, "commands") == 0) {
			if (!cJSON_IsString(it) || it->valuestring[0] == '\0') {
				ERR("properties.linux.commands: must be a non-empty string");
				return -EINVAL;
			}
			if ((r = set_dup(&doc->commands, it->valuestring, err, errlen)) < 0)
				return r;
		} else if (strcmp(it->string, "runAsElevated") == 0) {
			if ((r = parse_boolish(it, "properties.linux.runAsElevated",
					       &doc->run_as_elevated, err, errlen)) < 0)
				return r;
		} else {
			char esc[SSM_LOG_ESCAPE_BUFSZ];
			ERR("properties.linux: unknown member '%s'",
			    ssm_log_escape(it->string, esc, sizeof(esc)));
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_properties(struct ssm_document *doc, const cJSON *props, char *err,
			    size_t errlen)
{
	const cJSON *it;
	char esc[SSM_LOG_ESCAPE_BUFSZ];
	int r;

	if (!cJSON_IsObject(props)) {
		ERR("properties: must be an object");
		return -EINVAL;
	}
	cJSON_ArrayForEach(it, props) {
		const char *k = it->string;

		if (doc->type == SSM_SESSION_PORT) {
			if (strcmp(k, "portNumber") == 0) {
				if (!cJSON_IsString(it) || it->valuestring[0] == '\0' ||
				    strlen(it->valuestring) > 256) {
					ERR("properties.portNumber: must be a non-empty string");
					return -EINVAL;
				}
				if ((r = set_dup(&doc->port_number, it->valuestring, err, errlen)) <
				    0)
					return r;
			} else if (strcmp(k, "type") == 0) {
				if (!cJSON_IsString(it) ||
				    strcmp(it->valuestring, "LocalPortForwarding") != 0) {
					ERR("properties.type: only \"LocalPortForwarding\" is "
					    "supported");
					return -EINVAL;
				}
			} else if (strcmp(k, "localPortNumber") == 0) {
				/* the client's side of the tunnel: not the host's business */
				if (!cJSON_IsString(it)) {
					ERR("properties.localPortNumber: must be a string");
					return -EINVAL;
				}
			} else {
				ERR("properties: '%s' is not supported for Port sessions (only "
				    "portNumber to a local port)", ssm_log_escape(k, esc, sizeof(esc)));
				return -EINVAL;
			}
		} else if (doc->type == SSM_SESSION_STANDARD_STREAM) {
			ERR("properties: not used by Standard_Stream sessions (found '%s')",
			    ssm_log_escape(k, esc, sizeof(esc)));
			return -EINVAL;
		} else if (strcmp(k, "linux") == 0) {
			if ((r = parse_linux(doc, it, err, errlen)) < 0)
				return r;
		} else if (strcmp(k, "windows") == 0 || strcmp(k, "macos") == 0) {
			if (!cJSON_IsObject(it)) {
				ERR("properties.%s: must be an object", k);
				return -EINVAL;
			}
		} else {
			ERR("properties: unknown member '%s'", ssm_log_escape(k, esc, sizeof(esc)));
			return -EINVAL;
		}
	}
	return 0;
}

int ssm_document_parse(const char *buf, size_t len, const char *name, struct ssm_document **pdoc,
		       char *err, size_t errlen)
{
	struct ssm_document *doc = NULL;
	cJSON *root = NULL;
	const cJSON *it, *st, *inputs = NULL, *params = NULL, *props = NULL;
	char sub[512] = "", esc[SSM_LOG_ESCAPE_BUFSZ];
	int r, t;

	*pdoc = NULL;
	if (len > SSM_DOCUMENT_MAX_SIZE) {
		ERR("document larger than %d bytes", SSM_DOCUMENT_MAX_SIZE);
		return -EINVAL;
	}
	if (name != NULL && !ssm_document_name_valid(name)) {
		ERR("invalid document name");
		return -EINVAL;
	}
	doc = calloc(1, sizeof(*doc));
	if (doc == NULL) {
		ERR("out of memory");
		return -ENOMEM;
	}
	doc->idle_timeout_s = 20 * 60;
	if (name != NULL && (r = set_dup(&doc->name, name, err, errlen)) < 0)
		goto out;
	ssm_sha256_hex(buf, len, doc->sha256);
	r = ssm_json_parse_object(buf, len, &root, sub, sizeof(sub));
	if (r < 0) {
		ERR("not a valid JSON object: %s", sub);
		goto out;
	}
	r = -EINVAL;
	it = ssm_json_member(root, "schemaVersion");
	if (!cJSON_IsString(it) || strcmp(it->valuestring, "1.0") != 0) {
		ERR("schemaVersion: must be \"1.0\"");
		goto out;
	}
	st = ssm_json_member(root, "sessionType");
	if (!cJSON_IsString(st)) {
		ERR("sessionType: missing or not a string");
		goto out;
	}
	for (t = SSM_SESSION_STANDARD_STREAM; t <= SSM_SESSION_PORT; t++)
		if (strcmp(st->valuestring, type_names[t]) == 0)
			doc->type = (enum ssm_session_type)t;
	if (doc->type == 0) {
		ERR("sessionType: unknown \"%s\" (Standard_Stream, InteractiveCommands, "
		    "NonInteractiveCommands or Port)", ssm_log_escape(st->valuestring, esc, sizeof(esc)));
		goto out;
	}
	cJSON_ArrayForEach(it, root) {
		const char *k = it->string;
		if (strcmp(k, "schemaVersion") == 0 || strcmp(k, "sessionType") == 0)
			continue;
		if (strcmp(k, "description") == 0) {
			if (!cJSON_IsString(it)) {
				ERR("description: must be a string");
				goto out;
			}
		} else if (strcmp(k, "inputs") == 0) {
			inputs = it;
		} else if (strcmp(k, "parameters") == 0) {
			params = it;
		} else if (strcmp(k, "properties") == 0) {
			props = it;
		} else {
			ERR("unknown member '%s'", ssm_log_escape(k, esc, sizeof(esc)));
			goto out;
		}
	}
	if (inputs != NULL) {
		if (doc->type != SSM_SESSION_STANDARD_STREAM) {
			/* AWS takes these from SSM-SessionManagerRunShell; silently ignoring a
			 * timeout the administrator wrote here would be worse than refusing */
			ERR("inputs: only Standard_Stream documents have inputs (%s sessions use "
			    "those of %s)", type_names[doc->type], SSM_RUNSHELL_DOCUMENT);
			goto out;
		}
		if ((r = parse_inputs(doc, inputs, err, errlen)) < 0)
			goto out;
	}
	if (params != NULL && (r = parse_parameters(doc, params, err, errlen)) < 0)
		goto out;
	if (props != NULL && (r = parse_properties(doc, props, err, errlen)) < 0)
		goto out;
	r = -EINVAL;
	if ((doc->type == SSM_SESSION_INTERACTIVE_COMMANDS ||
	     doc->type == SSM_SESSION_NON_INTERACTIVE_COMMANDS) && doc->commands == NULL) {
		ERR("properties.linux.commands: required for %s documents", type_names[doc->type]);
		goto out;
	}
	if (doc->type == SSM_SESSION_PORT && doc->port_number == NULL) {
		ERR("properties.portNumber: required for Port documents");
		goto out;
	}
	if (doc->commands != NULL && (r = check_commands(doc, err, errlen)) < 0)
		goto out;
	if (doc->port_number != NULL &&
	    (r = check_template(doc, doc->port_number, "properties.portNumber", err, errlen)) < 0)
		goto out;
	*pdoc = doc;
	doc = NULL;
	r = 0;
out:
	cJSON_Delete(root);
	ssm_document_free(doc);
	return r;
}

static int pattern_anchored(const char *p)
{
	size_t n = strlen(p);
	int start = p[0] == '^' || strncmp(p, "\\A", 2) == 0;
	int end = (n >= 1 && p[n - 1] == '$' && !(n >= 2 && p[n - 2] == '\\')) ||
		  (n >= 2 && (strcmp(p + n - 2, "\\z") == 0 || strcmp(p + n - 2, "\\Z") == 0));
	return start && end;
}

struct cmd_warn {
	const struct ssm_document *doc;
	void (*warn)(void *ctx, const char *msg);
	void *ctx;
	int n;
};

static int cmd_warn_ref(void *arg, const struct ssm_sh_ref *ref)
{
	struct cmd_warn *w = arg;
	const struct ssm_doc_param *p = find_param(w->doc, ref->name, ref->namelen);
	char msg[320];

	if (p == NULL)
		return 0;
	if (ref->command_name)
		snprintf(msg, sizeof(msg), "{{ %s }} is the command name: the session user "
		         "chooses the program it runs", p->name);
	else if (p->allowed_pattern == NULL && p->n_allowed_values == 0)
		snprintf(msg, sizeof(msg), "parameter '%s' has neither allowedPattern nor "
		         "allowedValues: a value such as '--option' reaches the command as an "
		         "option", p->name);
	else
		return 0;
	if (w->warn)
		w->warn(w->ctx, msg);
	w->n++;
	return 0;
}

int ssm_document_warnings(const struct ssm_document *doc,
			  void (*warn)(void *ctx, const char *msg), void *ctx)
{
	struct cmd_warn cw = { doc, warn, ctx, 0 };
	char msg[256], sub[256];
	size_t i;
	int n = 0;

	if (doc->commands != NULL) {
		(void)ssm_sh_scan(doc->commands, cmd_warn_ref, &cw, sub, sizeof(sub));
		n += cw.n;
	}

	for (i = 0; i < doc->n_params; i++) {
		const struct ssm_doc_param *p = &doc->params[i];
		if (p->allowed_pattern == NULL || pattern_anchored(p->allowed_pattern))
			continue;
		snprintf(msg, sizeof(msg),
			 "parameter '%s': allowedPattern is not anchored (^...$): it matches "
			 "anywhere in the value", p->name);
		if (warn)
			warn(ctx, msg);
		n++;
	}
	return n;
}

/* dir/NAME.json, malloc'ed; NULL on allocation failure or no dir. */
static char *doc_path(const char *dir, const char *name)
{
	size_t n;
	char *path;

	if (dir == NULL)
		return NULL;
	n = strlen(dir) + strlen(name) + sizeof("/.json");
	path = malloc(n);
	if (path != NULL)
		snprintf(path, n, "%s/%s.json", dir, name);
	return path;
}

int ssm_document_load(const char *dir, const char *name, const char *sha256hex,
		      struct ssm_document **pdoc, char *err, size_t errlen)
{
	char *path = NULL, *buf = NULL, hex[65], sub[512] = "";
	size_t len = 0;
	int r;

	*pdoc = NULL;
	if (!ssm_document_name_valid(name)) {
		ERR("invalid document name");
		return -EINVAL;
	}
	if (sha256hex == NULL || !ssm_str_charset(sha256hex, 64, 64, is_lower_hex)) {
		ERR("document %s: sha256 must be 64 lowercase hex digits", name);
		return -EINVAL;
	}
	path = doc_path(dir, name);
	if (path == NULL) {
		ERR("out of memory");
		return -ENOMEM;
	}
	r = ssm_read_file(path, SSM_DOCUMENT_MAX_SIZE, SSM_FILE_TRUSTED | SSM_FILE_NOFOLLOW, &buf,
			  &len, err, errlen);
	if (r == -ENOENT) {
		ERR("document %s: not present on this host", name);
		goto out;
	}
	if (r == -EFBIG) {
		r = -EINVAL;
		goto out;
	}
	if (r < 0)
		goto out;
	ssm_sha256_hex(buf, len, hex);
	if (strcmp(hex, sha256hex) != 0) {
		ERR("document %s: sha256 does not match the token's", name);
		r = -EBADMSG;
		goto out;
	}
	r = ssm_document_parse(buf, len, name, pdoc, sub, sizeof(sub));
	if (r < 0)
		ERR("%s: %s", path, sub);
out:
	free(buf);
	free(path);
	return r;
}

int ssm_document_apply_runshell(struct ssm_document *doc, const char *dir, char *err,
				size_t errlen)
{
	struct ssm_document *rs = NULL;
	char *path = NULL, *buf = NULL, sub[512] = "";
	size_t len = 0;
	int r;

	if (doc->type == SSM_SESSION_STANDARD_STREAM)
		return 0;
	path = doc_path(dir, SSM_RUNSHELL_DOCUMENT);
	if (path == NULL) {
		ERR("out of memory");
		return -ENOMEM;
	}
	r = ssm_read_file(path, SSM_DOCUMENT_MAX_SIZE, SSM_FILE_TRUSTED | SSM_FILE_NOFOLLOW, &buf,
			  &len, err, errlen);
	if (r == -ENOENT) {
		/* AWS defaults */
		doc->idle_timeout_s = 20 * 60;
		doc->max_duration_s = 0;
		r = 0;
		goto out;
	}
	if (r < 0) {
		if (r == -EFBIG)
			r = -EINVAL;
		goto out;
	}
	r = ssm_document_parse(buf, len, SSM_RUNSHELL_DOCUMENT, &rs, sub, sizeof(sub));
	if (r < 0) {
		ERR("%s: %s", path, sub);
		goto out;
	}
	if (rs->type != SSM_SESSION_STANDARD_STREAM) {
		ERR("%s: must be a Standard_Stream document", path);
		r = -EINVAL;
		goto out;
	}
	doc->idle_timeout_s = rs->idle_timeout_s;
	doc->max_duration_s = rs->max_duration_s;
	doc->run_as_enabled = rs->run_as_enabled;
	free(doc->run_as_default_user);
	doc->run_as_default_user = rs->run_as_default_user;
	rs->run_as_default_user = NULL;
	r = 0;
out:
	ssm_document_free(rs);
	free(buf);
	free(path);
	return r;
}

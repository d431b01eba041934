/* config.c - the host configuration (SPEC section 4), see config.h.
 *
 * Strict by design, as pam_faillock's configuration parser: an unknown key (a typo such as
 * "run_as_alowed" would otherwise silently keep a default), a wrong type, a relative path or a
 * number out of range makes the whole file invalid, and the PAM module then fails closed.
 * Every error is one line naming the file and the key. */
#include "config.h"
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "document.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define ERR(...) ssm_errf(err, errlen, __VA_ARGS__)

#define CFG_MAX_LIST 256           /* entries in allowed_documents / run_as_allowed */
#define CFG_MAX_GLOB 128           /* characters of one document glob */
#define CFG_MAX_TAGS 64
#define CFG_MAX_TAG_KEY 128        /* AWS tag key / value limits */
#define CFG_MAX_TAG_VALUE 256
#define CFG_MAX_ISSUER 256
#define CFG_MAX_TRANSCRIPT ((int64_t)1 << 40) /* 1 TiB */

static int is_host_id_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* i- or mi- then 1..64 of [A-Za-z0-9] (AWS: i-0123456789abcdef0, mi-0123456789abcdef0). */
static int host_id_valid(const char *s)
{
	if (strncmp(s, "i-", 2) == 0)
		return ssm_str_charset(s + 2, 1, 64, is_host_id_char);
	if (strncmp(s, "mi-", 3) == 0)
		return ssm_str_charset(s + 3, 1, 64, is_host_id_char);
	return 0;
}

static int is_user_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

int ssm_config_user_name_valid(const char *name)
{
	size_t i;
	int digits_only = 1;

	if (name == NULL || !ssm_str_charset(name, 1, 32, is_user_char))
		return 0;
	/* not an option, not a number (getpwnam("0") must not look like uid 0), not . or .. */
	if (name[0] == '-' || name[0] == '.')
		return 0;
	for (i = 0; name[i] != '\0'; i++)
		if (name[i] < '0' || name[i] > '9')
			digits_only = 0;
	return !digits_only;
}

static int is_glob_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-' || c == '*' || c == '?' || c == '[' || c == ']' ||
	       c == '!';
}

static int is_url_char(int c)
{
	return c > 0x20 && c < 0x7f;
}

static int is_profile_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Absolute, no NUL (the JSON layer refuses it), no "." or ".." component, bounded. */
static int path_valid(const char *p)
{
	const char *c;
	size_t len = strlen(p);

	if (len < 1 || len >= PATH_MAX || p[0] != '/')
		return 0;
	for (c = p; *c != '\0'; c++) {
		if (*c == '/' && (strncmp(c, "/../", 4) == 0 || strcmp(c, "/..") == 0 ||
				  strncmp(c, "/./", 3) == 0 || strcmp(c, "/.") == 0))
			return 0;
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return 0;
	}
	return 1;
}

void ssm_config_free(struct ssm_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->host_id);
	cJSON_Delete(cfg->host_tags);
	free(cfg->issuer);
	free(cfg->trusted_keys);
	free(cfg->documents_dir);
	for (i = 0; i < cfg->n_allowed_documents; i++)
		free(cfg->allowed_documents[i]);
	free(cfg->allowed_documents);
	for (i = 0; i < cfg->n_run_as_allowed; i++)
		free(cfg->run_as_allowed[i]);
	free(cfg->run_as_allowed);
	free(cfg->state_dir);
	free(cfg->run_dir);
	free(cfg->log_dir);
	free(cfg->recorder_user);
	cJSON_Delete(cfg->seccomp_profiles);
	cJSON_Delete(cfg->command_line_params);
	free(cfg->broker_url);
	free(cfg->broker_ca);
	free(cfg->host_certificate);
	free(cfg->host_key);
	free(cfg);
}

/* Replace *pdst with a copy of src. */
static int set_str(char **pdst, const char *src)
{
	char *s = strdup(src);

	if (s == NULL)
		return -ENOMEM;
	free(*pdst);
	*pdst = s;
	return 0;
}

static int set_list(char ***plist, size_t *pn, const char *const *src, size_t n)
{
	char **list;
	size_t i;

	list = calloc(n ? n : 1, sizeof(*list));
	if (list == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		list[i] = strdup(src[i]);
		if (list[i] == NULL) {
			while (i-- > 0)
				free(list[i]);
			free(list);
			return -ENOMEM;
		}
	}
	for (i = 0; i < *pn; i++)
		free((*plist)[i]);
	free(*plist);
	*plist = list;
	*pn = n;
	return 0;
}

static int set_defaults(struct ssm_config *cfg)
{
	static const char *const def_docs[] = { "*" };
	static const char *const def_users[] = { "ssm-user" };

	cfg->max_token_lifetime = 300;
	cfg->leeway = 60;
	cfg->record_input = 0;
	cfg->transcript_max_bytes = 64 * 1024 * 1024;
	cfg->transcript_limit_action = SSM_LIMIT_END;
	cfg->allow_privilege = 1;
	cfg->replay_fsync = 1;
	cfg->transcript_delivery_required = 1;
	cfg->transcript_backlog_max = 16 * 1024 * 1024;
	cfg->broker_documents = 1;
	cfg->document_cache_max_bytes = 16 * 1024 * 1024;
	cfg->host_tags = cJSON_CreateObject();
	cfg->seccomp_profiles = cJSON_CreateObject();
	if (cfg->host_tags == NULL || cfg->seccomp_profiles == NULL ||
	    set_str(&cfg->documents_dir, SSM_DEFAULT_DOCUMENTS_DIR) < 0 ||
	    set_str(&cfg->state_dir, SSM_DEFAULT_STATE_DIR) < 0 ||
	    set_str(&cfg->run_dir, SSM_DEFAULT_RUN_DIR) < 0 ||
	    set_str(&cfg->log_dir, SSM_DEFAULT_LOG_DIR) < 0 ||
	    set_str(&cfg->recorder_user, "ssmsession") < 0 ||
	    set_list(&cfg->allowed_documents, &cfg->n_allowed_documents, def_docs, 1) < 0 ||
	    set_list(&cfg->run_as_allowed, &cfg->n_run_as_allowed, def_users, 1) < 0)
		return -ENOMEM;
	return 0;
}

/* A non-empty array of unique strings, each accepted by valid(); copied into *plist. */
static int get_name_list(const char *path, const cJSON *item, const char *key,
			 int (*valid)(const char *), char ***plist, size_t *pn, char *err,
			 size_t errlen)
{
	const char **names = NULL;
	const cJSON *el;
	size_t n = 0, i, count;
	char esc[SSM_LOG_ESCAPE_BUFSZ];
	int r;

	if (!cJSON_IsArray(item)) {
		ERR("%s: key '%s': must be an array of strings", path, key);
		return -EINVAL;
	}
	count = (size_t)cJSON_GetArraySize(item);
	if (count == 0 || count > CFG_MAX_LIST) {
		ERR("%s: key '%s': must list 1 to %d entries", path, key, CFG_MAX_LIST);
		return -EINVAL;
	}
	names = calloc(count, sizeof(*names));
	if (names == NULL)
		return -ENOMEM;
	cJSON_ArrayForEach(el, item) {
		if (!cJSON_IsString(el) || el->valuestring == NULL) {
			ERR("%s: key '%s': entry %zu is not a string", path, key, n);
			r = -EINVAL;
			goto out;
		}
		if (!valid(el->valuestring)) {
			ERR("%s: key '%s': invalid entry \"%s\"", path, key,
			    ssm_log_escape(el->valuestring, esc, sizeof(esc)));
			r = -EINVAL;
			goto out;
		}
		for (i = 0; i < n; i++) {
			if (strcmp(names[i], el->valuestring) == 0) {
				ERR("%s: key '%s': duplicate entry \"%s\"", path, key,
				    ssm_log_escape(el->valuestring, esc, sizeof(esc)));
				r = -EINVAL;
				goto out;
			}
		}
		names[n++] = el->valuestring;
	}
	r = set_list(plist, pn, names, n);
out:
	free(names);
	return r;
}

static int glob_valid(const char *g)
{
	size_t i;
	int depth = 0;

	if (!ssm_str_charset(g, 1, CFG_MAX_GLOB, is_glob_char))
		return 0;
	/* brackets must pair up: an unterminated '[' makes fnmatch match it literally,
	 * which is never what the administrator meant */
	for (i = 0; g[i] != '\0'; i++) {
		if (g[i] == '[') {
			if (depth)
				return 0;
			depth = 1;
		} else if (g[i] == ']' && depth) {
			depth = 0;
		}
	}
	return depth == 0;
}

static int get_path(const char *path, const cJSON *item, const char *key, char **pdst,
		    char *err, size_t errlen)
{
	if (!cJSON_IsString(item) || item->valuestring == NULL) {
		ERR("%s: key '%s': must be a string", path, key);
		return -EINVAL;
	}
	if (!path_valid(item->valuestring)) {
		ERR("%s: key '%s': must be an absolute path without . or .. components", path, key);
		return -EINVAL;
	}
	return set_str(pdst, item->valuestring);
}

static int get_int(const char *path, const cJSON *item, const char *key, int64_t min,
		   int64_t max, int64_t *pval, char *err, size_t errlen)
{
	int64_t v;

	if (!cJSON_IsNumber(item) || ssm_json_to_int64(item, &v) < 0) {
		ERR("%s: key '%s': must be an integer", path, key);
		return -EINVAL;
	}
	if (v < min || v > max) {
		ERR("%s: key '%s': must be between %lld and %lld", path, key, (long long)min,
		    (long long)max);
		return -EINVAL;
	}
	*pval = v;
	return 0;
}

static int get_bool(const char *path, const cJSON *item, const char *key, int *pval, char *err,
		    size_t errlen)
{
	if (!cJSON_IsBool(item)) {
		ERR("%s: key '%s': must be true or false", path, key);
		return -EINVAL;
	}
	*pval = cJSON_IsTrue(item) ? 1 : 0;
	return 0;
}

static int get_tags(const char *path, const cJSON *item, cJSON **pdst, char *err, size_t errlen)
{
	const cJSON *el;
	int n = 0;
	cJSON *copy;

	if (!cJSON_IsObject(item)) {
		ERR("%s: key 'host_tags': must be an object of strings", path);
		return -EINVAL;
	}
	cJSON_ArrayForEach(el, item) {
		size_t kl = el->string ? strlen(el->string) : 0;
		if (!cJSON_IsString(el) || el->valuestring == NULL) {
			ERR("%s: key 'host_tags': tag values must be strings", path);
			return -EINVAL;
		}
		if (kl < 1 || kl > CFG_MAX_TAG_KEY || strlen(el->valuestring) > CFG_MAX_TAG_VALUE) {
			ERR("%s: key 'host_tags': tag keys are 1 to %d characters, values at most %d",
			    path, CFG_MAX_TAG_KEY, CFG_MAX_TAG_VALUE);
			return -EINVAL;
		}
		if (++n > CFG_MAX_TAGS) {
			ERR("%s: key 'host_tags': more than %d tags", path, CFG_MAX_TAGS);
			return -EINVAL;
		}
	}
	copy = cJSON_Duplicate(item, 1);
	if (copy == NULL)
		return -ENOMEM;
	cJSON_Delete(*pdst);
	*pdst = copy;
	return 0;
}

static const char *const session_type_names[] = {
	"Standard_Stream", "InteractiveCommands", "NonInteractiveCommands", "Port",
};

static int get_profiles(const char *path, const cJSON *item, cJSON **pdst, char *err,
			size_t errlen)
{
	const cJSON *el;
	cJSON *copy;
	char esc[SSM_LOG_ESCAPE_BUFSZ];

	if (!cJSON_IsObject(item)) {
		ERR("%s: key 'seccomp_profiles': must be an object of session type to profile name",
		    path);
		return -EINVAL;
	}
	cJSON_ArrayForEach(el, item) {
		size_t i;
		int known = 0;
		for (i = 0; i < sizeof(session_type_names) / sizeof(session_type_names[0]); i++)
			if (el->string && strcmp(el->string, session_type_names[i]) == 0)
				known = 1;
		if (!known) {
			ERR("%s: key 'seccomp_profiles': unknown session type \"%s\"", path,
			    ssm_log_escape(el->string, esc, sizeof(esc)));
			return -EINVAL;
		}
		if (!cJSON_IsString(el) || !ssm_str_charset(el->valuestring, 1, 32, is_profile_char)) {
			ERR("%s: key 'seccomp_profiles': profile for %s must be 1 to 32 of [a-z0-9_-]",
			    path, el->string);
			return -EINVAL;
		}
	}
	copy = cJSON_Duplicate(item, 1);
	if (copy == NULL)
		return -ENOMEM;
	cJSON_Delete(*pdst);
	*pdst = copy;
	return 0;
}

static int is_param_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

/* {"DOC-NAME": ["param", ...], ...} */
static int get_command_lines(const char *path, const cJSON *item, cJSON **pdst, char *err,
			     size_t errlen)
{
	const cJSON *el, *p;
	cJSON *copy;
	char esc[SSM_LOG_ESCAPE_BUFSZ];

	if (!cJSON_IsObject(item)) {
		ERR("%s: key 'command_line_parameters': must be an object of document name to a "
		    "list of parameter names", path);
		return -EINVAL;
	}
	cJSON_ArrayForEach(el, item) {
		if (el->string == NULL || !ssm_document_name_valid(el->string)) {
			ERR("%s: key 'command_line_parameters': \"%s\" is not a document name", path,
			    ssm_log_escape(el->string ? el->string : "", esc, sizeof(esc)));
			return -EINVAL;
		}
		if (!cJSON_IsArray(el) || cJSON_GetArraySize(el) < 1 || cJSON_GetArraySize(el) > 16) {
			ERR("%s: key 'command_line_parameters': %s must be a list of 1 to 16 "
			    "parameter names", path, el->string);
			return -EINVAL;
		}
		cJSON_ArrayForEach(p, el) {
			if (!cJSON_IsString(p) || !ssm_str_charset(p->valuestring, 1, 64, is_param_char)) {
				ERR("%s: key 'command_line_parameters': %s: parameter names are 1 to "
				    "64 of [A-Za-z0-9_.-]", path, el->string);
				return -EINVAL;
			}
		}
	}
	copy = cJSON_Duplicate(item, 1);
	if (copy == NULL)
		return -ENOMEM;
	cJSON_Delete(*pdst);
	*pdst = copy;
	return 0;
}

const cJSON *ssm_config_command_line_params(const struct ssm_config *cfg, const char *doc_name)
{
	const cJSON *a;

	if (cfg->command_line_params == NULL || doc_name == NULL)
		return NULL;
	a = cJSON_GetObjectItemCaseSensitive(cfg->command_line_params, doc_name);
	return cJSON_IsArray(a) ? a : NULL;
}

static int get_string(const char *path, const cJSON *item, const char *key, size_t maxlen,
		      char **pdst, char *err, size_t errlen)
{
	size_t len;

	if (!cJSON_IsString(item) || item->valuestring == NULL) {
		ERR("%s: key '%s': must be a string", path, key);
		return -EINVAL;
	}
	len = strlen(item->valuestring);
	if (len < 1 || len > maxlen) {
		ERR("%s: key '%s': must be 1 to %zu characters", path, key, maxlen);
		return -EINVAL;
	}
	return set_str(pdst, item->valuestring);
}

static int config_key(struct ssm_config *cfg, const char *path, const cJSON *item, char *err,
		      size_t errlen)
{
	const char *key = item->string;
	char esc[SSM_LOG_ESCAPE_BUFSZ];
	int r;

	if (strcmp(key, "host_id") == 0) {
		if (!cJSON_IsString(item) || !host_id_valid(item->valuestring)) {
			ERR("%s: key 'host_id': must be a string i-XXXX or mi-XXXX (1 to 64 of "
			    "[A-Za-z0-9] after the dash)", path);
			return -EINVAL;
		}
		return set_str(&cfg->host_id, item->valuestring);
	}
	if (strcmp(key, "host_tags") == 0)
		return get_tags(path, item, &cfg->host_tags, err, errlen);
	if (strcmp(key, "issuer") == 0)
		return get_string(path, item, key, CFG_MAX_ISSUER, &cfg->issuer, err, errlen);
	if (strcmp(key, "trusted_keys") == 0)
		return get_path(path, item, key, &cfg->trusted_keys, err, errlen);
	if (strcmp(key, "max_token_lifetime") == 0)
		return get_int(path, item, key, 1, 86400, &cfg->max_token_lifetime, err, errlen);
	if (strcmp(key, "leeway") == 0)
		return get_int(path, item, key, 0, 3600, &cfg->leeway, err, errlen);
	if (strcmp(key, "documents_dir") == 0)
		return get_path(path, item, key, &cfg->documents_dir, err, errlen);
	if (strcmp(key, "allowed_documents") == 0)
		return get_name_list(path, item, key, glob_valid, &cfg->allowed_documents,
				     &cfg->n_allowed_documents, err, errlen);
	if (strcmp(key, "run_as_allowed") == 0)
		return get_name_list(path, item, key, ssm_config_user_name_valid,
				     &cfg->run_as_allowed, &cfg->n_run_as_allowed, err, errlen);
	if (strcmp(key, "state_dir") == 0)
		return get_path(path, item, key, &cfg->state_dir, err, errlen);
	if (strcmp(key, "run_dir") == 0)
		return get_path(path, item, key, &cfg->run_dir, err, errlen);
	if (strcmp(key, "log_dir") == 0)
		return get_path(path, item, key, &cfg->log_dir, err, errlen);
	/* project extensions */
	if (strcmp(key, "record_input") == 0)
		return get_bool(path, item, key, &cfg->record_input, err, errlen);
	if (strcmp(key, "transcript_max_bytes") == 0)
		return get_int(path, item, key, 0, CFG_MAX_TRANSCRIPT, &cfg->transcript_max_bytes,
			       err, errlen);
	if (strcmp(key, "transcript_backlog_max") == 0)
		return get_int(path, item, key, 0, CFG_MAX_TRANSCRIPT, &cfg->transcript_backlog_max,
			       err, errlen);
	if (strcmp(key, "transcript_limit_action") == 0) {
		if (cJSON_IsString(item) && strcmp(item->valuestring, "end") == 0) {
			cfg->transcript_limit_action = SSM_LIMIT_END;
			return 0;
		}
		if (cJSON_IsString(item) && strcmp(item->valuestring, "stop_recording") == 0) {
			cfg->transcript_limit_action = SSM_LIMIT_STOP_RECORDING;
			return 0;
		}
		ERR("%s: key 'transcript_limit_action': must be \"end\" or \"stop_recording\"", path);
		return -EINVAL;
	}
	if (strcmp(key, "replay_durability") == 0) {
		if (cJSON_IsString(item) && strcmp(item->valuestring, "fsync") == 0) {
			cfg->replay_fsync = 1;
			return 0;
		}
		if (cJSON_IsString(item) && strcmp(item->valuestring, "boot") == 0) {
			cfg->replay_fsync = 0;
			return 0;
		}
		ERR("%s: key 'replay_durability': must be \"fsync\" or \"boot\"", path);
		return -EINVAL;
	}
	if (strcmp(key, "recorder_user") == 0) {
		if (!cJSON_IsString(item) || !ssm_config_user_name_valid(item->valuestring)) {
			ERR("%s: key 'recorder_user': must be a valid user name", path);
			return -EINVAL;
		}
		return set_str(&cfg->recorder_user, item->valuestring);
	}
	if (strcmp(key, "seccomp_profiles") == 0)
		return get_profiles(path, item, &cfg->seccomp_profiles, err, errlen);
	if (strcmp(key, "command_line_parameters") == 0)
		return get_command_lines(path, item, &cfg->command_line_params, err, errlen);
	if (strcmp(key, "broker_documents") == 0)
		return get_bool(path, item, key, &cfg->broker_documents, err, errlen);
	if (strcmp(key, "document_cache_max_bytes") == 0)
		return get_int(path, item, key, 64 * 1024, INT64_C(1) << 30,
			       &cfg->document_cache_max_bytes, err, errlen);
	if (strcmp(key, "allow_privilege") == 0)
		return get_bool(path, item, key, &cfg->allow_privilege, err, errlen);
	if (strcmp(key, "ssm_user_sudo") == 0)
		return get_bool(path, item, key, &cfg->ssm_user_sudo, err, errlen);
	if (strcmp(key, "broker_url") == 0) {
		/* the scheme and a bounded, printable string here; ssm-agent parses the rest */
		if (!cJSON_IsString(item) || (strncmp(item->valuestring, "https://", 8) != 0 &&
					      strncmp(item->valuestring, "wss://", 6) != 0)) {
			ERR("%s: key 'broker_url': must be a string https://HOST[:PORT]", path);
			return -EINVAL;
		}
		if (!ssm_str_charset(item->valuestring, 9, 300, is_url_char)) {
			ERR("%s: key 'broker_url': at most 300 printable characters", path);
			return -EINVAL;
		}
		return set_str(&cfg->broker_url, item->valuestring);
	}
	if (strcmp(key, "transcript_delivery") == 0) {
		if (!cJSON_IsString(item) || (strcmp(item->valuestring, "required") != 0 &&
					      strcmp(item->valuestring, "deferred") != 0)) {
			ERR("%s: key 'transcript_delivery': must be \"required\" or \"deferred\"",
			    path);
			return -EINVAL;
		}
		cfg->transcript_delivery_required = strcmp(item->valuestring, "required") == 0;
		return 0;
	}
	if (strcmp(key, "broker_ca") == 0)
		return get_path(path, item, key, &cfg->broker_ca, err, errlen);
	if (strcmp(key, "host_certificate") == 0)
		return get_path(path, item, key, &cfg->host_certificate, err, errlen);
	if (strcmp(key, "host_key") == 0)
		return get_path(path, item, key, &cfg->host_key, err, errlen);
	r = -EINVAL;
	ERR("%s: unknown key '%s'", path, ssm_log_escape(key, esc, sizeof(esc)));
	return r;
}

int ssm_config_parse(const char *buf, size_t len, const char *path, struct ssm_config **pcfg,
		     char *err, size_t errlen)
{
	struct ssm_config *cfg = NULL;
	cJSON *root = NULL;
	const cJSON *item;
	char jerr[256] = "";
	int r;

	*pcfg = NULL;
	if (path == NULL)
		path = "(config)";
	if (len > SSM_CONFIG_MAX_SIZE) {
		ERR("%s: larger than %d bytes", path, SSM_CONFIG_MAX_SIZE);
		return -EINVAL;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		ERR("out of memory");
		return -ENOMEM;
	}
	cfg->path = strdup(path);
	if (cfg->path == NULL || set_defaults(cfg) < 0) {
		ERR("out of memory");
		r = -ENOMEM;
		goto out;
	}
	r = ssm_json_parse_object(buf, len, &root, jerr, sizeof(jerr));
	if (r < 0) {
		ERR("%s: not a valid JSON object: %s", path, jerr);
		goto out;
	}
	cJSON_ArrayForEach(item, root) {
		r = config_key(cfg, path, item, err, errlen);
		if (r == -ENOMEM)
			ERR("out of memory");
		if (r < 0)
			goto out;
	}
	if (cfg->host_id == NULL) {
		ERR("%s: missing required key 'host_id'", path);
		r = -EINVAL;
	} else if (cfg->issuer == NULL) {
		ERR("%s: missing required key 'issuer'", path);
		r = -EINVAL;
	} else if (cfg->trusted_keys == NULL) {
		ERR("%s: missing required key 'trusted_keys'", path);
		r = -EINVAL;
	}
	if (r < 0)
		goto out;
	*pcfg = cfg;
	cfg = NULL;
	r = 0;
out:
	cJSON_Delete(root);
	ssm_config_free(cfg);
	return r;
}

int ssm_config_load(const char *path, struct ssm_config **pcfg, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	*pcfg = NULL;
	if (path == NULL)
		path = SSM_DEFAULT_CONFIG;
	r = ssm_read_file(path, SSM_CONFIG_MAX_SIZE, SSM_FILE_TRUSTED, &buf, &len, err, errlen);
	if (r == -EFBIG || (r < 0 && r != -ENOENT && r != -EACCES && r != -ENOMEM))
		r = -EINVAL; /* too large, not a regular file, I/O: the configuration is unusable */
	if (r < 0)
		goto out;
	r = ssm_config_parse(buf, len, path, pcfg, err, errlen);
out:
	free(buf);
	return r;
}

int ssm_config_document_allowed(const struct ssm_config *cfg, const char *name)
{
	size_t i;

	if (cfg == NULL || name == NULL || !ssm_document_name_valid(name))
		return 0;
	for (i = 0; i < cfg->n_allowed_documents; i++) {
		/* flags 0: document names never contain '/', and a leading '.' is not special */
		if (fnmatch(cfg->allowed_documents[i], name, 0) == 0)
			return 1;
	}
	return 0;
}

int ssm_config_run_as_allowed(const struct ssm_config *cfg, const char *user)
{
	size_t i;

	if (cfg == NULL || user == NULL)
		return 0;
	for (i = 0; i < cfg->n_run_as_allowed; i++)
		if (strcmp(cfg->run_as_allowed[i], user) == 0)
			return 1;
	return 0;
}

const char *ssm_config_seccomp_profile(const struct ssm_config *cfg, const char *session_type)
{
	const cJSON *p;

	if (cfg == NULL || session_type == NULL)
		return "baseline";
	p = ssm_json_member(cfg->seccomp_profiles, session_type);
	if (cJSON_IsString(p) && p->valuestring != NULL)
		return p->valuestring;
	return "baseline";
}

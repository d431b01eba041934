/* shctx.c - the shell context of every {{ name }} in a template (see shctx.h).
 *
 * The lexer follows the POSIX sh token rules (XCU 2.3, 2.6, 2.7.4, 2.9) far enough to
 * know, at every byte, whether it is unquoted, inside a quoting or substitution construct,
 * a comment or a here-document, and for unquoted words whether the word is the command
 * name, an assignment before it, a redirection target or an argument, and of which
 * command.  Where it is unsure it says "not a word", never "a word": its answers only ever
 * refuse templates.  A placeholder is found exactly as the renderer finds it (the first
 * "{{" at or after the end of the previous one, up to the first "}}" after it), so the
 * two can never disagree on where a value goes.
 *
 * Commands whose arguments are shell code (eval, ., source, trap, let, declare, typeset,
 * local, watch; sh/bash/dash/... and su/runuser after -c) make a placeholder among their
 * arguments "code", also behind the wrappers sudo, env, exec, command, nohup, nice, ...
 * Programs that run their arguments as code in other ways (ssh HOST CMD, xargs, find
 * -exec, awk, perl -e, python -c, ...) remain the document author's responsibility
 * (docs/SECURITY.md). */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "log.h"
#include "shctx.h"
#include "util.h"

#define ERR(...) ssm_errf(l->err, l->errlen, __VA_ARGS__)

#define WORD_MAX_REFS 8
#define LIT_MAX 64
#define HEREDOC_MAX 8
#define DELIM_MAX 128
#define CASE_DEPTH 16
#define NEST_MAX 64

struct lx {
	const char *t;
	size_t n, i;
	int (*fn)(void *arg, const struct ssm_sh_ref *ref);
	void *arg;
	char *err;
	size_t errlen;
	enum ssm_sh_ctx outer; /* the outermost construct we are in, SSM_SH_WORD for none */
	int nest;
};

static const char *const ctx_text[] = {
	[SSM_SH_WORD] = "a word of its own",
	[SSM_SH_GLUED] = "part of a word",
	[SSM_SH_SQUOTE] = "inside single quotes",
	[SSM_SH_DQUOTE] = "inside double quotes",
	[SSM_SH_DOLLAR_SQUOTE] = "inside $'...'",
	[SSM_SH_BACKTICK] = "inside backticks",
	[SSM_SH_CMDSUBST] = "inside a command substitution $( )",
	[SSM_SH_ARITH] = "inside an arithmetic expression",
	[SSM_SH_PARAM] = "inside a parameter expansion ${ }",
	[SSM_SH_HEREDOC] = "inside a here-document",
	[SSM_SH_HEREDOC_DELIM] = "a here-document delimiter",
	[SSM_SH_COMMENT] = "inside a comment",
	[SSM_SH_GLUED_UNSAFE] = "glued to quotes, a backslash, an expansion or a pattern character",
	[SSM_SH_ASSIGNMENT] = "the value of a variable assignment before a command",
	[SSM_SH_CODE] = "an argument that the command runs as shell code",
};

const char *ssm_sh_ctx_text(enum ssm_sh_ctx ctx)
{
	if ((unsigned)ctx < sizeof(ctx_text) / sizeof(ctx_text[0]) && ctx_text[ctx])
		return ctx_text[ctx];
	return "in an unknown context";
}

static int at_ref(const struct lx *l, size_t i)
{
	return i + 1 < l->n && l->t[i] == '{' && l->t[i + 1] == '{';
}

/* At "{{": fill ref with the placeholder and move past it. */
static int read_ref(struct lx *l, struct ssm_sh_ref *ref)
{
	const char *close = strstr(l->t + l->i + 2, "}}");
	const char *a, *b;

	if (close == NULL) {
		ERR("unterminated {{ in template");
		return -EINVAL;
	}
	memset(ref, 0, sizeof(*ref));
	ref->start = l->i;
	ref->end = (size_t)(close + 2 - l->t);
	a = l->t + l->i + 2;
	b = close;
	while (a < b && (*a == ' ' || *a == '\t'))
		a++;
	while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
		b--;
	ref->name = a;
	ref->namelen = (size_t)(b - a);
	l->i = ref->end;
	return 0;
}

static int emit(struct lx *l, struct ssm_sh_ref *ref, enum ssm_sh_ctx ctx)
{
	ref->ctx = l->outer != SSM_SH_WORD ? l->outer : ctx;
	if (ref->ctx != SSM_SH_WORD && ref->ctx != SSM_SH_GLUED)
		ref->command_name = 0;
	return l->fn(l->arg, ref);
}

/* At "{{" inside a construct: read it and report it with ctx. */
static int ref_in(struct lx *l, enum ssm_sh_ctx ctx)
{
	struct ssm_sh_ref ref;
	int r = read_ref(l, &ref);

	return r ? r : emit(l, &ref, ctx);
}

static int enter(struct lx *l, enum ssm_sh_ctx ctx, enum ssm_sh_ctx *saved)
{
	*saved = l->outer;
	if (l->outer == SSM_SH_WORD)
		l->outer = ctx;
	if (++l->nest > NEST_MAX) {
		ERR("template nests quotes and substitutions too deeply");
		return -EINVAL;
	}
	return 0;
}

static void leave(struct lx *l, enum ssm_sh_ctx saved)
{
	l->outer = saved;
	l->nest--;
}

/* Syntax that shells disagree on, or that re-reads or runs text, is refused outright in a
 * template with parameters: a strict subset of sh is easier to get right than all of it. */
static int refuse_syntax(struct lx *l, const char *what)
{
	ERR("%s is not supported in a template with parameters (plain words, '...', \"...\" "
	    "with $NAME, redirections, pipes, lists and if/for/while/case are)", what);
	return -EINVAL;
}

static int unterminated(struct lx *l, const char *what)
{
	ERR("template ends inside %s", what);
	return -EINVAL;
}

static int skip_dollar(struct lx *l, int in_dquote);
static int is_name_char(int c);
static int skip_dquote(struct lx *l);
static int lex_script(struct lx *l, int term);

/* At a backslash outside single quotes: the backslash and the byte it escapes (never the
 * first brace of a placeholder, which the renderer will see as one). */
static void skip_escape(struct lx *l)
{
	l->i++;
	if (l->i < l->n && !at_ref(l, l->i))
		l->i++;
}

/* At ' (dollar: at $'). */
static int skip_squote(struct lx *l, int dollar)
{
	enum ssm_sh_ctx saved, ctx = dollar ? SSM_SH_DOLLAR_SQUOTE : SSM_SH_SQUOTE;
	int r;

	if ((r = enter(l, ctx, &saved)) != 0)
		return r;
	l->i += dollar ? 2 : 1;
	while (l->i < l->n) {
		char c = l->t[l->i];

		if (at_ref(l, l->i)) {
			if ((r = ref_in(l, ctx)) != 0)
				return r;
		} else if (c == '\\' && dollar) {
			skip_escape(l);
		} else if (c == '\'') {
			l->i++;
			leave(l, saved);
			return 0;
		} else {
			l->i++;
		}
	}
	return unterminated(l, dollar ? "$'...'" : "single quotes");
}

static int is_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* At $: $name, ${NAME}, $1, $@ ..., or a literal $; everything else ($( ), $(( )), $[ ],
 * $'...', $"...", ${...} with operators) is refused. */
static int skip_dollar(struct lx *l, int in_dquote)
{
	size_t i = l->i;
	char c2;

	if (i + 1 >= l->n || at_ref(l, i + 1)) {
		l->i++;
		return 0;
	}
	c2 = l->t[i + 1];
	if (c2 == '(')
		return refuse_syntax(l, i + 2 < l->n && l->t[i + 2] == '('
		                            ? "an arithmetic expression $(( ))"
		                            : "a command substitution $( )");
	if (c2 == '[')
		return refuse_syntax(l, "bash's arithmetic expression $[ ]");
	if (c2 == '\'' && !in_dquote)
		return refuse_syntax(l, "$'...' (dash has no such quoting)");
	if (c2 == '"' && !in_dquote)
		return refuse_syntax(l, "$\"...\" (dash has no such quoting)");
	if (c2 == '{') { /* ${NAME} or ${1} only: a parameter expansion with operators is refused */
		size_t k = i + 2;

		while (k < l->n && is_name_char(l->t[k]))
			k++;
		if (k == i + 2 || k >= l->n || l->t[k] != '}')
			return refuse_syntax(l, "a parameter expansion ${ } with operators");
		l->i = k + 1;
		return 0;
	}
	if (is_name_char(c2)) { /* $name, $1: the name is plain text */
		l->i += 2;
		while (l->i < l->n && is_name_char(l->t[l->i]))
			l->i++;
		return 0;
	}
	if (strchr("@*#?-$!", c2) != NULL) { /* a special parameter */
		l->i += 2;
		return 0;
	}
	l->i++; /* a literal $: the next byte is read on its own (a quote, a backslash, ...) */
	return 0;
}

/* At ". */
static int skip_dquote(struct lx *l)
{
	enum ssm_sh_ctx saved;
	int r;

	if ((r = enter(l, SSM_SH_DQUOTE, &saved)) != 0)
		return r;
	l->i++;
	while (l->i < l->n) {
		char c = l->t[l->i];

		if (at_ref(l, l->i)) {
			r = ref_in(l, SSM_SH_DQUOTE);
		} else if (c == '"') {
			l->i++;
			leave(l, saved);
			return 0;
		} else if (c == '\\') {
			skip_escape(l);
			r = 0;
		} else if (c == '`') {
			r = refuse_syntax(l, "a command substitution with backticks");
		} else if (c == '$') {
			r = skip_dollar(l, 1);
		} else {
			l->i++;
			r = 0;
		}
		if (r != 0)
			return r;
	}
	return unterminated(l, "double quotes");
}

/* ---- words and commands ---- */

enum code_mode {
	CODE_NONE = 0,
	CODE_ALL,    /* every argument is code (eval, ...) */
	CODE_SHELL,  /* a shell's options: a placeholder before its first operand is code */
};

enum case_state { CASE_SUBJECT = 1, CASE_IN, CASE_PATTERN, CASE_BODY };

struct word {
	int active;
	size_t start;
	struct ssm_sh_ref refs[WORD_MAX_REFS];
	int nrefs;
	int overflow; /* more placeholders than refs[] holds (reported at once) */
	int text;     /* any byte besides placeholders */
	int plain;    /* no quote, escape or expansion */
	int unsafe;   /* some byte besides placeholders that is not plain safe text */
	int assign;   /* starts with NAME= (before any placeholder or quoting) */
	int eq_seen;
	int glob;     /* an unquoted * ? [ or { (a command name with one is not known) */
	int dynamic;  /* an unquoted $ expansion: the word may vanish or split */
	int tilde;    /* a leading ~ not yet followed by / */
	char lit[LIT_MAX]; /* the text of a plain word without placeholders */
	size_t litlen;
	int lit_overflow;
};

struct wrapper_opts;

struct script {
	int cmdpos;      /* the next word may be a command name (or a reserved word) */
	int redir_next;  /* the next word is a redirection target */
	int heredoc_next; /* ... of << (1) or <<- (2) */
	int wrapper;     /* the command runs its arguments as another command (sudo, env, ...) */
	enum code_mode code;
	enum { KIND_OTHER = 0, KIND_ENV, KIND_SUDO, KIND_PRINTF, KIND_TEST } kind;
	int env_split;            /* env -S seen: the rest is a command line */
	const struct wrapper_opts *wrapper_opts;
	int wrapper_operands;     /* operands of the wrapper still to come before its command */
	int wrapper_optarg;       /* the next word is the value of a wrapper's option */
	int nargs;                /* arguments of the current command so far */
	int shell_optarg;         /* the next word is the value of a shell's option (-o x) */
	int shell_opts_done;      /* a shell's -- was seen */
	int dyn_arg;              /* an earlier argument may expand to any number of words */
	int printf_fmt;           /* printf's first argument was a literal format */
	int prefix;               /* an assignment or redirection came first: no reserved word */
	int prev_ref;             /* the previous argument had a placeholder */
	char prev_arg[LIT_MAX];   /* the previous argument's text when literal, else "" */
	enum case_state cases[CASE_DEPTH];
	int ncase;
	int pat_start; /* at the first word of a case pattern list (where esac may end it) */
	struct {
		char delim[DELIM_MAX];
		size_t len;
		int strip;
	} hd[HEREDOC_MAX];
	int nhd;
	int depth; /* parentheses, inside $( ) */
	struct word w;
};

static int safe_glue(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("_./:,@%+=-", c) != NULL || c >= 0x80;
}

static void word_start(struct lx *l, struct script *s)
{
	if (s->w.active)
		return;
	memset(&s->w, 0, sizeof(s->w));
	s->w.active = 1;
	s->w.plain = 1;
	s->w.start = l->i;
}

/* A byte of the word other than a placeholder. */
static void word_byte(struct script *s, unsigned char c, int quoting)
{
	struct word *w = &s->w;

	if (c == '=' && !w->eq_seen && !quoting) {
		/* NAME=, and bash's NAME+= and NAME[subscript]= (an array element): anything
		 * that starts with a name and has an = before any quote or placeholder */
		w->assign = w->litlen > 0 && !w->lit_overflow && w->nrefs == 0 && w->plain &&
		            !(w->lit[0] >= '0' && w->lit[0] <= '9') &&
		            is_name_char((unsigned char)w->lit[0]);
		w->eq_seen = 1;
	}
	w->text = 1;
	if (quoting) {
		w->plain = 0;
		w->unsafe = 1;
		return;
	}
	if (strchr("*?[{", c) != NULL)
		w->glob = 1;
	if (c == '~' && w->litlen == 0 && w->nrefs == 0) {
		w->tilde = 1; /* ~/ and ~name/ expand before the rest: fine when / follows */
	} else if (c == '/' && w->tilde) {
		w->tilde = 0;
	} else if (!safe_glue(c)) {
		w->unsafe = 1;
	}
	if (w->litlen + 1 < LIT_MAX)
		w->lit[w->litlen++] = (char)c;
	else
		w->lit_overflow = 1;
}

static const char *base_name(const char *s)
{
	const char *b = strrchr(s, '/');

	return b ? b + 1 : s;
}

static int in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* Arguments are code, or names/arithmetic that bash evaluates (a[$(cmd)] runs cmd):
 * eval-likes, declaration builtins (export and readonly too: RANDOM=, integer variables,
 * PS4), read/mapfile/unset/wait (variable names), [[ ]] (arithmetic operands), completion
 * and key-binding builtins (commands), bash's function and coproc keywords. */
static const char *const code_all[] = {
    "trap", "let", "declare", "typeset", "local", "export", "readonly",
    "watch", "read", "mapfile", "readarray", "unset", "wait", "compgen", "complete",
    "bind", "enable", "fc", "coproc", "function", "select", "getopts", "jobs",
    "flock", "script", /* their -c may follow operands: every argument counts as code */
    "su", "runuser", "busybox", "hash", "ssh", "fish", "csh", "tcsh", NULL};
/* Commands that change how the rest of the template is read (aliases) or run text as
 * code: refused as commands in a template with parameters, with or without a placeholder. */
static const char *const refused_cmds[] = {"eval", ".", "source", "alias", "unalias", NULL};
/* Shells whose first operand is a script (or, after -c, the code), the rest its arguments. */
static const char *const script_shells[] = {"sh", "bash", "dash", "ksh", "ksh93", "mksh",
                                            "pdksh", "zsh", "ash", "posh", "yash", "rbash",
                                            NULL};
static const char *const wrappers[] = {"sudo", "doas", "env", "exec", "command", "builtin",
                                       "nohup", "nice", "ionice", "chrt", "taskset", "timeout",
                                       "stdbuf", "setsid", "time", "xargs", "unbuffer",
                                       "chroot", "setpriv", "unshare", "nsenter",
                                       "systemd-run", NULL};
static const char *const reserved_cmd[] = {"if", "then", "else", "elif", "do", "while",
                                           "until", "{", "!", NULL};
static const char *const reserved_end[] = {"fi", "done", "}", NULL};

/* The word's text after quote removal, as the shell will see it: 1, or 0 when it is not
 * known before run time (an expansion or a placeholder in it). */
static int word_text(const struct lx *l, const struct word *w, char *out, size_t outsz)
{
	size_t k, n = 0;

	for (k = w->start; k < l->i; k++) {
		char c = l->t[k];

		if (c == '$' || c == '`' || at_ref(l, k))
			return 0;
		if (c == '\\' && k + 1 < l->i)
			c = l->t[++k];
		else if (c == '\'' || c == '"')
			continue;
		if (n + 1 >= outsz)
			return 0;
		out[n++] = c;
	}
	out[n] = '\0';
	return 1;
}

/* A shell: one of the list, or a name like sh, bash, rbash, mksh, yash (r?[a-z]{0,3}sh);
 * a script's name (deploy.sh: it has a dot) is not one. */
static int is_shell(const char *b)
{
	size_t n = strlen(b), k;

	if (in_list(b, script_shells))
		return 1;
	if (n < 2 || n > 6 || strcmp(b + n - 2, "sh") != 0)
		return 0;
	for (k = 0; k < n; k++)
		if (b[k] < 'a' || b[k] > 'z')
			return 0;
	return 1;
}

/* What a wrapper's options are: those that take the next word as their value, flags that
 * take none, flags that make the wrapped command a shell (sudo -s), and how many operands
 * come before the command.  An option in none of the lists (a grouped -Hu, a long option
 * not listed) makes every later placeholder of the command code: it may take the next
 * word, and then the command is not where this lexer thinks. */
static const struct wrapper_opts {
	const char *name;
	const char *const opts[12];
	const char *const flags[16];
	const char *const code_flags[5];
	int operands;
} wrapper_opts[] = {
	{"sudo", {"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-T", "-U", "-R", NULL},
	 {"-b", "-E", "-H", "-k", "-K", "-n", "-P", "-S", "--", NULL},
	 {"-s", "-i", "--shell", "--login", NULL}, 0},
	{"doas", {"-u", "-C", NULL}, {"-n", "--", NULL}, {"-s", NULL}, 0},
	{"env", {"-u", "-C", "--unset", "--chdir", NULL},
	 {"-i", "-0", "-v", "--ignore-environment", "--null", "--", NULL}, {NULL}, 0},
	{"nice", {"-n", "--adjustment", NULL}, {"--", NULL}, {NULL}, 0},
	{"ionice", {"-c", "-n", "-p", "-P", "-u", NULL}, {"-t", "--", NULL}, {NULL}, 0},
	{"timeout", {"-s", "-k", "--signal", "--kill-after", NULL},
	 {"--preserve-status", "--foreground", "-v", "--verbose", "--", NULL}, {NULL}, 1},
	{"stdbuf", {"-i", "-o", "-e", NULL}, {"--", NULL}, {NULL}, 0},
	{"chrt", {NULL}, {"-f", "-r", "-o", "-b", "-i", "-d", "-R", "--", NULL}, {NULL}, 1},
	{"taskset", {NULL}, {"--", NULL}, {NULL}, 1},
	{"time", {"-f", "-o", "--format", "--output", NULL},
	 {"-p", "-a", "-q", "-v", "--portability", "--append", "--quiet", "--verbose", "--",
	  NULL}, {NULL}, 0},
	{"exec", {"-a", NULL}, {"-c", "-l", "--", NULL}, {NULL}, 0},
	{"chroot", {NULL}, {"--", NULL}, {NULL}, 1},
	{"nohup", {NULL}, {"--", NULL}, {NULL}, 0},
	{"setsid", {NULL}, {"-f", "-w", "-c", "--fork", "--wait", "--ctty", "--", NULL},
	 {NULL}, 0},
	{"command", {NULL}, {"-p", "--", NULL}, {NULL}, 0},
	{"builtin", {NULL}, {"--", NULL}, {NULL}, 0},
};

static const struct wrapper_opts *find_wrapper_opts(const char *b)
{
	size_t i;

	for (i = 0; i < sizeof(wrapper_opts) / sizeof(wrapper_opts[0]); i++)
		if (strcmp(b, wrapper_opts[i].name) == 0)
			return &wrapper_opts[i];
	return NULL;
}

/* The command (or a wrapper's command) is name, or NULL when it is chosen at run time:
 * how its arguments are read. */
static int set_command(struct lx *l, struct script *s, const char *name, int first)
{
	const char *b;

	s->wrapper_opts = NULL;
	s->wrapper_operands = 0;
	s->wrapper_optarg = 0;
	s->wrapper = 0;
	s->shell_optarg = 0;
	s->shell_opts_done = 0;
	if (name == NULL) { /* "$cmd" {{ x }}, da[s]h, {eval,}: the program may be eval */
		s->code = CODE_ALL;
		return 0;
	}
	b = base_name(name);
	if (in_list(b, refused_cmds)) {
		ERR("%s is not supported as a command in a template with parameters (it runs text "
		    "as code or changes how the rest of the template is read)", b);
		return -EINVAL;
	}
	if (strcmp(b, "env") == 0)
		s->kind = KIND_ENV;
	else if (strcmp(b, "sudo") == 0 || strcmp(b, "doas") == 0)
		s->kind = KIND_SUDO;
	else if (strcmp(b, "printf") == 0)
		s->kind = KIND_PRINTF;
	else if (strcmp(b, "test") == 0 || strcmp(b, "[") == 0)
		s->kind = KIND_TEST;
	else
		s->kind = KIND_OTHER;
	if (in_list(b, code_all))
		s->code = CODE_ALL;
	else if (is_shell(b))
		s->code = CODE_SHELL;
	else if (first)
		s->code = CODE_NONE;
	if (in_list(b, wrappers)) {
		const struct wrapper_opts *wo = find_wrapper_opts(b);

		s->wrapper = 1;
		s->wrapper_opts = wo;
		s->wrapper_operands = wo ? wo->operands : 0;
	}
	return 0;
}

static int emit_word_refs(struct lx *l, struct word *w, enum ssm_sh_ctx forced, int command_name)
{
	int k, r;

	for (k = 0; k < w->nrefs; k++) {
		enum ssm_sh_ctx ctx = forced;

		if (ctx == SSM_SH_WORD) {
			if (w->nrefs == 1 && !w->text)
				ctx = SSM_SH_WORD;
			else if (w->unsafe)
				ctx = SSM_SH_GLUED_UNSAFE;
			else
				ctx = SSM_SH_GLUED;
		}
		w->refs[k].command_name = command_name;
		if ((r = emit(l, &w->refs[k], ctx)) != 0)
			return r;
	}
	return 0;
}

static int heredoc_push(struct lx *l, struct script *s)
{
	const char *p = l->t + s->w.start;
	size_t len = l->i - s->w.start, n;

	if (s->nhd >= HEREDOC_MAX) {
		ERR("more than %d here-documents on one line", HEREDOC_MAX);
		return -EINVAL;
	}
	/* WORD, 'WORD' or "WORD", WORD of [A-Za-z0-9_]: nothing shells could read otherwise */
	if (len >= 2 && (p[0] == '\'' || p[0] == '"') && p[len - 1] == p[0]) {
		p++;
		len -= 2;
	}
	for (n = 0; n < len; n++)
		if (!is_name_char((unsigned char)p[n]))
			break;
	if (len == 0 || n != len) {
		ERR("a here-document delimiter must be a word of [A-Za-z0-9_] (quoted whole or "
		    "not) in a template with parameters");
		return -EINVAL;
	}
	if (len + 1 > DELIM_MAX) {
		ERR("here-document delimiter longer than %d bytes", DELIM_MAX - 1);
		return -EINVAL;
	}
	memcpy(s->hd[s->nhd].delim, p, len);
	s->hd[s->nhd].delim[len] = '\0';
	s->hd[s->nhd].len = len;
	s->hd[s->nhd].strip = s->heredoc_next == 2;
	s->nhd++;
	return 0;
}

/* The word just ended at l->i (the next byte is a delimiter or the end). */
static int word_end(struct lx *l, struct script *s)
{
	struct word *w = &s->w;
	const char *lit = NULL, *name = NULL;
	char text[LIT_MAX];
	int r;

	if (!w->active)
		return 0;
	w->active = 0;
	if (w->plain && w->nrefs == 0 && !w->lit_overflow) {
		w->lit[w->litlen] = '\0';
		lit = w->lit;
	}
	if (word_text(l, w, text, sizeof(text)))
		name = text;
	if (s->heredoc_next) {
		if ((r = heredoc_push(l, s)) != 0)
			return r;
		s->heredoc_next = 0;
		s->redir_next = 0;
		return emit_word_refs(l, w, SSM_SH_HEREDOC_DELIM, 0);
	}
	if (s->redir_next) {
		int k;

		s->redir_next = 0;
		for (k = 0; k < w->nrefs; k++)
			w->refs[k].redirect = 1;
		return emit_word_refs(l, w, SSM_SH_WORD, 0);
	}
	/* an IO number (2>file) or bash's {NAME}>file: a redirection, not a word */
	if (lit && l->i < l->n && (l->t[l->i] == '<' || l->t[l->i] == '>') &&
	    (strspn(lit, "0123456789") == w->litlen ||
	     (w->litlen > 2 && lit[0] == '{' && lit[w->litlen - 1] == '}'))) {
		if (s->cmdpos)
			s->prefix = 1;
		return 0;
	}
	if (s->ncase > 0) {
		enum case_state *cs = &s->cases[s->ncase - 1];

		if (*cs == CASE_SUBJECT) {
			*cs = CASE_IN;
			return emit_word_refs(l, w, SSM_SH_WORD, 0);
		}
		if (*cs == CASE_IN) {
			*cs = CASE_PATTERN;
			s->pat_start = 1;
			return emit_word_refs(l, w, SSM_SH_WORD, 0);
		}
		if ((*cs == CASE_PATTERN && s->pat_start) ||
		    (*cs == CASE_BODY && s->cmdpos && !s->prefix)) {
			if (lit && strcmp(lit, "esac") == 0) {
				s->ncase--;
				s->cmdpos = 0;
				return 0;
			}
		}
		if (*cs == CASE_PATTERN) {
			s->pat_start = 0;
			return emit_word_refs(l, w, SSM_SH_WORD, 0);
		}
	}
	if (s->cmdpos) {
		size_t k = w->start;

		/* NAME[subscript]=: an array element, whatever the subscript's quoting (bash) */
		while (k < l->i && is_name_char((unsigned char)l->t[k]))
			k++;
		if (k > w->start && k < l->i && l->t[k] == '[' &&
		    !(l->t[w->start] >= '0' && l->t[w->start] <= '9'))
			w->assign = 1;
		if (w->assign) {
			s->prefix = 1; /* reserved words are not recognised after it */
			return emit_word_refs(l, w, SSM_SH_ASSIGNMENT, 0);
		}
		if (lit && strcmp(lit, "[[") == 0) /* bash evaluates -eq operands, -v names */
			return refuse_syntax(l, "[[ ]] (use [ ])");
		if (lit && !s->prefix && in_list(lit, reserved_cmd))
			return 0;
		if (lit && !s->prefix && in_list(lit, reserved_end)) {
			s->cmdpos = 0;
			return 0;
		}
		s->cmdpos = 0;
		s->code = CODE_NONE;
		s->wrapper = 0;
		s->kind = KIND_OTHER;
		s->prev_ref = 0;
		s->prev_arg[0] = '\0';
		s->env_split = 0;
		s->wrapper_optarg = 0;
		s->nargs = 0;
		s->dyn_arg = 0;
		s->printf_fmt = 0;
		if (lit && !s->prefix && strcmp(lit, "case") == 0) {
			if (s->ncase >= CASE_DEPTH) {
				ERR("template nests case too deeply");
				return -EINVAL;
			}
			s->cases[s->ncase++] = CASE_SUBJECT;
			return 0;
		}
		if ((r = set_command(l, s, w->glob && !(lit && strcmp(lit, "[") == 0) ? NULL : name,
		                     1)) != 0)
			return r;
		return emit_word_refs(l, w, SSM_SH_WORD, 1);
	}
	/* an argument */
	{
		char prev[LIT_MAX];
		int prev_ref = s->prev_ref, first_arg = s->nargs == 0, command_name = 0, k;
		enum ssm_sh_ctx ctx = SSM_SH_WORD;

		memcpy(prev, s->prev_arg, sizeof(prev));
		s->prev_ref = w->nrefs > 0;
		snprintf(s->prev_arg, sizeof(s->prev_arg), "%s", name && !w->nrefs ? name : "");
		s->nargs++;

		if (s->code == CODE_SHELL) {
			/* sh [options] [-c] OPERAND ARGS: a placeholder among the options or as the
			 * first operand (the code after -c, or the script) is code; after a literal
			 * first operand the rest are the script's arguments */
			if (w->nrefs) {
				ctx = SSM_SH_CODE;
			} else if (w->dynamic || w->glob) {
				/* an unquoted expansion ($x, a pattern) may vanish or split: which
				 * later word is the code after -c, or the script, is unknown
				 * (sh -c $x {{a}}) */
				s->code = CODE_ALL;
			} else if (s->shell_optarg) {
				s->shell_optarg = 0;
			} else if (name && strcmp(name, "--") == 0) {
				s->shell_opts_done = 1;
			} else if (name && !s->shell_opts_done && (name[0] == '-' || name[0] == '+')) {
				if (strcmp(name + 1, "o") == 0 || strcmp(name + 1, "O") == 0 ||
				    strcmp(name, "--rcfile") == 0 || strcmp(name, "--init-file") == 0)
					s->shell_optarg = 1;
			} else {
				s->code = CODE_NONE; /* the first operand, a literal */
			}
		} else if (s->code == CODE_ALL) {
			ctx = SSM_SH_CODE;
		} else if (w->nrefs && s->dyn_arg && s->kind == KIND_TEST) {
			ctx = SSM_SH_CODE; /* an earlier word may vanish or split: counts are lost */
		} else if (w->nrefs) {
			switch (s->kind) {
			case KIND_ENV: /* env NAME=VALUE, env -S 'command line' (and all after it) */
				if (s->env_split || strncmp(l->t + w->start, "-S", 2) == 0 ||
				    strncmp(l->t + w->start, "--split-string", 14) == 0)
					ctx = SSM_SH_CODE;
				else if (w->assign)
					ctx = SSM_SH_ASSIGNMENT;
				break;
			case KIND_SUDO: /* sudo NAME=VALUE cmd: the command's environment */
				if (w->assign)
					ctx = SSM_SH_ASSIGNMENT;
				break;
			case KIND_PRINTF: /* the first argument is the format or -v (bash): only after a
					   * literal format are the rest plain arguments */
				if (!s->printf_fmt)
					ctx = SSM_SH_CODE;
				break;
			case KIND_TEST: /* test -v NAME (bash); two values in a row may be -v NAME */
				if (strcmp(prev, "-v") == 0 || strcmp(prev, "-R") == 0 || prev_ref)
					ctx = SSM_SH_CODE;
				for (k = 0; k < w->nrefs; k++)
					w->refs[k].single = 1; /* a list could bring its own -v */
				break;
			case KIND_OTHER:
				break;
			}
		}
		if (!w->nrefs && (name == NULL || w->glob))
			s->dyn_arg = 1;
		if (s->kind == KIND_PRINTF && first_arg && !w->nrefs && name && !w->glob &&
		    name[0] != '-')
			s->printf_fmt = 1;
		if (s->kind == KIND_ENV && (s->env_split || strncmp(l->t + w->start, "-S", 2) == 0 ||
		                            strncmp(l->t + w->start, "--split-string", 14) == 0)) {
			/* env -S 'command line': everything after is a command line */
			s->env_split = 1;
			s->code = CODE_ALL;
			s->wrapper = 0;
			return emit_word_refs(l, w, w->nrefs ? SSM_SH_CODE : ctx, 0);
		}
		/* a wrapper's own options and operands, then the wrapped command */
		if (s->wrapper && ctx == SSM_SH_WORD) {
			const struct wrapper_opts *wo = s->wrapper_opts;

			if (s->wrapper_optarg) {
				s->wrapper_optarg = 0;
				for (k = 0; k < w->nrefs; k++)
					w->refs[k].single = 1; /* one value, not a list */
			} else if (!w->nrefs && name && name[0] == '-') {
				int known = 0;

				for (k = 0; wo && wo->opts[k]; k++)
					if (strcmp(name, wo->opts[k]) == 0)
						known = s->wrapper_optarg = 1;
				for (k = 0; wo && wo->flags[k]; k++)
					if (strcmp(name, wo->flags[k]) == 0)
						known = 1;
				for (k = 0; wo && wo->code_flags[k]; k++)
					if (strcmp(name, wo->code_flags[k]) == 0) {
						known = 1;
						s->code = CODE_ALL; /* sudo -s CMD: a shell runs CMD */
						s->wrapper = 0;
					}
				if (!known) { /* it may take the next word: the command is unknown */
					s->code = CODE_ALL;
					s->wrapper = 0;
				}
			} else if (w->assign && (s->kind == KIND_ENV || s->kind == KIND_SUDO)) {
				; /* NAME=VALUE (no placeholder in it: refused above otherwise) */
			} else if (s->wrapper_operands > 0) {
				s->wrapper_operands--;
				for (k = 0; k < w->nrefs; k++)
					w->refs[k].single = 1;
			} else {
				/* the wrapped command: a placeholder here picks the program */
				command_name = w->nrefs > 0;
				if ((r = emit_word_refs(l, w, ctx, command_name)) != 0)
					return r;
				if ((r = set_command(l, s, w->nrefs || w->glob ? NULL : name, 0)) != 0)
					return r;
				s->nargs = 0;
				return 0;
			}
		}
		return emit_word_refs(l, w, ctx, command_name);
	}
}

/* After the newline that ends a line with << on it: the bodies, in order. */
static int heredoc_bodies(struct lx *l, struct script *s)
{
	int k, r;

	for (k = 0; k < s->nhd; k++) {
		while (l->i < l->n) {
			size_t ls = l->i, le;
			const char *nl = memchr(l->t + ls, '\n', l->n - ls);
			const char *line;
			size_t len;

			le = nl ? (size_t)(nl - l->t) : l->n;
			line = l->t + ls;
			len = le - ls;
			while (s->hd[k].strip && len > 0 && *line == '\t') {
				line++;
				len--;
			}
			if (len == s->hd[k].len && memcmp(line, s->hd[k].delim, len) == 0 &&
			    memmem(l->t + ls, le - ls, "{{", 2) == NULL &&
			    !(ls > 0 && at_ref(l, ls - 1))) {
				l->i = nl ? le + 1 : le;
				break;
			}
			while (l->i < le) {
				if (at_ref(l, l->i)) {
					if ((r = ref_in(l, SSM_SH_HEREDOC)) != 0)
						return r;
					if (l->i > le) /* the placeholder ran past this line */
						break;
				} else {
					l->i++;
				}
			}
			if (l->i == le && nl)
				l->i++;
		}
	}
	s->nhd = 0;
	return 0;
}

/* An operator at l->i (one of ;&|()<>). term is ')' inside $( ). Returns 1 when the
 * command substitution ended. */
static int operator(struct lx *l, struct script *s, int term)
{
	const char *t = l->t + l->i;
	size_t left = l->n - l->i;
	enum case_state *cs = s->ncase ? &s->cases[s->ncase - 1] : NULL;

	switch (t[0]) {
	case '(':
		if (s->redir_next) /* bash's <( ) >( ) (dash: a syntax error) */
			return refuse_syntax(l, "a process substitution <( ) or >( )");
		if (cs && *cs == CASE_PATTERN) { /* (pattern) */
			l->i++;
			s->pat_start = 0;
			return 0;
		}
		if (left > 1 && t[1] == '(') /* bash's (( )), or a subshell in a subshell */
			return refuse_syntax(l, "an arithmetic command (( )) (or \"((\": write \"( (\")");
		s->depth++;
		l->i++;
		s->cmdpos = 1;
		s->code = CODE_NONE;
		return 0;
	case ')':
		l->i++;
		if (cs && *cs == CASE_PATTERN) {
			*cs = CASE_BODY;
			s->cmdpos = 1;
			return 0;
		}
		if (s->depth == 0 && term == ')')
			return 1;
		if (s->depth > 0)
			s->depth--;
		s->cmdpos = 1; /* f() { ... }: the body's first word is a command */
		s->code = CODE_NONE;
		s->wrapper = 0;
		return 0;
	case ';':
		if (left > 1 && (t[1] == ';' || t[1] == '&')) { /* ;; ;& (case) */
			l->i += 2;
			if (left > 2 && t[2] == '&') /* bash's ;;& */
				l->i++;
			if (cs && *cs == CASE_BODY) {
				*cs = CASE_PATTERN;
				s->pat_start = 1;
			}
		} else {
			l->i++;
		}
		break;
	case '&':
	case '|':
		if (cs && *cs == CASE_PATTERN && t[0] == '|') { /* a|b) */
			l->i++;
			s->pat_start = 0;
			return 0;
		}
		if (left > 1 && ((t[0] == '&' && t[1] == '>') || (t[0] == '|' && t[1] == '&')))
			return refuse_syntax(l, "bash's &> or |& (dash reads them otherwise)");
		l->i += (left > 1 && (t[1] == t[0] || (t[0] == '|' && t[1] == '&'))) ? 2 : 1;
		break;
	case '<':
	case '>':
		if (t[0] == '<' && left > 1 && t[1] == '<') {
			if (left > 2 && t[2] == '<') { /* bash's here-string (dash: << and <) */
				return refuse_syntax(l, "a here-string <<<");
			} else {
				s->heredoc_next = (left > 2 && t[2] == '-') ? 2 : 1;
				l->i += s->heredoc_next == 2 ? 3 : 2;
			}
		} else if (left > 1 && (t[1] == '>' || t[1] == '&' || t[1] == '|' ||
		                        (t[0] == '<' && t[1] == '>'))) {
			l->i += 2;
		} else {
			l->i++;
		}
		s->redir_next = 1;
		if (s->cmdpos)
			s->prefix = 1;
		return 0;
	}
	s->cmdpos = 1;
	s->prefix = 0;
	s->code = CODE_NONE;
	s->wrapper = 0;
	return 0;
}

/* A script (term 0) or the inside of $( ) (term ')', after "$("). */
static int lex_script(struct lx *l, int term)
{
	struct script s;
	int r;

	memset(&s, 0, sizeof(s));
	s.cmdpos = 1;
	while (l->i < l->n) {
		unsigned char c = (unsigned char)l->t[l->i];

		if (at_ref(l, l->i)) {
			word_start(l, &s);
			if (s.w.nrefs >= WORD_MAX_REFS) {
				s.w.overflow = 1;
				r = ref_in(l, SSM_SH_GLUED_UNSAFE);
			} else {
				if (s.w.tilde) /* ~{{ x }}: the value would be a user name */
					s.w.unsafe = 1;
				r = read_ref(l, &s.w.refs[s.w.nrefs++]);
			}
		} else if (c == ' ' || c == '\t') {
			r = word_end(l, &s);
			l->i++;
		} else if (c == '\n') {
			r = word_end(l, &s);
			l->i++;
			if (r == 0 && s.heredoc_next) { /* << at the end of a line: no delimiter */
				ERR("here-document operator without a delimiter");
				r = -EINVAL;
			}
			if (r == 0)
				r = heredoc_bodies(l, &s);
			if (!(s.ncase && s.cases[s.ncase - 1] == CASE_PATTERN))
				s.cmdpos = 1;
			s.prefix = 0;
			s.code = CODE_NONE;
			s.wrapper = 0;
		} else if (c == '#' && !s.w.active) {
			enum ssm_sh_ctx saved;

			if ((r = enter(l, SSM_SH_COMMENT, &saved)) != 0)
				return r;
			while (r == 0 && l->i < l->n && l->t[l->i] != '\n')
				r = at_ref(l, l->i) ? ref_in(l, SSM_SH_COMMENT) : (l->i++, 0);
			leave(l, saved);
		} else if (c == '\\') {
			if (l->i + 1 < l->n && l->t[l->i + 1] == '\n') { /* line continuation */
				l->i += 2;
				r = 0;
			} else {
				word_start(l, &s);
				word_byte(&s, c, 1);
				skip_escape(l);
				r = 0;
			}
		} else if (c == '\'' || c == '"' || c == '`' || c == '$') {
			word_start(l, &s);
			word_byte(&s, c, 1);
			if (c == '\'')
				r = skip_squote(l, 0);
			else if (c == '"')
				r = skip_dquote(l);
			else if (c == '`')
				r = refuse_syntax(l, "a command substitution with backticks");
			else {
				s.w.dynamic = 1;
				r = skip_dollar(l, 0);
			}
		} else if (strchr(";&|()<>", c) != NULL) {
			if (c == '(' && s.w.active && l->i > 0 && strchr("@!+*?", l->t[l->i - 1]))
				return refuse_syntax(l, "an extended glob @( ) !( ) +( ) *( ) ?( )");
			r = word_end(l, &s);
			if (r == 0) {
				r = operator(l, &s, term);
				if (r == 1)
					return 0;
			}
		} else {
			word_start(l, &s);
			word_byte(&s, c, 0);
			l->i++;
			r = 0;
		}
		if (r != 0)
			return r;
	}
	if ((r = word_end(l, &s)) != 0)
		return r;
	if (term == ')')
		return unterminated(l, "a command substitution $( )");
	if (s.heredoc_next) {
		ERR("here-document operator without a delimiter");
		return -EINVAL;
	}
	return 0;
}

int ssm_sh_scan(const char *tmpl, int (*fn)(void *arg, const struct ssm_sh_ref *ref), void *arg,
                char *err, size_t errlen)
{
	struct lx lx = {
	    .t = tmpl, .n = strlen(tmpl), .fn = fn, .arg = arg, .err = err, .errlen = errlen,
	    .outer = SSM_SH_WORD,
	};
	struct lx *l = &lx;

	if (strstr(tmpl, "{{") == NULL)
		return 0; /* no value ever meets this template */
	/* A backslash-newline vanishes before the shell tokenises (inside words, operators,
	 * "...", here-document bodies), which no lexer of the text as written can follow
	 * safely: refused in templates with parameters. */
	if (strstr(tmpl, "\\\n") != NULL) {
		ERR("a line continuation (backslash-newline) is not supported in a template with "
		    "parameters");
		return -EINVAL;
	}
	return lex_script(&lx, 0);
}

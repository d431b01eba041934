/* shctx.h - the shell context of every {{ name }} in a linux.commands template.
 *
 * A parameter value is inserted as one single-quoted word ('...' with ' as '\'').  That is
 * one literal argument only where the shell reads the placeholder as an unquoted word of
 * its own (or glued to plain text that quoting cannot change).  Inside '', "", $'', ``,
 * $( ), $(( )), ${ }, a here-document, a comment, or next to a backslash or an expansion,
 * the quotes the renderer adds are themselves literal or re-read, and a value can end the
 * author's quoting or be run.  This is a small lexer of POSIX sh (and the bash extensions
 * a /bin/sh that is bash would honour) that finds the context of each placeholder, so that
 * such a template is refused before any value meets it. */
#ifndef SSM_SHCTX_H
#define SSM_SHCTX_H
#include <stddef.h>

enum ssm_sh_ctx {
	SSM_SH_WORD = 0,      /* a whole unquoted word: one literal argument */
	SSM_SH_GLUED,         /* one word with plain text beside it ([A-Za-z0-9_./:,@%+=-]) */
	SSM_SH_SQUOTE,        /* inside '...' */
	SSM_SH_DQUOTE,        /* inside "..." */
	SSM_SH_DOLLAR_SQUOTE, /* inside $'...' */
	SSM_SH_BACKTICK,      /* inside `...` */
	SSM_SH_CMDSUBST,      /* inside $( ... ) */
	SSM_SH_ARITH,         /* inside $(( )) or (( )) */
	SSM_SH_PARAM,         /* inside ${ ... } */
	SSM_SH_HEREDOC,       /* in a here-document's body */
	SSM_SH_HEREDOC_DELIM, /* the word after << */
	SSM_SH_COMMENT,       /* after an unquoted # */
	SSM_SH_GLUED_UNSAFE,  /* glued to quotes, a backslash, $, globs, ~ or braces */
	SSM_SH_ASSIGNMENT,    /* NAME={{ x }} before a command: sets the command's environment */
	SSM_SH_CODE,          /* an argument the command runs as shell code (eval, sh -c, ...) */
};

struct ssm_sh_ref {
	size_t start, end;     /* the whole {{ ... }} in the template */
	const char *name;      /* the name between the braces, blanks trimmed; may be empty */
	size_t namelen;
	enum ssm_sh_ctx ctx;
	int redirect;          /* the target of a redirection (one file name: no StringList) */
	int single;            /* must be one word (test/[: a list could bring its own -v) */
	int command_name;      /* WORD or GLUED in command-name position: the value picks the
	                        * program (or part of its name) */
};

/* Calls fn for every {{ }} of tmpl in order; stops at the first non-zero return (fn returns
 * 0 or a negative errno), which is returned.  A {{ without its }} is -EINVAL with err set.  0 otherwise. */
int ssm_sh_scan(const char *tmpl, int (*fn)(void *arg, const struct ssm_sh_ref *ref), void *arg,
                char *err, size_t errlen);

/* "in single quotes", ...: for messages */
const char *ssm_sh_ctx_text(enum ssm_sh_ctx ctx);

#endif

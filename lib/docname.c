/* docname.c - the document name rule (SPEC section 3), apart from document.c so that code
 * which only checks names (configuration, claims) links neither PCRE2 nor a SHA-256. */
#include "config.h"
#include <string.h>
#include "document.h"
#include "util.h"

static int is_doc_name_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

int ssm_document_name_valid(const char *name)
{
	if (!ssm_str_charset(name, 3, 128, is_doc_name_char))
		return 0;
	return strcmp(name, ".") != 0 && strcmp(name, "..") != 0; /* (length 3 excludes both) */
}

/* cliparams.h - the ssm client's --parameters (AWS CLI start-session), in either form the
 * AWS CLI takes:
 *
 *   JSON        {"portNumber":["80"],"localPortNumber":["8080"]}   (a value may also be a
 *               plain string: {"portNumber":"80"} is ["80"])
 *   shorthand   portNumber=80,localPortNumber=8080
 *               command=[ls,-l],other=x       a bracketed list
 *               command=ls,-l,other=x         values after a key=value without "=" of their
 *                                             own extend its list (the AWS CLI's rule)
 *               key="a,b",k2='x=y'            quotes: "..." (\" and \\ escapes) or '...'
 *               key=a\,b                      outside quotes a backslash takes the next
 *                                             character as it is
 *
 * Text starting with "{" (after white space) is JSON, anything else shorthand.  The result
 * is an object of name -> array of strings that passes ssm_session_params_check (the
 * broker's rule), or one line saying what is wrong and where. */
#ifndef SSM_CLIPARAMS_H
#define SSM_CLIPARAMS_H
#include <stddef.h>
#include <cjson/cJSON.h>

#define SSM_CLI_PARAMS_MAX_TEXT 16384

/* 0 with *pparams (a new object), -EINVAL (err says why, naming the character position for
 * shorthand), -ENOMEM. */
int ssm_cli_params_parse(const char *text, cJSON **pparams, char *err, size_t errlen);

#endif

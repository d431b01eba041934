/* iam.h - an AWS IAM identity-policy evaluator (see docs/IAM.md for the rules and sources).
 *
 * Policies are parsed once, strictly: anything the evaluator would otherwise misread (an
 * unknown element or operator, a Principal, a wrong type, a malformed policy variable, a
 * value its operator cannot compare) is refused with a message, never ignored.  Evaluation
 * follows AWS's documented logic for identity-based policies: an applying Deny wins, else an
 * applying Allow allows, else the request is implicitly denied.
 *
 * The request context is a cJSON object: condition key (case-insensitive) -> string, number,
 * boolean, or an array of strings (a multivalued key).  JSON null and an empty array count as
 * "key not present".  Usual keys: aws:username, aws:userid, aws:PrincipalType,
 * aws:PrincipalTag/K, aws:MultiFactorAuthPresent, aws:CurrentTime, aws:EpochTime,
 * aws:SourceIp, ssm:resourceTag/K, aws:ResourceTag/K. */
#ifndef SSM_IAM_H
#define SSM_IAM_H
#include <stddef.h>
#include <cjson/cJSON.h>

#define SSM_IAM_MAX_POLICY_BYTES 65536 /* a policy document's JSON text */
#define SSM_IAM_MAX_STATEMENTS 256     /* per policy */
#define SSM_IAM_MAX_VALUES 256         /* Action, Resource entries; values of a condition key */
#define SSM_IAM_MAX_CONDITIONS 64      /* operator/key pairs per statement */
#define SSM_IAM_MAX_STRING 2048        /* any string in a policy */
#define SSM_IAM_MAX_CONTEXT_KEYS 256   /* keys in a request context */
#define SSM_IAM_MAX_CONTEXT_VALUE 4096 /* one value in a request context */

/* the document Session Manager uses when start-session names none */
#define SSM_IAM_DEFAULT_SESSION_DOCUMENT "SSM-SessionManagerRunShell"

enum ssm_iam_decision {
	SSM_IAM_IMPLICIT_DENY = 0, /* no statement allows */
	SSM_IAM_ALLOW = 1,
	SSM_IAM_EXPLICIT_DENY = 2,
};

struct ssm_iam_policy; /* opaque, immutable once parsed */

/* Parse one policy document.  name (may be NULL) is quoted in decisions and messages.
 * 0, -EINVAL (err says why), -E2BIG (too large), -ENOMEM. */
int ssm_iam_policy_parse(const char *json, size_t len, const char *name,
			 struct ssm_iam_policy **ppol, char *err, size_t errlen);
/* Same from an already parsed (strict, see json.h) JSON object; doc may be freed after. */
int ssm_iam_policy_from_json(const cJSON *doc, const char *name, struct ssm_iam_policy **ppol,
			     char *err, size_t errlen);
void ssm_iam_policy_free(struct ssm_iam_policy *pol);

struct ssm_iam_request {
	const char *action;    /* "ssm:StartSession" */
	const char *resource;  /* "arn:aws:ec2:us-east-1:123456789012:instance/i-0123..." or "*" */
	const cJSON *context;  /* object of condition keys, or NULL for none */
};

struct ssm_iam_result {
	enum ssm_iam_decision decision;
	const char *policy;   /* the deciding policy's name (NULL: none decided or unnamed) */
	const char *sid;      /* the deciding statement's Sid (NULL: none decided or no Sid) */
	int statement;        /* its index in the policy (0-based), -1 for an implicit deny */
	const char *resource; /* the resource the decision is about (the request's pointer) */
};

/* Evaluate req against the union of the policies.  0 and *res filled in, or -EINVAL (a bad
 * request or context: err says why), -ENOMEM; on an error the caller must deny. */
int ssm_iam_evaluate(const struct ssm_iam_policy *const *pols, size_t npols,
		     const struct ssm_iam_request *req, struct ssm_iam_result *res, char *err,
		     size_t errlen);

/* ssm:StartSession as Session Manager authorizes it: the target, then the session document.
 * The default SSM-SessionManagerRunShell document needs no grant of its own (it can still be
 * denied) unless the Allow statements for the target require ssm:SessionDocumentAccessCheck
 * (see docs/IAM.md); every other document must be allowed explicitly. */
struct ssm_iam_session {
	const char *target_arn;
	const cJSON *target_context;   /* with the target's tags as ssm:resourceTag/K */
	const char *document_arn;      /* arn:aws:ssm:REGION:ACCOUNT:document/NAME */
	const cJSON *document_context; /* NULL: target_context */
};
int ssm_iam_start_session(const struct ssm_iam_policy *const *pols, size_t npols,
			  const struct ssm_iam_session *s, struct ssm_iam_result *res, char *err,
			  size_t errlen);

/* AWS's words: "User: U is not authorized to perform: A on resource: R with an explicit deny
 * in statement SID of identity-based policy P" / "... because no identity-based policy allows
 * the A action".  Returns snprintf's result. */
int ssm_iam_explain(const char *principal, const char *action, const struct ssm_iam_result *res,
		    char *buf, size_t len);
const char *ssm_iam_decision_name(enum ssm_iam_decision d);

#endif

/* fuzz_iam.c - libFuzzer target for the IAM policy evaluator (lib/iam.c).
 * The input is a policy document; when it parses, a few fixed requests are evaluated
 * against it alone and together with a broad Allow.  Properties: no crash; parsing is
 * deterministic (a second parse agrees); evaluation succeeds and is deterministic; a
 * decision names a statement of the policy; adding a broad Allow never turns an explicit
 * Deny into anything else nor an Allow into a deny. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "iam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const contexts[] = {
	"{}",
	"{\"aws:username\":\"alice\",\"aws:userid\":\"AIDAEXAMPLE\",\"aws:MultiFactorAuthPresent\":\"true\","
	"\"aws:PrincipalTag/team\":\"ops\",\"ssm:resourceTag/Environment\":\"Prod\","
	"\"aws:SourceIp\":\"203.0.113.7\",\"aws:CurrentTime\":\"2026-03-01T12:00:00Z\","
	"\"aws:EpochTime\":1772366400,\"aws:TagKeys\":[\"Environment\",\"Name\"],"
	"\"ssm:SessionDocumentAccessCheck\":\"true\",\"s3:max-keys\":\"10\"}",
	"{\"aws:username\":\"*\",\"aws:SourceIp\":\"2001:db8::1\",\"aws:TagKeys\":[],"
	"\"aws:MultiFactorAuthPresent\":false,\"aws:PrincipalTag/team\":[\"a\",\"b\"]}",
};
static const char *const actions[] = { "ssm:StartSession", "ssm:TerminateSession",
				       "ssm:DescribeSessions", "SSM:getTRANSCRIPT" };
static const char *const resources[] = {
	"arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0",
	"arn:aws:ssm:us-east-1:123456789012:session/alice-0123456789abcdefg",
	"arn:aws:ssm:us-east-1:123456789012:document/SSM-SessionManagerRunShell",
	"*",
};

static struct ssm_iam_policy *allow_all(void)
{
	static const char j[] =
		"{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}";
	struct ssm_iam_policy *p = NULL;

	if (ssm_iam_policy_parse(j, sizeof(j) - 1, "AllowAll", &p, NULL, 0) != 0)
		abort();
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssm_iam_policy *pol = NULL, *again = NULL, *all;
	char err[256], err2[256];
	int rc, rc2;

	rc = ssm_iam_policy_parse((const char *)data, size, "F", &pol, err, sizeof(err));
	rc2 = ssm_iam_policy_parse((const char *)data, size, "F", &again, err2, sizeof(err2));
	if (rc != rc2 || (rc == 0) != (pol != NULL) || (rc != 0 && strcmp(err, err2) != 0))
		abort();
	ssm_iam_policy_free(again);
	if (rc != 0)
		return 0;
	all = allow_all();
	for (size_t c = 0; c < sizeof(contexts) / sizeof(contexts[0]); c++) {
		cJSON *ctx = cJSON_Parse(contexts[c]);

		if (!ctx)
			abort();
		for (size_t a = 0; a < sizeof(actions) / sizeof(actions[0]); a++)
			for (size_t r = 0; r < sizeof(resources) / sizeof(resources[0]); r++) {
				struct ssm_iam_request q = { actions[a], resources[r], ctx };
				const struct ssm_iam_policy *one[1] = { pol }, *two[2] = { pol, all };
				struct ssm_iam_result x, y, z;

				if (ssm_iam_evaluate(one, 1, &q, &x, err, sizeof(err)) != 0 ||
				    ssm_iam_evaluate(one, 1, &q, &y, err, sizeof(err)) != 0 ||
				    ssm_iam_evaluate(two, 2, &q, &z, err, sizeof(err)) != 0)
					abort();
				if (x.decision != y.decision || x.statement != y.statement)
					abort();
				if ((x.decision == SSM_IAM_IMPLICIT_DENY) != (x.statement < 0))
					abort();
				if (x.decision == SSM_IAM_EXPLICIT_DENY && z.decision != SSM_IAM_EXPLICIT_DENY)
					abort();
				if (x.decision == SSM_IAM_ALLOW && z.decision != SSM_IAM_ALLOW)
					abort();
				if (z.decision == SSM_IAM_IMPLICIT_DENY)
					abort(); /* the broad Allow allows unless a Deny applies */
			}
		{
			struct ssm_iam_session s = { resources[0], ctx, resources[2], NULL };
			const struct ssm_iam_policy *one[1] = { pol };
			struct ssm_iam_result x;

			if (ssm_iam_start_session(one, 1, &s, &x, err, sizeof(err)) != 0)
				abort();
		}
		cJSON_Delete(ctx);
	}
	ssm_iam_policy_free(all);
	ssm_iam_policy_free(pol);
	return 0;
}

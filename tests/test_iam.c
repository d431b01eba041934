/* test_iam.c - lib/iam.c against AWS's documented IAM decisions.
 *
 * Policies and contexts are written with ` for " (backticks never occur in IAM policies).
 * Each row names the documentation rule it checks; "py:" notes where today's
 * broker/ssm-broker decides differently (docs/IAM.md counts them).
 * Sources (docs/IAM.md): AWS IAM User Guide - Condition operators [OPS], Policy evaluation
 * logic [EVAL], Variables and tags [VARS], Multivalued context keys [MULTI], Condition element
 * [COND], Resource/Action elements [ELEM]; Systems Manager User Guide - Enforce a session
 * document permission check for the AWS CLI [SDAC]; the workshop seeds [SEED]. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "iam.h"

#define A SSM_IAM_ALLOW
#define D SSM_IAM_EXPLICIT_DENY
#define I SSM_IAM_IMPLICIT_DENY

#define ACCT "123456789012"
#define INST_DEV "arn:aws:ec2:us-east-1:" ACCT ":instance/i-0123456789abcdef0"
#define INST_PROD "arn:aws:ec2:us-east-1:" ACCT ":instance/i-0fedcba9876543210"
#define MI_PROD "arn:aws:ssm:us-east-1:" ACCT ":managed-instance/mi-0fedcba9876543210"
#define DOC(n) "arn:aws:ssm:us-east-1:" ACCT ":document/" n
#define SESS(n) "arn:aws:ssm:us-east-1:" ACCT ":session/" n
#define RUNSHELL DOC("SSM-SessionManagerRunShell")

#define V12 "`Version`:`2012-10-17`,"
#define ALLOW_ALL "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`}}"
/* a policy: one statement with Effect E, Action "*", Resource "*" and condition C */
#define ONE(E, C) "{" V12 "`Statement`:{`Sid`:`S`,`Effect`:`" E "`,`Action`:`*`,`Resource`:`*`,`Condition`:{" C "}}}"

/* ---- the workshop's SSMDevAccess (seed 000) */
#define P_SSMDEV "{" V12 "`Statement`:[" \
	"{`Effect`:`Allow`,`Action`:[`ssm:DescribeSessions`,`ssm:GetConnectionStatus`,`ssm:DescribeInstanceProperties`,`ec2:DescribeInstances`,`ssm:StartSession`],`Resource`:`*`}," \
	"{`Sid`:`ReadAlltheSSMThings`,`Effect`:`Allow`,`Action`:[`ssm:Get*`,`ssm:Describe*`,`ssm:List*`],`Resource`:`*`}," \
	"{`Sid`:`SameUserTerminate`,`Effect`:`Allow`,`Action`:`ssm:TerminateSession`,`Resource`:`arn:aws:ssm:*:*:session/${aws:username}-*`}," \
	"{`Sid`:`DenySMtoProd`,`Effect`:`Deny`,`Action`:`ssm:StartSession`,`Resource`:[`arn:aws:ec2:*:*:instance/*`],`Condition`:{`StringLike`:{`ssm:resourceTag/Environment`:`Prod`}}}]}"
/* ---- the blog's policy (seed 001): empty region and account in the ARNs */
#define P_BLOG "{" V12 "`Statement`:[" \
	"{`Effect`:`Allow`,`Action`:[`ssm:StartSession`],`Resource`:`arn:aws:ec2:::instance/*`,`Condition`:{`StringEquals`:{`ssm:resourceTag/name`:`API`}}}," \
	"{`Effect`:`Allow`,`Action`:[`ssm:TerminateSession`],`Resource`:[`arn:aws:ssm:::session/${aws:username}-*`]}]}"
/* ---- the single-sign-on guide's permission sets (seed 002), braces restored */
#define P_SSO(PROJ) "{" V12 "`Statement`:[" \
	"{`Effect`:`Allow`,`Action`:[`ssm:GetServiceSetting`],`Resource`:`*`}," \
	"{`Effect`:`Deny`,`Action`:[`ssm:ResetServiceSetting`,`ssm:UpdateServiceSetting`],`Resource`:`*`}," \
	"{`Sid`:`VisualEditor0`,`Effect`:`Allow`,`Action`:[`ssm:DescribeSessions`,`ssm:DescribeInstanceProperties`,`ec2:DescribeInstances`,`ssm:GetConnectionStatus`],`Resource`:`*`}," \
	"{`Effect`:`Allow`,`Action`:[`ssm:StartSession`],`Resource`:[`arn:aws:ec2:*:*:instance/*`,`arn:aws:ssm:*:*:managed-instance/*`],`Condition`:{`StringLike`:{`ssm:resourceTag/project`:[`" PROJ "`]}}}," \
	"{`Effect`:`Allow`,`Action`:[`ssm:TerminateSession`],`Resource`:[`arn:aws:ssm:*:*:session/${aws:username}-*`]}]}"
/* ---- the study notes (seed 003) */
#define P_FULLADMIN "{" V12 "`Statement`:[{`Action`:[`ssm:StartSession`,`ssm:TerminateSession`,`ssm:ResumeSession`,`ssm:DescribeSessions`,`ssm:GetConnectionStatus`],`Effect`:`Allow`,`Resource`:[`*`]}]}"
#define P_FINANCE "{" V12 "`Statement`:[{`Effect`:`Allow`,`Action`:[`ssm:StartSession`,`ssm:SendCommand`],`Resource`:`arn:aws:ec2:us-west-2:987654321098:instance/*`,`Condition`:{`StringLike`:{`ssm:resourceTag/Finance`:`WebServers`}}}]}"
#define P_TERMTAG "{" V12 "`Statement`:[{`Effect`:`Allow`,`Action`:`ssm:TerminateSession`,`Resource`:`*`,`Condition`:{`StringLike`:{`ssm:resourceTag/aws:ssmmessages:target-id`:[`i-02573cafcfEXAMPLE`],`ssm:resourceTag/aws:ssmmessages:session-id`:[`AIDIODR4TAW7CSEXAMPLE`,`${aws:userid}`]}}}]}"
#define P_SDAC_STAGING "{" V12 "`Statement`:[{`Effect`:`Allow`,`Action`:[`ssm:StartSession`,`ssm:SendCommand`],`Resource`:[`arn:aws:ec2:*:*:instance/*`,`arn:aws:ssm:*:*:document/SSM-SessionManagerRunShell`],`Condition`:{`BoolIfExists`:{`ssm:SessionDocumentAccessCheck`:`true`},`StringLike`:{`ssm:resourceTag/Environment`:`staging`}}}]}"
/* ---- broker/examples/policy.json */
#define P_DEVSET "{" V12 "`Statement`:[" \
	"{`Sid`:`StartOnDev`,`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:[`arn:aws:ec2:*:*:instance/*`,`arn:aws:ssm:*:*:managed-instance/*`],`Condition`:{`StringLike`:{`ssm:resourceTag/Environment`:[`Dev`,`Development`]}}}," \
	"{`Sid`:`PortForwardingAndCommands`,`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:[`arn:aws:ssm:*:*:document/AWS-StartPortForwardingSession`,`arn:aws:ssm:*:*:document/AWS-StartInteractiveCommand`]}," \
	"{`Sid`:`SameUserTerminate`,`Effect`:`Allow`,`Action`:`ssm:TerminateSession`,`Resource`:`arn:aws:ssm:*:*:session/${aws:username}-*`}]}"
#define P_PRODSET "{" V12 "`Statement`:[" \
	"{`Sid`:`StartOnProd`,`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:[`arn:aws:ec2:*:*:instance/*`,`arn:aws:ssm:*:*:managed-instance/*`],`Condition`:{`StringEquals`:{`ssm:resourceTag/Environment`:`Prod`}}}," \
	"{`Sid`:`ViewLogDocument`,`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ssm:*:*:document/ViewLog`}]}"
#define P_MFA "{" V12 "`Statement`:[{`Sid`:`DenyProdWithoutMFA`,`Effect`:`Deny`,`Action`:`ssm:StartSession`,`Resource`:[`arn:aws:ec2:*:*:instance/*`,`arn:aws:ssm:*:*:managed-instance/*`],`Condition`:{`StringEquals`:{`ssm:resourceTag/Environment`:`Prod`},`BoolIfExists`:{`aws:MultiFactorAuthPresent`:`false`}}}]}"

/* contexts */
#define U(n) "`aws:username`:`" n "`"
#define TAG(k, v) "`ssm:resourceTag/" k "`:`" v "`"
#define MFA(v) "`aws:MultiFactorAuthPresent`:`" v "`"
#define WINDOW "`DateGreaterThan`:{`aws:CurrentTime`:`2026-03-01T08:00:00Z`},`DateLessThan`:{`aws:CurrentTime`:`2026-03-01T18:00:00Z`}"

static const struct row {
	int line;
	const char *pol[3];
	const char *action, *resource, *ctx;
	enum ssm_iam_decision want;
	const char *sid; /* the deciding Sid, when checked */
} rows[] = {
	/* [SEED] 000 SSMDevAccess: tag-based Deny over a broad Allow [EVAL: explicit deny wins] */
	{ __LINE__, { P_SSMDEV }, "ssm:StartSession", INST_DEV, "{" U("carol") "," TAG("Environment", "Dev") "}", A, NULL },
	{ __LINE__, { P_SSMDEV }, "ssm:StartSession", INST_PROD, "{" U("carol") "," TAG("Environment", "Prod") "}", D, "DenySMtoProd" },
	/* its Deny names EC2 instances only: an on-premises Prod node is allowed [ELEM Resource] */
	{ __LINE__, { P_SSMDEV }, "ssm:StartSession", MI_PROD, "{" U("carol") "," TAG("Environment", "Prod") "}", A, NULL },
	{ __LINE__, { P_SSMDEV }, "ssm:DescribeSessions", "*", "{" U("carol") "}", A, NULL },
	{ __LINE__, { P_SSMDEV }, "ssm:GetTranscript", "*", "{" U("carol") "}", A, "ReadAlltheSSMThings" },
	{ __LINE__, { P_SSMDEV }, "ssm:TerminateSession", SESS("carol-0123456789abcdefg"), "{" U("carol") "}", A, "SameUserTerminate" },
	{ __LINE__, { P_SSMDEV }, "ssm:TerminateSession", SESS("bob-0123456789abcdefg"), "{" U("carol") "}", I, NULL },
	{ __LINE__, { P_SSMDEV }, "ssm:TerminateSession", SESS("carolx-0123456789abcdefg"), "{" U("carol") "}", I, NULL },
	{ __LINE__, { P_SSMDEV }, "ssm:SendCommand", INST_DEV, "{" U("carol") "}", I, NULL },
	/* [ELEM Action] action names are case-insensitive, with wildcards too */
	{ __LINE__, { P_SSMDEV }, "SSM:startsession", INST_DEV, "{" U("carol") "," TAG("Environment", "Dev") "}", A, NULL },
	{ __LINE__, { P_SSMDEV }, "ssm:describeinstanceinformation", "*", "{}", A, "ReadAlltheSSMThings" },
	/* [OPS String] StringLike is case-sensitive: a "prod" tag escapes the "Prod" Deny */
	{ __LINE__, { P_SSMDEV }, "ssm:StartSession", INST_PROD, "{" U("carol") "," TAG("Environment", "prod") "}", A, NULL },
	/* [SEED] 001: an empty region or account in a pattern is matched as written, segment by
	 * segment [OPS ARN, ELEM Resource]; py: empty matches any -> Allow */
	{ __LINE__, { P_BLOG }, "ssm:StartSession", INST_DEV, "{" U("dan") ",`ssm:resourceTag/name`:`API`}", I, NULL },
	{ __LINE__, { P_BLOG }, "ssm:StartSession", "arn:aws:ec2:::instance/i-1", "{" U("dan") ",`ssm:resourceTag/name`:`API`}", A, NULL },
	{ __LINE__, { P_BLOG }, "ssm:TerminateSession", SESS("dan-0123"), "{" U("dan") "}", I, NULL },
	/* [SEED] 002 single-sign-on permission sets */
	{ __LINE__, { P_SSO("Production") }, "ssm:StartSession", INST_PROD, "{`ssm:resourceTag/project`:`Production`}", A, NULL },
	{ __LINE__, { P_SSO("Production") }, "ssm:StartSession", INST_DEV, "{`ssm:resourceTag/project`:`Development`}", I, NULL },
	{ __LINE__, { P_SSO("Production") }, "ssm:StartSession", INST_DEV, "{}", I, NULL },
	{ __LINE__, { P_SSO("Production") }, "ssm:StartSession", MI_PROD, "{`ssm:resourceTag/project`:`Production`}", A, NULL },
	{ __LINE__, { P_SSO("Production") }, "ssm:UpdateServiceSetting", "*", "{}", D, NULL },
	{ __LINE__, { P_SSO("Production") }, "ssm:GetServiceSetting", "*", "{}", A, NULL },
	{ __LINE__, { P_SSO("Development") }, "ssm:StartSession", INST_DEV, "{`ssm:resourceTag/project`:`Development`}", A, NULL },
	/* [VARS no value] an assumed role has no aws:username: only the statement using it fails */
	{ __LINE__, { P_SSO("Production") }, "ssm:DescribeSessions", "*", "{`aws:userid`:`AROAEXAMPLE:alice`}", A, "VisualEditor0" },
	{ __LINE__, { P_SSO("Production") }, "ssm:TerminateSession", SESS("alice-1"), "{`aws:userid`:`AROAEXAMPLE:alice`}", I, NULL },
	/* [SEED] 003 study notes: full admin; tag-limited Finance web servers (region literal) */
	{ __LINE__, { P_FULLADMIN }, "ssm:ResumeSession", SESS("x-1"), "{}", A, NULL },
	{ __LINE__, { P_FULLADMIN }, "ssm:SendCommand", INST_DEV, "{}", I, NULL },
	{ __LINE__, { P_FINANCE }, "ssm:StartSession", "arn:aws:ec2:us-west-2:987654321098:instance/i-1", "{" TAG("Finance", "WebServers") "}", A, NULL },
	{ __LINE__, { P_FINANCE }, "ssm:StartSession", "arn:aws:ec2:us-east-1:987654321098:instance/i-1", "{" TAG("Finance", "WebServers") "}", I, NULL },
	{ __LINE__, { P_FINANCE }, "ssm:StartSession", "arn:aws:ec2:us-west-2:987654321098:instance/i-1", "{" TAG("Finance", "WebServer") "}", I, NULL },
	/* seed 003 "end only sessions tagged for you": both keys (AND), a value list (OR),
	 * ${aws:userid} in a condition value [VARS, COND multiple keys] */
	{ __LINE__, { P_TERMTAG }, "ssm:TerminateSession", SESS("s-1"), "{`aws:userid`:`AROAX:alice`," TAG("aws:ssmmessages:target-id", "i-02573cafcfEXAMPLE") "," TAG("aws:ssmmessages:session-id", "AROAX:alice") "}", A, NULL },
	{ __LINE__, { P_TERMTAG }, "ssm:TerminateSession", SESS("s-1"), "{`aws:userid`:`AROAX:alice`," TAG("aws:ssmmessages:target-id", "i-02573cafcfEXAMPLE") "," TAG("aws:ssmmessages:session-id", "AIDIODR4TAW7CSEXAMPLE") "}", A, NULL },
	{ __LINE__, { P_TERMTAG }, "ssm:TerminateSession", SESS("s-1"), "{`aws:userid`:`AROAX:alice`," TAG("aws:ssmmessages:target-id", "i-0000") "," TAG("aws:ssmmessages:session-id", "AROAX:alice") "}", I, NULL },
	{ __LINE__, { P_TERMTAG }, "ssm:TerminateSession", SESS("s-1"), "{`aws:userid`:`AROAX:alice`," TAG("aws:ssmmessages:target-id", "i-02573cafcfEXAMPLE") "," TAG("aws:ssmmessages:session-id", "AROAX:bob") "}", I, NULL },
	/* broker/examples: MFA for Prod [OPS IfExists: BoolIfExists false also fires when the key is
	 * absent, e.g. long-term access keys] */
	{ __LINE__, { P_DEVSET, P_MFA, P_PRODSET }, "ssm:StartSession", INST_PROD, "{" U("alice") "," MFA("false") "," TAG("Environment", "Prod") "}", D, "DenyProdWithoutMFA" },
	{ __LINE__, { P_DEVSET, P_MFA, P_PRODSET }, "ssm:StartSession", INST_PROD, "{" U("alice") "," MFA("true") "," TAG("Environment", "Prod") "}", A, "StartOnProd" },
	{ __LINE__, { P_DEVSET, P_MFA, P_PRODSET }, "ssm:StartSession", INST_PROD, "{" U("alice") "," TAG("Environment", "Prod") "}", D, "DenyProdWithoutMFA" },
	{ __LINE__, { P_DEVSET, P_MFA }, "ssm:StartSession", INST_DEV, "{" U("bob") "," MFA("false") "," TAG("Environment", "Dev") "}", A, "StartOnDev" },
	{ __LINE__, { P_DEVSET, P_MFA }, "ssm:StartSession", INST_PROD, "{" U("bob") "," MFA("true") "," TAG("Environment", "Prod") "}", I, NULL },
	{ __LINE__, { P_DEVSET, P_MFA }, "ssm:TerminateSession", SESS("bob-0123456789abcdefg"), "{" U("bob") "}", A, "SameUserTerminate" },
	/* [OPS Boolean] plain Bool on a missing key is false: this Deny does not fire */
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`Bool`:{`aws:MultiFactorAuthPresent`:`false`}") }, "ssm:StartSession", INST_PROD, "{}", A, NULL },
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`Bool`:{`aws:MultiFactorAuthPresent`:false}") }, "ssm:StartSession", INST_PROD, "{" MFA("FALSE") "}", D, "S" },
	{ __LINE__, { ONE("Allow", "`Bool`:{`aws:SecureTransport`:`TRUE`}") }, "ssm:StartSession", INST_DEV, "{`aws:SecureTransport`:true}", A, "S" },
	/* [OPS important] a negated operator on a missing key is TRUE: the Deny fires.
	 * py: taken as false, so the Deny never fires -> Allow */
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`StringNotEquals`:{`aws:PrincipalTag/team`:`ops`}") }, "ssm:StartSession", INST_PROD, "{" U("eve") "}", D, "S" },
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`StringNotEquals`:{`aws:PrincipalTag/team`:`ops`}") }, "ssm:StartSession", INST_PROD, "{`aws:PrincipalTag/team`:`ops`}", A, NULL },
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`StringNotEquals`:{`aws:PrincipalTag/team`:`ops`}") }, "ssm:StartSession", INST_PROD, "{`aws:PrincipalTag/team`:`dev`}", D, "S" },
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`StringNotLike`:{`ssm:resourceTag/Environment`:`Dev*`}") }, "ssm:StartSession", INST_PROD, "{}", D, "S" },
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`StringNotEqualsIgnoreCase`:{`aws:PrincipalTag/team`:`OPS`}") }, "ssm:StartSession", INST_PROD, "{}", D, "S" },
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`ArnNotLike`:{`aws:SourceArn`:`arn:aws:ec2:*:*:instance/*`}") }, "ssm:StartSession", INST_PROD, "{}", D, "S" },
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`NumericNotEquals`:{`ssm:x`:`1`}") }, "ssm:StartSession", INST_PROD, "{}", D, "S" },
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`DateNotEquals`:{`aws:TokenIssueTime`:`2026-01-01`}") }, "ssm:StartSession", INST_PROD, "{}", D, "S" },
	/* [OPS IfExists] "a Deny with StringNotEqualsIfExists still denies when the tag is missing" */
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`StringNotEqualsIfExists`:{`aws:PrincipalTag/team`:`ops`}") }, "ssm:StartSession", INST_PROD, "{}", D, "S" },
	{ __LINE__, { ONE("Allow", "`StringNotEquals`:{`ssm:resourceTag/Environment`:`Prod`}") }, "ssm:StartSession", INST_DEV, "{}", A, "S" },
	/* [COND multiple values] OR; for negated operators NOR */
	{ __LINE__, { ONE("Allow", "`StringNotEquals`:{`aws:PrincipalTag/role`:[`audit`,`security`]}") }, "ssm:StartSession", INST_DEV, "{`aws:PrincipalTag/role`:`audit`}", I, NULL },
	{ __LINE__, { ONE("Allow", "`StringNotEquals`:{`aws:PrincipalTag/role`:[`audit`,`security`]}") }, "ssm:StartSession", INST_DEV, "{`aws:PrincipalTag/role`:`dev`}", A, "S" },
	{ __LINE__, { ONE("Allow", "`StringEquals`:{`aws:PrincipalTag/role`:[`audit`,`security`]}") }, "ssm:StartSession", INST_DEV, "{`aws:PrincipalTag/role`:`security`}", A, "S" },
	/* [COND] several keys under one operator, and several operators: AND */
	{ __LINE__, { ONE("Allow", "`StringEquals`:{`ssm:resourceTag/Env`:`Dev`,`ssm:resourceTag/Team`:`ops`}") }, "ssm:StartSession", INST_DEV, "{" TAG("Env", "Dev") "," TAG("Team", "ops") "}", A, "S" },
	{ __LINE__, { ONE("Allow", "`StringEquals`:{`ssm:resourceTag/Env`:`Dev`,`ssm:resourceTag/Team`:`ops`}") }, "ssm:StartSession", INST_DEV, "{" TAG("Env", "Dev") "," TAG("Team", "web") "}", I, NULL },
	{ __LINE__, { ONE("Allow", "`StringEquals`:{`ssm:resourceTag/Env`:`Dev`},`Bool`:{`aws:MultiFactorAuthPresent`:`true`}") }, "ssm:StartSession", INST_DEV, "{" TAG("Env", "Dev") "," MFA("false") "}", I, NULL },
	/* [VARS note] without Version 2012-10-17 a variable is literal text. py: substitutes */
	{ __LINE__, { "{`Statement`:{`Effect`:`Allow`,`Action`:`ssm:TerminateSession`,`Resource`:`arn:aws:ssm:*:*:session/${aws:username}-*`}}" }, "ssm:TerminateSession", SESS("alice-1"), "{" U("alice") "}", I, NULL },
	{ __LINE__, { "{`Version`:`2008-10-17`,`Statement`:{`Effect`:`Allow`,`Action`:`ssm:TerminateSession`,`Resource`:`arn:aws:ssm:*:*:session/${aws:username}-*`}}" }, "ssm:TerminateSession", SESS("alice-1"), "{" U("alice") "}", I, NULL },
	{ __LINE__, { "{`Statement`:{`Effect`:`Allow`,`Action`:`ssm:TerminateSession`,`Resource`:`arn:aws:ssm:*:*:session/${aws:username}-*`}}" }, "ssm:TerminateSession", SESS("${aws:username}-1"), "{" U("alice") "}", A, NULL },
	{ __LINE__, { "{`Statement`:{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`,`Condition`:{`StringEquals`:{`aws:username`:`${aws:username}`}}}}" }, "ssm:StartSession", INST_DEV, "{" U("alice") "}", I, NULL },
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`,`Condition`:{`StringEquals`:{`aws:username`:`${aws:username}`}}}}" }, "ssm:StartSession", INST_DEV, "{" U("alice") "}", A, NULL },
	/* [VARS special characters] ${*} ${?} ${$} are the literal characters, not wildcards.
	 * py: ${*} becomes a wildcard */
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ssm:*:*:document/My${*}Doc`}}" }, "ssm:StartSession", DOC("My*Doc"), "{}", A, NULL },
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ssm:*:*:document/My${*}Doc`}}" }, "ssm:StartSession", DOC("MyXYDoc"), "{}", I, NULL },
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ssm:*:*:document/Doc${?}`}}" }, "ssm:StartSession", DOC("DocX"), "{}", I, NULL },
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ssm:*:*:document/Doc${?}`}}" }, "ssm:StartSession", DOC("Doc?"), "{}", A, NULL },
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ssm:*:*:document/Cost${$}`}}" }, "ssm:StartSession", DOC("Cost$"), "{}", A, NULL },
	{ __LINE__, { ONE("Allow", "`StringLike`:{`ssm:resourceTag/Name`:`web${*}`}") }, "ssm:StartSession", INST_DEV, "{" TAG("Name", "web01") "}", I, NULL },
	{ __LINE__, { ONE("Allow", "`StringLike`:{`ssm:resourceTag/Name`:`web${*}`}") }, "ssm:StartSession", INST_DEV, "{" TAG("Name", "web*") "}", A, "S" },
	/* a substituted value is literal too: a user name cannot smuggle a wildcard */
	{ __LINE__, { P_SSMDEV }, "ssm:TerminateSession", SESS("bob-1"), "{" U("*") "}", I, NULL },
	/* [VARS no value] the statement does not match; the request is still evaluated.
	 * py: the whole request is refused */
	{ __LINE__, { ALLOW_ALL, "{" V12 "`Statement`:{`Sid`:`X`,`Effect`:`Deny`,`Action`:`*`,`Resource`:`arn:aws:ssm:*:*:document/${aws:PrincipalTag/team}-*`}}" }, "ssm:StartSession", DOC("ops-x"), "{}", A, NULL },
	{ __LINE__, { ALLOW_ALL, "{" V12 "`Statement`:{`Sid`:`X`,`Effect`:`Deny`,`Action`:`*`,`Resource`:`arn:aws:ssm:*:*:document/${aws:PrincipalTag/team}-*`}}" }, "ssm:StartSession", DOC("ops-x"), "{`aws:PrincipalTag/team`:`ops`}", D, "X" },
	/* the doc's own example: inverted operators match the null value -> denied without the tag */
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`StringNotEquals`:{`ssm:resourceTag/Team`:`${aws:PrincipalTag/Team}`}") }, "ssm:StartSession", INST_DEV, "{" TAG("Team", "blue") "}", D, "S" },
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`StringNotEquals`:{`ssm:resourceTag/Team`:`${aws:PrincipalTag/Team}`}") }, "ssm:StartSession", INST_DEV, "{" TAG("Team", "blue") ",`aws:PrincipalTag/Team`:`blue`}", A, NULL },
	{ __LINE__, { ONE("Allow", "`StringEquals`:{`ssm:resourceTag/Team`:`${aws:PrincipalTag/Team}`}") }, "ssm:StartSession", INST_DEV, "{" TAG("Team", "blue") "}", I, NULL },
	/* [MULTI] a multivalued key has no single value to substitute */
	{ __LINE__, { ONE("Allow", "`StringEquals`:{`ssm:resourceTag/Team`:`${aws:PrincipalTag/teams}`}") }, "ssm:StartSession", INST_DEV, "{" TAG("Team", "blue") ",`aws:PrincipalTag/teams`:[`blue`,`red`]}", I, NULL },
	/* [VARS no value] NotResource: the entry with no value matches no resource, so the Deny
	 * covers everything */
	{ __LINE__, { ALLOW_ALL, "{" V12 "`Statement`:{`Sid`:`N`,`Effect`:`Deny`,`Action`:`ssm:TerminateSession`,`NotResource`:`arn:aws:ssm:*:*:session/${aws:username}-*`}}" }, "ssm:TerminateSession", SESS("alice-1"), "{}", D, "N" },
	{ __LINE__, { ALLOW_ALL, "{" V12 "`Statement`:{`Sid`:`N`,`Effect`:`Deny`,`Action`:`ssm:TerminateSession`,`NotResource`:`arn:aws:ssm:*:*:session/${aws:username}-*`}}" }, "ssm:TerminateSession", SESS("alice-1"), "{" U("alice") "}", A, NULL },
	/* [VARS default values] ${key, 'default'}: the default when the key has no value;
	 * key names case-insensitive; the default is literal. py: unsupported */
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ssm:*:*:document/${aws:PrincipalTag/team, 'Shared'}-*`}}" }, "ssm:StartSession", DOC("Shared-Logs"), "{}", A, NULL },
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ssm:*:*:document/${aws:PrincipalTag/team, 'Shared'}-*`}}" }, "ssm:StartSession", DOC("ops-Logs"), "{`aws:PrincipalTag/team`:`ops`}", A, NULL },
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ssm:*:*:document/${aws:PrincipalTag/team, 'Shared'}-*`}}" }, "ssm:StartSession", DOC("Shared-Logs"), "{`aws:PrincipalTag/team`:`ops`}", I, NULL },
	{ __LINE__, { ONE("Allow", "`StringEquals`:{`ssm:resourceTag/Owner`:`${aws:username, 'nobody'}`}") }, "ssm:StartSession", INST_DEV, "{" TAG("Owner", "nobody") "}", A, "S" },
	{ __LINE__, { ONE("Allow", "`StringLike`:{`ssm:resourceTag/Owner`:`${aws:username, '*'}`}") }, "ssm:StartSession", INST_DEV, "{" TAG("Owner", "anyone") "}", I, NULL },
	{ __LINE__, { ONE("Allow", "`StringEquals`:{`ssm:resourceTag/Owner`:`${AWS:UserName}`}") }, "ssm:StartSession", INST_DEV, "{" TAG("Owner", "alice") "," U("alice") "}", A, "S" },
	/* [OPS Null] true: the key is absent; false: present. py: unsupported */
	{ __LINE__, { ONE("Allow", "`Null`:{`aws:TokenIssueTime`:`true`}") }, "ec2:RunInstances", "*", "{}", A, "S" },
	{ __LINE__, { ONE("Allow", "`Null`:{`aws:TokenIssueTime`:`true`}") }, "ec2:RunInstances", "*", "{`aws:TokenIssueTime`:`2026-01-01T00:00:00Z`}", I, NULL },
	{ __LINE__, { ONE("Allow", "`Null`:{`aws:TokenIssueTime`:`false`}") }, "ec2:RunInstances", "*", "{`aws:TokenIssueTime`:`2026-01-01T00:00:00Z`}", A, "S" },
	{ __LINE__, { ONE("Allow", "`Null`:{`aws:TokenIssueTime`:false}") }, "ec2:RunInstances", "*", "{}", I, NULL },
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`Null`:{`aws:MultiFactorAuthPresent`:`TRUE`}") }, "ssm:StartSession", INST_DEV, "{}", D, "S" },
	/* [OPS IP address] CIDR v4/v6, a bare address is /32; py: unsupported (configuration error) */
	{ __LINE__, { ONE("Allow", "`IpAddress`:{`aws:SourceIp`:`203.0.113.0/24`}") }, "ssm:StartSession", INST_DEV, "{`aws:SourceIp`:`203.0.113.77`}", A, "S" },
	{ __LINE__, { ONE("Allow", "`IpAddress`:{`aws:SourceIp`:`203.0.113.0/24`}") }, "ssm:StartSession", INST_DEV, "{`aws:SourceIp`:`198.51.100.1`}", I, NULL },
	{ __LINE__, { ONE("Allow", "`IpAddress`:{`aws:SourceIp`:[`203.0.113.0/24`,`2001:DB8:1234:5678::/64`]}") }, "ssm:StartSession", INST_DEV, "{`aws:SourceIp`:`2001:db8:1234:5678::1`}", A, "S" },
	{ __LINE__, { ONE("Allow", "`IpAddress`:{`aws:SourceIp`:[`203.0.113.0/24`,`2001:DB8:1234:5678::/64`]}") }, "ssm:StartSession", INST_DEV, "{`aws:SourceIp`:`2001:db8:1234:5679::1`}", I, NULL },
	{ __LINE__, { ONE("Allow", "`IpAddress`:{`aws:SourceIp`:`203.0.113.5`}") }, "ssm:StartSession", INST_DEV, "{`aws:SourceIp`:`203.0.113.5`}", A, "S" },
	{ __LINE__, { ONE("Allow", "`IpAddress`:{`aws:SourceIp`:`203.0.113.5`}") }, "ssm:StartSession", INST_DEV, "{`aws:SourceIp`:`203.0.113.6`}", I, NULL },
	{ __LINE__, { ONE("Allow", "`IpAddress`:{`aws:SourceIp`:`203.0.113.0/24`}") }, "ssm:StartSession", INST_DEV, "{}", I, NULL },
	{ __LINE__, { ONE("Allow", "`IpAddress`:{`aws:SourceIp`:`203.0.113.0/24`}") }, "ssm:StartSession", INST_DEV, "{`aws:SourceIp`:`::ffff:203.0.113.9`}", A, "S" },
	{ __LINE__, { ONE("Allow", "`IpAddress`:{`aws:SourceIp`:`::/0`}") }, "ssm:StartSession", INST_DEV, "{`aws:SourceIp`:`203.0.113.9`}", I, NULL },
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`NotIpAddress`:{`aws:SourceIp`:[`10.0.0.0/8`,`192.168.0.0/16`]}") }, "ssm:StartSession", INST_DEV, "{`aws:SourceIp`:`203.0.113.9`}", D, "S" },
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`NotIpAddress`:{`aws:SourceIp`:[`10.0.0.0/8`,`192.168.0.0/16`]}") }, "ssm:StartSession", INST_DEV, "{`aws:SourceIp`:`192.168.4.2`}", A, NULL },
	{ __LINE__, { ONE("Allow", "`IpAddress`:{`aws:SourceIp`:`203.0.113.0/24`}") }, "ssm:StartSession", INST_DEV, "{`aws:SourceIp`:`not-an-ip`}", I, NULL },
	/* [OPS Date] an on-call window (ISO 8601 and epoch seconds); py: unsupported */
	{ __LINE__, { ONE("Allow", WINDOW) }, "ssm:StartSession", INST_PROD, "{`aws:CurrentTime`:`2026-03-01T12:00:00Z`}", A, "S" },
	{ __LINE__, { ONE("Allow", WINDOW) }, "ssm:StartSession", INST_PROD, "{`aws:CurrentTime`:`2026-03-01T19:00:00Z`}", I, NULL },
	{ __LINE__, { ONE("Allow", WINDOW) }, "ssm:StartSession", INST_PROD, "{`aws:CurrentTime`:`2026-03-01T18:00:00Z`}", I, NULL },
	{ __LINE__, { ONE("Allow", WINDOW) }, "ssm:StartSession", INST_PROD, "{`aws:CurrentTime`:`2026-03-01T19:30:00+02:00`}", A, "S" },
	{ __LINE__, { ONE("Allow", WINDOW) }, "ssm:StartSession", INST_PROD, "{`aws:CurrentTime`:`2026-03-01T07:59:59.999Z`}", I, NULL },
	{ __LINE__, { ONE("Allow", WINDOW) }, "ssm:StartSession", INST_PROD, "{}", I, NULL },
	{ __LINE__, { ONE("Allow", "`DateLessThan`:{`aws:EpochTime`:`1772388000`},`DateGreaterThanEquals`:{`aws:EpochTime`:1772352000}") }, "ssm:StartSession", INST_PROD, "{`aws:EpochTime`:1772366400}", A, "S" },
	{ __LINE__, { ONE("Allow", "`DateLessThan`:{`aws:EpochTime`:`1772388000`},`DateGreaterThanEquals`:{`aws:EpochTime`:1772352000}") }, "ssm:StartSession", INST_PROD, "{`aws:EpochTime`:1772388000}", I, NULL },
	{ __LINE__, { ONE("Allow", "`DateGreaterThan`:{`aws:CurrentTime`:`1772352000`}") }, "ssm:StartSession", INST_PROD, "{`aws:CurrentTime`:`2026-03-01T08:00:01Z`}", A, "S" },
	{ __LINE__, { ONE("Allow", "`DateEquals`:{`aws:CurrentTime`:`2026-03-01`}") }, "ssm:StartSession", INST_PROD, "{`aws:CurrentTime`:`2026-03-01T00:00:00Z`}", A, "S" },
	{ __LINE__, { ALLOW_ALL, "{" V12 "`Statement`:{`Sid`:`OffHours`,`Effect`:`Deny`,`Action`:`ssm:StartSession`,`Resource`:`*`,`Condition`:{`DateGreaterThan`:{`aws:CurrentTime`:`2026-03-01T18:00:00Z`}}}}" }, "ssm:StartSession", INST_PROD, "{`aws:CurrentTime`:`2026-03-01T23:00:00Z`}", D, "OffHours" },
	/* [OPS IfExists] absent: true; present: compared */
	{ __LINE__, { ONE("Allow", "`StringEqualsIfExists`:{`ssm:resourceTag/Env`:`Dev`}") }, "ssm:StartSession", INST_DEV, "{}", A, "S" },
	{ __LINE__, { ONE("Allow", "`StringEqualsIfExists`:{`ssm:resourceTag/Env`:`Dev`}") }, "ssm:StartSession", INST_DEV, "{" TAG("Env", "Prod") "}", I, NULL },
	{ __LINE__, { ONE("Allow", "`StringEqualsIfExists`:{`ssm:resourceTag/Env`:`Dev`}") }, "ssm:StartSession", INST_DEV, "{" TAG("Env", "Dev") "}", A, "S" },
	/* [MULTI] ForAllValues: every request value in the policy's set; true when the key is absent */
	{ __LINE__, { ONE("Allow", "`ForAllValues:StringEquals`:{`aws:TagKeys`:[`Environment`,`Name`]}") }, "ssm:AddTagsToResource", "*", "{`aws:TagKeys`:[`Environment`]}", A, "S" },
	{ __LINE__, { ONE("Allow", "`ForAllValues:StringEquals`:{`aws:TagKeys`:[`Environment`,`Name`]}") }, "ssm:AddTagsToResource", "*", "{`aws:TagKeys`:[`Environment`,`Owner`]}", I, NULL },
	{ __LINE__, { ONE("Allow", "`ForAllValues:StringEquals`:{`aws:TagKeys`:[`Environment`,`Name`]}") }, "ssm:AddTagsToResource", "*", "{}", A, "S" },
	/* ForAnyValue: at least one; false when the key is absent */
	{ __LINE__, { ONE("Allow", "`ForAnyValue:StringEquals`:{`aws:TagKeys`:`Environment`}") }, "ssm:AddTagsToResource", "*", "{`aws:TagKeys`:[`Name`,`Environment`]}", A, "S" },
	{ __LINE__, { ONE("Allow", "`ForAnyValue:StringEquals`:{`aws:TagKeys`:`Environment`}") }, "ssm:AddTagsToResource", "*", "{`aws:TagKeys`:[`Name`]}", I, NULL },
	{ __LINE__, { ONE("Allow", "`ForAnyValue:StringEquals`:{`aws:TagKeys`:`Environment`}") }, "ssm:AddTagsToResource", "*", "{}", I, NULL },
	{ __LINE__, { ONE("Allow", "`ForAnyValue:StringEquals`:{`aws:TagKeys`:`Environment`}") }, "ssm:AddTagsToResource", "*", "{`aws:TagKeys`:[]}", I, NULL },
	/* the doc's Deny with ForAllValues:StringNotLike key1*: matches key2:audit and a missing key */
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`ForAllValues:StringNotLike`:{`aws:TagKeys`:`key1*`}") }, "iam:TagUser", "*", "{`aws:TagKeys`:[`key1:legal`]}", A, NULL },
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`ForAllValues:StringNotLike`:{`aws:TagKeys`:`key1*`}") }, "iam:TagUser", "*", "{`aws:TagKeys`:[`key2:audit`]}", D, "S" },
	{ __LINE__, { ALLOW_ALL, ONE("Deny", "`ForAllValues:StringNotLike`:{`aws:TagKeys`:`key1*`}") }, "iam:TagUser", "*", "{}", D, "S" },
	{ __LINE__, { ONE("Allow", "`ForAnyValue:StringNotEquals`:{`aws:TagKeys`:[`DataClass`,`Owner`]}") }, "iam:TagUser", "*", "{`aws:TagKeys`:[`DataClass`,`Other`]}", A, "S" },
	{ __LINE__, { ONE("Allow", "`ForAnyValue:StringNotEquals`:{`aws:TagKeys`:[`DataClass`,`Owner`]}") }, "iam:TagUser", "*", "{`aws:TagKeys`:[`DataClass`,`Owner`]}", I, NULL },
	/* [COND] key names case-insensitive, values by operator */
	{ __LINE__, { ONE("Allow", "`StringEquals`:{`SSM:RESOURCETAG/environment`:`Dev`}") }, "ssm:StartSession", INST_DEV, "{" TAG("Environment", "Dev") "}", A, "S" },
	{ __LINE__, { ONE("Allow", "`StringEquals`:{`aws:username`:`johndoe`}") }, "ssm:StartSession", INST_DEV, "{" U("JohnDoe") "}", I, NULL },
	{ __LINE__, { ONE("Allow", "`StringEqualsIgnoreCase`:{`aws:username`:`johndoe`}") }, "ssm:StartSession", INST_DEV, "{" U("JohnDoe") "}", A, "S" },
	{ __LINE__, { ONE("Allow", "`StringNotEqualsIgnoreCase`:{`aws:username`:`johndoe`}") }, "ssm:StartSession", INST_DEV, "{" U("JohnDoe") "}", I, NULL },
	{ __LINE__, { ONE("Allow", "`StringEquals`:{`aws:username`:`a*`}") }, "ssm:StartSession", INST_DEV, "{" U("alice") "}", I, NULL },
	{ __LINE__, { ONE("Allow", "`StringLike`:{`aws:username`:`a?i*`}") }, "ssm:StartSession", INST_DEV, "{" U("alice") "}", A, "S" },
	{ __LINE__, { ONE("Allow", "`StringLike`:{`aws:username`:`?`}") }, "ssm:StartSession", INST_DEV, "{" U("\xc3\xa9") "}", A, "S" },
	/* [ELEM Resource] case-sensitive, segment by segment, wildcards inside a segment */
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ec2:*:*:Instance/*`}}" }, "ssm:StartSession", INST_DEV, "{}", I, NULL },
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ec2:us-*:*:instance/*`}}" }, "ssm:StartSession", INST_DEV, "{}", A, NULL },
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ec2:*:12345678901?:instance/i-0123*`}}" }, "ssm:StartSession", INST_DEV, "{}", A, NULL },
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ec2:*:12345678901?:instance/i-0123*`}}" }, "ssm:StartSession", INST_PROD, "{}", I, NULL },
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ec2:*:*:instance/*`}}" }, "ssm:StartSession", "*", "{}", I, NULL },
	/* [ELEM Action] '?' and '*' in actions */
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:?tart*`,`Resource`:`*`}}" }, "ssm:StartSession", INST_DEV, "{}", A, NULL },
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:?tart*`,`Resource`:`*`}}" }, "ssmmessages:StartSession", INST_DEV, "{}", I, NULL },
	/* [ELEM NotAction, NotResource] */
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`NotAction`:`ssm:SendCommand`,`Resource`:`*`}}" }, "ssm:StartSession", INST_DEV, "{}", A, NULL },
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`NotAction`:`ssm:SendCommand`,`Resource`:`*`}}" }, "ssm:SendCommand", INST_DEV, "{}", I, NULL },
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:StartSession`,`NotResource`:`" INST_PROD "`}}" }, "ssm:StartSession", INST_DEV, "{}", A, NULL },
	{ __LINE__, { "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:StartSession`,`NotResource`:`" INST_PROD "`}}" }, "ssm:StartSession", INST_PROD, "{}", I, NULL },
	{ __LINE__, { ALLOW_ALL, "{" V12 "`Statement`:{`Sid`:`OnlySSM`,`Effect`:`Deny`,`NotAction`:[`ssm:*`,`ssmmessages:*`],`Resource`:`*`}}" }, "ec2:TerminateInstances", INST_DEV, "{}", D, "OnlySSM" },
	/* [OPS Numeric] */
	{ __LINE__, { ONE("Allow", "`NumericLessThanEquals`:{`s3:max-keys`:`10`}") }, "s3:ListBucket", "*", "{`s3:max-keys`:`10`}", A, "S" },
	{ __LINE__, { ONE("Allow", "`NumericLessThanEquals`:{`s3:max-keys`:`10`}") }, "s3:ListBucket", "*", "{`s3:max-keys`:11}", I, NULL },
	{ __LINE__, { ONE("Allow", "`NumericLessThanEquals`:{`s3:max-keys`:10}") }, "s3:ListBucket", "*", "{`s3:max-keys`:`9.5`}", A, "S" },
	{ __LINE__, { ONE("Allow", "`NumericEquals`:{`s3:max-keys`:`10`}") }, "s3:ListBucket", "*", "{`s3:max-keys`:`10.0`}", A, "S" },
	{ __LINE__, { ONE("Allow", "`NumericGreaterThan`:{`s3:max-keys`:`10`}") }, "s3:ListBucket", "*", "{`s3:max-keys`:`ten`}", I, NULL },
	/* [OPS ARN] ArnLike matches part by part, StringLike across colons (the doc's example) */
	{ __LINE__, { ONE("Allow", "`ArnLike`:{`aws:SourceArn`:`arn:aws:someservice:*:111122223333:finance/*`}") }, "sqs:SendMessage", "*", "{`aws:SourceArn`:`arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt`}", I, NULL },
	{ __LINE__, { ONE("Allow", "`StringLike`:{`aws:SourceArn`:`arn:aws:someservice:*:111122223333:finance/*`}") }, "sqs:SendMessage", "*", "{`aws:SourceArn`:`arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt`}", A, "S" },
	{ __LINE__, { ONE("Allow", "`ArnEquals`:{`aws:SourceArn`:`arn:aws:sns:*:111122223333:topic-*`}") }, "sqs:SendMessage", "*", "{`aws:SourceArn`:`arn:aws:sns:us-east-1:111122223333:topic-a`}", A, "S" },
	{ __LINE__, { ONE("Allow", "`ArnLike`:{`aws:SourceArn`:`arn:aws:ec2:*:*:instance/${aws:PrincipalTag/host}`}") }, "sqs:SendMessage", "*", "{`aws:SourceArn`:`" INST_DEV "`,`aws:PrincipalTag/host`:`i-0123456789abcdef0`}", A, "S" },
	/* [OPS Binary] */
	{ __LINE__, { ONE("Allow", "`BinaryEquals`:{`ssm:blob`:`QmluYXJ5VmFsdWVJbkJhc2U2NA==`}") }, "ssm:X", "*", "{`ssm:blob`:`QmluYXJ5VmFsdWVJbkJhc2U2NA==`}", A, "S" },
	{ __LINE__, { ONE("Allow", "`BinaryEquals`:{`ssm:blob`:`QmluYXJ5VmFsdWVJbkJhc2U2NA==`}") }, "ssm:X", "*", "{`ssm:blob`:`QmluYXJ5VmFsdWVJbkJhc2U2NQ==`}", I, NULL },
	/* [EVAL] no policy: implicit deny; a Deny anywhere wins whatever the order */
	{ __LINE__, { NULL }, "ssm:StartSession", INST_DEV, "{}", I, NULL },
	{ __LINE__, { "{" V12 "`Statement`:{`Sid`:`No`,`Effect`:`Deny`,`Action`:`ssm:*`,`Resource`:`*`}}", ALLOW_ALL }, "ssm:StartSession", INST_DEV, "{}", D, "No" },
	{ __LINE__, { ALLOW_ALL, "{" V12 "`Statement`:{`Sid`:`No`,`Effect`:`Deny`,`Action`:`ssm:*`,`Resource`:`*`}}" }, "ssm:StartSession", INST_DEV, "{}", D, "No" },
	{ __LINE__, { ALLOW_ALL, "{" V12 "`Statement`:{`Sid`:`No`,`Effect`:`Deny`,`Action`:`ssm:*`,`Resource`:`*`}}" }, "ec2:DescribeInstances", "*", "{}", A, NULL },
};

/* [SDAC] ssm:StartSession as Session Manager authorizes it: target, then document */
#define P_SDAC_MIN "{" V12 "`Statement`:[{`Sid`:`EnableSSMSession`,`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:[`arn:aws:ec2:*:*:instance/*`],`Condition`:{`BoolIfExists`:{`ssm:SessionDocumentAccessCheck`:`true`}}}]}"
#define P_SDAC_DOCS "{" V12 "`Statement`:[{`Sid`:`EnableSSMSession`,`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:[`arn:aws:ec2:*:*:instance/*`,`arn:aws:ssm:*:*:document/SSM-SessionManagerRunShell`],`Condition`:{`BoolIfExists`:{`ssm:SessionDocumentAccessCheck`:`true`}}}]}"
#define P_NOSDAC "{" V12 "`Statement`:[{`Sid`:`Start`,`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:[`arn:aws:ec2:*:*:instance/*`]}]}"
#define P_SDAC_MIXED "{" V12 "`Statement`:[{`Sid`:`Ec2`,`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ec2:*:*:instance/*`,`Condition`:{`BoolIfExists`:{`ssm:SessionDocumentAccessCheck`:`true`}}},{`Sid`:`OnPrem`,`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ssm:*:*:managed-instance/*`}]}"
#define P_PF "{" V12 "`Statement`:{`Sid`:`PF`,`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ssm:*:*:document/AWS-StartPortForwardingSession`}}"
#define P_DENYSHELL "{" V12 "`Statement`:{`Sid`:`NoShell`,`Effect`:`Deny`,`Action`:`ssm:StartSession`,`Resource`:`arn:aws:ssm:*:*:document/SSM-SessionManagerRunShell`}}"

static const struct srow {
	int line;
	const char *pol[3];
	const char *target, *tctx, *doc;
	enum ssm_iam_decision want;
	int on_doc; /* the decision is about the document */
	const char *sid;
} srows[] = {
	/* the condition with the document granted: the default shell starts */
	{ __LINE__, { P_SDAC_DOCS }, INST_DEV, "{}", RUNSHELL, A, 0, "EnableSSMSession" },
	/* the condition without a grant of the document: refused. py: Allow (SDAC ignored) */
	{ __LINE__, { P_SDAC_MIN }, INST_DEV, "{}", RUNSHELL, I, 1, NULL },
	/* no condition: SSM-SessionManagerRunShell needs no grant of its own */
	{ __LINE__, { P_NOSDAC }, INST_DEV, "{}", RUNSHELL, A, 0, "Start" },
	/* ... but an explicit Deny of it still wins */
	{ __LINE__, { P_NOSDAC, P_DENYSHELL }, INST_DEV, "{}", RUNSHELL, D, 1, "NoShell" },
	/* any other document needs an explicit grant, check or not */
	{ __LINE__, { P_NOSDAC }, INST_DEV, "{}", DOC("AWS-StartPortForwardingSession"), I, 1, NULL },
	{ __LINE__, { P_NOSDAC, P_PF }, INST_DEV, "{}", DOC("AWS-StartPortForwardingSession"), A, 0, "Start" },
	{ __LINE__, { P_SDAC_MIN, P_PF }, INST_DEV, "{}", DOC("AWS-StartPortForwardingSession"), A, 0, "EnableSSMSession" },
	{ __LINE__, { P_SDAC_DOCS }, INST_DEV, "{}", DOC("AWS-StartPortForwardingSession"), I, 1, NULL },
	/* "it must be included in all policy statements which allow ssm:StartSession": a
	 * statement without it leaves the default document implicit for what it allows */
	{ __LINE__, { P_SDAC_MIXED }, INST_DEV, "{}", RUNSHELL, I, 1, NULL },
	{ __LINE__, { P_SDAC_MIXED }, MI_PROD, "{}", RUNSHELL, A, 0, "OnPrem" },
	/* seed 003's end-user policy: staging hosts only, documents checked */
	{ __LINE__, { P_SDAC_STAGING }, INST_DEV, "{" TAG("Environment", "staging") "}", RUNSHELL, A, 0, NULL },
	{ __LINE__, { P_SDAC_STAGING }, INST_DEV, "{" TAG("Environment", "production") "}", RUNSHELL, I, 0, NULL },
	/* the target is decided first: its explicit Deny */
	{ __LINE__, { P_DEVSET, P_MFA, P_PRODSET }, INST_PROD, "{" U("alice") "," MFA("false") "," TAG("Environment", "Prod") "}", RUNSHELL, D, 0, "DenyProdWithoutMFA" },
	{ __LINE__, { P_DEVSET, P_MFA }, INST_DEV, "{" U("bob") "," TAG("Environment", "Dev") "}", RUNSHELL, A, 0, "StartOnDev" },
	{ __LINE__, { P_DEVSET, P_MFA }, INST_DEV, "{" U("bob") "," TAG("Environment", "Dev") "}", DOC("ViewLog"), I, 1, NULL },
	{ __LINE__, { P_DEVSET, P_MFA, P_PRODSET }, INST_DEV, "{" U("alice") "," TAG("Environment", "Dev") "}", DOC("ViewLog"), A, 0, "StartOnDev" },
	/* plain Bool true: the check is required and made */
	{ __LINE__, { "{" V12 "`Statement`:{`Sid`:`B`,`Effect`:`Allow`,`Action`:`ssm:StartSession`,`Resource`:[`arn:aws:ec2:*:*:instance/*`,`arn:aws:ssm:*:*:document/SSM-SessionManagerRunShell`],`Condition`:{`Bool`:{`ssm:SessionDocumentAccessCheck`:`true`}}}}" }, INST_DEV, "{}", RUNSHELL, A, 0, "B" },
};

/* policies refused, with a word of the message */
static const struct brow {
	int line;
	const char *pol, *msg;
} bad[] = {
	{ __LINE__, "{`Statement`:", "" },
	{ __LINE__, "[]", "object" },
	{ __LINE__, "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`},`Foo`:1}", "unknown policy element" },
	{ __LINE__, "{`Version`:`2012-10-18`,`Statement`:{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`}}", "Version" },
	{ __LINE__, "{`Version`:2012,`Statement`:{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`}}", "Version" },
	{ __LINE__, "{" V12 "`Id`:`x`}", "no Statement" },
	{ __LINE__, "{" V12 "`Statement`:`Allow`}", "Statement must be" },
	{ __LINE__, "{" V12 "`Statement`:[]}", "1 to" },
	{ __LINE__, "{" V12 "`Statement`:[`x`]}", "must be an object" },
	{ __LINE__, "{" V12 "`Statement`:{`Effect`:`Allow`,`Actions`:`*`,`Resource`:`*`}}", "unknown statement element" },
	{ __LINE__, "{" V12 "`Statement`:{`Effect`:`Allow`,`Principal`:{`Service`:`ec2.amazonaws.com`},`Action`:`sts:AssumeRole`,`Resource`:`*`}}", "principal" },
	{ __LINE__, "{" V12 "`Statement`:{`Effect`:`Allow`,`NotPrincipal`:`*`,`Action`:`*`,`Resource`:`*`}}", "principal" },
	{ __LINE__, "{" V12 "`Statement`:{`Action`:`*`,`Resource`:`*`}}", "no Effect" },
	{ __LINE__, "{" V12 "`Statement`:{`Effect`:`allow`,`Action`:`*`,`Resource`:`*`}}", "Effect" },
	{ __LINE__, "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`*`,`NotAction`:`ssm:X`,`Resource`:`*`}}", "exactly one of Action" },
	{ __LINE__, "{" V12 "`Statement`:{`Effect`:`Allow`,`Resource`:`*`}}", "exactly one of Action" },
	{ __LINE__, "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`,`NotResource`:`*`}}", "exactly one of Resource" },
	{ __LINE__, "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`*`}}", "exactly one of Resource" },
	{ __LINE__, "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:[],`Resource`:`*`}}", "empty list" },
	{ __LINE__, "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:5,`Resource`:`*`}}", "string" },
	{ __LINE__, "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`StartSession`,`Resource`:`*`}}", "service:action" },
	/* seed 003's placeholders and typo, refused as IAM refuses them */
	{ __LINE__, "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`kms:GenerateDataKey`,`Resource`:`key-name`}}", "ARN format" },
	{ __LINE__, "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:TerminateSession`,`Resource`:``}}", "empty entry" },
	{ __LINE__, "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`ssm:TerminateSession`,`Resource`:`rn:aws:ssm:*:*:session/${aws:username}-*`}}", "ARN format" },
	{ __LINE__, ONE("Allow", "`StringEqualz`:{`aws:username`:`a`}"), "unknown condition operator" },
	{ __LINE__, ONE("Allow", "`stringequals`:{`aws:username`:`a`}"), "unknown condition operator" },
	{ __LINE__, ONE("Allow", "`IpAddress`:{`aws:SourceIp`:`10.0.0.0/33`}"), "CIDR" },
	{ __LINE__, ONE("Allow", "`IpAddress`:{`aws:SourceIp`:`${aws:PrincipalTag/net}`}"), "CIDR" },
	{ __LINE__, ONE("Allow", "`NumericLessThan`:{`s3:max-keys`:`ten`}"), "not a number" },
	{ __LINE__, ONE("Allow", "`DateLessThan`:{`aws:CurrentTime`:`yesterday`}"), "ISO 8601" },
	{ __LINE__, ONE("Allow", "`DateLessThan`:{`aws:CurrentTime`:`2026-02-30T00:00:00Z`}"), "ISO 8601" },
	{ __LINE__, ONE("Allow", "`Bool`:{`aws:SecureTransport`:`yes`}"), "true or false" },
	{ __LINE__, ONE("Allow", "`NullIfExists`:{`aws:TokenIssueTime`:`true`}"), "Null takes" },
	{ __LINE__, ONE("Allow", "`ForAllValues:Null`:{`aws:TokenIssueTime`:`true`}"), "Null takes" },
	{ __LINE__, ONE("Allow", "`StringEquals`:{`username`:`a`}"), "condition key" },
	{ __LINE__, ONE("Allow", "`StringEquals`:{`aws:username`:`a`,`AWS:UserName`:`b`}"), "twice" },
	{ __LINE__, ONE("Allow", "`StringEquals`:{`aws:username`:{`a`:1}}"), "string, number or boolean" },
	{ __LINE__, ONE("Allow", "`StringEquals`:{`aws:username`:[[`a`]]}"), "string, number or boolean" },
	{ __LINE__, ONE("Allow", "`StringEquals`:{`aws:username`:[]}"), "between 1" },
	{ __LINE__, ONE("Allow", "`StringEquals`:{}"), "non-empty object" },
	{ __LINE__, "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`,`Condition`:[]}}", "Condition must be an object" },
	{ __LINE__, ONE("Allow", "`StringEquals`:{`aws:username`:`${aws:username`}"), "policy variable" },
	{ __LINE__, ONE("Allow", "`StringEquals`:{`aws:username`:`${}`}"), "policy variable" },
	{ __LINE__, ONE("Allow", "`StringEquals`:{`aws:username`:`${aws:username, nobody}`}"), "quoted" },
	{ __LINE__, ONE("Allow", "`StringEquals`:{`aws:username`:`${aws:user name}`}"), "policy variable" },
	{ __LINE__, "{" V12 "`Statement`:{`Effect`:`Allow`,`Action`:`*`,`Resource`:`arn:aws:ssm:${aws:PrincipalTag/region}:*:document/x`}}", "resource part" },
	{ __LINE__, "{" V12 "`Statement`:{`Sid`:`Deny-Prod`,`Effect`:`Deny`,`Action`:`*`,`Resource`:`*`}}", "Sid" },
	{ __LINE__, "{" V12 "`Statement`:[{`Sid`:`A1`,`Effect`:`Deny`,`Action`:`*`,`Resource`:`*`},{`Sid`:`A1`,`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`}]}", "unique" },
	{ __LINE__, ONE("Allow", "`BinaryEquals`:{`ssm:blob`:`not base64!`}"), "base64" },
	{ __LINE__, "{`Statement`:{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`},`Statement`:{`Effect`:`Deny`,`Action`:`*`,`Resource`:`*`}}", "" },
};

static char *ticks(const char *s)
{
	char *o = strdup(s);

	for (char *p = o; p && *p; p++)
		if (*p == '`')
			*p = '"';
	return o;
}

static struct ssm_iam_policy *pol_of(int line, const char *text)
{
	char err[512] = "", *j = ticks(text);
	struct ssm_iam_policy *p = NULL;
	int rc = ssm_iam_policy_parse(j, strlen(j), "P", &p, err, sizeof(err));

	CHECK_ROW(line, rc == 0, "policy refused: %s", err);
	free(j);
	return p;
}

static cJSON *ctx_of(const char *text)
{
	char *j = ticks(text);
	cJSON *c = cJSON_Parse(j);

	free(j);
	return c;
}

static const char *sidname(const char *s)
{
	return s ? s : "(none)";
}

int main(void)
{
	size_t nr = sizeof(rows) / sizeof(rows[0]), ns = sizeof(srows) / sizeof(srows[0]);
	size_t nb = sizeof(bad) / sizeof(bad[0]);

	for (size_t i = 0; i < nr; i++) {
		const struct row *r = &rows[i];
		struct ssm_iam_policy *p[3] = { NULL, NULL, NULL };
		struct ssm_iam_result res;
		char err[256] = "";
		size_t n = 0;
		cJSON *c = ctx_of(r->ctx);
		struct ssm_iam_request q = { r->action, r->resource, c };
		int rc;

		CHECK_ROW(r->line, c != NULL, "context does not parse");
		for (; n < 3 && r->pol[n]; n++)
			p[n] = pol_of(r->line, r->pol[n]);
		rc = ssm_iam_evaluate((const struct ssm_iam_policy *const *)p, n, &q, &res, err,
				      sizeof(err));
		CHECK_ROW(r->line, rc == 0, "evaluate: %d %s", rc, err);
		CHECK_ROW(r->line, rc == 0 && res.decision == r->want, "%s on %s: %s, want %s",
			  r->action, r->resource, ssm_iam_decision_name(res.decision),
			  ssm_iam_decision_name(r->want));
		if (r->sid || r->want == I)
			CHECK_ROW(r->line, rc == 0 && ((!r->sid && !res.sid) ||
						       (r->sid && res.sid && !strcmp(r->sid, res.sid))),
				  "decided by %s, want %s", sidname(res.sid), sidname(r->sid));
		for (size_t k = 0; k < n; k++)
			ssm_iam_policy_free(p[k]);
		cJSON_Delete(c);
	}
	for (size_t i = 0; i < ns; i++) {
		const struct srow *r = &srows[i];
		struct ssm_iam_policy *p[3] = { NULL, NULL, NULL };
		struct ssm_iam_result res;
		char err[256] = "";
		size_t n = 0;
		cJSON *c = ctx_of(r->tctx);
		struct ssm_iam_session s = { r->target, c, r->doc, NULL };
		int rc;

		for (; n < 3 && r->pol[n]; n++)
			p[n] = pol_of(r->line, r->pol[n]);
		rc = ssm_iam_start_session((const struct ssm_iam_policy *const *)p, n, &s, &res, err,
					   sizeof(err));
		CHECK_ROW(r->line, rc == 0, "start_session: %d %s", rc, err);
		CHECK_ROW(r->line, rc == 0 && res.decision == r->want, "start %s with %s: %s, want %s",
			  r->target, r->doc, ssm_iam_decision_name(res.decision),
			  ssm_iam_decision_name(r->want));
		CHECK_ROW(r->line, rc == 0 && res.resource == (r->on_doc ? r->doc : r->target),
			  "decided on %s", res.resource ? res.resource : "(null)");
		if (r->sid || r->want == I)
			CHECK_ROW(r->line, (!r->sid && !res.sid) ||
						   (r->sid && res.sid && !strcmp(r->sid, res.sid)),
				  "decided by %s, want %s", sidname(res.sid), sidname(r->sid));
		for (size_t k = 0; k < n; k++)
			ssm_iam_policy_free(p[k]);
		cJSON_Delete(c);
	}
	for (size_t i = 0; i < nb; i++) {
		char err[512] = "", *j = ticks(bad[i].pol);
		struct ssm_iam_policy *p = (struct ssm_iam_policy *)1;
		int rc = ssm_iam_policy_parse(j, strlen(j), "Bad", &p, err, sizeof(err));

		CHECK_ROW(bad[i].line, rc == -EINVAL && p == NULL, "accepted (rc %d)", rc);
		CHECK_ROW(bad[i].line, err[0] && strstr(err, bad[i].msg), "message \"%s\", want \"%s\"",
			  err, bad[i].msg);
		free(j);
	}
	/* size limit */
	{
		size_t big = SSM_IAM_MAX_POLICY_BYTES + 1;
		char *j = malloc(big + 1), err[128] = "";
		struct ssm_iam_policy *p = NULL;

		memset(j, ' ', big);
		j[big] = '\0';
		CHECK(ssm_iam_policy_parse(j, big, "Big", &p, err, sizeof(err)) == -E2BIG && !p,
		      "oversized policy accepted");
		free(j);
	}
	/* bad request contexts and requests are errors, never decisions */
	{
		struct ssm_iam_policy *p = pol_of(__LINE__, ALLOW_ALL);
		const struct ssm_iam_policy *pp[1] = { p };
		struct ssm_iam_result res;
		char err[256];
		const char *ctxs[] = { "[]", "{`a:b`:{`c`:1}}", "{`a:b`:[[1]]}", "{`aws:UserName`:`a`,`aws:username`:`b`}", "``" };

		for (size_t k = 0; k < sizeof(ctxs) / sizeof(ctxs[0]); k++) {
			cJSON *c = ctx_of(ctxs[k]);
			struct ssm_iam_request q = { "ssm:StartSession", INST_DEV, c };

			CHECK(ssm_iam_evaluate(pp, 1, &q, &res, err, sizeof(err)) == -EINVAL,
			      "context %s accepted", ctxs[k]);
			cJSON_Delete(c);
		}
		struct ssm_iam_request q0 = { NULL, INST_DEV, NULL }, q1 = { "ssm:X", "", NULL };

		CHECK(ssm_iam_evaluate(pp, 1, &q0, &res, err, sizeof(err)) == -EINVAL, "no action");
		CHECK(ssm_iam_evaluate(pp, 1, &q1, &res, err, sizeof(err)) == -EINVAL, "no resource");
		ssm_iam_policy_free(p);
	}
	/* AWS's words in denials */
	{
		struct ssm_iam_policy *p[2] = { pol_of(__LINE__, P_MFA), pol_of(__LINE__, P_PRODSET) };
		cJSON *c = ctx_of("{" TAG("Environment", "Prod") "}");
		struct ssm_iam_request q = { "ssm:StartSession", INST_PROD, c };
		struct ssm_iam_result res;
		char err[256], msg[512];

		ssm_iam_evaluate((const struct ssm_iam_policy *const *)p, 2, &q, &res, err, sizeof(err));
		ssm_iam_explain("alice", q.action, &res, msg, sizeof(msg));
		CHECK(strstr(msg, "User: alice is not authorized to perform: ssm:StartSession on resource: " INST_PROD " with an explicit deny in statement DenyProdWithoutMFA") != NULL,
		      "%s", msg);
		q.resource = INST_DEV;
		cJSON_Delete(c);
		q.context = NULL;
		ssm_iam_evaluate((const struct ssm_iam_policy *const *)p, 2, &q, &res, err, sizeof(err));
		ssm_iam_explain("alice", q.action, &res, msg, sizeof(msg));
		CHECK(strstr(msg, "because no identity-based policy allows the ssm:StartSession action") != NULL,
		      "%s", msg);
		ssm_iam_policy_free(p[0]);
		ssm_iam_policy_free(p[1]);
	}
	printf("test_iam: %zu decision rows, %zu start-session rows, %zu refused policies\n", nr, ns,
	       nb);
	return check_done("test_iam");
}

/* ssmctl.h - shared between the ssmctl commands */
#ifndef SSMCTL_H
#define SSMCTL_H

/* Exit statuses (SPEC section 7) */
#define SSMCTL_OK 0
#define SSMCTL_REFUSED 1 /* refused, or what was asked about is wrong */
#define SSMCTL_USAGE 2   /* usage or configuration error */

#define SSMCTL_SUDOERS_DIR "/etc/sudoers.d"
#define SSMCTL_SUDOERS_FILE "ssm-agent-users"
#define SSMCTL_DEFAULT_SUDO_USER "ssm-user"
#define SSMCTL_VISUDO "/usr/sbin/visudo"
#define SSMCTL_SUDO "/usr/bin/sudo"
#define SSMCTL_SUDOERS "/etc/sudoers"

/* The configuration path (--config; default SSM_DEFAULT_CONFIG). */
extern const char *ssmctl_config_path;

/* `ssmctl sudo enable [--for D]|disable|status [--json]|expire [--user NAME]`: argv[0] is
 * the subcommand. */
int ssmctl_sudo(int argc, char **argv);

/* `ssmctl user ensure [--user NAME] [--sudo|--no-sudo] [--force]` */
int ssmctl_user(int argc, char **argv);

/* `ssmctl config check [--json]` */
int ssmctl_config_check(int argc, char **argv);

/* `ssmctl register --broker URL --ca FILE (--activation-id ID --activation-code CODE |
 * --ec2 [--imds URL] [--ec2-signature pkcs7|rsa2048])` (register.c, imds.c) */
int ssmctl_register(int argc, char **argv);

/* 1 if name is a user name ssmctl will write into sudoers: [a-z_][a-z0-9_-]{0,31}. */
int ssmctl_user_name_ok(const char *name);

#endif

/* pam_ssmsession.c: not yet written */

/* sudo.c: not yet written */

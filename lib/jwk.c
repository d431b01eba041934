/* jwk.c: not yet written */

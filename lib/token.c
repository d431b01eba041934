/* token.c: not yet written */

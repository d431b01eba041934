/* record.c: not yet written */

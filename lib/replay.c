/* replay.c: not yet written */

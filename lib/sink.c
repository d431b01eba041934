/* sink.c: not yet written */

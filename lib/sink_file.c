/* sink_file.c: not yet written */

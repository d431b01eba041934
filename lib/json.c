/* json.c: not yet written */

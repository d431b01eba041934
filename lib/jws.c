/* jws.c: not yet written */

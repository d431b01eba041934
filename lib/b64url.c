/* b64url.c: not yet written */

/* asciicast.c: not yet written */

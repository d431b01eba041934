/* document.c: not yet written */

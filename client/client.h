/* client.h - the parts of the ssm client: the verbs (ssm.c) and a session's stream
 * (stream.c). */
#ifndef SSM_CLIENT_H
#define SSM_CLIENT_H

struct ssm_stream_args {
	const char *stream_url;   /* StartSession's StreamUrl: wss://HOST:PORT/v1/client */
	const char *session_id;   /* StartSession's SessionId */
	const char *token_value;  /* StartSession's TokenValue: the attach secret */
	const char *session_type; /* Standard_Stream, InteractiveCommands, NonInteractiveCommands, Port */
	const char *document;     /* the document name (the OPEN frame carries it) */
	const char *ca_file;      /* the broker's CA (from ssm login) */
	const char *bearer;       /* the cached credential */
	long local_port;          /* -1 unless a Port session with localPortNumber */
	/* a further session like this one, for each further local connection (StartSession
	 * again): 0 with *psid and *psecret malloc'ed, or -1 after one line on stderr */
	int (*new_session)(void *ctx, char **psid, char **psecret);
	void *new_session_ctx;
};

/* Run the session on this terminal or standard input/output; returns the exit status for
 * the process (the session's, 128 + signal, or 255 with one line on standard error). */
int ssm_stream_run(const struct ssm_stream_args *a);

#endif

/* astore.h - the hosts' audit logs at the broker (docs/PROTOCOL.md section 4, AUDIT
 * channels; brokerd/audit_store.c).
 *
 * A host delivers its audit.jsonl in segments (one file of the host, named by the agent:
 * agent/deliver_audit.c); the broker stores each as state_dir/audit/HOST/SEGMENT.jsonl, the
 * bytes as received, and keeps its durable length and completion in broker.db (table
 * audit_segments).  A byte is acknowledged to the host only once it is on disk
 * (fdatasync) and the length recorded; at open, bytes beyond the recorded length are cut
 * (the host sends them again) and a file shorter than it is refused. */
#ifndef SSM_BROKERD_ASTORE_H
#define SSM_BROKERD_ASTORE_H
#include "conn.h"

/* AUDIT channels from agents (relay.c dispatches them) */
void audit_chans_init(struct broker *b, void (*log)(const char *fmt, ...));
void audit_chan_open(struct conn *a, const struct ssm_mux_ev *ev);
int audit_chan_event(struct conn *a, const struct ssm_mux_ev *ev); /* 1 if it was one */

/* ssm-broker audit list|show (argv[0] is "audit") */
int broker_audit_main(int argc, char **argv);

/* For the tests: t from an RFC 3339 time ("2024-05-01T12:00:00Z", fractions and numeric
 * offsets allowed).  0 or -EINVAL. */
int astore_parse_time(const char *s, int64_t *pt);

#endif

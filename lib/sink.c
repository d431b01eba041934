/* sink.c - the tee sink: one stream of asciicast lines to several sinks (file + broker).
 * A failure of a required sink is final and returned; a failing optional sink is logged
 * once, closed and left out from then on, and the session goes on.  A reservation is asked
 * of the required members only. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "sink.h"

struct tee_member {
	struct ssm_sink *sink;
	int required;
	int dropped;
};

struct sink_tee {
	struct ssm_sink base;
	size_t n;
	int err; /* sticky -errno of a required sink */
	struct tee_member m[];
};

static void tee_drop(struct tee_member *m, const char *what, int r)
{
	ssm_log(LOG_ERR, "transcript sink %s: %s failed: %s; no longer written to",
	        m->sink->ops->name ? m->sink->ops->name : "?", what, strerror(-r));
	m->dropped = 1;
	(void)ssm_sink_close(m->sink);
}

/* Apply op to every live member; the first error of a required one is kept. */
static int tee_each(struct sink_tee *t, const char *what,
                    int (*op)(struct ssm_sink *, const char *, size_t), const char *buf, size_t len)
{
	size_t i;

	if (t->err)
		return t->err;
	for (i = 0; i < t->n; i++) {
		struct tee_member *m = &t->m[i];
		int r;

		if (m->dropped)
			continue;
		r = op(m->sink, buf, len);
		if (r >= 0)
			continue;
		if (m->required) {
			if (!t->err)
				t->err = r;
		} else {
			tee_drop(m, what, r);
		}
	}
	return t->err;
}

static int op_write(struct ssm_sink *s, const char *buf, size_t len)
{
	return ssm_sink_write(s, buf, len);
}

static int op_flush(struct ssm_sink *s, const char *buf, size_t len)
{
	(void)buf;
	(void)len;
	return ssm_sink_flush(s);
}

static int tee_write(struct ssm_sink *sink, const char *buf, size_t len)
{
	return tee_each((struct sink_tee *)sink, "write", op_write, buf, len);
}

static int tee_flush(struct ssm_sink *sink)
{
	return tee_each((struct sink_tee *)sink, "flush", op_flush, NULL, 0);
}

/* Every required member must reserve; optional ones may fail later without harm. */
static int tee_reserve(struct ssm_sink *sink, uint64_t upto)
{
	struct sink_tee *t = (struct sink_tee *)sink;
	size_t i, required = 0;

	if (t->err)
		return t->err;
	for (i = 0; i < t->n; i++) {
		struct tee_member *m = &t->m[i];
		int r;

		if (m->dropped || !m->required)
			continue;
		required++;
		m->sink->ceiling = sink->ceiling;
		r = ssm_sink_reserve(m->sink, upto);
		if (r < 0)
			return r;
	}
	/* no required member: nothing guarantees the bytes, so no reservation either (the
	 * recorder then writes before it passes output on) */
	return required ? 0 : -EOPNOTSUPP;
}

static int tee_close(struct ssm_sink *sink)
{
	struct sink_tee *t = (struct sink_tee *)sink;
	size_t i;

	for (i = 0; i < t->n; i++) {
		struct tee_member *m = &t->m[i];
		int r;

		if (m->dropped)
			continue;
		m->dropped = 1; /* closed: nothing more goes to it */
		r = ssm_sink_close(m->sink);
		if (r >= 0)
			continue;
		if (m->required) {
			if (!t->err)
				t->err = r;
		} else {
			ssm_log(LOG_ERR, "transcript sink %s: close failed: %s",
			        m->sink->ops->name ? m->sink->ops->name : "?", strerror(-r));
		}
	}
	return t->err;
}

static void tee_destroy(struct ssm_sink *sink)
{
	struct sink_tee *t = (struct sink_tee *)sink;
	size_t i;

	for (i = 0; i < t->n; i++)
		ssm_sink_destroy(t->m[i].sink);
	free(t);
}

static const struct ssm_sink_ops tee_ops = {
    .name = "tee",
    .write = tee_write,
    .flush = tee_flush,
    .close = tee_close,
    .destroy = tee_destroy,
    .reserve = tee_reserve,
};

/* On success the tee owns the sinks; on failure the caller still does. */
int ssm_sink_tee_new(struct ssm_sink **sinks, const int *required, size_t n,
                     struct ssm_sink **psink)
{
	struct sink_tee *t;
	size_t i;

	*psink = NULL;
	if (n == 0 || n > 16 || sinks == NULL)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (sinks[i] == NULL)
			return -EINVAL;
	t = calloc(1, sizeof(*t) + n * sizeof(t->m[0]));
	if (t == NULL)
		return -ENOMEM;
	t->base.ops = &tee_ops;
	t->n = n;
	for (i = 0; i < n; i++) {
		t->m[i].sink = sinks[i];
		t->m[i].required = required ? required[i] != 0 : 1;
	}
	*psink = &t->base;
	return 0;
}

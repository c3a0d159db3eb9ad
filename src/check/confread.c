/* Service configs through their includes (nginx, PostgreSQL, mosquitto):
 * each file's bytes are read once per run, found again by device and inode;
 * the chain of includes being walked is kept, so a file that includes
 * itself (directly or through others) is reported as a cycle with the whole
 * chain; nesting and the total number of files walked are bounded, so
 * includes that multiply (three files each including the next three,
 * fourteen deep) end with an error naming the include that went too far,
 * not after hours. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check/chk_int.h"
#include "check/chk_lua.h" /* chk_file_error */
#include "tlsgate/util.h"

struct chk_conf_cached {
	dev_t dev;
	ino_t ino;
	unsigned char *data;
	size_t len;
};

struct chk_conf_frame {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct chk_conf {
	const char *service; /* "nginx -t", "PostgreSQL": who refuses the same */
	unsigned max_depth;
	struct chk_conf_cached *cache;
	size_t ncache;
	struct chk_conf_frame stack[CHK_CONF_MAX_DEPTH + 1];
	unsigned depth;
	size_t walks;
};

struct chk_conf *
chk_conf_new(const char *service, unsigned max_depth)
{
	struct chk_conf *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->service = service;
	r->max_depth = max_depth < CHK_CONF_MAX_DEPTH ? max_depth : CHK_CONF_MAX_DEPTH;
	return r;
}

void
chk_conf_free(struct chk_conf *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->ncache; i++)
		free(r->cache[i].data);
	free(r->cache);
	for (unsigned i = 0; i < r->depth; i++)
		free(r->stack[i].path);
	free(r);
}

static const struct chk_conf_cached *
cache_find(const struct chk_conf *r, const struct stat *st)
{
	for (size_t i = 0; i < r->ncache; i++)
		if (r->cache[i].dev == st->st_dev && r->cache[i].ino == st->st_ino)
			return &r->cache[i];
	return NULL;
}

static const struct chk_conf_cached *
cache_add(struct chk_conf *r, const char *path, const struct stat *st, tg_err *err)
{
	struct chk_conf_cached *n = realloc(r->cache, (r->ncache + 1) * sizeof(*n));
	unsigned char *data;
	size_t len;

	if (n == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	r->cache = n;
	if (util_read_file(path, &data, &len, err) != 0)
		return NULL;
	n = &r->cache[r->ncache++];
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->data = data;
	n->len = len;
	return n;
}

/* "a.conf -> b.conf -> a.conf" from the frame that is entered again. */
static void
cycle_text(const struct chk_conf *r, unsigned from, const char *again, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = from; i < r->depth && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s -> ", r->stack[i].path);
	if (used < len)
		snprintf(buf + used, len - used, "%s", again);
}

int
chk_conf_enter(struct chk_conf *r, const char *path, const char *from, unsigned line,
    const unsigned char **data, size_t *len, tg_err *err)
{
	const struct chk_conf_cached *cf;
	struct stat st;
	char chain[1024];

	if (r->depth > r->max_depth)
		return chk_file_error(err, from, line, "includes nested more than %u deep (%s "
		    "refuses this too); flatten them", r->max_depth, r->service);
	if (++r->walks > CHK_CONF_MAX_WALKS)
		return chk_file_error(err, from, line, "the includes expand to more than %d files "
		    "read (an included file is read again at each include, and these multiply); "
		    "include each file once", CHK_CONF_MAX_WALKS);
	if (stat(path, &st) != 0)
		return tg_err_set(err, TG_ERR_IO, errno == ENOENT ? "%s: no such file" :
		    "cannot open %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return tg_err_set(err, TG_ERR_USAGE, "%s is not a regular file: give the config "
		    "file itself", path);
	for (unsigned i = 0; i < r->depth; i++) {
		if (r->stack[i].dev != st.st_dev || r->stack[i].ino != st.st_ino)
			continue;
		cycle_text(r, i, path, chain, sizeof(chain));
		return chk_file_error(err, from, line, "include cycle: %s (%s cannot load it "
		    "either); remove the include that leads back", chain, r->service);
	}
	if ((cf = cache_find(r, &st)) == NULL && (cf = cache_add(r, path, &st, err)) == NULL)
		return -1;
	if ((r->stack[r->depth].path = strdup(path)) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	r->stack[r->depth].dev = st.st_dev;
	r->stack[r->depth].ino = st.st_ino;
	r->depth++;
	*data = cf->data;
	*len = cf->len;
	return 0;
}

void
chk_conf_leave(struct chk_conf *r)
{
	if (r->depth == 0)
		return;
	r->depth--;
	free(r->stack[r->depth].path);
	r->stack[r->depth].path = NULL;
}

int
chk_conf_each_line(struct chk_conf *r, const char *path, const char *from, unsigned from_line,
    int (*fn)(void *arg, const char *path, unsigned line, char *text), void *arg, tg_err *err)
{
	const unsigned char *shared;
	char *data, *line, *next, *end;
	size_t len;
	unsigned lineno = 0;
	int rc = 0;

	if (chk_conf_enter(r, path, from, from_line, &shared, &len, err) != 0)
		return -1;
	/* Lines are cut in a copy: the cached bytes are read again at the next
	 * include of the same file. */
	if ((data = malloc(len + 1)) == NULL) {
		chk_conf_leave(r);
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	}
	memcpy(data, shared, len + 1);
	end = data + len;
	/* strtok_r would skip empty lines and lose the count; lines are cut by
	 * length, so a NUL byte ends its own line's text, not the file (the
	 * services read on past it too). */
	for (line = data; rc == 0 && line != NULL; line = next) {
		next = memchr(line, '\n', (size_t)(end - line));
		if (next != NULL)
			*next++ = '\0';
		rc = fn(arg, path, ++lineno, line);
	}
	free(data);
	chk_conf_leave(r);
	return rc == 0 ? 0 : 1;
}

/* Group commit: requests that each need a write of their own to the store
 * (a used nonce, an issued certificate) wait in a queue while another
 * group's transaction is under way, and are then written together, in one
 * transaction with one commit. The first waiter to find nobody writing
 * leads: it takes up to ACME_GROUP_MAX waiting items (its own among them:
 * the queue is first in, first out, and it leads again until its own is
 * done), runs the group's function with its own context (its thread's
 * store connection, say), marks them done and wakes the others. No item
 * returns before the commit that wrote it, or before it is known not to be
 * written. A request alone waits for nobody. */
#include "acme/srv.h"

struct acme_group_wait {
	void *item;
	struct acme_group_wait *next;
	int done;
	pthread_cond_t cv; /* each waiter is woken alone: when its item is done, or to lead */
};

void
acme_group_init(acme_group *g, acme_group_fn run)
{
	pthread_mutex_init(&g->mu, NULL);
	g->head = NULL;
	g->tail = &g->head;
	g->leading = 0;
	g->run = run;
}

void
acme_group_free(acme_group *g)
{
	pthread_mutex_destroy(&g->mu);
}

void
acme_group_join(acme_group *g, void *ctx, void *item)
{
	struct acme_group_wait me = { item, NULL, 0, PTHREAD_COND_INITIALIZER },
	    *w[ACME_GROUP_MAX];
	void *items[ACME_GROUP_MAX];

	pthread_mutex_lock(&g->mu);
	*g->tail = &me;
	g->tail = &me.next;
	while (!me.done) {
		size_t n = 0;
		if (g->leading) {
			pthread_cond_wait(&me.cv, &g->mu);
			continue;
		}
		g->leading = 1;
		for (; g->head != NULL && n < ACME_GROUP_MAX; g->head = g->head->next)
			items[n] = (w[n] = g->head)->item, n++;
		if (g->head == NULL)
			g->tail = &g->head;
		pthread_mutex_unlock(&g->mu);
		g->run(ctx, items, n);
		pthread_mutex_lock(&g->mu);
		/* The waiters' entries live on their stacks: once done is set under
		 * the lock, a waiter may return. One wake each, and one for the
		 * first still queued, who leads next (a broadcast woke every
		 * waiter for each group, most of them to sleep again). */
		for (size_t i = 0; i < n; i++) {
			w[i]->done = 1;
			if (w[i] != &me)
				pthread_cond_signal(&w[i]->cv);
		}
		g->leading = 0;
		if (g->head != NULL)
			pthread_cond_signal(&g->head->cv);
	}
	pthread_mutex_unlock(&g->mu);
	pthread_cond_destroy(&me.cv);
}

/* vpool.c — signature checks on worker threads (see vpool.h).
 *
 * The one decision: a group is one "job" published under the mutex with a generation number;
 * every thread (workers and the caller) claims entries one at a time from an atomic cursor
 * until none is left. The job's fields are read by a worker only between joining the job and
 * leaving it, both under the mutex, and the caller closes the job and waits for every worker
 * that joined to leave before it returns: so nothing of the caller's arrays is touched after
 * rcn_vpool_verify returns, and a worker that wakes late finds the job closed and sleeps on. */
#include "rcn/vpool.h"

#include <assert.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

struct rcn_vpool {
    pthread_mutex_t mu;
    pthread_cond_t work;              /* a job opened, or stop */
    pthread_cond_t idle;              /* the last worker left the job */
    pthread_t *workers;
    size_t nworkers;                  /* started (and to be joined) */
    bool stop;
    /* The current job; under mu, except the cursor. */
    bool open;
    unsigned long gen;
    rcn_entry_t *const *entries;
    int *results;
    size_t n;
    size_t active;                    /* workers inside the job */
    atomic_size_t next;               /* next entry to claim */
};

size_t
rcn_vpool_default_threads (void)
{
    long cpus = sysconf (_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        return 1;
    return cpus > RCN_VPOOL_MAX_THREADS ? RCN_VPOOL_MAX_THREADS : (size_t) cpus;
}

/* Claims and checks entries until none is left. Each index is claimed once, by one thread. */
static void
run (atomic_size_t *next, rcn_entry_t *const *entries, int *results, size_t n)
{
    for (;;) {
        size_t i = atomic_fetch_add_explicit (next, 1, memory_order_relaxed);
        if (i >= n)
            return;
        results[i] = rcn_entry_verify (entries[i]) == RCN_OK ? RCN_OK : RCN_ESIG;
    }
}

static void *
worker (void *arg)
{
    rcn_vpool_t *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock (&p->mu);
    for (;;) {
        while (!p->stop && (!p->open || p->gen == seen))
            pthread_cond_wait (&p->work, &p->mu);
        if (p->stop)
            break;
        seen = p->gen;
        p->active++;
        rcn_entry_t *const *entries = p->entries;
        int *results = p->results;
        size_t n = p->n;
        pthread_mutex_unlock (&p->mu);
        run (&p->next, entries, results, n);
        pthread_mutex_lock (&p->mu);
        if (--p->active == 0)
            pthread_cond_signal (&p->idle);
    }
    pthread_mutex_unlock (&p->mu);
    return NULL;
}

int
rcn_vpool_new (size_t threads, rcn_vpool_t **out)
{
    assert (out);
    if (threads > RCN_VPOOL_MAX_THREADS)
        threads = RCN_VPOOL_MAX_THREADS;
    rcn_vpool_t *p = calloc (1, sizeof *p);
    if (!p)
        return RCN_ENOMEM;
    atomic_init (&p->next, 0);
    if (pthread_mutex_init (&p->mu, NULL) != 0) {
        free (p);
        return RCN_ENOMEM;
    }
    if (pthread_cond_init (&p->work, NULL) != 0) {
        pthread_mutex_destroy (&p->mu);
        free (p);
        return RCN_ENOMEM;
    }
    if (pthread_cond_init (&p->idle, NULL) != 0) {
        pthread_cond_destroy (&p->work);
        pthread_mutex_destroy (&p->mu);
        free (p);
        return RCN_ENOMEM;
    }
    int rc = RCN_OK;
    size_t want = threads > 1 ? threads - 1 : 0;
    if (want > 0 && !(p->workers = calloc (want, sizeof *p->workers))) {
        rc = RCN_ENOMEM;
        goto fail;
    }
    /* Workers inherit the creating thread's mask: every signal blocked, so that a signal
     * meant for the node's loop (SIGTERM, SIGINT) is never taken by a checker. */
    sigset_t all, old;
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &old);
    for (size_t i = 0; i < want; i++) {
        if (pthread_create (&p->workers[i], NULL, worker, p) != 0) {
            rc = RCN_ENOMEM;
            break;
        }
        p->nworkers++;
    }
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    if (rc != RCN_OK)
        goto fail;
    *out = p;
    return RCN_OK;
fail:
    rcn_vpool_destroy (&p);
    return rc;
}

void
rcn_vpool_destroy (rcn_vpool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rcn_vpool_t *p = *self_p;
    pthread_mutex_lock (&p->mu);
    assert (!p->open);                /* not while a rcn_vpool_verify runs */
    p->stop = true;
    pthread_cond_broadcast (&p->work);
    pthread_mutex_unlock (&p->mu);
    for (size_t i = 0; i < p->nworkers; i++)
        pthread_join (p->workers[i], NULL);
    free (p->workers);
    pthread_cond_destroy (&p->idle);
    pthread_cond_destroy (&p->work);
    pthread_mutex_destroy (&p->mu);
    free (p);
    *self_p = NULL;
}

size_t
rcn_vpool_threads (const rcn_vpool_t *pool)
{
    return pool ? pool->nworkers + 1 : 1;
}

void
rcn_vpool_verify (rcn_vpool_t *pool, rcn_entry_t *const *entries, size_t n, int *results)
{
    assert (n == 0 || (entries && results));
    if (!pool || pool->nworkers == 0 || n < RCN_VPOOL_MIN_BATCH) {
        atomic_size_t next;
        atomic_init (&next, 0);
        run (&next, entries, results, n);
        return;
    }
    pthread_mutex_lock (&pool->mu);
    assert (!pool->open);             /* one caller at a time */
    pool->entries = entries;
    pool->results = results;
    pool->n = n;
    atomic_store_explicit (&pool->next, 0, memory_order_relaxed);
    pool->open = true;
    pool->gen++;
    /* No more workers than entries beyond the caller's own: the rest need not wake. */
    if (n - 1 >= pool->nworkers)
        pthread_cond_broadcast (&pool->work);
    else
        for (size_t i = 0; i < n - 1; i++)
            pthread_cond_signal (&pool->work);
    pthread_mutex_unlock (&pool->mu);

    run (&pool->next, entries, results, n);

    pthread_mutex_lock (&pool->mu);
    pool->open = false;               /* a worker waking from now on does not join */
    while (pool->active > 0)
        pthread_cond_wait (&pool->idle, &pool->mu);
    pool->entries = NULL;
    pool->results = NULL;
    pool->n = 0;
    pthread_mutex_unlock (&pool->mu);
}

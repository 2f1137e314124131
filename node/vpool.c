/* vpool.c — signature checks on worker threads (see vpool.h).
 *
 * The one decision: a group is one "job" published under the mutex with a generation number;
 * every thread (workers and the caller) claims entries one at a time from an atomic cursor
 * until none is left. The job's fields are read by a worker only between joining the job and
 * leaving it, both under the mutex, and the caller closes the job and waits for every worker
 * that joined to leave before it returns: so nothing of the caller's arrays is touched after
 * rcn_vpool_verify returns, and a worker that wakes late finds the job closed and sleeps on.
 *
 * Checking ahead (rcn_vpool_prefetch): a ring of entries the pool owns, each queued, in hand
 * (a worker's or the caller's), or judged. Workers take queued ones, oldest first, whenever no
 * group job is open (a group comes first: its caller waits for it). A group's entry is matched
 * to a ring entry of the same bytes and takes its outcome (rcn_entry_adopt_check); so a group
 * received while the previous one commits has mostly been checked by the time it is judged,
 * and the cores are not idle through a commit's writes and fsync. Ring state is under mu. */
#include "rcn/vpool.h"

#include <assert.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sched.h>

enum { A_EMPTY = 0, A_QUEUED, A_CHECKING, A_OK, A_BAD };

typedef struct {
    rcn_entry_t *e;                   /* owned; NULL when A_EMPTY */
    int state;
} ahead_t;

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
    /* Checked ahead: ring[(tail + k) % RCN_VPOOL_AHEAD] for k < count; under mu. */
    ahead_t ring[RCN_VPOOL_AHEAD];
    size_t tail, count;
    size_t qnext;                     /* k (from tail) below which nothing is queued */
    size_t hint;                      /* k after the last match: groups come in ring order */
    pthread_cond_t judged;            /* a ring entry left A_CHECKING */
    uint64_t ahead_checked, ahead_taken;
};

size_t
rcn_vpool_default_threads (void)
{
    cpu_set_t set;
    long cpus = -1;
    if (sched_getaffinity (0, sizeof set, &set) == 0)
        cpus = CPU_COUNT (&set);
    if (cpus < 1)
        cpus = sysconf (_SC_NPROCESSORS_ONLN);
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

static ahead_t *
ahead_at (rcn_vpool_t *p, size_t k)
{
    return &p->ring[(p->tail + k) % RCN_VPOOL_AHEAD];
}

/* Under mu: checks one queued ring entry, unlocking for the check itself. The entry stays in
 * the ring (A_CHECKING is never dropped), so its slot is the same when mu is taken again. */
static void
ahead_check (rcn_vpool_t *p)
{
    while (p->qnext < p->count && ahead_at (p, p->qnext)->state != A_QUEUED)
        p->qnext++;
    if (p->qnext == p->count)
        return;
    ahead_t *a = ahead_at (p, p->qnext++);
    a->state = A_CHECKING;
    rcn_entry_t *e = a->e;
    pthread_mutex_unlock (&p->mu);
    int rc = rcn_entry_verify (e);
    pthread_mutex_lock (&p->mu);
    a->state = rc == RCN_OK ? A_OK : A_BAD;
    p->ahead_checked++;
    pthread_cond_broadcast (&p->judged);
}

/* Under mu: drops taken entries from the ring's old end; and, when `full`, judged ones that
 * no group took (yet: it will check them itself). */
static void
ahead_trim (rcn_vpool_t *p, bool full)
{
    while (p->count > 0) {
        ahead_t *a = ahead_at (p, 0);
        if (a->state == A_QUEUED || a->state == A_CHECKING || (a->state != A_EMPTY && !full))
            return;
        rcn_entry_destroy (&a->e);
        a->state = A_EMPTY;
        p->tail = (p->tail + 1) % RCN_VPOOL_AHEAD;
        p->count--;
        p->qnext -= p->qnext > 0;
        p->hint -= p->hint > 0;
    }
}

bool
rcn_vpool_prefetch (rcn_vpool_t *pool, rcn_entry_t **e)
{
    assert (e && *e);
    if (!pool || pool->nworkers == 0)
        return false;
    pthread_mutex_lock (&pool->mu);
    assert (!pool->open);             /* the caller's thread, between groups */
    if (pool->count == RCN_VPOOL_AHEAD)
        ahead_trim (pool, true);
    bool took = pool->count < RCN_VPOOL_AHEAD;
    if (took) {
        ahead_t *a = ahead_at (pool, pool->count++);
        a->e = *e;
        a->state = A_QUEUED;
        *e = NULL;
        pthread_cond_signal (&pool->work);
    }
    pthread_mutex_unlock (&pool->mu);
    return took;
}

void
rcn_vpool_prefetch_counts (const rcn_vpool_t *pool, uint64_t *checked, uint64_t *taken)
{
    rcn_vpool_t *p = (rcn_vpool_t *) pool;      /* the counters are read under mu */
    *checked = *taken = 0;
    if (!p)
        return;
    pthread_mutex_lock (&p->mu);
    *checked = p->ahead_checked;
    *taken = p->ahead_taken;
    pthread_mutex_unlock (&p->mu);
}

/* Under mu: the ring entry with e's bytes (searched from the hint on, then from the start),
 * or NULL. */
static ahead_t *
ahead_find (rcn_vpool_t *p, const rcn_entry_t *e)
{
    for (size_t j = 0; j < p->count; j++) {
        size_t k = (p->hint + j) % p->count;
        ahead_t *a = ahead_at (p, k);
        if (a->state != A_EMPTY && a->e->h.seq == e->h.seq && rcn_entry_same (a->e, e)) {
            p->hint = k + 1;
            return a;
        }
    }
    return NULL;
}

/* Under mu: e takes the outcome of its ring twin a (checking it here when still queued,
 * waiting when a worker has it in hand); a is emptied. */
static int
ahead_take (rcn_vpool_t *p, ahead_t *a, rcn_entry_t *e)
{
    if (a->state == A_EMPTY) {        /* taken already by the same bytes earlier in the group */
        pthread_mutex_unlock (&p->mu);
        int rc = rcn_entry_verify (e);
        pthread_mutex_lock (&p->mu);
        return rc == RCN_OK ? RCN_OK : RCN_ESIG;
    }
    if (a->state == A_QUEUED) {
        a->state = A_CHECKING;
        rcn_entry_t *t = a->e;
        pthread_mutex_unlock (&p->mu);
        int rc = rcn_entry_verify (t);
        pthread_mutex_lock (&p->mu);
        a->state = rc == RCN_OK ? A_OK : A_BAD;
        p->ahead_checked++;
    }
    while (a->state == A_CHECKING)
        pthread_cond_wait (&p->judged, &p->mu);
    int rc = a->state == A_OK ? rcn_entry_adopt_check (e, a->e) : RCN_ESIG;
    rcn_entry_destroy (&a->e);
    a->state = A_EMPTY;
    p->ahead_taken++;
    return rc;
}

static void verify_group (rcn_vpool_t *pool, rcn_entry_t *const *entries, size_t n,
                          int *results);

static void *
worker (void *arg)
{
    rcn_vpool_t *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock (&p->mu);
    for (;;) {
        while (!p->stop && (!p->open || p->gen == seen) && p->qnext == p->count)
            pthread_cond_wait (&p->work, &p->mu);
        if (p->stop)
            break;
        if (!p->open || p->gen == seen) {
            ahead_check (p);          /* no group waiting: the oldest queued entry */
            continue;
        }
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
    if (pthread_cond_init (&p->judged, NULL) != 0) {
        pthread_cond_destroy (&p->idle);
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
    for (size_t i = 0; i < RCN_VPOOL_AHEAD; i++)
        rcn_entry_destroy (&p->ring[i].e);
    pthread_cond_destroy (&p->judged);
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
    if (!pool || pool->nworkers == 0 || n == 0) {
        verify_group (pool, entries, n, results);
        return;
    }
    pthread_mutex_lock (&pool->mu);
    bool ahead = pool->count > 0;
    pthread_mutex_unlock (&pool->mu);
    /* twin[i]: entry i's ring twin; sub: the entries with none, checked as a group. */
    ahead_t **twin = ahead ? calloc (n, sizeof *twin) : NULL;
    rcn_entry_t **sub = ahead ? malloc (n * sizeof *sub) : NULL;
    size_t *sub_of = ahead ? malloc (n * sizeof *sub_of) : NULL;
    int *sub_rc = ahead ? malloc (n * sizeof *sub_rc) : NULL;
    if (!twin || !sub || !sub_of || !sub_rc) {
        verify_group (pool, entries, n, results);
        goto done;
    }
    size_t ns = 0;
    pthread_mutex_lock (&pool->mu);
    for (size_t i = 0; i < n; i++)
        if (!(twin[i] = ahead_find (pool, entries[i]))) {
            sub_of[ns] = i;
            sub[ns++] = entries[i];
        }
    pthread_mutex_unlock (&pool->mu);
    verify_group (pool, sub, ns, sub_rc);
    for (size_t j = 0; j < ns; j++)
        results[sub_of[j]] = sub_rc[j];
    /* Newest first: the workers take queued entries oldest first, so the caller checks from
     * the other end and waits for a worker's entry in hand only where they meet. */
    pthread_mutex_lock (&pool->mu);
    for (size_t i = n; i-- > 0;)
        if (twin[i])
            results[i] = ahead_take (pool, twin[i], entries[i]);
    ahead_trim (pool, false);
    pthread_mutex_unlock (&pool->mu);
done:
    free (twin);
    free (sub);
    free (sub_of);
    free (sub_rc);
}

/* The group job: entries[0..n) checked by the caller and every worker. */
static void
verify_group (rcn_vpool_t *pool, rcn_entry_t *const *entries, size_t n, int *results)
{
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

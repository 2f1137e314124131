/* test_repl.c — replication's decisions with two (or three) stores in one process and the real
 * wire encoding, no sockets: heartbeats drive pulls, pulls converge, live entries ahead of a
 * gap are held and released, pulls are bounded and time out, a silent peer goes down, a
 * roster mismatch stops syncing, and "held by a peer" follows heartbeats. */
#include "testutil.h"

#include <sodium.h>
#include <string.h>

#include "rcn/codec.h"
#include "rcn/recovery.h"
#include "rcn/repl.h"
#include "rcn/vpool.h"
#include "rcn/wire.h"

#define N 3

typedef struct {
    char dir[64];
    uint8_t pk[32], sk[64], cpk[32], csk[32];
    rcn_store_t *store;
    rcn_repl_t *repl;
    uint64_t seq;
    uint8_t head[32];
} member_t;

static member_t s_m[N];
static rcn_roster_t *s_roster;
static char *s_tmp;

static bool
is_member (const uint8_t origin[32], void *ctx)
{
    return rcn_roster_is_member (origin, ctx);
}

/* Index of member m in the roster (sorted by region). */
static size_t
ridx (int m)
{
    for (size_t i = 0; i < rcn_roster_count (s_roster); i++)
        if (memcmp (rcn_roster_member (s_roster, i)->sign_key, s_m[m].pk, 32) == 0)
            return i;
    abort ();
}

static void
setup (void)
{
    s_tmp = rcn_test_tmpdir ("repl");
    json_t *cards[N];
    for (int i = 0; i < N; i++) {
        crypto_sign_keypair (s_m[i].pk, s_m[i].sk);
        crypto_box_keypair (s_m[i].cpk, s_m[i].csk);
        rcn_member_t m = { .region = 310000 + 10000 * (uint32_t) i };
        snprintf (m.name, sizeof m.name, "M%d", i);
        memcpy (m.sign_key, s_m[i].pk, 32);
        memcpy (m.curve_key, s_m[i].cpk, 32);
        snprintf (m.pub, sizeof m.pub, "tcp://127.0.0.1:%d", 30000 + 2 * i);
        snprintf (m.sync, sizeof m.sync, "tcp://127.0.0.1:%d", 30001 + 2 * i);
        cards[i] = rcn_member_to_json (&m);
    }
    rcn_policy_t p;
    rcn_policy_default (&p);
    p.n_rounds = 0;                 /* no scheduled rounds: entry counts stay put */
    char *text = NULL, why[256];
    REQUIRE (rcn_roster_build ((const json_t *const *) cards, N, &p, &text, why, sizeof why) == RCN_OK);
    REQUIRE (rcn_roster_parse ((const uint8_t *) text, strlen (text), &s_roster, why, sizeof why) == RCN_OK);
    free (text);
    for (int i = 0; i < N; i++) {
        json_decref (cards[i]);
        snprintf (s_m[i].dir, sizeof s_m[i].dir, "%s/m%d", s_tmp, i);
        rcn_store_opts_t o = { .is_member = is_member, .member_ctx = s_roster };
        REQUIRE (rcn_store_open (s_m[i].dir, &o, &s_m[i].store, why, sizeof why) == RCN_OK);
        REQUIRE (rcn_repl_new (s_m[i].store, s_roster, ridx (i), &s_m[i].repl) == RCN_OK);
    }
}

static void
teardown (void)
{
    for (int i = 0; i < N; i++) {
        rcn_repl_destroy (&s_m[i].repl);
        rcn_store_destroy (&s_m[i].store);
    }
    rcn_roster_destroy (&s_roster);
    rcn_test_rmtree (s_tmp);
    free (s_tmp);
}

/* Member m signs its next entry and stores it; returns its envelope (caller frees). */
static uint8_t *
author (int m, size_t *len)
{
    rcn_entry_t *e = NULL;
    uint8_t body[64];
    memset (body, (int) s_m[m].seq, sizeof body);
    REQUIRE (rcn_entry_sign (s_m[m].sk, s_m[m].seq + 1, s_m[m].seq ? s_m[m].head : NULL,
                             1795311000000ULL + s_m[m].seq, 99, 2, body, sizeof body, &e) == RCN_OK);
    int res;
    REQUIRE (rcn_store_append (s_m[m].store, &e, 1, &res) == RCN_OK && res == RCN_OK);
    s_m[m].seq++;
    memcpy (s_m[m].head, e->hash, 32);
    uint8_t *w = NULL;
    REQUIRE (rcn_entry_encode (e, &w, len) == RCN_OK);
    rcn_entry_destroy (&e);
    return w;
}

/* from's heartbeat, as repl r receives it. */
static void
heartbeat_to (int from, rcn_repl_t *r, uint64_t now)
{
    uint8_t *w = NULL;
    size_t len = 0;
    REQUIRE (rcn_heartbeat_build (s_m[from].store, rcn_roster_hash (s_roster), s_m[from].pk, now,
                                  &w, &len) == RCN_OK);
    rcn_heartbeat_t hb;
    char why[256];
    REQUIRE (rcn_heartbeat_decode (w, len, &hb, why, sizeof why) == RCN_OK);
    rcn_repl_on_heartbeat (r, ridx (from), &hb, now);
    free (w);
}

/* from's heartbeat, as to's repl receives it. */
static void
heartbeat (int from, int to, uint64_t now)
{
    heartbeat_to (from, s_m[to].repl, now);
}

/* Serves pull `p` of to's from member `from`'s store (chunks of RCN_ENTRY_MAX bytes). */
static rcn_pull_reply_t *
serve_plan (int from, const rcn_pull_plan_t *p)
{
    rcn_pull_request_t req = { .request_id = p->request_id, .from_seq = p->from_seq,
                               .max_bytes = RCN_ENTRY_MAX };
    memcpy (req.origin, p->origin, 32);
    memcpy (req.roster_hash, rcn_roster_hash (s_roster), 32);
    uint8_t *w = NULL;
    size_t len = 0;
    REQUIRE (rcn_pull_serve (s_m[from].store, &req, rcn_roster_hash (s_roster), &w, &len) == RCN_OK);
    rcn_pull_reply_t *rep = NULL;
    char why[256];
    REQUIRE (rcn_pull_reply_decode (w, len, &rep, why, sizeof why) == RCN_OK);
    free (w);
    return rep;
}

/* Plans to's pulls and answers each from the planned peer's store; returns pulls served. */
static size_t
pull_round (int to, uint64_t now, bool answer)
{
    rcn_pull_plan_t plan[RCN_REPL_PULLS_MAX];
    size_t np = rcn_repl_plan_pulls (s_m[to].repl, now, plan, RCN_REPL_PULLS_MAX);
    for (size_t i = 0; answer && i < np; i++) {
        int from = -1;
        for (int m = 0; m < N; m++)
            if (ridx (m) == plan[i].peer)
                from = m;
        REQUIRE (from >= 0 && from != to);
        rcn_pull_reply_t *rep = serve_plan (from, &plan[i]);
        rcn_repl_on_pull_reply (s_m[to].repl, plan[i].peer, rep, now);
        rcn_pull_reply_destroy (&rep);
    }
    return np;
}

static uint64_t
head (int m, int origin)
{
    uint64_t seq = 0;
    REQUIRE (rcn_store_head (s_m[m].store, s_m[origin].pk, &seq, NULL) == RCN_OK);
    return seq;
}

static void
test_anti_entropy_and_relay (void)
{
    uint64_t now = 1000;
    for (int k = 0; k < 600; k++) {           /* ~600 × 100 B: several chunks at 64 KiB */
        size_t len;
        free (author (0, &len));
    }
    /* Nothing is pulled from a peer never heard. */
    CHECK_EQ (pull_round (1, now, true), 0);
    heartbeat (0, 1, now);
    size_t rounds = 0;
    while (head (1, 0) < 600 && rounds < 50) {
        pull_round (1, now, true);
        rounds++;
    }
    CHECK_EQ (head (1, 0), 600);
    CHECK (rounds > 1);                        /* chunked by bytes, pulled again on its own */
    /* Relay: member 0 goes quiet; 2 hears only 1, and gets 0's entries from 1. */
    heartbeat (1, 2, now);
    rounds = 0;
    while (head (2, 0) < 600 && rounds < 50) {
        pull_round (2, now, true);
        rounds++;
    }
    CHECK_EQ (head (2, 0), 600);
    const rcn_peer_info_t *pi = rcn_repl_peer (s_m[2].repl, ridx (1));
    CHECK (pi->entries_pulled == 600 && pi->pulls_answered >= 2);
    /* Acknowledged: 0 learns that 1 holds its seq 600 only from 1's heartbeat. */
    size_t which = 99;
    CHECK (!rcn_repl_peer_holds (s_m[0].repl, s_m[0].pk, 600, &which));
    heartbeat (1, 0, now);
    CHECK (rcn_repl_peer_holds (s_m[0].repl, s_m[0].pk, 600, &which));
    CHECK_EQ (which, ridx (1));
    CHECK (!rcn_repl_peer_holds (s_m[0].repl, s_m[0].pk, 601, &which));
}

static void
test_held_live_and_bounds (void)
{
    uint64_t now = 2000;
    uint8_t *w[4];
    size_t len[4];
    for (int i = 0; i < 4; i++)
        w[i] = author (1, &len[i]);            /* 1's seqs 1..4 */
    heartbeat (1, 2, now);
    /* Live 3 and 4 arrive before 1 and 2: held, nothing stored ahead of the gap. */
    rcn_repl_on_live (s_m[2].repl, ridx (1), w[2], len[2], now);
    rcn_repl_on_live (s_m[2].repl, ridx (1), w[3], len[3], now);
    CHECK_EQ (head (2, 1), 0);
    rcn_repl_stats_t st;
    rcn_repl_stats (s_m[2].repl, &st);
    CHECK_EQ (st.held, 2);
    /* Live 1 arrives: stored; 2 is still missing, 3 and 4 wait. */
    rcn_repl_on_live (s_m[2].repl, ridx (1), w[0], len[0], now);
    CHECK_EQ (head (2, 1), 1);
    /* A pull is planned at most once per origin while in flight. */
    rcn_pull_plan_t plan[RCN_REPL_PULLS_MAX];
    size_t np = rcn_repl_plan_pulls (s_m[2].repl, now, plan, RCN_REPL_PULLS_MAX);
    CHECK_EQ (np, 1);
    CHECK_EQ (plan[0].from_seq, 2);
    CHECK_EQ (rcn_repl_plan_pulls (s_m[2].repl, now, plan, RCN_REPL_PULLS_MAX), 0);
    /* A reply to a pull nobody sent is ignored, and counted. */
    rcn_pull_reply_t bogus = { .request_id = 999999, .n_entries = 0 };
    memcpy (bogus.origin, s_m[1].pk, 32);
    rcn_repl_stats (s_m[2].repl, &st);
    uint64_t stale = st.stale_replies;
    rcn_repl_on_pull_reply (s_m[2].repl, ridx (1), &bogus, now);
    rcn_repl_stats (s_m[2].repl, &st);
    CHECK_EQ (st.stale_replies, stale + 1);
    CHECK_EQ (head (2, 1), 1);
    /* Unanswered, it times out, and is planned again. */
    rcn_repl_tick (s_m[2].repl, now + RCN_REPL_PULL_TIMEOUT_MS + 1);
    CHECK_EQ (rcn_repl_peer (s_m[2].repl, ridx (1))->pulls_timed_out, 1);
    heartbeat (1, 2, now + RCN_REPL_PULL_TIMEOUT_MS + 1);
    pull_round (2, now + RCN_REPL_PULL_TIMEOUT_MS + 2, true);
    CHECK_EQ (head (2, 1), 4);                 /* 2 pulled, 3 and 4 released or pulled */
    rcn_repl_stats (s_m[2].repl, &st);
    CHECK_EQ (st.ingest.bad_sig, 0);
    /* A duplicate live entry is dropped without a signature check. */
    uint64_t v = rcn_entry_verify_calls ();
    rcn_repl_on_live (s_m[2].repl, ridx (1), w[1], len[1], now);
    CHECK_EQ (rcn_entry_verify_calls (), v);
    for (int i = 0; i < 4; i++)
        free (w[i]);
}

static void
test_down_and_mismatch (void)
{
    uint64_t now = 100000;
    heartbeat (0, 2, now);
    CHECK (rcn_repl_peer (s_m[2].repl, ridx (0))->up);
    rcn_repl_tick (s_m[2].repl, now + RCN_REPL_DOWN_MS - 1);
    CHECK (rcn_repl_peer (s_m[2].repl, ridx (0))->up);
    rcn_repl_tick (s_m[2].repl, now + RCN_REPL_DOWN_MS + 1);
    CHECK (!rcn_repl_peer (s_m[2].repl, ridx (0))->up);
    /* A down peer is not pulled from, nor counted as holding anything. */
    size_t len;
    free (author (0, &len));
    CHECK (!rcn_repl_peer_holds (s_m[2].repl, s_m[0].pk, 1, NULL));
    /* A peer with another roster is neither pulled from nor trusted to hold. */
    heartbeat (0, 2, now + 10000);
    rcn_repl_roster_mismatch (s_m[2].repl, ridx (0), true);
    uint64_t before = head (2, 0);
    CHECK_EQ (pull_round (2, now + 10001, true), 0);
    CHECK_EQ (head (2, 0), before);
    CHECK (!rcn_repl_peer_holds (s_m[2].repl, s_m[0].pk, 1, NULL));
    rcn_repl_roster_mismatch (s_m[2].repl, ridx (0), false);
    pull_round (2, now + 10002, true);
    CHECK_EQ (head (2, 0), head (0, 0));
    /* A heartbeat claiming to be another member than its connection's is ignored. */
    uint8_t *w = NULL;
    REQUIRE (rcn_heartbeat_build (s_m[0].store, rcn_roster_hash (s_roster), s_m[0].pk, now, &w, &len) == RCN_OK);
    rcn_heartbeat_t hb;
    REQUIRE (rcn_heartbeat_decode (w, len, &hb, NULL, 0) == RCN_OK);
    uint64_t hbs = rcn_repl_peer (s_m[2].repl, ridx (1))->heartbeats;
    rcn_repl_on_heartbeat (s_m[2].repl, ridx (1), &hb, now);     /* 0's heartbeat on 1's link */
    CHECK_EQ (rcn_repl_peer (s_m[2].repl, ridx (1))->heartbeats, hbs);
    free (w);
    CHECK (rcn_repl_heard_all (s_m[2].repl));
    CHECK_EQ (rcn_repl_best_known (s_m[2].repl, s_m[0].pk), head (0, 0));
}

/* A peer that announces more than it can deliver (a tampering relay, a diverged chain) is not
 * pulled from again and again: after a fruitless answer it waits RCN_REPL_STALL_MS, unless it
 * announces more. */
static void
test_fruitless_pulls_back_off (void)
{
    uint64_t now = 500000;
    uint8_t *w = NULL;
    size_t len = 0;
    REQUIRE (rcn_heartbeat_build (s_m[1].store, rcn_roster_hash (s_roster), s_m[1].pk, now, &w, &len) == RCN_OK);
    rcn_heartbeat_t hb;
    REQUIRE (rcn_heartbeat_decode (w, len, &hb, NULL, 0) == RCN_OK);
    free (w);
    /* 1 claims 100 more of 0's entries than anyone holds. */
    uint64_t real = head (1, 0);
    for (size_t i = 0; i < hb.n_heads; i++)
        if (memcmp (hb.heads[i].origin, s_m[0].pk, 32) == 0)
            hb.heads[i].seq = real + 100;
    rcn_repl_on_heartbeat (s_m[2].repl, ridx (1), &hb, now);
    rcn_repl_roster_mismatch (s_m[2].repl, ridx (0), true);     /* only 1 to pull from */
    /* Until 1 has been asked, its claim stands (2 would not sign 0's seqs, were it 0). */
    uint64_t claimed = 0;
    CHECK (rcn_repl_unresolved_claim (s_m[2].repl, s_m[0].pk, real, now, &claimed));
    CHECK_EQ (claimed, real + 100);
    size_t first = pull_round (2, now, true);
    CHECK (!rcn_repl_unresolved_claim (s_m[2].repl, s_m[0].pk, real, now + 1, &claimed));
    CHECK (first >= 1);
    uint64_t fruitless = rcn_repl_peer (s_m[2].repl, ridx (1))->pulls_fruitless;
    CHECK (fruitless >= 1);
    size_t again = 0;
    for (int k = 1; k <= 20; k++)
        again += pull_round (2, now + (uint64_t) k * 100, true);
    CHECK_EQ (again, 0);                                  /* no loop */
    /* It announces more: worth asking again. */
    for (size_t i = 0; i < hb.n_heads; i++)
        if (memcmp (hb.heads[i].origin, s_m[0].pk, 32) == 0)
            hb.heads[i].seq = real + 101;
    rcn_repl_on_heartbeat (s_m[2].repl, ridx (1), &hb, now + 3000);
    CHECK (pull_round (2, now + 3001, true) >= 1);
    /* And after the back-off it is asked again anyway. */
    rcn_repl_on_heartbeat (s_m[2].repl, ridx (1), &hb, now + 3000 + RCN_REPL_STALL_MS);
    CHECK (pull_round (2, now + 3001 + RCN_REPL_STALL_MS, true) >= 1);
    rcn_repl_roster_mismatch (s_m[2].repl, ridx (0), false);
}

/* Invariant 7 over the network: member 0 signs two different entries at one seq; member 1
 * holds one, member 2 the other. Member 2 learns from 1's heartbeat that their hashes
 * differ, fetches 1's entry once, keeps it as evidence, marks 0 forked, and stops pulling 0. */
static void
test_fork_discovered_from_heartbeat (void)
{
    uint64_t now = 900000;
    heartbeat (0, 2, now);
    while (pull_round (2, now, true) > 0 && head (2, 0) < head (0, 0))
        ;
    heartbeat (0, 1, now);
    while (pull_round (1, now, true) > 0 && head (1, 0) < head (0, 0))
        ;
    REQUIRE (head (1, 0) == head (0, 0) && head (2, 0) == head (0, 0));
    uint64_t seq = s_m[0].seq + 1;
    uint8_t body_a[8] = "AAAAAAA", body_b[8] = "BBBBBBB";
    rcn_entry_t *a = NULL, *b = NULL;
    REQUIRE (rcn_entry_sign (s_m[0].sk, seq, s_m[0].head, 1795311000000ULL + seq, 99, 2, body_a, 8, &a) == RCN_OK);
    REQUIRE (rcn_entry_sign (s_m[0].sk, seq, s_m[0].head, 1795311000000ULL + seq, 99, 2, body_b, 8, &b) == RCN_OK);
    int res;
    REQUIRE (rcn_store_append (s_m[2].store, &a, 1, &res) == RCN_OK && res == RCN_OK);
    REQUIRE (rcn_store_append (s_m[1].store, &b, 1, &res) == RCN_OK && res == RCN_OK);
    uint64_t fork_seq = 0;
    CHECK_EQ (rcn_store_forked (s_m[2].store, s_m[0].pk, &fork_seq), RCN_OK);
    CHECK_EQ (fork_seq, 0);
    heartbeat (1, 2, now + 100);                 /* same seq, another hash */
    CHECK (pull_round (2, now + 101, true) >= 1);
    CHECK_EQ (rcn_store_forked (s_m[2].store, s_m[0].pk, &fork_seq), RCN_OK);
    CHECK_EQ (fork_seq, seq);                    /* both kept: one in the log, one as evidence */
    bool held = false;
    CHECK_EQ (rcn_store_holds (s_m[2].store, b, &held), RCN_OK);
    CHECK (held);
    /* Not fetched forever: a peer announcing no more than we hold is not asked. */
    heartbeat (1, 2, now + 200);
    rcn_pull_plan_t plan[RCN_REPL_PULLS_MAX];
    size_t np = rcn_repl_plan_pulls (s_m[2].repl, now + 201, plan, RCN_REPL_PULLS_MAX);
    for (size_t i = 0; i < np; i++)
        CHECK (memcmp (plan[i].origin, s_m[0].pk, 32) != 0);

    /* Member 1's branch grows: asked once (its chain does not continue ours: nothing stored),
     * then not again while it announces no more, however long we wait. */
    rcn_entry_t *b2 = NULL, *c = NULL;
    REQUIRE (rcn_entry_sign (s_m[0].sk, seq + 1, rcn_entry_hash (b), 1795311000000ULL + seq + 1,
                             99, 2, body_b, 8, &b2) == RCN_OK);
    REQUIRE (rcn_store_append (s_m[1].store, &b2, 1, &res) == RCN_OK && res == RCN_OK);
    heartbeat (1, 2, now + 300);
    CHECK_EQ (pull_round (2, now + 301, true), 1);
    CHECK_EQ (head (2, 0), seq);
    for (uint64_t t = now + 400; t < now + 400 + 3 * RCN_REPL_STALL_MS; t += RCN_REPL_STALL_MS / 2) {
        heartbeat (1, 2, t);
        np = rcn_repl_plan_pulls (s_m[2].repl, t + 1, plan, RCN_REPL_PULLS_MAX);
        for (size_t i = 0; i < np; i++)
            CHECK (memcmp (plan[i].origin, s_m[0].pk, 32) != 0);
    }
    /* The origin's own chain (through a) goes on: that is pulled and stored, though no view
     * applies it (invariant 7). */
    REQUIRE (rcn_store_append (s_m[0].store, &a, 1, &res) == RCN_OK && res == RCN_OK);
    REQUIRE (rcn_entry_sign (s_m[0].sk, seq + 1, rcn_entry_hash (a), 1795311000000ULL + seq + 1,
                             99, 2, body_a, 8, &c) == RCN_OK);
    REQUIRE (rcn_store_append (s_m[0].store, &c, 1, &res) == RCN_OK && res == RCN_OK);
    s_m[0].seq = seq + 1;
    memcpy (s_m[0].head, rcn_entry_hash (c), RCN_HASH_SIZE);
    uint64_t t = now + 400 + 3 * RCN_REPL_STALL_MS;
    heartbeat (0, 2, t);
    CHECK (pull_round (2, t + 1, true) >= 1);
    CHECK_EQ (head (2, 0), seq + 1);
    rcn_entry_destroy (&a);
    rcn_entry_destroy (&b);
    rcn_entry_destroy (&b2);
    rcn_entry_destroy (&c);
}

/* A pull in flight when the connection to its peer drops is lost with it: it is planned again
 * at once (no RCN_REPL_PULL_TIMEOUT_MS wait), and a late reply to it is ignored as stale. */
static void
test_link_lost (void)
{
    uint64_t now = 1500000;
    size_t len;
    free (author (1, &len));
    heartbeat (1, 2, now);
    heartbeat (0, 2, now);
    rcn_pull_plan_t first[RCN_REPL_PULLS_MAX], again[RCN_REPL_PULLS_MAX];
    size_t np = rcn_repl_plan_pulls (s_m[2].repl, now + 1, first, RCN_REPL_PULLS_MAX);
    REQUIRE (np == 1 && memcmp (first[0].origin, s_m[1].pk, 32) == 0);
    CHECK_EQ (rcn_repl_plan_pulls (s_m[2].repl, now + 2, again, RCN_REPL_PULLS_MAX), 0);
    rcn_repl_link_lost (s_m[2].repl, ridx (0));          /* another peer's link: no effect */
    CHECK_EQ (rcn_repl_plan_pulls (s_m[2].repl, now + 3, again, RCN_REPL_PULLS_MAX), 0);
    rcn_repl_link_lost (s_m[2].repl, first[0].peer);
    CHECK_EQ (rcn_repl_peer (s_m[2].repl, first[0].peer)->pulls_cut, 1);
    np = rcn_repl_plan_pulls (s_m[2].repl, now + 4, again, RCN_REPL_PULLS_MAX);
    CHECK_EQ (np, 1);
    CHECK (np == 1 && memcmp (again[0].origin, s_m[1].pk, 32) == 0
           && again[0].from_seq == first[0].from_seq && again[0].request_id != first[0].request_id);
    /* The first request's answer arrives late: stale, nothing taken from it. */
    rcn_repl_stats_t before, after;
    rcn_repl_stats (s_m[2].repl, &before);
    rcn_pull_request_t req = { .request_id = first[0].request_id, .from_seq = first[0].from_seq,
                               .max_bytes = RCN_ENTRY_MAX };
    memcpy (req.origin, first[0].origin, 32);
    memcpy (req.roster_hash, rcn_roster_hash (s_roster), 32);
    uint8_t *w = NULL;
    REQUIRE (rcn_pull_serve (s_m[1].store, &req, rcn_roster_hash (s_roster), &w, &len) == RCN_OK);
    rcn_pull_reply_t *rep = NULL;
    char why[256];
    REQUIRE (rcn_pull_reply_decode (w, len, &rep, why, sizeof why) == RCN_OK);
    rcn_repl_on_pull_reply (s_m[2].repl, first[0].peer, rep, now + 5);
    rcn_repl_stats (s_m[2].repl, &after);
    CHECK_EQ (after.stale_replies, before.stale_replies + 1);
    /* The same answer to the request in flight is taken. */
    rep->request_id = again[0].request_id;
    rcn_repl_on_pull_reply (s_m[2].repl, again[0].peer, rep, now + 6);
    CHECK_EQ (head (2, 1), head (1, 1));
    rcn_pull_reply_destroy (&rep);
    free (w);
}

/* ---- Live batches -------------------------------------------------------------------------
 * Two new stores of member 0's, fed the same live entries of origins A and B: rx[0] one by one
 * (rcn_repl_on_live, no pool), rx[1] as batches (rcn_repl_on_live_batch, a pool of 2). Their
 * test kind notes the LMDB write transaction each entry is applied in, so a test can count the
 * commits that stored entries (mdb_txn_id). Member 0's own chain (forked by the test above)
 * is left out. */
enum { RX_SELF = 0, A = 1, B = 2 };
typedef struct {
    char dir[80];
    rcn_store_t *store;
    rcn_repl_t *repl;
    size_t last_txn;
    int commits;                          /* write transactions that applied an entry */
} rx_t;

static rx_t s_rx[2];

static int
note_txn (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    (void) e; (void) why; (void) whylen;
    for (int k = 0; k < 2; k++)
        if (v->store == s_rx[k].store && mdb_txn_id (v->txn) != s_rx[k].last_txn) {
            s_rx[k].last_txn = mdb_txn_id (v->txn);
            s_rx[k].commits++;
        }
    return RCN_OK;
}

static const rcn_kind_t s_noted = { .kind = 99, .name = "noted", .apply = note_txn };
static const rcn_kind_t *const s_noted_kinds[] = { &s_noted, NULL };

static int
collect (rcn_entry_t *e, void *ctx)
{
    rcn_entry_t ***at = ctx;
    REQUIRE ((**at = rcn_entry_dup (e)) != NULL);
    (*at)++;
    return 0;
}

/* Both receivers start holding what members 0 and 1 hold of their own. */
static void
rx_open (void)
{
    for (int k = 0; k < 2; k++) {
        rx_t *x = &s_rx[k];
        snprintf (x->dir, sizeof x->dir, "%s/rx%d", s_tmp, k);
        rcn_store_opts_t o = { .is_member = is_member, .member_ctx = s_roster, .kinds = s_noted_kinds };
        char why[256];
        REQUIRE (rcn_store_open (x->dir, &o, &x->store, why, sizeof why) == RCN_OK);
        REQUIRE (rcn_repl_new (x->store, s_roster, ridx (RX_SELF), &x->repl) == RCN_OK);
        for (int m = A; m <= B; m++) {
            rcn_entry_t **es = calloc (s_m[m].seq + 1, sizeof *es), **at = es;
            REQUIRE (es && rcn_store_scan (s_m[m].store, s_m[m].pk, 1, collect, &at) == 0);
            size_t n = (size_t) (at - es);
            int *res = calloc (n + 1, sizeof *res);
            REQUIRE (res && rcn_store_append (x->store, es, n, res) == RCN_OK);
            for (size_t i = 0; i < n; i++) {
                CHECK_EQ (res[i], RCN_OK);
                rcn_entry_destroy (&es[i]);
            }
            free (res);
            free (es);
        }
    }
}

static void
rx_close (void)
{
    for (int k = 0; k < 2; k++) {
        rcn_repl_destroy (&s_rx[k].repl);
        rcn_store_destroy (&s_rx[k].store);
    }
}

typedef struct {
    int peer;                             /* member who published it */
    uint8_t *w;
    size_t len;
} live_msg_t;

/* The same live messages to both receivers: one by one, and as one batch. */
static void
rx_feed (const live_msg_t *msgs, size_t n, uint64_t now)
{
    for (size_t i = 0; i < n; i++)
        rcn_repl_on_live (s_rx[0].repl, ridx (msgs[i].peer), msgs[i].w, msgs[i].len, now);
    size_t peers[32], len[32];
    const uint8_t *w[32];
    REQUIRE (n <= 32);
    for (size_t i = 0; i < n; i++) {
        peers[i] = ridx (msgs[i].peer);
        w[i] = msgs[i].w;
        len[i] = msgs[i].len;
    }
    rcn_repl_on_live_batch (s_rx[1].repl, peers, w, len, n, now);
}

static uint64_t
rx_head (int k, int origin, uint8_t hash[32])
{
    uint64_t seq = 0;
    REQUIRE (rcn_store_head (s_rx[k].store, s_m[origin].pk, &seq, hash) == RCN_OK);
    return seq;
}

/* Both receivers hold A's and B's logs up to where they should, the same entries, and counted
 * the same (the number of entries held on the way aside: a batch need not hold what it brings
 * the gap for itself). */
static void
rx_same (uint64_t want_a, uint64_t want_b)
{
    uint8_t h[2][32];
    for (int o = A; o <= B; o++)
        for (int k = 0; k < 2; k++) {
            CHECK_EQ (rx_head (k, o, h[k]), o == A ? want_a : want_b);
            if (k == 1)
                CHECK (memcmp (h[0], h[1], 32) == 0);
        }
    rcn_repl_stats_t st[2];
    for (int k = 0; k < 2; k++)
        rcn_repl_stats (s_rx[k].repl, &st[k]);
    CHECK_EQ (st[1].live_stored, st[0].live_stored);
    CHECK_EQ (st[1].live_dup, st[0].live_dup);
    CHECK_EQ (st[1].live_refused, st[0].live_refused);
    CHECK_EQ (st[1].held_dropped, st[0].held_dropped);
    CHECK (memcmp (&st[1].ingest, &st[0].ingest, sizeof st[0].ingest) == 0);
}

static uint8_t *
forge_wire (const uint8_t *w, size_t len)
{
    uint8_t *f = malloc (len);
    REQUIRE (f);
    memcpy (f, w, len);
    f[len - 5] ^= 1;                      /* inside the signature, the envelope's last field */
    return f;
}

/* Two origins interleaved, each out of order, a forged entry in the middle, one from a peer
 * not heard yet, a duplicate, entries ahead of a gap: the batch ends where one by one ends, in
 * ONE commit (one by one: one per entry stored, drained ones included). The gap then filled
 * releases what was held. */
static void
test_live_batch_as_one_by_one (void)
{
    uint64_t now = 2000000;
    rx_open ();
    uint64_t b0 = s_m[A].seq, b1 = s_m[B].seq;
    uint8_t *a[7], *b[6];
    size_t al[7], bl[6];
    for (int i = 1; i <= 6; i++)
        a[i] = author (A, &al[i]);           /* b0+1 .. b0+6 */
    for (int i = 1; i <= 5; i++)
        b[i] = author (B, &bl[i]);           /* b1+1 .. b1+5 */
    uint8_t *forged = forge_wire (a[4], al[4]);
    for (int k = 0; k < 2; k++)
        heartbeat_to (A, s_rx[k].repl, now); /* B is not heard yet; A relays B's entries */
    rcn_vpool_t *pool = NULL;
    REQUIRE (rcn_vpool_new (2, &pool) == RCN_OK);
    rcn_repl_set_pool (s_rx[1].repl, pool);
    int c0[2] = { s_rx[0].commits, s_rx[1].commits };
    live_msg_t first[] = {
        { A, a[1], al[1] }, { A, b[2], bl[2] }, { A, a[3], al[3] }, { A, b[1], bl[1] },
        { A, a[2], al[2] }, { A, forged, al[4] }, { B, b[3], bl[3] }, { A, a[4], al[4] },
        { A, b[5], bl[5] }, { A, a[6], al[6] }, { A, a[1], al[1] },
    };
    uint64_t v = rcn_entry_verify_calls ();
    rx_feed (first, sizeof first / sizeof *first, now);
    rx_same (b0 + 4, b1 + 2);
    rcn_repl_stats_t st;
    rcn_repl_stats (s_rx[1].repl, &st);
    CHECK_EQ (st.live_stored, 6);            /* a1..a4, b1, b2 */
    CHECK_EQ (st.live_dup, 1);               /* a1 again */
    CHECK_EQ (st.live_refused, 1);           /* b3 from B, not heard yet */
    CHECK_EQ (st.ingest.bad_sig, 1);         /* the forged a4 */
    CHECK_EQ (st.held, 2);                   /* b5, a6: ahead of their gaps */
    CHECK_EQ (s_rx[1].commits - c0[1], 1);   /* the batch: ONE commit */
    CHECK_EQ (s_rx[0].commits - c0[0], 6);   /* one by one: one per entry stored */
    rcn_repl_stats (s_rx[0].repl, &st);
    CHECK_EQ (st.held, 4);                   /* b2 and a3 waited there, then b5, a6 */
    /* The batch checks each of its 9 new entries once (the duplicate and the refused one
     * cost nothing); one by one checks b2 and a3 again when they are drained. */
    CHECK_EQ (rcn_entry_verify_calls () - v, 9 + 9 + 2);

    /* B is heard; the gaps' entries come, out of order: the held ones follow. */
    for (int k = 0; k < 2; k++)
        heartbeat_to (B, s_rx[k].repl, now + 1);
    live_msg_t second[] = { { B, b[4], bl[4] }, { A, a[5], al[5] }, { B, b[3], bl[3] } };
    rx_feed (second, sizeof second / sizeof *second, now + 2);
    rx_same (b0 + 6, b1 + 5);
    uint8_t h[32];
    rx_head (1, A, h);
    CHECK (memcmp (h, s_m[A].head, 32) == 0);
    rx_head (1, B, h);
    CHECK (memcmp (h, s_m[B].head, 32) == 0);
    rcn_repl_set_pool (s_rx[1].repl, NULL);
    rcn_vpool_destroy (&pool);
    free (forged);
    for (int i = 1; i <= 6; i++)
        free (a[i]);
    for (int i = 1; i <= 5; i++)
        free (b[i]);
}

/* Member m signs a Recovery declaring its next `lost` seqs lost (never signed here) at seq
 * head + lost + 1, prev its head's hash, and stores it; returns its envelope. */
static uint8_t *
author_recovery (int m, uint64_t lost, size_t *len)
{
    uint8_t *body = NULL;
    size_t blen = 0;
    char why[256];
    uint64_t first = s_m[m].seq + 1, last = s_m[m].seq + lost;
    REQUIRE (rcn_recovery_body (first, last, "lost in a test", &body, &blen, why, sizeof why) == RCN_OK);
    rcn_entry_t *e = NULL;
    REQUIRE (rcn_entry_sign (s_m[m].sk, last + 1, s_m[m].head, 1795311000000ULL + last + 1,
                             rcn_recovery_kind, 2, body, blen, &e) == RCN_OK);
    free (body);
    int res;
    REQUIRE (rcn_store_append (s_m[m].store, &e, 1, &res) == RCN_OK && res == RCN_OK);
    s_m[m].seq = last + 1;
    memcpy (s_m[m].head, e->hash, 32);
    uint8_t *w = NULL;
    REQUIRE (rcn_entry_encode (e, &w, len) == RCN_OK);
    rcn_entry_destroy (&e);
    return w;
}

/* A Recovery skips the span its origin declared lost: live, it is offered to the store like
 * any entry (not held for being beyond head + 1), and held only while the seq before its span
 * is missing; that seq's arrival releases it. */
static void
test_live_recovery (void)
{
    uint64_t now = 3000000;
    uint64_t h = s_m[A].seq, h1 = s_m[B].seq;
    size_t rl;
    uint8_t *r = author_recovery (A, 3, &rl);        /* h+1..h+3 lost, itself h+4 */
    live_msg_t one[] = { { A, r, rl } };
    rx_feed (one, 1, now);
    rx_same (h + 4, h1);
    bool lost = false;
    CHECK_EQ (rcn_store_lost (s_rx[1].store, s_m[A].pk, h + 2, &lost), RCN_OK);
    CHECK (lost);
    /* Another Recovery, arriving before the entry below its span: held, then released. */
    size_t el[2], r2l;
    uint8_t *e[2];
    e[0] = author (A, &el[0]);                       /* h+5 */
    e[1] = author (A, &el[1]);                       /* h+6 */
    uint8_t *r2 = author_recovery (A, 2, &r2l);      /* h+7..h+8 lost, itself h+9 */
    live_msg_t ahead[] = { { A, r2, r2l }, { A, e[1], el[1] } };
    rx_feed (ahead, 2, now + 1);
    rx_same (h + 4, h1);
    rcn_repl_stats_t st;
    rcn_repl_stats (s_rx[1].repl, &st);
    uint64_t held = st.held;
    live_msg_t gap[] = { { A, e[0], el[0] } };
    rx_feed (gap, 1, now + 2);
    rx_same (h + 9, h1);
    rcn_repl_stats (s_rx[1].repl, &st);
    CHECK_EQ (st.held, held);
    uint8_t hh[32];
    rx_head (1, A, hh);
    CHECK (memcmp (hh, s_m[A].head, 32) == 0);
    free (r);
    free (r2);
    free (e[0]);
    free (e[1]);
    rx_close ();
}

/* The seq of the reply's last entry. */
static uint64_t
last_seq (const rcn_pull_reply_t *rep)
{
    rcn_entry_t *e = NULL;
    REQUIRE (rcn_entry_decode (rep->entries[rep->n_entries - 1],
                               rep->entry_lens[rep->n_entries - 1], &e) == RCN_OK);
    uint64_t seq = e->h.seq;
    rcn_entry_destroy (&e);
    return seq;
}

/* to's pull of origin `origin` among those planned now; REQUIREs one. */
static rcn_pull_plan_t
plan_of (int to, int origin, uint64_t now)
{
    rcn_pull_plan_t plan[RCN_REPL_PULLS_MAX];
    size_t np = rcn_repl_plan_pulls (s_m[to].repl, now, plan, RCN_REPL_PULLS_MAX);
    for (size_t i = 0; i < np; i++)
        if (memcmp (plan[i].origin, s_m[origin].pk, 32) == 0)
            return plan[i];
    REQUIRE (!"no pull of that origin planned");
    abort ();
}

/* Pipelining: the follow-up of a pull is asked for before its reply is ingested, from the seq
 * after the reply's last; a catch-up of several chunks then runs on follow-ups alone. A
 * follow-up whose predecessor left the head short is dropped without doubting the peer, and
 * a timeout gives both up. */
static void
test_pull_ahead (void)
{
    uint64_t now = 9000000;
    size_t len;
    for (int i = 0; i < 700; i++)
        free (author (1, &len));
    heartbeat (1, 2, now);
    heartbeat (0, 2, now);
    rcn_repl_stats_t st0, st;
    rcn_repl_stats (s_m[2].repl, &st0);
    rcn_pull_plan_t p = plan_of (2, 1, now + 1), next;
    CHECK_EQ (p.from_seq, head (2, 1) + 1);
    rcn_pull_reply_t *rep = serve_plan (1, &p);
    REQUIRE (rep->n_entries > 1 && rep->n_entries < 700);   /* several chunks */
    size_t chunks = 0;
    for (; chunks < 20 && rep; chunks++) {
        bool ahead = rcn_repl_pull_ahead (s_m[2].repl, p.peer, rep, now + 2, &next);
        rcn_pull_plan_t dummy;
        CHECK (!rcn_repl_pull_ahead (s_m[2].repl, p.peer, rep, now + 2, &dummy));  /* one only */
        CHECK_EQ (ahead, last_seq (rep) < head (1, 1));
        if (ahead) {
            CHECK_EQ (next.from_seq, last_seq (rep) + 1);
            CHECK_EQ (next.peer, p.peer);
            CHECK (memcmp (next.origin, s_m[1].pk, 32) == 0);
        }
        rcn_pull_reply_t *nrep = ahead ? serve_plan (1, &next) : NULL;  /* served meanwhile */
        rcn_repl_on_pull_reply (s_m[2].repl, p.peer, rep, now + 3);
        CHECK_EQ (head (2, 1), last_seq (rep));
        rcn_pull_reply_destroy (&rep);
        rep = nrep;
        p = next;
    }
    CHECK (chunks >= 3);
    CHECK_EQ (head (2, 1), head (1, 1));
    rcn_repl_stats (s_m[2].repl, &st);
    CHECK_EQ (st.pulls_ahead, st0.pulls_ahead + chunks - 1);
    CHECK_EQ (st.ahead_wasted, st0.ahead_wasted);
    CHECK_EQ (st.stale_replies, st0.stale_replies);
    /* One signature per chunk, and one more where a chunk holds the Recovery (of the test
     * above) that starts a segment of its own: never one per entry. */
    CHECK (st.ingest.chunk_sig_checks >= st0.ingest.chunk_sig_checks + chunks
           && st.ingest.chunk_sig_checks <= st0.ingest.chunk_sig_checks + 2 * chunks);

    /* The reply before the follow-up stores only its first entry: the follow-up's reply
     * cannot continue the head. Dropped, the peer not doubted: the pull is planned at once. */
    for (int i = 0; i < 700; i++)
        free (author (1, &len));
    heartbeat (1, 2, now + 10);
    p = plan_of (2, 1, now + 11);
    rep = serve_plan (1, &p);
    REQUIRE (rcn_repl_pull_ahead (s_m[2].repl, p.peer, rep, now + 11, &next));
    rcn_pull_reply_t *nrep = serve_plan (1, &next);
    uint64_t h0 = head (2, 1);
    size_t n_full = rep->n_entries;
    rep->n_entries = 1;
    rcn_repl_on_pull_reply (s_m[2].repl, p.peer, rep, now + 12);
    rep->n_entries = n_full;
    CHECK_EQ (head (2, 1), h0 + 1);
    rcn_repl_stats (s_m[2].repl, &st0);
    uint64_t fruitless = rcn_repl_peer (s_m[2].repl, p.peer)->pulls_fruitless;
    rcn_repl_on_pull_reply (s_m[2].repl, next.peer, nrep, now + 13);
    rcn_repl_stats (s_m[2].repl, &st);
    CHECK_EQ (head (2, 1), h0 + 1);
    CHECK_EQ (st.ahead_wasted, st0.ahead_wasted + 1);
    CHECK_EQ (rcn_repl_peer (s_m[2].repl, p.peer)->pulls_fruitless, fruitless);
    p = plan_of (2, 1, now + 14);
    CHECK_EQ (p.from_seq, h0 + 2);
    CHECK_EQ (p.peer, (size_t) ridx (1));
    rcn_pull_reply_destroy (&rep);
    rcn_pull_reply_destroy (&nrep);

    /* A pull and its follow-up in flight, unanswered: the timeout gives up both; the
     * follow-up's late reply is stale. */
    rep = serve_plan (1, &p);
    REQUIRE (rcn_repl_pull_ahead (s_m[2].repl, p.peer, rep, now + 15, &next));
    nrep = serve_plan (1, &next);
    rcn_repl_tick (s_m[2].repl, now + 15 + RCN_REPL_PULL_TIMEOUT_MS + 1);
    heartbeat (1, 2, now + 15 + RCN_REPL_PULL_TIMEOUT_MS + 1);
    rcn_repl_stats (s_m[2].repl, &st0);
    rcn_repl_on_pull_reply (s_m[2].repl, next.peer, nrep, now + 15 + RCN_REPL_PULL_TIMEOUT_MS + 2);
    rcn_repl_stats (s_m[2].repl, &st);
    CHECK_EQ (st.stale_replies, st0.stale_replies + 1);
    CHECK_EQ (head (2, 1), h0 + 1);
    rcn_pull_reply_destroy (&rep);
    rcn_pull_reply_destroy (&nrep);
    /* Doubted for a while after the timeout; then it catches up as ever. */
    uint64_t later = now + 15 + RCN_REPL_PULL_TIMEOUT_MS + RCN_REPL_STALL_MS + 10;
    heartbeat (1, 2, later);
    heartbeat (0, 2, later);
    for (int round = 0; round < 20 && head (2, 1) < head (1, 1); round++)
        pull_round (2, later + 1 + (uint64_t) round, true);
    CHECK_EQ (head (2, 1), head (1, 1));
}

int
main (void)
{
    REQUIRE (sodium_init () >= 0);
    setup ();
    RUN (test_anti_entropy_and_relay);
    RUN (test_held_live_and_bounds);
    RUN (test_down_and_mismatch);
    RUN (test_fruitless_pulls_back_off);
    RUN (test_fork_discovered_from_heartbeat);
    RUN (test_link_lost);
    RUN (test_live_batch_as_one_by_one);      /* these two last: members 1 and 2 write on */
    RUN (test_live_recovery);
    RUN (test_pull_ahead);
    teardown ();
    return rcn_test_done ();
}

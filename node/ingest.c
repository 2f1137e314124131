/* ingest.c — entries from outside into the log (see ingest.h).
 *
 * The one decision: cheap checks strictly before expensive ones. A relayed duplicate — the
 * common case under anti-entropy, where every peer offers what it has — costs a byte
 * comparison with the stored copy, never a signature check; a forged or oversized message is
 * refused by its size and header before anything is unpacked or verified. */
#include "rcn/ingest.h"

#include <assert.h>
#include <stdlib.h>

#include "rcn/entry.h"

int
rcn_ingest (rcn_store_t *s, const uint8_t *const *wire, const size_t *len, size_t n,
            int *results, rcn_ingest_stats_t *stats)
{
    assert (s && (n == 0 || (wire && len && results)));
    rcn_ingest_stats_t local = { 0 };
    rcn_entry_t **entries = calloc (n ? n : 1, sizeof *entries);
    rcn_entry_t **batch = calloc (n ? n : 1, sizeof *batch);
    int *batch_rc = calloc (n ? n : 1, sizeof *batch_rc);
    size_t *batch_of = calloc (n ? n : 1, sizeof *batch_of);
    int rc = RCN_ENOMEM;
    if (!entries || !batch || !batch_rc || !batch_of)
        goto done;
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        local.received++;
        results[i] = rcn_entry_decode (wire[i], len[i], &entries[i]);
        if (results[i] != RCN_OK) {
            local.malformed++;
            continue;
        }
        bool held = false;
        if ((rc = rcn_store_holds (s, entries[i], &held)) != RCN_OK)
            goto done;
        for (size_t j = 0; !held && j < nb; j++)       /* the same entry twice in one group */
            held = rcn_entry_same (batch[j], entries[i]);
        if (held) {
            results[i] = RCN_EDUP;
            local.duplicates++;
            continue;
        }
        if ((results[i] = rcn_entry_verify (entries[i])) != RCN_OK) {
            local.bad_sig++;
            continue;
        }
        batch_of[nb] = i;
        batch[nb++] = entries[i];
    }
    rc = nb ? rcn_store_append (s, batch, nb, batch_rc) : RCN_OK;
    if (rc != RCN_OK)
        goto done;
    for (size_t j = 0; j < nb; j++) {
        results[batch_of[j]] = batch_rc[j];
        if (batch_rc[j] == RCN_OK)
            local.stored++;
        else if (batch_rc[j] == RCN_EDUP)
            local.duplicates++;
        else
            local.refused++;
    }
    if (stats) {
        stats->received += local.received;
        stats->malformed += local.malformed;
        stats->duplicates += local.duplicates;
        stats->bad_sig += local.bad_sig;
        stats->stored += local.stored;
        stats->refused += local.refused;
    }
done:
    for (size_t i = 0; entries && i < n; i++)
        rcn_entry_destroy (&entries[i]);
    free (entries);
    free (batch);
    free (batch_rc);
    free (batch_of);
    return rc;
}

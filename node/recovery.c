/* recovery.c — reading and building a Recovery body (see recovery.h). */
#include "rcn/recovery.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "rcn/codec.h"
#include "rcn.pb-c.h"

const uint32_t rcn_recovery_kind = RCN__KIND__KIND_RECOVERY;

static bool
reason_ok (const char *reason, size_t len)
{
    return len <= RCN_RECOVERY_REASON_MAX && rcn_utf8_text_ok (reason, len, true);
}

int
rcn_recovery_span (const rcn_entry_t *e, uint64_t *first, uint64_t *last, char *why, size_t whylen)
{
    assert (e && first && last);
    *first = *last = 0;
    if (e->h.kind != rcn_recovery_kind) {
        rcn_errf (why, whylen, "not a Recovery (kind %" PRIu32 ")", e->h.kind);
        return RCN_EBODY;
    }
    Rcn__Recovery *m = rcn__recovery__unpack (NULL, e->h.body_len, e->h.body);
    if (!m) {
        rcn_errf (why, whylen, "Recovery body does not parse");
        return RCN_EBODY;
    }
    int rc = RCN_EBODY;
    if (m->first_lost == 0)
        rcn_errf (why, whylen, "first_lost: 0, seqs start at 1");
    else if (m->last_lost < m->first_lost)
        rcn_errf (why, whylen, "last_lost %" PRIu64 " is below first_lost %" PRIu64,
                  m->last_lost, m->first_lost);
    else if (m->last_lost != e->h.seq - 1)
        rcn_errf (why, whylen, "last_lost %" PRIu64 " is not the seq below the Recovery's own (%"
                  PRIu64 ")", m->last_lost, e->h.seq);
    else if (!reason_ok (m->reason, strlen (m->reason)))
        rcn_errf (why, whylen, "reason: not text of at most %d bytes", RCN_RECOVERY_REASON_MAX);
    else {
        *first = m->first_lost;
        *last = m->last_lost;
        rc = RCN_OK;
    }
    rcn__recovery__free_unpacked (m, NULL);
    return rc;
}

int
rcn_recovery_body (uint64_t first, uint64_t last, const char *reason, uint8_t **body,
                   size_t *len, char *why, size_t whylen)
{
    assert (body && len);
    *body = NULL;
    *len = 0;
    if (!reason)
        reason = "";
    if (first == 0 || last < first) {
        rcn_errf (why, whylen, "no seqs to declare lost (%" PRIu64 "..%" PRIu64 ")", first, last);
        return RCN_EINVAL;
    }
    if (!reason_ok (reason, strlen (reason))) {
        rcn_errf (why, whylen, "reason: must be text of at most %d bytes", RCN_RECOVERY_REASON_MAX);
        return RCN_EINVAL;
    }
    Rcn__Recovery m = RCN__RECOVERY__INIT;
    m.first_lost = first;
    m.last_lost = last;
    m.reason = (char *) reason;
    size_t n = rcn__recovery__get_packed_size (&m);
    *body = malloc (n ? n : 1);
    if (!*body)
        return RCN_ENOMEM;
    *len = rcn__recovery__pack (&m, *body);
    return RCN_OK;
}

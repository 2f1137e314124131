/* err.h — error codes shared by every rcn module.
 *
 * Fallible functions return int: 0 (RCN_OK) on success, a negative RCN_E… code otherwise.
 * Functions that judge outside input also fill a caller-supplied message buffer (`why`) that
 * names the field and the reason, so that a person sees what is wrong, not just a code. */
#ifndef RCN_ERR_H
#define RCN_ERR_H

#include <stddef.h>

#define RCN_MUST __attribute__((warn_unused_result))

enum {
    RCN_OK = 0,
    RCN_ENOMEM = -1,      /* out of memory */
    RCN_EIO = -2,         /* file or system I/O failed */
    RCN_EINVAL = -3,      /* bad input: a field is malformed (see `why`) */
    RCN_ETOOBIG = -4,     /* over a size cap */
    RCN_ETRUNC = -5,      /* shorter than its format requires */
    RCN_EMAGIC = -6,      /* not an RCN1 entry */
    RCN_ESIG = -7,        /* signature does not verify */
    RCN_EDUP = -8,        /* already held (same origin, seq and bytes) */
    RCN_EGAP = -9,        /* seq beyond head+1: earlier entries are missing */
    RCN_ECHAIN = -10,     /* prev does not match the hash of the entry below */
    RCN_EORIGIN = -11,    /* origin is not a member of the roster */
    RCN_EFORK = -12,      /* a different validly signed entry holds this origin and seq */
    RCN_EDB = -13,        /* LMDB failed */
    RCN_ENOTFOUND = -14,  /* no such entry, key or item */
    RCN_EBUSY = -15,      /* held by another process (second node on one dir) */
    RCN_ETIMEOUT = -16,   /* no answer in time */
    RCN_EBLOCKED = -17,   /* node may not author: its log is behind its high-water mark */
    RCN_EVERSION = -18,   /* unsupported version (library or format) */
    RCN_EBODY = -19,      /* body does not parse or is not a step its author may make */
    RCN_EPERM = -20,      /* permissions are unsafe or access was denied */
    RCN_EROSTER = -21,    /* roster is malformed or does not match */
    RCN_EUNVERIFIED = -22,/* entry handed to the store without a checked signature */
    RCN_ESTATE = -23,     /* operation does not fit the current state */
    RCN_ELOST = -24,      /* in a span its origin declared lost (a Recovery entry) */
};

/* A static English sentence for code `rc`; never NULL. */
const char *rcn_strerror (int rc);

/* printf into `buf` (size `len`) when buf is not NULL; always NUL-terminates. For `why`. */
void rcn_errf (char *buf, size_t len, const char *fmt, ...) __attribute__((format (printf, 3, 4)));

#endif

/* err.c — the sentences behind RCN_E… codes. */
#include "rcn/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *
rcn_strerror (int rc)
{
    switch (rc) {
    case RCN_OK:          return "success";
    case RCN_ENOMEM:      return "out of memory";
    case RCN_EIO:         return "input/output error";
    case RCN_EINVAL:      return "invalid input";
    case RCN_ETOOBIG:     return "too big";
    case RCN_ETRUNC:      return "truncated";
    case RCN_EMAGIC:      return "not an RCN1 entry";
    case RCN_ESIG:        return "signature does not verify";
    case RCN_EDUP:        return "already held";
    case RCN_EGAP:        return "earlier entries of this origin are missing";
    case RCN_ECHAIN:      return "prev does not match the hash of the entry below";
    case RCN_EORIGIN:     return "origin is not a member of the roster";
    case RCN_EFORK:       return "a different entry holds this origin and seq (fork)";
    case RCN_EDB:         return "database error";
    case RCN_ENOTFOUND:   return "not found";
    case RCN_EBUSY:       return "in use by another process";
    case RCN_ETIMEOUT:    return "timed out";
    case RCN_EBLOCKED:    return "blocked: the log is behind this member's high-water mark";
    case RCN_EVERSION:    return "unsupported version";
    case RCN_EBODY:       return "invalid body";
    case RCN_EPERM:       return "permission denied or unsafe permissions";
    case RCN_EROSTER:     return "roster is invalid or does not match";
    case RCN_EUNVERIFIED: return "entry was not verified";
    case RCN_ESTATE:      return "not possible in the current state";
    case RCN_ELOST:       return "declared lost by its origin (Recovery entry)";
    default:              return "unknown error";
    }
}

void
rcn_errf (char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || len == 0)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (buf, len, fmt, ap);
    va_end (ap);
}

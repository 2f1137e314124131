/* fuzz_header.c — rcn_header_parse on arbitrary bytes: never reads past `size`, and what it
 * accepts obeys DESIGN.md §3 (checked here, abort() otherwise). Built both as a libFuzzer
 * target and, with replay.c, as a ctest replay of the saved corpus. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rcn/entry.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    /* A private copy of exactly `size` bytes, so that ASan sees any read past the end. */
    uint8_t *buf = NULL;
    if (size) {
        buf = malloc (size);
        if (!buf)
            return 0;
        memcpy (buf, data, size);
    }
    rcn_header_t h;
    int rc = rcn_header_parse (buf, size, &h);
    if (rc == RCN_OK) {
        static const uint8_t zero[RCN_HASH_SIZE];
        if (size < RCN_HEADER_SIZE || size > RCN_ENTRY_MAX - RCN_SIG_SIZE
        ||  memcmp (buf, RCN_MAGIC, 4) != 0
        ||  h.seq == 0 || h.status > RCN_STATUS_TEST
        ||  (h.seq == 1 && memcmp (h.prev, zero, RCN_HASH_SIZE) != 0)
        ||  h.body != buf + RCN_HEADER_SIZE || h.body_len != size - RCN_HEADER_SIZE
        ||  memcmp (h.origin, buf + 4, RCN_KEY_SIZE) != 0
        ||  memcmp (h.prev, buf + 44, RCN_HASH_SIZE) != 0)
            abort ();
    }
    else
    if (rc == RCN_ETRUNC) {
        if (size >= RCN_HEADER_SIZE)
            abort ();
    }
    else
    if (rc != RCN_ETOOBIG && rc != RCN_EMAGIC && rc != RCN_EINVAL)
        abort ();
    free (buf);
    return 0;
}

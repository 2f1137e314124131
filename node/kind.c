/* kind.c — lookups in the generated table of record kinds (kinds_table.c). */
#include "rcn/kind.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcn/region.h"
#include "rcn/store.h"

#include "rcn.pb-c.h"

const rcn_kind_t *
rcn_kind_by_id (uint32_t kind)
{
    for (size_t i = 0; rcn_kinds[i]; i++)
        if (rcn_kind_handles (rcn_kinds[i], kind))
            return rcn_kinds[i];
    return NULL;
}

const rcn_kind_t *
rcn_kind_by_name (const char *name)
{
    for (size_t i = 0; name && rcn_kinds[i]; i++)
        if (strcmp (rcn_kinds[i]->name, name) == 0)
            return rcn_kinds[i];
    return NULL;
}

typedef struct {
    const rcn_kind_t *k;
    const rcn_kind_env_t *env;
    const json_t *query;
    uint64_t now_ms;
    json_t *out;
    char why[512];
} list_ctx_t;

static int
list_in_view (const rcn_view_t *v, void *ctx)
{
    list_ctx_t *l = ctx;
    l->out = l->k->list (v, l->env, l->query, l->now_ms, l->why, sizeof l->why);
    return RCN_OK;
}

json_t *
rcn_kind_list (rcn_store_t *s, const rcn_kind_t *k, const rcn_kind_env_t *env,
               const json_t *query, uint64_t now_ms, char *why, size_t whylen)
{
    list_ctx_t l = { .k = k, .env = env, .query = query, .now_ms = now_ms };
    int rc = k->list ? rcn_store_read (s, k, list_in_view, &l) : RCN_ENOTFOUND;
    if (rc == RCN_OK && l.out)
        return l.out;
    json_decref (l.out);
    rcn_errf (why, whylen, "%s", l.why[0] ? l.why : !k->list ? "the kind lists nothing"
                                  : rcn_strerror (rc));
    return NULL;
}

bool
rcn_kind_entry_name (uint32_t kind, char *buf, size_t len)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value (&rcn__kind__descriptor,
                                                                         (int) kind);
    if (!ev || strncmp (ev->name, "KIND_", 5) != 0 || len == 0)
        return false;
    size_t i = 0;
    for (const char *p = ev->name + 5; *p && i + 1 < len; p++)
        buf[i++] = (char) (*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    buf[i] = '\0';
    return true;
}

json_t *
rcn_kind_regions_json (const uint32_t *codes, size_t n)
{
    json_t *arr = json_array ();
    char code[16];
    for (size_t i = 0; arr && i < n; i++) {
        snprintf (code, sizeof code, "%06u", codes[i]);
        json_array_append_new (arr, json_string (code));
    }
    return arr;
}

void
rcn_kind_region_json (json_t *o, const char *prefix, const rcn_roster_t *r,
                      const uint8_t origin[RCN_KEY_SIZE])
{
    const rcn_member_t *m = r ? rcn_roster_by_origin (r, origin) : NULL;
    if (!m)
        return;
    char key[64], code[16];
    snprintf (key, sizeof key, "%sregion", prefix);
    snprintf (code, sizeof code, "%06u", m->region);
    json_object_set_new (o, key, json_string (code));
    snprintf (key, sizeof key, "%sregion_name", prefix);
    json_object_set_new (o, key, json_string (m->name));
}

typedef struct {
    json_t *item;
    json_int_t time;
    const char *hash;
} sorted_t;

static int
newest_first (const void *pa, const void *pb)
{
    const sorted_t *a = pa, *b = pb;
    if (a->time != b->time)
        return a->time < b->time ? 1 : -1;
    return strcmp (a->hash ? a->hash : "", b->hash ? b->hash : "");
}

json_t *
rcn_kind_newest_first (json_t *items, const char *time_field, const char *what, char *why,
                       size_t whylen)
{
    size_t n = json_array_size (items);
    sorted_t *tmp = calloc (n ? n : 1, sizeof *tmp);
    json_t *sorted = json_array ();
    if (!tmp || !sorted) {
        free (tmp);
        json_decref (sorted);
        json_decref (items);
        rcn_errf (why, whylen, "%s: out of memory", what);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        tmp[i].item = json_array_get (items, i);
        tmp[i].time = json_integer_value (json_object_get (tmp[i].item, time_field));
        tmp[i].hash = json_string_value (json_object_get (tmp[i].item, "hash"));
    }
    qsort (tmp, n, sizeof *tmp, newest_first);
    for (size_t i = 0; i < n; i++)
        json_array_append (sorted, tmp[i].item);
    free (tmp);
    json_decref (items);
    return sorted;
}

static bool
no_unknown (const ProtobufCMessage *m)
{
    if (m->n_unknown_fields)
        return false;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *at = (const char *) m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) ((const char *) m + f->quantifier_offset);
            ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *) at;
            for (size_t j = 0; j < n; j++)
                if (arr[j] && !no_unknown (arr[j]))
                    return false;
        } else {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *) at;
            if (sub && !no_unknown (sub))
                return false;
        }
    }
    return true;
}

int
rcn_kind_canonical (const ProtobufCMessage *m, const uint8_t *body, size_t len)
{
    if (!no_unknown (m) || protobuf_c_message_get_packed_size (m) != len)
        return RCN_EBODY;
    uint8_t *buf = malloc (len ? len : 1);
    if (!buf)
        return RCN_ENOMEM;
    protobuf_c_message_pack (m, buf);
    int rc = memcmp (buf, body, len) == 0 ? RCN_OK : RCN_EBODY;
    free (buf);
    return rc;
}

static int
cmp_u32 (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

int
rcn_kind_regions (const json_t *rj, const char *what, const rcn_roster_t *roster,
                  bool unique_sorted, uint32_t *out, size_t max, size_t *n, char *why,
                  size_t whylen)
{
    *n = 0;
    if (!rj)
        return RCN_OK;
    if (!json_is_array (rj) || json_array_size (rj) > max) {
        rcn_errf (why, whylen, "%s: regions: must be a list of at most %zu codes", what, max);
        return RCN_EINVAL;
    }
    size_t i;
    const json_t *it;
    json_array_foreach (rj, i, it) {
        char rwhy[128];
        if (!json_is_string (it)
            || rcn_region_parse (json_string_value (it), &out[i], rwhy, sizeof rwhy) != RCN_OK) {
            rcn_errf (why, whylen, "%s: regions[%zu]: %s", what, i,
                      json_is_string (it) ? rwhy : "must be a string like \"310000\"");
            return RCN_EINVAL;
        }
        if (roster && !rcn_roster_by_region (roster, out[i])) {
            rcn_errf (why, whylen, "%s: regions[%zu]: %06u is not a member of the alliance", what,
                      i, out[i]);
            return RCN_EINVAL;
        }
        for (size_t j = 0; unique_sorted && j < i; j++)
            if (out[j] == out[i]) {
                rcn_errf (why, whylen, "%s: regions: %06u listed twice", what, out[i]);
                return RCN_EINVAL;
            }
    }
    *n = json_array_size (rj);
    if (unique_sorted)
        qsort (out, *n, sizeof *out, cmp_u32);
    return RCN_OK;
}

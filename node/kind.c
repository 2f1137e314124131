/* kind.c — lookups in the generated table of record kinds (kinds_table.c). */
#include "rcn/kind.h"

#include <string.h>

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

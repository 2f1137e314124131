/* region.c — GB/T 2260 region codes.
 *
 * A region is six ASCII digits whose first two are a province-level prefix from the fixed
 * table below. We deliberately check only the prefix: prefecture and county codes change with
 * every administrative reform, and the roster (not this table) says which regions take part. */
#include "rcn/region.h"

#include <assert.h>
#include <string.h>

static const struct {
    unsigned prefix;
    const char *name;
} provinces[] = {
    { 11, "Beijing" },       { 12, "Tianjin" },        { 13, "Hebei" },
    { 14, "Shanxi" },        { 15, "Inner Mongolia" }, { 21, "Liaoning" },
    { 22, "Jilin" },         { 23, "Heilongjiang" },   { 31, "Shanghai" },
    { 32, "Jiangsu" },       { 33, "Zhejiang" },       { 34, "Anhui" },
    { 35, "Fujian" },        { 36, "Jiangxi" },        { 37, "Shandong" },
    { 41, "Henan" },         { 42, "Hubei" },          { 43, "Hunan" },
    { 44, "Guangdong" },     { 45, "Guangxi" },        { 46, "Hainan" },
    { 50, "Chongqing" },     { 51, "Sichuan" },        { 52, "Guizhou" },
    { 53, "Yunnan" },        { 54, "Tibet" },          { 61, "Shaanxi" },
    { 62, "Gansu" },         { 63, "Qinghai" },        { 64, "Ningxia" },
    { 65, "Xinjiang" },      { 71, "Taiwan" },         { 81, "Hong Kong" },
    { 82, "Macao" },
};

const char *
rcn_region_province (uint32_t code)
{
    if (code < 100000 || code > 999999)
        return NULL;
    unsigned prefix = code / 10000;
    for (size_t i = 0; i < sizeof provinces / sizeof provinces[0]; i++)
        if (provinces[i].prefix == prefix)
            return provinces[i].name;
    return NULL;
}

int
rcn_region_check (uint32_t code, char *why, size_t whylen)
{
    if (code < 100000 || code > 999999) {
        rcn_errf (why, whylen, "region %u: must be six digits", (unsigned) code);
        return RCN_EINVAL;
    }
    if (!rcn_region_province (code)) {
        rcn_errf (why, whylen, "region %06u: %02u is not a GB/T 2260 province prefix",
                  (unsigned) code, (unsigned) (code / 10000));
        return RCN_EINVAL;
    }
    return RCN_OK;
}

int
rcn_region_parse (const char *s, uint32_t *code, char *why, size_t whylen)
{
    assert (code);
    if (!s) {
        rcn_errf (why, whylen, "region: missing");
        return RCN_EINVAL;
    }
    size_t len = strlen (s);
    /* Quote at most a short prefix of the value: it may be anything. */
    int shown = len > 24 ? 24 : (int) len;
    const char *more = len > 24 ? "..." : "";
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            rcn_errf (why, whylen, "region \"%.*s%s\": must be six digits", shown, s, more);
            return RCN_EINVAL;
        }
        if (i < 6)
            v = v * 10 + (uint32_t) (s[i] - '0');
    }
    if (len != 6) {
        rcn_errf (why, whylen, "region \"%.*s%s\": must be six digits", shown, s, more);
        return RCN_EINVAL;
    }
    if (!rcn_region_province (v)) {
        rcn_errf (why, whylen, "region \"%s\": %.2s is not a GB/T 2260 province prefix", s, s);
        return RCN_EINVAL;
    }
    *code = v;
    return RCN_OK;
}

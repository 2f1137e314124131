/* region.c — GB/T 2260 region codes.
 *
 * A region is six ASCII digits whose first two are a province-level prefix from the fixed
 * table below. We deliberately check only the prefix: prefecture and county codes change with
 * every administrative reform, and the roster (not this table) says which regions take part. */
#include "rcn/region.h"

#include <assert.h>
#include <stdbool.h>
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

static bool
leap (int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
rcn_id_number_check (const char *id, char *why, size_t whylen)
{
    static const int weight[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 };
    static const char check[] = "10X98765432";
    if (!id || strlen (id) != 18) {
        rcn_errf (why, whylen, "ID number: must be 18 characters");
        return RCN_EINVAL;
    }
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        if (id[i] < '0' || id[i] > '9') {
            rcn_errf (why, whylen, "ID number: character %d is not a digit", i + 1);
            return RCN_EINVAL;
        }
        sum += (id[i] - '0') * weight[i];
    }
    uint32_t area = 0;
    for (int i = 0; i < 6; i++)
        area = area * 10 + (uint32_t) (id[i] - '0');
    if (rcn_region_check (area, NULL, 0) != RCN_OK) {
        rcn_errf (why, whylen, "ID number: its first six digits are no GB/T 2260 code");
        return RCN_EINVAL;
    }
    int y = 0, m = 0, d = 0;
    for (int i = 6; i < 10; i++)
        y = y * 10 + (id[i] - '0');
    m = (id[10] - '0') * 10 + (id[11] - '0');
    d = (id[12] - '0') * 10 + (id[13] - '0');
    static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (y < 1900 || y > 2099 || m < 1 || m > 12 || d < 1
        || d > mdays[m - 1] + (m == 2 && leap (y))) {
        rcn_errf (why, whylen, "ID number: digits 7-14 are no date of birth (YYYYMMDD)");
        return RCN_EINVAL;
    }
    if (id[17] != check[sum % 11]) {
        rcn_errf (why, whylen, "ID number: the check character (GB 11643) does not match");
        return RCN_EINVAL;
    }
    return RCN_OK;
}

/* test_region.c — GB/T 2260 region codes: every province prefix accepted, everything else
 * refused with a message that quotes the value and says why. */
#include <string.h>

#include "rcn/region.h"
#include "testutil.h"

static const unsigned prefixes[] = {
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
    50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
};
#define N_PREFIXES (sizeof prefixes / sizeof prefixes[0])

static bool
is_listed (unsigned p)
{
    for (size_t i = 0; i < N_PREFIXES; i++)
        if (prefixes[i] == p)
            return true;
    return false;
}

static void
test_every_prefix (void)
{
    CHECK_EQ (N_PREFIXES, 34);
    for (size_t i = 0; i < N_PREFIXES; i++) {
        char s[8], why[256];
        uint32_t code = 0;
        snprintf (s, sizeof s, "%02u0000", prefixes[i]);
        CHECK_EQ (rcn_region_parse (s, &code, why, sizeof why), RCN_OK);
        CHECK_EQ (code, prefixes[i] * 10000);
        CHECK_EQ (rcn_region_check (code, why, sizeof why), RCN_OK);
        CHECK (rcn_region_province (code) != NULL);
        /* Prefecture and county codes under the prefix are fine too. */
        snprintf (s, sizeof s, "%02u0402", prefixes[i]);
        CHECK_EQ (rcn_region_parse (s, &code, why, sizeof why), RCN_OK);
        CHECK_EQ (code, prefixes[i] * 10000 + 402);
    }
    /* Every other prefix is refused. */
    for (unsigned p = 0; p < 100; p++) {
        char s[8], why[256];
        uint32_t code = 7;
        snprintf (s, sizeof s, "%02u0000", p);
        int rc = rcn_region_parse (s, &code, why, sizeof why);
        CHECK_EQ (rc == RCN_OK, is_listed (p));
        if (!is_listed (p)) {
            CHECK_EQ (rc, RCN_EINVAL);
            CHECK_EQ (code, 7);            /* untouched on failure */
            CHECK (strstr (why, "GB/T 2260 province prefix") != NULL);
            CHECK (strstr (why, s) != NULL);
            if (p >= 10)
                CHECK_EQ (rcn_region_check (p * 10000, why, sizeof why), RCN_EINVAL);
            CHECK (rcn_region_province (p * 10000) == NULL);
        }
    }
}

static void
test_names (void)
{
    CHECK (strcmp (rcn_region_province (310000), "Shanghai") == 0);
    CHECK (strcmp (rcn_region_province (440400), "Guangdong") == 0);
    CHECK (strcmp (rcn_region_province (820000), "Macao") == 0);
    CHECK (strcmp (rcn_region_province (810000), "Hong Kong") == 0);
    CHECK (strcmp (rcn_region_province (150000), "Inner Mongolia") == 0);
    CHECK (rcn_region_province (0) == NULL);
    CHECK (rcn_region_province (31000) == NULL);
    CHECK (rcn_region_province (3100000) == NULL);
}

static void
test_bad_text (void)
{
    static const char *bad[] = {
        "", "31000", "3100000", "99000", "31000a", "a10000", "31 000", " 310000", "310000 ",
        "+31000", "-31000", "310000\n", "３１００００", "0x1000", "31.000",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char why[256] = "";
        uint32_t code = 0;
        CHECK_EQ (rcn_region_parse (bad[i], &code, why, sizeof why), RCN_EINVAL);
        CHECK (strstr (why, "must be six digits") != NULL);
        CHECK (strncmp (why, "region \"", 8) == 0);
    }
    char why[256];
    uint32_t code;
    CHECK_EQ (rcn_region_parse ("99000", &code, why, sizeof why), RCN_EINVAL);
    CHECK (strcmp (why, "region \"99000\": must be six digits") == 0);
    CHECK_EQ (rcn_region_parse ("990000", &code, why, sizeof why), RCN_EINVAL);
    CHECK (strcmp (why, "region \"990000\": 99 is not a GB/T 2260 province prefix") == 0);
    CHECK_EQ (rcn_region_parse (NULL, &code, why, sizeof why), RCN_EINVAL);
    /* A NULL `why` is allowed. */
    CHECK_EQ (rcn_region_parse ("1", &code, NULL, 0), RCN_EINVAL);

    CHECK_EQ (rcn_region_check (99999, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "six digits") != NULL);
    CHECK_EQ (rcn_region_check (1000000, why, sizeof why), RCN_EINVAL);
    CHECK_EQ (rcn_region_check (0, why, sizeof why), RCN_EINVAL);
    CHECK_EQ (rcn_region_check (310000, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_region_check (990000, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "99 is not") != NULL);
}

/* GB 11643-1999 ID numbers: the standard's own example and one more pass; every rule refuses
 * on its own, and no message repeats the number. */
static void
test_id_numbers (void)
{
    char why[256];
    CHECK_EQ (rcn_id_number_check ("11010519491231002X", why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_id_number_check ("310115199003073613", why, sizeof why), RCN_OK);
    const char *bad[][2] = {
        { "11010519491231002x", "check character" },      /* lower-case x */
        { "110105194912310021", "check character" },
        { "11010519491231002", "18 characters" },
        { "1101051949123100A2", "not a digit" },
        { "990105194912310027", "GB/T 2260" },
        { "110105194902300020", "date of birth" },         /* 30 February */
        { "110105180001010020", "date of birth" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        CHECK_EQ (rcn_id_number_check (bad[i][0], why, sizeof why), RCN_EINVAL);
        CHECK (strstr (why, bad[i][1]) != NULL);
        CHECK (strstr (why, bad[i][0]) == NULL);
    }
    CHECK_EQ (rcn_id_number_check ("20000229", why, sizeof why), RCN_EINVAL);
    CHECK_EQ (rcn_id_number_check (NULL, why, sizeof why), RCN_EINVAL);
}

int
main (void)
{
    RUN (test_every_prefix);
    RUN (test_names);
    RUN (test_bad_text);
    RUN (test_id_numbers);
    return rcn_test_done ();
}

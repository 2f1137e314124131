/* region.h — GB/T 2260 administrative division codes: six digits, the first two a real
 * province-level prefix (11 Beijing … 65 Xinjiang, 71 Taiwan, 81 Hong Kong, 82 Macao). */
#ifndef RCN_REGION_H
#define RCN_REGION_H

#include <stddef.h>
#include <stdint.h>

#include "rcn/err.h"

/* Parses a code given as text ("310000"). RCN_EINVAL with `why` naming what is wrong
 * (not six digits, unknown province prefix "99"). */
int rcn_region_parse (const char *s, uint32_t *code, char *why, size_t whylen) RCN_MUST;

/* Checks a numeric code (100000..999999 with a known prefix). */
int rcn_region_check (uint32_t code, char *why, size_t whylen) RCN_MUST;

/* Name of the province-level division for code's prefix ("Shanghai"), or NULL. */
const char *rcn_region_province (uint32_t code);

/* A resident ID number (GB 11643-1999): 18 characters, 17 digits and a check character (0-9
 * or X, upper case; a lower-case x is refused so that one number has one spelling); the first
 * six a code with a known province prefix; the next eight a real date between 1900-01-01 and
 * 2099-12-31; the last the ISO 7064 MOD 11-2 check character. RCN_EINVAL with `why` saying
 * which rule fails — never the number itself (it is a personal detail). */
int rcn_id_number_check (const char *id, char *why, size_t whylen) RCN_MUST;

#endif

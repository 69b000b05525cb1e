/* Comparing a pipeline's JSON output with the Python reference: same shape, same keys in the
 * same order, strings and integers exact, other numbers within a tolerance. Scores are checked
 * before anything else in an object or list, so a near-tie that flips an order is reported as
 * the score difference it is. */
#ifndef CF_TEST_JSON_COMPARE_H
#define CF_TEST_JSON_COMPARE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cJSON cJSON;

typedef struct cf_json_tolerance {
    double score_atol;  /* numbers under a "score"/"scores" key */
    double value_atol;  /* every other non-integer number (e.g. feature vectors) */
    double value_rtol;
} cf_json_tolerance;

/* true when equal; else writes the first difference ("$[0].score: 0.52 vs 0.53") to why. */
bool cf_json_matches(const cJSON *got, const cJSON *want, const cf_json_tolerance *tol, char *why, size_t why_size);

#endif

/* Replaying the Python pipeline calls recorded in fixture cases: walking every case's
 * expected.json `calls`, turning a call into the Inference API body `cformer run --json` takes,
 * and checking cf_pipeline_run_once's output against the recorded one. */
#ifndef CF_TEST_REPLAY_H
#define CF_TEST_REPLAY_H

#include <stddef.h>

#include "common/json_compare.h"

typedef struct cJSON cJSON;

/* {"inputs": args[0], "parameters": kwargs} for a recorded {"task", "args", "kwargs"} call:
 * question-answering's keyword question/context become {"question", "context"} inputs; a second
 * positional argument (zero-shot's) becomes candidate_labels; with dir, a string args[0] naming a
 * file of the case folder becomes that file's path. Caller frees. */
char *cf_test_call_payload(const char *dir, const cJSON *call);

/* Called for each recorded entry {"call", "output"}; index counts the case's calls from 0. */
typedef void (*cf_test_entry_fn)(const char *dir, const cJSON *entry, int index, void *ctx);
/* Every recorded call of every case under fixtures/<family>/; returns how many cases there were. */
size_t cf_test_each_call(const char *family, cf_test_entry_fn fn, void *ctx);

typedef struct cf_test_tally {
    size_t cases, calls, passed;
} cf_test_tally;
/* Replay every call of every case under fixtures/<family>/ through cf_pipeline_run_once and compare
 * with the recorded output within tol (Criterion expectations name the case, task and payload). */
void cf_test_replay_family(const char *family, const cf_json_tolerance *tol, cf_test_tally *t);

#endif

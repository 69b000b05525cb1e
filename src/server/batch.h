/* Dynamic batching of Inference API bodies: queued requests of one model with the same body
 * apart from "inputs" are run as one call on the list of all their inputs, and the list that
 * comes back is split into each request's own answer, the same text a run on its own gives. */
#ifndef CF_SERVER_BATCH_H
#define CF_SERVER_BATCH_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cJSON cJSON;

/* Can this body join a batch? Its inputs must be a string or a list of two or more strings.
 * *group gets the body without "inputs" (requests with equal groups batch together; malloc'ed)
 * and *n_inputs the number of inputs. */
bool cf_batch_key(const cJSON *root, char **group, size_t *n_inputs);

/* The body of the combined call: the group with "inputs" = every request's inputs in order. */
char *cf_batch_payload(const char *group, const cJSON *const *inputs, size_t n);

/* Split the combined call's output into out[i] (malloc'ed) for request i. False (out untouched)
 * when the output is not one result per input (out[] all NULL). `task` decides the shape of a single input's
 * answer (text-classification without top_k wraps it in a list, as the Python pipeline does). */
bool cf_batch_split(const char *task, const char *group, const char *output, const cJSON *const *inputs, size_t n,
                    char **out);

#endif

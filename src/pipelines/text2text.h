/* What summarization and translation share: transformers 4.35.2 Text2TextGenerationPipeline
 * over any encoder-decoder of models/seq2seq.h. Each text (with config.json's "prefix", or
 * task_specific_params[task].prefix) is tokenized with special tokens, generated on its own with
 * the folder's generation settings (config.json / generation_config.json, then
 * task_specific_params[task] as the Python pipeline applies them, then the call's keyword
 * arguments), and decoded with the target-side tokenizer, special tokens skipped. */
#ifndef CF_PIPELINES_TEXT2TEXT_H
#define CF_PIPELINES_TEXT2TEXT_H

#include <cjson/cJSON.h>

#include "pipelines/pipeline.h"

/* p->state <- tokenizers, model and base generation settings for p->requested_task. */
cf_status cf_text2text_open(cf_pipeline *p, cf_error *err);
void cf_text2text_close(cf_pipeline *p);

/* return_name: "summary" or "translation" (records are {"<name>_text": ...}); extra_params:
 * task keywords accepted and ignored (NULL-terminated, may be NULL). */
cf_status cf_text2text_run(cf_pipeline *p, const char *return_name, const char *const *extra_params,
                           const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err);

#endif

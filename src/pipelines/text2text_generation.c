/* text2text-generation: transformers 4.35.2 Text2TextGenerationPipeline itself, whose records are
 * {"generated_text": ...} (T5, Flan-T5, BART, ...). No task prefix unless config.json sets "prefix"
 * or task_specific_params["text2text-generation"]; see text2text.h. */
#include "pipelines/text2text.h"

static cf_status run(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err)
{
    return cf_text2text_run(p, "generated", NULL, inputs, params, out, err);
}

const cf_task cf_task_text2text_generation = {
    .name = "text2text-generation",
    .default_model = "t5-base",
    .open = cf_text2text_open,
    .run = run,
    .close = cf_text2text_close,
};

/* summarization: transformers 4.35.2 SummarizationPipeline, a text2text pipeline whose records
 * are {"summary_text": ...}. */
#include "pipelines/text2text.h"

static cf_status run(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err)
{
    return cf_text2text_run(p, "summary", NULL, inputs, params, out, err);
}

const cf_task cf_task_summarization = {
    .name = "summarization",
    .default_model = "sshleifer/distilbart-cnn-12-6",
    .open = cf_text2text_open,
    .run = run,
    .close = cf_text2text_close,
};

/* Tokenizer throughput: MB/s per thread encoding a multi-MB corpus (fixture strings plus
 * generated text) with the GPT-2, BERT and T5 tokenizers of the fixtures. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cformer.h"
#include "core/buf.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *fixtures(void)
{
    const char *v = getenv("CFORMER_FIXTURES");
    return v && *v ? v : "../shared/fixtures";
}

/* Lines of text: every fixture input, then pseudo-English sentences from a fixed word list. */
static void build_corpus(cf_buf *lines, size_t target)
{
    static const char *names[] = {"gpt2", "bert-base-uncased", "roberta-base", "t5-test-sentencepiece"};
    for (size_t k = 0; k < 4; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/tokenizers/%s/cases.json", fixtures(), names[k]);
        char *text;
        size_t len;
        cf_error err = {0};
        if (cf_read_file(path, 1 << 26, &text, &len, &err) != CF_OK)
            continue;
        cJSON *doc = cJSON_Parse(text);
        free(text);
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "cases"))
        {
            const cJSON *in = cJSON_GetObjectItem(c, "input");
            if (cJSON_IsString(in) && *in->valuestring) {
                cf_buf_puts(lines, in->valuestring);
                cf_buf_puts(lines, "\n");
            }
        }
        cJSON_Delete(doc);
    }
    static const char *words[] = {"the", "of", "and", "a", "to", "in", "is", "was", "that", "for", "it", "with",
                                  "as", "his", "on", "be", "at", "by", "I", "this", "had", "not", "are", "but",
                                  "from", "or", "have", "an", "they", "which", "one", "you", "were", "her", "all",
                                  "she", "there", "would", "their", "we", "him", "been", "has", "when", "who",
                                  "will", "more", "no", "if", "out", "river", "mountain", "Paris", "computation",
                                  "extraordinary", "tokenization", "1984", "3.14", "naïve", "café", "Straße"};
    uint64_t s = 12345;
    size_t nw = sizeof words / sizeof *words;
    while (lines->len < target) {
        int n = 8 + (int)(s % 20);
        for (int i = 0; i < n; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            cf_buf_puts(lines, words[(s >> 33) % nw]);
            cf_buf_puts(lines, i + 1 < n ? ((s >> 20) % 9 == 0 ? ", " : " ") : ".\n");
        }
    }
}

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? (size_t)atoi(argv[1]) : 8;
    cf_buf corpus = {0};
    build_corpus(&corpus, mb << 20);
    /* one encode call per line, as a pipeline would make */
    size_t n_lines = 0;
    for (size_t i = 0; i < corpus.len; i++)
        if (corpus.data[i] == '\n') {
            corpus.data[i] = '\0';
            n_lines++;
        }
    printf("corpus: %.1f MB, %zu lines\n\n", (double)corpus.len / (1 << 20), n_lines);
    printf("%-24s %10s %10s %12s %s\n", "tokenizer", "MB/s", "tokens", "tokens/s", "goal");
    static const char *names[] = {"gpt2", "bert-base-uncased", "t5-test-sentencepiece"};
    for (size_t k = 0; k < 3; k++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tokenizers/%s", fixtures(), names[k]);
        cf_tokenizer *tok = NULL;
        cf_error err = {0};
        if (cf_tokenizer_load(dir, &tok, &err) != CF_OK) {
            printf("%-24s unavailable: %s\n", names[k], err.message);
            continue;
        }
        size_t tokens = 0;
        double t0 = now();
        for (char *p = corpus.data; p < corpus.data + corpus.len; p += strlen(p) + 1) {
            cf_encoding e;
            if (cf_tokenizer_encode(tok, p, NULL, &e, &err) == CF_OK) {
                tokens += e.n;
                cf_encoding_free(&e);
            }
        }
        double dt = now() - t0;
        double mbs = (double)corpus.len / (1 << 20) / dt;
        printf("%-24s %10.2f %10zu %12.0f %s\n", names[k], mbs, tokens, (double)tokens / dt,
               k == 0 ? (mbs >= 7.5 ? ">= 1.5x HF (5 MB/s): yes" : ">= 1.5x HF (5 MB/s): NO") : "");
        cf_tokenizer_free(tok);
    }
    printf("\n(single thread; Hugging Face tokenizers does ~5-10 MB/s per thread on GPT-2 BPE)\n");
    cf_buf_free(&corpus);
    return 0;
}

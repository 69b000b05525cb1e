/* The playground page in a real browser: Debian's headless Chromium opens the page against a
 * running server with a request in its address (the page runs it at once), and the test checks
 * the DOM it leaves (--dump-dom) and a screenshot (--screenshot) for the rendered result: label
 * bars for text and image classification, streamed generated text, boxes drawn on the image.
 * Screenshots are kept as playground_<name>.png in the working folder.
 * Without chromium the test says so and passes, unless CF_BROWSER_TESTS=1 asks for it. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <microhttpd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture_case.h"
#include "media/image.h"
#include "server/server.h"

/* ---- the browser ---- */

static bool find_browser(char *out, size_t size)
{
    const char *given = getenv("CF_CHROMIUM");
    if (given && *given) {
        snprintf(out, size, "%s", given);
        return access(out, X_OK) == 0;
    }
    static const char *const names[] = {"chromium", "chromium-browser", "google-chrome"};
    const char *path = getenv("PATH");
    char *dirs = strdup(path ? path : "/usr/bin:/bin"), *save = NULL;
    bool found = false;
    for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save))
        for (size_t i = 0; i < sizeof names / sizeof names[0] && !found; i++) {
            snprintf(out, size, "%s/%s", d, names[i]);
            found = access(out, X_OK) == 0;
        }
    free(dirs);
    return found;
}

static bool browser_tests_required(void)
{
    const char *v = getenv("CF_BROWSER_TESTS");
    return v && *v && strcmp(v, "0") != 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Run chromium headless on url with `mode` (--dump-dom or --screenshot=FILE) and a fresh profile;
 * stdout goes to out_path. Killed after 120 s. Returns the exit status. */
static int run_browser(const char *browser, const char *mode, const char *url, const char *out_path)
{
    char profile[] = "/tmp/cf-chromium-XXXXXX";
    cr_assert(mkdtemp(profile), "mkdtemp: %s", strerror(errno));
    char profile_arg[64];
    snprintf(profile_arg, sizeof profile_arg, "--user-data-dir=%s", profile);
    /* Virtual time runs ahead while the page is idle, so a large budget costs nothing; it only
     * has to outlast the requests (streamed ones included). */
    const char *argv[] = {browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                          "--no-first-run", "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
                          "--window-size=1200,800", "--virtual-time-budget=300000", profile_arg, mode, url, NULL};
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644), null = open("/dev/null", O_WRONLY);
        dup2(out, 1);
        dup2(null, 2);
        execv(browser, (char *const *)argv);
        _exit(127);
    }
    int status = -1;
    for (int waited = 0; waited < 120000; waited += 50) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        if (waited + 50 >= 120000) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            cr_log_error("chromium did not finish in 120 s: %s", url);
        }
    }
    nftw(profile, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- a second origin serving one image file (with CORS) for ?image= ---- */

typedef struct image_host {
    struct MHD_Daemon *daemon;
    char *bytes;
    size_t len;
    char url[128];
} image_host;

static enum MHD_Result serve_image(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                   const char *version, const char *data, size_t *size, void **state)
{
    image_host *h = cls;
    struct MHD_Response *r = MHD_create_response_from_buffer(h->len, h->bytes, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(r, "Content-Type", strstr(url, ".png") ? "image/png" : "image/jpeg");
    enum MHD_Result ok = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ok;
}

static void image_host_start(image_host *h, const char *path)
{
    cr_assert_eq(cf_read_file(path, 1u << 26, &h->bytes, &h->len, NULL), CF_OK, "cannot read %s", path);
    h->daemon = MHD_start_daemon(MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, serve_image, h,
                                 MHD_OPTION_END);
    cr_assert(h->daemon);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    const char *dot = strrchr(path, '.');
    snprintf(h->url, sizeof h->url, "http://127.0.0.1:%u/input%s", info->port, dot ? dot : "");
}

static void image_host_stop(image_host *h)
{
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    free(h->bytes);
}

/* ---- the server with one model per task ---- */

typedef struct served {
    const char *name;
    const char *const *tasks;
    const char *family;
    fixture_case fc;
    cf_pipeline *p;
} served;

static served g_models[] = {
    {.name = "org/text", .tasks = k_classification},
    {.name = "org/gen", .tasks = k_generation, .family = "llama"},
    {.name = "org/image", .tasks = k_image_classification},
    {.name = "org/detect", .tasks = k_object_detection},
};
#define N_MODELS (sizeof g_models / sizeof g_models[0])
static cf_server *g_server;
static char g_browser[4096];
static bool g_have_browser;

static void setup(void)
{
    g_have_browser = find_browser(g_browser, sizeof g_browser);
    if (!g_have_browser)
        return;
    cf_error err = {0};
    cf_server_config cfg = cf_server_config_default();
    cfg.port = 0;
    cr_assert_eq(cf_server_new(&cfg, &g_server, &err), CF_OK, "%s", err.message);
    for (size_t i = 0; i < N_MODELS; i++) {
        served *m = &g_models[i];
        cr_assert(find_case(m->family, m->tasks, &m->fc), "no %s fixture under %s", m->tasks[0], cf_test_fixtures());
        cr_assert_eq(cf_pipeline_open(m->fc.task, m->fc.dir, NULL, &m->p, &err), CF_OK, "%s", err.message);
        cr_assert_eq(cf_server_add_pipeline(g_server, m->name, m->p, &err), CF_OK, "%s", err.message);
    }
    cr_assert_eq(cf_server_start(g_server, &err), CF_OK, "%s", err.message);
}

static void teardown(void)
{
    cf_server_free(g_server);
    g_server = NULL;
    for (size_t i = 0; i < N_MODELS; i++) {
        cf_pipeline_free(g_models[i].p);
        free(g_models[i].fc.payload);
        memset(&g_models[i].fc, 0, sizeof g_models[i].fc);
        g_models[i].p = NULL;
    }
}

TestSuite(playground, .init = setup, .fini = teardown, .timeout = 600);

/* False (after saying why) when the browser tests cannot run here. */
static bool browser_ready(void)
{
    if (g_have_browser)
        return true;
    cr_assert(!browser_tests_required(), "CF_BROWSER_TESTS=1 but no chromium in PATH (or CF_CHROMIUM): install it "
                                         "with scripts/install-deps.sh");
    fprintf(stderr, "SKIP playground browser test: chromium not found (apt-get install chromium, or set "
                    "CF_CHROMIUM); set CF_BROWSER_TESTS=1 to make this a failure\n");
    return false;
}

/* ---- the page ---- */

static char *url_escape(const char *s)
{
    CURL *c = curl_easy_init();
    char *e = curl_easy_escape(c, s, 0), *out = strdup(e);
    curl_free(e);
    curl_easy_cleanup(c);
    return out;
}

/* The page URL for model `name` with extra query `query` ("text=...&params=..."). */
static void page_url(char *out, size_t size, const char *name, const char *query)
{
    char *m = url_escape(name);
    snprintf(out, size, "http://127.0.0.1:%d/?model=%s&%s", cf_server_port(g_server), m, query);
    free(m);
}

/* The DOM as chromium dumps it once its virtual time budget is spent. */
static char *browser_dom(const char *url)
{
    char path[] = "/tmp/cf-dom-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    cr_assert_eq(run_browser(g_browser, "--dump-dom", url, path), 0, "chromium --dump-dom failed on %s", url);
    char *dom = NULL;
    size_t len = 0;
    cr_assert_eq(cf_read_file(path, 1u << 26, &dom, &len, NULL), CF_OK);
    unlink(path);
    return dom;
}

#define DUMP_ATTEMPTS 5

/* The DOM after the page has run its request, with the result's state checked. Virtual time does
 * not wait for a streamed response body, so on a slow (sanitized, loaded) run chromium can dump the
 * page while tokens are still arriving: such a dump is taken again, the checks below unchanged. */
static char *dump_dom(const char *url, const char *kind)
{
    char *dom = browser_dom(url);
    for (int attempt = 1; attempt < DUMP_ATTEMPTS && strstr(dom, "data-state=\"streaming\""); attempt++) {
        free(dom);
        dom = browser_dom(url);
    }
    const char *err = strstr(dom, "<div id=\"err\">");
    cr_assert(err && !strncmp(err + strlen("<div id=\"err\">"), "</div>", 6), "the page shows an error: %.300s",
              err ? err : dom);
    char want[128];
    snprintf(want, sizeof want, "id=\"result\" data-state=\"done\" data-kind=\"%s\"", kind);
    cr_assert(strstr(dom, want), "the page did not render a %s result: %.400s", kind,
              strstr(dom, "id=\"result\"") ? strstr(dom, "id=\"result\"") : dom);
    return dom;
}

/* Save the screenshot as playground_<name>.png and count its pixels within 12 of `rgb`. */
static size_t screenshot_pixels(const char *url, const char *name, unsigned rgb)
{
    char path[256], mode[300], log[] = "/tmp/cf-shot-XXXXXX";
    char *cwd = getcwd(NULL, 0);
    snprintf(path, sizeof path, "%s/playground_%s.png", cwd, name);
    free(cwd);
    snprintf(mode, sizeof mode, "--screenshot=%s", path);
    int fd = mkstemp(log);
    close(fd);
    remove(path);
    cr_assert_eq(run_browser(g_browser, mode, url, log), 0, "chromium --screenshot failed on %s", url);
    unlink(log);
    cf_image img = {0};
    cf_error err = {0};
    cr_assert_eq(cf_image_load(path, NULL, &img, &err), CF_OK, "screenshot %s: %s", path, err.message);
    cr_log_info("screenshot: %s (%dx%d)", path, img.width, img.height);
    size_t n = 0;
    int want[3] = {(int)(rgb >> 16), (int)(rgb >> 8 & 255), (int)(rgb & 255)};
    for (size_t p = 0; p < (size_t)img.width * (size_t)img.height; p++) {
        const uint8_t *px = img.data + p * (size_t)img.channels;
        n += abs(px[0] - want[0]) <= 12 && abs(px[1] - want[1]) <= 12 && abs(px[2] - want[2]) <= 12;
    }
    cf_image_free(&img);
    return n;
}

#define BAR_BLUE 0x2f6fecu
#define BOX_RED 0xe53935u

/* The pipeline's own answer for `payload` (parsed). */
static cJSON *direct(cf_pipeline *p, const char *payload)
{
    cf_result *r = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_pipeline_run(p, payload, &r, &err), CF_OK, "%s", err.message);
    cJSON *j = cJSON_Parse(cf_result_json(r));
    cf_result_free(r);
    return j;
}

/* The text as the DOM serializes an attribute or text node (& < > " escaped). */
static char *html_escape(const char *s)
{
    cf_buf b = {0};
    for (; *s; s++)
        switch (*s) {
        case '&': cf_buf_puts(&b, "&amp;"); break;
        case '<': cf_buf_puts(&b, "&lt;"); break;
        case '>': cf_buf_puts(&b, "&gt;"); break;
        case '"': cf_buf_puts(&b, "&quot;"); break;
        default: cf_buf_append(&b, s, 1);
        }
    cf_buf_puts(&b, "");
    return cf_buf_steal(&b);
}

/* The best label is drawn as a bar, and the bars are blue in the screenshot. */
static void assert_bars(const char *dom, const cJSON *out, const char *url, const char *name)
{
    const cJSON *best = cJSON_GetArrayItem(cJSON_IsArray(cJSON_GetArrayItem(out, 0)) ? out->child : out, 0);
    char *label = html_escape(cJSON_GetObjectItem(best, "label")->valuestring), want[512];
    snprintf(want, sizeof want, "<span title=\"%s\">", label);
    cr_assert(strstr(dom, want), "no bar for the best label '%s'", label);
    free(label);
    size_t blue = screenshot_pixels(url, name, BAR_BLUE);
    cr_assert_gt(blue, 500, "the screenshot shows no label bars (%zu blue pixels)", blue);
}

Test(playground, text_classification_bars)
{
    if (!browser_ready())
        return;
    served *m = &g_models[0];
    const char *text = "I've been waiting for a HuggingFace course my whole life.";
    char payload[512], query[512], url[1024];
    snprintf(payload, sizeof payload, "{\"inputs\": \"%s\", \"parameters\": {\"top_k\": 2}}", text);
    char *t = url_escape(text), *params = url_escape("{\"top_k\": 2}");
    snprintf(query, sizeof query, "text=%s&params=%s", t, params);
    free(t);
    free(params);
    page_url(url, sizeof url, m->name, query);
    char *dom = dump_dom(url, "bars");
    cJSON *out = direct(m->p, payload);
    assert_bars(dom, out, url, "text_classification");
    cJSON_Delete(out);
    free(dom);
}

Test(playground, text_generation_streams_into_the_page)
{
    if (!browser_ready())
        return;
    served *m = &g_models[1];
    cJSON *call = cJSON_Parse(m->fc.payload);
    const char *prompt = cJSON_GetObjectItem(call, "inputs")->valuestring;
    char *params = cJSON_PrintUnformatted(cJSON_GetObjectItem(call, "parameters"));
    char *qp = url_escape(prompt), *qk = url_escape(params), query[2048], url[4096];
    snprintf(query, sizeof query, "stream=1&text=%s&params=%s", qp, qk);
    page_url(url, sizeof url, m->name, query);
    char *dom = dump_dom(url, "text");
    /* Several events arrived, and the streamed text is the new text of the plain answer. */
    const char *ev = strstr(dom, "data-events=\"");
    cr_assert(ev && atoi(ev + strlen("data-events=\"")) > 1, "the page got no stream of events");
    cJSON *out = direct(m->p, m->fc.payload);
    const char *full = cJSON_GetObjectItem(cJSON_GetArrayItem(out, 0), "generated_text")->valuestring;
    const char *shown = strstr(dom, "<span id=\"gen\">");
    cr_assert(shown, "no generated text in the page");
    shown += strlen("<span id=\"gen\">");
    char *expected = html_escape(strncmp(full, prompt, strlen(prompt)) ? full : full + strlen(prompt));
    cr_assert(!strncmp(shown, expected, strlen(expected)) && !strncmp(shown + strlen(expected), "</span>", 7),
              "the page shows '%.200s', expected '%s'", shown, expected);
    size_t ink = screenshot_pixels(url, "text_generation", 0x1d2330u);
    cr_assert_gt(ink, 300, "the screenshot shows no text");
    free(expected);
    cJSON_Delete(out);
    free(dom);
    free(qp);
    free(qk);
    free(params);
    cJSON_Delete(call);
}

/* An image task: the page fetches the case's image from a second origin and posts it. */
static void image_page(served *m, image_host *host, char *url, size_t size)
{
    image_host_start(host, m->fc.arg);
    cJSON *call = cJSON_Parse(m->fc.payload);
    char *params = cJSON_PrintUnformatted(cJSON_GetObjectItem(call, "parameters"));
    char *qi = url_escape(host->url), *qk = url_escape(params), query[2048];
    snprintf(query, sizeof query, "image=%s&params=%s", qi, qk);
    page_url(url, size, m->name, query);
    free(qi);
    free(qk);
    free(params);
    cJSON_Delete(call);
}

Test(playground, image_classification_bars_and_preview)
{
    if (!browser_ready())
        return;
    served *m = &g_models[2];
    image_host host = {0};
    char url[4096];
    image_page(m, &host, url, sizeof url);
    char *dom = dump_dom(url, "bars");
    cr_assert(strstr(dom, "<img id=\"preview\""), "the image is not shown with its labels");
    cJSON *out = direct(m->p, m->fc.payload);
    assert_bars(dom, out, url, "image_classification");
    cJSON_Delete(out);
    free(dom);
    image_host_stop(&host);
}

Test(playground, object_detection_boxes_on_the_image)
{
    if (!browser_ready())
        return;
    served *m = &g_models[3];
    image_host host = {0};
    char url[4096];
    image_page(m, &host, url, sizeof url);
    char *dom = dump_dom(url, "boxes");
    cJSON *out = direct(m->p, m->fc.payload);
    char want[64];
    snprintf(want, sizeof want, "data-boxes=\"%d\"", cJSON_GetArraySize(out));
    cr_assert(strstr(dom, want), "the canvas does not hold the %d boxes", cJSON_GetArraySize(out));
    if (cJSON_GetArraySize(out) > 0) {
        size_t red = screenshot_pixels(url, "object_detection", BOX_RED);
        cr_assert_gt(red, 50, "the screenshot shows no boxes (%zu red pixels)", red);
    }
    cJSON_Delete(out);
    free(dom);
    image_host_stop(&host);
}

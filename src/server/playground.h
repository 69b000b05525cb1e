/* The browser playground (GET /): pick a loaded model, type text or drop a file, see the JSON
 * and a rendered result. */
#ifndef CF_SERVER_PLAYGROUND_H
#define CF_SERVER_PLAYGROUND_H

extern const char cf_playground_html[];

#endif

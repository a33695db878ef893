/* benchmarks/results_json.h — the small JSON reader astrograd-bench needs to read back the
 * benchmark programs' results and two runs for --compare (internal to benchmarks/). */
#ifndef AG_RESULTS_JSON_H
#define AG_RESULTS_JSON_H

#include <stddef.h>

typedef enum { BJ_NULL, BJ_BOOL, BJ_NUM, BJ_STR, BJ_ARR, BJ_OBJ } bj_type;

typedef struct bj {
    bj_type type;
    double num;       /* BJ_NUM; BJ_BOOL: 0 or 1 */
    char *str;        /* BJ_STR */
    struct bj *items; /* BJ_ARR, BJ_OBJ: n values */
    char **keys;      /* BJ_OBJ: n keys */
    int n;
} bj;

/* Parses the whole text (one value, then only white space). Returns a tree to free with bj_free,
 * or NULL with the reason and byte offset in err. */
bj *bj_parse(const char *text, char *err, size_t nerr);
/* Reads and parses the file at path; NULL with the reason (naming path) in err. */
bj *bj_parse_file(const char *path, char *err, size_t nerr);
void bj_free(bj *v);
/* member key of object o, or NULL when o is not an object or has no such key */
const bj *bj_get(const bj *o, const char *key);

#endif

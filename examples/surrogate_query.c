/* examples/surrogate_query.c — the other program of neurosynchro's loop: load a surrogate file
 * (written by examples/neurosynchro.c, or any ag_surrogate_save) and answer queries.
 *
 *     surrogate_query FILE x1 x2 ...     one query: the inputs in the file's order
 *     surrogate_query FILE -             queries from stdin, one row of inputs per line
 *     surrogate_query FILE               prints the inputs and outputs it expects and gives
 *
 * Answers are the raw outputs, one row per query, in the file's output order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <astrograd.h>

static int usage(ag_surrogate *s) {
    int ni = ag_surrogate_num_inputs(s), no = ag_surrogate_num_outputs(s);
    printf("inputs:");
    for (int j = 0; j < ni; j++) printf(" %s", ag_surrogate_input_name(s, j));
    printf("\noutputs:");
    for (int j = 0; j < no; j++) printf(" %s", ag_surrogate_output_name(s, j));
    printf("\n");
    return 0;
}

static int answer(ag_surrogate *s, const double *x) {
    int no = ag_surrogate_num_outputs(s);
    double y[256];
    if (no > 256 || ag_surrogate_query(s, x, 1, y) < 0) {
        fprintf(stderr, "surrogate_query: %s\n", no > 256 ? "more than 256 outputs" : ag_last_error());
        ag_clear_error();
        return 1;
    }
    for (int j = 0; j < no; j++) printf("%s%.9g", j ? " " : "", y[j]);
    printf("\n");
    return 0;
}

/* n numbers from strings; -1 naming the bad one */
static int parse(char **v, int n, double *x) {
    for (int j = 0; j < n; j++) {
        char *end;
        x[j] = strtod(v[j], &end);
        if (end == v[j] || *end) { fprintf(stderr, "surrogate_query: input %d: '%s' is not a number\n", j + 1, v[j]); return -1; }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: surrogate_query FILE [x1 x2 ... | -]\n");
        return 2;
    }
    ag_surrogate *s = ag_surrogate_load(argv[1], ag_device_default());
    if (!s) { fprintf(stderr, "surrogate_query: %s\n", ag_last_error()); return 1; }
    int ni = ag_surrogate_num_inputs(s), rc = 0;
    double x[256];
    if (ni > 256) {
        fprintf(stderr, "surrogate_query: more than 256 inputs\n");
        rc = 1;
    } else if (argc == 2) {
        rc = usage(s);
    } else if (argc == 3 && !strcmp(argv[2], "-")) {
        char line[4096];
        for (long ln = 1; fgets(line, sizeof line, stdin); ln++) {
            char *f[257];
            int n = 0;
            for (char *tok = strtok(line, " \t,\r\n"); tok && n < 257; tok = strtok(NULL, " \t,\r\n")) f[n++] = tok;
            if (n == 0 || f[0][0] == '#') continue;
            if (n != ni) { fprintf(stderr, "surrogate_query: stdin line %ld has %d numbers, expected %d\n", ln, n, ni); rc = 1; break; }
            if (parse(f, n, x) < 0 || answer(s, x)) { rc = 1; break; }
        }
    } else if (argc - 2 != ni) {
        fprintf(stderr, "surrogate_query: %s expects %d inputs, given %d\n", argv[1], ni, argc - 2);
        usage(s);
        rc = 2;
    } else {
        rc = parse(argv + 2, ni, x) < 0 ? 2 : answer(s, x);
    }
    ag_surrogate_free(s);
    return rc;
}

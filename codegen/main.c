/* bxgen: the command line. Reads one interface header and writes <iface>_stub.{h,c} and
 * <iface>_skeleton.{h,c} into OUTDIR (see docs/codegen.md).
 *
 * A file is rewritten only when its text changes, so a header edit that does not change the
 * generated code recompiles nothing; --stamp names a file touched on every successful run,
 * which build systems use as the rule's output (with the four files as byproducts). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"

#ifndef BXGEN_VERSION
#define BXGEN_VERSION "0.0.0"
#endif

enum { MAIN_OK = 0, MAIN_ERROR = 1, MAIN_USAGE = 2 };

static const char main_usage_text[] =
    "usage: bxgen [--help] [--version] -o OUTDIR [-I DIR]... [-D MACRO[=VALUE]]...\n"
    "             [--depfile FILE] [--stamp FILE] [--interface NAME] HEADER\n";

static const char main_help_text[] =
    "\n"
    "Generates the stub and skeleton of the bx interface declared in HEADER:\n"
    "OUTDIR/<iface>_stub.h, <iface>_stub.c, <iface>_skeleton.h, <iface>_skeleton.c.\n"
    "\n"
    "  -o OUTDIR          where to write (created if missing)\n"
    "  -I DIR             add an include directory (bx's own is added last)\n"
    "  -D MACRO[=VALUE]   define a macro while reading HEADER\n"
    "  --depfile FILE     write a Makefile-syntax list of every file HEADER includes\n"
    "  --stamp FILE       touch FILE after generating (the depfile's target)\n"
    "  --interface NAME   fail unless HEADER declares BX_INTERFACE(NAME)\n"
    "  --help, --version  print this text or the version\n"
    "\n"
    "Diagnostics go to stderr as file:line:col: error: message. Exit status: 0 done,\n"
    "1 errors in the header or files, 2 usage.\n";

/* ---- arguments ---- */

/* Matches argv[*i] against opt ("-o" also as "-oDIR", "--stamp" also as "--stamp=FILE"). */
static int main_option(int argc, char **argv, int *i, const char *opt, const char **value) {
  const char *a = argv[*i];
  size_t n = strlen(opt);

  if (strncmp(a, opt, n) != 0) return 0;
  if (a[n] == '\0') {
    if (*i + 1 >= argc) {
      fprintf(stderr, "bxgen: error: %s needs a value\n%s", opt, main_usage_text);
      return -1;
    }
    *value = argv[++*i];
    return 1;
  }
  if (opt[1] == '-' && a[n] != '=') return 0;
  *value = a + n + (opt[1] == '-');
  return 1;
}

static void main_add_include(bxg_options *o, const char *dir) {
  bxg_strs_add(&o->clang_args, bxg_strf("-I%s", dir));
}

/* 1 handled, 0 not an option with a value, -1 usage error. */
static int main_valued(bxg_options *o, int argc, char **argv, int *i) {
  const char *v = NULL;
  int r;

  if ((r = main_option(argc, argv, i, "-o", &v)) != 0)
    o->outdir = v;
  else if ((r = main_option(argc, argv, i, "-I", &v)) != 0)
    main_add_include(o, v);
  else if ((r = main_option(argc, argv, i, "-D", &v)) != 0)
    bxg_strs_add(&o->clang_args, bxg_strf("-D%s", v));
  else if ((r = main_option(argc, argv, i, "--depfile", &v)) != 0)
    o->depfile = v;
  else if ((r = main_option(argc, argv, i, "--stamp", &v)) != 0)
    o->stamp = v;
  else if ((r = main_option(argc, argv, i, "--interface", &v)) != 0)
    o->expect_iface = v;
  return r;
}

/* Returns -1 to continue, else the exit status. */
static int main_args(bxg_options *o, int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    int r;

    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("%s%s", main_usage_text, main_help_text);
      return MAIN_OK;
    }
    if (strcmp(argv[i], "--version") == 0) {
      printf("bxgen %s\n", BXGEN_VERSION);
      return MAIN_OK;
    }
    r = main_valued(o, argc, argv, &i);
    if (r < 0) return MAIN_USAGE;
    if (r > 0) continue;
    if (argv[i][0] == '-' || o->header != NULL) {
      fprintf(stderr, "bxgen: error: unexpected argument '%s'\n%s", argv[i], main_usage_text);
      return MAIN_USAGE;
    }
    o->header = argv[i];
  }
  if (o->header == NULL || o->outdir == NULL) {
    fprintf(stderr, "bxgen: error: %s\n%s", o->header ? "no -o OUTDIR" : "no HEADER",
            main_usage_text);
    return MAIN_USAGE;
  }
  return -1;
}

/* bx's headers: next to the executable when installed (<prefix>/bin/../include), then the
 * include directory configured at build time. */
static void main_bx_includes(bxg_options *o) {
  char exe[PATH_MAX], *slash, *probe;
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

  if (n > 0) {
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash != NULL) {
      *slash = '\0';
      probe = bxg_strf("%s/../include/bx.h", exe);
      if (access(probe, R_OK) == 0) bxg_strs_add(&o->clang_args, bxg_strf("-I%s/../include", exe));
      free(probe);
    }
  }
#ifdef BXGEN_INCLUDE_DIR
  main_add_include(o, BXGEN_INCLUDE_DIR);
#endif
}

/* ---- files ---- */

static int main_mkdirs(const char *dir) {
  char *path = bxg_xstrdup(dir);
  int rc = 0;

  for (char *p = path + 1; rc == 0; p++) {
    bool end = *p == '\0';

    if (*p != '/' && !end) continue;
    *p = '\0';
    if (mkdir(path, 0777) != 0 && errno != EEXIST) rc = -1;
    if (end) break;
    *p = '/';
  }
  if (rc != 0) bxg_fatal("cannot create directory '%s': %s", dir, strerror(errno));
  free(path);
  return rc;
}

static char *main_read(const char *path) {
  FILE *f = fopen(path, "rb");
  bxg_buf b = {0};
  char chunk[4096];
  size_t n;

  if (f == NULL) return NULL;
  while ((n = fread(chunk, 1, sizeof chunk - 1, f)) > 0) {
    chunk[n] = '\0';
    if (strlen(chunk) != n) { /* a NUL byte: not ours, rewrite it */
      fclose(f);
      bxg_buf_free(&b);
      return NULL;
    }
    bxg_buf_puts(&b, chunk);
  }
  fclose(f);
  return b.data ? b.data : bxg_xstrdup("");
}

/* Writes text to path atomically (temporary file + rename). */
static int main_write(const char *path, const char *text) {
  char *tmp = bxg_strf("%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  int rc = -1;

  if (f != NULL) {
    bool ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    rc = ok && rename(tmp, path) == 0 ? 0 : -1;
  }
  if (rc != 0) {
    bxg_fatal("cannot write '%s': %s", path, strerror(errno));
    remove(tmp);
  }
  free(tmp);
  return rc;
}

static int main_write_if_changed(const char *path, const char *text) {
  char *old = main_read(path);
  bool same = old != NULL && strcmp(old, text) == 0;

  free(old);
  return same ? 0 : main_write(path, text);
}

static void main_dep_path(bxg_buf *b, const char *path) {
  for (const char *p = path; *p; p++) {
    if (*p == ' ' || *p == '#' || *p == '\\') bxg_buf_puts(b, "\\");
    if (*p == '$') bxg_buf_puts(b, "$");
    bxg_buf_printf(b, "%c", *p);
  }
}

static int main_depfile(const char *path, const char *target, const bxg_strs *deps) {
  bxg_buf b = {0};
  int rc;

  main_dep_path(&b, target);
  bxg_buf_puts(&b, ":");
  for (size_t i = 0; i < deps->n; i++) {
    bxg_buf_puts(&b, " \\\n  ");
    main_dep_path(&b, deps->items[i]);
  }
  bxg_buf_puts(&b, "\n");
  rc = main_write(path, bxg_buf_str(&b));
  bxg_buf_free(&b);
  return rc;
}

/* ---- generation ---- */

static int main_emit(const bxg_options *o, const bxg_model *m) {
  static const char *const suffix[] = {"_stub.h", "_stub.c", "_skeleton.h", "_skeleton.c"};
  char *(*const emit[])(const bxg_model *) = {bxg_emit_stub_h, bxg_emit_stub_c, bxg_emit_skeleton_h,
                                              bxg_emit_skeleton_c};
  int rc = 0;

  for (size_t i = 0; i < 4 && rc == 0; i++) {
    char *text = emit[i](m);
    char *path = bxg_strf("%s/%s%s", o->outdir, m->iface, suffix[i]);

    rc = main_write_if_changed(path, text);
    free(text);
    free(path);
  }
  return rc;
}

static int main_outputs(const bxg_options *o, const bxg_model *m, const bxg_strs *deps) {
  char *target;
  int rc;

  if (main_mkdirs(o->outdir) != 0 || main_emit(o, m) != 0) return -1;
  target = o->stamp ? bxg_xstrdup(o->stamp) : bxg_strf("%s/%s_skeleton.c", o->outdir, m->iface);
  rc = o->depfile ? main_depfile(o->depfile, target, deps) : 0;
  if (rc == 0 && o->stamp != NULL) rc = main_write(o->stamp, "");
  free(target);
  return rc;
}

static int main_run(bxg_options *o) {
  bxg_model m = {0};
  bxg_strs deps = {0};
  FILE *f = fopen(o->header, "r");
  int rc = MAIN_ERROR;

  if (f == NULL) {
    bxg_fatal("cannot read '%s': %s", o->header, strerror(errno));
    return MAIN_ERROR;
  }
  fclose(f);
  main_bx_includes(o);
  if (bxg_parse(o, &m, &deps) == 0 && main_outputs(o, &m, &deps) == 0) rc = MAIN_OK;
  bxg_model_free(&m);
  bxg_strs_free(&deps);
  return rc;
}

int main(int argc, char **argv) {
  bxg_options o;
  int rc;

  memset(&o, 0, sizeof o);
  rc = main_args(&o, argc, argv);
  if (rc < 0) rc = main_run(&o);
  bxg_strs_free(&o.clang_args);
  return rc;
}

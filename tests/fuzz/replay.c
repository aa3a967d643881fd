/* Runs a libFuzzer target over corpus files without libFuzzer (compilers without it): each
 * argument is a file or a directory of files, fed once to LLVMFuzzerTestOneInput. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int rp_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return 1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
  size_t got = buf ? fread(buf, 1, (size_t)(n > 0 ? n : 0), f) : 0;
  fclose(f);
  if (buf == NULL) return 1;
  LLVMFuzzerTestOneInput(buf, got);
  free(buf);
  return 0;
}

static int rp_path(const char *path, int *count) {
  struct stat st;
  if (stat(path, &st) != 0) return 1;
  if (!S_ISDIR(st.st_mode)) {
    (*count)++;
    return rp_file(path);
  }
  DIR *d = opendir(path);
  if (d == NULL) return 1;
  int rc = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.') continue;
    char child[4096];
    snprintf(child, sizeof child, "%s/%s", path, e->d_name);
    rc |= rp_path(child, count);
  }
  closedir(d);
  return rc;
}

int main(int argc, char **argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  int rc = 0, count = 0;
  for (int i = 1; i < argc; i++)
    rc |= rp_path(argv[i], &count);
  printf("replayed %d input(s)\n", count);
  return rc != 0 || count == 0;
}

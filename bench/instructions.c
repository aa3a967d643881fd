/* Instructions per call, the stable figure on a noisy machine: bx-bench runs itself under
 * valgrind --tool=callgrind (`--only SCENARIO`) for two call counts and divides the difference
 * in instructions by the difference in calls, so start-up, connection set-up and teardown
 * cancel out. The client (the process valgrind started) and the server (its child) are
 * counted separately. Without valgrind the figures are skipped with a note. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "instructions.h"

/* The "totals:" line of a callgrind output file, or -1. */
static double in_totals(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return -1;
  char line[256];
  double total = -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "totals:", 7) == 0) total = strtod(line + 7, NULL);
  fclose(f);
  return total;
}

/* One run of n calls: instructions of the client and of the server (0 when there is none). */
static int in_run(const char *self, const char *scenario, int n, double *client, double *server) {
  char dir[] = "/tmp/bx-bench-cg-XXXXXX";
  if (mkdtemp(dir) == NULL) return -1;
  char out[64], ops[16];
  snprintf(out, sizeof out, "--callgrind-out-file=%s/cg.%%p", dir);
  snprintf(ops, sizeof ops, "%d", n);
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    /* Only the calls are counted: the client's loop and the server process, not the
     * percentile sort, whose cost per call grows with the count and would not cancel out. */
    execlp("valgrind", "valgrind", "--tool=callgrind", out, "--toggle-collect=run_adds",
           "--toggle-collect=serve_on", "--toggle-collect=peer_th_rtt",
           "--toggle-collect=ths_start", self, "--only", scenario, "--no-memory",
           "--no-instructions", "--ops", ops, "--warmup", "0", (char *)NULL);
    _exit(127);
  }
  int status = -1;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) status = -1;
  *client = *server = 0;
  char client_file[96];
  snprintf(client_file, sizeof client_file, "cg.%d", (int)pid);
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[sizeof dir + 1 + sizeof e->d_name];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    double t = in_totals(path);
    if (strcmp(e->d_name, client_file) == 0)
      *client = t;
    else
      *server += t;
    unlink(path);
  }
  if (d) closedir(d);
  rmdir(dir);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 && *client > 0 ? 0 : -1;
}

int instr_measure(const char *self, instr_result *r) {
  const int n1 = r->calls / 4, n2 = r->calls;
  double c1, s1, c2, s2;
  if (in_run(self, r->scenario, n1, &c1, &s1) || in_run(self, r->scenario, n2, &c2, &s2)) return -1;
  r->client = (c2 - c1) / (n2 - n1);
  r->server = (s2 - s1) / (n2 - n1);
  return 0;
}

bool instr_available(void) {
  return system("valgrind --version >/dev/null 2>&1") == 0;
}

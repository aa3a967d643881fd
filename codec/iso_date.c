/* ISO-8601 dates as JavaScript writes and reads them, for __Timestamp__ values: FOAM2 writes a
 * Date as {"class":"__Timestamp__","value":"2023-11-14T22:13:20.000Z"} on TCP (its outputter's
 * strict mode) and accepts a number too; bx reads both and writes numbers.
 *
 * Accepted: the ECMAScript date-time string format (what Date.prototype.toISOString writes and
 * Date.parse reads): YYYY, YYYY-MM or YYYY-MM-DD (UTC), optionally followed by THH:mm, THH:mm:ss
 * or THH:mm:ss.sss and then Z or +HH:mm / -HH:mm; years may be +YYYYYY / -YYYYYY (six digits, not
 * -000000). A time without a zone is refused: JavaScript reads it as local time, which a peer
 * cannot know. The result is milliseconds since 1970-01-01T00:00:00Z within JavaScript's range
 * (+-8.64e15). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "codec_internal.h"

static bool id_digits(const char **p, int n, int64_t *out) {
  int64_t v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *p += n;
  *out = v;
  return true;
}

static bool id_lit(const char **p, char c) {
  if (**p != c) return false;
  (*p)++;
  return true;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar. */
static int64_t id_days(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int64_t id_month_days(int64_t y, int64_t m) {
  static const int8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

static bool id_year(const char **p, int64_t *y) {
  if (**p == '+' || **p == '-') {
    bool neg = **p == '-';
    (*p)++;
    if (!id_digits(p, 6, y) || (neg && *y == 0)) return false;
    if (neg) *y = -*y;
    return true;
  }
  return id_digits(p, 4, y);
}

/* The time and zone after 'T': *ms receives the time of day minus the zone's offset. */
static bool id_time(const char **p, int64_t *ms) {
  int64_t h, mi, s = 0, f = 0, oh = 0, om = 0;
  if (!id_digits(p, 2, &h) || !id_lit(p, ':') || !id_digits(p, 2, &mi)) return false;
  if (id_lit(p, ':')) {
    if (!id_digits(p, 2, &s)) return false;
    if (id_lit(p, '.') && !id_digits(p, 3, &f)) return false;
  }
  if (h > 24 || mi > 59 || s > 59 || (h == 24 && (mi || s || f))) return false;
  int sign = 0;
  if (id_lit(p, 'Z'))
    sign = 1;
  else if (**p == '+' || **p == '-')
    sign = *(*p)++ == '+' ? 1 : -1;
  if (sign == 0) return false; /* local time: refused */
  if (**p != '\0' && (!id_digits(p, 2, &oh) || !id_lit(p, ':') || !id_digits(p, 2, &om)))
    return false;
  if (oh > 23 || om > 59) return false;
  *ms = ((h * 60 + mi) * 60 + s) * 1000 + f - sign * (oh * 60 + om) * 60000;
  return true;
}

bool bx__iso_date_ms(const char *s, double *out) {
  const char *p = s;
  int64_t y, m = 1, d = 1, t = 0;
  if (!id_year(&p, &y)) return false;
  if (id_lit(&p, '-')) {
    if (!id_digits(&p, 2, &m) || m < 1 || m > 12) return false;
    if (id_lit(&p, '-') && (!id_digits(&p, 2, &d) || d < 1 || d > id_month_days(y, m)))
      return false;
  }
  if (id_lit(&p, 'T') && !id_time(&p, &t)) return false;
  if (*p != '\0') return false;
  int64_t ms = id_days(y, m, d) * 86400000 + t;
  if (ms > 8640000000000000 || ms < -8640000000000000) return false;
  *out = (double)ms;
  return true;
}

/* KTAP/TAP parsing, the summary and JUnit XML: see ktap.h. The parser
 * reads line by line and keeps one record per result line in input order;
 * a test's subtests come before it (KTAP prints a parent's result after
 * its children), so a parent adopts the records after the last one at its
 * own depth or above. */
#include "vmm/ktap.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ktap_record {
	char *name;
	char *reason;      /* the directive's text ("SKIP no device"), or NULL */
	char *diag;        /* diagnostic lines before the result, or NULL */
	enum ktap_result result;
	unsigned depth;
	int parent;        /* index of the record that adopted this one, or -1 */
	bool has_children;
	bool child_failed; /* one of its descendants failed */
};

/* One indentation level: the plan and results seen at it. */
struct level {
	unsigned indent;         /* columns of its lines */
	unsigned long long plan;
	unsigned long long results;
	bool has_plan;
	char name[KTAP_NAME_MAX]; /* from "# Subtest: name", for a crash */
};

struct parser {
	struct ktap_report *r;
	struct level levels[KTAP_DEPTH_MAX + 1];
	unsigned deepest;     /* levels 0..deepest may be open */
	bool margin_set;      /* levels[0].indent is the first structural line's */
	char *diag;           /* pending diagnostics for the next result */
	size_t diag_len;
};

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* ---- records ---- */

static bool failing(enum ktap_result res) { return res == KTAP_FAIL || res == KTAP_ERROR; }

/* Append a record at `depth` and let it adopt the records after the last
 * one at its depth or above. Returns its index, or -1 (dropped / no memory). */
static int add_record(struct parser *p, unsigned depth, const char *name, size_t name_len, enum ktap_result res,
		      const char *reason)
{
	struct ktap_report *r = p->r;

	if (r->nr_records >= KTAP_RECORDS_MAX) {
		r->dropped++;
		return -1;
	}
	if (r->nr_records == r->records_cap) {
		unsigned cap = r->records_cap ? r->records_cap * 2 : 64;
		struct ktap_record *n = realloc(r->records, cap * sizeof(*n));
		if (!n)
			return -1;
		r->records = n;
		r->records_cap = cap;
	}
	if (name_len >= KTAP_NAME_MAX)
		name_len = KTAP_NAME_MAX - 1;
	struct ktap_record *rec = &r->records[r->nr_records];
	*rec = (struct ktap_record){.name = dup_n(name, name_len), .reason = reason ? strdup(reason) : NULL,
				    .diag = p->diag, .result = res, .depth = depth, .parent = -1};
	p->diag = NULL;
	p->diag_len = 0;
	if (!rec->name)
		return -1;
	int self = (int)r->nr_records++;
	/* Direct children: deeper, not yet adopted (deeper ones have parents). */
	for (int i = self - 1; i >= 0 && r->records[i].depth > depth; i--) {
		if (r->records[i].parent >= 0)
			continue;
		r->records[i].parent = self;
		rec->has_children = true;
		if (failing(r->records[i].result) || r->records[i].child_failed)
			rec->child_failed = true;
	}
	return self;
}

/* A level is done (its parent's result came, a new document began, or the
 * output ended): a plan it fell short of is one error. */
static void close_level(struct parser *p, unsigned depth)
{
	struct level *l = &p->levels[depth];

	if (l->has_plan && l->results < l->plan) {
		static const char name[] = "(missing results)";
		char reason[128];
		snprintf(reason, sizeof(reason), "%llu of %llu planned tests have no result: crashed, or the output ended",
			 l->plan - l->results, l->plan);
		add_record(p, depth, name, sizeof(name) - 1, KTAP_ERROR, reason);
	}
	*l = (struct level){.indent = l->indent};
}

/* Levels deeper than `depth` are over. */
static void close_deeper(struct parser *p, unsigned depth)
{
	while (p->deepest > depth)
		close_level(p, p->deepest--);
}

/* ---- lines ---- */

static const char *skip_spaces(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

static bool starts_with(const char *s, const char *end, const char *word)
{
	size_t n = strlen(word);
	return (size_t)(end - s) >= n && strncasecmp(s, word, n) == 0;
}

/* Drop a printk level "<6>" and the timestamp and caller id groups
 * "[   12.345678]" "[    T1]" a console puts before each line. */
static const char *strip_kernel_prefix(const char *s, const char *end)
{
	if (end - s >= 3 && s[0] == '<' && isdigit((unsigned char)s[1]) && s[2] == '>')
		s += 3;
	while (s < end && *s == '[') {
		const char *q = s + 1;
		while (q < end && q - s < 24 && (*q == ' ' || isdigit((unsigned char)*q) || *q == '.' || *q == 'T' || *q == 'C'))
			q++;
		if (q >= end || *q != ']' || q == s + 1)
			break;
		s = q + 1;
	}
	if (s < end && *s == ' ')
		s++;
	return s;
}

/* Leading spaces and tabs (a tab counting as 4) -> columns. */
static unsigned indent_of(const char **s, const char *end)
{
	unsigned cols = 0;

	for (; *s < end && (**s == ' ' || **s == '\t') && cols < 4 * KTAP_DEPTH_MAX; (*s)++)
		cols += **s == '\t' ? 4 : 1;
	return cols;
}

/* The depth of a line indented `cols`. Indentation differs between
 * producers (ktap.rst says two spaces a level, kunit prints four), so a
 * level is any deeper indentation: a structural line (version, plan,
 * result, subtest header) indented past the deepest level opens a new one;
 * other lines belong to the deepest level they reach. */
static unsigned depth_of(struct parser *p, unsigned cols, bool structural)
{
	unsigned d = p->deepest;

	if (structural && !p->margin_set) {
		p->levels[0].indent = cols; /* the first document sets the margin */
		p->margin_set = true;
	}
	while (d > 0 && p->levels[d].indent > cols)
		d--;
	if (!structural || cols <= p->levels[d].indent || d == KTAP_DEPTH_MAX)
		return d;
	if (d < p->deepest)
		return d + 1; /* between two open levels: the nearer deeper one */
	p->levels[d + 1] = (struct level){.indent = cols};
	p->deepest = d + 1;
	return d + 1;
}

static void add_diag(struct parser *p, const char *s, const char *end)
{
	size_t n = (size_t)(end - s);

	if (p->diag_len >= KTAP_DIAG_MAX || p->r->diag_bytes >= KTAP_DIAG_TOTAL_MAX)
		return;
	if (n > KTAP_DIAG_MAX - p->diag_len - 1)
		n = KTAP_DIAG_MAX - p->diag_len - 1;
	char *d = realloc(p->diag, p->diag_len + n + 2);
	if (!d)
		return;
	memcpy(d + p->diag_len, s, n);
	d[p->diag_len + n] = '\n';
	p->diag_len += n + 1;
	d[p->diag_len] = '\0';
	p->diag = d;
	p->r->diag_bytes += n + 1;
}

/* "ok 3 - name # SKIP why" / "not ok 3 name # TODO why" / "ok" */
static void parse_result(struct parser *p, unsigned depth, bool ok, const char *s, const char *end)
{
	char reason[KTAP_NAME_MAX] = "";
	enum ktap_result res = ok ? KTAP_PASS : KTAP_FAIL;

	s = skip_spaces(s, end);
	while (s < end && isdigit((unsigned char)*s))
		s++;
	s = skip_spaces(s, end);
	if (end - s >= 2 && s[0] == '-' && s[1] == ' ')
		s = skip_spaces(s + 1, end);
	/* The directive starts at the first '#' not escaped as "\#". */
	const char *hash = NULL;
	for (const char *q = s; q < end && !hash; q++)
		if (*q == '#' && (q == s || q[-1] != '\\'))
			hash = q;
	const char *name_end = hash ? hash : end;
	while (name_end > s && (name_end[-1] == ' ' || name_end[-1] == '\t'))
		name_end--;
	if (hash) {
		const char *d = skip_spaces(hash + 1, end);
		size_t n = (size_t)(end - d) < sizeof(reason) - 1 ? (size_t)(end - d) : sizeof(reason) - 1;
		memcpy(reason, d, n);
		reason[n] = '\0';
		if (starts_with(d, end, "SKIP"))
			res = KTAP_SKIP;
		else if (starts_with(d, end, "TODO") && !ok)
			res = KTAP_SKIP; /* an expected failure */
	}
	close_deeper(p, depth);
	p->levels[depth].results++;
	add_record(p, depth, s, (size_t)(name_end - s), res, *reason ? reason : NULL);
}

static void parse_line(struct parser *p, const char *s, const char *end)
{
	s = strip_kernel_prefix(s, end);
	unsigned cols = indent_of(&s, end);
	while (end > s && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	bool version = starts_with(s, end, "KTAP version ") || starts_with(s, end, "TAP version ");
	bool plan = end - s >= 4 && s[0] == '1' && s[1] == '.' && s[2] == '.' && isdigit((unsigned char)s[3]);
	bool ok = starts_with(s, end, "ok") && (end - s == 2 || s[2] == ' ');
	bool not_ok = starts_with(s, end, "not ok") && (end - s == 6 || s[6] == ' ');
	bool subtest = starts_with(s, end, "# Subtest:");
	unsigned depth = depth_of(p, cols, version || plan || ok || not_ok || subtest);

	if (version) {
		p->r->found = true;
		close_deeper(p, depth);
		if (p->levels[depth].has_plan || p->levels[depth].results)
			close_level(p, depth); /* a new document at the same depth */
	} else if (plan) {
		struct level *l = &p->levels[depth];
		p->r->found = true;
		l->plan = 0; /* the line is not NUL-terminated: no strtoull */
		for (const char *d = s + 3; d < end && isdigit((unsigned char)*d) && l->plan < 1000000000000ull; d++)
			l->plan = l->plan * 10 + (unsigned)(*d - '0');
		l->has_plan = true;
		const char *hash = memchr(s, '#', (size_t)(end - s));
		if (l->plan == 0 && hash) { /* "1..0 # SKIP why": the whole level skipped */
			const char *d = skip_spaces(hash + 1, end);
			char reason[KTAP_NAME_MAX];
			snprintf(reason, sizeof(reason), "%.*s", (int)(end - d), d);
			add_record(p, depth, *l->name ? l->name : "(all)", strlen(*l->name ? l->name : "(all)"),
				   KTAP_SKIP, reason);
		}
	} else if (ok) {
		p->r->found = true;
		parse_result(p, depth, true, s + 2, end);
	} else if (not_ok) {
		p->r->found = true;
		parse_result(p, depth, false, s + 6, end);
	} else if (subtest) {
		const char *n = skip_spaces(s + 10, end);
		struct level *l = &p->levels[depth];
		snprintf(l->name, sizeof(l->name), "%.*s", (int)(end - n), n);
	} else if (starts_with(s, end, "Bail out!")) {
		p->r->found = true;
		p->r->bailed_out = true;
		add_record(p, depth, s, (size_t)(end - s), KTAP_ERROR, "Bail out!");
	} else if (s < end && *s == '#') {
		add_diag(p, s, end);
	}
	/* Anything else is kernel log or program noise. */
}

/* The output ended: open subtest levels never got their parent's result. */
static void finish(struct parser *p)
{
	while (p->deepest > 0) {
		unsigned d = p->deepest;
		char name[KTAP_NAME_MAX];
		bool started = p->levels[d].has_plan || p->levels[d].results || *p->levels[d].name;
		snprintf(name, sizeof(name), "%s", *p->levels[d].name ? p->levels[d].name : "(unnamed subtest)");
		close_deeper(p, d - 1);
		if (!started)
			continue;
		p->levels[d - 1].results++; /* stands in for the missing result line */
		add_record(p, d - 1, name, strlen(name), KTAP_ERROR, "no result line: the test crashed or the output ended");
	}
	close_level(p, 0);
	free(p->diag);
	p->diag = NULL;
}

/* Test cases are the leaves, and parents that failed while none of
 * their subtests did (a crash after them, a failed cleanup). */
static bool is_case(const struct ktap_record *rec)
{
	return !rec->has_children || (failing(rec->result) && !rec->child_failed);
}

static void count(struct ktap_report *r)
{
	for (unsigned i = 0; i < r->nr_records; i++) {
		const struct ktap_record *rec = &r->records[i];
		if (!is_case(rec))
			continue;
		switch (rec->result) {
		case KTAP_PASS: r->passed++; break;
		case KTAP_FAIL: r->failed++; break;
		case KTAP_SKIP: r->skipped++; break;
		case KTAP_ERROR: r->errors++; break;
		}
	}
}

struct ktap_report *ktap_parse(const char *text, size_t len)
{
	struct parser p = {.r = calloc(1, sizeof(struct ktap_report))};

	if (!p.r)
		return NULL;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		parse_line(&p, text + pos, text + pos + (n > KTAP_LINE_MAX ? KTAP_LINE_MAX : n));
		pos += n + 1;
	}
	finish(&p);
	count(p.r);
	return p.r;
}

void ktap_free(struct ktap_report *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->nr_records; i++) {
		free(r->records[i].name);
		free(r->records[i].reason);
		free(r->records[i].diag);
	}
	free(r->records);
	free(r);
}

/* ---- output ---- */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if there is none. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
	size_t n = s[0] >= 0xf5 ? 0 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;

	if (!n || (size_t)(end - s) < n)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
	    (n == 4 && s[0] == 0xf0 && s[1] < 0x90) || (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
		return 0; /* overlong, a surrogate, past U+10FFFF */
	return n;
}

/* Text as XML character data or an attribute value: markup escaped,
 * characters XML 1.0 forbids (controls, invalid UTF-8) as '?'. */
static void xml_text(FILE *out, const char *text)
{
	const unsigned char *s = (const unsigned char *)text, *end = s + strlen(text);

	while (s < end) {
		size_t n;
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&apos;", out); break;
		case '\n': fputs("&#10;", out); break;
		case '\t': fputc('\t', out); break;
		default:
			if (*s >= 0x20 && *s < 0x7f) {
				fputc(*s, out);
			} else if (*s >= 0x80 && (n = utf8_len(s, end)) > 0) {
				fwrite(s, 1, n, out);
				s += n;
				continue;
			} else {
				fputc('?', out);
			}
		}
		s++;
	}
}

#define CHAIN_MAX (KTAP_DEPTH_MAX + 2)

/* The records that adopted rec, nearest first; returns how many. */
static unsigned ancestors(const struct ktap_report *r, const struct ktap_record *rec,
			  const struct ktap_record *chain[CHAIN_MAX])
{
	unsigned n = 0;

	for (int p = rec->parent; p >= 0 && n < CHAIN_MAX; p = r->records[p].parent)
		chain[n++] = &r->records[p];
	return n;
}

/* "suite.grandparent.parent": the names of the records that adopted rec. */
static void class_path(FILE *out, const struct ktap_report *r, const struct ktap_record *rec, const char *suite)
{
	const struct ktap_record *chain[CHAIN_MAX];
	unsigned n = ancestors(r, rec, chain);

	xml_text(out, suite);
	while (n--) {
		fputc('.', out);
		xml_text(out, chain[n]->name);
	}
}

static void write_case(FILE *out, const struct ktap_report *r, const struct ktap_record *rec, const char *suite)
{
	static const char *const element[] = {[KTAP_FAIL] = "failure", [KTAP_SKIP] = "skipped", [KTAP_ERROR] = "error"};

	fputs("    <testcase name=\"", out);
	xml_text(out, *rec->name ? rec->name : "(unnamed)");
	fputs("\" classname=\"", out);
	class_path(out, r, rec, suite);
	fputs("\"", out);
	if (rec->result == KTAP_PASS) {
		fputs("/>\n", out);
		return;
	}
	fprintf(out, ">\n      <%s message=\"", element[rec->result]);
	xml_text(out, rec->reason ? rec->reason : rec->result == KTAP_FAIL ? "not ok" : "");
	if (rec->diag) {
		fputs("\">", out);
		xml_text(out, rec->diag);
		fprintf(out, "</%s>\n", element[rec->result]);
	} else {
		fputs("\"/>\n", out);
	}
	fputs("    </testcase>\n", out);
}

int ktap_write_junit(const struct ktap_report *r, FILE *out, const char *suite)
{
	unsigned tests = r->passed + r->failed + r->skipped + r->errors;

	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"", out);
	xml_text(out, suite);
	fprintf(out, "\" tests=\"%u\" failures=\"%u\" errors=\"%u\" skipped=\"%u\">\n", tests, r->failed, r->errors,
		r->skipped);
	fputs("  <testsuite name=\"", out);
	xml_text(out, suite);
	fprintf(out, "\" tests=\"%u\" failures=\"%u\" errors=\"%u\" skipped=\"%u\">\n", tests, r->failed, r->errors,
		r->skipped);
	for (unsigned i = 0; i < r->nr_records; i++)
		if (is_case(&r->records[i]))
			write_case(out, r, &r->records[i], suite);
	if (!r->found)
		fputs("    <system-err>no KTAP or TAP output found</system-err>\n", out);
	else if (r->dropped)
		fprintf(out, "    <system-err>%u more results were not kept (limit %u)</system-err>\n", r->dropped,
			KTAP_RECORDS_MAX);
	fputs("  </testsuite>\n</testsuites>\n", out);
	if (fflush(out) == EOF || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}

#define SUMMARY_FAILURES_MAX 20

/* For a terminal: no control bytes (escape sequences) from the guest. */
static void print_clean(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

void ktap_print_summary(const struct ktap_report *r, FILE *out)
{
	unsigned shown = 0, bad = r->failed + r->errors;

	if (!r->found) {
		fputs("ktap: no KTAP or TAP output found\n", out);
		return;
	}
	fprintf(out, "ktap: %u tests: %u passed, %u failed, %u skipped, %u errors%s\n",
		r->passed + r->failed + r->skipped + r->errors, r->passed, r->failed, r->skipped, r->errors,
		r->bailed_out ? " (bailed out)" : "");
	for (unsigned i = 0; i < r->nr_records && shown < SUMMARY_FAILURES_MAX; i++) {
		const struct ktap_record *rec = &r->records[i];
		if (!is_case(rec) || !failing(rec->result))
			continue;
		shown++;
		const struct ktap_record *chain[CHAIN_MAX];
		unsigned n = ancestors(r, rec, chain);
		fprintf(out, "ktap: %s: ", rec->result == KTAP_FAIL ? "not ok" : "error");
		while (n--) {
			print_clean(out, chain[n]->name);
			fputc('.', out);
		}
		print_clean(out, rec->name);
		if (rec->reason) {
			fputs(" # ", out);
			print_clean(out, rec->reason);
		}
		fputc('\n', out);
	}
	if (bad > shown)
		fprintf(out, "ktap: ... and %u more\n", bad - shown);
	if (r->dropped)
		fprintf(out, "ktap: %u more results were not kept (limit %u)\n", r->dropped, KTAP_RECORDS_MAX);
}

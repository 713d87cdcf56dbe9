/* suggest.c - "did you mean" by edit distance; see include/burst/config.h. */
#include <stdlib.h>
#include <string.h>

#include "burst/config.h"

/* Longest word compared; longer ones are never suggested. */
#define SUGGEST_MAX 64

/*
 * Optimal string alignment distance: insertions, deletions, substitutions
 * and transpositions of neighbours each cost one.
 */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];

	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t best = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *burst_closest(const char *word, const char *const *candidates,
			  size_t n)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;

	if (!word || !*word || strlen(word) > SUGGEST_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t lw = strlen(word), lc = strlen(candidates[i]);
		size_t longest = lw > lc ? lw : lc, limit, d;

		if (lc > SUGGEST_MAX)
			continue;
		/* A plausible typo: at most half the longer word changed. */
		limit = longest / 2 > 2 ? longest / 2 : 2;
		d = edit_distance(word, candidates[i]);
		if (d <= limit && d < (lw < lc ? lw : lc) + (lw != lc) &&
		    d < best_d) {
			best = candidates[i];
			best_d = d;
		}
	}
	return best;
}

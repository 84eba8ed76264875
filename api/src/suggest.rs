//! "Did you mean …?": the closest known name to a misspelt one.

/// The candidate closest to `word` by edit distance, if it is close enough
/// to be a likely typo: a case-only difference, or at most one edit per
/// three characters (at least one, at most three); failing that, the
/// shortest candidate that `word` (four characters or more) begins.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
    I::IntoIter: Clone,
{
    let candidates = candidates.into_iter();
    let candidates_again = candidates.clone();
    let lower = word.to_lowercase();
    let budget = (word.chars().count() / 3).clamp(1, 3);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == word {
            continue;
        }
        let d = if c.to_lowercase() == lower {
            0
        } else {
            levenshtein(&lower, &c.to_lowercase(), budget)
        };
        if d <= budget && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    if best.is_none() && word.chars().count() >= 4 {
        // A field written without its suffix: `initialDelay`.
        for c in candidates_again {
            if c.to_lowercase().starts_with(&lower) && best.is_none_or(|(_, b)| c.len() < b.len()) {
                best = Some((0, c));
            }
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance between `a` and `b` (by chars, adjacent
/// transpositions counting as one edit), or `limit + 1` when it exceeds
/// `limit`. Long inputs are cut off early: a misspelt field name is short.
pub fn levenshtein(a: &str, b: &str, limit: usize) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().take(64).collect();
    if a.len().abs_diff(b.len()) > limit {
        return limit + 1;
    }
    // Optimal string alignment distance, three rows.
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
            row_min = row_min.min(d);
        }
        if row_min > limit {
            return limit + 1;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()].min(limit + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SPEC: [&str; 6] = ["instances", "command", "args", "ports", "env", "healthCheck"];

    #[test]
    fn distances() {
        assert_eq!(levenshtein("kitten", "sitting", 10), 3);
        assert_eq!(levenshtein("", "abc", 10), 3);
        assert_eq!(levenshtein("abc", "abc", 0), 0);
        assert_eq!(levenshtein("ab", "ba", 5), 1);
        assert_eq!(levenshtein("abcdef", "uvwxyz", 2), 3);
        assert_eq!(levenshtein("a", "abcdefgh", 2), 3);
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("comand", SPEC), Some("command"));
        assert_eq!(did_you_mean("instnaces", SPEC), Some("instances"));
        assert_eq!(did_you_mean("healthcheck", SPEC), Some("healthCheck"));
        assert_eq!(did_you_mean("health_check", SPEC), Some("healthCheck"));
        assert_eq!(did_you_mean("port", SPEC), Some("ports"));
        assert_eq!(did_you_mean("xyz", SPEC), None);
        assert_eq!(did_you_mean("replicas", SPEC), None);
        assert_eq!(did_you_mean("e", SPEC), None);
        assert_eq!(did_you_mean("health", SPEC), Some("healthCheck"));
        assert_eq!(did_you_mean("inst", SPEC), Some("instances"));
        assert_eq!(did_you_mean("ins", SPEC), None);
    }

    proptest! {
        #[test]
        fn symmetric_and_bounded(a in "\\PC{0,12}", b in "\\PC{0,12}") {
            let d = levenshtein(&a, &b, 100);
            prop_assert_eq!(d, levenshtein(&b, &a, 100));
            prop_assert!(d <= a.chars().count().max(b.chars().count()));
            prop_assert_eq!(levenshtein(&a, &a, 0), 0);
        }
    }
}

//! Regex subscriptions (KIP-848): a member may subscribe with `SubscribedTopicRegex` on top of
//! (or instead of) its topic names. The regex selects every topic of the cluster whose *whole*
//! name it matches (Java's `Pattern.matcher(topic).matches()`), internal topics excepted, so
//! `orders-.*` selects `orders-a` but not `old-orders-a`.
//!
//! Kafka compiles the regex with RE2/J; the `regex` crate implements the same RE2 dialect (no
//! backreferences, no lookaround), so the two match topic names (alphabet `[a-zA-Z0-9._-]`)
//! alike. They differ at the edges of what they accept: the crate takes a doubled repetition
//! such as `a**`, which RE2/J refuses, and knows a few more escapes and flags.
//!
//! Compiled regexes live in a [`RegexCache`] of the group, one per distinct pattern; the cache
//! is derived state (the member records hold the patterns) and is rebuilt when records are
//! replayed.

use std::collections::BTreeMap;
use std::fmt;

use regex::{Regex, RegexBuilder};

/// Kafka's internal topics (`Topic.isInternal`), which a regex never selects.
const INTERNAL_TOPICS: [&str; 3] = [
    "__consumer_offsets",
    "__transaction_state",
    "__share_group_state",
];

/// The largest compiled program a pattern may produce (the crate's default is 10 MiB; topic
/// patterns are tiny, and a pattern is compiled for every group that uses it).
const SIZE_LIMIT: usize = 1 << 20;

/// Whether `topic` is one of Kafka's internal topics.
pub fn is_internal_topic(topic: &str) -> bool {
    INTERNAL_TOPICS.contains(&topic)
}

/// Compiles `pattern` so that it matches whole topic names only. The error is a one-line
/// description of what is wrong with the pattern.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let build = |p: &str| {
        RegexBuilder::new(p)
            .size_limit(SIZE_LIMIT)
            .build()
            .map_err(|e| describe(&e))
    };
    // The pattern must be valid on its own: wrapping an invalid one could make it valid
    // (`a)|(b` becomes `^(?:a)|(b)$`).
    build(pattern)?;
    build(&format!("^(?:{pattern})$"))
}

/// Whether the compiled `regex` selects `topic`.
pub fn selects(regex: &Regex, topic: &str) -> bool {
    !is_internal_topic(topic) && regex.is_match(topic)
}

/// The last line of the crate's error (its syntax errors print the pattern and a caret first).
fn describe(error: &regex::Error) -> String {
    let text = error.to_string();
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid regular expression");
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

/// The compiled regexes of a group, by pattern. Not persisted, and not part of the group's
/// state: two caches are always equal.
#[derive(Clone, Default)]
pub struct RegexCache {
    compiled: BTreeMap<String, Regex>,
}

impl RegexCache {
    /// The compiled `pattern`, compiling it on first use.
    pub fn compile(&mut self, pattern: &str) -> Result<&Regex, String> {
        if !self.compiled.contains_key(pattern) {
            let regex = compile(pattern)?;
            self.compiled.insert(pattern.to_string(), regex);
        }
        Ok(&self.compiled[pattern])
    }

    /// The compiled `pattern`, if it was compiled.
    pub fn get(&self, pattern: &str) -> Option<&Regex> {
        self.compiled.get(pattern)
    }

    /// Forgets the patterns for which `keep` is false.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.compiled.retain(|pattern, _| keep(pattern));
    }

    /// The cached patterns.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.compiled.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.compiled.len()
    }

    pub fn is_empty(&self) -> bool {
        self.compiled.is_empty()
    }
}

impl PartialEq for RegexCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for RegexCache {}

impl fmt::Debug for RegexCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.compiled.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, topic: &str) -> bool {
        selects(&compile(pattern).expect("valid"), topic)
    }

    #[test]
    fn whole_names_only() {
        assert!(matches("orders-.*", "orders-a"));
        assert!(!matches("orders-.*", "old-orders-a"));
        assert!(!matches("orders", "orders-a"));
        assert!(matches("a|ab", "ab"));
        assert!(matches("(?i)ORDERS", "orders"));
        assert!(!matches(".*", "__consumer_offsets"));
        assert!(!matches("__transaction_state", "__transaction_state"));
    }

    #[test]
    fn invalid_patterns() {
        for pattern in ["(", "a)|(b", "[z-a]", "(?<=a)b", r"(a)\1", "*a"] {
            let error = compile(pattern).expect_err(pattern);
            assert!(!error.is_empty() && !error.contains('\n'), "{error}");
        }
    }

    #[test]
    fn cache_compiles_once() {
        let mut cache = RegexCache::default();
        assert!(cache.compile("t.*").is_ok());
        assert!(cache.compile("t.*").is_ok());
        assert!(cache.compile("(").is_err());
        assert_eq!(cache.patterns().collect::<Vec<_>>(), vec!["t.*"]);
        cache.retain(|_| false);
        assert!(cache.is_empty());
        assert_eq!(cache, RegexCache::default());
    }
}

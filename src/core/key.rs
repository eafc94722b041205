//! Key grammar and scope (SPEC §2): the grammar forbids `/`, so a key can
//! never address another scope's vault id.

use alloc::string::String;

/// `^[A-Za-z0-9._:-]{1,128}$`, ASCII only.
pub fn is_safe_segment(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// The `userId/projectId/` prefix every vault id and metadata key of one store shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    prefix: String,
}

impl Scope {
    /// `None` when either part fails the grammar (the caller never echoes it).
    pub fn new(user_id: &str, project_id: &str) -> Option<Scope> {
        (is_safe_segment(user_id) && is_safe_segment(project_id))
            .then(|| Scope { prefix: [user_id, "/", project_id, "/"].iter().fold(String::new(), |s, p| s + p) })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key of a metadata KV key in this scope, or `None` outside it.
    pub fn key_of<'a>(&self, id: &'a str) -> Option<&'a str> {
        id.strip_prefix(self.prefix.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_accepts_exactly_the_safe_alphabet_up_to_128() {
        assert!(is_safe_segment("a"));
        assert!(is_safe_segment("A-z_0.9:x"));
        assert!(is_safe_segment(&"k".repeat(128)));
        assert!(!is_safe_segment(&"k".repeat(129)));
        assert!(!is_safe_segment(""));
        for bad in ["a/b", "a b", "é", "a\n", "a\0", "../x", "a+b", "ǅ"] {
            assert!(!is_safe_segment(bad), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn scope_prefix_and_key_of_strip_only_its_own_prefix() {
        let s = Scope::new("u1", "p1").unwrap();
        assert_eq!(s.prefix(), "u1/p1/");
        assert_eq!(s.key_of("u1/p1/k"), Some("k"));
        assert_eq!(s.key_of("u1/p10/k"), None);
        assert!(Scope::new("u/1", "p").is_none());
        assert!(Scope::new("u", "").is_none());
    }
}

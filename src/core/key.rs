//! Key grammar and scope (SPEC §2): the grammar forbids `/`, so a key can
//! never address another scope's vault id.

use alloc::string::String;

/// `^[A-Za-z0-9._:-]{1,128}$`, ASCII only.
pub fn is_safe_segment(s: &str) -> bool {
    is_safe_bytes(s.as_bytes())
}

/// The grammar over bytes: a key's text needs no UTF-8 check first, since
/// only ASCII passes (on the path of every get/has/put/delete).
pub fn is_safe_bytes(s: &[u8]) -> bool {
    (1..=128).contains(&s.len()) && s.iter().all(|&b| is_safe_byte(b))
}

/// The grammar's alphabet as two 64-bit masks (bytes 0–63, 64–127).
const SAFE_LOW: u64 = {
    let mut m = 0u64;
    let mut b = b'0';
    while b <= b'9' {
        m |= 1 << b;
        b += 1;
    }
    m | 1 << b'.' | 1 << b':' | 1 << b'-'
};
const SAFE_HIGH: u64 = {
    let mut m = 1u64 << (b'_' - 64);
    let mut b = b'A';
    while b <= b'Z' {
        m |= 1 << (b - 64) | 1 << (b - 64 + 32); // upper and lower case
        b += 1;
    }
    m
};

fn is_safe_byte(b: u8) -> bool {
    match b {
        0..=63 => SAFE_LOW >> b & 1 != 0,
        64..=127 => SAFE_HIGH >> (b - 64) & 1 != 0,
        _ => false,
    }
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
            .then(|| Scope::from_prefix([user_id, "/", project_id, "/"].iter().fold(String::new(), |s, p| s + p)))
    }

    /// The scope of a prefix the host built (`` `${userId}/${projectId}/` ``).
    pub fn from_prefix(prefix: String) -> Scope {
        Scope { prefix }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key a vault id of this scope belongs to: `<prefix><key>` or a
    /// version of it, `<prefix><key>#<token>`.
    pub fn key_of_version<'a>(&self, id: &'a str) -> Option<&'a str> {
        let key = self.key_of(id)?;
        Some(key.find('#').map_or(key, |at| &key[..at]))
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
    fn byte_masks_accept_exactly_the_alphabet() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-');
            assert_eq!(is_safe_byte(b), expected, "byte {b}");
        }
        assert!(!is_safe_bytes(&[]));
        assert!(!is_safe_bytes("é".as_bytes()));
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

//! Passwords and session tokens.
//!
//! - Passwords: argon2id (the crate's default parameters: m = 19 MiB, t = 2 passes, p = 1),
//!   PHC strings with a random 16-byte salt. These are the first of OWASP's equivalent
//!   argon2id settings (Password Storage Cheat Sheet: "m=19456 (19 MiB), t=2, p=1"). The
//!   password itself is never stored or logged.
//! - A check reuses one block of argon2 memory per thread ([`verify_password`]) instead of
//!   allocating 19 MiB each time: the allocator then keeps no freed arenas behind, and the
//!   memory held is bounded by the threads that check passwords (the server runs them on a
//!   small pool of its own).
//! - Tokens: 256 random bits as 64 hex characters, handed to the client once. The store keeps
//!   only their SHA-256, so a copy of the database cannot sign anyone in.

use argon2::{Argon2, PasswordHasher};
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// Shortest password accepted, in characters.
pub const PASSWORD_CHARS_MIN: usize = 8;
/// Longest password accepted, in bytes (argon2 takes anything; this bounds the work).
pub const PASSWORD_BYTES_MAX: usize = 256;

fn random<const N: usize>() -> Result<[u8; N], AppError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf)
        .map_err(|e| AppError::Internal(format!("no randomness from the system: {e}")))?;
    Ok(buf)
}

pub fn check_password_rules(password: &str) -> Result<(), AppError> {
    if password.chars().count() < PASSWORD_CHARS_MIN || password.len() > PASSWORD_BYTES_MAX {
        return Err(AppError::invalid(
            "password",
            "password_length",
            format!("密码长度须为 {PASSWORD_CHARS_MIN} 至 {PASSWORD_BYTES_MAX} 个字符"),
            format!("a password has {PASSWORD_CHARS_MIN} to {PASSWORD_BYTES_MAX} characters"),
        ));
    }
    Ok(())
}

/// An argon2id PHC string for a password.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt: [u8; 16] = random()?;
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
}

thread_local! {
    /// The argon2 memory of this thread's checks, kept between them.
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Whether the password matches the stored hash. A malformed stored hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > PASSWORD_BYTES_MAX {
        return false;
    }
    let Ok(hash) = argon2::PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let Ok(params) = argon2::Params::try_from(&hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(argon2::Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.as_bytes().len()];
    let hashed = BLOCKS.with(|b| {
        let mut b = b.borrow_mut();
        if b.len() != blocks {
            b.clear();
            b.shrink_to_fit();
            b.resize(blocks, argon2::Block::default());
        }
        argon.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, &mut b[..])
    });
    hashed.is_ok() && argon2::password_hash::phc::Output::new(&out).is_ok_and(|o| o == expected)
}

/// A fresh session token (64 hex characters).
pub fn new_token() -> Result<String, AppError> {
    Ok(hex::encode(random::<32>()?))
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A token has the shape [`new_token`] gives; anything else is refused before any lookup.
pub fn token_well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_roundtrip_and_rules() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsE", &h));
        assert!(!verify_password("correct horse", "not a hash"));
        assert_ne!(h, hash_password("correct horse").unwrap(), "salted");
        assert!(check_password_rules("short").is_err());
        assert!(check_password_rules("long enough").is_ok());
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert!(token_well_formed(&a));
        assert!(!token_well_formed("abc"));
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}

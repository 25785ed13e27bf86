//! Topic name rules, as Kafka's `Topic.validate` applies them.

/// Longest legal topic name.
pub const MAX_NAME_LENGTH: usize = 249;

/// Why a topic name is refused (reported with INVALID_TOPIC_EXCEPTION).
pub fn validate(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Topic name is illegal, it can't be empty".into());
    }
    if name == "." || name == ".." {
        return Err("Topic name cannot be \".\" or \"..\"".into());
    }
    if name.len() > MAX_NAME_LENGTH {
        return Err(format!(
            "Topic name is illegal, it can't be longer than {MAX_NAME_LENGTH} characters, topic name: {name}"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(format!(
            "Topic name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// Kafka refuses two topics whose names differ only by '.' versus '_' (their metric names
/// collide); this is the form in which such names are equal.
pub fn collision_key(name: &str) -> String {
    name.replace('.', "_")
}

/// Topics whose names start with `__` are Kafka's internal topics.
pub fn is_internal(name: &str) -> bool {
    name == "__consumer_offsets" || name == "__transaction_state"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_and_illegal_names() {
        assert!(validate("orders.v1_eu-west").is_ok());
        assert!(validate("").is_err());
        assert!(validate(".").is_err());
        assert!(validate("..").is_err());
        assert!(validate("bad name").is_err());
        assert!(validate("bad/name").is_err());
        assert!(validate("ü").is_err());
        assert!(validate(&"a".repeat(249)).is_ok());
        assert!(validate(&"a".repeat(250)).is_err());
    }

    #[test]
    fn dots_and_underscores_collide() {
        assert_eq!(collision_key("a.b"), collision_key("a_b"));
        assert_ne!(collision_key("a-b"), collision_key("a_b"));
    }
}

//! Candidate values written by anyone (etcdctl elect, other clients, an
//! attacker with write access to the prefix) must read as members, never
//! panic: arbitrary key, value and namespace bytes.

/// One input.
pub fn run(data: &[u8]) {
    let mut parts = data.splitn(3, |b| *b == 0);
    let key = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let namespace = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let value = parts.next().unwrap_or_default();
    let member = vinesync::keys::member_from_value(&key, value, &namespace);
    // A foreign value keeps its bytes (lossily) as the leader name.
    if serde_json_like(value) {
        return;
    }
    assert_eq!(member.leader, String::from_utf8_lossy(value));
}

/// Values that start like a JSON object may parse as ours; skip the check.
fn serde_json_like(value: &[u8]) -> bool {
    value.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

//! Choosing one server in the latency window by operation count, "power of two random
//! choices" (server selection spec, "Multi-threaded or asynchronous server selection").

use rand::Rng;

use crate::sdam::{ServerAddress, ServerDescription};

/// Picks a server from `in_window`: the only one if there is one; otherwise two distinct
/// servers at random, and of them the one with the lower `operation_count` (the first
/// drawn on a tie). The caller increments the chosen server's count.
pub fn choose<'a, R: Rng + ?Sized>(
    in_window: &[&'a ServerDescription],
    operation_count: impl Fn(&ServerAddress) -> u32,
    rng: &mut R,
) -> Option<&'a ServerDescription> {
    match in_window.len() {
        0 => None,
        1 => Some(in_window[0]),
        n => {
            let i = rng.random_range(0..n);
            let mut j = rng.random_range(0..n - 1);
            if j >= i {
                j += 1;
            }
            let (first, second) = (in_window[i], in_window[j]);
            if operation_count(&first.address) <= operation_count(&second.address) {
                Some(first)
            } else {
                Some(second)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::sdam::ServerType;

    #[test]
    fn busiest_server_is_never_chosen_and_both_draws_are_distinct() {
        let servers: Vec<ServerDescription> = ["a", "b", "c"]
            .into_iter()
            .map(|h| ServerDescription::new(ServerAddress::new(h, 1), ServerType::Mongos))
            .collect();
        let refs: Vec<&ServerDescription> = servers.iter().collect();
        let count = |a: &ServerAddress| match a.host() {
            "a" => 1,
            "b" => 2,
            _ => 3,
        };
        let mut rng = StdRng::seed_from_u64(7);
        let mut seen = std::collections::BTreeMap::<&str, u32>::new();
        for _ in 0..600 {
            let s = choose(&refs, count, &mut rng).unwrap();
            *seen.entry(s.address.host()).or_default() += 1;
        }
        assert_eq!(seen.get("c"), None);
        // a wins whenever drawn: 2/3 of pairs.
        let a = f64::from(seen["a"]) / 600.0;
        assert!((a - 2.0 / 3.0).abs() < 0.06, "{a}");
        assert_eq!(choose(&refs[..1], count, &mut rng).unwrap().address.host(), "a");
        assert!(choose(&[], count, &mut rng).is_none());
    }
}

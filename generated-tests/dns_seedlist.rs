//! Initial DNS seedlist discovery spec tests, one per spec file (generated): the README's DNS
//! records served by an injected resolver, the discovered hosts mapped onto simulated
//! deployments.

spec_macros::suite!(initial_dns_seedlist_discovery);

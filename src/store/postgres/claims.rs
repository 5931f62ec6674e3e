//! Which host works on which instance: an instance is claimed by the host that starts it or
//! takes it over, for a lease the host renews while it works; a host that stops releases its
//! claims, and one that dies lets them run out.

use super::PostgresStore;

impl PostgresStore {
    /// Gives up this host's claims (at a clean stop, or after `flowc store migrate`), so
    /// another host takes its unfinished instances over at once.
    pub fn release(&self) {
        let host = self.host.clone();
        self.read("(releasing the claims)", move |c| {
            c.execute(
                "UPDATE instances SET owner = NULL, lease_until = NULL WHERE owner = $1",
                &[&host],
            )
        });
    }
}

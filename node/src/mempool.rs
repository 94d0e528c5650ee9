//! Pending transactions, per sender in nonce order (`docs/chain.md`,
//! section 7).

use std::collections::{BTreeMap, BTreeSet};

use detvm_chain::{SignedTransaction, TxError};

/// Bounds of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    /// Most pending transactions in all.
    pub max_pending: usize,
    /// Most pending transactions of one sender.
    pub max_pending_per_sender: usize,
}

impl Default for PoolLimits {
    fn default() -> Self {
        Self {
            max_pending: 50_000,
            max_pending_per_sender: 1_024,
        }
    }
}

/// The mempool. Ordered maps only: which transactions a block takes never
/// depends on hashing order.
#[derive(Debug, Default)]
pub struct Mempool {
    limits: PoolLimits,
    by_sender: BTreeMap<String, BTreeMap<u64, SignedTransaction>>,
    hashes: BTreeSet<[u8; 32]>,
    /// Order of arrival of each sender's first pending transaction, so
    /// blocks serve senders first come, first served.
    arrival: BTreeMap<u64, String>,
    sender_arrival: BTreeMap<String, u64>,
    next_arrival: u64,
}

impl Mempool {
    /// An empty pool with `limits`.
    pub fn new(limits: PoolLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Number of pending transactions.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Whether a transaction with this hash is pending.
    pub fn contains(&self, hash: &[u8; 32]) -> bool {
        self.hashes.contains(hash)
    }

    /// The pending transaction with `hash`.
    pub fn find(&self, hash: &[u8; 32]) -> Option<&SignedTransaction> {
        if !self.hashes.contains(hash) {
            return None;
        }
        self.by_sender
            .values()
            .flat_map(|q| q.values())
            .find(|tx| &tx.hash() == hash)
    }

    /// The pending transactions of `sender`, in nonce order.
    pub fn pending_of(&self, sender: &str) -> impl Iterator<Item = &SignedTransaction> {
        self.by_sender
            .get(sender)
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// Adds a transaction that passed the ledger's pool checks. A second
    /// transaction with the same sender and nonce replaces nothing: it is
    /// refused as a duplicate.
    pub fn insert(&mut self, tx: SignedTransaction) -> Result<(), TxError> {
        let hash = tx.hash();
        if self.hashes.contains(&hash) {
            return Err(TxError::Duplicate);
        }
        let sender = tx.transaction.signer.clone();
        let nonce = tx.transaction.nonce;
        let mine = self.by_sender.get(&sender).map_or(0, BTreeMap::len);
        if mine >= self.limits.max_pending_per_sender {
            return Err(TxError::PoolFull(format!(
                "{sender} has {mine} pending transactions, at most {}",
                self.limits.max_pending_per_sender
            )));
        }
        if self.hashes.len() >= self.limits.max_pending {
            return Err(TxError::PoolFull(format!(
                "{} pending transactions, at most {}",
                self.hashes.len(),
                self.limits.max_pending
            )));
        }
        let queue = self.by_sender.entry(sender.clone()).or_default();
        if queue.contains_key(&nonce) {
            return Err(TxError::Duplicate);
        }
        queue.insert(nonce, tx);
        self.hashes.insert(hash);
        if !self.sender_arrival.contains_key(&sender) {
            self.arrival.insert(self.next_arrival, sender.clone());
            self.sender_arrival.insert(sender, self.next_arrival);
            self.next_arrival += 1;
        }
        Ok(())
    }

    /// Transactions ready to run: for each sender (first come, first
    /// served), its consecutive nonces from `next_nonce(sender)` on; at
    /// most `max` in all.
    pub fn ready(&self, next_nonce: impl Fn(&str) -> u64, max: usize) -> Vec<SignedTransaction> {
        let mut out = Vec::new();
        for sender in self.arrival.values() {
            let Some(queue) = self.by_sender.get(sender) else {
                continue;
            };
            let first = next_nonce(sender);
            for (expected, (&nonce, tx)) in (first..).zip(queue.range(first..)) {
                if nonce != expected || out.len() >= max {
                    break;
                }
                out.push(tx.clone());
            }
            if out.len() >= max {
                break;
            }
        }
        out
    }

    /// Removes a transaction (included, or found invalid).
    pub fn remove(&mut self, tx: &SignedTransaction) {
        let sender = &tx.transaction.signer;
        if let Some(queue) = self.by_sender.get_mut(sender) {
            if queue.remove(&tx.transaction.nonce).is_some() {
                self.hashes.remove(&tx.hash());
            }
            if queue.is_empty() {
                self.by_sender.remove(sender);
                if let Some(at) = self.sender_arrival.remove(sender) {
                    self.arrival.remove(&at);
                }
            }
        }
    }

    /// Drops every transaction of `sender` with a nonce below `next` (used
    /// already).
    pub fn prune(&mut self, sender: &str, next: u64) {
        let stale: Vec<SignedTransaction> = self
            .by_sender
            .get(sender)
            .map(|q| q.range(..next).map(|(_, tx)| tx.clone()).collect())
            .unwrap_or_default();
        for tx in &stale {
            self.remove(tx);
        }
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        *self = Self::new(self.limits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use detvm_chain::{Action, Keypair, Transaction};

    fn tx(key: &Keypair, nonce: u64) -> SignedTransaction {
        Transaction {
            chain_id: "t".into(),
            signer: key.implicit_id(),
            public_key: key.public_key(),
            nonce,
            gas_limit: 1,
            action: Action::Transfer {
                to: "x".into(),
                amount: 1,
            },
        }
        .sign(key)
    }

    #[test]
    fn ready_takes_consecutive_nonces_per_sender() {
        let (a, b) = (Keypair::dev(0), Keypair::dev(1));
        let mut pool = Mempool::new(PoolLimits::default());
        for n in [2, 0, 1, 4] {
            pool.insert(tx(&a, n)).unwrap();
        }
        pool.insert(tx(&b, 5)).unwrap();
        assert_eq!(pool.insert(tx(&a, 1)).unwrap_err(), TxError::Duplicate);
        let ready = pool.ready(|s| if s == b.implicit_id() { 5 } else { 0 }, 100);
        let nonces: Vec<u64> = ready.iter().map(|t| t.transaction.nonce).collect();
        assert_eq!(nonces, [0, 1, 2, 5]);
        assert_eq!(pool.ready(|_| 0, 2).len(), 2);
        pool.prune(&a.implicit_id(), 2);
        assert_eq!(pool.len(), 3);
        for t in ready {
            pool.remove(&t);
        }
        assert_eq!(pool.len(), 1, "nonce 4 of a stays");
    }

    #[test]
    fn limits_are_enforced() {
        let a = Keypair::dev(0);
        let mut pool = Mempool::new(PoolLimits {
            max_pending: 3,
            max_pending_per_sender: 2,
        });
        pool.insert(tx(&a, 0)).unwrap();
        pool.insert(tx(&a, 1)).unwrap();
        assert_eq!(pool.insert(tx(&a, 2)).unwrap_err().kind(), "pool_full");
        pool.insert(tx(&Keypair::dev(1), 0)).unwrap();
        assert_eq!(
            pool.insert(tx(&Keypair::dev(2), 0)).unwrap_err().kind(),
            "pool_full"
        );
    }
}

//! The node's state and the one thread that owns it.
//!
//! Every read and write of the ledger and the mempool runs as a job on one
//! executor thread, in the order the jobs arrive: no locks to order, and a
//! thread with a stack large enough for contract calls (the engine
//! otherwise starts a thread per call).

use std::sync::{Arc, Mutex, mpsc};
use std::time::{SystemTime, UNIX_EPOCH};

use std::collections::BTreeMap;

use detvm_chain::{Block, BuiltBlock, Ledger, SignedTransaction, TxError, TxReceipt};
use tokio::sync::{broadcast, oneshot};

use crate::NodeError;
use crate::mempool::Mempool;
use crate::producer::{BlockProducer, Proposal};

/// Native stack of the executor thread: room for the deepest contract call
/// the engine allows (`docs/host-api.md`, native stack), so calls run on it
/// directly. Only touched pages are ever committed.
const EXECUTOR_STACK: usize = 1 << 30;

/// How blocks are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mining {
    /// A block as soon as transactions arrive (instant seal).
    Instant,
    /// A block every this many milliseconds, empty or not.
    Interval(u64),
    /// Only on `dev_mine`.
    Manual,
}

/// A committed block and its receipts, as announced to subscribers.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The block.
    pub block: Block,
    /// Its receipts.
    pub receipts: Vec<TxReceipt>,
}

/// Tells a submitter how the next block treated its transaction.
pub type InclusionSender = oneshot::Sender<Result<(), TxError>>;

/// What the executor thread owns.
pub struct NodeState {
    /// The chain.
    pub ledger: Ledger,
    /// Pending transactions.
    pub pool: Mempool,
    /// Whether dev methods are enabled.
    pub dev: bool,
    /// How blocks are made.
    pub mining: Mining,
    /// The next block's timestamp, if set by `dev_set_next_timestamp`.
    pub next_timestamp: Option<u64>,
    /// Added to the clock for every later block (`dev_increase_time`).
    pub time_offset_ns: u64,
    /// Heights (and time offsets) of `dev_snapshot`s, by id.
    pub snapshots: Vec<(u64, u64)>,
    /// This node's name in block headers.
    pub proposer: String,
    /// Who decides the blocks.
    pub producer: Box<dyn BlockProducer>,
    /// Committed blocks are sent here.
    pub events: broadcast::Sender<Committed>,
    /// Direct state changes for the next block (dev cheats).
    pub dev_changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Submitters waiting for the next block (instant mining).
    pub waiters: Vec<([u8; 32], InclusionSender)>,
    /// Blocks built or verified for consensus and not yet decided, by
    /// hash, with their execution, so a decided block is not run again.
    pub candidates: BTreeMap<[u8; 32], BuiltBlock>,
    /// In a network: transactions admitted through this node's RPC go
    /// here, for the network to pass them on to the other nodes.
    pub announce: Option<tokio::sync::mpsc::UnboundedSender<SignedTransaction>>,
}

/// Most candidate blocks kept at once: a validator builds one per round it
/// leads and verifies one per proposal it receives; a proposer streaming
/// many blocks for one round cannot make the node hold more.
pub const MAX_CANDIDATES: usize = 64;

fn clock_ns() -> u64 {
    // Only the producer reads the clock, to choose a timestamp; it is data
    // in the block from then on.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl NodeState {
    /// Admits a transaction to the mempool and, in a network, announces
    /// it to the other nodes.
    pub fn submit(&mut self, tx: SignedTransaction) -> Result<[u8; 32], NodeError> {
        let hash = self.admit(tx.clone())?;
        if let Some(announce) = &self.announce {
            // A network that stopped listening is not the submitter's error.
            let _ = announce.send(tx);
        }
        Ok(hash)
    }

    /// Admits a transaction another node passed on (never announced again:
    /// every node announces only what its own clients sent).
    pub fn admit(&mut self, tx: SignedTransaction) -> Result<[u8; 32], NodeError> {
        let hash = tx.hash();
        if let Some(at) = self.ledger.tx_location(&hash)? {
            return Err(TxError::AlreadyIncluded(at.height).into());
        }
        if self.pool.contains(&hash) {
            return Err(TxError::Duplicate.into());
        }
        let account = self.ledger.check_for_pool(&tx)?;
        // The balance must cover everything the sender has pending.
        let mut need = self.ledger.max_cost(&tx).unwrap_or(u128::MAX);
        for pending in self.pool.pending_of(&tx.transaction.signer) {
            need = need.saturating_add(self.ledger.max_cost(pending).unwrap_or(u128::MAX));
        }
        if need > account.balance {
            return Err(TxError::InsufficientBalance {
                need,
                have: account.balance,
            }
            .into());
        }
        self.pool.insert(tx)?;
        Ok(hash)
    }

    /// With instant mining, a receiver that resolves when the next block
    /// is committed: `Ok` if the transaction is in it or still pending
    /// (a future nonce), its error if the block left it out as invalid.
    pub fn wait_for_block(
        &mut self,
        hash: [u8; 32],
    ) -> Option<oneshot::Receiver<Result<(), TxError>>> {
        if self.mining != Mining::Instant {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.push((hash, tx));
        Some(rx)
    }

    /// Called when no job is queued: with instant mining, one block takes
    /// everything submitted since the last one. Submitters that arrive
    /// together share a block (and one disk commit).
    pub fn idle(&mut self) {
        if self.mining != Mining::Instant || self.waiters.is_empty() {
            return;
        }
        if self.ready_transactions().is_empty() && self.dev_changes.is_empty() {
            // Only future nonces arrived: no block; they stay pending.
            for (_, waiter) in std::mem::take(&mut self.waiters) {
                let _ = waiter.send(Ok(()));
            }
            return;
        }
        // A failed block leaves the waiters to be dropped: their requests
        // end with an error, and the node goes on.
        if self.produce().is_err() {
            self.waiters.clear();
        }
    }

    /// The pooled transactions the next block would try, in order.
    fn ready_transactions(&self) -> Vec<SignedTransaction> {
        let ledger = &self.ledger;
        let max = ledger.params().max_block_txs as usize;
        self.pool.ready(
            |sender| {
                ledger
                    .account(sender, None)
                    .ok()
                    .flatten()
                    .map_or(0, |a| a.nonce)
            },
            max,
        )
    }

    /// Applies dev cheats: a block with `changes` (and whatever
    /// transactions are ready) is made and committed at once, whatever
    /// the mining mode, so the chain stays replayable.
    pub fn cheat(
        &mut self,
        changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    ) -> Result<Committed, NodeError> {
        self.dev_changes = changes;
        self.produce()
    }

    /// Makes, commits and announces one block of the ready transactions.
    pub fn produce(&mut self) -> Result<Committed, NodeError> {
        let ready = self.ready_transactions();
        let timestamp = match self.next_timestamp.take() {
            Some(t) => t,
            None => clock_ns().saturating_add(self.time_offset_ns),
        };
        let proposal = Proposal {
            dev_changes: std::mem::take(&mut self.dev_changes),
            transactions: ready,
            timestamp_ns: timestamp,
        };
        let built = self.producer.propose(&mut self.ledger, proposal)?;
        self.commit_built(built)
    }

    /// Builds the next block for consensus from the ready transactions,
    /// at `max(clock, parent + 1)`; nothing is committed. The block and
    /// its execution are kept as a candidate.
    pub fn build_candidate(&mut self) -> Result<Block, NodeError> {
        let parent = self.ledger.head().timestamp_ns;
        let timestamp = clock_ns()
            .saturating_add(self.time_offset_ns)
            .max(parent.saturating_add(1));
        let proposal = Proposal {
            dev_changes: Vec::new(),
            transactions: self.ready_transactions(),
            timestamp_ns: timestamp,
        };
        let built = self.producer.propose(&mut self.ledger, proposal)?;
        let block = built.block.clone();
        self.keep_candidate(built);
        Ok(block)
    }

    /// Re-executes a block proposed by another validator on the head
    /// (`docs/chain.md`, section 5): its transactions, state root and
    /// receipts root. A valid block is kept as a candidate.
    pub fn verify_candidate(&mut self, block: &Block) -> Result<(), NodeError> {
        if self.candidates.contains_key(&block.hash()) {
            return Ok(());
        }
        let built = self.producer.verify(&mut self.ledger, block)?;
        self.keep_candidate(built);
        Ok(())
    }

    fn keep_candidate(&mut self, built: BuiltBlock) {
        if self.candidates.len() >= MAX_CANDIDATES {
            self.candidates.pop_first();
        }
        self.candidates.insert(built.block.hash(), built);
    }

    /// Commits the candidate `block` consensus decided (verifying it
    /// first if it is not a candidate yet, as for a block from sync),
    /// announces it and drops every other candidate.
    pub fn commit_decided(&mut self, block: &Block) -> Result<Committed, NodeError> {
        let hash = block.hash();
        let built = match self.candidates.remove(&hash) {
            Some(built) => built,
            None => self.producer.verify(&mut self.ledger, block)?,
        };
        self.candidates.clear();
        self.commit_built(built)
    }

    /// Commits `built`, clears its transactions from the pool, answers
    /// the waiting submitters and announces the block.
    fn commit_built(&mut self, built: BuiltBlock) -> Result<Committed, NodeError> {
        for (tx, _) in &built.rejected {
            self.pool.remove(tx);
        }
        for tx in &built.block.transactions {
            self.pool.remove(tx);
        }
        let committed = Committed {
            block: built.block.clone(),
            receipts: built.receipts.clone(),
        };
        let rejected: Vec<([u8; 32], TxError)> = built
            .rejected
            .iter()
            .map(|(tx, e)| (tx.hash(), e.clone()))
            .collect();
        self.producer.commit(&mut self.ledger, built)?;
        for (hash, waiter) in std::mem::take(&mut self.waiters) {
            let outcome = match rejected.iter().find(|(h, _)| *h == hash) {
                Some((_, e)) => Err(e.clone()),
                None => Ok(()),
            };
            let _ = waiter.send(outcome);
        }
        // No subscriber is not an error.
        let _ = self.events.send(committed.clone());
        Ok(committed)
    }
}

type Job = Box<dyn FnOnce(&mut NodeState) + Send>;

enum Message {
    Job(Job),
    /// An urgent job is waiting (wakes a thread blocked on the queue).
    Wake,
    /// Drop the state (closing the database) and end the thread.
    Stop,
}

/// A job running `f` and the receiver of its result.
fn answered<R: Send + 'static>(
    f: impl FnOnce(&mut NodeState) -> R + Send + 'static,
) -> (Job, oneshot::Receiver<R>) {
    let (reply, answer) = oneshot::channel();
    let job: Job = Box::new(move |state| {
        let _ = reply.send(f(state));
    });
    (job, answer)
}

/// A handle to the executor thread.
#[derive(Clone)]
pub struct Executor {
    jobs: mpsc::Sender<Message>,
    /// Jobs run before any queued ordinary job: consensus work (build,
    /// verify, commit a block), so a flood of submissions cannot make a
    /// validator miss its timeouts.
    urgent: mpsc::Sender<Job>,
    thread: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl Executor {
    /// Starts the executor thread; `make` builds the state on that thread.
    pub fn start(
        make: impl FnOnce() -> Result<NodeState, NodeError> + Send + 'static,
    ) -> Result<Self, NodeError> {
        let (jobs, queue) = mpsc::channel::<Message>();
        let (urgent, urgent_queue) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("detvm-executor".into())
            .stack_size(EXECUTOR_STACK)
            .spawn(move || {
                let mut state = match make() {
                    Ok(state) => {
                        let _ = ready_tx.send(Ok(()));
                        state
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                // Ends on `Stop` or when every handle is dropped. When the
                // queue runs dry the state gets its `idle` turn (block
                // production for instant mining).
                loop {
                    if let Ok(job) = urgent_queue.try_recv() {
                        job(&mut state);
                        continue;
                    }
                    let message = match queue.try_recv() {
                        Ok(m) => m,
                        Err(mpsc::TryRecvError::Empty) => {
                            state.idle();
                            match queue.recv() {
                                Ok(m) => m,
                                Err(_) => break,
                            }
                        }
                        Err(mpsc::TryRecvError::Disconnected) => break,
                    };
                    match message {
                        Message::Job(job) => job(&mut state),
                        Message::Wake => {}
                        Message::Stop => break,
                    }
                }
            })
            .map_err(|e| NodeError::Start(format!("cannot start the executor thread: {e}")))?;
        ready_rx
            .recv()
            .map_err(|_| NodeError::Start("the executor thread ended".into()))??;
        Ok(Self {
            jobs,
            urgent,
            thread: Arc::new(Mutex::new(Some(thread))),
        })
    }

    /// Ends the thread after the jobs already sent, closing the database;
    /// later jobs fail with [`NodeError::Stopped`]. Blocks until it ended.
    pub fn shutdown(&self) {
        let _ = self.jobs.send(Message::Stop);
        let thread = match self.thread.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    /// Runs `f` on the state, after every job sent before it.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut NodeState) -> R + Send + 'static,
    ) -> Result<R, NodeError> {
        let (job, answer) = answered(f);
        self.jobs
            .send(Message::Job(job))
            .map_err(|_| NodeError::Stopped)?;
        answer.await.map_err(|_| NodeError::Stopped)
    }

    /// Runs `f` on the state before every ordinary job still queued
    /// (consensus work; see [`Executor`]).
    pub async fn run_urgent<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut NodeState) -> R + Send + 'static,
    ) -> Result<R, NodeError> {
        let (job, answer) = answered(f);
        self.urgent.send(job).map_err(|_| NodeError::Stopped)?;
        self.jobs
            .send(Message::Wake)
            .map_err(|_| NodeError::Stopped)?;
        answer.await.map_err(|_| NodeError::Stopped)
    }

    /// [`Self::run`] for callers outside the async runtime.
    pub fn run_blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut NodeState) -> R + Send + 'static,
    ) -> Result<R, NodeError> {
        let (reply, answer) = mpsc::channel();
        let job: Job = Box::new(move |state| {
            let _ = reply.send(f(state));
        });
        self.jobs
            .send(Message::Job(job))
            .map_err(|_| NodeError::Stopped)?;
        answer.recv().map_err(|_| NodeError::Stopped)
    }
}

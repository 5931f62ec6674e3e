//! The runtime: executes plans through connectors, on a clock, recording each instance's history.
//!
//! Embedding: build an [`Engine`] with [`Engine::builder`], [`Engine::start`] instances, then
//! [`Engine::signal`], [`Engine::cancel`], [`Engine::status`], [`Engine::output`] and finally
//! [`Engine::shutdown`]. Tests use a [`VirtualClock`] so waits take no real time, and
//! [`RecordingConnector`]s to see the calls a flow makes. After a restart with a durable
//! [`Store`], [`Engine::recover`] resumes unfinished instances from their history.

mod arith;
mod clock;
mod engine;
pub(crate) mod eval;
mod event;
pub(crate) mod family;
mod forward;
mod input;
mod instance;
pub(crate) mod pacing;
mod packed;
mod recording;
mod redact;
mod retry;
mod scheduler;
mod settle;
mod store;
mod templates;
mod typed_value;

pub use clock::{Clock, Sleep, SystemClock, VirtualClock};
pub use engine::{Engine, EngineBuilder, EngineError, InstanceId};
pub use event::{has_ended, Event, EventKind};
pub use family::RetryError;
pub use forward::{Command, Forwarded};
pub(crate) use instance::root_id;
pub use instance::InstanceStatus;
pub use recording::{RecordedCall, Recording, RecordingConnector, StubAnswer, StubKey};
pub(crate) use settle::{wait_for_end, STUBBED_RUN_LIMIT};
pub use store::{Claim, Commit, InstanceRecord, MemoryStore, Store, StoreError, TimerRecord};

//! The runtime: executes plans through connectors, on a clock, recording each instance's history.
//!
//! Embedding: build an [`Engine`] with [`Engine::builder`], [`Engine::start`] instances, then
//! [`Engine::signal`], [`Engine::cancel`], [`Engine::status`], [`Engine::output`] and finally
//! [`Engine::shutdown`]. Tests use a [`VirtualClock`] so waits take no real time.

mod clock;
mod engine;
pub mod eval;
mod event;
mod input;
mod instance;
mod pacing;
mod recording;
mod retry;
mod scheduler;
mod store;
mod templates;
mod testing;

pub use clock::{Clock, Sleep, SystemClock, VirtualClock};
pub use engine::{Engine, EngineBuilder, EngineError, InstanceId};
pub use event::{Event, EventKind};
pub use instance::InstanceStatus;
pub use recording::{synthesise, RecordedCall, Recording, RecordingConnector, StubAnswer, StubKey};
pub use retry::next_delay;
pub use store::{MemoryStore, Store, TimerRecord};
pub use templates::Rendered;
pub use testing::{run_tests, subset, wait_for_end, TestReport};

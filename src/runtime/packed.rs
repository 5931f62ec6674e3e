//! The packed form of a sleeping instance's history in the memory store: its events as JSON
//! lines, compressed with LZ4. A sleeping instance's history is read once, when it wakes, so it
//! is kept small meanwhile: the 670 bytes of JSON of the runtime bench's sleeper were most of
//! what 100,000 suspended instances held (benches/runtime.rs), and compressed they take 109-110
//! MB where they took 152-159. LZ4 rather than deflate: deflate packs tighter, but its
//! compressor clears 150 KB of tables per call.

use super::event::Event;

/// `packed` (what [`pack`] made before, or nothing) followed by `events`, packed.
pub(super) fn pack<'e>(packed: &[u8], events: impl IntoIterator<Item = &'e Event>) -> Box<[u8]> {
    let mut lines = unpack_lines(packed);
    for e in events {
        // An event always serialises (its values are JSON); one that did not would be kept
        // out of the packed part rather than lost silently.
        match serde_json::to_vec(e) {
            Ok(line) => {
                lines.extend_from_slice(&line);
                lines.push(b'\n');
            }
            Err(err) => tracing::error!("cannot pack a history event: {err}"),
        }
    }
    lz4_flex::compress_prepend_size(&lines).into_boxed_slice()
}

/// The events of `packed`, in order.
pub(super) fn unpack(packed: &[u8]) -> Vec<Event> {
    unpack_lines(packed)
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect()
}

fn unpack_lines(packed: &[u8]) -> Vec<u8> {
    if packed.is_empty() {
        return Vec::new();
    }
    lz4_flex::decompress_size_prepended(packed).unwrap_or_else(|e| {
        // Only bytes `pack` made are ever here.
        tracing::error!("cannot unpack a sleeping instance's history: {e}");
        Vec::new()
    })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::{pack, unpack};
    use crate::runtime::event::{Event, EventKind};
    use crate::value::Value;

    fn event(seq: u64, kind: EventKind) -> Event {
        Event {
            seq,
            at: Utc::now(),
            kind,
        }
    }

    /// Packed, then packed again with more: every event comes back, in order, the same; and
    /// the packed form is smaller than the JSON it holds.
    #[test]
    fn events_come_back_in_order_and_smaller() {
        let first: Vec<Event> = (0..5)
            .map(|seq| {
                event(
                    seq,
                    EventKind::StepScheduled {
                        step: format!("step_{seq}").into(),
                    },
                )
            })
            .collect();
        let packed = pack(&[], &first);
        let more = vec![event(
            5,
            EventKind::Output {
                value: Value::text("done".repeat(50)).into(),
            },
        )];
        let packed = pack(&packed, &more);
        let back = unpack(&packed);
        let json = |events: &[Event]| serde_json::to_string(events).unwrap();
        let all: Vec<Event> = first.into_iter().chain(more).collect();
        assert_eq!(json(&back), json(&all));
        assert!(
            packed.len() * 2 < json(&all).len(),
            "{} bytes packed",
            packed.len()
        );
        assert!(unpack(&[]).is_empty());
    }
}

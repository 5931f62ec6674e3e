//! The host's Prometheus metrics (the `prometheus` crate does the exposition format).

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

/// The metrics of one host.
pub(crate) struct Metrics {
    registry: Registry,
    /// Webhook requests refused, by reason (`signature`, `body_too_large`, `not_json`, ...).
    pub(crate) rejections: IntCounterVec,
    /// Instances started, by flow, entity and trigger.
    pub(crate) started: IntCounterVec,
    /// Instances ended, by flow, entity and status.
    pub(crate) ended: IntCounterVec,
    /// How long instances ran, start to end, by flow.
    pub(crate) duration: HistogramVec,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)
                .unwrap_or_else(|e| unreachable!("constant metric options: {e}"));
            registry
                .register(Box::new(c.clone()))
                .unwrap_or_else(|e| unreachable!("metric registered once: {e}"));
            c
        };
        let rejections = counter(
            "flowc_webhook_rejections_total",
            "Webhook requests refused, by reason.",
            &["reason"],
        );
        let started = counter(
            "flowc_instances_started_total",
            "Instances started, by flow, entity and trigger.",
            &["flow", "entity", "trigger"],
        );
        let ended = counter(
            "flowc_instances_ended_total",
            "Instances ended, by flow, entity and status (completed, failed, cancelled).",
            &["flow", "entity", "status"],
        );
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "flowc_instance_duration_seconds",
                "Time from an instance's start to its end, by flow.",
            )
            .buckets(vec![0.01, 0.1, 1.0, 10.0, 60.0, 600.0, 3600.0, 86400.0]),
            &["flow"],
        )
        .unwrap_or_else(|e| unreachable!("constant metric options: {e}"));
        registry
            .register(Box::new(duration.clone()))
            .unwrap_or_else(|e| unreachable!("metric registered once: {e}"));
        Metrics {
            registry,
            rejections,
            started,
            ended,
            duration,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub(crate) fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!("cannot encode metrics: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

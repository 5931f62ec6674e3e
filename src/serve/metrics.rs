//! The host's Prometheus metrics (the `prometheus` crate does the exposition format), with the
//! KPIs of the journal as gauges set at each scrape.

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use super::kpi::{Kpis, Summary};

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
    kpi: KpiGauges,
}

/// The KPIs of the journal (docs/serve.md defines them), recomputed at each scrape.
struct KpiGauges {
    instances: IntGaugeVec,
    automation_rate: GaugeVec,
    error_rate: GaugeVec,
    execution: GaugeVec,
    first_message: GaugeVec,
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
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = GaugeVec::new(Opts::new(name, help), labels)
                .unwrap_or_else(|e| unreachable!("constant metric options: {e}"));
            registry
                .register(Box::new(g.clone()))
                .unwrap_or_else(|e| unreachable!("metric registered once: {e}"));
            g
        };
        let instances = IntGaugeVec::new(
            Opts::new(
                "flowc_kpi_instances",
                "Top-level instances in the journal, by flow and outcome (open, completed, unattended, failed, cancelled).",
            ),
            &["flow", "outcome"],
        )
        .unwrap_or_else(|e| unreachable!("constant metric options: {e}"));
        registry
            .register(Box::new(instances.clone()))
            .unwrap_or_else(|e| unreachable!("metric registered once: {e}"));
        let kpi = KpiGauges {
            instances,
            automation_rate: gauge(
                "flowc_kpi_automation_rate",
                "Instances completed without human intervention / instances ended, by flow.",
                &["flow"],
            ),
            error_rate: gauge(
                "flowc_kpi_error_rate",
                "Instances failed / instances ended, by flow.",
                &["flow"],
            ),
            execution: gauge(
                "flowc_kpi_execution_seconds",
                "Start to completion of completed instances, by flow and statistic (mean, p50, p95, max).",
                &["flow", "stat"],
            ),
            first_message: gauge(
                "flowc_kpi_first_message_seconds",
                "Start to the first message sent (the lead response time of lead_nurturing), by flow and statistic.",
                &["flow", "stat"],
            ),
        };
        Metrics {
            registry,
            rejections,
            started,
            ended,
            duration,
            kpi,
        }
    }

    /// The Prometheus text exposition of every metric, the KPI gauges set from `kpis`.
    pub(crate) fn render(&self, kpis: &Kpis) -> String {
        self.kpi.set(kpis);
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!("cannot encode metrics: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl KpiGauges {
    fn set(&self, kpis: &Kpis) {
        // Flows that left the journal must not keep their last figures.
        for g in [
            &self.automation_rate,
            &self.error_rate,
            &self.execution,
            &self.first_message,
        ] {
            g.reset();
        }
        self.instances.reset();
        for (flow, k) in &kpis.flows {
            for (outcome, n) in [
                ("open", k.open),
                ("completed", k.completed),
                ("unattended", k.unattended),
                ("failed", k.failed),
                ("cancelled", k.cancelled),
            ] {
                self.instances
                    .with_label_values(&[flow.as_str(), outcome])
                    .set(n as i64);
            }
            if let Some(rate) = k.automation_rate() {
                self.automation_rate.with_label_values(&[flow]).set(rate);
            }
            if let Some(rate) = k.error_rate() {
                self.error_rate.with_label_values(&[flow]).set(rate);
            }
            set_summary(&self.execution, flow, Summary::of(&k.execution));
            set_summary(&self.first_message, flow, Summary::of(&k.first_message));
        }
    }
}

fn set_summary(gauge: &GaugeVec, flow: &str, summary: Option<Summary>) {
    let Some(s) = summary else { return };
    for (stat, v) in [("mean", s.mean), ("p50", s.p50), ("p95", s.p95), ("max", s.max)] {
        gauge.with_label_values(&[flow, stat]).set(v);
    }
}

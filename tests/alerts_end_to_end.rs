//! The alert engine end to end: the pipeline with `embedding` slowed for its first 600
//! documents, on its simulated clock, notifying a real Alertmanager (Debian's
//! `prometheus-alertmanager`, started here on a loopback port and stopped by its process id),
//! a loopback webhook receiver and the log.
//!
//! In-process, the run pauses while the alert fires and Alertmanager's API lists it with its
//! labels and severity; then the run goes on, the alert resolves and Alertmanager no longer lists
//! it. As a program, the command line: the webhook gets exactly one firing and one
//! resolved notification for the alert, and both log lines are on stderr.

mod common;

use std::io::Read as _;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use instrument_runtime::alert::{AlertEngine, AlertmanagerNotifier, LogNotifier, WebhookNotifier};
use instrument_runtime::budgets::set_budgets_file;

use common::webhook::Receiver;

#[path = "../examples/pipeline/main.rs"]
#[allow(
    dead_code,
    reason = "the example's `main` and its printing are not called here"
)]
mod pipeline;

use clap::Parser as _;

const ALERT: &str = "EmbeddingTooSlow";
const SLOWED: [&str; 10] = [
    "--simulated-latency",
    "--documents",
    "1200",
    "--slow-node",
    "embedding",
    "--slow-factor",
    "3",
    "--slow-until",
    "600",
    "--seed=7",
];

/// Alertmanager, stopped (by its own process id) when dropped.
struct Alertmanager {
    child: Child,
    url: String,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Alertmanager {
    fn start() -> Self {
        let dir = common::scratch_dir("alertmanager");
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: none\nreceivers:\n  - name: none\n",
        )
        .unwrap();
        let port = common::free_port();
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // no cluster: no gossip port to collide with another test's
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "prometheus-alertmanager is needed and could not be run: run scripts/test-all, \
                     which installs it (Debian package `prometheus-alertmanager`) ({error})"
                )
            });
        let alertmanager = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let until = Instant::now() + Duration::from_secs(30);
        while !http_get(port, "/-/ready").0.contains(" 200 ") {
            assert!(Instant::now() < until, "Alertmanager did not get ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        alertmanager
    }

    fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// The alerts its API lists now with `alertname` [`ALERT`].
    fn listed(&self) -> Vec<serde_json::Value> {
        let (_, body) = http_get(self.port(), "/api/v2/alerts");
        let alerts: Vec<serde_json::Value> =
            serde_json::from_str(&body).unwrap_or_else(|error| panic!("{error}: {body}"));
        alerts
            .into_iter()
            .filter(|alert| alert["labels"]["alertname"] == ALERT)
            .collect()
    }

    /// Waits (liveness only) until `wanted` holds of the listed alerts.
    fn wait_until(&self, wanted: impl Fn(&[serde_json::Value]) -> bool) -> Vec<serde_json::Value> {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let listed = self.listed();
            if wanted(&listed) || Instant::now() > until {
                return listed;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn http_get(port: u16, path: &str) -> (String, String) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (String::new(), String::new());
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_default();
    (head.to_owned(), body.to_owned())
}

/// The webhook's notifications for [`ALERT`]: their statuses, in order.
fn statuses(receiver: &Receiver) -> Vec<String> {
    receiver
        .bodies()
        .iter()
        .filter(|body| body["alert"]["name"] == ALERT)
        .map(|body| body["status"].as_str().unwrap().to_owned())
        .collect()
}

/// Log lines, kept by the logger this test process installs.
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}", record.level(), record.args());
        LOG.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }
    fn flush(&self) {}
}

/// The log lines about [`ALERT`].
fn logged() -> Vec<String> {
    let log = LOG.lock().unwrap_or_else(PoisonError::into_inner);
    log.iter()
        .filter(|line| line.contains(ALERT))
        .cloned()
        .collect()
}

#[test]
fn alertmanager_lists_the_alert_while_it_fires_and_not_after_it_resolves() {
    static CAPTURE: Capture = Capture;
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Info);
    set_budgets_file(Some(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("performance_budgets.yaml"),
    ));
    let alertmanager = Alertmanager::start();
    let webhook = Receiver::start();

    let options = pipeline::Options::try_parse_from(["pipeline"].iter().chain(&SLOWED)).unwrap();
    let mut run = pipeline::Run::start(options);
    let engine = AlertEngine::builder()
        .notifier(LogNotifier)
        .notifier(AlertmanagerNotifier::new(&alertmanager.url).resend(Duration::from_secs(1)))
        .notifier(WebhookNotifier::new(&webhook.url));
    let mut alerts = pipeline::alerts::Alerts::start(&run, engine).unwrap();
    for document in 0..1_200 {
        run.next_document(|_, _| ());
        alerts.after_document();
        if document == 400 {
            // Mid-slowdown: the alert fired; Alertmanager lists it with its labels.
            let listed = alertmanager.wait_until(|listed| !listed.is_empty());
            assert_eq!(listed.len(), 1, "{listed:#?}");
            let labels = &listed[0]["labels"];
            assert_eq!(labels["severity"], "critical", "{labels}");
            assert_eq!(labels["node"], "embedding", "{labels}");
            assert_eq!(labels["figure"], "p95", "{labels}");
            assert_eq!(listed[0]["status"]["state"], "active", "{listed:#?}");
            let summary = listed[0]["annotations"]["summary"].as_str().unwrap();
            assert!(
                summary.starts_with("embedding too slow: p95 is "),
                "{summary}"
            );
            let until = Instant::now() + Duration::from_secs(30);
            while statuses(&webhook).is_empty() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert_eq!(statuses(&webhook), ["firing"]);
            surfaces_show_the_firing_alert();
        }
    }
    let view = alerts.finish();
    assert!(view.firing().next().is_none(), "{view:#?}");

    let listed = alertmanager.wait_until(<[_]>::is_empty);
    assert!(
        listed.is_empty(),
        "still listed after resolving: {listed:#?}"
    );
    assert_eq!(statuses(&webhook), ["firing", "resolved"]);
    let logged = logged();
    assert_eq!(logged.len(), 2, "{logged:#?}");
    assert!(
        logged[0].starts_with("ERROR FIRING CRITICAL EmbeddingTooSlow node=embedding: "),
        "{logged:#?}"
    );
    assert!(
        logged[1].starts_with("ERROR RESOLVED CRITICAL EmbeddingTooSlow node=embedding: "),
        "{logged:#?}"
    );
    let alertmanager_stats = &view.notifiers[1];
    assert_eq!(alertmanager_stats.notifier, "alertmanager");
    assert_eq!(
        (alertmanager_stats.given_up, alertmanager_stats.dropped),
        (0, 0)
    );
}

/// The snapshot (and so report.json), `/metrics` and `GET /alerts` while the alert fires.
fn surfaces_show_the_firing_alert() {
    let snapshot = instrument_runtime::snapshot();
    assert!(
        snapshot.alerts.firing().any(|alert| alert.name == ALERT),
        "{:#?}",
        snapshot.alerts
    );
    let json = serde_json::to_value(&snapshot).unwrap();
    assert!(
        json["alerts"]["active"]
            .as_array()
            .unwrap()
            .iter()
            .any(|alert| alert["name"] == ALERT)
    );
    let text = instrument_runtime::export::prometheus_text(
        &snapshot,
        &instrument_runtime::check_budgets(&snapshot),
        &instrument_runtime::export::ExportOptions::default(),
    );
    let series = "instrument_alerts{alertname=\"EmbeddingTooSlow\",alertstate=\"firing\",\
                  figure=\"p95\",node=\"embedding\",severity=\"critical\"} 1\n";
    assert!(text.contains(series), "{text}");
    assert!(text.contains(
        "instrument_alert_notifications_total{notifier=\"alertmanager\",outcome=\"sent\"} "
    ));
    #[cfg(feature = "http")]
    {
        let server = instrument_runtime::serve_metrics("127.0.0.1:0").unwrap();
        let (head, body) = http_get(server.local_addr().port(), "/alerts");
        assert!(head.contains(" 200 "), "{head}");
        let view: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            view["active"]
                .as_array()
                .unwrap()
                .iter()
                .any(|alert| alert["name"] == ALERT),
            "{body}"
        );
    }
}

#[test]
fn the_pipeline_command_notifies_the_webhook_once_each_way_and_logs_both() {
    let alertmanager = Alertmanager::start();
    let webhook = Receiver::start();
    let output = common::pipeline_command(&SLOWED)
        .env("INSTRUMENT_ALERTMANAGER_URL", &alertmanager.url)
        .env("INSTRUMENT_ALERT_WEBHOOK_URL", &webhook.url)
        .env_remove("INSTRUMENT_ALERT_INTERVAL_MS")
        .env(
            "INSTRUMENT_BUDGETS",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("performance_budgets.yaml"),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    // The program delivered before it exited: nothing left to wait for.
    assert_eq!(statuses(&webhook), ["firing", "resolved"]);
    let lines: Vec<&str> = stderr.lines().filter(|line| line.contains(ALERT)).collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with(
            "ERROR instrument::alert: FIRING CRITICAL EmbeddingTooSlow node=embedding"
        ),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with(
            "ERROR instrument::alert: RESOLVED CRITICAL EmbeddingTooSlow node=embedding"
        ),
        "{stderr}"
    );
    assert!(stdout.contains(" resolved, 0 still firing ("), "{stdout}");
    assert!(
        alertmanager.listed().is_empty(),
        "{:#?}",
        alertmanager.listed()
    );
}

//! `flowc run --emulate`: everything a run talks to, in this process. The Notion emulator holds
//! the project's databases (from the schema file, with flowc.toml's ids) and its demo pages
//! (`notion/seed.json` when present), the Typeform emulator answers the survey connector, and
//! email goes to an outbox folder as `.eml` files instead of an SMTP server.
//!
//! `--emulator URL` points the same connectors at a `flowc emulate` process instead (see
//! `emulator.rs`), email included: it goes to that process's SMTP server.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::CliError;
use crate::connectors::faults::FaultGate;
use crate::connectors::notification::Notifications;
use crate::connectors::notion::emulator::Emulator;
use crate::connectors::notion::schema::NotionSchemas;
use crate::connectors::slack::emulator::SlackEmulator;
use crate::connectors::sms::emulator::TwilioEmulator;
use crate::connectors::survey::emulator::TypeformEmulator;
use crate::connectors::{email, http, notion, slack, sms, survey, Connector};
use crate::project::Project;

/// The environment variable the survey connector reads the emulated Typeform token from.
pub(crate) const TYPEFORM_TOKEN_ENV: &str = "FLOWC_EMULATED_TYPEFORM_TOKEN";
pub(crate) const TYPEFORM_TOKEN: &str = "tfp_emulated";
/// Where a `flowc emulate` process says where its services are (JSON: `notion`, `typeform`, `smtp`,
/// `twilio`, `slack`).
pub(crate) const DISCOVERY_PATH: &str = "/flowc/emulator";
/// The outbox folder, relative to the project root, unless `--outbox` says otherwise.
pub(crate) const DEFAULT_OUTBOX: &str = ".flowc/outbox";
/// Where demo pages live, next to the default schema file.
const SEED_FILE: &str = "notion/seed.json";

/// The emulators of one run; they stop when it is dropped.
pub(crate) struct Emulated {
    notion: Emulator,
    typeform: TypeformEmulator,
    /// Twilio and Slack: their messages go to `sms/` and `slack/` in the outbox.
    twilio: TwilioEmulator,
    slack: SlackEmulator,
    /// This run's outbox folder.
    pub(crate) outbox: PathBuf,
    /// Demo pages loaded from the seed file, and the file.
    seeded: Option<(usize, PathBuf)>,
    /// Where the emulators keep their data: a state folder (kept), or a folder of this process
    /// for the survey idempotency records only (removed when the run ends: a new emulator knows
    /// no earlier form).
    kept_in: Result<PathBuf, PathBuf>,
    /// Stops the server of emulators kept in a state folder.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// The SMTP part of a fault plan, applied by the email outbox.
    smtp_faults: Option<Arc<FaultGate>>,
}

/// The emulated token of `entity`'s Notion workspace.
fn notion_token(entity: &str) -> String {
    format!("secret_emulated_{entity}")
}

/// Each entity of the project with its emulated Notion token.
pub(crate) fn workspace_tokens(project: &Project) -> Vec<(String, String)> {
    project
        .config
        .entities
        .keys()
        .map(|e| (e.clone(), notion_token(e)))
        .collect()
}

/// The project's Notion schema (from the schema file), or none with a warning saying how to get it.
pub(crate) fn project_schemas(project: &Project) -> Result<NotionSchemas, CliError> {
    let schema_path = project.root.join(
        project
            .config
            .project
            .notion_schema
            .clone()
            .unwrap_or_else(|| PathBuf::from(notion::DEFAULT_SCHEMA_PATH)),
    );
    if schema_path.is_file() {
        return NotionSchemas::load(&schema_path).map_err(CliError::Io);
    }
    errln!(
        "warning: no Notion schema at {}: the emulated workspaces have no databases",
        schema_path.display()
    );
    errln!("help: run `flowc notion pull` to save the schema of the real workspaces");
    Ok(NotionSchemas::default())
}

/// The project's demo pages file, when there is one.
pub(crate) fn seed_file(project: &Project) -> Option<PathBuf> {
    Some(project.root.join(SEED_FILE)).filter(|p| p.is_file())
}

/// Where email goes in an emulated run.
enum Mail<'a> {
    /// `.eml` files in this folder; no SMTP server.
    Outbox(&'a Path),
    /// This SMTP server, with the sent log in this folder (None: the project's setting).
    Smtp(&'a str, Option<PathBuf>),
}

/// Points `config`'s Notion, survey and email connectors at emulators; survey's created-forms
/// log goes to `survey_state`.
fn point_at(
    config: &mut crate::config::Config,
    notion_url: &str,
    typeform_url: &str,
    mail: Mail,
    survey_state: &Path,
) {
    let text = |s: &str| toml::Value::String(s.to_string());
    let path_text = |p: &Path| toml::Value::String(p.to_string_lossy().into_owned());
    let notion_table = config.connectors.entry("notion".into()).or_default();
    notion_table.insert("base_url".into(), text(notion_url));
    // The emulator enforces no rate limit, so local runs need not pace themselves like Notion.
    notion_table.insert("requests_per_second".into(), toml::Value::Float(1000.0));
    notion_table.insert("burst".into(), toml::Value::Integer(1000));
    let mail_table = match mail {
        // Only the outbox: no SMTP server, no sender log (the outbox file is the record).
        Mail::Outbox(outbox) => toml::Table::from_iter([("outbox".to_string(), path_text(outbox))]),
        Mail::Smtp(url, sent_log) => {
            let mut table = config.connectors.get("email").cloned().unwrap_or_default();
            for key in ["outbox", "username_env", "password_env", "ca_file"] {
                table.remove(key);
            }
            table.insert("url".into(), text(url));
            if let Some(dir) = sent_log {
                table.insert("sent_log".into(), path_text(&dir));
            }
            table
        }
    };
    config.connectors.insert("email".into(), mail_table);
    let survey_table = config.connectors.entry("survey".into()).or_default();
    survey_table.insert("base_url".into(), text(typeform_url));
    survey_table.insert("token_env".into(), text(TYPEFORM_TOKEN_ENV));
    survey_table.insert("created_log".into(), path_text(survey_state));
    survey_table.remove("workspace_href");
}

/// Points `project` at the `flowc emulate` process at `url` (asking it where its services are)
/// and builds the connectors. With a `state` folder, the email sent log and the survey
/// created-forms log are kept there, so a restart on that folder knows what was sent.
pub(crate) async fn remote(
    project: &mut Project,
    url: &str,
    state: Option<&Path>,
) -> Result<Vec<Arc<dyn Connector>>, CliError> {
    let base = url.trim_end_matches('/');
    let unreachable = |e: String| {
        CliError::Usage(format!(
            "cannot reach the emulator at {base}: {e} (start one with `flowc emulate --state DIR`)"
        ))
    };
    let services: serde_json::Value = reqwest::get(format!("{base}{DISCOVERY_PATH}"))
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| unreachable(e.to_string()))?
        .json()
        .await
        .map_err(|e| unreachable(format!("its answer is not the emulator's ({e})")))?;
    let service = |name: &str| {
        services[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| unreachable(format!("its answer names no `{name}` service")))
    };
    let (notion_url, typeform_url, smtp_url) = (service("notion")?, service("typeform")?, service("smtp")?);
    let state = state
        .map(std::path::absolute)
        .transpose()
        .map_err(|e| CliError::Io(format!("cannot use the state folder: {e}")))?;
    let survey_state = match &state {
        Some(dir) => dir.join("survey"),
        None => project.root.join(".flowc/survey"),
    };
    let mail = Mail::Smtp(&smtp_url, state.as_ref().map(|dir| dir.join("email")));
    point_at(
        &mut project.config,
        &notion_url,
        &typeform_url,
        mail,
        &survey_state,
    );
    errln!("emulated Notion and Typeform at {notion_url}, SMTP at {smtp_url}");
    // Text messages and Slack posts go to the emulator too; their sent logs are kept with the
    // rest of the state, so a restarted host does not send twice.
    let kept = |name: &str| match &state {
        Some(dir) => dir.join(name),
        None => project.root.join(".flowc").join(name),
    };
    let (twilio_url, slack_url) = (service("twilio")?, service("slack")?);
    sms::emulator::point_at(&mut project.config, &twilio_url, &kept("sms"));
    slack::emulator::point_at(&mut project.config, &slack_url, &kept("slack"));
    errln!("emulated Twilio at {twilio_url}, Slack at {slack_url}");
    connectors(project, None)
}

impl Emulated {
    /// Starts the emulators and points `project`'s configuration at them; messages of this run
    /// go to a folder of their own in `outbox_root`. With `keep_in` (a state folder), Notion's
    /// pages and Typeform's forms are kept there (`notion/`, `typeform/`, `survey/`), so the
    /// next run or resume on that folder finds them; else they go with the process.
    pub(crate) async fn start(
        project: &mut Project,
        outbox_root: &Path,
        run_name: &str,
        keep_in: Option<&Path>,
    ) -> Result<Emulated, CliError> {
        let schemas = project_schemas(project)?;
        let tokens = workspace_tokens(project);
        let token_refs: Vec<(&str, &str)> = tokens.iter().map(|(e, t)| (e.as_str(), t.as_str())).collect();
        let io =
            |what: &str, e: std::io::Error| CliError::Io(format!("cannot start the {what} emulator: {e}"));
        let seed_path = seed_file(project);
        let (notion_emulator, typeform, seeded, stop) = match keep_in {
            None => {
                let notion_emulator = Emulator::start_for(&schemas, &token_refs, &project.config)
                    .await
                    .map_err(|e| io("Notion", e))?;
                if let Some(path) = &seed_path {
                    notion_emulator.seed_file(path).map_err(CliError::Usage)?;
                }
                let typeform = TypeformEmulator::start(TYPEFORM_TOKEN)
                    .await
                    .map_err(|e| io("Typeform", e))?;
                (notion_emulator, typeform, seed_path, None)
            }
            Some(dir) => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(|e| io("Notion", e))?;
                let addr = listener.local_addr().map_err(|e| io("Notion", e))?;
                let (notion_emulator, restored) = Emulator::persistent(
                    &schemas,
                    &token_refs,
                    &project.config,
                    &dir.join("notion"),
                    seed_path.as_deref(),
                    addr,
                )
                .map_err(CliError::Io)?;
                let typeform = TypeformEmulator::persistent(TYPEFORM_TOKEN, &dir.join("typeform"), addr)
                    .map_err(|e| io("Typeform", e))?;
                let router = typeform.router().merge(notion_emulator.router());
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                tokio::spawn(async move {
                    let _ = axum::serve(listener, router)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                });
                let seeded = if restored { None } else { seed_path };
                (notion_emulator, typeform, seeded, Some(stop))
            }
        };
        let seeded = seeded.map(|path| (count_pages(&path), path));

        let sids = sms::emulator::emulated_accounts(project.config.entities.keys().map(String::as_str));
        let accounts: Vec<(&str, &str)> = sids
            .iter()
            .map(|(_, sid)| (sid.as_str(), sms::emulator::EMULATED_TOKEN))
            .collect();
        let twilio = TwilioEmulator::start(&accounts)
            .await
            .map_err(|e| io("Twilio", e))?;
        let slack = SlackEmulator::start(&[slack::emulator::EMULATED_TOKEN])
            .await
            .map_err(|e| io("Slack", e))?;
        let outbox = outbox_root.join(run_name);
        let kept_in = match keep_in {
            Some(dir) => Ok(dir.to_path_buf()),
            None => {
                Err(std::env::temp_dir().join(format!("flowc-emulate-{}-{run_name}", std::process::id())))
            }
        };
        let survey_state = match &kept_in {
            Ok(dir) | Err(dir) => dir.join("survey"),
        };
        point_at(
            &mut project.config,
            &notion_emulator.base_url(),
            &typeform.base_url(),
            Mail::Outbox(&outbox),
            &survey_state,
        );
        let (Ok(state) | Err(state)) = &kept_in;
        sms::emulator::point_at(&mut project.config, &twilio.base_url(), &state.join("sms"));
        slack::emulator::point_at(&mut project.config, &slack.base_url(), &state.join("slack"));
        twilio.keep_in(outbox.join("sms"));
        slack.keep_in(outbox.join("slack"));
        Ok(Emulated {
            notion: notion_emulator,
            typeform,
            twilio,
            slack,
            outbox,
            seeded,
            kept_in,
            stop,
            smtp_faults: None,
        })
    }

    /// Applies a fault plan: Notion, Typeform, Twilio and Slack from now on, email in the
    /// connectors made next.
    pub(crate) fn rehearse(&mut self, faults: &super::faults::Rehearsal) {
        if let Some(gate) = faults.gate("notion") {
            self.notion.set_faults(gate);
        }
        if let Some(gate) = faults.gate("typeform") {
            self.typeform.set_faults(gate);
        }
        if let Some(gate) = faults.gate("twilio") {
            self.twilio.set_faults(gate);
        }
        if let Some(gate) = faults.gate("slack") {
            self.slack.set_faults(gate);
        }
        self.smtp_faults = faults.gate("smtp");
        faults.announce();
    }

    /// The connectors of an emulated run (see [`connectors`]), email failing as the fault
    /// plan's SMTP part says.
    pub(crate) fn connectors(&self, project: &Project) -> Result<Vec<Arc<dyn Connector>>, CliError> {
        connectors(project, self.smtp_faults.as_ref())
    }

    /// The Notion emulator.
    pub(crate) fn notion(&self) -> &Emulator {
        &self.notion
    }

    /// Says on stderr what the run talks to.
    pub(crate) fn announce(&self) {
        errln!("emulated Notion at {}", self.notion.base_url());
        match (&self.seeded, &self.kept_in) {
            (Some((n, path)), _) => errln!("  with {n} demo pages from {}", path.display()),
            (None, Ok(dir)) => errln!("  with the pages kept in {}", dir.display()),
            (None, Err(_)) => errln!("  with empty databases (add demo pages in {SEED_FILE})"),
        }
        errln!("emulated Typeform at {}", self.typeform.base_url());
        errln!("email goes to the outbox {}", self.outbox.display());
        errln!(
            "emulated Twilio at {} and Slack at {}: messages go to sms/ and slack/ in the outbox",
            self.twilio.base_url(),
            self.slack.base_url()
        );
    }

    /// The messages written to the outbox so far.
    pub(crate) fn messages(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.outbox)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files
    }
}

/// Each entity's Notion token variable with the emulated token it holds in emulated runs.
pub(crate) fn emulated_notion_env(
    config: &crate::config::Config,
) -> std::collections::HashMap<String, String> {
    config
        .entities
        .iter()
        .filter_map(|(name, e)| e.notion_token_env.clone().map(|env| (env, notion_token(name))))
        .collect()
}

/// Where an emulated run keeps its notification ledger: beside the sms sent log that
/// [`sms::emulator::point_at`] chose (the state folder, or the project's `.flowc`).
fn notification_ledger(config: &crate::config::Config, root: &Path) -> PathBuf {
    let sms_log = config
        .connectors
        .get("sms")
        .and_then(|t| t.get("sent_log"))
        .and_then(|v| v.as_str());
    match sms_log {
        Some(log) => root.join(log).with_file_name("notifications"),
        None => root.join(".flowc").join("notifications"),
    }
}

/// The connectors of an emulated run: Notion, survey and email as [`point_at`] set them up
/// (email's outbox failing as `smtp_faults` says); http as configured (its allow-list still
/// applies).
fn connectors(
    project: &Project,
    smtp_faults: Option<&Arc<FaultGate>>,
) -> Result<Vec<Arc<dyn Connector>>, CliError> {
    let (config, root) = (&project.config, project.root.as_path());
    let env = emulated_notion_env(config);
    let setup = |what: &str, e: String| CliError::Usage(format!("cannot set up the {what} connector: {e}"));
    let notion = notion::NotionConnector::from_config_with_env(config, move |name| env.get(name).cloned())
        .map_err(|e| setup("notion", e.to_string()))?
        .with_grants(crate::connectors::Grants::from_project(project));
    // One notification ledger for the channels, kept beside their sent logs.
    let notifications = Notifications::new(&notification_ledger(config, root));
    let mut email = email::EmailConnector::from_config(config, root)
        .map_err(|e| setup("email", e.message))?
        .with_notifications(notifications.clone());
    if let Some(gate) = smtp_faults {
        email = email.with_faults(gate.clone());
    }
    let survey =
        survey::SurveyConnector::from_config(config, root).map_err(|e| setup("survey", e.message))?;
    let http = http::HttpConnector::from_config(config, root).map_err(|e| setup("http", e.message))?;
    let emulated = |name: &'static str, token: &'static str| {
        move |n: &str| {
            if n == name {
                Some(token.to_string())
            } else {
                std::env::var(n).ok()
            }
        }
    };
    let sms = sms::SmsConnector::from_config_with_env(
        config,
        root,
        emulated(sms::emulator::EMULATED_TOKEN_ENV, sms::emulator::EMULATED_TOKEN),
    )
    .map_err(|e| setup("sms", e.message))?
    .with_notifications(notifications.clone());
    let slack = slack::SlackConnector::from_config_with_env(
        config,
        root,
        emulated(
            slack::emulator::EMULATED_TOKEN_ENV,
            slack::emulator::EMULATED_TOKEN,
        ),
    )
    .map_err(|e| setup("slack", e.message))?
    .with_notifications(notifications.clone());
    Ok(vec![
        Arc::new(sms),
        Arc::new(slack),
        Arc::new(notion),
        Arc::new(email),
        Arc::new(survey),
        Arc::new(http),
    ])
}

impl Drop for Emulated {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Err(temporary) = &self.kept_in {
            let _ = std::fs::remove_dir_all(temporary);
        }
    }
}

/// How many pages a seed file lists (it was just loaded, so it is valid).
fn count_pages(path: &Path) -> usize {
    let Ok(text) = std::fs::read_to_string(path) else {
        return 0;
    };
    let Ok(seed) = serde_json::from_str::<serde_json::Value>(&text) else {
        return 0;
    };
    seed["entities"]
        .as_object()
        .into_iter()
        .flat_map(|e| e.values())
        .filter_map(|dbs| dbs.as_object())
        .flat_map(|dbs| dbs.values())
        .filter_map(|pages| pages.as_array())
        .map(Vec::len)
        .sum()
}

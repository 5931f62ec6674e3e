//! `flowc init [DIR]`: a new project that checks, formats and tests clean at once: `flowc.toml`,
//! one entity, one flow with its tests, and a placeholder of the Notion schema.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::CliError;

/// Arguments of `flowc init`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The project's folder, created if missing (default: the current folder). It must not hold
    /// a `flowc.toml` yet.
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// The entity every scaffolded file names.
const ENTITY: &str = "my_business";

const CONFIG: &str = r#"# flowc project configuration: what is not logic (database ids, secret names, connector
# settings). Secrets are never written here, only the names of the environment variables that
# hold them.

[project]
name = "{name}"
# The folders holding the project's .flow files.
sources = ["flows"]
# The Notion databases' properties, which `flowc check` checks flows against. The file holds a
# placeholder until `flowc notion pull` writes the real one.
notion_schema = "notion/schema.json"

[entities.my_business]
# The environment variable holding the Notion integration token of this business's workspace.
notion_token_env = "NOTION_TOKEN_MY_BUSINESS"
email_from = "My Business <hello@my-business.example>"
reply_to = "team@my-business.example"

[entities.my_business.databases]
# A placeholder: the id of your Contacts database (the 32 hex digits of its Notion URL).
Contacts = "00000000000000000000000000000001"
"#;

const ENTITIES: &str = r#"/// The business these automations work for: its Notion databases and its sender address are
/// set in flowc.toml.
entity my_business "My Business" {
  databases Contacts

  // Who hears about problems an automation cannot solve alone.
  setting staff_email = "team@my-business.example"
}
"#;

const WELCOME: &str = r#"/// Welcomes a new contact: finds them in Contacts (or adds them), and emails a welcome to
/// someone new.
flow welcome for my_business {
  on manual
  input { email: email, name: text }

  /// The contact, found by email or created.
  step contact = notion.find_or_create(
    db: Contacts,
    match: { Email: input.email },
    properties: { Name: input.name },
  )

  if contact.created {
    /// The welcome email, only to someone new.
    step welcome_sent = email.send(to: input.email, template: "welcome", with: { name: input.name })
  }

  output { contact_id: contact.id, welcomed: welcome_sent != none }
}

template welcome {
  subject "Welcome, {{name}}"
  text "Hello {{name}}, thank you for getting in touch: we will reply within a day."
}

test "a new contact is welcomed" for welcome {
  input { email: "maya@example.com", name: "Maya" }
  stub notion.find_or_create returns {
    id: "contact-1",
    url: "https://www.notion.so/contact-1",
    created: true,
  }
  stub email.send returns { message_id: "m-1" }
  expect output.welcomed == true
  expect call email.send 1 times with { to: "maya@example.com", template: "welcome" }
}

test "a known contact is not welcomed again" for welcome {
  input { email: "maya@example.com", name: "Maya" }
  stub notion.find_or_create returns {
    id: "contact-1",
    url: "https://www.notion.so/contact-1",
    created: false,
  }
  expect output.welcomed == false
  expect no call email.send
}
"#;

const SCHEMA: &str = r#"{
  "entities": {
    "my_business": {
      "Contacts": {
        "properties": {
          "Name": {
            "type": "title"
          },
          "Email": {
            "type": "email"
          }
        }
      }
    }
  }
}
"#;

const GITIGNORE: &str = "# flowc's local state: emulator outboxes, run journals.\n.flowc/\n";

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    let dir = &args.dir;
    if dir.join("flowc.toml").exists() {
        return Err(CliError::Usage(format!(
            "`{}` already holds a flowc project (flowc.toml); nothing was written",
            dir.join("flowc.toml").display()
        )));
    }
    let name = project_name(dir);
    let files: [(&str, String); 5] = [
        ("flowc.toml", CONFIG.replace("{name}", &name)),
        ("flows/entities.flow", ENTITIES.to_string()),
        ("flows/welcome.flow", WELCOME.to_string()),
        ("notion/schema.json", SCHEMA.to_string()),
        (".gitignore", GITIGNORE.to_string()),
    ];
    // Nothing is overwritten: a file in the way stops the command before anything is written.
    if let Some((path, _)) = files.iter().find(|(path, _)| dir.join(path).exists()) {
        return Err(CliError::Usage(format!(
            "`{}` already exists; nothing was written",
            dir.join(path).display()
        )));
    }
    for (path, text) in &files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| CliError::Io(format!("cannot create `{}`: {e}", parent.display())))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| CliError::Io(format!("cannot write `{}`: {e}", path.display())))?;
        outln!("created {}", path.display());
    }
    let cd = if dir == Path::new(".") {
        String::new()
    } else {
        format!("cd {} && ", dir.display())
    };
    outln!();
    outln!("next: {cd}flowc check && flowc test");
    outln!("then: set {ENTITY}'s database ids in flowc.toml and run `flowc notion pull`");
    Ok(ExitCode::SUCCESS)
}

/// The folder's name, as the project's name (`my-project` when it has none, such as `/`).
fn project_name(dir: &Path) -> String {
    std::path::absolute(dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| !n.is_empty())
        .map(|n| n.replace('"', ""))
        .unwrap_or_else(|| "my-project".to_string())
}

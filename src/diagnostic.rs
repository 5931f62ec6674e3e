//! Diagnostics: what the checker says about a `.flow` file, with stable codes, spans and help.
//!
//! Every pass pushes into [`Diagnostics`] and carries on; nothing returns early, so one run shows
//! every mistake. Each [`Code`] has a page in `docs/diagnostics/` (wrong and right example), which
//! `flowc explain CODE` prints and a test keeps honest.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

use crate::syntax::{line_col, Span};

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The flow cannot be compiled.
    Error,
    /// Probably a mistake; `--deny-warnings` makes it fail CI.
    Warning,
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $slug:literal, $severity:ident; )*) => {
        /// A stable diagnostic code. Codes are never reused or renumbered.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in order.
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The code as printed (`E0201`).
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $code, )* }
            }

            /// A short name (`unknown-name`).
            pub fn slug(self) -> &'static str {
                match self { $( Code::$variant => $slug, )* }
            }

            /// The severity diagnostics with this code have.
            pub fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$severity, )* }
            }

            /// The docs page of this code (`docs/diagnostics/E0201.md`).
            pub fn explanation(self) -> &'static str {
                match self { $( Code::$variant => include_str!(concat!("../docs/diagnostics/", $code, ".md")), )* }
            }
        }
    };
}

codes! {
    /// The text does not follow the grammar.
    SyntaxError = "E0100", "syntax-error", Error;
    /// A duration with an unknown unit or form (`5x`, `2days`, `1.5h`).
    InvalidDuration = "E0101", "invalid-duration", Error;
    /// `{{ }}` interpolation in a string that must be a plain name.
    InterpolationNotAllowed = "E0102", "interpolation-not-allowed", Error;
    /// A `{`, `(`, `[` or string left open.
    UnclosedDelimiter = "E0103", "unclosed-delimiter", Error;
    /// A `}`, `)` or `]` that closes nothing, or not what was opened before it.
    MismatchedCloser = "E0104", "mismatched-closer", Error;
    /// A `#` comment (comments are written `//`).
    HashComment = "E0105", "hash-comment", Error;
    /// A string in single quotes (strings are written in double quotes).
    SingleQuotes = "E0106", "single-quotes", Error;
    /// An operator from another language: `&&`, `||`, `!`, `=` or `===` to compare.
    ForeignOperator = "E0107", "foreign-operator", Error;
    /// A word from another language: `elif`, `True`, `False`, `null`, `None`, `nil`.
    ForeignWord = "E0108", "foreign-word", Error;
    /// A misspelt keyword (`stpe`, `retyr`, `fallbak`).
    MisspeltKeyword = "E0109", "misspelt-keyword", Error;
    /// A missing `,` between arguments, fields or items, or `:` after a name.
    MissingSeparator = "E0110", "missing-separator", Error;
    /// Text without quotes where a string is expected (a path, an event, an option value).
    UnquotedText = "E0111", "unquoted-text", Error;
    /// A file that is not valid UTF-8.
    InvalidUtf8 = "E0112", "invalid-utf8", Error;
    /// A whole number literal beyond the 64-bit integers (it would silently lose digits).
    NumberTooLarge = "E0113", "number-too-large", Error;
    /// A name declared twice in the same scope.
    DuplicateName = "E0200", "duplicate-name", Error;
    /// A name used in an expression that nothing declares.
    UnknownName = "E0201", "unknown-name", Error;
    /// A field that the record (input, step result, record literal) does not have.
    UnknownField = "E0202", "unknown-field", Error;
    /// An entity that the project does not declare.
    UnknownEntity = "E0203", "unknown-entity", Error;
    /// A database the entity does not declare.
    UnknownDatabase = "E0204", "unknown-database", Error;
    /// A connector that is not registered.
    UnknownConnector = "E0205", "unknown-connector", Error;
    /// An action the connector does not have.
    UnknownAction = "E0206", "unknown-action", Error;
    /// An argument the action or sub-flow does not take.
    UnknownArgument = "E0207", "unknown-argument", Error;
    /// A required argument that the call does not give.
    MissingArgument = "E0208", "missing-argument", Error;
    /// A notification template that no `template` declares.
    UnknownTemplate = "E0209", "unknown-template", Error;
    /// A sub-flow that does not exist.
    UnknownFlow = "E0210", "unknown-flow", Error;
    /// A `use` path with no file behind it.
    UnknownModule = "E0211", "unknown-module", Error;
    /// A built-in function that does not exist.
    UnknownFunction = "E0212", "unknown-function", Error;
    /// A type name that does not exist.
    UnknownType = "E0213", "unknown-type", Error;
    /// An error class other than transient, rate_limited, permanent.
    UnknownErrorClass = "E0214", "unknown-error-class", Error;
    /// A step name (in `after`, a stub or an expectation) that the flow does not have.
    UnknownStep = "E0215", "unknown-step", Error;
    /// A value of the wrong type.
    TypeMismatch = "E0300", "type-mismatch", Error;
    /// A built-in function called with the wrong number of arguments.
    WrongArity = "E0301", "wrong-arity", Error;
    /// A value that may be none (a step that may not have run, an optional field) where none fails.
    MaybeNone = "E0302", "maybe-none", Error;
    /// A step or let of a fan-out used outside the fan-out's block.
    OutsideFanOut = "E0303", "outside-fan-out", Error;
    /// Text where an email address is expected, or a literal that is not a valid address.
    NotAnEmail = "E0304", "not-an-email", Error;
    /// A `format_date` format with a specifier that does not exist (`%Q`).
    InvalidDateFormat = "E0305", "invalid-date-format", Error;
    /// A step or let of the body read in `on error` that the failure may have left without a value.
    UnsetInHandler = "E0306", "unset-in-handler", Error;
    /// A step or let of a fallback block used outside that block.
    OutsideFallback = "E0307", "outside-fallback", Error;
    /// A literal phone number (`to:` of `sms.send`) that is not in E.164 form.
    NotAPhoneNumber = "E0309", "not-a-phone-number", Error;
    /// Steps that depend on each other in a loop.
    DependencyCycle = "E0400", "dependency-cycle", Error;
    /// `yield` outside a fallback or fan-out block, or such a block without one.
    MisplacedYield = "E0401", "misplaced-yield", Error;
    /// The same policy twice on one step.
    DuplicatePolicy = "E0402", "duplicate-policy", Error;
    /// A policy value that cannot work (`retry 0`, backoff min above max, `concurrency 0`).
    InvalidPolicy = "E0403", "invalid-policy", Error;
    /// Two flows listening on the same webhook path, or a path that does not start with `/`.
    InvalidWebhook = "E0404", "invalid-webhook", Error;
    /// A handlebars template that does not parse.
    TemplateSyntax = "E0500", "template-syntax", Error;
    /// A template variable that the step's `with:` record does not provide.
    TemplateVariable = "E0501", "template-variable", Error;
    /// A template without a subject or without a text part.
    TemplateIncomplete = "E0502", "template-incomplete", Error;
    /// Reading or writing another entity's database without its grant.
    MissingGrant = "E0600", "missing-grant", Error;
    /// An `entity:` argument whose possible entities cannot be known before running.
    DynamicEntity = "E0601", "dynamic-entity", Error;
    /// `secret(...)` of a name not declared for the flow's entity, or not written literally.
    SecretAccess = "E0602", "secret-access", Error;
    /// A cron expression that does not parse.
    InvalidCron = "E0700", "invalid-cron", Error;
    /// A time zone that is not in the IANA database.
    UnknownTimezone = "E0701", "unknown-timezone", Error;
    /// A Notion property the database's pulled schema does not have.
    UnknownProperty = "E0800", "unknown-property", Error;
    /// A value of the wrong type for a Notion property.
    PropertyType = "E0801", "property-type", Error;
    /// A select, multi-select or status option the property does not have.
    UnknownOption = "E0802", "unknown-option", Error;
    /// A Typeform field ref that no survey template (stdlib/surveys) has.
    UnknownSurveyRef = "E0803", "unknown-survey-ref", Error;
    /// `flowc.toml` is not valid TOML.
    ConfigSyntax = "E0900", "config-syntax", Error;
    /// A key or table of `flowc.toml` that flowc does not know (a typo, usually).
    UnknownConfigKey = "E0901", "unknown-config-key", Error;
    /// A value of `flowc.toml` of the wrong kind or not among those its key takes.
    InvalidConfigValue = "E0902", "invalid-config-value", Error;
    /// A duration in `flowc.toml` not written as in `.flow` files (`"30s"`).
    ConfigDuration = "E0903", "config-duration", Error;
    /// A step without side effects whose result nothing uses.
    UnusedResult = "W0001", "unused-result", Warning;
    /// Code that can never run.
    UnreachableCode = "W0002", "unreachable-code", Warning;
    /// A secret (token, password, API key) written as a literal instead of read from the environment.
    SecretLiteral = "W0003", "secret-literal", Warning;
    /// A `let` or input field that nothing uses.
    UnusedName = "W0004", "unused-name", Warning;
    /// `wait for event` without a `timeout`: the instance may wait forever.
    WaitWithoutTimeout = "W0005", "wait-without-timeout", Warning;
    /// `{{{raw}}}` in a template: the value goes into the HTML unescaped.
    RawHtml = "W0006", "raw-html", Warning;
    /// A template's `sms` part renders over one segment (160 GSM-7 characters, 70 UCS-2) for its example values.
    LongSms = "W0007", "long-sms", Warning;
}

impl Code {
    /// Whether it reports text that does not parse as written (the E01xx codes).
    pub fn is_syntax(self) -> bool {
        self.as_str().starts_with("E01")
    }

    /// The code written as `E0201`, case-insensitively.
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(text) || c.slug() == text)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secondary label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What it says about that place.
    pub message: String,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code.
    pub code: Code,
    /// Error or warning (from the code).
    pub severity: Severity,
    /// The file, as an index into the project's sources.
    pub file: FileId,
    /// The message: lowercase start, no trailing period, names in backticks.
    pub message: String,
    /// The exact place.
    pub span: Span,
    /// What the primary label says (defaults to nothing).
    pub label: Option<String>,
    /// Other places that explain this one.
    pub secondary: Vec<Label>,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with `code` at `span` of `file`.
    pub fn new(code: Code, file: FileId, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity(),
            file,
            message: message.into(),
            span,
            label: None,
            secondary: Vec::new(),
            help: None,
        }
    }

    /// Sets the primary label.
    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Adds a secondary label.
    pub fn with(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Sets the help line.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Index of a source file in [`Sources`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A loaded source file.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path as the user gave it (or as found under the project root).
    pub path: PathBuf,
    /// The text.
    pub text: Arc<str>,
}

/// The source files of a run, so diagnostics can be rendered.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// An empty set.
    pub fn new() -> Sources {
        Sources::default()
    }

    /// Adds a file and returns its id.
    pub fn add(&mut self, path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> FileId {
        self.files.push(SourceFile {
            path: path.into(),
            text: text.into(),
        });
        FileId(self.files.len() as u32 - 1)
    }

    /// The file `id`.
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// Every file with its id.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i as u32), f))
    }
}

/// The diagnostics of a run, in the order found; [`Diagnostics::sorted`] orders them by place.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// No diagnostics.
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    /// Records one.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Records many.
    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(other);
    }

    /// Whether any is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.items.len() - self.errors()
    }

    /// All of them, in the order found.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Number of diagnostics.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sorted by file, then position, then code; exact duplicates removed.
    pub fn sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort_by(|a, b| {
            (a.file, a.span.start, a.span.end, a.code).cmp(&(b.file, b.span.start, b.span.end, b.code))
        });
        self.items.dedup();
        self.items
    }

    /// Keeps only the diagnostics `keep` accepts.
    pub fn retain(&mut self, keep: impl FnMut(&Diagnostic) -> bool) {
        self.items.retain(keep);
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// How to render diagnostics for people.
#[derive(Clone, Copy, Debug)]
pub struct RenderOptions {
    /// ANSI colours.
    pub color: bool,
    /// Line width.
    pub width: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            color: false,
            width: 100,
        }
    }
}

/// Renders one diagnostic with its source excerpt (miette's graphical report).
pub fn render(diagnostic: &Diagnostic, sources: &Sources, options: RenderOptions) -> String {
    let file = sources.get(diagnostic.file);
    // miette cannot draw a label past column 65,535 (its padding overflows): such a place (in a
    // generated or minified line) is given as a position instead of a drawing.
    let far = std::iter::once(diagnostic.span)
        .chain(diagnostic.secondary.iter().map(|l| l.span))
        .any(|s| line_col(&file.text, s.end as usize).1 > 60_000);
    if far {
        let (line, column) = line_col(&file.text, diagnostic.span.start as usize);
        let mut out = format!(
            "{}\n\n  × {}\n  at {}:{line}:{column}{}\n",
            diagnostic.code,
            diagnostic.message,
            file.path.display(),
            diagnostic
                .label
                .as_ref()
                .map(|l| format!(": {l}"))
                .unwrap_or_default()
        );
        if let Some(help) = &diagnostic.help {
            out.push_str(&format!("  help: {help}\n"));
        }
        return out;
    }
    let report = Report {
        diagnostic,
        source: NamedSource::new(file.path.display().to_string(), file.text.to_string()),
    };
    let theme = if options.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_links(false);
    let mut out = String::new();
    if handler.render_report(&mut out, &report).is_err() {
        out = format!("{}: {}\n", diagnostic.code, diagnostic.message);
    }
    out
}

/// 1-based (line, column, end line, end column) of a diagnostic's primary span.
pub fn position(diagnostic: &Diagnostic, sources: &Sources) -> (usize, usize, usize, usize) {
    let text = &sources.get(diagnostic.file).text;
    let (line, column) = line_col(text, diagnostic.span.start as usize);
    let (end_line, end_column) = line_col(text, diagnostic.span.end as usize);
    (line, column, end_line, end_column)
}

struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<String>,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Report<'_> {}

/// A span as miette takes it, inside the text (spans past its end, which only a bug could
/// produce, would make miette panic).
fn source_span(span: Span, text_len: usize) -> SourceSpan {
    let start = (span.start as usize).min(text_len);
    let end = (span.end as usize).clamp(start, text_len);
    SourceSpan::new(start.into(), end - start)
}

impl miette::Diagnostic for Report<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.diagnostic.code.as_str()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(
            self.diagnostic.label.clone(),
            source_span(self.diagnostic.span, self.source.inner().len()),
        );
        let secondary = self.diagnostic.secondary.iter().map(|l| {
            LabeledSpan::new_with_span(
                Some(l.message.clone()),
                source_span(l.span, self.source.inner().len()),
            )
        });
        Some(Box::new(std::iter::once(primary).chain(secondary)))
    }
}

//! The language server (`flowc lsp`): the checker, the index and the formatter behind an
//! editor, over stdio, in rust-analyzer's shape: one thread owns the state, requests come in,
//! responses and diagnostics go out.
//!
//! After every change the changed file is checked again with the files of its project it affects
//! (entities, templates and `use`d flows are project-wide), so a change in one file updates the
//! diagnostics of the files it affects; the others keep theirs.

mod actions;
mod completion;
mod diagnostics;
mod formatting;
mod hover;
mod index;
mod indexer;
mod line_index;
mod navigation;
mod outline;
mod workspace;

use std::collections::HashMap;
use std::path::PathBuf;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
    PrepareRenameRequest, References, Rename, Request as _,
};
use lsp_types::{
    CompletionOptions, OneOf, Position, PublishDiagnosticsParams, RenameOptions, ServerCapabilities,
    ServerInfo, TextDocumentSyncCapability, TextDocumentSyncKind, Url,
};
use serde_json::Value;

use crate::diagnostic::{Diagnostic, FileId};
use workspace::{ProjectState, Workspace};

/// Serves one editor on stdin/stdout until it says `exit`.
pub fn run() -> Result<(), String> {
    let (connection, io_threads) = Connection::stdio();
    let capabilities = serde_json::to_value(capabilities()).map_err(|e| e.to_string())?;
    let initialize = serde_json::json!({
        "capabilities": capabilities,
        "serverInfo": ServerInfo { name: "flowc".into(), version: Some(env!("CARGO_PKG_VERSION").into()) },
    });
    let (id, _params) = connection.initialize_start().map_err(|e| e.to_string())?;
    connection
        .initialize_finish(id, initialize)
        .map_err(|e| e.to_string())?;
    let mut server = Server {
        connection: &connection,
        workspace: Workspace::new(),
        published: HashMap::new(),
        edited: Vec::new(),
    };
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request).map_err(|e| e.to_string())? {
                    break;
                }
                // Answers are about the latest text.
                server.refresh();
                server.request(request);
            }
            Message::Notification(notification) => server.notification(notification),
            Message::Response(_) => {}
        }
        // Changes typed faster than they are checked are checked once, after the last one.
        if connection.receiver.is_empty() {
            server.refresh();
        }
    }
    // The writer thread ends when the last sender is gone.
    drop(server);
    drop(connection);
    io_threads.join().map_err(|e| e.to_string())
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(lsp_types::HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(lsp_types::CodeActionProviderCapability::Simple(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into(), "\"".into(), ":".into()]),
            ..CompletionOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}

struct Server<'c> {
    connection: &'c Connection,
    workspace: Workspace,
    /// What each file's diagnostics were when last sent, so only changes are sent.
    published: HashMap<Url, Vec<Diagnostic>>,
    /// Files changed since the last check: their diagnostics are sent even when unchanged (the
    /// editor waits for an answer to what was just typed).
    edited: Vec<Url>,
}

/// The project, file and byte offset a request points at.
pub(crate) struct Cursor<'w> {
    pub state: &'w ProjectState,
    pub file: FileId,
    pub offset: usize,
}

impl Cursor<'_> {
    pub(crate) fn text(&self) -> &str {
        self.state.text(self.file)
    }
}

impl Server<'_> {
    fn request(&mut self, request: Request) {
        let id = request.id.clone();
        self.workspace.reindex();
        let ws = &self.workspace;
        let result: Result<Value, String> = match request.method.as_str() {
            HoverRequest::METHOD => handle(request, |p: lsp_types::HoverParams| {
                let cursor = locate(
                    ws,
                    &p.text_document_position_params.text_document.uri,
                    p.text_document_position_params.position,
                );
                cursor.and_then(|c| hover::hover(&ws.registry, &c))
            }),
            GotoDefinition::METHOD => handle(request, |p: lsp_types::GotoDefinitionParams| {
                let cursor = locate(
                    ws,
                    &p.text_document_position_params.text_document.uri,
                    p.text_document_position_params.position,
                );
                cursor.and_then(|c| navigation::definition(&c))
            }),
            References::METHOD => handle(request, |p: lsp_types::ReferenceParams| {
                let cursor = locate(
                    ws,
                    &p.text_document_position.text_document.uri,
                    p.text_document_position.position,
                );
                cursor.and_then(|c| navigation::references(&c, p.context.include_declaration))
            }),
            PrepareRenameRequest::METHOD => handle(request, |p: lsp_types::TextDocumentPositionParams| {
                locate(ws, &p.text_document.uri, p.position).and_then(|c| navigation::prepare_rename(&c))
            }),
            Rename::METHOD => {
                let params: Result<lsp_types::RenameParams, _> = serde_json::from_value(request.params);
                match params {
                    Err(e) => Err(format!("invalid params: {e}")),
                    Ok(p) => {
                        let position = &p.text_document_position;
                        match locate(ws, &position.text_document.uri, position.position) {
                            None => Ok(Value::Null),
                            Some(c) => navigation::rename(&c, &p.new_name)
                                .and_then(|edit| serde_json::to_value(edit).map_err(|e| e.to_string())),
                        }
                    }
                }
            }
            Completion::METHOD => handle(request, |p: lsp_types::CompletionParams| {
                let position = &p.text_document_position;
                locate(ws, &position.text_document.uri, position.position)
                    .map(|c| completion::complete(&ws.registry, &c))
            }),
            DocumentSymbolRequest::METHOD => handle(request, |p: lsp_types::DocumentSymbolParams| {
                document(ws, &p.text_document.uri).map(|(state, file)| outline::symbols(state, file))
            }),
            Formatting::METHOD => handle(request, |p: lsp_types::DocumentFormattingParams| {
                document(ws, &p.text_document.uri).and_then(|(state, file)| formatting::format(state, file))
            }),
            CodeActionRequest::METHOD => handle(request, |p: lsp_types::CodeActionParams| {
                document(ws, &p.text_document.uri).map(|(state, file)| actions::fixes(state, file, &p))
            }),
            method => Err(format!("unsupported request `{method}`")),
        };
        let response = match result {
            Ok(value) => Response::new_ok(id, value),
            Err(message) => {
                let code = if message.starts_with("invalid params") {
                    ErrorCode::InvalidParams
                } else if message.starts_with("unsupported request") {
                    ErrorCode::MethodNotFound
                } else {
                    ErrorCode::RequestFailed
                };
                Response::new_err(id, code as i32, message)
            }
        };
        self.send(Message::Response(response));
    }

    fn notification(&mut self, notification: Notification) {
        let mut uri = None;
        let changed = match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                params::<lsp_types::DidOpenTextDocumentParams>(notification.params).and_then(|p| {
                    let path = path_of(&p.text_document.uri)?;
                    uri = Some(p.text_document.uri);
                    self.workspace.update(&path, p.text_document.text).ok()
                })
            }
            DidChangeTextDocument::METHOD => {
                params::<lsp_types::DidChangeTextDocumentParams>(notification.params).and_then(|p| {
                    let path = path_of(&p.text_document.uri)?;
                    uri = Some(p.text_document.uri);
                    // Full sync: the last change holds the whole text.
                    let text = p.content_changes.into_iter().last()?.text;
                    self.workspace.update(&path, text).ok()
                })
            }
            DidCloseTextDocument::METHOD => {
                params::<lsp_types::DidCloseTextDocumentParams>(notification.params).and_then(|p| {
                    let path = path_of(&p.text_document.uri)?;
                    self.workspace.revert(&path).ok().flatten()
                })
            }
            DidSaveTextDocument::METHOD => None,
            _ => None,
        };
        if changed.is_some() {
            self.edited.extend(uri);
        }
    }

    /// Checks the changed projects and sends their diagnostics.
    fn refresh(&mut self) {
        for project in self.workspace.refresh() {
            self.publish(project);
        }
        self.edited.clear();
    }

    /// Sends the diagnostics of project `project` for each file whose diagnostics changed or
    /// that was edited.
    fn publish(&mut self, project: usize) {
        let Some(state) = self.workspace.projects.get(project) else {
            return;
        };
        let mut messages = Vec::new();
        for (file, diagnostics) in diagnostics::by_file(state) {
            let Ok(uri) = Url::from_file_path(state.path(file)) else {
                continue;
            };
            let before = self.published.get(&uri);
            let unchanged = before.map_or(diagnostics.is_empty(), |b| {
                b.iter().eq(diagnostics.iter().copied())
            });
            if unchanged && !self.edited.contains(&uri) {
                continue;
            }
            let converted = diagnostics::to_lsp(state, file, &diagnostics);
            self.published
                .insert(uri.clone(), diagnostics.into_iter().cloned().collect());
            let params = PublishDiagnosticsParams {
                uri,
                diagnostics: converted,
                version: None,
            };
            messages.push(Notification::new(PublishDiagnostics::METHOD.to_string(), params));
        }
        for message in messages {
            self.send(Message::Notification(message));
        }
    }

    fn send(&self, message: Message) {
        // The editor has gone: the receive loop ends on its own when stdin closes.
        let _ = self.connection.sender.send(message);
    }
}

/// Runs `f` on the request's parameters and serialises its answer (`null` for nothing).
fn handle<P: serde::de::DeserializeOwned, R: serde::Serialize>(
    request: Request,
    f: impl FnOnce(P) -> Option<R>,
) -> Result<Value, String> {
    let params: P = serde_json::from_value(request.params).map_err(|e| format!("invalid params: {e}"))?;
    serde_json::to_value(f(params)).map_err(|e| e.to_string())
}

fn params<P: serde::de::DeserializeOwned>(value: Value) -> Option<P> {
    serde_json::from_value(value).ok()
}

/// The file system path of a `file:` URI, canonical when it exists (the project's paths are).
fn path_of(uri: &Url) -> Option<PathBuf> {
    let path = uri.to_file_path().ok()?;
    Some(std::fs::canonicalize(&path).unwrap_or(path))
}

fn document<'w>(ws: &'w Workspace, uri: &Url) -> Option<(&'w ProjectState, FileId)> {
    ws.find(&path_of(uri)?)
}

fn locate<'w>(ws: &'w Workspace, uri: &Url, position: Position) -> Option<Cursor<'w>> {
    let (state, file) = document(ws, uri)?;
    let offset = line_index::LineIndex::new(state.text(file)).offset(position);
    Some(Cursor { state, file, offset })
}

; Highlighting for .flow files (nvim-treesitter / Helix capture names).

(comment) @comment
(block_comment) @comment
(doc_comment) @comment.documentation

(string) @string
(template_string) @string
(raw_string) @string
(escape_sequence) @string.escape
(interpolation ["{{" "}}"] @punctuation.special)
(duration) @number
(number) @number
(integer) @number
(boolean) @boolean
(none) @constant.builtin

[
  "use" "as" "entity" "databases" "grant" "to" "setting" "template" "flow" "for" "on" "input" "output"
  "step" "let" "if" "else" "match" "wait" "until" "emit" "fail" "yield" "in" "concurrency" "where" "event"
  "webhook" "verified" "unverified" "by" "notion" "created" "changed" "schedule" "manual" "error" "test" "start" "at" "stub"
  "returns" "fails" "hangs" "then" "send" "expect" "call" "no" "with" "times" "ran" "skipped" "failed"
  "subject" "text" "html"
] @keyword

["retry" "backoff" "factor" "jitter" "timeout" "fallback" "after"] @keyword.control
["and" "or" "not"] @keyword.operator
(access) @keyword

["==" "!=" "<" "<=" ">" ">=" "+" "-" "*" "/" "??" "=" "=>" "|" ".."] @operator
["(" ")" "[" "]" "{" "}"] @punctuation.bracket
["," ":" "." ";"] @punctuation.delimiter

(entity_declaration name: (identifier) @type)
(flow_declaration name: (identifier) @function)
(flow_declaration entity: (identifier) @type)
(template_declaration name: (identifier) @string.special)
(use_declaration path: (module_path (identifier) @module))
(use_declaration alias: (identifier) @module)
(databases (identifier) @type)
(notion_trigger database: (identifier) @type)
(setting name: (identifier) @constant)
(step_statement name: (identifier) @variable)
(let_statement name: (identifier) @variable)
(fan_out variable: (identifier) @variable.parameter)
(field_declaration name: (identifier) @variable.member)
(type (identifier) @type.builtin)
(call callee: (qualified_name (identifier) @function.method))
(function_call function: (identifier) @function.builtin)
(argument name: (identifier) @variable.parameter)
(field_expression field: (identifier) @property)
(field_expression field: (string) @property)
(record_field name: (identifier) @property)
(record_field name: (string) @property)

; Scopes and names: a flow is one namespace for its steps and lets; a fan-out's body adds its
; loop variable. Inputs are read as `input.x`, never as a bare name, so they define none.

(flow_declaration) @local.scope
(fan_out) @local.scope

(step_statement name: (identifier) @local.definition)
(let_statement name: (identifier) @local.definition)
(fan_out variable: (identifier) @local.definition)

; A name read as a value: where an expression stands, and the shorthand `{ name }` and
; `f(name)`. Record keys, argument names, fields after `.` and a called function's name are not
; references, so a key never takes the colour of a step or let of the same name.
(let_statement value: (identifier) @local.reference)
(setting value: (identifier) @local.reference)
(argument value: (identifier) @local.reference)
(argument name: (identifier) @local.reference !value)
(record_field value: (identifier) @local.reference)
(record_field name: (identifier) @local.reference !value)
(fan_out list: (identifier) @local.reference)
(field_expression value: (identifier) @local.reference)
(binary_expression left: (identifier) @local.reference)
(binary_expression right: (identifier) @local.reference)
(function_call "(" (identifier) @local.reference)
(unary_expression (identifier) @local.reference)
(index_expression (identifier) @local.reference)
(parenthesized_expression (identifier) @local.reference)
(list (identifier) @local.reference)
(if_expression (identifier) @local.reference)
(match_expression (identifier) @local.reference)
(match_expression_arm (identifier) @local.reference)
(interpolation (identifier) @local.reference)
(output_declaration (identifier) @local.reference)
(if_statement (identifier) @local.reference)
(match_statement (identifier) @local.reference)
(wait_statement (identifier) @local.reference)
(wait_event (identifier) @local.reference)
(fail_statement (identifier) @local.reference)
(yield_statement (identifier) @local.reference)
(timeout_policy (identifier) @local.reference)
(fallback_policy (identifier) @local.reference)

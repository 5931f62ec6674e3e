; Scopes and names: a flow is one namespace for its steps and lets; a fan-out's body adds its
; loop variable.

(flow_declaration) @local.scope
(fan_out) @local.scope

(step_statement name: (identifier) @local.definition)
(let_statement name: (identifier) @local.definition)
(fan_out variable: (identifier) @local.definition)
(input_declaration (field_declaration name: (identifier) @local.definition))

(identifier) @local.reference
